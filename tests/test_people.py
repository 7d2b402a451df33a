"""Staff curating the people directory: the services in tagging.services.people and the admin.

Where suggestions matter, faces carry real embeddings of the shared photographs
(the ``library`` of tests/test_recognition.py); elsewhere faces have no
embedding, which recognition leaves alone, so the bookkeeping is all that runs.
"""

import threading

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.db import connection
from django.urls import reverse

from tagging.models import Album, Face, FaceRejection, Person, Photo
from tagging.services import faces as face_actions
from tagging.services import merge, recognition
from tagging.services import people as people_actions
from tagging.services.merge import MergeError
from tagging.services.people import PeopleError

# Transactional: the library fixture vacuums the face indexes first (see conftest).
pytestmark = pytest.mark.django_db(transaction=True)

CONFIRMED, SUGGESTED, UNASSIGNED = Face.Status.CONFIRMED, Face.Status.SUGGESTED, Face.Status.UNASSIGNED


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="admin", password="correct horse battery", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def photo(member):
    # Shared with all members: staff curate what they may see (private albums are the owner's alone).
    album = Album.objects.create(owner=member, title="Holiday", visibility=Album.Visibility.MEMBERS)
    return Photo.objects.create(
        album=album, uploaded_by=member, content_hash="a" * 64, display_name="beach.jpg", status="done"
    )


def _face(photo, person=None, status=UNASSIGNED, x=0.1) -> Face:
    return Face.objects.create(
        photo=photo, x=x, y=0.1, w=0.05, h=0.05, model_name="Dlib", person=person, status=status
    )


def _faces(photo, person, *statuses) -> list[Face]:
    return [_face(photo, person, status, x=0.01 + 0.06 * i) for i, status in enumerate(statuses)]


def _state(face: Face) -> tuple:
    face.refresh_from_db()
    return face.person_id, face.status


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


# --- admin --------------------------------------------------------------------


def _changelist(model: str = "person") -> str:
    return reverse(f"admin:tagging_{model}_changelist")


def test_the_merge_action_asks_whom_to_keep_then_merges(staff_client, photo):
    keep, merged = Person.objects.create(name="Barack Obama"), Person.objects.create()
    _faces(photo, keep, CONFIRMED, CONFIRMED)
    moving = _faces(photo, merged, SUGGESTED, SUGGESTED, SUGGESTED)
    selection = {"action": "merge_people", "_selected_action": [keep.pk, merged.pk]}

    page = staff_client.post(_changelist(), {**selection, "index": 0})

    assert page.status_code == 200
    assert "admin/tagging/person/merge_confirmation.html" in [t.name for t in page.templates]
    body = page.content.decode()
    assert "Barack Obama" in body and f"Unnamed #{merged.pk}" in body
    assert f'value="{keep.pk}" checked' in body  # the named person is proposed
    assert Person.objects.count() == 2

    done = staff_client.post(_changelist(), {**selection, "post": "yes", "keep": keep.pk}, follow=True)

    assert done.redirect_chain[0][1] == 302
    assert "Merged Unnamed" in done.content.decode()
    assert not Person.objects.filter(pk=merged.pk).exists()
    assert {_state(face) for face in moving} == {(keep.pk, SUGGESTED)}
    assert LogEntry.objects.count() == 1


def test_the_merge_action_says_when_someone_was_already_merged(staff_client, staff, photo):
    keep, merged, third = (Person.objects.create(name=name) for name in ["A", "B", "C"])
    merge.person_merge(keep=third, merge=[merged], actor=staff)

    response = staff_client.post(
        _changelist(),
        {"action": "merge_people", "_selected_action": [keep.pk, merged.pk], "post": "yes", "keep": keep.pk},
        follow=True,
    )

    assert "already merged" in response.content.decode()
    assert Person.objects.filter(pk=keep.pk).exists()


def test_the_people_list_shows_counts_in_a_bounded_number_of_queries(
    staff_client, photo, django_assert_max_num_queries
):
    for index in range(15):
        person = Person.objects.create(name=f"Person {index}" if index % 3 else "")
        _faces(photo, person, CONFIRMED, SUGGESTED, SUGGESTED)

    with django_assert_max_num_queries(10):
        response = staff_client.get(_changelist())

    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert len(rows) == 15
    assert {(row.confirmed_count, row.suggested_count) for row in rows} == {(1, 2)}
    assert "Unnamed #" in response.content.decode()


def test_the_people_list_filters_unnamed_groups_and_hidden_people(staff_client):
    Person.objects.create(name="Named")
    unnamed = Person.objects.create()
    hidden = Person.objects.create(name="Hidden", hidden=True)

    unnamed_only = staff_client.get(_changelist(), {"named": "no"})
    hidden_only = staff_client.get(_changelist(), {"hidden__exact": "1"})

    assert list(unnamed_only.context["cl"].result_list) == [unnamed]
    assert list(hidden_only.context["cl"].result_list) == [hidden]


def test_hide_and_delete_actions_use_the_services(staff_client, photo):
    person = Person.objects.create(name="Kit Harington")
    faces = _faces(photo, person, CONFIRMED, SUGGESTED)

    staff_client.post(_changelist(), {"action": "hide_people", "_selected_action": [person.pk], "index": 0})
    assert Person.objects.get(pk=person.pk).hidden
    confirm = staff_client.post(
        _changelist(), {"action": "delete_selected", "_selected_action": [person.pk], "index": 0}
    )
    assert confirm.status_code == 200
    staff_client.post(
        _changelist(), {"action": "delete_selected", "_selected_action": [person.pk], "post": "yes"}
    )

    assert not Person.objects.filter(pk=person.pk).exists()
    assert [_state(face) for face in faces] == [(None, UNASSIGNED), (None, UNASSIGNED)]
    assert list(LogEntry.objects.order_by("pk").values_list("action_flag", flat=True)) == [CHANGE, DELETION]


