"""What members do with faces: confirm, reject, tag, untag, "not a face", name a group.

Each action is one transaction that locks the face rows it changes, followed by
a bounded refresh of the suggestions near the face, so every tag a member
confirms improves the suggestions on other photos right away. Given the member
who acts (``user``, ``actor``), an action also records how to undo it, in the
same transaction (``tagging.services.undo``).
"""

from collections.abc import Iterable

from django.db import transaction

from tagging import selectors
from tagging.errors import ActionRefused
from tagging.models import Face, FaceRejection, Person, Undo
from tagging.services import recognition, undo
from tagging.text import plural


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


def face_confirm(*, face: Face, user=None) -> Face:
    """Confirm the suggestion on ``face``."""
    with transaction.atomic(), undo.undoable(user=user, kind=Undo.Kind.CONFIRM) as record:
        face = _locked(face.pk)
        if face.status != Face.Status.SUGGESTED:
            raise FaceActionError("this face has no suggestion to confirm")
        record.faces([face.pk])
        Face.objects.filter(pk=face.pk).confirm(face.person)
        _cover_if_missing(face.person_id, face.pk)
        record.message = f"Tagged {face.person}."
    face.refresh_from_db()
    recognition.faces_refresh_near(face=face)
    return face


def _faces_reject(faces: list[Face], *, user, record: undo.Recorder) -> None:
    """ "Not this person" for suggested, locked ``faces``: remembered, and the faces unassigned."""
    record.faces([face.pk for face in faces])
    FaceRejection.objects.bulk_create(
        [FaceRejection(face=face, person_id=face.person_id, rejected_by=user) for face in faces],
        ignore_conflicts=True,
    )
    Face.objects.filter(pk__in=[face.pk for face in faces]).unassign()


def face_reject(*, face: Face, user=None) -> Face:
    """ "Not this person": remember it, and look for another suggestion."""
    with transaction.atomic(), undo.undoable(user=user, kind=Undo.Kind.REJECT) as record:
        face = _locked(face.pk)
        if face.status != Face.Status.SUGGESTED:
            raise FaceActionError("this face has no suggestion to reject")
        # An unnamed group's label ("Unnamed #3") is no name to say "not" to.
        name = face.person.name
        _faces_reject([face], user=user, record=record)
        record.message = f"Noted: not {name}." if name else "Noted: not that group."
    face.refresh_from_db()
    recognition.face_suggest(face=face)
    recognition.unnamed_groups_prune()
    return face


def _face_tag(*, face: Face, user, person: Person | None = None, new_name: str = "") -> Face:
    with transaction.atomic(), undo.undoable(user=user, kind=Undo.Kind.NAME) as record:
        face = _locked(face.pk)
        record.faces([face.pk])
        if person is None:
            person = Person.objects.create(name=new_name)
            record.created(person)
        record.people([person.pk])
        Face.objects.filter(pk=face.pk).confirm(person)
        # A member's own word overrides an earlier "not this person".
        FaceRejection.objects.filter(face=face, person=person).delete()
        _cover_if_missing(person.pk, face.pk)
        record.message = f"Tagged {person}."
    face.refresh_from_db()
    recognition.faces_refresh_near(face=face)
    recognition.unnamed_groups_prune()
    return face


def face_tag(*, face: Face, person: Person, user=None) -> Face:
    """Say who ``face`` is: a confirmed tag for an existing person. A tag for someone who
    opted out of recognition is kept as a tag only: the face loses its embedding and crop."""
    return _face_tag(face=face, user=user, person=person)


def face_tag_by_name(*, face: Face, name: str, user) -> Face:
    """Tag ``face`` with ``name``: the person ``user`` means by it (see
    ``selectors.person_by_name``), or a new person of that name."""
    name = name.strip()
    if not name:
        raise FaceActionError("a name is needed")
    person = selectors.person_by_name(user=user, name=name)
    if person is None:
        return face_tag_new_person(face=face, name=name, user=user)
    return face_tag(face=face, person=person, user=user)


