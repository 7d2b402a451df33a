"""What a Celery worker does besides running tasks: a heartbeat for /healthz, and
a sweep of waiting photos each time it (re)connects to the broker.

Registered by photosite/celery.py. Nothing here imports models at import time:
the Celery app is created before Django's apps are ready.
"""

import logging
import threading

from celery import bootsteps
from celery.signals import worker_ready, worker_shutdown

logger = logging.getLogger(__name__)

_stop_heartbeat = threading.Event()


class SweepOnConnect(bootsteps.StartStopStep):
    """Consumer step: runs at every start of the consumer, which Celery restarts
    after losing the broker. Photos uploaded while the broker was away were
    left pending; they are sent now instead of after the sweeper's grace period.

    The sweep runs here, in a thread of the worker's main process, rather than
    as a task: a task would wait behind every photo already queued (a minute
    behind 130 photos, measured), and the point is not to wait.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, consumer):
        if not consumer.app.conf.get("photosite_sweep_on_connect", True):
            return
        threading.Thread(target=_sweep_waiting, name="sweep-on-connect", daemon=True).start()


def _sweep_waiting() -> None:
    from django.db import DatabaseError, connection

    from tagging.services.pipeline import photos_sweep

    try:
        swept = photos_sweep(pending_grace=0)
    except DatabaseError as error:  # the periodic sweep remains
        logger.warning("sweep after connecting to the broker failed: %s", error)
    else:
        logger.info("connected to the broker: %d waiting photos sent", len(swept.requeued))
    finally:
        connection.close()


def _heartbeat_loop(hostname: str) -> None:
    from django.db import DatabaseError, connection

    from tagging.services.health import HEARTBEAT_INTERVAL, heartbeat_record

    failing = False
    while not _stop_heartbeat.is_set():
        try:
            heartbeat_record(hostname=hostname)
        except DatabaseError as error:
            if not failing:  # one line when it starts failing, not one every beat
                logger.warning("worker heartbeat not written: %s", error)
            failing = True
        else:
            if failing:
                logger.info("worker heartbeat written again")
            failing = False
        finally:
            # Not kept between beats: an idle connection held by a thread would
            # count against the server's limit for nothing.
            connection.close()
        _stop_heartbeat.wait(HEARTBEAT_INTERVAL)


@worker_ready.connect
def _start_heartbeat(sender, **kwargs) -> None:
    if not sender.app.conf.get("photosite_heartbeat", True):
        return
    hostname = getattr(sender, "hostname", None) or "worker"
    _stop_heartbeat.clear()
    threading.Thread(target=_heartbeat_loop, args=(hostname,), name="heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat_thread(**kwargs) -> None:
    _stop_heartbeat.set()
