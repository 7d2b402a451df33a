"""The people directory: people page, person page, bulk review, naming and merging."""

from dataclasses import dataclass

import numpy as np
import pytest
from django.urls import reverse

from tagging.models import Album, Face, FaceRejection, Person, Photo
from tests.pages import (
    MISSING,
    _face,
    _photo,
)

pytestmark = pytest.mark.django_db


# --- People ---------------------------------------------------------------------


@dataclass
class Directory:
    secret: Person  # confirmed only on bob's private album
    shared: Person  # confirmed on alice's members' album and on bob's private one
    bobs_group: Person  # unnamed, suggested only on bob's private album
    hidden: Person
    bobs_photos: list[Photo]


@pytest.fixture
def directory(member, other) -> Directory:
    mine = Album.objects.create(owner=member, title="Mine", visibility=Album.Visibility.MEMBERS)
    bobs = Album.objects.create(owner=other, title="Bob's", visibility=Album.Visibility.PRIVATE)
    secret, shared = Person.objects.create(name="Secret Sam"), Person.objects.create(name="Shared Sue")
    bobs_group, hidden = Person.objects.create(), Person.objects.create(name="Hidden Hal", hidden=True)
    bobs_photos = [_photo(bobs) for _ in range(3)]
    for photo in bobs_photos:
        _face(photo, person=secret, status=Face.Status.CONFIRMED, x=0.0)
        _face(photo, person=shared, status=Face.Status.CONFIRMED, x=0.3)
        _face(photo, person=bobs_group, status=Face.Status.SUGGESTED, x=0.6)
    for _ in range(2):
        photo = _photo(mine)
        _face(photo, person=shared, status=Face.Status.CONFIRMED)
        _face(photo, person=hidden, status=Face.Status.CONFIRMED, x=0.5)
    return Directory(secret, shared, bobs_group, hidden, bobs_photos)


def _counts(response) -> dict[str, int]:
    return {str(person): person.photo_count for person in response.context["people"]}


class TestPeoplePage:
    def test_it_lists_only_people_on_photos_the_member_may_see(self, directory, alice):
        response = alice.get(reverse("people"))

        assert _counts(response) == {"Shared Sue": 2}
        page = response.content.decode()
        assert "Secret Sam" not in page and "Hidden Hal" not in page
        assert directory.bobs_group.get_absolute_url() not in page

    def test_the_owner_of_the_private_album_sees_everyone_on_it(self, directory, bob):
        response = bob.get(reverse("people"))

        assert _counts(response) == {"Secret Sam": 3, "Shared Sue": 5}
        assert [group.pk for group in response.context["groups"]] == [directory.bobs_group.pk]
        assert b"5 photos" in response.content

    def test_staff_see_hidden_people_apart(self, directory, member, alice):
        member.is_staff = True
        member.save()

        response = alice.get(reverse("people"))

        assert [str(p) for p in response.context["hidden_people"]] == ["Hidden Hal"]
        assert b'id="merge-form"' in response.content

    def test_it_uses_a_cover_the_member_may_see(self, directory, alice):
        Person.objects.filter(pk=directory.shared.pk).update(
            cover_face=directory.bobs_photos[0].faces.get(person=directory.shared)
        )

        [sue] = alice.get(reverse("people")).context["people"]

        assert Face.objects.get(pk=sue.visible_cover_id).photo.album.owner.username == "alice"


class TestPersonPage:
    def test_it_does_not_exist_for_a_member_who_may_see_none_of_their_photos(self, directory, alice):
        response = alice.get(reverse("person", args=[directory.secret.pk]))
        missing = alice.get(reverse("person", args=[MISSING]))

        assert response.status_code == missing.status_code == 404
        assert response.content == missing.content

    def test_it_lists_the_visible_photos(self, directory, alice, bob):
        assert len(alice.get(reverse("person", args=[directory.shared.pk])).context["photos"]) == 2
        assert len(bob.get(reverse("person", args=[directory.shared.pk])).context["photos"]) == 5

    def test_it_hides_hidden_people_from_members(self, directory, alice):
        assert alice.get(reverse("person", args=[directory.hidden.pk])).status_code == 404

    def test_it_reviews_only_suggestions_the_member_may_see(self, directory, alice, bob):
        url = reverse("person", args=[directory.bobs_group.pk])

        assert alice.get(url).status_code == 404  # a group seen only in Bob's private album
        assert len(bob.get(url).context["review"]) == 3


class TestPersonReview:
    def test_it_confirms_the_selected_suggestions(self, things, alice):
        response = alice.post(
            reverse("person_review", args=[things.ann.pk]),
            {"faces": [things.suggested.pk], "action": "confirm"},
        )

        assert response.status_code == 302 and response.url == things.ann.get_absolute_url()
        assert Face.objects.get(pk=things.suggested.pk).status == Face.Status.CONFIRMED

    def test_it_rejects_the_selected_suggestions(self, things, alice):
        alice.post(
            reverse("person_review", args=[things.ann.pk]),
            {"faces": [things.suggested.pk], "action": "reject"},
        )

        assert Face.objects.get(pk=things.suggested.pk).status == Face.Status.UNASSIGNED
        assert FaceRejection.objects.filter(face=things.suggested, person=things.ann).exists()

    def test_it_ignores_faces_the_member_may_not_see(self, directory, bob, alice):
        faces = list(directory.bobs_group.faces.values_list("pk", flat=True))

        alice.post(
            reverse("person_review", args=[directory.bobs_group.pk]), {"faces": faces, "action": "confirm"}
        )

        assert set(Face.objects.filter(pk__in=faces).values_list("status", flat=True)) == {"suggested"}