def test_the_person_page_shows_the_faces_and_detaches_them(staff_client, photo):
    person = Person.objects.create(name="Joe Biden")
    cover, wrong = _faces(photo, person, CONFIRMED, CONFIRMED)
    change_url = reverse("admin:tagging_person_change", args=[person.pk])
    faces_url = reverse("admin:tagging_person_faces", args=[person.pk])

    page = staff_client.get(change_url)
    assert page.status_code == 200
    assert page.content.decode().count('name="faces"') == 2

    staff_client.post(faces_url, {"faces": [cover.pk], "op": "cover"})
    staff_client.post(faces_url, {"faces": [wrong.pk], "op": "detach_new", "name": "Hunter"})

    assert Person.objects.get(pk=person.pk).cover_face_id == cover.pk
    assert Face.objects.get(pk=wrong.pk).person.name == "Hunter"
    assert staff_client.get(faces_url).status_code == 405


def test_renaming_on_the_change_page_is_logged_once(staff_client, photo):
    person = Person.objects.create(name="Joe")

    response = staff_client.post(
        reverse("admin:tagging_person_change", args=[person.pk]), {"name": "Joe Biden", "user": ""}
    )

    assert response.status_code == 302
    assert Person.objects.get(pk=person.pk).name == "Joe Biden"
    assert list(LogEntry.objects.values_list("change_message", flat=True)) == [
        "Renamed from Joe to Joe Biden"
    ]


def test_faces_and_photos_admin_pages_render(staff_client, photo):
    person = Person.objects.create(name="Rose Leslie")
    face = _face(photo, person, SUGGESTED)
    Face.objects.filter(pk=face.pk).update(embedding=[0.1] * 128)

    for url in [
        _changelist("face"),
        reverse("admin:tagging_face_change", args=[face.pk]),
        _changelist("photo"),
        reverse("admin:tagging_photo_change", args=[photo.pk]),
        _changelist("album"),
        _changelist("facerejection"),
    ]:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert "embedding" not in response.content.decode().lower(), url


def test_reassigning_on_the_face_page_confirms_it_for_the_other_person(staff_client, photo):
    old, new = Person.objects.create(name="Old"), Person.objects.create(name="New")
    suggested, wrong = _faces(photo, old, SUGGESTED, CONFIRMED)
    unassigned = _face(photo, x=0.5)

    def change(face, person_id):
        url = reverse("admin:tagging_face_change", args=[face.pk])
        return staff_client.post(url, {"person": person_id}).status_code

    assert change(suggested, new.pk) == 302
    assert change(unassigned, new.pk) == 302
    assert change(wrong, "") == 302

    assert [_state(face) for face in [suggested, unassigned, wrong]] == [
        (new.pk, CONFIRMED),
        (new.pk, CONFIRMED),
        (None, UNASSIGNED),
    ]
    assert FaceRejection.objects.filter(face=wrong, person=old).exists()
    assert list(LogEntry.objects.order_by("pk").values_list("change_message", flat=True)) == [
        "Reassigned from Old to New",
        "Reassigned from nobody to New",
        f"Detached 1 face back to unassigned: {wrong.pk}",
    ]


@pytest.mark.django_db  # on_commit callbacks are captured inside the test's transaction
def test_the_reprocess_action_sets_photos_pending_and_enqueues_after_commit(
    staff_client, photo, django_capture_on_commit_callbacks
):
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.FAILED, error="cannot decode", attempts=3)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_client.post(
            _changelist("photo"), {"action": "reprocess", "_selected_action": [photo.pk], "index": 0}
        )

    assert response.status_code == 302
    photo.refresh_from_db()
    assert (photo.status, photo.error, photo.attempts) == (Photo.Status.PENDING, "", 0)
    assert len(callbacks) == 1


def test_members_who_are_not_staff_cannot_use_the_admin(client, member, photo):
    person = Person.objects.create(name="Joe Biden")
    client.force_login(member)

    for response in [
        client.get(_changelist()),
        client.post(_changelist(), {"action": "merge_people", "_selected_action": [person.pk], "index": 0}),
        client.post(reverse("admin:tagging_person_faces", args=[person.pk]), {"op": "cover"}),
    ]:
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    assert Person.objects.filter(pk=person.pk).exists()


def test_naming_a_group_with_a_name_in_use_asks_whether_they_are_the_same_person(
    library, staff, member, client
):
    recognition.faces_recognize(face_ids=library.all_ids())
    group = library.first("people/joe_biden/joe_biden_1.jpg").person
    existing = Person.objects.create(name="Joe Biden")
    # Someone the member may know of: tagged on a photo they can see.
    face_actions.face_tag(face=library.first("people/kit_harington/kit_harington_1.jpg"), person=existing)

    client.force_login(member)
    as_member = client.post(f"/people/{group.pk}/name/", {"name": "joe biden"})
    assert as_member.status_code == 409
    assert "staff will merge them" in as_member.content.decode()
    assert "people_merge" not in as_member.content.decode() and b"/people/merge/" not in as_member.content

    client.force_login(staff)
    as_staff = client.post(f"/people/{group.pk}/name/", {"name": "joe biden"})
    assert as_staff.status_code == 409
    assert b"/people/merge/" in as_staff.content
    merged = client.post("/people/merge/", {"people": [group.pk, existing.pk], "keep": existing.pk})

    assert merged.status_code == 302 and merged.url == existing.get_absolute_url()
    assert not Person.objects.filter(pk=group.pk).exists()
    assert existing.faces.count() >= 2
    assert Person.objects.get(pk=existing.pk).name == "Joe Biden"
