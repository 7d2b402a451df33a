"""What /healthz reports, and the worker heartbeat it reads."""

import logging
import socket
from datetime import timedelta

from celery import current_app
from django.db import DatabaseError, connection
from django.utils import timezone

from tagging.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# A worker writes its heartbeat this often (seconds); three missed beats and
# it counts as gone.
HEARTBEAT_INTERVAL = 10
HEARTBEAT_STALE = 3 * HEARTBEAT_INTERVAL
# The health check must answer while a part hangs: a monitor waits a few seconds.
BROKER_TIMEOUT = 2


def heartbeat_record(*, hostname: str | None = None) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname or socket.gethostname(), defaults={"seen_at": timezone.now()}
    )


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("health: database down: %s", error)
        return {"state": "down"}
    return {"state": "ok"}


def _broker() -> dict:
    try:
        transport = {"socket_timeout": BROKER_TIMEOUT, "socket_connect_timeout": BROKER_TIMEOUT}
        with current_app.connection_for_write(transport_options=transport) as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
            conn.default_channel.client.ping()
    except Exception as error:  # any failure to reach it is the answer, whatever its class
        logger.warning("health: broker down: %s", error)
        return {"state": "down"}
    return {"state": "ok"}


def _worker(*, database_ok: bool) -> dict:
    if not database_ok:
        return {"state": "unknown"}
    latest = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if latest is None:
        return {"state": "down", "last_seen_seconds": None}
    age = (timezone.now() - latest.seen_at).total_seconds()
    state = "ok" if age <= HEARTBEAT_STALE else "down"
    return {"state": state, "last_seen_seconds": round(age, 1)}


def health_report() -> dict:
    """The state of each part, and which are failing::

    {"status": "failing", "failing": ["broker"], "database": {"state": "ok"},
     "broker": {"state": "down"}, "worker": {"state": "ok", "last_seen_seconds": 4.2}}
    """
    database = _database()
    report = {
        "database": database,
        "broker": _broker(),
        "worker": _worker(database_ok=database["state"] == "ok"),
    }
    failing = [name for name, part in report.items() if part["state"] != "ok"]
    return {"status": "failing" if failing else "ok", "failing": failing, **report}


def heartbeats_prune() -> None:
    """Forget workers not seen for a day (containers scaled down, renamed hosts)."""
    WorkerHeartbeat.objects.filter(seen_at__lt=timezone.now() - timedelta(days=1)).delete()
