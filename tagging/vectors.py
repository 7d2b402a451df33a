"""Vector reads: every nearest-neighbour query and embedding mean lives here, so
the index expression and the evidence filters are used consistently.

Vector queries (``nearest_first``) join a face to its ``FaceVector`` and order
by ``embedding::vector(N) <=> query`` under a ``model_name`` filter: exactly
the shape of the model's partial HNSW indexes (see ``FaceVector.Meta.indexes``),
so PostgreSQL answers them from an index and never loads all embeddings.

Recognition asks its questions for a whole batch of faces at once
(``confirmed_near_each``, ``near_each``, ``people_centres``,
``groups_outline``). One question at a time cost 8.5 queries per face
(`benchmark matching`: 7.3 s for 1,000 faces at 100,000, most of it ORM and
round trips at about 2.5 ms a query). A LATERAL join runs, for every face of
the batch, the same index-served query the single-face selectors run (the
inner query is built by the ORM from the same querysets), inside one
``hnsw_search_atomic`` transaction: ``hnsw.ef_search`` is set once.
"""

import contextlib
import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection, transaction
from django.db.models import Avg, Case, F, Q, QuerySet, When
from django.db.models.expressions import RawSQL
from pgvector.django import CosineDistance, VectorField

from tagging.embeddings import embedding_expression, model_dimensions
from tagging.models import Face, FaceRejection


@contextlib.contextmanager
def hnsw_search_atomic(*, ef_search: int | None = None):
    """Set the HNSW candidate list for the queries inside, in a transaction of their own.

    pgvector 0.6 filters rows *after* the index returned its ``ef_search``
    candidates, so a selective filter can leave fewer results than asked for.
    A wider list keeps such queries complete; where the server has iterative
    scans (pgvector 0.8+, e.g. the compose image), they are turned on too.
    ``SET LOCAL`` ends with the transaction, so other queries keep the default.
    Inside a transaction already, no savepoint (the two queries it costs were a
    good part of recognising a face): the list the transaction had is put back on
    the way out instead, so a cheaper list asked for here never narrows the
    searches that follow.
    """
    nested = connection.in_atomic_block
    wanted = str(ef_search or settings.FACE_FILTERED_EF_SEARCH)
    iterative = (
        ", set_config('hnsw.iterative_scan', 'strict_order', true)"
        if _iterative_scans(connection.alias)
        else ""
    )
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            # The subquery (fenced by OFFSET 0) reads the list before it is set.
            # pgvector 0.8+ goes on scanning the graph, with iterative scans, until
            # the filter let enough rows through, in order of distance.
            cursor.execute(
                f"SELECT was.value, set_config('hnsw.ef_search', %s, true){iterative} "  # noqa: S608 (no value)
                "FROM (SELECT current_setting('hnsw.ef_search') AS value OFFSET 0) AS was",
                [wanted],
            )
            before = cursor.fetchone()[0]
        yield
        if nested and before != wanted:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [before])