def face_tag_new_person(*, face: Face, name: str, user=None) -> Face:
    """Tag ``face`` as a person who is not in the directory yet (undoing the tag removes them)."""
    name = name.strip()
    if not name:
        raise FaceActionError("a name is needed")
    return _face_tag(face=face, user=user, new_name=name)


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


def face_not_a_face(*, face: Face, user=None) -> Face:
    """ "Not a face": the box leaves the photo and every page, count and search, its
    embedding and crop are deleted, and reprocessing does not bring it back.

    The one service for this change, so that an undo can wrap it. Faces that
    were suggested or grouped on the strength of this one are judged again
    without it.
    """
    with transaction.atomic(), undo.undoable(user=user, kind=Undo.Kind.NOT_A_FACE) as record:
        face = Face.all_objects.select_for_update().get(pk=face.pk)
        if face.status == Face.Status.NOT_A_FACE:
            raise FaceActionError("this box is already marked as not a face")
        record.faces([face.pk])
        record.people(Person.objects.filter(cover_face=face).values_list("pk", flat=True))
        record.message = "Removed: not a face."
        was = Face(pk=face.pk, embedding=face.embedding, model_name=face.model_name)
        Face.objects.filter(pk=face.pk).not_a_face()
    face.refresh_from_db()
    recognition.faces_refresh_near(face=was)
    recognition.unnamed_groups_prune()
    return face


def faces_confirm_bulk(*, person: Person, face_ids: Iterable[int], user=None) -> int:
    """Confirm many suggestions for one person at once (the review grid). Returns how many."""
    with transaction.atomic(), undo.undoable(user=user, kind=Undo.Kind.CONFIRM) as record:
        faces = list(
            Face.objects.select_for_update().filter(
                pk__in=list(face_ids), person=person, status=Face.Status.SUGGESTED
            )
        )
        record.faces([f.pk for f in faces])
        Face.objects.filter(pk__in=[f.pk for f in faces]).confirm(person)
        if faces:
            _cover_if_missing(person.pk, faces[0].pk)
        record.message = f"Confirmed {plural(len(faces), 'face')} as {person}."
    for face in faces:
        face.status = Face.Status.CONFIRMED
    recognition.faces_refresh_near(faces=faces)
    return len(faces)


def faces_reject_bulk(*, person: Person, face_ids: Iterable[int], user=None) -> int:
    """ "Not this person" for many suggestions at once (the review grid), in one transaction
    (one undo). Returns how many."""
    with transaction.atomic(), undo.undoable(user=user, kind=Undo.Kind.REJECT) as record:
        faces = list(
            Face.objects.select_for_update()
            .filter(pk__in=list(face_ids), person=person, status=Face.Status.SUGGESTED)
            .order_by("pk")
        )
        _faces_reject(faces, user=user, record=record)
        record.message = f"Rejected {plural(len(faces), 'suggestion')}."
    for face in Face.objects.filter(pk__in=[f.pk for f in faces]).select_related("photo__album__owner"):
        recognition.face_suggest(face=face)
    recognition.unnamed_groups_prune()
    return len(faces)


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
    with transaction.atomic(), undo.undoable(user=actor, kind=Undo.Kind.NAME) as record:
        person = Person.objects.select_for_update().get(pk=person.pk)
        was_unnamed = not person.name
        record.message = f"Named {name}."
        if not was_unnamed:
            person.name = name
            person.save(update_fields=["name"])
        else:
            seen = Face.objects.visible_to(actor).filter(person=person).values_list("pk", flat=True)
            record.faces(seen)
            # The faces the actor cannot see go back to the group too, if this is undone.
            record.faces(person.faces.values_list("pk", flat=True), seen=False)
            record.people([person.pk] + ([existing.pk] if existing is not None else []))
            split = _faces_unseen_split(person=person, actor=actor)
            if split is not None:
                record.created(split)
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
