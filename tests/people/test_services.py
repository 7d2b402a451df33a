"""Merging, deleting, detaching, reassigning and renaming people through tagging.services.people."""

import threading

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.db import connection

from tagging.models import Face, FaceRejection, Person
from tagging.services import faces as face_actions
from tagging.services import merge, recognition
from tagging.services import people as people_actions
from tagging.services.merge import MergeError
from tagging.services.people import PeopleError
from tests.people import (
    CONFIRMED,
    SUGGESTED,
    UNASSIGNED,
    _face,
    _faces,
    _state,
)

pytestmark = pytest.mark.django_db(transaction=True)


# --- merge -------------------------------------------------------------------


def test_merging_moves_every_face_and_rejection_and_deletes_the_merged_people(photo, staff):
    keep = Person.objects.create(name="Joe Biden")
    first = Person.objects.create(name="Joe")
    second = Person.objects.create()
    kept_face = _face(photo, keep, CONFIRMED, x=0.9)
    first_faces = _faces(photo, first, CONFIRMED, CONFIRMED, SUGGESTED)
    second_faces = [_face(photo, second, SUGGESTED, x=0.5)]
    elsewhere = [_face(photo, x=0.6), _face(photo, x=0.7), _face(photo, x=0.8)]
    FaceRejection.objects.create(face=elsewhere[0], person=first)
    FaceRejection.objects.create(face=elsewhere[0], person=second)  # the same face twice: one stays
    FaceRejection.objects.create(face=elsewhere[1], person=first)
    FaceRejection.objects.create(face=elsewhere[2], person=keep)
    FaceRejection.objects.create(face=elsewhere[2], person=second)  # keep's own already there

    result = merge.person_merge(keep=keep, merge=[first, second], actor=staff)

    assert result == keep
    assert not Person.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert [_state(face) for face in first_faces + second_faces + [kept_face]] == [
        (keep.pk, CONFIRMED),
        (keep.pk, CONFIRMED),
        (keep.pk, SUGGESTED),
        (keep.pk, SUGGESTED),
        (keep.pk, CONFIRMED),
    ]
    assert sorted(FaceRejection.objects.values_list("face_id", "person_id")) == sorted(
        (face.pk, keep.pk) for face in elsewhere
    )
    keep.refresh_from_db()
    assert keep.name == "Joe Biden"


def test_a_face_suggested_for_a_merged_person_is_suggested_for_the_kept_one(library, staff):
    keep = Person.objects.create(name="Barack Obama")
    duplicate = Person.objects.create(name="B. Obama")
    tagged = face_actions.face_tag(
        face=library.first("people/barack_obama/barack_obama_1.jpg"), person=duplicate
    )
    suggested = library.first("people/barack_obama/barack_obama_2.jpg")
    assert (suggested.person_id, suggested.status) == (duplicate.pk, SUGGESTED)

    merge.person_merge(keep=keep, merge=[duplicate], actor=staff)

    assert _state(suggested) == (keep.pk, SUGGESTED)
    assert _state(tagged) == (keep.pk, CONFIRMED)
    # The merged tag now votes for the kept person.
    later = library.first("people/barack_obama/barack_obama_3.jpg")
    Face.objects.filter(pk=later.pk).update(person=None, status=UNASSIGNED, distance=None)
    recognition.faces_recognize(face_ids=[later.pk])
    assert _state(later) == (keep.pk, SUGGESTED)


def test_a_suggestion_rejected_for_the_kept_person_is_withdrawn_and_a_confirmed_tag_stays(photo, staff):
    keep = Person.objects.create(name="Kit Harington")
    merged = Person.objects.create(name="Kit")
    suggested, confirmed = _faces(photo, merged, SUGGESTED, CONFIRMED)
    FaceRejection.objects.create(face=suggested, person=keep)
    FaceRejection.objects.create(face=confirmed, person=keep)

    merge.person_merge(keep=keep, merge=[merged], actor=staff)

    assert _state(suggested) == (None, UNASSIGNED)
    assert _state(confirmed) == (keep.pk, CONFIRMED)
    assert list(FaceRejection.objects.values_list("face_id", "person_id")) == [(suggested.pk, keep.pk)]


def test_an_unnamed_kept_person_takes_the_first_merged_name_cover_and_account(photo, staff, member):
    keep = Person.objects.create()
    unnamed = Person.objects.create()
    named = Person.objects.create(name="Rose Leslie", user=member)
    cover = _face(photo, named, CONFIRMED)
    Person.objects.filter(pk=named.pk).update(cover_face=cover)
    _face(photo, keep, SUGGESTED, x=0.5)

    merge.person_merge(keep=keep, merge=[unnamed, named], actor=staff)

    keep.refresh_from_db()
    assert (keep.name, keep.cover_face_id, keep.user_id) == ("Rose Leslie", cover.pk, member.pk)


def test_merging_writes_one_log_entry_naming_the_merged_people(photo, staff):
    keep = Person.objects.create(name="Alex Lacamoire")
    first, second = Person.objects.create(name="Alex"), Person.objects.create()
    _faces(photo, first, CONFIRMED, SUGGESTED)

    merge.person_merge(keep=keep, merge=[first, second], actor=staff)

    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_id) == (staff, CHANGE, str(keep.pk))
    assert "Alex (1 confirmed, 1 suggested)" in entry.change_message
    assert f"Unnamed #{second.pk}" in entry.change_message


def test_merging_a_person_into_themselves_is_refused(photo, staff):
    person = Person.objects.create(name="Joe Biden")
    other = Person.objects.create(name="Joe")

    with pytest.raises(MergeError, match="into themselves"):
        merge.person_merge(keep=person, merge=[other, person], actor=staff)

    assert Person.objects.count() == 2
    assert not LogEntry.objects.exists()