@functools.cache
def _iterative_scans(alias: str) -> bool:
    """Whether the server's pgvector has iterative index scans (0.8+). Asked
    once per process: pgvector reserves the ``hnsw.`` prefix, so naming the
    setting on an older one is an error, not a no-op."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        return False
    major, minor = (int(part) for part in row[0].split(".")[:2])
    return (major, minor) >= (0, 8)


@dataclass(frozen=True)
class Neighbour:
    face_id: int
    photo_id: int
    person_id: int | None
    person_named: bool
    status: str
    distance: float


def nearest_first(faces: QuerySet[Face], *, model_name: str, to, confirmed: bool = False) -> QuerySet[Face]:
    """``faces`` with an embedding of ``model_name``, nearest to ``to`` (a vector, or an
    expression of one) first, annotated ``nearest_distance``.

    The query is the shape of the model's HNSW index on ``FaceVector``, or of
    its confirmed-only one when ``confirmed``: the caller's filters on the
    face apply to what the index returns (see ``hnsw_search_atomic``).
    """
    column = "vector__embedding"
    faces = faces.filter(vector__model_name=model_name)
    if confirmed:
        # The confirmed graph's predicate, for the planner to prove.
        column = "vector__confirmed_embedding"
        faces = faces.filter(vector__confirmed_embedding__isnull=False)
    if not hasattr(to, "resolve_expression"):
        to = list(to)
    distance = CosineDistance(embedding_expression(model_name, column), to)
    return faces.annotate(nearest_distance=distance).order_by("nearest_distance")


def _neighbours(
    queryset: QuerySet[Face], embedding, model_name: str, limit: int, *, confirmed: bool = False
) -> list[Neighbour]:
    rows = nearest_first(queryset, model_name=model_name, to=embedding, confirmed=confirmed).values_list(
        "pk", "photo_id", "person_id", "person__name", "status", "nearest_distance"
    )[:limit]
    with hnsw_search_atomic():
        return [
            Neighbour(pk, photo_id, person_id, bool(name), status, float(d))
            for pk, photo_id, person_id, name, status, d in rows
        ]


def faces_confirmed_near(
    *,
    embedding,
    model_name: str,
    limit: int,
    seen_by,
    exclude_photo_id: int | None = None,
    exclude_person_ids: Iterable[int] = (),
) -> list[Neighbour]:
    """Confirmed faces that may vote for a face on a photo of ``seen_by``
    (``confirmed_evidence``), nearest to ``embedding`` (served by the confirmed-only index)."""
    queryset = confirmed_evidence(seen_by=seen_by)
    if exclude_photo_id is not None:
        queryset = queryset.exclude(photo_id=exclude_photo_id)
    exclude = list(exclude_person_ids)
    if exclude:
        queryset = queryset.exclude(person_id__in=exclude)
    return _neighbours(queryset, embedding, model_name, limit, confirmed=True)


def faces_near(
    *, embedding, model_name: str, limit: int, exclude_face_id: int | None = None
) -> list[Neighbour]:
    """Faces of any status nearest to ``embedding``, for grouping."""
    queryset = grouping_evidence()
    if exclude_face_id is not None:
        queryset = queryset.exclude(pk=exclude_face_id)
    return _neighbours(queryset, embedding, model_name, limit)


def person_centre(*, person_id: int, model_name: str, confirmed_only: bool = True, seen_by=None):
    """The mean of a person's embeddings of ``model_name`` (see ``people_centres``), or
    None when they have none."""
    centres = people_centres(
        person_ids=[person_id], model_name=model_name, confirmed_only=confirmed_only, seen_by=seen_by
    )
    return centres.get(person_id)


def faces_unconfirmed_near(*, embedding, model_name: str, limit: int) -> list[Neighbour]:
    """Faces still open to suggestions nearest to ``embedding``: what a new tag may improve."""
    queryset = Face.objects.exclude(status=Face.Status.CONFIRMED)
    return _neighbours(queryset, embedding, model_name, limit)


# The alias of the batch's own faces in the outer query; the inner query is the
# ORM's, on the unaliased table, so the names cannot collide.
_OUTER = "batch_face"
_VECTOR = VectorField()


def confirmed_evidence(*, seen_by) -> QuerySet[Face]:
    """Confirmed faces that may vote for a suggestion on a photo of ``seen_by``.

    Evidence follows visibility: only tags the photo's owner could see, so a
    name given on a private album never reaches anyone else's photos. People
    who opted out of recognition never vote: their embeddings are deleted, and
    the filter guards the moment in between.
    """
    return Face.objects.visible_to(seen_by).filter(
        status=Face.Status.CONFIRMED, person__recognition_opt_out=False
    )


def grouping_evidence() -> QuerySet[Face]:
    """Faces of any status a new face may be grouped with: all but those of people who opted out."""
    return Face.objects.exclude(person__recognition_opt_out=True)


def _outer(column: str) -> RawSQL:
    """A column of the batch's face, for the inner query (a LATERAL reference)."""
    return RawSQL(f"{_OUTER}.{column}", ())  # noqa: S611 (a column name of this module)


