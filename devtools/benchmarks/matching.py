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
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone
from pgvector.django import HnswIndex

from devtools.benchmarks.nearest import faces_nearest
from devtools.benchmarks.scratch import scratch_database
from tagging import selectors
from tagging.models import Album, Face, Person, Photo
from tagging.services import recognition

MODEL = "Dlib"
DIMENSIONS = 128
NEIGHBOURS = 10
FACES_PER_PHOTO = 20
# The people tagged so far: a fifth of everyone, mostly the often-photographed.
NAMED_SHARE = 0.2
CONFIRMED_SHARE = 0.5
QUERIES = 500
WARM_UP = 50
NEW_FACES = 1000
NEW_FACES_PER_PHOTO = 4
# Of the new faces, the share that belongs to people the library has never seen.
NEW_PEOPLE_SHARE = 0.15
# Checked against exact SQL: proves the numpy ground truth uses the same ids and distances.
SQL_EXACT_CHECKS = 3
COPY_BATCH = 10_000
EF_SEARCH_SWEEP = (80, 120, 160, 200)


class FaceSpace:
    """Synthetic people whose embeddings are spread like Dlib's.

    Random 128-d directions are about 1.0 apart in cosine distance, while real
    Dlib faces of different people are mostly 0.1-0.3 apart and faces of one
    person 0.02-0.08. So every centre is a step away from one of a few broad
    group directions (which themselves lean on one common direction: faces
    resemble each other), and each face is a small step of varying length from
    its person's centre (sharp and blurred photos).
    """

    GROUPS = 30
    GROUP_STEP = 0.2
    PERSON_STEP = 0.42
    # Median cosine distance from a face to its centre: two faces of one person
    # are about twice this apart.
    FACE_DISTANCE = 0.022

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        common = _unit(rng.standard_normal(DIMENSIONS))
        steps = _unit(rng.standard_normal((self.GROUPS, DIMENSIONS)))
        self.groups = _unit(common + self.GROUP_STEP * steps)
        self.centres = np.empty((0, DIMENSIONS))

    def add_people(self, count: int) -> np.ndarray:
        """Make ``count`` new people; returns their indices."""
        group = self.rng.integers(0, self.GROUPS, count)
        # A little spread in the step, or every pair would sit at the same distance.
        step = self.PERSON_STEP * np.exp(0.1 * self.rng.standard_normal(count))
        directions = _unit(self.rng.standard_normal((count, DIMENSIONS)))
        centres = _unit(self.groups[group] + step[:, None] * directions)
        start = len(self.centres)
        self.centres = np.vstack([self.centres, centres])
        return np.arange(start, start + count)

    def faces(self, people: np.ndarray) -> np.ndarray:
        """One new face of each person in ``people``, as float32 (what pgvector stores)."""
        distance = self.FACE_DISTANCE * np.exp(0.35 * self.rng.standard_normal(len(people)))
        # For a Gaussian step s·g in 128 dimensions, the cosine distance is about 64·s².
        sigma = np.sqrt(distance / (DIMENSIONS / 2))
        noise = self.rng.standard_normal((len(people), DIMENSIONS))
        return _unit(self.centres[people] + sigma[:, None] * noise).astype(np.float32)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _people_sizes(rng: np.random.Generator, faces: int) -> np.ndarray:
    """Faces per person adding up to ``faces``: heavy-tailed like a family library,
    many people seen once or twice, a few seen hundreds of times."""
    sizes = np.minimum(400, 1 + np.floor(2 * rng.pareto(1.2, size=faces))).astype(np.int64)
    totals = np.cumsum(sizes)
    last = int(np.searchsorted(totals, faces))
    sizes = sizes[: last + 1]
    sizes[-1] -= totals[last] - faces
    return sizes


@dataclass
class Library:
    """What was generated, in the order of the face ids (``ids[i]`` holds ``embeddings[i]``)."""

    space: FaceSpace
    ids: np.ndarray
    embeddings: np.ndarray
    person_index: np.ndarray  # the FaceSpace person of each face
    sizes: np.ndarray  # faces per FaceSpace person
    confirmed: np.ndarray  # bool per face
    person_ids: dict[int, int]  # FaceSpace person -> Person id (named people and unnamed groups)
    named: set[int]  # the FaceSpace people with a name


