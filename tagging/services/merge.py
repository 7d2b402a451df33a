"""Merging people: staff say several entries of the directory are one person.

One transaction in named steps: lock everyone (in primary key order), move
faces, rejections and claims, take over what ``keep`` lacks, and write the
audit entry; suggestions the merge makes stale are refreshed afterwards.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.admin.models import CHANGE
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from tagging.models import Face, FaceRejection, Person, PersonClaim
from tagging.services.people import REFRESH_LIMIT, PeopleError, _faces_refresh, _log, _unique
from tagging.text import plural


class MergeError(PeopleError):
    """The merge was refused; nothing changed."""


def person_merge(*, keep: Person, merge: Iterable[Person], actor: AbstractBaseUser) -> Person:
    """Make ``merge`` one person with ``keep``; returns ``keep`` as it is afterwards.

    Faces keep their status: suggestions for a merged person become
    suggestions for ``keep``, except where a member rejected ``keep`` (or one
    of the merged people) for that face, which leaves the face unassigned. A
    confirmed tag outweighs a rejection it now contradicts: the tag stays and
    the rejection goes. ``keep`` keeps its name, cover and account, taking the
    first merged person's where it has none, and is opted out of recognition
    if any of them was.

    The people are locked in primary key order, so two merges of overlapping
    people run one after the other instead of deadlocking, and the second
    finds that someone is gone. Raises :class:`MergeError` for a merge into
    oneself, nobody to merge, or a person already merged (or deleted) meanwhile.
    """
    merged = _unique(merge)
    if any(person.pk == keep.pk for person in merged):
        raise MergeError(f"{keep} cannot be merged into themselves")
    if not merged:
        raise MergeError("choose at least one person to merge")

    with transaction.atomic():
        keep, merged = _merge_lock(keep=keep, merged=merged)
        merge_ids = [person.pk for person in merged]
        # The audit counts what the actor could see: other staff read it too.
        counts = Counter(
            {
                (row["person_id"], row["status"]): row["n"]
                for row in Face.objects.visible_to(actor)
                .filter(person_id__in=merge_ids)
                .values("person_id", "status")
                .annotate(n=Count("pk"))
            }
        )
        confirmed_moved = list(
            Face.objects.filter(person_id__in=merge_ids, status=Face.Status.CONFIRMED).order_by("pk")[
                :REFRESH_LIMIT
            ]
        )
        moved = _merge_move(keep=keep, merge_ids=merge_ids)
        _merge_identity(keep=keep, merged=merged)
        _merge_audit(keep=keep, merged=merged, counts=counts, moved=moved, actor=actor)

    # More confirmed faces for keep can change the votes near them.
    _faces_refresh(
        refresh_near=confirmed_moved, suggest=Face.objects.filter(pk__in=moved.withdrawn[:REFRESH_LIMIT])
    )
    return keep


def _merge_lock(*, keep: Person, merged: list[Person]) -> tuple[Person, list[Person]]:
    """Lock everyone in primary key order, as they are now; refuse if anyone is gone."""
    locked = {
        person.pk: person
        for person in Person.objects.select_for_update()
        .filter(pk__in=[keep.pk, *(person.pk for person in merged)])
        .order_by("pk")
    }
    gone = [person for person in [keep, *merged] if person.pk not in locked]
    if gone:
        names = ", ".join(str(person) for person in gone)
        raise MergeError(f"{names} already merged into someone else or deleted; reload and try again")
    return locked[keep.pk], [locked[person.pk] for person in merged]


@dataclass(frozen=True)
class _Moved:
    rejections: int
    dropped: int
    withdrawn: list[int]


def _merge_move(*, keep: Person, merge_ids: list[int]) -> _Moved:
    """Faces, rejections and claims of the merged people become ``keep``'s."""
    moved_rejections, dropped = _rejections_move(keep=keep, merge_ids=merge_ids)
    Face.objects.filter(person_id__in=merge_ids).update(person=keep, updated_at=timezone.now())
    # The member's "not this person" stood against someone who turns out
    # to be keep: the suggestion goes, the face is open to others.
    withdrawn = list(
        Face.objects.filter(person=keep, status=Face.Status.SUGGESTED, rejections__person=keep).values_list(
            "pk", flat=True
        )
    )
    Face.objects.filter(pk__in=withdrawn).unassign()
    dropped += FaceRejection.objects.filter(
        person=keep, face__person=keep, face__status=Face.Status.CONFIRMED
    ).delete()[0]
    PersonClaim.objects.filter(person_id__in=merge_ids).update(person=keep)
    return _Moved(rejections=moved_rejections, dropped=dropped, withdrawn=withdrawn)


