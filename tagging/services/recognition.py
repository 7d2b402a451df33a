"""Recognition: suggest known people for new faces and group unknown ones.

All distance work runs in PostgreSQL (see ``tagging.selectors``). Two rules hold
everywhere here: a confirmed tag is never changed by the machine, and a
suggestion never becomes a confirmed tag without a member's action.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from tagging import selectors
from tagging.models import Face, FaceRejection, Person

logger = logging.getLogger(__name__)


# Thresholds measured here (``manage.py evaluate``), for embeddings of dlib's own
# face chip (see tagging.faces.engine). Dlib: deepface publishes 0.07 (cosine);
# dlib's documented tolerance, 0.6 Euclidean on its unit-length vectors, is 0.18.
# On shared/faces and the single-person photos of shared/faces-extra (25 photos,
# 8 people, 300 pairs) same-person pairs reach 0.068 and different people start
# at 0.108 (0.119 within shared/faces; with deepface's own alignment the two
# were 0.081 and 0.095). 0.09 sits in that gap, a little nearer the same-person
# side: a suggestion is only shown, never saved without a member.
CALIBRATED_THRESHOLDS = {"Dlib": 0.09}

# Grouping is stricter: a group is named in one go, and one that mixes two
# people is the hardest thing for a member to repair, while two groups of one
# person merge in one action. 0.075 keeps every same-person pair measured above
# within reach (0.068 at most) and stays 0.033 under the nearest different people.
CALIBRATED_GROUPING = {"Dlib": 0.075}


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
    """Cosine distance for grouping unknown faces: stricter than the match threshold,
    since a group is named in one go and a mixed group is the hardest thing to repair."""
    if settings.FACE_CLUSTER_MAX_DISTANCE is not None:
        return settings.FACE_CLUSTER_MAX_DISTANCE
    model_name = model_name or settings.FACE_MODEL
    if model_name in CALIBRATED_GROUPING:
        return CALIBRATED_GROUPING[model_name]
    return match_threshold(model_name) * 0.85


@dataclass(frozen=True)
class Suggestion:
    person_id: int
    distance: float


def suggestion_for(*, face: Face) -> Suggestion | None:
    """The person the confirmed faces near ``face`` clearly point to, if any.

    Neighbours within the match threshold vote for their person. The suggested
    person must

    - be supported as a whole: at least ``FACE_SUGGEST_MIN_SUPPORT`` of their
      confirmed faces within the threshold, or the face within the threshold of
      the centre of all their confirmed faces (for a person with one confirmed
      face, that face). One borderline neighbour of a person with many faces is
      not enough: that is how a review drifts to a look-alike;
    - have the most votes, and their nearest face be nearer by
      ``FACE_SUGGEST_MARGIN`` than any other person's among the neighbours.

    Faces on the same photo never vote (one person is not twice on a photo),
    and people the face was rejected for are skipped. Only tags the photo's owner
    may see count, centre included: a name given in a private album stays there.
    (Loads the photo's album and owner unless selected with the face.)
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
    if len(best) < settings.FACE_SUGGEST_MIN_SUPPORT:
        centre = selectors.person_centre(
            person_id=best_person, model_name=face.model_name, seen_by=face.photo.album.owner
        )
        if centre is None or _distance(face.embedding, centre) > threshold:
            return None
    return Suggestion(person_id=best_person, distance=min(best))


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


def group_centre(*, person_id: int) -> np.ndarray | None:
    """The unit-length mean of a group's embeddings (one ``avg`` in PostgreSQL):
    what a face must be near to join it."""
    model_name = (
        Face.objects.filter(person_id=person_id, embedding__isnull=False)
        .values_list("model_name", flat=True)
        .first()
    )
    if model_name is None:
        return None
    centre = selectors.person_centre(person_id=person_id, model_name=model_name, confirmed_only=False)
    if centre is None:
        return None
    centre = np.asarray(centre, dtype=np.float64)
    return centre / (np.linalg.norm(centre) or 1.0)


def _distance(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(1 - a @ b / ((np.linalg.norm(a) * np.linalg.norm(b)) or 1.0))


def _group_photos(person_id: int) -> set[int]:
    return set(Face.objects.filter(person_id=person_id).values_list("photo_id", flat=True))


def face_group(*, face: Face) -> bool:
    """Incremental density grouping for one face with no named suggestion, guarded against chaining.

    A face needs at least ``FACE_CLUSTER_MIN_FACES`` faces (itself included)
    within the grouping distance (``cluster_max_distance``, stricter than the
    match threshold). It joins an unnamed group only when it is within that
    distance of the group's centre, or of ``FACE_CLUSTER_MIN_SUPPORT`` of its
    members and within the match threshold of its centre: one borderline
    neighbour is never enough, so two look-alikes do not chain into one group.
    Of several such groups it joins the one with the nearest centre, and a group
    never holds two faces of one photo. Ungrouped neighbours then join by the
    same centre rule, and unnamed groups whose centres came within the grouping
    distance merge. Otherwise a face with ungrouped neighbours starts a group
    with them.

    Returns True only when the face joined a group (one it found or started);
    False when it did not: not dense enough yet (retried later), nothing to
    group (not unassigned, or no embedding), or its group deleted meanwhile.
    """
    if face.status != Face.Status.UNASSIGNED or face.embedding is None:
        return False
    max_distance = cluster_max_distance(face.model_name)
    neighbours = [
        n
        for n in selectors.faces_near(
            embedding=face.embedding,
            model_name=face.model_name,
            limit=max(settings.FACE_CLUSTER_MIN_FACES * 2, 20),
            exclude_face_id=face.pk,
        )
        if n.distance <= max_distance and n.photo_id != face.photo_id
    ]
    if len(neighbours) + 1 < settings.FACE_CLUSTER_MIN_FACES:
        return False
    support: dict[int, int] = defaultdict(int)
    for n in neighbours:
        if n.person_id is not None and not n.person_named:
            support[n.person_id] += 1
    loose = match_threshold(face.model_name)
    candidates = []
    for person_id, count in support.items():
        centre = group_centre(person_id=person_id)
        if centre is None or face.photo_id in _group_photos(person_id):
            continue
        distance = _distance(face.embedding, centre)
        if distance <= max_distance or (count >= settings.FACE_CLUSTER_MIN_SUPPORT and distance <= loose):
            candidates.append((distance, person_id))
    ungrouped = [n for n in neighbours if n.person_id is None and n.status == Face.Status.UNASSIGNED]
    if candidates:
        distance, person_id = min(candidates)
    elif ungrouped:
        person_id, distance = Person.objects.create().pk, ungrouped[0].distance
    else:
        return False  # near groups, but not close enough to any: wait for more photos
    if not _assign(face, person_id, distance):
        return False  # the group was deleted meanwhile; the face waits for the next pass
    _group_expand(person_id=person_id, ungrouped=ungrouped, max_distance=max_distance)
    _groups_merge_near(person_id=person_id, others=[pid for _, pid in candidates if pid != person_id])
    return True


def _group_expand(*, person_id: int, ungrouped: list, max_distance: float) -> None:
    """Ungrouped neighbours join, nearest first, while each is near the group's centre."""
    photos = _group_photos(person_id)
    centre = group_centre(person_id=person_id)
    for neighbour in ungrouped:
        if neighbour.photo_id in photos or centre is None:
            continue
        embedding = Face.objects.filter(pk=neighbour.face_id).values_list("embedding", flat=True).first()
        if embedding is None:
            continue
        distance = _distance(embedding, centre)
        if distance > max_distance:
            continue
        joined = Face.objects.filter(pk=neighbour.face_id, status=Face.Status.UNASSIGNED).update(
            person_id=person_id, status=Face.Status.SUGGESTED, distance=distance
        )
        if joined:
            photos.add(neighbour.photo_id)
            centre = group_centre(person_id=person_id)


def _groups_merge_near(*, person_id: int, others: list[int]) -> None:
    """Merge unnamed groups into ``person_id`` when their centres are within the grouping
    distance and they share no photo; the larger group's row is kept."""
    for other in others:
        keep = Person.objects.filter(pk=person_id, name="", user__isnull=True).first()
        gone = Person.objects.filter(pk=other, name="", user__isnull=True).first()
        if keep is None or gone is None:
            continue
        a, b = group_centre(person_id=keep.pk), group_centre(person_id=gone.pk)
        model_name = Face.objects.filter(person_id=keep.pk).values_list("model_name", flat=True).first()
        if a is None or b is None or _distance(a, b) > cluster_max_distance(model_name):
            continue
        if _group_photos(keep.pk) & _group_photos(gone.pk):
            continue
        Face.objects.filter(person_id=gone.pk, status=Face.Status.SUGGESTED).update(person_id=keep.pk)
    unnamed_groups_prune()


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
        # A face that did not join is tried once more, after the others of the
        # batch may have made it dense enough; for a face with nothing to group
        # the second call returns at once.
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
