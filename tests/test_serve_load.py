"""Load on command 1: 12 members upload 20 photos each, 3 at a time, and the broker
is killed part-way. Bounded (252 uploads, at most a few minutes), loopback only.
"""

import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.served import Member, Served, variants

pytestmark = pytest.mark.slow

MEMBERS, PHOTOS_EACH, IN_FLIGHT = 12, 20, 3
PASSWORD = "a long member password 9"
SOURCES = [
    "people/joe_biden/joe_biden_1.jpg",
    "people/rose_leslie/rose_leslie_1.jpg",
    "people/kit_harington/kit_harington_1.jpg",
    "people/barack_obama/barack_obama_1.jpg",
]


def test_twelve_members_uploading_at_once_with_the_broker_killed_get_no_error_and_lose_nothing(
    served_var, faces_dir
):
    site = Served(served_var)
    try:
        site.start()
        names = [f"member{index}" for index in range(MEMBERS)]
        site.add_members(names, PASSWORD)
        members = [Member(site, name, PASSWORD) for name in names]
        albums = [member.album_create("Holidays") for member in members]
        # Each member's files are their own (a pixel differs), plus one new
        # file that they send twice at the same moment.
        files = [
            variants(faces_dir / SOURCES[index % len(SOURCES)], PHOTOS_EACH + 1, side=480)
            for index in range(MEMBERS)
        ]
        answers: list[tuple[int, str, int, dict]] = []  # (member, kind, status, result)
        lock = threading.Lock()
        started = time.monotonic()

        def upload(index: int, kind: str, content: bytes, barrier: threading.Barrier | None = None):
            if barrier:
                barrier.wait(timeout=60)
            response = members[index].upload(albums[index], f"{kind}.jpg", content, timeout=120)
            result = response.json()["results"][0] if response.status_code == 200 else {}
            with lock:
                answers.append((index, kind, response.status_code, result))

        def member_uploads(index: int) -> None:
            with ThreadPoolExecutor(IN_FLIGHT) as pool:
                barrier = threading.Barrier(2)
                jobs = [pool.submit(upload, index, "twin", files[index][-1], barrier) for _ in range(2)]
                jobs += [
                    pool.submit(upload, index, f"p{n}", content)
                    for n, content in enumerate(files[index][:-1])
                ]
                for job in jobs:
                    job.result()

        with ThreadPoolExecutor(MEMBERS) as crowd:
            running = [crowd.submit(member_uploads, index) for index in range(MEMBERS)]
            while len(answers) < MEMBERS * PHOTOS_EACH // 3:
                assert time.monotonic() - started < 300
                time.sleep(0.05)
            os.kill(site.pid_of("redis"), signal.SIGKILL)  # the broker goes away mid-way
            killed_at = len(answers)
            for job in running:
                job.result()
        uploaded = time.monotonic() - started

        assert killed_at < len(answers)  # uploads went on after the kill
        assert sorted({status for _, _, status, _ in answers}) == [200], [a for a in answers if a[2] != 200]
        singles = [result for _, kind, _, result in answers if kind != "twin"]
        assert all(result["ok"] for result in singles)
        for index in range(MEMBERS):
            twins = [result for member, kind, _, result in answers if member == index and kind == "twin"]
            # The same new file twice at once: one photo, and the other answer says why not.
            assert sorted(result["ok"] for result in twins) == [False, True], twins
            assert [r["error"] for r in twins if not r["ok"]] == ["already in this album"]

        deadline = time.monotonic() + 240
        while True:
            statuses = [
                s
                for member, album in zip(members, albums, strict=True)
                for s in member.statuses(album).values()
            ]
            if statuses.count("done") == MEMBERS * (PHOTOS_EACH + 1):
                break
            assert time.monotonic() < deadline, {s: statuses.count(s) for s in set(statuses)}
            time.sleep(1)
        processed = time.monotonic() - started
        assert len(statuses) == MEMBERS * (PHOTOS_EACH + 1)  # one photo per pair, none lost

        log = site.log()
        assert "too many clients" not in log
        assert "Internal Server Error" not in log
        assert not re.search(r'" 50[0-9] ', log), "an answer 5xx in the access log"
        print(
            f"\nload: {len(answers)} uploads by {MEMBERS} members answered in {uploaded:.1f} s, "
            f"all {len(statuses)} photos processed {processed:.1f} s after the start"
        )
    finally:
        site.stop()