def run(
    *,
    faces: int,
    as_json: bool,
    stdout,
    seed: int = 0,
    m: int | None = None,
    ef_construction: int | None = None,
    compare: tuple[int, int] | None = None,
) -> dict:
    """Measure; write a report (or one JSON object) to ``stdout``; return the figures.

    ``m`` and ``ef_construction`` build the indexes with other HNSW parameters
    than the model's (what a migration would change), to compare them on the
    same library (same ``seed``). ``compare`` (m, ef_construction) also
    measures such a graph side by side with the model's, in this run.
    """
    say: Callable[[str], None] = (lambda line: None) if as_json else stdout.write
    rng = np.random.default_rng(seed)
    report: dict = {"faces": faces, "seed": seed}
    global _HNSW_OVERRIDES
    _HNSW_OVERRIDES = {
        key: value for key, value in {"m": m, "ef_construction": ef_construction}.items() if value
    }
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
        _recognize(rng, library, report, say)
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


# --- 1. Fill --------------------------------------------------------------------


def _fill(rng: np.random.Generator, faces: int, report: dict, say) -> Library:
    start = time.perf_counter()
    space = FaceSpace(rng)
    sizes = _people_sizes(rng, faces)
    people = space.add_people(len(sizes))
    person_index = np.repeat(people, sizes)
    embeddings = space.faces(person_index)
    spread = _spread(rng, embeddings, person_index, sizes)
    report.update(spread)
    say(
        f"  {len(sizes):,} people, {sizes.max()} faces at most, "
        f"{np.mean(sizes == 1):.0%} seen once, median {np.median(sizes):.0f}"
    )
    say(
        f"  spread: same person median {spread['same_identity_median']:.3f} "
        f"(p5 {spread['same_identity_p5']:.3f}, p95 {spread['same_identity_p95']:.3f}); "
        f"different people median {spread['different_identity_median']:.3f} "
        f"(p5 {spread['different_identity_p5']:.3f}, p95 {spread['different_identity_p95']:.3f})"
    )
    say(
        f"  at the match threshold {recognition.match_threshold(MODEL)}: "
        f"{spread['same_identity_over_threshold']:.2%} of same-person pairs over, "
        f"{spread['different_identity_under_threshold']:.3%} of different-person pairs under"
    )

    owner = get_user_model().objects.create_user(username="benchmark")
    album = Album.objects.create(owner=owner, title="benchmark")
    photo_ids = _photos(album, owner, math.ceil(faces / FACES_PER_PHOTO), prefix="base")

    named = _named_people(rng, sizes)
    person_ids = _people_rows(named, sizes)
    person_of_face = np.array([person_ids.get(p, 0) for p in person_index.tolist()])
    is_named = np.isin(person_index, named)
    confirmed = is_named & (rng.random(faces) < CONFIRMED_SHARE)
    # Every named person has at least one confirmed face: that is how they got a name.
    first_faces = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    confirmed[first_faces[named]] = True
    status = np.full(faces, Face.Status.UNASSIGNED.value, dtype="<U10")
    status[person_of_face > 0] = Face.Status.SUGGESTED.value
    status[confirmed] = Face.Status.CONFIRMED.value
    ids = np.arange(1, faces + 1)

    _drop_hnsw_indexes()
    _copy_faces(
        rng,
        ids=ids,
        photo_ids=rng.choice(photo_ids, size=faces),
        embeddings=embeddings,
        person_ids=person_of_face,
        statuses=status,
    )
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Face]):
            cursor.execute(sql)
        cursor.execute("VACUUM ANALYZE tagging_face")
    report["insert_seconds"] = time.perf_counter() - start
    report["people"] = len(sizes)
    report["named_people"] = len(named)
    report["unnamed_groups"] = len(person_ids) - len(named)
    report["confirmed_faces"] = int(confirmed.sum())
    say(
        f"  generated and inserted in {report['insert_seconds']:.1f} s: {len(named):,} named people "
        f"({confirmed.sum():,} confirmed faces, {np.sum(is_named & ~confirmed):,} suggested), "
        f"{report['unnamed_groups']:,} unnamed groups ({np.sum(~is_named & (person_of_face > 0)):,} faces), "
        f"{np.sum(person_of_face == 0):,} unassigned faces"
    )
    return Library(space, ids, embeddings, person_index, sizes, confirmed, person_ids, set(named.tolist()))