def _nearest_sql(inner: QuerySet[Face], *, model_name: str, limit: int, columns, confirmed=False):
    """The SQL and parameters of the query a batch runs for each of its faces: the
    ``limit`` faces of ``inner`` nearest to the batch's face, as ``(*columns, distance)``."""
    outer_embedding = RawSQL(  # noqa: S611 (column and dimension, no value)
        f"{_OUTER}.embedding::vector({model_dimensions(model_name)})", (), output_field=VectorField()
    )
    nearest = nearest_first(inner, model_name=model_name, to=outer_embedding, confirmed=confirmed)
    sql, params = nearest.values_list(*columns, "nearest_distance")[:limit].query.sql_with_params()
    return sql, tuple(params)


def _each_nearest(nearest: tuple[str, tuple], *, face_ids: list[int], limit: int):
    """Rows ``(face_id, *columns, distance, rank)``: for each face of ``face_ids``, the
    ``limit`` faces of the ``nearest`` query (``_nearest_sql``) nearest to it, nearest first (rank 1).

    Asked first with the batch's cheaper candidate list (``FACE_BATCH_EF_SEARCH``),
    then again with the filtered searches' wide one for the faces that came back
    short: on pgvector 0.6 a short answer is the sign that the filter dropped
    candidates the index had returned, and only those faces pay for the wide list.
    """
    rows = _each_nearest_once(nearest, face_ids=face_ids, ef_search=settings.FACE_BATCH_EF_SEARCH)
    found: dict[int, int] = defaultdict(int)
    for row in rows:
        found[row[0]] += 1
    short = [face_id for face_id in face_ids if found[face_id] < limit]
    if not short or settings.FACE_BATCH_EF_SEARCH >= settings.FACE_FILTERED_EF_SEARCH:
        return rows
    kept = [row for row in rows if found[row[0]] >= limit]
    return kept + _each_nearest_once(nearest, face_ids=short, ef_search=settings.FACE_FILTERED_EF_SEARCH)


def _each_nearest_once(nearest: tuple[str, tuple], *, face_ids: list[int], ef_search: int):
    sql, params = nearest
    table = Face._meta.db_table
    query = (
        f"SELECT {_OUTER}.id, near.* FROM {table} {_OUTER} "  # noqa: S608 (names, not values)
        f"CROSS JOIN LATERAL (SELECT ordered.*, row_number() OVER () AS rank FROM ({sql}) ordered) near "
        f"WHERE {_OUTER}.id = ANY(%s) ORDER BY {_OUTER}.id, near.rank"
    )
    # One transaction with its own candidate list: pgvector 0.6 filters after the
    # index (see hnsw_search_atomic), and the filters here are the single-face queries' own.
    with hnsw_search_atomic(ef_search=ef_search), connection.cursor() as cursor:
        cursor.execute(query, [*params, list(face_ids)])
        return cursor.fetchall()


def confirmed_near_each(*, faces: Iterable[Face], model_name: str, limit: int, seen_by) -> dict[int, list]:
    """For each of ``faces`` (of ``model_name``, on photos of ``seen_by``), the confirmed
    faces that may vote for it, nearest first, as ``selectors.Neighbour``.

    What ``faces_confirmed_near`` answers for one face, for all in one
    query: faces on the face's own photo never vote (one person is not twice on
    a photo), nor people the face was rejected for.
    """
    inner = (
        confirmed_evidence(seen_by=seen_by)
        .exclude(photo_id=_outer("photo_id"))
        .exclude(person_id__in=FaceRejection.objects.filter(face_id=_outer("id")).values("person_id"))
    )
    ids = [face.pk for face in faces]
    found: dict[int, list] = {face_id: [] for face_id in ids}
    columns = ("pk", "photo_id", "person_id", "person__name", "status")
    nearest = _nearest_sql(inner, model_name=model_name, limit=limit, columns=columns, confirmed=True)
    for face_id, pk, photo_id, person_id, name, status, distance, _ in _each_nearest(
        nearest, face_ids=ids, limit=limit
    ):
        found[face_id].append(Neighbour(pk, photo_id, person_id, bool(name), status, float(distance)))
    return found


