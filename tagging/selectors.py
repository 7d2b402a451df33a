"""Reads. Every vector query lives here, so the index expression is used consistently.

Vector queries order by ``embedding::vector(N) <=> query`` under a
``model_name`` filter: exactly the shape of the model's partial HNSW indexes
(see ``Face.Meta.indexes``), so PostgreSQL answers them from an index and never
loads all embeddings.
"""

import contextlib
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
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


@contextlib.contextmanager
def hnsw_search_atomic(*, ef_search: int | None = None):
    """Open a transaction and widen the HNSW candidate list for the queries inside it.

    The transaction is this function's own (``transaction.atomic``, a savepoint
    inside a caller's): ``SET LOCAL`` needs one, hence the name.

    pgvector 0.6 filters rows *after* the index returned its ``ef_search``
    candidates, so a selective filter can leave fewer results than asked for.
    A wider list keeps such queries complete; where the server has iterative
    scans (pgvector 0.8+, e.g. the compose image), they are turned on too. ``SET LOCAL`` ends with the
    transaction, so other queries keep the cheap default.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            if _iterative_scans(connection.alias):
                # pgvector 0.8+ goes on scanning the graph until the filter let
                # enough rows through, in order of distance.
                cursor.execute(
                    "SELECT set_config('hnsw.ef_search', %s, true), "
                    "set_config('hnsw.iterative_scan', 'strict_order', true)",
                    [str(ef_search or settings.FACE_FILTERED_EF_SEARCH)],
                )
            else:
                cursor.execute(
                    "SELECT set_config('hnsw.ef_search', %s, true)",
                    [str(ef_search or settings.FACE_FILTERED_EF_SEARCH)],
                )
        yield


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


def _neighbours(queryset: QuerySet[Face], embedding, model_name: str, limit: int) -> list[Neighbour]:
    distance = CosineDistance(embedding_expression(model_name), list(embedding))
    rows = (
        queryset.filter(model_name=model_name, embedding__isnull=False)
        .annotate(nearest_distance=distance)
        .order_by("nearest_distance")
        .values_list("pk", "photo_id", "person_id", "person__name", "status", "nearest_distance")[:limit]
    )
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
    """Confirmed faces that ``seen_by`` may see, nearest to ``embedding`` (served by the
    confirmed-only index).

    Evidence follows visibility: a face is suggested only from tags its photo's
    owner (``seen_by``) could see, so a name given on a private album never
    reaches anyone else's photos. People who opted out of recognition never
    appear: their embeddings are deleted, and the filter guards the moment in between.
    """
    queryset = Face.objects.visible_to(seen_by).filter(
        status=Face.Status.CONFIRMED, person__recognition_opt_out=False
    )
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


def person_centre(*, person_id: int, model_name: str, confirmed_only: bool = True, seen_by=None):
    """The mean of a person's embeddings of ``model_name`` (pgvector's ``avg``; confirmed
    faces only unless told otherwise; only those ``seen_by`` may see, when given), or
    None when they have none."""
    faces = Face.objects.visible_to(seen_by) if seen_by is not None else Face.objects.all()
    faces = faces.filter(person_id=person_id, model_name=model_name, embedding__isnull=False)
    if confirmed_only:
        faces = faces.filter(status=Face.Status.CONFIRMED)
    centre = faces.aggregate(centre=Avg(embedding_expression(model_name)))["centre"]
    return None if centre is None else list(centre)


def faces_unconfirmed_near(*, embedding, model_name: str, limit: int) -> list[Neighbour]:
    """Faces still open to suggestions nearest to ``embedding``: what a new tag may improve."""
    queryset = Face.objects.exclude(status=Face.Status.CONFIRMED)
    return _neighbours(queryset, embedding, model_name, limit)


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
