"""Filling the scratch database: photos, people and faces (by COPY), then the HNSW build."""

import math
import time

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone
from pgvector.django import HnswIndex

from devtools.benchmarks.matching.generator import (
    CONFIRMED_SHARE,
    COPY_BATCH,
    DIMENSIONS,
    FACES_PER_PHOTO,
    MODEL,
    NAMED_SHARE,
    FaceSpace,
    Library,
    _people_sizes,
)
from tagging.models import Album, Face, FaceVector, Person, Photo
from tagging.services import recognition


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
        cursor.execute("VACUUM ANALYZE tagging_facevector")
        # Every table, as after a restore: without statistics PostgreSQL guessed
        # that the one album let few photos through the visibility filter, and
        # answered each confirmed-faces search by scanning all confirmed faces
        # (exact, 370 ms at 100,000 faces under load) instead of from their HNSW
        # index. autovacuum never analyzes a table of fewer than 50 rows.
        cursor.execute("ANALYZE")
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


HNSW_OVERRIDES: dict[str, int] = {}


def _hnsw_indexes() -> list[HnswIndex]:
    indexes = [index for index in FaceVector._meta.indexes if isinstance(index, HnswIndex)]
    if not HNSW_OVERRIDES:
        return indexes
    changed = []
    for index in indexes:
        path, args, kwargs = index.deconstruct()
        changed.append(HnswIndex(*args, **{**kwargs, **HNSW_OVERRIDES}))
    return changed


def _drop_hnsw_indexes() -> None:
    # Inserting into a live HNSW graph costs a search per row; building once afterwards is
    # what an import or a restore does, and what step 2 measures.
    with connection.schema_editor() as editor:
        for index in _hnsw_indexes():
            editor.remove_index(FaceVector, index)


def _copy_faces(rng, *, ids, photo_ids, embeddings, person_ids, statuses) -> None:
    """COPY the faces in the text format: far faster than INSERTs at this size."""
    now = timezone.now().isoformat()
    vector = "[" + ",".join(["%.9g"] * DIMENSIONS) + "]"  # nine digits round-trip a float32
    corners = rng.uniform(0, 0.9, size=(len(ids), 2))
    columns = "id, photo_id, x, y, w, h, confidence, embedding, model_name, person_id, status, distance"
    columns += ", crop, source"
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
                    f"{MODEL}\t{person}\t{status}\t{distance}\t\t{Face.Source.DETECTED}\t{now}\t{now}\n"
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
            editor.add_index(FaceVector, index)
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
        cursor.execute("ANALYZE tagging_facevector")
        # The new graphs' pages are written out now, not by the checkpointer while
        # the searches after this are timed (a gigabyte at a million faces).
        cursor.execute("CHECKPOINT")
        cursor.execute("SELECT pg_relation_size('tagging_face'), pg_relation_size('tagging_facevector')")
        table_mb, vectors_mb = (size / 2**20 for size in cursor.fetchone())
    report["build_seconds"] = total
    first = _hnsw_indexes()[0]
    report["hnsw"] = {"m": first.m, "ef_construction": first.ef_construction}
    report["index_mb"] = sum(sizes.values())
    report["index_sizes_mb"] = sizes
    report["table_mb"] = table_mb
    report["vector_table_mb"] = vectors_mb
    report["maintenance_work_mem"] = memory
    report["parallel_maintenance_workers"] = int(workers)
    say(
        f"  total {total:.1f} s; indexes {report['index_mb']:.1f} MB, "
        f"tables {table_mb:.1f} MB (faces) and {vectors_mb:.1f} MB (their vectors)"
    )
