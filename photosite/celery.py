"""The Celery application. Configuration lives in Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "photosite.settings")

app = Celery("photosite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker behaviours beyond tasks (heartbeat, sweep on reconnect); see tagging/worker.py.
from tagging.worker import SweepOnConnect  # noqa: E402

app.steps["consumer"].add(SweepOnConnect)
