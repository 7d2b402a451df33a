"""Reads. The vector reads live in ``tagging.vectors`` and are named here too,
where callers have always found them."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractYear
from django.utils import timezone
from pgvector.django import CosineDistance

from tagging.embeddings import embedding_expression
from tagging.models import Album, Face, Person, Photo
from tagging.vectors import (  # noqa: F401 (the vector reads, under their old address)
    Neighbour,
    faces_confirmed_near,
    faces_near,
    faces_nearest,
    faces_unconfirmed_near,
    hnsw_search,
    person_centre,
)

# --- Pages ----------------------------------------------------------------------
# Each selector below answers one page in a fixed number of queries, whatever
# the number of albums, photos or people, and counts only what the viewer may see.


def albums_for_list(*, user) -> QuerySet[Album]:
    """Visible albums with photo counts, processing progress and a cover thumbnail (one query)."""
    cover = (
        Photo.objects.filter(album=OuterRef("pk"), status=Photo.Status.DONE)
        .exclude(thumbnail="")
        .order_by("created_at", "pk")
        .values("pk")[:1]
    )
    return (
        Album.objects.visible_to(user)
        .select_related("owner")
        .annotate(
            photo_count=Count("photos"),
            done_count=Count("photos", filter=Q(photos__status=Photo.Status.DONE)),
            failed_count=Count("photos", filter=Q(photos__status=Photo.Status.FAILED)),
            cover_photo_id=Subquery(cover),
        )
        .order_by("-created_at")
    )


def album_photos(*, album: Album) -> QuerySet[Photo]:
    """The album's photos in upload order, each with its face count (one query)."""
    return album.photos.annotate(face_count=Count("faces")).order_by("created_at", "pk")


# Throughput is measured over the photos settled this recently: long enough to
# span several photos at a worker's pace (about 1-2 s each here), short enough
# to follow a change in the number of workers.
PROGRESS_WINDOW_SECONDS = 120


def album_progress(*, album: Album) -> dict:
    """How far the album's processing is: counts, and seconds left at the recent pace.

    ``seconds_left`` is None when nothing is left or the pace is not known yet
    (fewer than two photos settled within the window). Two small queries.
    """
    settled = [Photo.Status.DONE, Photo.Status.FAILED]
    counts = album.photos.aggregate(
        total=Count("pk"),
        processed=Count("pk", filter=Q(status__in=settled)),
        failed=Count("pk", filter=Q(status=Photo.Status.FAILED)),
    )
    left = counts["total"] - counts["processed"]
    seconds_left = None
    if left:
        since = timezone.now() - timedelta(seconds=PROGRESS_WINDOW_SECONDS)
        recent = album.photos.filter(status__in=settled, status_changed_at__gte=since).aggregate(
            count=Count("pk"), first=Min("status_changed_at"), last=Max("status_changed_at")
        )
        span = (recent["last"] - recent["first"]).total_seconds() if recent["count"] >= 2 else 0
        if span > 0:
            seconds_left = round(left * span / (recent["count"] - 1))
    return {**counts, "left": left, "seconds_left": seconds_left}


def photo_neighbours(*, photo: Photo) -> tuple[int | None, int | None]:
    """Ids of the previous and next photo in the album (two small indexed queries)."""
    siblings = Photo.objects.filter(album_id=photo.album_id)
    before = siblings.filter(
        Q(created_at__lt=photo.created_at) | Q(created_at=photo.created_at, pk__lt=photo.pk)
    ).order_by("-created_at", "-pk")
    after = siblings.filter(
        Q(created_at__gt=photo.created_at) | Q(created_at=photo.created_at, pk__gt=photo.pk)
    ).order_by("created_at", "pk")
    return before.values_list("pk", flat=True).first(), after.values_list("pk", flat=True).first()