def near_each(*, face_ids: list[int], model_name: str, limit: int) -> tuple[dict[int, list], dict[int, list]]:
    """For each face of ``face_ids``, the faces of any status nearest to it (itself
    excluded), for grouping; and the embeddings of those neighbours still ungrouped
    (no person, unassigned): the only ones a grouping pass compares with a centre.

    What ``faces_near`` answers for one face, for all in one query. Reading every
    neighbour's embedding cost about 0.8 ms a face in parsing alone.
    """
    found: dict[int, list] = {face_id: [] for face_id in face_ids}
    embeddings: dict[int, list] = {}
    for face_id, pk, photo_id, person_id, name, status, embedding, distance, _ in _each_nearest(
        _near_sql(model_name, limit), face_ids=face_ids, limit=limit
    ):
        found[face_id].append(Neighbour(pk, photo_id, person_id, bool(name), status, float(distance)))
        if embedding is not None:
            # A raw cursor returns pgvector's text form; the field parses it as the ORM would.
            embeddings[pk] = _VECTOR.from_db_value(embedding, None, connection)
    return found, embeddings


@functools.cache
def _near_sql(model_name: str, limit: int) -> tuple[str, tuple]:
    """``near_each``'s query, built once per process: it depends on the model and the
    limit only (grouping's evidence is the same for every face), and the ORM took
    0.8 ms to build it, twice a photo."""
    ungrouped = When(person__isnull=True, status=Face.Status.UNASSIGNED, then=F("embedding"))
    inner = (
        grouping_evidence()
        .exclude(pk=_outer("id"))
        .annotate(ungrouped_embedding=Case(ungrouped, default=None, output_field=VectorField()))
    )
    columns = ("pk", "photo_id", "person_id", "person__name", "status", "ungrouped_embedding")
    return _nearest_sql(inner, model_name=model_name, limit=limit, columns=columns)


def people_centres(
    *, person_ids: Iterable[int], model_name: str, confirmed_only: bool = True, seen_by=None
) -> dict[int, list]:
    """Person id -> the mean of their embeddings of ``model_name`` (pgvector's ``avg``;
    confirmed faces only unless told otherwise; only those ``seen_by`` may see, when
    given), for each of ``person_ids`` that has any. One query."""
    faces = Face.objects.visible_to(seen_by) if seen_by is not None else Face.objects.all()
    faces = faces.filter(person_id__in=list(person_ids), model_name=model_name, embedding__isnull=False)
    if confirmed_only:
        faces = faces.filter(status=Face.Status.CONFIRMED)
    rows = (
        faces.order_by()
        .values("person_id")
        .annotate(centre=Avg(embedding_expression(model_name)))
        .values_list("person_id", "centre")
    )
    return {person_id: list(centre) for person_id, centre in rows if centre is not None}


def groups_outline(*, person_ids: Iterable[int], model_name: str) -> dict[int, tuple[list | None, set[int]]]:
    """Person id -> (the mean of all their embeddings of ``model_name`` or None, the
    photos any of their faces is on): what decides whether a face may join the
    group. One query for all of ``person_ids``."""
    with_embedding = Q(model_name=model_name, embedding__isnull=False)
    rows = (
        Face.objects.filter(person_id__in=list(person_ids))
        .order_by()
        .values("person_id")
        .annotate(
            centre=Avg(embedding_expression(model_name), filter=with_embedding),
            photos=ArrayAgg("photo_id", distinct=True),
        )
        .values_list("person_id", "centre", "photos")
    )
    outline: dict[int, tuple[list | None, set[int]]] = defaultdict(lambda: (None, set()))
    for person_id, centre, photos in rows:
        outline[person_id] = (None if centre is None else list(centre), set(photos))
    return outline
