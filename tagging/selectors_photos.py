"""Reads for finding photos by date (timeline, years) and by typed search.
(By a face: ``tagging.similar``.)"""

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce, ExtractYear

from tagging.models import Photo
from tagging.selectors import photos_with_people


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
