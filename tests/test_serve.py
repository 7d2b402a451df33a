"""README command 1 starts a production site: run for real from a clean var/."""

import os
import re
import signal
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.served import ADMIN, ADMIN_PASSWORD, Member, Served

pytestmark = pytest.mark.slow


def _health(site: Served) -> requests.Response:
    return requests.get(f"{site.url}/healthz", timeout=30)


def _wait_health(site: Served, status: int, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        try:
            response = _health(site)
        except (requests.ConnectionError, requests.Timeout):
            # The web server was just killed: its orphaned processes drop
            # their connections until the restarted one takes over.
            answer = "no answer"
        else:
            if response.status_code == status:
                return response.json()
            answer = (response.status_code, response.text)
        assert time.monotonic() < deadline, (answer, site.log()[-3000:])
        time.sleep(0.5)


def test_command_1_serves_production_settings_and_reports_its_health(served_var):
    site = Served(served_var)
    try:
        site.start()
        # DEBUG is off: a missing page is the site's own, without Django's URL list.
        missing = f"/no-such-page-{uuid.uuid4().hex}"
        page = requests.get(f"{site.url}{missing}", timeout=30)
        assert page.status_code == 404
        assert "There is nothing here" in page.text and "site-header" in page.text
        assert "URLconf" not in page.text and "DEBUG" not in page.text and "admin/" not in page.text
        # Plain HTTP on 127.0.0.1 works: cookies are not Secure, nothing redirects to https.
        login = requests.get(f"{site.url}/accounts/login/", timeout=30, allow_redirects=False)
        assert login.status_code == 200
        assert "secure" not in login.headers.get("Set-Cookie", "").lower()
        assert "Strict-Transport-Security" not in login.headers
        assert "ask the person who runs this site for an invitation link" in login.text
        # Behind a TLS proxy (its header says https) the cookies are Secure and HSTS is sent.
        proxied = requests.get(
            f"{site.url}/accounts/login/", headers={"X-Forwarded-Proto": "https"}, timeout=30
        )
        assert "secure" in proxied.headers["Set-Cookie"].lower()
        assert proxied.headers["Strict-Transport-Security"].startswith("max-age=31536000")

        # Static files by hashed name, compressed, cached for a long time.
        css = login.text.split('rel="stylesheet" href="')[1].split('"')[0]
        assert css.startswith("/static/tagging/css/site.") and css.count(".") == 2
        static = requests.get(f"{site.url}{css}", headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert static.status_code == 200
        assert static.headers["Content-Encoding"] == "gzip"
        max_age = int(static.headers["Cache-Control"].split("max-age=")[1].split(",")[0])
        assert max_age >= 365 * 24 * 3600

        # The secret key was generated, for the owner's eyes only.
        key_file = site.var / "secret_key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text()

        # Health: database, broker and a worker heartbeat, each named.
        health = _wait_health(site, 200, seconds=120)
        assert health["status"] == "ok" and health["failing"] == []
        assert {health[part]["state"] for part in ("database", "broker", "worker")} == {"ok"}

        # The web server, the worker and beat, killed, are started again, the reason logged.
        for part in ("web", "worker", "beat"):
            pid = _started_pid(site, part)
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _started_pid(site, part) == pid:
                assert time.monotonic() < deadline, site.log()[-3000:]
                time.sleep(0.1)
            assert f"{part} was killed by SIGKILL; starting it again" in site.log()
        _wait_health(site, 200, seconds=120)
        # Nothing of the killed ones lives on: one beat (two would send every job twice).
        time.sleep(2)
        assert len(_processes_with(str(site.var), "beat")) == 1

        # A broker that stops answering (frozen: alive, so not restarted) is named.
        redis_pid = site.pid_of("redis")
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            down = _health(site)
            assert time.monotonic() - started < 15
            assert down.status_code == 503
            assert down.json()["failing"] == ["broker"]
            assert down.json()["broker"]["state"] == "down"
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        _wait_health(site, 200, seconds=30)

        # A member logged in before a restart is still logged in after it: same key.
        member = Member(site, ADMIN, ADMIN_PASSWORD)
        assert site.stop() == 0
        # Ctrl-C stopped everything it started: the port is free, the servers are down.
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{site.url}/accounts/login/", timeout=5)
        assert not _running(site, "redis") and not _running(site, "postgres")
        site.start()
        assert key_file.read_text() == key
        assert member.http.get(f"{site.url}/", timeout=30, allow_redirects=False).status_code == 200
        # One log line per event: the missing page was logged once (the access line).
        assert (site.log_path.read_text().count(missing)) == 1
    finally:
        site.stop()


def _started_pid(site: Served, part: str) -> int:
    return int(re.findall(rf"supervisor: {part} started \(pid (\d+)\)", site.log())[-1])


def _processes_with(*words: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if all(word in command for word in words) and "celery" in command:
                found.append(int(entry.name))
    return found


def _running(site: Served, server: str) -> bool:
    try:
        pid = site.pid_of(server)
        os.kill(pid, 0)
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    return state != "Z"
