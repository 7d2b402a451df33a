"""Recognition: suggest known people for new faces and group unknown ones.

All distance work runs in PostgreSQL (see ``tagging.selectors``). Two rules hold
everywhere here: a confirmed tag is never changed by the machine, and a
suggestion never becomes a confirmed tag without a member's action.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from tagging import selectors
from tagging.models import Face, FaceRejection, Person

logger = logging.getLogger(__name__)


# Thresholds measured here, where deepface's published one proved too strict.
# Dlib: deepface publishes 0.07 (cosine); dlib's own documented tolerance, 0.6
# Euclidean on its unit-length vectors, is 0.18. On shared/faces same-person
# pairs reach 0.081 and different people start at 0.095 (two look-alikes from
# one production), so 0.085 keeps every different pair out and lets almost all
# same-person pairs in. `manage.py evaluate` re-measures it on any labelled folder.
CALIBRATED_THRESHOLDS = {"Dlib": 0.085}


def match_threshold(model_name: str | None = None) -> float:
    """Cosine distance under which two faces of ``model_name`` are the same person.

    ``FACE_MATCH_THRESHOLD`` when set; else the calibrated value above; else
    deepface's published threshold for the model and the cosine metric.
    """
    if settings.FACE_MATCH_THRESHOLD is not None:
        return settings.FACE_MATCH_THRESHOLD
    model_name = model_name or settings.FACE_MODEL
    if model_name in CALIBRATED_THRESHOLDS:
        return CALIBRATED_THRESHOLDS[model_name]
    from deepface.modules.verification import find_threshold

    return float(find_threshold(model_name, "cosine"))


def cluster_max_distance(model_name: str | None = None) -> float:
    if settings.FACE_CLUSTER_MAX_DISTANCE is not None:
        return settings.FACE_CLUSTER_MAX_DISTANCE
    return match_threshold(model_name)


@dataclass(frozen=True)
class Suggestion:
    person_id: int
    distance: float
    votes: int


def suggestion_for(*, face: Face) -> Suggestion | None:
    """The person best supported by the confirmed faces near ``face``, if any clearly is.

    Neighbours within the match threshold vote for their person; most votes
    wins, then the nearest face. With equal votes the winner must be nearer by
    ``FACE_SUGGEST_MARGIN``. Faces on the same photo never vote (one person is
    not twice on a photo), and people the face was rejected for are skipped.
    Only tags the photo's owner may see vote: a name given in a private album
    stays there. (Loads the photo's album and owner unless selected with the face.)
    """
    rejected = FaceRejection.objects.filter(face=face).values_list("person_id", flat=True)
    neighbours = selectors.faces_confirmed_near(
        embedding=face.embedding,
        model_name=face.model_name,
        limit=settings.FACE_SUGGEST_NEIGHBOURS,
        seen_by=face.photo.album.owner,
        exclude_photo_id=face.photo_id,
        exclude_person_ids=list(rejected),
    )
    threshold = match_threshold(face.model_name)
    votes: dict[int, list[float]] = defaultdict(list)
    for neighbour in neighbours:
        if neighbour.distance <= threshold:
            votes[neighbour.person_id].append(neighbour.distance)
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda item: (-len(item[1]), min(item[1])))
    best_person, best = ranked[0]
    if len(ranked) > 1:
        runner = ranked[1][1]
        if len(runner) == len(best) and min(runner) - min(best) < settings.FACE_SUGGEST_MARGIN:
            return None  # too close to call: better no suggestion than a wrong one
    return Suggestion(person_id=best_person, distance=min(best), votes=len(best))


def face_suggest(*, face: Face) -> bool:
    """Refresh the suggestion of one unconfirmed face. Returns True if it now has a named suggestion."""
    if face.status == Face.Status.CONFIRMED or face.embedding is None:
        return False
    suggestion = suggestion_for(face=face)
    if suggestion is not None and _assign(face, suggestion.person_id, suggestion.distance):
        return True
    if face.status == Face.Status.SUGGESTED and face.person_id and _is_named(face.person_id):
        # The evidence for this named suggestion is gone (a tag was undone or rejected).
        Face.objects.filter(pk=face.pk, status=Face.Status.SUGGESTED).update(
            person=None, status=Face.Status.UNASSIGNED, distance=None
        )
        face.person_id, face.status, face.distance = None, Face.Status.UNASSIGNED, None
    return False


def _assign(face: Face, person_id: int, distance: float) -> bool:
    """Suggest ``person_id`` for ``face`` unless a member confirmed the face meanwhile
    or the person was deleted or merged away since the neighbours were read.

    The person row is locked for the update, so a concurrent deletion either
    waits for this assignment (and then untags the face) or has already
    happened (and nothing is assigned).
    """
    with transaction.atomic():
        if not Person.objects.select_for_update().filter(pk=person_id).exists():
            return False
        updated = (
            Face.objects.filter(pk=face.pk)
            .exclude(status=Face.Status.CONFIRMED)
            .update(person_id=person_id, status=Face.Status.SUGGESTED, distance=distance)
        )
    if updated:
        face.person_id, face.status, face.distance = person_id, Face.Status.SUGGESTED, distance
    return bool(updated)


def _is_named(person_id: int) -> bool:
    return Person.objects.filter(pk=person_id).exclude(name="").exists()


def face_group(*, face: Face) -> bool:
    """Incremental DBSCAN step for one face with no named suggestion.

    A *core* face has at least ``FACE_CLUSTER_MIN_FACES`` faces (itself
    included) within ``cluster_max_distance``. It joins the unnamed group of
    its nearest grouped neighbour, or starts a new unnamed person, and takes its
    ungrouped neighbours along. Returns False for a face that is not core yet
    (to be retried later).
    """
    if face.status != Face.Status.UNASSIGNED or face.embedding is None:
        return True
    max_distance = cluster_max_distance(face.model_name)
    neighbours = [
        n
        for n in selectors.faces_near(
            embedding=face.embedding,
            model_name=face.model_name,
            limit=max(settings.FACE_CLUSTER_MIN_FACES * 2, 10),
            exclude_face_id=face.pk,
        )
        if n.distance <= max_distance and n.photo_id != face.photo_id
    ]
    if len(neighbours) + 1 < settings.FACE_CLUSTER_MIN_FACES:
        return False
    group = next((n for n in neighbours if n.person_id is not None and not n.person_named), None)
    if group is not None:
        person_id, distance = group.person_id, group.distance
    else:
        person_id, distance = Person.objects.create().pk, neighbours[0].distance if neighbours else 0.0
    if not _assign(face, person_id, distance):
        return True  # the group was deleted meanwhile; the face waits for the next pass
    # DBSCAN's expansion: ungrouped faces within reach of a core face belong to
    # its group, even if they were not dense enough on their own when they came.
    for neighbour in neighbours:
        if neighbour.person_id is None:
            Face.objects.filter(pk=neighbour.face_id, status=Face.Status.UNASSIGNED).update(
                person_id=person_id, status=Face.Status.SUGGESTED, distance=neighbour.distance
            )
    return True


def _group_lock() -> None:
    """Serialise grouping across workers: two workers seeing the same new person
    at once would otherwise each start a group for them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('photosite.face_group'))")