def _merge_identity(*, keep: Person, merged: list[Person]) -> None:
    """``keep`` takes what it lacks from the merged people, who are then deleted."""
    update_fields = _take_identity(keep=keep, merged=merged)
    # Deleted before keep is saved: keep may take over a merged person's
    # account, which is one-to-one.
    Person.objects.filter(pk__in=[person.pk for person in merged]).delete()
    if update_fields:
        keep.save(update_fields=update_fields)
    if keep.recognition_opt_out:
        # Someone who opted out keeps no embeddings or crops, whoever they merge with.
        Face.objects.filter(person=keep).forget()
        Person.objects.filter(pk=keep.pk).update(cover_face=None)


def _merge_audit(*, keep: Person, merged: list[Person], counts: Counter, moved: _Moved, actor) -> None:
    summary = ", ".join(
        f"{person} ({counts[person.pk, Face.Status.CONFIRMED]} confirmed, "
        f"{counts[person.pk, Face.Status.SUGGESTED]} suggested)"
        for person in merged
    )
    message = (
        f"Merged {summary} into {keep}; {plural(moved.rejections, 'rejection')} moved, "
        f"{plural(moved.dropped, 'rejection')} dropped, "
        f"{plural(len(moved.withdrawn), 'suggestion')} withdrawn"
    )
    _log(actor=actor, objects=[keep], flag=CHANGE, message=message)


def _rejections_move(*, keep: Person, merge_ids: list[int]) -> tuple[int, int]:
    """Give the merged people's rejections to ``keep``, one per face. Returns (moved, dropped)."""
    rows = list(
        FaceRejection.objects.filter(person_id__in=merge_ids).order_by("pk").values_list("pk", "face_id")
    )
    seen = set(
        FaceRejection.objects.filter(person=keep, face_id__in=[face_id for _, face_id in rows]).values_list(
            "face_id", flat=True
        )
    )
    move, drop = [], []
    for pk, face_id in rows:
        (drop if face_id in seen else move).append(pk)
        seen.add(face_id)
    FaceRejection.objects.filter(pk__in=drop).delete()
    FaceRejection.objects.filter(pk__in=move).update(person=keep)
    return len(move), len(drop)


def _take_identity(*, keep: Person, merged: list[Person]) -> list[str]:
    """Fill what ``keep`` lacks from the merged people, first one first. Returns the changed fields."""
    changed = []
    if not keep.name:
        name = next((person.name for person in merged if person.name), "")
        if name:
            keep.name = name
            changed.append("name")
    if keep.cover_face_id is None:
        covers = [person.cover_face_id for person in merged if person.cover_face_id]
        # A cover that was a withdrawn suggestion no longer shows keep.
        still_keep = set(Face.objects.filter(pk__in=covers, person=keep).values_list("pk", flat=True))
        cover = next((pk for pk in covers if pk in still_keep), None)
        if cover:
            keep.cover_face_id = cover
            changed.append("cover_face")
    if keep.user_id is None:
        user_id = next((person.user_id for person in merged if person.user_id), None)
        if user_id:
            keep.user_id = user_id
            changed.append("user")
    # Opting out is a member's word about themselves; it holds for whoever
    # they turn out to be.
    if not keep.recognition_opt_out and any(person.recognition_opt_out for person in merged):
        keep.recognition_opt_out = True
        changed.append("recognition_opt_out")
    return changed