def _people_with_visible_faces(*, user, statuses: list[str] | None = None) -> QuerySet[Person]:
    """People with faces the viewer may see, each with photo and face counts and a cover.

    Counts and cover are correlated subqueries on the face_person_status index,
    one index lookup per person: a GROUP BY over person x face x photo x album
    joins is only fast while the planner's statistics are fresh, and went
    quadratic (past the statement timeout) right after a bulk import.
    """
    faces = Face.objects.visible_to(user).filter(person=OuterRef("pk"))
    if statuses is not None:
        faces = faces.filter(status__in=statuses)

    def counted(expression) -> Subquery:
        return Subquery(
            faces.order_by().values("person").annotate(n=expression).values("n"), output_field=IntegerField()
        )

    cover = (
        faces.annotate(is_cover=Case(When(pk=OuterRef("cover_face_id"), then=Value(0)), default=Value(1)))
        .order_by("is_cover", "-status", "pk")
        .values("pk")[:1]
    )
    return (
        Person.objects.visible_to(user)
        .filter(Exists(faces))
        .annotate(
            photo_count=counted(Count("photo", distinct=True)),
            face_count=counted(Count("pk")),
            visible_cover_id=Subquery(cover),
        )
    )


def people_named(*, user) -> QuerySet[Person]:
    """Named people with a confirmed face the viewer may see, with photo counts and covers."""
    return (
        _people_with_visible_faces(user=user, statuses=[Face.Status.CONFIRMED])
        .exclude(name="")
        .order_by("hidden", "name", "pk")
    )


def people_unnamed(*, user, limit: int = 200) -> QuerySet[Person]:
    """Unnamed groups with faces the viewer may see, largest first."""
    return _people_with_visible_faces(user=user).filter(name="").order_by("-face_count", "pk")[:limit]


def people_nameable(*, user) -> QuerySet[Person]:
    """Named people a member may pick by name (autocomplete, search): those with a
    confirmed face the member can see. Staff, who curate the directory, may pick
    anyone they may know of, hidden people too. Nobody picks a person who opted
    out of recognition."""
    people = Person.objects.visible_to(user).exclude(name="").filter(recognition_opt_out=False)
    if user.is_staff:
        return people
    confirmed = Face.objects.visible_to(user).filter(status=Face.Status.CONFIRMED)
    return people.filter(pk__in=confirmed.values("person_id"))


def person_by_name(*, user, name: str) -> Person | None:
    """The person ``user`` means by ``name`` when tagging or naming, or None for a new person.

    Someone of that name the user may know of comes first. Else someone of that
    name who opted out of recognition: opting out sticks to the name, so a tag
    with it attaches to them (and keeps no embedding) rather than making a
    namesake who is recognised. A person seen only in someone else's private
    album is nobody to ``user``: the same name makes a person of their own.
    """
    visible = Person.objects.visible_to(user).named(name).order_by("pk").first()
    if visible is not None:
        return visible
    return Person.objects.named(name).filter(recognition_opt_out=True).order_by("pk").first()


def person_photos(*, user, person: Person) -> QuerySet[Photo]:
    """Photos the viewer may see on which ``person`` is tagged."""
    return (
        Photo.objects.visible_to(user)
        .filter(faces__person=person, faces__status=Face.Status.CONFIRMED)
        .distinct()
        .order_by("-created_at", "-pk")
    )


def group_faces_for_naming(*, user, person: Person, limit: int = 100) -> list[Face]:
    """The faces of an unnamed group the viewer may see, nearest to the group's centre first:
    what the naming form shows, so the member confirms only faces they saw."""
    faces = Face.objects.visible_to(user).filter(
        person=person, status=Face.Status.SUGGESTED, embedding__isnull=False
    )
    model_name = faces.values_list("model_name", flat=True).first()
    if model_name is None:
        return []
    centre = faces.filter(model_name=model_name).aggregate(c=Avg(embedding_expression(model_name)))["c"]
    return list(
        faces.filter(model_name=model_name)
        .select_related("photo")
        .annotate(centre_distance=CosineDistance(embedding_expression(model_name), list(centre)))
        .order_by("centre_distance", "pk")[:limit]
    )


def person_review_faces(*, user, person: Person, limit: int = 200) -> QuerySet[Face]:
    """Faces suggested for ``person`` on photos the viewer may see, most certain first."""
    return (
        Face.objects.visible_to(user)
        .filter(person=person, status=Face.Status.SUGGESTED)
        .select_related("photo")
        .order_by("distance", "pk")[:limit]
    )


def photos_with_people(*, user, people: Iterable[Person]) -> QuerySet[Photo]:
    """Visible photos on which every one of ``people`` is tagged."""
    photos = Photo.objects.visible_to(user)
    for person in people:
        photos = photos.filter(
            pk__in=Face.objects.filter(person=person, status=Face.Status.CONFIRMED).values("photo_id")
        )
    return photos.order_by("-created_at", "-pk")


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
