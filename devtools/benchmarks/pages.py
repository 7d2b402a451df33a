"""``manage.py benchmark pages``: how fast the album and people pages render at a library's scale.

A scratch database gets one member, an album of ``photos`` photos and ``people``
named people, each with a confirmed face on one of those photos. Both pages are
then requested through Django's test client (the whole middleware stack, the
templates and the real PostgreSQL; no web server), timed, and their queries
counted. Nothing here touches the site's data.
"""

import json
import math
import statistics
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from devtools.benchmarks.scratch import scratch_database
from tagging.models import Album, Face, Person, Photo

WARM_UP = 3
REPEATS = 20
BATCH = 1000


def run(*, photos: int = 1000, people: int = 1000, as_json: bool, stdout) -> dict:
    """Measure; write a report (or one JSON object) to ``stdout``; return the figures."""
    say: Callable[[str], None] = (lambda line: None) if as_json else stdout.write
    report: dict = {"photos": photos, "people": people}
    # The test client's requests come from "testserver", which no real deployment allows.
    with (
        scratch_database(label="pages"),
        override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]),
    ):
        user, album = _fill(photos=photos, people=people)
        client = Client()
        client.force_login(user)
        say(f"{photos:,} photos in one album, {people:,} named people; {REPEATS} requests per page\n")
        for key, url in (
            ("album_page", reverse("album", args=[album.pk])),
            ("people_page", reverse("people")),
        ):
            median, p95, cpu, queries = _measure(client, url)
            report.update({f"{key}_ms_median": median, f"{key}_ms_p95": p95, f"{key}_queries": queries})
            say(
                f"{key.replace('_', ' ')}: median {median:.1f} ms, p95 {p95:.1f} ms "
                f"(of which this process's CPU: median {cpu:.1f} ms), {queries} queries\n"
            )
    if as_json:
        stdout.write(json.dumps(report))
    return report


def _fill(*, photos: int, people: int) -> tuple:
    """The member, their album and the people, written in batches (no signals, no files).

    File fields hold made-up names: the pages only build URLs to the files and
    never open them.
    """
    user = get_user_model().objects.create_user(username="benchmark", password=None)
    album = Album.objects.create(owner=user, title="Benchmark")
    rows = Photo.objects.bulk_create(
        (
            Photo(
                album=album,
                uploaded_by=user,
                display_name=f"IMG_{i:05}.jpg",
                content_hash=f"{i:064x}",
                status=Photo.Status.DONE,
                original=f"originals/bench/{i}",
                thumbnail=f"thumbnails/bench/{i}.jpg",
                preview=f"previews/bench/{i}.jpg",
                width=4000,
                height=3000,
            )
            for i in range(photos)
        ),
        batch_size=BATCH,
    )
    named = Person.objects.bulk_create(
        (Person(name=f"Person {i:05}") for i in range(people)), batch_size=BATCH
    )
    if rows:
        Face.objects.bulk_create(
            (
                Face(
                    photo=rows[i % len(rows)],
                    person=person,
                    status=Face.Status.CONFIRMED,
                    x=0.1 + 0.5 * (i // len(rows) % 2),
                    y=0.1,
                    w=0.3,
                    h=0.3,
                    model_name="Dlib",
                    crop=f"crops/bench/{i}.jpg",
                )
                for i, person in enumerate(named)
            ),
            batch_size=BATCH,
        )
    # Every tagged person has a cover, as after real tagging.
    first_face = Face.objects.filter(person=OuterRef("pk")).order_by("pk").values("pk")[:1]
    Person.objects.update(cover_face_id=Subquery(first_face))
    # Planner statistics as a live database would have them after autovacuum.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user, album


def _measure(client: Client, url: str) -> tuple[float, float, float, int]:
    """Median and 95th percentile (nearest rank) of the wall time, median CPU time of
    this process (both in milliseconds), and queries per request.

    The CPU time leaves out PostgreSQL and waiting for a busy machine, so a large
    gap to the wall time points at the database or at other load.
    """
    for _ in range(WARM_UP):
        _get(client, url)
    timings, cpu = [], []
    for _ in range(REPEATS):
        start, start_cpu = time.perf_counter(), time.process_time()
        _get(client, url)
        timings.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    # Counted on a request of its own: capturing queries slows the timed ones.
    with CaptureQueriesContext(connection) as queries:
        _get(client, url)
    timings.sort()
    p95 = timings[math.ceil(0.95 * len(timings)) - 1]
    return round(statistics.median(timings), 1), round(p95, 1), statistics.median(cpu), len(queries)


def _get(client: Client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