def test_merging_someone_already_merged_says_so(photo, staff):
    keep, first, second = (Person.objects.create(name=name) for name in ["A", "B", "C"])
    merge.person_merge(keep=keep, merge=[first], actor=staff)

    with pytest.raises(MergeError, match="already merged"):
        merge.person_merge(keep=second, merge=[first], actor=staff)
    assert Person.objects.filter(pk=second.pk).exists()


def _merge_in_thread(barrier, results, **kwargs):
    try:
        barrier.wait()
        merge.person_merge(**kwargs)
        results.append("merged")
    except Exception as error:
        results.append(error)
    finally:
        # Each thread has its own connection; left open it would block the flush.
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_overlapping_merges_at_the_same_time_end_consistent(photo, staff):
    merges = 0
    for round_ in range(6):
        people = [Person.objects.create(name=f"{round_}-{i}") for i in range(4)]
        for index, person in enumerate(people):
            _faces(photo, person, CONFIRMED, SUGGESTED)
            FaceRejection.objects.create(face=_face(photo, x=0.9 - 0.05 * index), person=person)
        a, b, c, d = people
        # The lists overlap in opposite orders; in odd rounds one keeps whom the other merges.
        second_keep, second_merge = (d, [c, b]) if round_ % 2 == 0 else (b, [d, a])
        barrier, results = threading.Barrier(2), []
        threads = [
            threading.Thread(
                target=_merge_in_thread,
                args=(barrier, results),
                kwargs={"keep": a, "merge": [b, c], "actor": staff},
            ),
            threading.Thread(
                target=_merge_in_thread,
                args=(barrier, results),
                kwargs={"keep": second_keep, "merge": second_merge, "actor": staff},
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        errors = [r for r in results if r != "merged"]
        assert len(results) == 2 and len(errors) <= 1, results
        for error in errors:
            assert isinstance(error, MergeError) and "already merged" in str(error), repr(error)
        merges += len(results) - len(errors)
        existing = set(Person.objects.values_list("pk", flat=True))
        faces = Face.objects.exclude(status=UNASSIGNED)
        assert faces.count() == 8 * (round_ + 1)
        assert set(faces.values_list("person_id", flat=True)) <= existing
        assert set(FaceRejection.objects.values_list("person_id", flat=True)) <= existing
        assert LogEntry.objects.count() == merges


# --- delete and the rest ------------------------------------------------------


def test_deleting_a_person_untags_their_faces_and_keeps_them(photo, staff):
    person = Person.objects.create(name="Lin-Manuel Miranda")
    faces = _faces(photo, person, CONFIRMED, SUGGESTED)
    FaceRejection.objects.create(face=_face(photo, x=0.8), person=person)

    untagged = people_actions.person_delete(person=person, actor=staff)

    assert untagged == 2
    assert [_state(face) for face in faces] == [(None, UNASSIGNED), (None, UNASSIGNED)]
    assert not Person.objects.filter(pk=person.pk).exists()
    assert not FaceRejection.objects.exists()
    assert LogEntry.objects.get().action_flag == DELETION


def test_detaching_faces_records_a_rejection_or_confirms_them_for_a_new_person(photo, staff):
    person = Person.objects.create(name="Joe Biden")
    back, moved, stays = _faces(photo, person, SUGGESTED, CONFIRMED, CONFIRMED)
    Person.objects.filter(pk=person.pk).update(cover_face=moved)

    assert (
        people_actions.faces_detach(person=person, faces=[back], into_new_person=False, actor=staff) is None
    )
    created = people_actions.faces_detach(
        person=person, faces=[moved], into_new_person=True, actor=staff, name="Jill Biden"
    )

    assert _state(back) == (None, UNASSIGNED)
    assert _state(moved) == (created.pk, CONFIRMED)
    assert (created.name, created.cover_face_id) == ("Jill Biden", moved.pk)
    person.refresh_from_db()
    assert person.cover_face_id == stays.pk
    assert set(FaceRejection.objects.values_list("face_id", "person_id")) == {
        (back.pk, person.pk),
        (moved.pk, person.pk),
    }


def test_the_cover_must_be_one_of_the_persons_faces(photo, staff):
    person, other = Person.objects.create(name="A"), Person.objects.create(name="B")
    theirs = _face(photo, other, CONFIRMED)

    with pytest.raises(PeopleError, match="not one of"):
        people_actions.person_set_cover(person=person, face=theirs)


def test_reassigning_a_face_confirms_it_for_the_new_person(photo, staff):
    old, new = Person.objects.create(name="Old"), Person.objects.create(name="New")
    face = _face(photo, old, CONFIRMED)
    Person.objects.filter(pk=old.pk).update(cover_face=face)
    FaceRejection.objects.create(face=face, person=new)

    people_actions.face_reassign(face=face, person=new, actor=staff)

    assert _state(face) == (new.pk, CONFIRMED)
    assert Person.objects.get(pk=old.pk).cover_face_id is None
    assert Person.objects.get(pk=new.pk).cover_face_id == face.pk
    assert not FaceRejection.objects.exists()


def test_renaming_an_unnamed_group_confirms_it_and_a_name_in_use_is_refused(photo, staff):
    group = Person.objects.create()
    face = _face(photo, group, SUGGESTED)
    Person.objects.create(name="Rose Leslie")

    with pytest.raises(PeopleError, match="already has this name"):
        people_actions.person_rename(person=group, name="rose leslie", actor=staff)
    people_actions.person_rename(person=group, name="Rose", actor=staff)

    assert _state(face) == (group.pk, CONFIRMED)
    assert Person.objects.get(pk=group.pk).name == "Rose"
