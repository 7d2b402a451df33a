"""Recognition: suggest known people for new faces and group unknown ones.

All distance work runs in PostgreSQL (see ``tagging.vectors``), a few queries
for a whole batch of faces rather than several per face. Two rules hold
everywhere here: a confirmed tag is never changed by the machine, and a
suggestion never becomes a confirmed tag without a member's action.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from tagging import selectors, vectors
from tagging.models import Face, Person
from tagging.services.grouping import distance as _distance
from tagging.services.grouping import (  # noqa: F401 (grouping's entry points, under their old address)
    face_group,
    faces_group,
    group_centre,
    unnamed_groups_prune,
)
from tagging.services.thresholds import (  # noqa: F401 (the thresholds, under their old address)
    CALIBRATED_GROUPING,
    CALIBRATED_THRESHOLDS,
    cluster_max_distance,
    match_threshold,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestion:
    person_id: int
    distance: float


def suggestions_for(*, faces: Iterable[Face]) -> dict[int, Suggestion | None]:
    """Face id -> the person the confirmed faces near it clearly point to, if any.

    Neighbours within the match threshold vote for their person. The suggested
    person must

    - have the most votes, and their nearest face be nearer by
      ``FACE_SUGGEST_MARGIN`` than any other person's among the neighbours;
    - be supported as a whole: at least ``FACE_SUGGEST_MIN_SUPPORT`` of their
      confirmed faces within the threshold, or the face within it of the centre
      of all their confirmed faces (for a person with one confirmed face, that
      face). One borderline neighbour of a person with many faces is not
      enough: that is how a review drifts to a look-alike;
    - be near, not only within reach: their nearest face or their centre within
      the stricter grouping distance. Among many people a stranger lies within
      the threshold of several faces of someone (at a million faces, a face
      0.082 to 0.089 from five faces of a person and 0.081 from their centre;
      the generator puts a person's own faces a median 0.020 from the centre of
      17 of them, 0.056 at the 99.9th percentile);
    - be the nearest: no face of another person (an unnamed group's too, but not
      the face's own group) among its nearest of any status nearer by the margin
      than their nearest confirmed one (``_withdraw_nearer_someone_else``).

    Faces on the same photo never vote (one person is not twice on a photo),
    and people the face was rejected for are skipped. Only tags the photo's owner
    may see count, centre included: a name given in a private album stays there.
    Three queries for each photo owner and model among ``faces``, however many
    faces: their confirmed neighbours, the centres of the people who need one (few:
    a face of someone known is most often near one of their faces), and the
    neighbours of any status of the faces with a suggestion.
    (Loads each photo's album and owner unless selected with the faces.)
    """
    batches: dict[tuple[int, str], list[Face]] = defaultdict(list)
    for face in faces:
        batches[(face.photo.album.owner_id, face.model_name)].append(face)
    found: dict[int, Suggestion | None] = {}
    for (_, model_name), batch in batches.items():
        owner = batch[0].photo.album.owner
        threshold, strict = match_threshold(model_name), cluster_max_distance(model_name)
        near = vectors.confirmed_near_each(
            faces=batch, model_name=model_name, limit=settings.FACE_SUGGEST_NEIGHBOURS, seen_by=owner
        )
        votes = {face.pk: _vote(near[face.pk], threshold) for face in batch}
        # The centre is read only for the votes that do not stand without it.
        asked = {vote[0] for vote in votes.values() if vote and not _stands(vote[1], None, threshold, strict)}
        centres = (
            vectors.people_centres(person_ids=asked, model_name=model_name, seen_by=owner) if asked else {}
        )
        for face in batch:
            found[face.pk] = None
            if votes[face.pk] is None:
                continue
            person_id, best = votes[face.pk]
            centre = centres.get(person_id)
            to_centre = None if centre is None else _distance(face.embedding, centre)
            if _stands(best, to_centre, threshold, strict):
                found[face.pk] = Suggestion(person_id=person_id, distance=min(best))
        _withdraw_nearer_someone_else(batch, found, model_name)
    return found


def _withdraw_nearer_someone_else(batch: list[Face], found: dict, model_name: str) -> None:
    """Take back the suggestions of faces with a face of someone else among their
    ``FACE_SUGGEST_NEIGHBOURS`` nearest of any status nearer, by ``FACE_SUGGEST_MARGIN``,
    than the suggested person's nearest confirmed face: grouping decides for them.
    One query for the faces with a suggestion.

    Confirmed faces vote, but someone photographed often and not named yet is only
    an unnamed group: asked only among confirmed faces, new faces 0.016, 0.039 and
    0.039 from faces of their own groups (of 56, 5 and 2 faces) were named after
    look-alikes 0.074 to 0.077 away (`benchmark matching` at 100,000 and 1,000,000
    faces). The face's own group is not someone else: naming one face of a group
    leaves the others nearer to each other than to the named one (0.028 against
    0.046 on the portraits of ``../shared/faces``), and the suggestion is what moves
    them to the named person. Any face counts here, as in grouping: this evidence
    withholds a name and never gives one.

    A face within half the grouping distance of a confirmed face of the person is
    not asked about: someone else's faces nearer still would leave the two people
    apart by less than any two measured here, and the search costs about 2.4 ms a
    face at a million faces (84% of the suggestions at 100,000 were that near).
    """
    near_one = cluster_max_distance(model_name) / 2
    suggested = [face for face in batch if (s := found[face.pk]) is not None and s.distance > near_one]
    if not suggested:
        return
    near, _ = vectors.near_each(
        face_ids=[face.pk for face in suggested],
        model_name=model_name,
        limit=settings.FACE_SUGGEST_NEIGHBOURS,
    )
    for face in suggested:
        suggestion = found[face.pk]
        ours = (None, suggestion.person_id, face.person_id)
        if any(
            n.person_id not in ours
            and n.photo_id != face.photo_id
            and n.distance + settings.FACE_SUGGEST_MARGIN < suggestion.distance
            for n in near[face.pk]
        ):
            found[face.pk] = None


def _stands(best: list[float], to_centre: float | None, threshold: float, strict: float) -> bool:
    """Whether a vote (its faces' distances, and the face's distance to the person's
    centre when read) carries a suggestion: supported (``FACE_SUGGEST_MIN_SUPPORT``
    faces or the centre within the threshold) and near (a face or the centre within
    the grouping distance)."""
    centre = float("inf") if to_centre is None else to_centre
    supported = len(best) >= settings.FACE_SUGGEST_MIN_SUPPORT or centre <= threshold
    return supported and (min(best) <= strict or centre <= strict)


def _vote(neighbours: list[selectors.Neighbour], threshold: float) -> tuple[int, list[float]] | None:
    """The person with the most neighbours within ``threshold`` and their distances, or
    None when nobody is near or the nearest of another person is too close to call."""
    votes: dict[int, list[float]] = defaultdict(list)
    nearest: dict[int, float] = {}
    for neighbour in neighbours:
        nearest.setdefault(neighbour.person_id, neighbour.distance)
        if neighbour.distance <= threshold:
            votes[neighbour.person_id].append(neighbour.distance)
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda item: (-len(item[1]), min(item[1])))
    best_person, best = ranked[0]
    runner_up = min((d for person, d in nearest.items() if person != best_person), default=None)
    if runner_up is not None and runner_up - min(best) < settings.FACE_SUGGEST_MARGIN:
        return None  # too close to call: better no suggestion than a wrong one
    return best_person, best


def suggestion_for(*, face: Face) -> Suggestion | None:
    """``suggestions_for`` one face."""
    return suggestions_for(faces=[face])[face.pk]


def faces_suggest(*, faces: Iterable[Face]) -> set[int]:
    """Refresh the suggestions of unconfirmed faces. Returns the ids of those that now
    have a named suggestion. A constant number of queries for the batch."""
    faces = [face for face in faces if face.status != Face.Status.CONFIRMED and face.embedding is not None]
    if not faces:
        return set()
    suggestions = suggestions_for(faces=faces)
    suggested = _assign(
        [(face, s.person_id, s.distance) for face in faces if (s := suggestions.get(face.pk)) is not None]
    )
    # Named suggestions whose evidence is gone (a tag was undone or rejected) are withdrawn.
    stale = [f for f in faces if f.pk not in suggested and f.status == Face.Status.SUGGESTED and f.person_id]
    if stale:
        named = set(
            Person.objects.filter(pk__in={f.person_id for f in stale})
            .exclude(name="")
            .values_list("pk", flat=True)
        )
        gone = [face for face in stale if face.person_id in named]
        if gone:
            Face.objects.filter(pk__in=[face.pk for face in gone], status=Face.Status.SUGGESTED).update(
                person=None, status=Face.Status.UNASSIGNED, distance=None
            )
            for face in gone:
                face.person_id, face.status, face.distance = None, Face.Status.UNASSIGNED, None
    return suggested


def face_suggest(*, face: Face) -> bool:
    """Refresh the suggestion of one unconfirmed face. Returns True if it now has a named suggestion."""
    return face.pk in faces_suggest(faces=[face])


def _assign(suggestions: list[tuple[Face, int, float]]) -> set[int]:
    """Suggest each (face, person, distance), unless a member confirmed the face
    meanwhile or the person was deleted or merged away since the neighbours were
    read. Returns the ids of the faces suggested.

    The person rows are locked for the update (in id order, so two workers never
    wait on each other), so a concurrent deletion either waits for this
    assignment (and then untags the face) or has already happened (and nothing
    is assigned). One write for the batch.
    """
    if not suggestions:
        return set()
    with transaction.atomic():
        alive = set(
            Person.objects.select_for_update()
            .filter(pk__in={person_id for _, person_id, _ in suggestions})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        wanted = [item for item in suggestions if item[1] in alive]
        if not wanted:
            return set()
        open_ids = set(
            Face.objects.select_for_update()
            .filter(pk__in=[face.pk for face, _, _ in wanted])
            .exclude(status=Face.Status.CONFIRMED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        changed = []
        for face, person_id, distance in wanted:
            if face.pk in open_ids:
                face.person_id, face.status, face.distance = person_id, Face.Status.SUGGESTED, distance
                changed.append(face)
        Face.objects.bulk_update(changed, ["person", "status", "distance"])
    return {face.pk for face in changed}


def _group_lock() -> None:
    """Serialise grouping across workers: two workers seeing the same new person
    at once would otherwise each start a group for them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('photosite.face_group'))")


def faces_recognize(*, face_ids: Iterable[int]) -> None:
    """Suggest people for new faces, then group the rest; non-core faces are
    retried once after the others of the batch (and again by the nightly pass)."""
    _recognize(Face.objects.filter(pk__in=list(face_ids)))


def photo_recognize(*, photo_id: int) -> None:
    """Suggest and group the faces found on one photo (after ``photo_process``)."""
    _recognize(Face.objects.filter(photo_id=photo_id))


def _recognize(faces: QuerySet[Face]) -> None:
    if not settings.FACE_RECOGNITION_ENABLED:
        return
    faces = list(faces.exclude(status=Face.Status.CONFIRMED).select_related("photo__album__owner"))
    held = {face.person_id for face in faces if face.person_id is not None}
    suggested = faces_suggest(faces=faces)
    unknown = [face for face in faces if face.pk not in suggested]
    if unknown:
        # One short transaction for the batch (a photo's faces): one lock, one commit.
        with transaction.atomic():
            _group_lock()
            faces_group(faces=unknown)
    # A suggestion may have taken a face out of the unnamed group it was in.
    unnamed_groups_prune(person_ids=held)


def faces_group_pending(*, limit: int = 10_000) -> int:
    """The nightly pass: try grouping every face still unassigned. Returns how many joined a group."""
    ids = list(
        Face.objects.filter(status=Face.Status.UNASSIGNED, embedding__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    grouped = 0
    for face in Face.objects.filter(pk__in=ids).select_related("photo__album__owner"):
        if face_suggest(face=face):
            continue
        with transaction.atomic():
            _group_lock()
            grouped += face_group(face=face)
    unnamed_groups_prune()
    return grouped


def faces_refresh_near(*, face: Face | None = None, faces: Iterable[Face] = ()) -> int:
    """After a member tagged or rejected faces: refresh the suggestions of the
    unconfirmed faces near them (one bounded neighbour query per face, not a
    full pass). Each neighbour is judged once, however many of the given faces
    it is near: confirming 200 faces at once costs 200 queries, not 200 passes."""
    given = [face] if face is not None else list(faces)
    given_ids = {f.pk for f in given}
    ids: set[int] = set()
    for changed in given:
        if changed.embedding is None:
            continue
        threshold = match_threshold(changed.model_name)
        near = selectors.faces_unconfirmed_near(
            embedding=changed.embedding,
            model_name=changed.model_name,
            limit=settings.FACE_SUGGEST_NEIGHBOURS * 5,
        )
        ids.update(n.face_id for n in near if n.distance <= threshold)
    others = list(Face.objects.filter(pk__in=ids - given_ids).select_related("photo__album__owner"))
    held = {face.person_id for face in others if face.person_id is not None}
    refreshed = len(faces_suggest(faces=others))
    unnamed_groups_prune(person_ids=held)
    return refreshed


def recluster(*, model_name: str | None = None) -> int:
    """Group unknown faces from scratch: unnamed groups are dissolved and rebuilt.

    Confirmed tags and suggestions of named people are left alone.
    """
    model_name = model_name or settings.FACE_MODEL
    with transaction.atomic():
        Face.objects.filter(
            model_name=model_name, status=Face.Status.SUGGESTED, person__name="", person__user__isnull=True
        ).update(person=None, status=Face.Status.UNASSIGNED, distance=None)
        unnamed_groups_prune()
    ids = Face.objects.filter(model_name=model_name, status=Face.Status.UNASSIGNED).values_list(
        "pk", flat=True
    )
    faces_recognize(face_ids=list(ids))
    return Person.objects.filter(name="", faces__isnull=False).distinct().count()
