"""/healthz against the real database and Redis; the worker is judged by its heartbeat row."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tagging.models import WorkerHeartbeat
from tagging.services.health import heartbeat_record

pytestmark = pytest.mark.django_db


def test_it_is_well_only_with_a_recent_worker_heartbeat(client):
    missing = client.get("/healthz")
    assert missing.status_code == 503
    assert missing.json()["failing"] == ["worker"]
    assert missing.json()["database"] == {"state": "ok"} and missing.json()["broker"] == {"state": "ok"}

    heartbeat_record(hostname="celery@test")
    well = client.get("/healthz")

    assert well.status_code == 200
    assert well.json()["status"] == "ok" and well.json()["failing"] == []
    assert well.json()["worker"]["state"] == "ok"
    assert "no-cache" in well.headers["Cache-Control"]


def test_a_worker_silent_for_a_minute_counts_as_down(client):
    WorkerHeartbeat.objects.create(hostname="celery@gone", seen_at=timezone.now() - timedelta(minutes=1))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["worker"]["state"] == "down"
    assert response.json()["worker"]["last_seen_seconds"] >= 60


def test_it_needs_no_login_and_only_answers_get(client):
    heartbeat_record(hostname="celery@test")

    assert client.get("/healthz").status_code == 200  # anonymous
    assert client.post("/healthz").status_code == 405
