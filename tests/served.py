"""README command 1 (`bin/photosite serve`) run for real, from a clean var/, on a free port.

The tests of production settings, supervision, faults and load drive it over
HTTP on loopback only, and read its log.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ADMIN, ADMIN_PASSWORD = "admin", "a-long-admin-password"


def readme_command(number: int) -> list[str]:
    """The README's ``number``-th sh code block (1-based), as arguments."""
    blocks = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    return shlex.split(blocks[number - 1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def variants(source: Path, count: int, *, side: int = 640) -> list[bytes]:
    """``count`` different JPEG files of one photo (a pixel differs): the same
    faces, a new content hash each."""
    image = Image.open(source).convert("RGB")
    image.thumbnail((side, side))
    files = []
    for index in range(count):
        copy = image.copy()
        copy.putpixel((index % copy.width, index // copy.width), (index % 256, 7, 200))
        buffer = io.BytesIO()
        copy.save(buffer, "JPEG", quality=88)
        files.append(buffer.getvalue())
    return files


class Served:
    """One run of command 1 with its own var/ and port. Stop it with :meth:`stop` (SIGINT, as Ctrl-C)."""

    def __init__(self, var: Path, **env: str):
        self.var, self.port = var, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = var.parent / f"serve-{self.port}.log"
        keep = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG"}}
        self.env = {
            **keep,
            "PHOTOSITE_VAR_DIR": str(var),
            "DATABASE_URL": "",
            "CELERY_BROKER_URL": "",
            "SECRET_KEY": "",
            "DJANGO_SUPERUSER_USERNAME": ADMIN,
            "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
            "DJANGO_SUPERUSER_EMAIL": "admin@example.org",
            # Fewer processes than the machine would get: tests share 2 cores.
            "WEB_WORKERS": "2",
            "WORKER_CONCURRENCY": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, seconds: float = 300) -> Served:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = subprocess.Popen(
            [*readme_command(1), "--addr", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_path.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + seconds
        while True:
            assert self.process.poll() is None, self.log()[-5000:]
            assert time.monotonic() < deadline, self.log()[-5000:]
            if "photosite is at" in self.log():
                try:
                    if requests.get(f"{self.url}/accounts/login/", timeout=10).status_code == 200:
                        return self
                except (requests.ConnectionError, requests.Timeout):
                    pass  # gunicorn listens before its workers are ready
            time.sleep(0.25)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        os.kill(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise

    def log(self) -> str:
        """What this run printed since its last start."""
        return self.log_path.read_text(errors="replace")[self._log_offset :]

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def add_members(self, names: list[str], password: str) -> None:
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth.models import User\n"
            f"for name in {names!r}: User.objects.create_user(username=name, password={password!r})",
        )

    def pid_of(self, server: str) -> int:
        """The embedded server's current pid (``redis`` or ``postgres``)."""
        path = self.var / ("redis/redis.pid" if server == "redis" else "postgres/postmaster.pid")
        return int(path.read_text().split()[0])


class Member:
    """A browser-less member: a logged-in session against the served site."""

    def __init__(self, site: Served, username: str, password: str):
        self.site, self.http = site, requests.Session()
        # A fresh connection per request: reusing an idle keep-alive connection
        # races with the server closing it (gunicorn, after 2 s) and ends in a
        # "connection reset" that says nothing about the site (browsers retry).
        self.http.headers["Connection"] = "close"
        self.http.get(f"{site.url}/accounts/login/", timeout=30)
        response = self.http.post(
            f"{site.url}/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self._csrf()},
            timeout=30,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]

    def _csrf(self) -> str:
        return self.http.cookies["csrftoken"]

    def album_create(self, title: str) -> int:
        response = self.http.post(
            f"{self.site.url}/albums/new/",
            data={"title": title, "visibility": "private", "csrfmiddlewaretoken": self._csrf()},
            timeout=30,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]
        return int(re.search(r"/albums/(\d+)/", response.headers["Location"]).group(1))

    def upload(self, album: int, name: str, content: bytes, timeout: float = 60) -> requests.Response:
        return self.http.post(
            f"{self.site.url}/albums/{album}/upload/",
            files={"files": (name, content, "image/jpeg")},
            headers={"Accept": "application/json", "X-CSRFToken": self._csrf()},
            timeout=timeout,
        )

    def statuses(self, album: int) -> dict[int, str]:
        response = self.http.get(f"{self.site.url}/albums/{album}/status/", timeout=30)
        response.raise_for_status()
        return {photo["id"]: photo["status"] for photo in response.json()["photos"]}
