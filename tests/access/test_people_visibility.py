"""Who may know of a person, and evidence that follows visibility."""

import pytest
from django.urls import reverse

from tagging.models import Face, Person
from tagging.services import faces as face_actions
from tests.access import (
    _album,
    _bare_face,
    _bare_photo,
    _client,
)
from tests.library import processed_photo

pytestmark = pytest.mark.django_db


# --- One rule: who may know of a person ---------------------------------------------


def test_a_person_is_visible_only_through_a_face_the_viewer_may_see(member, bob, staff):
    private, shared = _album(member, "Mine"), _album(member, "Ours", shared=True)
    only_private = Person.objects.create(name="Private Pat")
    _bare_face(_bare_photo(private), only_private, Face.Status.CONFIRMED)
    everyone = Person.objects.create(name="Shared Sam")
    _bare_face(_bare_photo(shared, "s.jpg"), everyone, Face.Status.CONFIRMED)
    Person.objects.create(name="Bob himself", user=bob)
    hidden = Person.objects.create(name="Hidden Hal", hidden=True)
    _bare_face(_bare_photo(shared, "h.jpg"), hidden, Face.Status.CONFIRMED)

    def seen(user):
        return set(Person.objects.visible_to(user).values_list("name", flat=True))

    assert seen(member) == {"Private Pat", "Shared Sam"}
    assert seen(bob) == {"Shared Sam", "Bob himself"}
    # Staff see hidden people and faceless ones (a name alone shows no photo), never private ones.
    assert seen(staff) == {"Shared Sam", "Bob himself", "Hidden Hal"}
    assert _client(bob).get(reverse("person", args=[only_private.pk])).status_code == 404
    assert _client(staff).get(reverse("person", args=[only_private.pk])).status_code == 404


# --- Evidence follows visibility -----------------------------------------------------


def test_a_name_given_in_a_private_album_is_never_suggested_elsewhere(member, bob, faces_dir):
    private = _album(member, "Alice's")
    tagged = processed_photo(private, faces_dir, "people/barack_obama/barack_obama_1.jpg").faces.get()
    joe = face_actions.face_tag_new_person(face=tagged, name="Barack Obama").person

    theirs = processed_photo(_album(bob, "Bob's"), faces_dir, "people/barack_obama/barack_obama_2.jpg")
    bobs = theirs.faces.get()
    alices = processed_photo(
        _album(member, "Alice's too"), faces_dir, "people/barack_obama/barack_obama_3.jpg"
    )

    assert bobs.person_id != joe.pk
    # The control: the same tag is evidence for the photos of the member who could see it.
    assert alices.faces.get().person_id == joe.pk


def test_naming_a_group_names_only_the_faces_the_member_may_see(member, bob):
    alice_private = _bare_photo(_album(member, "Alice's"), "a.jpg")
    bob_photo = _bare_photo(_album(bob, "Bob's"), "b.jpg")
    group = Person.objects.create()
    unseen = _bare_face(alice_private, group, Face.Status.SUGGESTED)
    seen = _bare_face(bob_photo, group, Face.Status.SUGGESTED)

    response = _client(bob).post(reverse("person_naming", args=[group.pk]), {"name": "Carla"})

    assert response.status_code == 302
    seen.refresh_from_db()
    unseen.refresh_from_db()
    assert (seen.person.name, seen.status) == ("Carla", Face.Status.CONFIRMED)
    # Alice's face splits off into an unnamed group of its own, still open to her naming.
    assert unseen.person_id not in (None, group.pk) and unseen.person.name == ""
    assert unseen.status == Face.Status.SUGGESTED


def test_a_member_tagging_a_name_seen_only_elsewhere_makes_a_person_of_their_own(member, bob):
    private_ann = Person.objects.create(name="Ann")
    _bare_face(_bare_photo(_album(member, "Alice's")), private_ann, Face.Status.CONFIRMED)
    face = _bare_face(_bare_photo(_album(bob, "Bob's"), "b.jpg"))

    _client(bob).post(reverse("face_tag", args=[face.pk]), {"name": "ann"})

    face.refresh_from_db()
    assert face.status == Face.Status.CONFIRMED and face.person.name == "ann"
    assert face.person_id != private_ann.pk  # nothing told Bob that an Ann exists