def _spread(rng: np.random.Generator, embeddings, person_index, sizes, pairs: int = 100_000) -> dict:
    """Cosine distances of random same-person and different-person pairs."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    in_groups = np.flatnonzero(sizes[person_index] > 1)
    a = rng.choice(in_groups, size=pairs)
    size, offset = sizes[person_index[a]], a - starts[person_index[a]]
    b = starts[person_index[a]] + (offset + rng.integers(1, size)) % size
    same = 1 - np.einsum("ij,ij->i", embeddings[a], embeddings[b])
    a, b = rng.integers(0, len(embeddings), size=(2, pairs))
    keep = person_index[a] != person_index[b]
    different = 1 - np.einsum("ij,ij->i", embeddings[a[keep]], embeddings[b[keep]])
    threshold = recognition.match_threshold(MODEL)
    return {
        "same_identity_median": float(np.median(same)),
        "same_identity_p5": float(np.percentile(same, 5)),
        "same_identity_p95": float(np.percentile(same, 95)),
        "different_identity_median": float(np.median(different)),
        "different_identity_p5": float(np.percentile(different, 5)),
        "different_identity_p95": float(np.percentile(different, 95)),
        "same_identity_over_threshold": float(np.mean(same > threshold)),
        "different_identity_under_threshold": float(np.mean(different <= threshold)),
    }


def _people_rows(named: np.ndarray, sizes: np.ndarray) -> dict[int, int]:
    """Person rows as a library has them after a while: the named people, and an unnamed
    group for everyone else seen more than once (grouping has run on every upload).
    People seen once stay unassigned: grouping needs two faces."""
    named_set = set(named.tolist())
    unnamed = [i for i in np.flatnonzero(sizes > 1).tolist() if i not in named_set]
    rows = Person.objects.bulk_create(
        [Person(name=f"Person {i}") for i in named.tolist()] + [Person(name="") for _ in unnamed],
        batch_size=5000,
    )
    return dict(zip(named.tolist() + unnamed, (row.pk for row in rows), strict=True))


def _named_people(rng: np.random.Generator, sizes: np.ndarray) -> np.ndarray:
    """The people tagged so far: members name the people they photograph often first."""
    weights = np.sqrt(sizes)
    count = max(1, round(NAMED_SHARE * len(sizes)))
    return np.sort(rng.choice(len(sizes), size=count, replace=False, p=weights / weights.sum()))


def _photos(album: Album, owner, count: int, *, prefix: str) -> np.ndarray:
    photos = Photo.objects.bulk_create(
        (
            Photo(
                album=album,
                uploaded_by=owner,
                original=f"benchmark/{prefix}-{i}.jpg",
                content_hash=f"{prefix}-{i}",
                display_name=f"{prefix}-{i}.jpg",
                width=1600,
                height=1200,
                status=Photo.Status.DONE,
                face_model=MODEL,
            )
            for i in range(count)
        ),
        batch_size=5000,
    )
    return np.array([photo.pk for photo in photos])


_HNSW_OVERRIDES: dict[str, int] = {}


def _hnsw_indexes() -> list[HnswIndex]:
    indexes = [index for index in Face._meta.indexes if isinstance(index, HnswIndex)]
    if not _HNSW_OVERRIDES:
        return indexes
    changed = []
    for index in indexes:
        path, args, kwargs = index.deconstruct()
        changed.append(HnswIndex(*args, **{**kwargs, **_HNSW_OVERRIDES}))
    return changed


def _drop_hnsw_indexes() -> None:
    # Inserting into a live HNSW graph costs a search per row; building once afterwards is
    # what an import or a restore does, and what step 2 measures.
    with connection.schema_editor() as editor:
        for index in _hnsw_indexes():
            editor.remove_index(Face, index)


def _copy_faces(rng, *, ids, photo_ids, embeddings, person_ids, statuses) -> None:
    """COPY the faces in the text format: far faster than INSERTs at this size."""
    now = timezone.now().isoformat()
    vector = "[" + ",".join(["%.9g"] * DIMENSIONS) + "]"  # nine digits round-trip a float32
    corners = rng.uniform(0, 0.9, size=(len(ids), 2))
    columns = "id, photo_id, x, y, w, h, confidence, embedding, model_name, person_id, status, distance, crop"
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY tagging_face ({columns}, created_at, updated_at) FROM STDIN") as copy,
    ):
        for begin in range(0, len(ids), COPY_BATCH):
            end = begin + COPY_BATCH
            lines = []
            for face_id, photo_id, (x, y), values, person_id, status in zip(
                ids[begin:end].tolist(),
                photo_ids[begin:end].tolist(),
                corners[begin:end].tolist(),
                embeddings[begin:end].tolist(),
                person_ids[begin:end].tolist(),
                statuses[begin:end].tolist(),
                strict=True,
            ):
                person = str(person_id) if person_id else "\\N"
                distance = "0.05" if status == Face.Status.SUGGESTED else "\\N"
                lines.append(
                    f"{face_id}\t{photo_id}\t{x:.4f}\t{y:.4f}\t0.1\t0.1\t0.99\t{vector % tuple(values)}\t"
                    f"{MODEL}\t{person}\t{status}\t{distance}\t\t{now}\t{now}\n"
                )
            copy.write("".join(lines))


# --- 2. Index build -------------------------------------------------------------------


def _build_indexes(report: dict, say) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW maintenance_work_mem")
        memory = cursor.fetchone()[0]
        cursor.execute("SHOW max_parallel_maintenance_workers")
        workers = cursor.fetchone()[0]
    say(f"HNSW build (maintenance_work_mem {memory}, {workers} parallel workers)")
    total = 0.0
    sizes = {}
    for index in _hnsw_indexes():
        start = time.perf_counter()
        with connection.schema_editor() as editor:
            editor.add_index(Face, index)
        seconds = time.perf_counter() - start
        total += seconds
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_relation_size(%s::regclass)", [index.name])
            sizes[index.name] = cursor.fetchone()[0] / 2**20
        say(
            f"  {index.name} (m={index.m}, ef_construction={index.ef_construction}): "
            f"{seconds:.1f} s, {sizes[index.name]:.1f} MB"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tagging_face")
        cursor.execute("SELECT pg_relation_size('tagging_face')")
        table_mb = cursor.fetchone()[0] / 2**20
    report["build_seconds"] = total
    first = _hnsw_indexes()[0]
    report["hnsw"] = {"m": first.m, "ef_construction": first.ef_construction}
    report["index_mb"] = sum(sizes.values())
    report["index_sizes_mb"] = sizes
    report["table_mb"] = table_mb
    report["maintenance_work_mem"] = memory
    report["parallel_maintenance_workers"] = int(workers)
    say(f"  total {total:.1f} s; indexes {report['index_mb']:.1f} MB, table {table_mb:.1f} MB")


# --- 3 and 4. Nearest neighbours ---------------------------------------------------------------


def _query_faces(rng: np.random.Generator, library: Library, count: int) -> tuple[np.ndarray, np.ndarray]:
    """New faces of existing people, each person as likely as their share of the library's faces."""
    people = library.person_index[rng.integers(0, len(library.ids), size=count)]
    return library.space.faces(people), people


