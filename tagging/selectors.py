"""Reads. The vector reads live in ``tagging.vectors`` and are named here too,
where callers have always found them."""

from collections.abc import Iterable
from datetime import timedelta

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
from django.utils import timezone
from pgvector.django import CosineDistance

from tagging.embeddings import embedding_expression
from tagging.models import Album, Face, Person, Photo, Undo
from tagging.vectors import (  # noqa: F401 (the vector reads, under their old address)
    Neighbour,
    faces_confirmed_near,
    faces_near,
    faces_unconfirmed_near,
    hnsw_search_atomic,
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
    # A join does not pass through Photo.objects: deleted photos are left out here.
    live = Q(photos__deleted_at__isnull=True)
    return (
        Album.objects.visible_to(user)
        .select_related("owner")
        .annotate(
            photo_count=Count("photos", filter=live),
            done_count=Count("photos", filter=live & Q(photos__status=Photo.Status.DONE)),
            failed_count=Count("photos", filter=live & Q(photos__status=Photo.Status.FAILED)),
            cover_photo_id=Subquery(cover),
        )
        .order_by("-created_at")
    )


def album_photos(*, album: Album) -> QuerySet[Photo]:
    """The album's photos in upload order, each with its face count (one query)."""
    # A join, which no manager filters: boxes said to be no face are left out here.
    counted = Count("faces", filter=~Q(faces__status=Face.Status.NOT_A_FACE))
    return album.photos.annotate(face_count=counted).order_by("created_at", "pk")


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


def undo_offered(*, user):
    """The undo to offer ``user`` on every page: their latest action, while it may be undone
    and they did not close its message. An older action is not offered once a newer
    one was undone or closed (one query, on the user's index)."""
    if not user.is_authenticated:
        return None
    latest = Undo.objects.filter(user=user).order_by("-created_at", "-pk").first()
    if latest is None or latest.dismissed or not latest.is_open:
        return None
    return latest
