"""What members do with faces: confirm, reject, tag, untag, name a group.

Each action is one transaction that locks the face rows it changes, followed by
a bounded refresh of the suggestions near the face, so every tag a member
confirms improves the suggestions on other photos right away.
"""

from collections.abc import Iterable

from django.db import transaction

from tagging import selectors
from tagging.errors import ActionRefused
from tagging.models import Face, FaceRejection, Person
from tagging.services import recognition


class FaceActionError(ActionRefused):
    """The action does not apply to the face in its current state (``str`` says why)."""


class NameTaken(FaceActionError):
    """Another person already has this name; they may be the same person."""

    def __init__(self, existing: Person):
        super().__init__(f"{existing.name} already exists")
        self.existing = existing


def name_holder(*, actor, name: str, person: Person | None = None) -> Person | None:
    """The one rule for "is this name taken": someone other than ``person`` whom ``actor``
    means by ``name`` (see ``selectors.person_by_name``: people they may know of, then
    people who opted out), or None. Naming, renaming and the admin's form all ask here."""
    existing = selectors.person_by_name(user=actor, name=name)
    if existing is None or (person is not None and existing.pk == person.pk):
        return None
    return existing


def _locked(face_id: int) -> Face:
    return Face.objects.select_for_update().get(pk=face_id)


def _cover_if_missing(person_id: int, face_id: int) -> None:
    # Someone who opted out has no crops to show.
    Person.objects.filter(pk=person_id, cover_face__isnull=True, recognition_opt_out=False).update(
        cover_face_id=face_id
    )


def face_confirm(*, face: Face) -> Face:
    """Confirm the suggestion on ``face``."""
    with transaction.atomic():
        face = _locked(face.pk)
        if face.status != Face.Status.SUGGESTED:
            raise FaceActionError("this face has no suggestion to confirm")
        Face.objects.filter(pk=face.pk).confirm(face.person)
        _cover_if_missing(face.person_id, face.pk)
    face.refresh_from_db()
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
    """Say who ``face`` is: a confirmed tag for an existing person. A tag for someone who
    opted out of recognition is kept as a tag only: the face loses its embedding and crop."""
    with transaction.atomic():
        face = _locked(face.pk)
        Face.objects.filter(pk=face.pk).confirm(person)
        # A member's own word overrides an earlier "not this person".
        FaceRejection.objects.filter(face=face, person=person).delete()
        _cover_if_missing(person.pk, face.pk)
    face.refresh_from_db()
    recognition.faces_refresh_near(face=face)
    recognition.unnamed_groups_prune()
    return face


def face_tag_by_name(*, face: Face, name: str, user) -> Face:
    """Tag ``face`` with ``name``: the person ``user`` means by it (see
    ``selectors.person_by_name``), or a new person of that name."""
    name = name.strip()
    if not name:
        raise FaceActionError("a name is needed")
    person = selectors.person_by_name(user=user, name=name)
    if person is None:
        return face_tag_new_person(face=face, name=name)
    return face_tag(face=face, person=person)


def face_tag_new_person(*, face: Face, name: str) -> Face:
    """Tag ``face`` as a person who is not in the directory yet."""
    name = name.strip()
    if not name:
        raise FaceActionError("a name is needed")
    return face_tag(face=face, person=Person.objects.create(name=name))


def face_untag(*, face: Face) -> Face:
    """Undo a confirmed tag; the face is open to suggestions again."""
    with transaction.atomic():
        face = _locked(face.pk)
        if face.status != Face.Status.CONFIRMED:
            raise FaceActionError("this face is not tagged")
        person_id = face.person_id
        Face.objects.filter(pk=face.pk).unassign()
        Person.objects.filter(pk=person_id, cover_face=face).update(cover_face=None)
    face.refresh_from_db()
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
        Face.objects.filter(pk__in=[f.pk for f in faces]).confirm(person)
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


def group_name(
    *,
    person: Person,
    name: str,
    actor,
    allow_duplicate: bool = False,
    shown_face_ids: Iterable[int] | None = None,
    kept_face_ids: Iterable[int] = (),
) -> Person:
    """Name a group the system found; the faces ``actor`` may see, and kept, become confirmed tags.

    The actor's word covers what they could see. The group's faces they cannot
    see split off into an unnamed group of their own: the name never reaches
    photos it was not given on. ``shown_face_ids`` are the group's faces the
    naming form showed and ``kept_face_ids`` those the member left selected:
    only faces both shown and kept are confirmed, and faces shown but
    deselected leave the group ("not this person", remembered as a rejection).
    Faces the member may see but was not shown stay suggestions, now for the
    named person, to review. Without ``shown_face_ids`` (naming from
    elsewhere) every suggested face the actor may see is confirmed.

    Raises :class:`NameTaken` when someone the actor may know of already has
    the name, so the caller can offer a merge instead of a second person of
    that name. A name of someone who opted out of recognition attaches the
    faces to them (see ``selectors.person_by_name``).
    """
    name = name.strip()
    if not name:
        raise FaceActionError("a name is needed")
    existing = name_holder(actor=actor, name=name, person=person)
    if existing is not None and not existing.recognition_opt_out and not allow_duplicate:
        raise NameTaken(existing)
    faces: list[int] = []
    taken_out: list[int] = []
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        was_unnamed = not person.name
        if not was_unnamed:
            person.name = name
            person.save(update_fields=["name"])
        else:
            _faces_unseen_split(person=person, actor=actor)
            target = existing if existing is not None else person
            suggested = person.faces.select_for_update().filter(status=Face.Status.SUGGESTED)
            if shown_face_ids is not None:
                shown = set(shown_face_ids)
                kept = set(kept_face_ids) & shown
                taken_out = sorted(set(suggested.filter(pk__in=shown).values_list("pk", flat=True)) - kept)
                FaceRejection.objects.bulk_create(
                    [FaceRejection(face_id=pk, person=target, rejected_by=actor) for pk in taken_out],
                    ignore_conflicts=True,
                )
                Face.objects.filter(pk__in=taken_out).unassign()
                suggested = suggested.filter(pk__in=kept)
            if target is person:
                person.name = name
                person.save(update_fields=["name"])
            faces = suggested.confirm(target)
            FaceRejection.objects.filter(face_id__in=faces, person=target).delete()
            if faces:
                _cover_if_missing(target.pk, faces[0])
            person = target
    if was_unnamed:
        recognition.faces_refresh_near(faces=Face.objects.filter(pk__in=faces))
        for face in Face.objects.filter(pk__in=taken_out).select_related("photo__album__owner"):
            recognition.face_suggest(face=face)
        recognition.unnamed_groups_prune()
    return person


def _faces_unseen_split(*, person: Person, actor) -> Person | None:
    """Move the faces of unnamed ``person`` that ``actor`` cannot see into a new unnamed group."""
    unseen = person.faces.exclude(pk__in=Face.objects.visible_to(actor).values("pk"))
    if not unseen.exists():
        return None
    group = Person.objects.create()
    unseen.update(person=group)
    moved = Face.objects.filter(person=group)
    Person.objects.filter(pk=person.pk, cover_face__in=moved).update(cover_face=None)
    return group