def _nearest(rng: np.random.Generator, library: Library, report: dict, say) -> None:
    queries, people = _query_faces(rng, library, WARM_UP + QUERIES)
    plan = faces_nearest(embedding=queries[0].tolist(), model_name=MODEL).explain()
    report["knn_uses_index"] = "face_embedding_dlib_hnsw" in plan
    report["ef_search"] = _ef_search()
    _search(queries[:WARM_UP])
    exact = _exact(library.embeddings, library.ids, queries[WARM_UP:])
    latencies, found = _search(queries[WARM_UP:])
    report["knn_p50_ms"] = float(np.percentile(latencies, 50) * 1000)
    report["knn_p95_ms"] = float(np.percentile(latencies, 95) * 1000)
    report["recall_at_10"] = _recall(found, exact)
    # The ten nearest faces of someone seen often are their own; of someone seen
    # rarely, strangers at nearly equal distances, where an approximate search errs.
    frequent = library.sizes[people[WARM_UP:]] >= NEIGHBOURS
    per_query = _recalls(found, exact)
    report["recall_at_10_frequent"] = float(per_query[frequent].mean()) if frequent.any() else None
    report["recall_at_10_rare"] = float(per_query[~frequent].mean()) if (~frequent).any() else None
    report["exact_check"] = _sql_exact_check(queries[WARM_UP:], exact)
    say(
        f"Nearest {NEIGHBOURS} (faces_nearest, hnsw.ef_search {report['ef_search']}; {QUERIES} "
        f"queries after {WARM_UP} warm-up; plan uses the HNSW index: {report['knn_uses_index']})"
    )
    say(
        f"  p50 {report['knn_p50_ms']:.2f} ms, p95 {report['knn_p95_ms']:.2f} ms, "
        f"recall@10 {report['recall_at_10']:.4f} (ground truth agrees with exact SQL: "
        f"{report['exact_check']:.0%})"
    )
    say(
        f"  recall@10 for people with {NEIGHBOURS}+ faces ({frequent.mean():.0%} of queries): "
        f"{_figure(report['recall_at_10_frequent'])}; for the others: {_figure(report['recall_at_10_rare'])}"
    )
    # What a wider candidate list would buy, to choose hnsw.ef_search from.
    report["ef_search_sweep"] = {}
    for ef_search in EF_SEARCH_SWEEP:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef_search)])
            latencies, found = _search(queries[WARM_UP:])
        figures = {
            "knn_p50_ms": float(np.percentile(latencies, 50) * 1000),
            "knn_p95_ms": float(np.percentile(latencies, 95) * 1000),
            "recall_at_10": _recall(found, exact),
        }
        report["ef_search_sweep"][ef_search] = figures
        say(
            f"  with ef_search {ef_search}: p50 {figures['knn_p50_ms']:.2f} ms, "
            f"p95 {figures['knn_p95_ms']:.2f} ms, recall@10 {figures['recall_at_10']:.4f}"
        )


