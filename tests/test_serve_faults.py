"""Command 1 supervises what it starts: its own embedded Redis and PostgreSQL are
killed while members upload, and come back without help, losing nothing.

Traffic goes to 127.0.0.1 only; each test is bounded in uploads and time.
"""

import os
import signal
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from tests.served import Member, Served, variants

pytestmark = pytest.mark.slow

PASSWORD = "a long member password 9"
UPLOADS_PER_MEMBER = 14


@dataclass
class Upload:
    started: float
    seconds: float
    status: int | None  # None: no answer at all (connection error)
    photo_id: int | None
    error: str = ""


def _uploader(member: Member, album: int, files: list[bytes], record: list[Upload], pace: float) -> None:
    for index, content in enumerate(files):
        started = time.monotonic()
        try:
            response = member.upload(album, f"photo-{index}.jpg", content, timeout=30)
        except requests.RequestException as error:
            record.append(Upload(started, time.monotonic() - started, None, None, str(error)))
        else:
            body = response.json() if response.status_code in (200, 503) else {}
            photo_id = body["results"][0].get("id") if response.status_code == 200 else None
            error = body.get("error", "") if response.status_code == 503 else ""
            record.append(Upload(started, time.monotonic() - started, response.status_code, photo_id, error))
        time.sleep(pace)


def _wait_new_pid(site: Served, server: str, old: int, since: float, seconds: float = 10) -> float:
    """When the server was running again under a new pid (monotonic time)."""
    while time.monotonic() - since < seconds + 5:
        try:
            pid = site.pid_of(server)
            if pid != old:
                os.kill(pid, 0)
                return time.monotonic()
        except (FileNotFoundError, ValueError, ProcessLookupError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{server} not back after {seconds} s:\n{site.log()[-3000:]}")


def _wait_processed(members: list[tuple[Member, int]], ids: set[int], seconds: float) -> float:
    deadline = time.monotonic() + seconds
    while True:
        statuses = {}
        for member, album in members:
            statuses.update(member.statuses(album))
        assert ids <= set(statuses), f"accepted photos lost: {sorted(ids - set(statuses))}"
        if all(statuses[i] == "done" for i in ids):
            return time.monotonic()
        assert time.monotonic() < deadline, {i: statuses[i] for i in ids if statuses[i] != "done"}
        time.sleep(0.5)


def _run_fault(served_var, faces_dir, server: str) -> tuple[Served, list[Upload], float, float, float]:
    """Two members upload while ``server`` is killed with SIGKILL; returns the
    site (stopped), the uploads, and when the server was killed, back, and
    every accepted photo processed."""
    site = Served(served_var)
    try:
        site.start()
        site.add_members(["maria", "tom"], PASSWORD)
        members = []
        for name, photo in (
            ("maria", "people/joe_biden/joe_biden_1.jpg"),
            ("tom", "people/rose_leslie/rose_leslie_1.jpg"),
        ):
            member = Member(site, name, PASSWORD)
            members.append(
                (
                    member,
                    member.album_create(f"{name}'s album"),
                    variants(faces_dir / photo, UPLOADS_PER_MEMBER),
                )
            )
        records: list[list[Upload]] = [[] for _ in members]
        threads = [
            threading.Thread(target=_uploader, args=(member, album, files, record, 0.15))
            for (member, album, files), record in zip(members, records, strict=True)
        ]
        for thread in threads:
            thread.start()
        while sum(map(len, records)) < 6:
            time.sleep(0.05)
        old = site.pid_of(server)
        killed = time.monotonic()
        os.kill(old, signal.SIGKILL)
        back = _wait_new_pid(site, server, old, killed)
        for thread in threads:
            thread.join(timeout=120)
        uploads = [upload for record in records for upload in record]
        accepted = {upload.photo_id for upload in uploads if upload.photo_id}
        done = _wait_processed([(m, a) for m, a, _ in members], accepted, seconds=90)
        return site, uploads, killed, back, done
    finally:
        site.stop()


def test_a_killed_embedded_redis_is_back_by_itself_and_uploads_meanwhile_are_processed(served_var, faces_dir):
    site, uploads, killed, back, done = _run_fault(served_var, faces_dir, "redis")

    assert back - killed < 10
    during = [u for u in uploads if u.started < back + 1 and u.started + u.seconds > killed]
    assert during, "no upload overlapped the outage"
    # The broker being away costs nothing visible: each upload is accepted, at once.
    assert all(u.status == 200 and u.photo_id for u in uploads), [u for u in uploads if u.status != 200]
    assert max(u.seconds for u in during) < 2, [u.seconds for u in during]
    assert done - back < 60
    assert "embedded Redis is no longer running" in site.log()
    print(
        f"\nredis: back after {back - killed:.2f} s; {len(during)} uploads during the outage, slowest "
        f"{max(u.seconds for u in during):.2f} s; all {len(uploads)} processed {done - back:.1f} s after"
    )


def test_a_killed_embedded_postgresql_is_back_by_itself_and_no_accepted_upload_is_lost(served_var, faces_dir):
    site, uploads, killed, back, done = _run_fault(served_var, faces_dir, "postgres")

    assert back - killed < 10
    # Meanwhile an upload is accepted, or refused in JSON to be sent again: never a 500 page or no answer.
    assert {u.status for u in uploads} <= {200, 503}, [u for u in uploads if u.status not in (200, 503)]
    # A refusal is plain JSON the upload page shows next to the file.
    assert all("try again" in u.error for u in uploads if u.status == 503)
    during = [u for u in uploads if u.started < back + 1 and u.started + u.seconds > killed]
    # Within about a second and a half (the pool's wait); 3 s leaves room for a loaded machine.
    assert during and max(u.seconds for u in during) < 3, [u.seconds for u in during]
    assert done - back < 60  # every accepted one (checked by _wait_processed)
    assert "embedded PostgreSQL is no longer running" in site.log()
    refused = sum(u.status == 503 for u in uploads)
    print(
        f"\npostgres: back after {back - killed:.2f} s; {len(during)} uploads during the outage "
        f"({refused} answered 503), slowest {max(u.seconds for u in during):.2f} s; "
        f"every accepted photo processed {done - back:.1f} s after"
    )
