"""Reads. Every vector query lives here, so the index expression is used consistently.

Vector queries order by ``embedding::vector(N) <=> query`` under a
``model_name`` filter: exactly the shape of the model's partial HNSW indexes
(see ``Face.Meta.indexes``), so PostgreSQL answers them from an index and never
loads all embeddings.
"""

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from pgvector.django import CosineDistance

from tagging.embeddings import embedding_expression
from tagging.models import Face


def faces_nearest(*, embedding: Sequence[float], model_name: str, limit: int = 10) -> QuerySet[Face]:
    """Faces of ``model_name`` nearest to ``embedding`` by cosine distance, nearest first.

    Each face carries ``nearest_distance``. The HNSW search is approximate: it
    returns up to ``hnsw.ef_search`` (40 by default) candidates.
    """
    distance = CosineDistance(embedding_expression(model_name), list(embedding))
    return (
        Face.objects.filter(model_name=model_name, embedding__isnull=False)
        .annotate(nearest_distance=distance)
        .order_by("nearest_distance")[:limit]
    )


@contextlib.contextmanager
def hnsw_search(*, ef_search: int | None = None):
    """Widen the HNSW candidate list for the queries inside, in a transaction of their own.

    pgvector 0.6 filters rows *after* the index returned its ``ef_search``
    candidates, so a selective filter can leave fewer results than asked for.
    A wider list keeps such queries complete. ``SET LOCAL`` ends with the
    transaction, so other queries keep the cheap default.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, true)",
                [str(ef_search or settings.FACE_FILTERED_EF_SEARCH)],
            )
        yield


@dataclass(frozen=True)
class Neighbour:
    face_id: int
    photo_id: int
    person_id: int | None
    person_named: bool
    status: str
    distance: float


def _neighbours(queryset: QuerySet[Face], embedding, model_name: str, limit: int) -> list[Neighbour]:
    distance = CosineDistance(embedding_expression(model_name), list(embedding))
    rows = (
        queryset.filter(model_name=model_name, embedding__isnull=False)
        .annotate(nearest_distance=distance)
        .order_by("nearest_distance")
        .values_list("pk", "photo_id", "person_id", "person__name", "status", "nearest_distance")[:limit]
    )
    with hnsw_search():
        return [
            Neighbour(pk, photo_id, person_id, bool(name), status, float(d))
            for pk, photo_id, person_id, name, status, d in rows
        ]


def faces_confirmed_near(
    *,
    embedding,
    model_name: str,
    limit: int,
    exclude_photo_id: int | None = None,
    exclude_person_ids: Iterable[int] = (),
) -> list[Neighbour]:
    """Confirmed faces nearest to ``embedding`` (served by the confirmed-only index).

    People who opted out of recognition never appear: their embeddings are
    deleted, and the filter below guards the moment in between.
    """
    queryset = Face.objects.filter(status=Face.Status.CONFIRMED, person__recognition_opt_out=False)
    if exclude_photo_id is not None:
        queryset = queryset.exclude(photo_id=exclude_photo_id)
    exclude = list(exclude_person_ids)
    if exclude:
        queryset = queryset.exclude(person_id__in=exclude)
    return _neighbours(queryset, embedding, model_name, limit)


def faces_near(
    *, embedding, model_name: str, limit: int, exclude_face_id: int | None = None
) -> list[Neighbour]:
    """Faces of any status nearest to ``embedding``, for grouping."""
    queryset = Face.objects.exclude(person__recognition_opt_out=True)
    if exclude_face_id is not None:
        queryset = queryset.exclude(pk=exclude_face_id)
    return _neighbours(queryset, embedding, model_name, limit)


def faces_unconfirmed_near(*, embedding, model_name: str, limit: int) -> list[Neighbour]:
    """Faces still open to suggestions nearest to ``embedding``: what a new tag may improve."""
    queryset = Face.objects.exclude(status=Face.Status.CONFIRMED)
    return _neighbours(queryset, embedding, model_name, limit)