COMPARE_EF_SEARCH = (40, 80, 120, 160, 200)


def _compare_graphs(rng: np.random.Generator, library: Library, report: dict, say, against: tuple[int, int]):
    """The model's HNSW parameters against others, on copies of the same faces, in one run.

    Each copy gets its own graph; every query runs on both, one after the
    other, so that whatever else loads the machine weighs on both alike and
    the ratios hold even where the absolute times do not.
    """
    model = _hnsw_indexes()[0]
    # label: (m, ef_construction, storage type); halfvec (pgvector 0.7+) stores
    # each dimension in 2 bytes instead of 4.
    graphs = {"model": (model.m, model.ef_construction, "vector"), "against": (*against, "vector")}
    if report["halfvec"]:
        graphs["model_halfvec"] = (model.m, model.ef_construction, "halfvec")
    results: dict = {}
    with connection.cursor() as cursor:
        for label, (m, ef_construction, kind) in graphs.items():
            cursor.execute(
                f"CREATE TABLE graph_{label} AS SELECT id, embedding::{kind}({DIMENSIONS}) AS embedding "  # noqa: S608
                "FROM tagging_face WHERE model_name = %s",
                [MODEL],
            )
            start = time.perf_counter()
            cursor.execute(
                f"CREATE INDEX graph_{label}_hnsw ON graph_{label} USING hnsw (embedding {kind}_cosine_ops) "
                f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
            )
            seconds = time.perf_counter() - start
            cursor.execute("SELECT pg_relation_size(%s::regclass)", [f"graph_{label}_hnsw"])
            results[label] = {
                "m": m,
                "ef_construction": ef_construction,
                "type": kind,
                "build_seconds": seconds,
                "index_mb": cursor.fetchone()[0] / 2**20,
                "ef_search": {},
            }
        queries, _ = _query_faces(rng, library, WARM_UP + QUERIES)
        exact = _exact(library.embeddings, library.ids, queries[WARM_UP:])
        for ef_search in COMPARE_EF_SEARCH:
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(ef_search)])
            timings: dict = {label: ([], []) for label in graphs}
            for position, query in enumerate(queries):
                vector = "[" + ",".join(f"{value:.9g}" for value in query.tolist()) + "]"
                # Alternating which goes first: neither profits from the other's cache.
                order = list(graphs) if position % 2 else list(reversed(graphs))
                for label in order:
                    kind = graphs[label][2]
                    start = time.perf_counter()
                    cursor.execute(
                        f"SELECT id FROM graph_{label} ORDER BY embedding <=> %s::{kind}({DIMENSIONS}) "  # noqa: S608
                        f"LIMIT {NEIGHBOURS}",
                        [vector],
                    )
                    ids = [row[0] for row in cursor.fetchall()]
                    if position >= WARM_UP:
                        timings[label][0].append(time.perf_counter() - start)
                        timings[label][1].append(ids)
            for label, (latencies, found) in timings.items():
                results[label]["ef_search"][ef_search] = {
                    "knn_p50_ms": float(np.percentile(latencies, 50) * 1000),
                    "knn_p95_ms": float(np.percentile(latencies, 95) * 1000),
                    "recall_at_10": _recall(found, exact),
                }
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(report["ef_search"])])
        for label in graphs:
            cursor.execute(f"DROP TABLE graph_{label}")
    report["graph_comparison"] = results
    say("HNSW graphs compared on copies of the same faces, each query on both in turn")
    for label, figures in results.items():
        say(
            f"  {label}: {figures['type']}, m={figures['m']}, ef_construction={figures['ef_construction']}: "
            f"build {figures['build_seconds']:.1f} s, {figures['index_mb']:.1f} MB"
        )
        for ef_search, row in figures["ef_search"].items():
            say(
                f"    ef_search {ef_search}: p50 {row['knn_p50_ms']:.2f} ms, p95 {row['knn_p95_ms']:.2f} ms, "
                f"recall@10 {row['recall_at_10']:.4f}"
            )


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _ef_search() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW hnsw.ef_search")
        return int(cursor.fetchone()[0])


