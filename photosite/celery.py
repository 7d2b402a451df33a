"""The Celery application. Configuration lives in Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "photosite.settings")
# One BLAS/OpenMP thread per process, set before numpy loads (here: the first
# module a worker imports). Workers run one process per core (prefork), so a
# pool of a thread per core in each process can only oversubscribe the cores
# (the lead measured 20% more CPU seconds for the same photos with two
# processes than with one). On a machine at load 10 the effect did not show
# clearly: 8 photos at 12 MP, two processes against one, took 16% more CPU
# seconds with the pools and 4% with one thread, then 6% and 6% on a repeat;
# `benchmark import ../shared/faces --megapixels 12 --workers 2` at load 1
# scaled 1.645 and 1.821 with the pools, 1.724 and 1.691 with one thread:
# no effect beyond the noise either way.
# Operators may still set other values.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

app = Celery("photosite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker behaviours beyond tasks (heartbeat, sweep on reconnect); see tagging/worker.py.
from tagging.worker import SweepOnConnect  # noqa: E402

app.steps["consumer"].add(SweepOnConnect)
