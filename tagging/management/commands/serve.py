"""Run the whole site on one machine with production settings, and keep it running.

``bin/photosite serve`` calls this: migrate, create the first admin, collect
static files, then start gunicorn (the pages), one Celery worker (faces),
Celery beat (periodic jobs) and, when no servers of one's own are configured,
keep the embedded PostgreSQL and Redis alive. photosite/supervisor.py restarts
whichever dies; Ctrl-C or SIGTERM stops everything this started.
"""

import os
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from photosite import embedded
from photosite.supervisor import ChildProcess, EmbeddedServer, Supervisor

# Connections beyond the web's and the worker pool's: the Celery main process
# and its beat, the heartbeat thread, a management command or a shell, and
# this process during migrate.
SPARE_CONNECTIONS = 6


def web_workers_default() -> int:
    # gunicorn's advice, 2 x cores + 1, is for workers that wait on the
    # network; page requests here mostly wait on the database, and each
    # process costs about 100 MB. Threads take the waiting instead.
    return min(2 * (os.cpu_count() or 1) + 1, 9)


class Command(BaseCommand):
    help = "Migrate, create the first admin, and run web (gunicorn), worker and beat, restarting what dies."

    def add_arguments(self, parser):
        parser.add_argument(
            "--addr",
            default=os.environ.get("PHOTOSITE_ADDR", "127.0.0.1:8000"),
            help="host:port to listen on (default 127.0.0.1:8000, or PHOTOSITE_ADDR)",
        )
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", web_workers_default()))
        )
        parser.add_argument("--web-threads", type=int, default=int(os.environ.get("WEB_THREADS", "4")))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))

    def handle(self, *args, addr: str, web_workers: int, web_threads: int, concurrency: int, **options):
        if settings.DEBUG:
            raise CommandError("DEBUG is on: `bin/photosite dev` is the development server")
        call_command("migrate", interactive=False, verbosity=1)
        login_hint = first_admin_ensure(self.stdout)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._check_connection_budget(web_workers * web_threads + concurrency)
        connection.close()  # this process needs none while it supervises

        env = {**os.environ, "DEBUG": "0"}
        parts = []
        if not os.environ.get("DATABASE_URL"):
            parts.append(
                EmbeddedServer(
                    "embedded PostgreSQL",
                    pid=lambda: embedded.postgres_pid(settings.VAR_DIR),
                    ensure_running=lambda: embedded.postgres_ensure_running(settings.VAR_DIR),
                )
            )
        if not os.environ.get("CELERY_BROKER_URL"):
            parts.append(
                EmbeddedServer(
                    "embedded Redis",
                    pid=lambda: embedded.redis_pid(settings.VAR_DIR),
                    ensure_running=lambda: embedded.redis_ensure_running(settings.VAR_DIR),
                )
            )
        celery = (sys.executable, "-m", "celery", "-A", "photosite")
        parts.append(
            ChildProcess(
                # A process of its own, not the worker's -B: a beat forked by a
                # worker that is killed lives on, and the restarted worker
                # would start a second one (seen when testing supervision).
                "beat",
                [
                    *(*celery, "beat", "--loglevel", "INFO"),
                    *("--schedule", str(settings.VAR_DIR / "celerybeat-schedule")),
                ],
                cwd=settings.BASE_DIR,
                env=env,
            )
        )
        parts.append(
            ChildProcess(
                "worker",
                [
                    *(*celery, "worker", "--concurrency", str(concurrency), "--loglevel", "INFO"),
                    # One worker on one machine: nobody to synchronise with at start.
                    *("--without-mingle", "--without-gossip"),
                ],
                cwd=settings.BASE_DIR,
                env=env,
            )
        )
        parts.append(
            ChildProcess(
                "web",
                [
                    *(sys.executable, "-m", "gunicorn", "photosite.wsgi", "--bind", addr),
                    *("--workers", str(web_workers), "--threads", str(web_threads)),
                    *("--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", "10"),
                    *("--access-logfile", "-", "--error-logfile", "-"),
                    # Its control socket lives in the home folder, shared by every
                    # site and test run on the machine; nothing here uses it.
                    "--no-control-socket",
                ],
                cwd=settings.BASE_DIR,
                # Each web process shares at most one connection per thread.
                env={**env, "DATABASE_POOL_SIZE": str(web_threads)},
            )
        )

        def started() -> None:
            self.stdout.write(self.style.SUCCESS(f"\nphotosite is at http://{addr}/  ({login_hint})"))
            self.stdout.write("Press Ctrl-C to stop web, worker and the embedded servers.\n")
            self.stdout.flush()

        Supervisor(parts).run(started=started)

    def _check_connection_budget(self, needed: int) -> None:
        """Refuse to start a site that could run the database out of connections."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
            )
            (allowed,) = cursor.fetchone()
        if needed + SPARE_CONNECTIONS > allowed:
            raise CommandError(
                f"web workers x threads + worker concurrency need {needed} database connections "
                f"(+{SPARE_CONNECTIONS} spare), but the server allows {allowed}: lower --web-workers, "
                "--web-threads or --concurrency, or raise max_connections"
            )


def first_admin_ensure(stdout) -> str:
    """Create the first admin if there is none; returns a hint on how to log in."""
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
        stdout.write("No admin account yet: create the first one.")
        call_command("createsuperuser")
        return "log in with the admin account you just created"
    return (
        "no admin yet: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD "
        "and start again, or run `bin/photosite manage createsuperuser`"
    )