class TestPersonName:
    def test_it_names_a_group_and_confirms_its_faces(self, things, alice):
        response = alice.post(reverse("person_naming", args=[things.group.pk]), {"name": "Zed"})

        things.group.refresh_from_db()
        assert response.status_code == 302 and response.url == things.group.get_absolute_url()
        assert things.group.name == "Zed"
        assert Face.objects.get(pk=things.grouped.pk).status == Face.Status.CONFIRMED

    def _mixed_group(self, things):
        # Three faces on the one photo of the fixture, at angles 0, 5 and 40
        # degrees: the third is someone else, farthest from the group's centre.
        faces = []
        for index, angle in enumerate([0, 5, 40]):
            face = _face(
                things.photo, person=things.group, status=Face.Status.SUGGESTED, x=0.05 + index * 0.06
            )
            vector = np.zeros(128)
            vector[0], vector[1] = np.cos(np.radians(angle)), np.sin(np.radians(angle))
            Face.objects.filter(pk=face.pk).update(embedding=vector.tolist())
            faces.append(face)
        return faces

    def test_naming_shows_the_group_s_faces_nearest_to_its_centre_first_each_ticked(self, things, alice):
        first, second, stranger = self._mixed_group(things)

        response = alice.get(things.group.get_absolute_url())

        shown = [face.pk for face in response.context["group_faces"]]
        assert shown[-1] == stranger.pk and set(shown) == {first.pk, second.pk, stranger.pk}
        html = response.content.decode()
        for face in (first, second, stranger):
            assert f'name="faces" value="{face.pk}" checked' in html
            assert f'name="shown" value="{face.pk}"' in html

    def test_a_mixed_group_named_confirms_only_the_faces_left_ticked(self, things, alice):
        first, second, stranger = self._mixed_group(things)
        unseen = things.grouped  # in the group, but not on the form the member saw

        alice.post(
            reverse("person_naming", args=[things.group.pk]),
            {"name": "Zed", "shown": [first.pk, second.pk, stranger.pk], "faces": [first.pk, second.pk]},
        )

        status = {
            f.pk: (f.person_id, f.status)
            for f in Face.objects.filter(pk__in=[first.pk, second.pk, stranger.pk, unseen.pk])
        }
        assert status[first.pk] == status[second.pk] == (things.group.pk, Face.Status.CONFIRMED)
        assert status[stranger.pk][1] != Face.Status.CONFIRMED and status[stranger.pk][0] != things.group.pk
        assert FaceRejection.objects.filter(face=stranger, person=things.group).exists()
        # Never seen, never confirmed: it stays a suggestion for the named person, to review.
        assert status[unseen.pk] == (things.group.pk, Face.Status.SUGGESTED)

    def test_it_offers_the_person_who_has_the_name_already(self, things, alice):
        response = alice.post(reverse("person_naming", args=[things.group.pk]), {"name": "ann"})

        assert response.status_code == 409
        assert response.context["existing"] == things.ann
        assert Person.objects.get(pk=things.group.pk).name == ""

    def test_only_staff_rename_a_named_person(self, things, member, alice):
        url = reverse("person_naming", args=[things.ann.pk])

        assert alice.post(url, {"name": "Anne"}).status_code == 403
        member.is_staff = True
        member.save()
        assert alice.post(url, {"name": "Anne"}).status_code == 302
        assert Person.objects.get(pk=things.ann.pk).name == "Anne"


class TestPeopleMerge:
    def test_staff_merge_people(self, things, member, alice):
        member.is_staff = True
        member.save()

        response = alice.post(
            reverse("people_merge"), {"people": [things.ann.pk, things.group.pk], "keep": things.ann.pk}
        )

        assert response.status_code == 302 and response.url == things.ann.get_absolute_url()
        assert not Person.objects.filter(pk=things.group.pk).exists()
        assert Face.objects.get(pk=things.grouped.pk).person == things.ann

    def test_it_is_for_staff_only(self, things, alice):
        response = alice.post(
            reverse("people_merge"), {"people": [things.ann.pk, things.group.pk], "keep": things.ann.pk}
        )

        assert response.status_code == 404
        assert Person.objects.filter(pk=things.group.pk).exists()

    def test_it_needs_the_person_to_keep(self, things, member, alice):
        member.is_staff = True
        member.save()

        response = alice.post(
            reverse("people_merge"), {"people": [things.ann.pk, things.group.pk]}, follow=True
        )

        assert b"Select two or more people" in response.content
        assert Person.objects.filter(pk=things.group.pk).exists()
