"""The people, faces and photos admin: actions and pages go through the services."""

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.urls import reverse

from tagging.models import Face, FaceRejection, Person, Photo
from tagging.services import faces as face_actions
from tagging.services import merge, recognition
from tests.people import (
    CONFIRMED,
    SUGGESTED,
    UNASSIGNED,
    _face,
    _faces,
    _state,
)

pytestmark = pytest.mark.django_db(transaction=True)


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
