"""What staff do with the directory of people: merge, delete, hide, rename, set a
cover, and take faces away from a person.

Every action is one transaction and writes a ``django.contrib.admin`` LogEntry,
so the admin's history shows who changed the directory and when, whichever
page the change came from. Suggestions that the change makes stale are
refreshed afterwards, outside the transaction, for a bounded number of faces.
"""

from collections.abc import Iterable

from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from tagging.errors import ActionRefused
from tagging.models import Face, FaceRejection, Person
from tagging.services import faces as face_actions
from tagging.services import recognition
from tagging.text import plural

# Each refreshed face costs a few vector queries: past this many, the nightly
# pass and later tags catch up instead of the admin's request.
REFRESH_LIMIT = 20


class PeopleError(ActionRefused):
    """The action does not apply to these people as they are now (``str`` says why)."""


def _log(*, actor: AbstractBaseUser, objects: Iterable, flag: int, message: str) -> None:
    LogEntry.objects.log_actions(
        user_id=actor.pk, queryset=list(objects), action_flag=flag, change_message=message
    )


def _faces_refresh(*, refresh_near: Iterable[Face] = (), suggest: Iterable[Face] = ()) -> None:
    """Re-judge suggestions after a change, within ``REFRESH_LIMIT`` faces of each kind."""
    recognition.faces_refresh_near(faces=list(refresh_near)[:REFRESH_LIMIT])
    for face in list(suggest)[:REFRESH_LIMIT]:
        recognition.face_suggest(face=face)
    recognition.unnamed_groups_prune()


def _unique(people: Iterable[Person]) -> list[Person]:
    seen: set[int] = set()
    result = []
    for person in people:
        if person.pk not in seen:
            seen.add(person.pk)
            result.append(person)
    return result


def _locked_person(person: Person) -> Person:
    try:
        return Person.objects.select_for_update().get(pk=person.pk)
    except Person.DoesNotExist:
        raise PeopleError(f"{person} no longer exists (merged or deleted meanwhile)") from None


def person_delete(*, person: Person, actor: AbstractBaseUser) -> int:
    """Delete ``person``; their faces stay, unassigned. Returns how many faces were untagged.

    ``Person.delete()`` alone would leave confirmed faces without a person,
    which the face constraint refuses; this is the way to delete a person.
    The untagged faces are grouped again by the nightly pass.
    """
    with transaction.atomic():
        person = _locked_person(person)
        untagged = Face.objects.filter(person=person).unassign()
        rejections = FaceRejection.objects.filter(person=person).delete()[0]
        _log(
            actor=actor,
            objects=[person],
            flag=DELETION,
            message=f"Deleted; {plural(untagged, 'face')} untagged, "
            f"{plural(rejections, 'rejection')} removed",
        )
        person.delete()
    return untagged


def people_hide(*, people: Iterable[Person], hidden: bool, actor: AbstractBaseUser) -> int:
    """Hide people from the people page, or show them again. Returns how many changed."""
    with transaction.atomic():
        changing = list(
            Person.objects.select_for_update()
            .filter(pk__in=[person.pk for person in people])
            .exclude(hidden=hidden)
            .order_by("pk")
        )
        Person.objects.filter(pk__in=[person.pk for person in changing]).update(hidden=hidden)
        _log(actor=actor, objects=changing, flag=CHANGE, message="Hidden" if hidden else "Shown again")
    return len(changing)


def person_rename(
    *, person: Person, name: str, actor: AbstractBaseUser, allow_duplicate: bool = False
) -> Person:
    """Give ``person`` a new name.

    Naming an unnamed group is the same act as on the person page: its
    suggested faces become confirmed tags. Raises :class:`PeopleError` for a
    blank name or, unless ``allow_duplicate``, a name someone else has (a
    merge is usually what is meant).
    """
    name = name.strip()
    if not name:
        raise PeopleError("a name is needed")
    old = Person.objects.filter(pk=person.pk).values_list("name", flat=True).first()
    if old is None:
        raise PeopleError(f"{person} no longer exists (merged or deleted meanwhile)")
    if old == name:
        return person
    try:
        if not old:
            person = face_actions.group_name(
                person=person, name=name, actor=actor, allow_duplicate=allow_duplicate
            )
        else:
            if not allow_duplicate:
                existing = face_actions.name_holder(actor=actor, name=name, person=person)
                if existing is not None:
                    raise face_actions.NameTaken(existing)
            with transaction.atomic():
                person = _locked_person(person)
                person.name = name
                person.save(update_fields=["name"])
    except face_actions.NameTaken as taken:
        raise PeopleError(
            f"{taken.existing} (#{taken.existing.pk}) already has this name; merge them instead"
        ) from None
    _log(
        actor=actor,
        objects=[person],
        flag=CHANGE,
        message=f"Renamed from {old or 'an unnamed group'} to {name}",
    )
    return person


