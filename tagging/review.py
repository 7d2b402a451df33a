"""Reads for the review: the suggestions a member has left to look at (per person, in
bands of confidence, and in one walk through everyone), and the faces nobody named.

Selectors like those of ``tagging.selectors`` (kept apart: that module is past
400 lines). Every query starts from the ``visible_to`` querysets, so a member
counts and sees only suggestions on photos they may see.
"""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery

from tagging import selectors
from tagging.models import Face, Person
from tagging.services.recognition import cluster_max_distance, match_threshold

LIKELY, MAYBE = "likely", "maybe"


def likely_distance(model_name: str | None = None) -> float:
    """Suggestions up to this distance are shown as "likely" (ticked), the rest up to
    the match threshold as "maybe" (not ticked).

    Measured with ``manage.py evaluate``: same-person pairs reach 0.068 and
    different people start at 0.108 (0.119 within shared/faces/people, where
    all 11 suggestions made lie at 0.068 or nearer). The line is the grouping
    distance (0.075 for Dlib): a suggestion that close is as sure as the faces
    the site groups by itself, and holds every same-person pair measured. From
    there to the match threshold (0.09) no pair was measured either way: that
    band is where a look-alike would appear first, so the member ticks it.
    """
    return min(cluster_max_distance(model_name), match_threshold(model_name))


@dataclass
class ReviewGrid:
    """A person's suggestions as the grid shows them, nearest first in each band."""

    likely: list[Face] = field(default_factory=list)
    maybe: list[Face] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.likely) + len(self.maybe)

    @property
    def faces(self) -> list[Face]:
        return self.likely + self.maybe


def review_grid(*, user, person: Person, limit: int = 200) -> ReviewGrid:
    """The faces suggested for ``person`` that ``user`` may see, split into bands; each
    face carries ``band``. One query (``selectors.person_review_faces``, nearest first)."""
    grid = ReviewGrid()
    for face in selectors.person_review_faces(user=user, person=person, limit=limit):
        likely = face.distance is not None and face.distance <= likely_distance(face.model_name)
        face.band = LIKELY if likely else MAYBE
        (grid.likely if likely else grid.maybe).append(face)
    return grid


def _suggested(user, *, people_checked: bool = False) -> QuerySet[Face]:
    """Faces ``user`` may see that wait for a yes or no: suggestions of named people
    ``user`` may know of (a hidden person's, for staff only). ``people_checked``: the
    caller's people come from ``Person.objects.visible_to`` already (no second check)."""
    faces = Face.objects.visible_to(user).filter(status=Face.Status.SUGGESTED).exclude(person__name="")
    return faces if people_checked else faces.filter(person__in=Person.objects.visible_to(user))


def people_with_review_counts(people: QuerySet[Person], *, user) -> QuerySet[Person]:
    """``people`` with ``review_count``: their suggestions ``user`` may see (a correlated
    count on the face_person_status index, in the same query as the page's list)."""
    waiting = _suggested(user, people_checked=True).filter(person=OuterRef("pk")).order_by().values("person")
    return people.annotate(
        review_count=Subquery(waiting.annotate(n=Count("pk")).values("n"), output_field=IntegerField())
    )


def suggestions_waiting(*, user) -> int:
    """How many suggestions ``user`` may review, over everyone (one query)."""
    return _suggested(user).count()


def person_waiting_count(*, user, person: Person, shown: list[int] = ()) -> int:
    """Suggestions for ``person`` that ``user`` may see, other than the ``shown`` faces:
    what "load more" would bring (one query)."""
    return _suggested(user).filter(person=person).exclude(pk__in=list(shown)).count()


def person_next_to_review(*, user, after: Person | None = None) -> Person | None:
    """The next named person, by name, with a suggestion ``user`` may see: the walk of
    "Review all". ``after`` is the person just reviewed; the walk goes on from there."""
    waiting = _suggested(user, people_checked=True).filter(person=OuterRef("pk"))
    people = Person.objects.visible_to(user).exclude(name="").filter(Exists(waiting))
    if after is not None:
        people = people.filter(Q(name__gt=after.name) | Q(name=after.name, pk__gt=after.pk))
    return people.order_by("name", "pk").first()


def faces_unnamed_single(*, user, limit: int = 24) -> list[Face]:
    """Faces ``user`` may see that belong to nobody, not even an unnamed group: a face
    seen once is never dense enough to group, so without this list it appears
    nowhere on the people page. With a crop only (nothing to show otherwise)."""
    return list(
        Face.objects.visible_to(user)
        .filter(status=Face.Status.UNASSIGNED)
        .exclude(crop="")
        .select_related("photo")
        .order_by("pk")[:limit]
    )


def faces_unnamed_single_count(*, user) -> int:
    return Face.objects.visible_to(user).filter(status=Face.Status.UNASSIGNED).exclude(crop="").count()