def faces_recognize(*, face_ids: Iterable[int]) -> None:
    """Suggest people for new faces, then group the rest; non-core faces are
    retried once after the others of the batch (and again by the nightly pass)."""
    if not settings.FACE_RECOGNITION_ENABLED:
        return
    faces = list(
        Face.objects.filter(pk__in=list(face_ids))
        .exclude(status=Face.Status.CONFIRMED)
        .select_related("photo__album__owner")
    )
    unknown = [face for face in faces if not face_suggest(face=face)]
    if not unknown:
        return
    # One short transaction for the batch (a photo's faces): one lock, one commit.
    with transaction.atomic():
        _group_lock()
        deferred = [face for face in unknown if not face_group(face=face)]
        for face in deferred:
            face_group(face=face)


def photo_recognize(*, photo_id: int) -> None:
    """Suggest and group the faces found on one photo (after ``photo_process``)."""
    ids = (
        Face.objects.filter(photo_id=photo_id)
        .exclude(status=Face.Status.CONFIRMED)
        .values_list("pk", flat=True)
    )
    faces_recognize(face_ids=list(ids))


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
            grouped += face_group(face=face) and face.status == Face.Status.SUGGESTED
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
    refreshed = 0
    for other in Face.objects.filter(pk__in=ids - given_ids).select_related("photo__album__owner"):
        refreshed += face_suggest(face=other)
    unnamed_groups_prune()
    return refreshed


def unnamed_groups_prune() -> int:
    """Delete unnamed groups that no face belongs to any more."""
    deleted, _ = Person.objects.filter(name="", user__isnull=True, faces__isnull=True).delete()
    return deleted


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