def _search(queries: np.ndarray) -> tuple[list[float], list[list[int]]]:
    """Run the app's nearest-face query for each vector: seconds taken and ids found."""
    latencies, found = [], []
    for query in queries:
        start = time.perf_counter()
        rows = list(faces_nearest(embedding=query.tolist(), model_name=MODEL, limit=NEIGHBOURS))
        latencies.append(time.perf_counter() - start)
        found.append([face.pk for face in rows])
    return latencies, found


def _confirmed_nearest(rng: np.random.Generator, library: Library, report: dict, say) -> None:
    """The suggestion query: confirmed faces only, through their own partial index."""
    queries, _ = _query_faces(rng, library, QUERIES)
    owner = Album.objects.get().owner
    latencies, found = [], []
    for query in queries:
        start = time.perf_counter()
        rows = selectors.faces_confirmed_near(
            embedding=query.tolist(), model_name=MODEL, limit=NEIGHBOURS, seen_by=owner
        )
        latencies.append(time.perf_counter() - start)
        found.append([row.face_id for row in rows])
    confirmed = library.confirmed
    exact = _exact(library.embeddings[confirmed], library.ids[confirmed], queries)
    report["confirmed_knn_p50_ms"] = float(np.percentile(latencies, 50) * 1000)
    report["confirmed_knn_p95_ms"] = float(np.percentile(latencies, 95) * 1000)
    report["confirmed_recall_at_10"] = _recall(found, exact)
    say(f"Nearest {NEIGHBOURS} confirmed (selectors.faces_confirmed_near, {QUERIES} queries)")
    say(
        f"  p50 {report['confirmed_knn_p50_ms']:.2f} ms, p95 {report['confirmed_knn_p95_ms']:.2f} ms, "
        f"recall@10 {report['confirmed_recall_at_10']:.4f}"
    )


