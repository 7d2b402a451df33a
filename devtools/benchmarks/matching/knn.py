"""Nearest-neighbour measurements: latency and recall of the app's own vector queries,
and HNSW graphs compared side by side."""

import contextlib
import time

import numpy as np
from django.db import connection, transaction

from devtools.benchmarks.matching.generator import (
    DIMENSIONS,
    EF_SEARCH_SWEEP,
    MODEL,
    NEIGHBOURS,
    QUERIES,
    SQL_EXACT_CHECKS,
    WARM_UP,
    Library,
    _query_faces,
)
from devtools.benchmarks.matching.loader import _hnsw_indexes
from devtools.benchmarks.nearest import faces_nearest
from tagging import selectors
from tagging.models import Album


def _nearest(rng: np.random.Generator, library: Library, report: dict, say) -> None:
    queries, people = _query_faces(rng, library, WARM_UP + QUERIES)
    plan = faces_nearest(embedding=queries[0].tolist(), model_name=MODEL).explain()
    report["knn_planner_picks_index"] = "face_embedding_dlib_hnsw" in plan
    with _graph_plans():
        _nearest_on_the_graph(queries, people, library, report, say)


@contextlib.contextmanager
def _graph_plans():
    """The k-NN figures are the graph's at any size. pgvector 0.8 costs an HNSW
    scan so that for a few thousand faces the planner reads them all and sorts
    (exact, and about as fast); the site lets it, this measurement does not."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")


def _nearest_on_the_graph(
    queries: np.ndarray, people: np.ndarray, library: Library, report: dict, say
) -> None:
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
        f"queries after {WARM_UP} warm-up; plan uses the HNSW index: {report['knn_uses_index']}, "
        f"and would unforced: {report['knn_planner_picks_index']})"
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
        found.append([face_id for face_id, _ in rows])
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
            cursor.execute("SET LOCAL enable_seqscan = on")
            cursor.execute("SET LOCAL enable_sort = on")
            rows = faces_nearest(embedding=query.tolist(), model_name=MODEL, limit=NEIGHBOURS)
            found.append([face_id for face_id, _ in rows])
    return _recall(found, exact[:SQL_EXACT_CHECKS])
