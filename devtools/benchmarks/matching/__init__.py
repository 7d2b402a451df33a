"""``manage.py benchmark matching``: vector search and recognition at a library's scale.

A scratch database is filled with synthetic Dlib-like embeddings (real photos
cannot be had by the hundred thousand), then the app's own selectors and
recognition service are timed against it: HNSW build time and size, nearest-
neighbour latency and recall, and the time to recognise a batch of new faces.
Nothing here touches the site's data.
"""

import json
import math
import os
from collections.abc import Callable

import numpy as np
from django.db import connection

from devtools.benchmarks.matching.generator import MODEL
from devtools.benchmarks.matching.knn import _compare_graphs, _confirmed_nearest, _nearest
from devtools.benchmarks.matching.loader import HNSW_OVERRIDES, _build_indexes, _fill
from devtools.benchmarks.matching.recognize import _recognize
from devtools.benchmarks.scratch import scratch_database


def run(
    *,
    faces: int,
    as_json: bool,
    stdout,
    seed: int = 0,
    m: int | None = None,
    ef_construction: int | None = None,
    compare: tuple[int, int] | None = None,
    workers: int = 2,
) -> dict:
    """Measure; write a report (or one JSON object) to ``stdout``; return the figures.

    ``m`` and ``ef_construction`` build the indexes with other HNSW parameters
    than the model's (what a migration would change), to compare them on the
    same library (same ``seed``). ``compare`` (m, ef_construction) also
    measures such a graph side by side with the model's, in this run.
    ``workers`` processes recognise a second batch of new faces at once.
    """
    say: Callable[[str], None] = (lambda line: None) if as_json else stdout.write
    rng = np.random.default_rng(seed)
    report: dict = {"faces": faces, "seed": seed}
    HNSW_OVERRIDES.clear()
    HNSW_OVERRIDES.update(
        {key: value for key, value in {"m": m, "ef_construction": ef_construction}.items() if value}
    )
    with scratch_database(label="matching"):
        _session_settings(faces)
        notices = _collect_notices()
        report.update(_server())
        say(
            f"PostgreSQL {report['postgresql']}, pgvector {report['pgvector']} "
            f"(halfvec: {report['halfvec']}, iterative index scans: {report['iterative_scans']})"
        )
        say(f"Synthetic library of {faces:,} {MODEL} faces (seed {seed})")
        library = _fill(rng, faces, report, say)
        _build_indexes(report, say)
        _nearest(rng, library, report, say)
        if compare:
            _compare_graphs(rng, library, report, say, compare)
        _confirmed_nearest(rng, library, report, say)
        _recognize(rng, library, report, say, workers=workers)
        report["server_notices"] = sorted(set(notices))
    for notice in report["server_notices"]:
        say(f"server: {notice}")
    if as_json:
        stdout.write(json.dumps(report))
    return report


def _server() -> dict:
    """What the server offers: halfvec storage came with pgvector 0.7, iterative
    index scans (``hnsw.iterative_scan``) with 0.8."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    parts = tuple(int(part) for part in version.split(".")[:2])
    return {
        "postgresql": server,
        "pgvector": version,
        "halfvec": parts >= (0, 7),
        "iterative_scans": parts >= (0, 8),
    }


def _session_settings(faces: int) -> None:
    """Settings for this scratch connection only (it is closed with the database).

    An HNSW build is much faster when the whole graph fits in
    ``maintenance_work_mem``: 2.5 kB per 128-d face leaves room (a million faces
    raised no "graph no longer fits" notice). pgvector 0.6 builds in parallel;
    on a small machine one worker besides the leader already takes all cores.
    The site's statement timeout would cut a large build short.
    """
    memory_mb = max(1024, math.ceil(faces * 2.5 / 1024))
    workers = max(0, min(2, (os.cpu_count() or 2) - 1))
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(f"SET maintenance_work_mem = '{memory_mb}MB'")
        cursor.execute(f"SET max_parallel_maintenance_workers = {workers}")


def _collect_notices() -> list[str]:
    """Server notices of the scratch connection, e.g. pgvector saying a graph outgrew memory."""
    notices: list[str] = []
    connection.ensure_connection()
    connection.connection.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary))
    return notices