def person_set_cover(*, person: Person, face: Face, actor: AbstractBaseUser | None = None) -> Person:
    """Show ``face`` as the person's picture. Raises :class:`PeopleError` if it is not theirs."""
    with transaction.atomic():
        person = _locked_person(person)
        if not Face.objects.filter(pk=face.pk, person=person).exists():
            raise PeopleError(f"face {face.pk} is not one of {person}'s faces")
        person.cover_face_id = face.pk
        person.save(update_fields=["cover_face"])
        if actor is not None:
            _log(actor=actor, objects=[person], flag=CHANGE, message=f"Cover set to face {face.pk}")
    return person


def faces_detach(
    *,
    person: Person,
    faces: Iterable[Face],
    into_new_person: bool,
    actor: AbstractBaseUser,
    name: str = "",
) -> Person | None:
    """Take ``faces`` away from ``person``: back to unassigned, or confirmed for a new person.

    Either way a rejection is recorded, so the machine does not suggest
    ``person`` for these faces again. Faces that are not the person's are
    ignored. Returns the new person (named ``name``, or an unnamed group), if any.
    """
    created = None
    with transaction.atomic():
        person = _locked_person(person)
        detached = list(
            Face.objects.select_for_update()
            .filter(pk__in=[face.pk for face in faces], person=person)
            .order_by("pk")
        )
        if not detached:
            raise PeopleError(f"none of these faces are {person}'s")
        ids = [face.pk for face in detached]
        if into_new_person:
            created = Person.objects.create(name=name.strip(), cover_face_id=ids[0])
            Face.objects.filter(pk__in=ids).confirm(created)
        else:
            Face.objects.filter(pk__in=ids).unassign()
        FaceRejection.objects.bulk_create(
            [FaceRejection(face_id=pk, person=person, rejected_by=actor) for pk in ids], ignore_conflicts=True
        )
        if person.cover_face_id in ids:
            person.cover_face_id = (
                person.faces.filter(status=Face.Status.CONFIRMED)
                .order_by("pk")
                .values_list("pk", flat=True)
                .first()
            )
            person.save(update_fields=["cover_face"])
        where = f"into {created} (#{created.pk})" if created else "back to unassigned"
        _log(
            actor=actor,
            objects=[person],
            flag=CHANGE,
            message=f"Detached {plural(len(ids), 'face')} {where}: {', '.join(map(str, ids))}",
        )
    # Confirmed faces of the person vote no more; faces suggested on their
    # strength are re-judged, and unassigned ones may find someone else.
    confirmed = [face for face in detached if face.status == Face.Status.CONFIRMED]
    _faces_refresh(
        refresh_near=confirmed,
        suggest=[] if into_new_person else Face.objects.filter(pk__in=ids[:REFRESH_LIMIT]),
    )
    return created


def face_reassign(*, face: Face, person: Person, actor: AbstractBaseUser) -> Face:
    """Say ``face`` is ``person``: a confirmed tag, whatever the face was before (for
    someone who opted out, a tag without embedding or crop)."""
    old_id = Face.objects.filter(pk=face.pk).values_list("person_id", flat=True).first()
    with transaction.atomic():
        # People before faces, in primary key order, as a merge locks them:
        # the other order could deadlock with a merge of the old person.
        locked = {
            p.pk: p
            for p in Person.objects.select_for_update()
            .filter(pk__in=[person.pk, old_id or person.pk])
            .order_by("pk")
        }
        if person.pk not in locked:
            raise PeopleError(f"{person} no longer exists (merged or deleted meanwhile)")
        face = Face.objects.select_for_update().filter(pk=face.pk).first()
        if face is None or face.person_id != old_id:
            raise PeopleError("this face changed or was deleted meanwhile; reload and try again")
        Face.objects.filter(pk=face.pk).confirm(locked[person.pk])
        face.refresh_from_db()
        # Staff's word overrides an earlier "not this person".
        FaceRejection.objects.filter(face=face, person=person).delete()
        if old_id is not None and old_id != person.pk:
            Person.objects.filter(pk=old_id, cover_face=face).update(cover_face=None)
        Person.objects.filter(pk=person.pk, cover_face__isnull=True, recognition_opt_out=False).update(
            cover_face=face
        )
        old = locked.get(old_id) if old_id is not None else None
        _log(
            actor=actor, objects=[face], flag=CHANGE, message=f"Reassigned from {old or 'nobody'} to {person}"
        )
    _faces_refresh(refresh_near=[face])
    return face
