"""Reads for finding photos: by a face (similar faces), by date (timeline, years)
and by typed search. Split from ``tagging.selectors``, which offers them too."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce, ExtractYear
from pgvector.django import CosineDistance

from tagging.embeddings import embedding_expression
from tagging.models import Face, Photo
from tagging.selectors import hnsw_search, photos_with_people


@dataclass(frozen=True)
class SimilarPhoto:
    photo: Photo
    face_id: int
    distance: float


def _nearest_per_photo(query) -> dict[int, tuple[int, float]]:
    """Photo id -> (its nearest face, distance), nearest photos first."""
    best: dict[int, tuple[int, float]] = {}
    for face_id, photo_id, d in query:
        if photo_id not in best:
            best[photo_id] = (face_id, float(d))
    return best


def photos_similar(*, user, embedding, model_name: str, limit: int = 24, exclude_face_id: int | None = None):
    """Visible photos with the faces most similar to ``embedding``, nearest first (deepface's
    ``find``, inside the site). One photo appears once, with its nearest face."""
    distance = CosineDistance(embedding_expression(model_name), list(embedding))
    faces = Face.objects.visible_to(user).filter(model_name=model_name, embedding__isnull=False)
    if exclude_face_id is not None:
        faces = faces.exclude(pk=exclude_face_id)
    columns = ("pk", "photo_id", "d")
    query = faces.annotate(d=distance).order_by("d").values_list(*columns)[: limit * 4]
    with hnsw_search(ef_search=max(settings.FACE_FILTERED_EF_SEARCH, limit * 8)):
        best = _nearest_per_photo(query)
    if len(best) < limit:
        # The approximate search keeps its candidates before the visibility
        # filter; when most faces near this one are on photos the viewer cannot
        # see (or are deleted rows not yet vacuumed), too few survive. Then an
        # exact search over the visible faces: the distance on the uncast column
        # is not the indexed expression, so no index can cut it short.
        exact = CosineDistance("embedding", list(embedding))
        best = _nearest_per_photo(faces.annotate(d=exact).order_by("d").values_list(*columns)[: limit * 4])
    photos = Photo.objects.in_bulk(list(best)[:limit])
    return [SimilarPhoto(photos[pid], *best[pid]) for pid in list(best)[:limit] if pid in photos]


def photos_timeline(*, user, before: tuple | None = None, limit: int = 60) -> list[Photo]:
    """Processed photos ``user`` may see, newest first by when they were taken
    (upload time where the file gave no date); each carries ``when``.

    ``before`` is the (when, id) of the last photo already shown: the next page
    starts after it (keyset paging: no OFFSET to walk, and an upload in between
    shifts nothing). One query; the sort has no index of its own, which suits
    libraries of tens of thousands of photos.
    """
    photos = (
        Photo.objects.visible_to(user)
        .filter(status=Photo.Status.DONE)
        .annotate(when=Coalesce("taken_at", "created_at"))
    )
    if before is not None:
        at, pk = before
        photos = photos.filter(Q(when__lt=at) | Q(when=at, pk__lt=pk))
    return list(photos.order_by("-when", "-pk")[:limit])


def photo_years(*, user) -> list[int]:
    """Years in which the photos ``user`` may see were taken (or uploaded), newest first."""
    years = (
        Photo.objects.visible_to(user)
        .filter(status=Photo.Status.DONE)
        .annotate(year=ExtractYear(Coalesce("taken_at", "created_at")))
        .values_list("year", flat=True)
        .distinct()
    )
    return sorted(years, reverse=True)


def photos_search(*, user, people=(), albums=(), periods=(), months=()) -> QuerySet[Photo]:
    """Processed visible photos with every one of ``people`` tagged, in any of
    ``albums``, taken within any of ``periods`` or ``months``; newest first."""
    photos = photos_with_people(user=user, people=people).filter(status=Photo.Status.DONE)
    photos = photos.annotate(when=Coalesce("taken_at", "created_at"))
    if albums:
        photos = photos.filter(album__in=list(albums))
    dates = Q()
    for start, end in periods:
        dates |= Q(when__gte=start, when__lt=end)
    for month in months:
        dates |= Q(when__month=month)
    return photos.filter(dates).order_by("-when", "-pk")
