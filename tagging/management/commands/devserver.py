"""Run the whole site on one machine: migrate, then web and worker together.

``bin/photosite serve`` calls this. The embedded PostgreSQL and Redis were
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
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Migrate, create the first admin if needed, and run web and Celery worker (with beat) together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("PHOTOSITE_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))

    def handle(self, *args, addr: str, concurrency: int, **options):
        call_command("migrate", interactive=False, verbosity=1)
        login_hint = self._ensure_admin()
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

    def _ensure_admin(self) -> str:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return "log in with your admin account"
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        if username and os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            call_command(
                "createsuperuser",
                interactive=False,
                username=username,
                email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
            )
            return f"log in as {username!r} with DJANGO_SUPERUSER_PASSWORD"
        if sys.stdin.isatty():
            self.stdout.write("No admin account yet: create the first one.")
            call_command("createsuperuser")
            return "log in with the admin account you just created"
        return (
            "no admin yet: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD "
            "and start again, or run `.venv/bin/python manage.py createsuperuser`"
        )

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
