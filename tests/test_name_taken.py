"""One rule says whether a name is taken (services.faces.name_holder): the people the actor
may know of, then people who opted out. Naming, renaming and the admin's person form
all ask it, so they agree, and none tells of a person the actor may not see."""

import pytest
from django.test import Client
from django.urls import reverse

from tagging.models import Album, Face, Person, Photo
from tagging.services import faces as face_actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="curator", password="curator-password-1", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _person_on_album(name: str, owner, visibility: str) -> Person:
    album = Album.objects.create(owner=owner, title=f"{name}'s album", visibility=visibility)
    photo = Photo.objects.create(
        album=album, uploaded_by=owner, content_hash=name.encode().hex().ljust(64, "0"), status="done"
    )
    person = Person.objects.create(name=name)
    Face.objects.create(
        photo=photo, x=0.1, y=0.1, w=0.2, h=0.2, model_name="Dlib", person=person, status="confirmed"
    )
    return person


def _rename(client: Client, person: Person, name: str, **extra):
    return client.post(
        reverse("admin:tagging_person_change", args=[person.pk]), {"name": name, "user": "", **extra}
    )


def test_the_admin_form_refuses_a_name_a_visible_person_has(staff_client, member):
    _person_on_album("Ann Lee", member, Album.Visibility.MEMBERS)
    other = Person.objects.create(name="Annie")

    response = _rename(staff_client, other, "ann lee")

    assert response.status_code == 200
    assert "already has this name: merge them, or allow it below." in response.content.decode()
    assert Person.objects.get(pk=other.pk).name == "Annie"


def test_the_admin_form_renames_to_a_taken_name_when_allowed(staff_client, member):
    _person_on_album("Ann Lee", member, Album.Visibility.MEMBERS)
    other = Person.objects.create(name="Annie")

    response = _rename(staff_client, other, "Ann Lee", allow_duplicate_name="on")

    assert response.status_code == 302
    assert Person.objects.filter(name="Ann Lee").count() == 2


def test_the_admin_form_does_not_tell_of_a_person_in_a_private_album(staff_client, member):
    hidden = _person_on_album("Ann Lee", member, Album.Visibility.PRIVATE)
    other = Person.objects.create(name="Annie")

    response = _rename(staff_client, other, "Ann Lee")

    assert response.status_code == 302
    assert f"#{hidden.pk}" not in response.content.decode()
    assert Person.objects.get(pk=other.pk).name == "Ann Lee"


def test_naming_and_the_admin_agree_on_who_holds_a_name(staff, member):
    ann = _person_on_album("Ann Lee", member, Album.Visibility.MEMBERS)
    group = Person.objects.create()

    assert face_actions.name_holder(actor=staff, name=" ANN LEE ") == ann
    assert face_actions.name_holder(actor=staff, name="Ann Lee", person=ann) is None
    with pytest.raises(face_actions.NameTaken):
        face_actions.group_name(person=group, name="Ann Lee", actor=staff)
