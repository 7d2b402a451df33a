"""Development mode: migrate, then runserver (autoreload, DEBUG) and a worker together.

``bin/photosite dev`` calls this with DEBUG on; ``bin/photosite serve`` is
the production server (serve.py). The embedded PostgreSQL and Redis were
started by the settings of this very process, so they outlive the children and
stop when this process exits (see photosite/embedded.py). Ctrl-C reaches every
child through the terminal's process group; anything still running after a
grace period is terminated, then killed.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tagging.management.commands.serve import first_admin_ensure

GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Development: migrate, create the first admin, run runserver and a Celery worker (with beat)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("PHOTOSITE_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))

    def handle(self, *args, addr: str, concurrency: int, **options):
        if not settings.DEBUG:
            raise CommandError("development mode needs DEBUG=1 (`bin/photosite dev` sets it)")
        call_command("migrate", interactive=False, verbosity=1)
        login_hint = first_admin_ensure(self.stdout)
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        children = [
            subprocess.Popen([sys.executable, "manage.py", "runserver", addr], cwd=settings.BASE_DIR),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "photosite",
                    "worker",
                    "--beat",
                    "--schedule",
                    str(settings.VAR_DIR / "celerybeat-schedule"),
                    "--concurrency",
                    str(concurrency),
                    "--loglevel",
                    "INFO",
                ],
                cwd=settings.BASE_DIR,
            ),
        ]
        self.stdout.write(self.style.SUCCESS(f"\nphotosite is at http://{addr}/  ({login_hint})"))
        self.stdout.write("Press Ctrl-C to stop web, worker and the embedded servers.\n")
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        self._stop(children)

    def _stop(self, children: list[subprocess.Popen]) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.stdout.write("Stopped web and worker.")
