"""Recognising a batch of new faces, as uploads would bring them, and how they ended up."""

import math
import multiprocessing
import time

import numpy as np
from django.db import connection

from devtools.benchmarks.matching.generator import (
    MODEL,
    NEW_FACES,
    NEW_FACES_PER_PHOTO,
    NEW_PEOPLE_SHARE,
    Library,
    _query_faces,
)
from devtools.benchmarks.matching.loader import _photos
from tagging import selectors
from tagging.models import Album, Face
from tagging.services import recognition

OUTCOMES = [
    f"{kind}_{result}"
    for kind in ("named", "grouped", "ungrouped")
    for result in ("right", "wrong", "new_group", "unassigned")
]


def _recognize(rng: np.random.Generator, library: Library, report: dict, say, *, workers: int = 1) -> None:
    _recognize_one_by_one(rng, library, report, say)
    if workers > 1:
        _recognize_concurrently(rng, library, report, say, workers=workers)


def _recognize_one_by_one(rng: np.random.Generator, library: Library, report: dict, say) -> None:
    start = time.perf_counter()
    face_ids, people = _new_faces(rng, library, NEW_FACES)
    report["insert_1000_seconds"] = time.perf_counter() - start

    photo_ids = _photo_ids(face_ids)
    queries = 0
    batch_queries: list[tuple[str, tuple]] = []

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        if "LATERAL" in sql and len(batch_queries) < 2:
            batch_queries.append((sql, params))
        return execute(sql, params, many, context)

    # Photo by photo, as the workers recognise them (``photo_recognize`` after
    # each photo's faces were found): one batch of all 1,000 would flatter
    # the batched reads.
    start = time.perf_counter()
    with connection.execute_wrapper(count):
        for photo_id in photo_ids:
            recognition.photo_recognize(photo_id=photo_id)
    report["recognize_1000_seconds"] = time.perf_counter() - start
    report["recognize_queries_per_face"] = queries / len(face_ids)
    report["recognize_photos"] = len(photo_ids)
    report["recognize_batch_plans_use_hnsw"] = _plans_use_hnsw(batch_queries)
    report.update(_outcome(library, face_ids, people))
    report["recognize_wrong_names"] = _wrong_names(library, face_ids, people)
    r = report
    say(
        f"Recognise {len(face_ids):,} new faces on {len(photo_ids):,} photos (recognition.photo_recognize; "
        f"batched neighbour queries served by HNSW: {r['recognize_batch_plans_use_hnsw']})"
    )
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
    say(f"  faces given the name of someone else, of all kinds: {r['recognize_wrong_names']}")


def _recognize_concurrently(rng: np.random.Generator, library: Library, report: dict, say, *, workers: int):
    """Another 1,000 new faces, recognised photo by photo by ``workers`` processes at
    once, as the site's worker processes do (two by default): one process leaves
    a core idle while it waits for the database, and the database one while it
    works. The photos are dealt out in turn; grouping still takes its lock.
    """
    face_ids, people = _new_faces(rng, library, NEW_FACES, batch="concurrent")
    photo_ids = _photo_ids(face_ids)
    # Each process opens its own connection to the scratch database; none may
    # inherit this one's socket. This connection's session settings end here.
    connection.close()
    context = multiprocessing.get_context("fork")
    shares = [photo_ids[offset::workers] for offset in range(workers)]
    processes = [context.Process(target=_recognize_photos, args=(share,)) for share in shares]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    seconds = time.perf_counter() - start
    if any(process.exitcode for process in processes):
        raise RuntimeError("a recognition process failed; its traceback is above")
    outcome = _outcome(library, face_ids, people)
    report["recognize_workers"] = workers
    report["recognize_1000_seconds_workers"] = seconds
    report["recognize_workers_outcome"] = outcome
    report["recognize_workers_wrong_names"] = _wrong_names(library, face_ids, people)
    say(
        f"Recognise {len(face_ids):,} more new faces on {len(photo_ids):,} photos with {workers} processes "
        f"at once, as the site's workers do: {seconds:.2f} s"
    )
    named, grouped = _count(outcome, "named"), _count(outcome, "grouped")
    say(
        f"  {outcome['named_right']} of {named} named right, {outcome['named_wrong']} wrong; "
        f"{outcome['grouped_right']} of {grouped} joined their group, "
        f"{outcome['grouped_wrong']} another person's; given someone else's name: "
        f"{report['recognize_workers_wrong_names']}"
    )


def _photo_ids(face_ids: list[int]) -> list[int]:
    return sorted(set(Face.objects.filter(pk__in=face_ids).values_list("photo_id", flat=True)))


def _recognize_photos(photo_ids: list[int]) -> None:
    for photo_id in photo_ids:
        recognition.photo_recognize(photo_id=photo_id)
    connection.close()


def _plans_use_hnsw(queries: list[tuple[str, tuple]]) -> list[bool]:
    """Whether PostgreSQL answered each kind of batched neighbour query (confirmed faces,
    all faces) from an HNSW index: a LATERAL join must not fall back to a sort."""
    used = []
    for sql, params in queries:
        with selectors.hnsw_search_atomic(), connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        used.append("_hnsw" in plan)
    return used


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


def _wrong_names(library: Library, face_ids: list[int], people: np.ndarray) -> int:
    """Faces suggested a named person who is not theirs, whoever they are: a
    newcomer or the face of someone in an unnamed group joining a named person is
    a wrong name, where ``_outcome`` counts it only as joining an existing person."""
    named = {library.person_ids[person] for person in library.named}
    found = dict(Face.objects.filter(pk__in=face_ids).values_list("pk", "person_id"))
    return sum(
        1
        for face_id, person in zip(face_ids, people.tolist(), strict=True)
        if found[face_id] in named and found[face_id] != library.person_ids.get(person)
    )