def _exact(embeddings: np.ndarray, ids: np.ndarray, queries: np.ndarray, chunk: int = 50) -> list[list[int]]:
    """The true nearest ids by cosine distance, nearest first (vectors are unit length)."""
    nearest = []
    for begin in range(0, len(queries), chunk):
        distances = 1 - queries[begin : begin + chunk] @ embeddings.T
        top = np.argpartition(distances, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
        order = np.take_along_axis(distances, top, axis=1).argsort(axis=1)
        nearest.extend(ids[np.take_along_axis(top, order, axis=1)].tolist())
    return nearest


def _recalls(found: list[list[int]], exact: list[list[int]]) -> np.ndarray:
    return np.array([len(set(f) & set(e)) / NEIGHBOURS for f, e in zip(found, exact, strict=True)])


def _recall(found: list[list[int]], exact: list[list[int]]) -> float:
    return float(_recalls(found, exact).mean())


def _sql_exact_check(queries: np.ndarray, exact: list[list[int]]) -> float:
    """Recall of the numpy ground truth against the app's query with index scans off."""
    found = []
    for query in queries[:SQL_EXACT_CHECKS]:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")
            rows = faces_nearest(embedding=query.tolist(), model_name=MODEL, limit=NEIGHBOURS)
            found.append([face.pk for face in rows])
    return _recall(found, exact[:SQL_EXACT_CHECKS])


# --- 5. Recognition ----------------------------------------------------------------------

OUTCOMES = [
    f"{kind}_{result}"
    for kind in ("named", "grouped", "ungrouped")
    for result in ("right", "wrong", "new_group", "unassigned")
]


def _recognize(rng: np.random.Generator, library: Library, report: dict, say) -> None:
    start = time.perf_counter()
    face_ids, people = _new_faces(rng, library, NEW_FACES)
    report["insert_1000_seconds"] = time.perf_counter() - start

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    start = time.perf_counter()
    with connection.execute_wrapper(count):
        recognition.faces_recognize(face_ids=face_ids)
    report["recognize_1000_seconds"] = time.perf_counter() - start
    report["recognize_queries_per_face"] = queries / len(face_ids)
    report.update(_outcome(library, face_ids, people))
    r = report
    say(f"Recognise {len(face_ids):,} new faces (recognition.faces_recognize)")
    say(
        f"  {r['recognize_1000_seconds']:.2f} s, {r['recognize_queries_per_face']:.1f} queries per face "
        f"(inserting them took {r['insert_1000_seconds']:.2f} s)"
    )
    say(
        f"  {_count(r, 'named')} faces of named people: {r['named_right']} suggested right, "
        f"{r['named_wrong']} wrong, {r['named_new_group'] + r['named_unassigned']} not suggested"
    )
    say(
        f"  {_count(r, 'grouped')} faces of people with an unnamed group: {r['grouped_right']} joined it, "
        f"{r['grouped_wrong']} joined another person, {r['grouped_new_group']} started a new group, "
        f"{r['grouped_unassigned']} left unassigned"
    )
    say(
        f"  {_count(r, 'ungrouped')} faces of people seen once or never: {r['ungrouped_new_group']} "
        f"grouped, {r['ungrouped_wrong']} joined an existing person, {r['ungrouped_unassigned']} "
        "left unassigned"
    )


def _count(report: dict, kind: str) -> int:
    return sum(report[key] for key in OUTCOMES if key.startswith(f"{kind}_"))


def _new_faces(
    rng: np.random.Generator, library: Library, count: int, *, batch: str = "new"
) -> tuple[list[int], np.ndarray]:
    """Insert ``count`` unassigned faces as uploads would, a few per photo: mostly of known
    people, some of people never seen before. Returns their ids and FaceSpace people."""
    known, known_people = _query_faces(rng, library, count - round(count * NEW_PEOPLE_SHARE))
    newcomers = library.space.add_people(math.ceil(count * NEW_PEOPLE_SHARE / 3))
    new_people = rng.choice(newcomers, size=count - len(known))
    embeddings = np.vstack([known, library.space.faces(new_people)])
    album = Album.objects.get()
    photo_ids = _photos(album, album.owner, math.ceil(count / NEW_FACES_PER_PHOTO), prefix=batch)
    faces = Face.objects.bulk_create(
        (
            Face(
                photo_id=photo_id,
                x=0.1 * (i % NEW_FACES_PER_PHOTO),
                y=0.1,
                w=0.1,
                h=0.1,
                embedding=embedding,
                model_name=MODEL,
            )
            for i, (photo_id, embedding) in enumerate(
                zip(np.repeat(photo_ids, NEW_FACES_PER_PHOTO).tolist(), embeddings.tolist(), strict=False)
            )
        ),
        batch_size=500,
    )
    return [face.pk for face in faces], np.concatenate([known_people, new_people])


def _outcome(library: Library, face_ids: list[int], people: np.ndarray) -> dict:
    """How the new faces ended up, against the people they were drawn from.

    ``right`` is the person's own row (the named person, or their unnamed group);
    ``wrong`` any other person that existed before; ``new_group`` a group started
    by this batch, the right outcome only for people who had no group yet.
    """
    existing = set(library.person_ids.values())
    found = dict(Face.objects.filter(pk__in=face_ids).values_list("pk", "person_id"))
    outcome = dict.fromkeys(OUTCOMES, 0)
    for face_id, person in zip(face_ids, people.tolist(), strict=True):
        expected = library.person_ids.get(person)
        kind = "named" if person in library.named else "grouped" if expected is not None else "ungrouped"
        got = found[face_id]
        if got is None:
            result = "unassigned"
        elif got == expected:
            result = "right"
        elif got in existing:
            result = "wrong"
        else:
            result = "new_group"
        outcome[f"{kind}_{result}"] += 1
    return outcome
