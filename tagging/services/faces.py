"""What members do with faces: confirm, reject, tag, untag, name a group.

Each action is one transaction that locks the face rows it changes, followed by
a bounded refresh of the suggestions near the face, so every tag a member
confirms improves the suggestions on other photos right away.
"""

from collections.abc import Iterable

from django.db import transaction

from tagging.models import Face, FaceRejection, Person
from tagging.services import recognition


class FaceActionError(Exception):
    """The action does not apply to the face in its current state (``str`` says why)."""


class NameTaken(FaceActionError):
    """Another person already has this name; they may be the same person."""

    def __init__(self, existing: Person):
        super().__init__(f"{existing.name} already exists")
        self.existing = existing


def _locked(face_id: int) -> Face:
    return Face.objects.select_for_update().get(pk=face_id)


def _cover_if_missing(person_id: int, face_id: int) -> None:
    Person.objects.filter(pk=person_id, cover_face__isnull=True).update(cover_face_id=face_id)


def face_confirm(*, face: Face) -> Face:
    """Confirm the suggestion on ``face``."""
    with transaction.atomic():
        face = _locked(face.pk)
        if face.status != Face.Status.SUGGESTED:
            raise FaceActionError("this face has no suggestion to confirm")
        face.status, face.distance = Face.Status.CONFIRMED, None
        face.save(update_fields=["status", "distance", "updated_at"])
        _cover_if_missing(face.person_id, face.pk)
    recognition.faces_refresh_near(face=face)
    return face


def face_reject(*, face: Face, user=None) -> Face:
    """ "Not this person": remember it, and look for another suggestion."""
    with transaction.atomic():
        face = _locked(face.pk)
        if face.status != Face.Status.SUGGESTED:
            raise FaceActionError("this face has no suggestion to reject")
        FaceRejection.objects.get_or_create(
            face=face, person_id=face.person_id, defaults={"rejected_by": user}
        )
        face.person, face.status, face.distance = None, Face.Status.UNASSIGNED, None
        face.save(update_fields=["person", "status", "distance", "updated_at"])
    recognition.face_suggest(face=face)
    recognition.unnamed_groups_prune()
    return face


def face_tag(*, face: Face, person: Person) -> Face:
    """Say who ``face`` is: a confirmed tag for an existing person."""
    if person.recognition_opt_out:
        raise FaceActionError(f"{person} has opted out of face recognition")
    with transaction.atomic():
        face = _locked(face.pk)
        face.person, face.status, face.distance = person, Face.Status.CONFIRMED, None
        face.save(update_fields=["person", "status", "distance", "updated_at"])
        # A member's own word overrides an earlier "not this person".
        FaceRejection.objects.filter(face=face, person=person).delete()
        _cover_if_missing(person.pk, face.pk)
    recognition.faces_refresh_near(face=face)
    recognition.unnamed_groups_prune()
    return face


def face_tag_new_person(*, face: Face, name: str) -> Face:
    """Tag ``face`` as a person who is not in the directory yet."""
    name = name.strip()
    if not name:
        raise FaceActionError("a name is needed")
    person = Person.objects.create(name=name)
    return face_tag(face=face, person=person)


def face_untag(*, face: Face) -> Face:
    """Undo a confirmed tag; the face is open to suggestions again."""
    with transaction.atomic():
        face = _locked(face.pk)
        if face.status != Face.Status.CONFIRMED:
            raise FaceActionError("this face is not tagged")
        person_id = face.person_id
        face.person, face.status, face.distance = None, Face.Status.UNASSIGNED, None
        face.save(update_fields=["person", "status", "distance", "updated_at"])
        Person.objects.filter(pk=person_id, cover_face=face).update(cover_face=None)
    # Faces suggested on the strength of this tag are re-judged without it.
    recognition.faces_refresh_near(face=face)
    recognition.face_suggest(face=face)
    return face


def faces_confirm_bulk(*, person: Person, face_ids: Iterable[int]) -> int:
    """Confirm many suggestions for one person at once (the review grid). Returns how many."""
    with transaction.atomic():
        faces = list(
            Face.objects.select_for_update().filter(
                pk__in=list(face_ids), person=person, status=Face.Status.SUGGESTED
            )
        )
        Face.objects.filter(pk__in=[f.pk for f in faces]).update(status=Face.Status.CONFIRMED, distance=None)
        if faces:
            _cover_if_missing(person.pk, faces[0].pk)
    for face in faces:
        face.status = Face.Status.CONFIRMED
    recognition.faces_refresh_near(faces=faces)
    return len(faces)


def faces_reject_bulk(*, person: Person, face_ids: Iterable[int], user=None) -> int:
    faces = Face.objects.filter(pk__in=list(face_ids), person=person, status=Face.Status.SUGGESTED)
    count = 0
    for face in faces:
        face_reject(face=face, user=user)
        count += 1
    return count


def person_name(
    *,
    person: Person,
    name: str,
    allow_duplicate: bool = False,
    confirm_only=None,
    include_hidden: bool = True,
    shown_face_ids: Iterable[int] | None = None,
    kept_face_ids: Iterable[int] = (),
    user=None,
) -> Person:
    """Name a group the system found; the faces the member kept become confirmed tags.

    ``shown_face_ids`` are the group's faces the naming form showed and
    ``kept_face_ids`` those the member left selected: only faces both shown and
    kept are confirmed, and faces shown but deselected leave the group ("not
    this person", remembered as a rejection). The group's faces the member did
    not see stay suggestions, now for the named person, to review. Without
    ``shown_face_ids`` (naming from elsewhere) every suggested face in
    ``confirm_only`` (a Face queryset: what the member may see) is confirmed.
    Raises :class:`NameTaken` when someone else already has the name, so the
    caller can offer a merge instead of creating a second person of that name
    (hidden people are only considered when ``include_hidden``).
    """
    name = name.strip()
    if not name:
        raise FaceActionError("a name is needed")
    others = Person.objects.filter(name__iexact=name).exclude(pk=person.pk)
    if not include_hidden:
        others = others.filter(hidden=False)
    existing = others.first()
    if existing is not None and not allow_duplicate:
        raise NameTaken(existing)
    taken_out: list[int] = []
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        was_unnamed = not person.name
        person.name = name
        person.save(update_fields=["name"])
        faces: list[int] = []
        if was_unnamed:
            suggested = person.faces.select_for_update().filter(status=Face.Status.SUGGESTED)
            if confirm_only is not None:
                suggested = suggested.filter(pk__in=confirm_only.values("pk"))
            if shown_face_ids is not None:
                shown = set(shown_face_ids)
                kept = set(kept_face_ids) & shown
                in_group = set(suggested.filter(pk__in=shown).values_list("pk", flat=True))
                taken_out = sorted(in_group - kept)
                suggested = suggested.filter(pk__in=kept)
                FaceRejection.objects.bulk_create(
                    [FaceRejection(face_id=pk, person=person, rejected_by=user) for pk in taken_out],
                    ignore_conflicts=True,
                )
                Face.objects.filter(pk__in=taken_out).update(
                    person=None, status=Face.Status.UNASSIGNED, distance=None
                )
            faces = list(suggested.values_list("pk", flat=True))
            Face.objects.filter(pk__in=faces).update(status=Face.Status.CONFIRMED, distance=None)
            if faces:
                _cover_if_missing(person.pk, faces[0])
    if was_unnamed:
        recognition.faces_refresh_near(faces=Face.objects.filter(pk__in=faces))
        for face in Face.objects.filter(pk__in=taken_out):
            recognition.face_suggest(face=face)
    return person
