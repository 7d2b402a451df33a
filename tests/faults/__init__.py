"""Nothing lost: crashes, outages and races around the face pipeline, against the
real database, Redis and Celery workers.

This package holds the helpers its tests share; conftest.py their fixtures.
"""

import os
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from photosite.celery import app
from tagging.models import Photo

ROOT = Path(__file__).resolve().parents[2]


def _queued() -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(app.conf.task_default_queue)


def _wait_for(photo: Photo, statuses, seconds: float = 120) -> Photo:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        photo.refresh_from_db()
        if photo.status in statuses:
            return photo
        time.sleep(0.05)
    raise AssertionError(f"photo {photo.pk} still {photo.status} after {seconds} s")


def _worker_env(media_root: Path, **extra) -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": app.conf.broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": app.conf.task_default_queue,
        "MEDIA_ROOT": str(media_root),
        **extra,
    }
