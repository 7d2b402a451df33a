"""Grouping unknown faces: an incremental density clustering guarded against chaining.

A batch of faces (a photo's, or a re-clustering's) is grouped in one pass
under the grouping lock (``recognition.faces_recognize``). The neighbours of
all its faces are read in one query before the pass; what the pass itself
changes (faces joining groups, groups merging) is kept beside them, so each
face is judged on the groups as they are at its turn, as when every face read
its neighbours afresh (8.5 queries per face then, see ``tagging.vectors``).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
from django.conf import settings
from django.db import transaction

from tagging import vectors
from tagging.models import Face, Person
from tagging.services.thresholds import cluster_max_distance, match_threshold
from tagging.vectors import Neighbour


def distance(a, b) -> float:
    """Cosine distance of two vectors of any length."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(1 - a @ b / ((np.linalg.norm(a) * np.linalg.norm(b)) or 1.0))


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
    centre = vectors.person_centre(person_id=person_id, model_name=model_name, confirmed_only=False)
    if centre is None:
        return None
    centre = np.asarray(centre, dtype=np.float64)
    return centre / (np.linalg.norm(centre) or 1.0)


class _Pass:
    """One grouping pass over a batch: the neighbours of its faces, read once, and
    the changes the pass made since, which ``current`` lays over them."""

    def __init__(self, faces: Iterable[Face]):
        by_model: dict[str, list[int]] = defaultdict(list)
        for face in faces:
            if face.status == Face.Status.UNASSIGNED and face.embedding is not None:
                by_model[face.model_name].append(face.pk)
        self.neighbours: dict[int, list[Neighbour]] = {}
        self.embeddings: dict[int, list] = {}
        limit = max(settings.FACE_CLUSTER_MIN_FACES * 2, 20)
        for model_name, ids in by_model.items():
            found, embeddings = vectors.near_each(face_ids=ids, model_name=model_name, limit=limit)
            self.neighbours.update(found)
            self.embeddings.update(embeddings)
        self.joined: dict[int, int] = {}  # face -> the group it joined in this pass
        self.merged: dict[int, int] = {}  # unnamed group -> the group it was merged into

    def current(self, neighbour: Neighbour) -> Neighbour:
        person_id, status = neighbour.person_id, neighbour.status
        if neighbour.face_id in self.joined:
            person_id, status = self.joined[neighbour.face_id], Face.Status.SUGGESTED
        while status == Face.Status.SUGGESTED and person_id in self.merged:
            person_id = self.merged[person_id]
        if person_id == neighbour.person_id:
            return neighbour
        # Groups joined or merged into in this pass are unnamed ones.
        return replace(neighbour, person_id=person_id, status=status, person_named=False)

    def group(self, face: Face) -> bool:
        """Group one face of the batch; see ``face_group``."""
        if face.status != Face.Status.UNASSIGNED or face.embedding is None:
            return False
        max_distance = cluster_max_distance(face.model_name)
        neighbours = [
            self.current(n)
            for n in self.neighbours.get(face.pk, [])
            if n.distance <= max_distance and n.photo_id != face.photo_id
        ]
        if len(neighbours) + 1 < settings.FACE_CLUSTER_MIN_FACES:
            return False
        support: dict[int, int] = defaultdict(int)
        for n in neighbours:
            if n.person_id is not None and not n.person_named:
                support[n.person_id] += 1
        loose = match_threshold(face.model_name)
        outline = vectors.groups_outline(person_ids=support, model_name=face.model_name) if support else {}
        candidates = []
        for person_id, count in support.items():
            centre, photos = outline[person_id]
            if centre is None or face.photo_id in photos:
                continue
            d = distance(face.embedding, centre)
            if d <= max_distance or (count >= settings.FACE_CLUSTER_MIN_SUPPORT and d <= loose):
                candidates.append((d, person_id))
        ungrouped = [n for n in neighbours if n.person_id is None and n.status == Face.Status.UNASSIGNED]
        if candidates:
            d, person_id = min(candidates)
            photos = outline[person_id][1]
            joined = _join_existing(face, person_id, d)
        elif ungrouped:
            person_id, d, photos = Person.objects.create().pk, ungrouped[0].distance, set()
            joined = _join(face, person_id, d)
        else:
            return False  # near groups, but not close enough to any: wait for more photos
        if not joined:
            return False  # the group was deleted or the face confirmed meanwhile: the next pass sees
        self.joined[face.pk] = person_id
        self._expand(face, person_id=person_id, ungrouped=ungrouped, photos={*photos, face.photo_id})
        self._merge_near(face, person_id=person_id, others=[pid for _, pid in candidates if pid != person_id])
        return True

    def _expand(self, face: Face, *, person_id: int, ungrouped: list[Neighbour], photos: set[int]) -> None:
        """Ungrouped neighbours join, nearest first, while each is near the group's centre."""
        max_distance = cluster_max_distance(face.model_name)
        centre = None  # read when first needed, and again after each face joined
        for neighbour in ungrouped:
            if neighbour.photo_id in photos:
                continue
            embedding = self.embeddings.get(neighbour.face_id)
            if embedding is None:
                continue
            if centre is None:
                centre = vectors.person_centre(
                    person_id=person_id, model_name=face.model_name, confirmed_only=False
                )
                if centre is None:
                    return
            d = distance(embedding, centre)
            if d > max_distance:
                continue
            joined = Face.objects.filter(pk=neighbour.face_id, status=Face.Status.UNASSIGNED).update(
                person_id=person_id, status=Face.Status.SUGGESTED, distance=d
            )
            if joined:
                photos.add(neighbour.photo_id)
                self.joined[neighbour.face_id] = person_id
                centre = None

    def _merge_near(self, face: Face, *, person_id: int, others: list[int]) -> None:
        """Merge unnamed groups into ``person_id`` when their centres are within the grouping
        distance and they share no photo."""
        if not others:
            return
        unnamed = set(
            Person.objects.filter(pk__in=[person_id, *others], name="", user__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if person_id not in unnamed:
            return
        max_distance = cluster_max_distance(face.model_name)
        for other in others:
            if other not in unnamed:
                continue
            outline = vectors.groups_outline(person_ids=[person_id, other], model_name=face.model_name)
            (a, kept_photos), (b, gone_photos) = outline[person_id], outline[other]
            if a is None or b is None or distance(a, b) > max_distance or kept_photos & gone_photos:
                continue
            Face.objects.filter(person_id=other, status=Face.Status.SUGGESTED).update(person_id=person_id)
            self.merged[other] = person_id


def _join(face: Face, person_id: int, d: float) -> bool:
    """Suggest the group ``person_id`` for ``face`` unless a member confirmed the face meanwhile."""
    updated = (
        Face.objects.filter(pk=face.pk)
        .exclude(status=Face.Status.CONFIRMED)
        .update(person_id=person_id, status=Face.Status.SUGGESTED, distance=d)
    )
    if updated:
        face.person_id, face.status, face.distance = person_id, Face.Status.SUGGESTED, d
    return bool(updated)


def _join_existing(face: Face, person_id: int, d: float) -> bool:
    """``_join`` for a group that existed before this pass: its row is locked for the
    update, so a concurrent deletion either waits for this (and then untags the
    face) or has already happened (and nothing is joined)."""
    if not Person.objects.select_for_update().filter(pk=person_id).exists():
        return False
    return _join(face, person_id, d)


def faces_group(*, faces: Iterable[Face]) -> None:
    """Group a batch of faces with no named suggestion, in one pass (see ``face_group``);
    faces not dense enough are tried once more after the others. Run it under the
    grouping lock."""
    faces = list(faces)
    with transaction.atomic(savepoint=False):
        grouping = _Pass(faces)
        deferred = [face for face in faces if not grouping.group(face)]
        for face in deferred:
            grouping.group(face)
    # Joining only adds faces to groups: the groups merged away are the only ones
    # the pass can have emptied.
    unnamed_groups_prune(person_ids=grouping.merged)


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
    with transaction.atomic():
        grouping = _Pass([face])
        grouped = grouping.group(face)
    unnamed_groups_prune(person_ids=grouping.merged)
    return grouped


def unnamed_groups_prune(*, person_ids: Iterable[int] | None = None) -> int:
    """Delete unnamed groups that no face belongs to any more: all of them, or those
    of ``person_ids`` (the groups a change may have emptied).

    The whole-library form reads every group against every face (42 ms at
    100,000 faces, `benchmark matching`), which after each photo was most of
    recognising it; recognition names the groups it touched.
    """
    groups = Person.objects.filter(name="", user__isnull=True, faces__isnull=True)
    if person_ids is not None:
        person_ids = list(person_ids)
        if not person_ids:
            return 0
        groups = groups.filter(pk__in=person_ids)
    deleted, _ = groups.delete()
    return deleted
