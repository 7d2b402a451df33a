"""Every kind of change put back exactly: the rows compared before and after."""

import time
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from tagging.models import Album, Face, FaceRejection, Person, Photo, Undo
from tests.pages import _face, _photo
from tests.undo import _latest, _rows, _suggested, _undo, _undone_exactly

pytestmark = pytest.mark.django_db


class TestEachKindIsUndoneExactly:
    def test_confirm(self, alice, trip, anna):
        face = _suggested(trip, anna)
        before = _rows()

        alice.post(reverse("face_confirm", args=[face.pk]))
        assert Person.objects.get(pk=anna.pk).cover_face_id == face.pk

        _undone_exactly(alice, before, kind=Undo.Kind.CONFIRM)

    def test_bulk_confirm_in_the_review_grid(self, alice, trip, anna):
        faces = [_suggested(trip, anna, distance=0.01 * i) for i in range(1, 4)]
        before = _rows()

        response = alice.post(
            reverse("person_review", args=[anna.pk]), {"faces": [f.pk for f in faces]}, follow=True
        )
        assert "Confirmed 3 faces as Anna." in response.content.decode()

        _undone_exactly(alice, before, kind=Undo.Kind.CONFIRM)

    def test_not_a_face_of_a_tagged_cover(self, alice, trip, anna):
        face = _face(_photo(trip), person=anna, status=Face.Status.CONFIRMED)
        Person.objects.filter(pk=anna.pk).update(cover_face=face)
        before = _rows(derived=False)

        alice.post(reverse("face_not_a_face", args=[face.pk]))
        assert Face.all_objects.get(pk=face.pk).status == Face.Status.NOT_A_FACE
        assert Person.objects.get(pk=anna.pk).cover_face_id is None

        _undone_exactly(alice, before, kind=Undo.Kind.NOT_A_FACE, derived=False)

    def test_reject(self, alice, trip, anna):
        face = _suggested(trip, anna)
        before = _rows()

        alice.post(reverse("face_reject", args=[face.pk]))
        assert FaceRejection.objects.filter(face=face, person=anna).exists()

        _undone_exactly(alice, before, kind=Undo.Kind.REJECT)

    def test_bulk_reject_is_one_undo(self, alice, trip, anna):
        faces = [_suggested(trip, anna, distance=0.01 * i) for i in range(1, 3)]
        before = _rows()

        alice.post(
            reverse("person_review", args=[anna.pk]), {"faces": [f.pk for f in faces], "action": "reject"}
        )
        assert Undo.objects.count() == 1

        _undone_exactly(alice, before, kind=Undo.Kind.REJECT)

    def test_reject_of_a_group_the_machine_then_deleted(self, alice, trip):
        group = Person.objects.create()
        face = _suggested(trip, group)
        before = _rows()

        alice.post(reverse("face_reject", args=[face.pk]))
        assert not Person.objects.filter(pk=group.pk).exists()  # its last face left it

        _undone_exactly(alice, before, kind=Undo.Kind.REJECT)

    def test_naming_a_face_removes_the_person_it_created(self, alice, trip):
        face = _face(_photo(trip))
        before = _rows()

        alice.post(reverse("face_tag", args=[face.pk]), {"name": "Zoe"})
        assert Person.objects.filter(name="Zoe").exists()

        _undone_exactly(alice, before, kind=Undo.Kind.NAME)

    def test_naming_a_face_brings_back_the_rejection_it_overrode(self, alice, member, trip, anna):
        face = _face(_photo(trip))
        FaceRejection.objects.create(face=face, person=anna, rejected_by=member)
        before = _rows()

        alice.post(reverse("face_tag", args=[face.pk]), {"name": "Anna"})
        assert not FaceRejection.objects.filter(face=face).exists()

        _undone_exactly(alice, before, kind=Undo.Kind.NAME)

    def test_naming_a_group(self, alice, trip):
        group = Person.objects.create()
        kept = [_suggested(trip, group, distance=None), _suggested(trip, group, distance=None)]
        left_out = _suggested(trip, group, distance=None)
        before = _rows()

        alice.post(
            reverse("person_naming", args=[group.pk]),
            {"name": "Ben", "shown": [f.pk for f in [*kept, left_out]], "faces": [f.pk for f in kept]},
        )
        assert Person.objects.get(pk=group.pk).name == "Ben"
        assert FaceRejection.objects.filter(face=left_out).exists()

        _undone_exactly(alice, before, kind=Undo.Kind.NAME)

    def test_naming_a_group_puts_back_faces_the_member_cannot_see(self, alice, bob_user, trip):
        group = Person.objects.create()
        seen = _suggested(trip, group, distance=None)
        private = Album.objects.create(owner=bob_user, title="Bob's")
        unseen = _suggested(private, group, distance=None)
        before = _rows()

        alice.post(reverse("person_naming", args=[group.pk]), {"name": "Ben"})
        assert Face.objects.get(pk=unseen.pk).person_id != group.pk  # split off, unnamed
        assert Face.objects.get(pk=seen.pk).status == Face.Status.CONFIRMED

        _undone_exactly(alice, before, kind=Undo.Kind.NAME)

    def test_delete_photo(self, alice, trip, anna):
        photo = Photo.objects.get(faces__person=anna)
        Person.objects.filter(pk=anna.pk).update(cover_face=photo.faces.get())
        before = _rows()

        alice.post(reverse("photo_delete", args=[photo.pk]))
        assert not Photo.objects.filter(pk=photo.pk).exists()

        _undone_exactly(alice, before, kind=Undo.Kind.DELETE)

    def test_delete_several_photos(self, alice, trip):
        photos = [_photo(trip), _photo(trip)]
        before = _rows()

        alice.post(
            reverse("album_photos", args=[trip.pk]),
            {"photos": [p.pk for p in photos], "action": "delete", "confirmed": "yes"},
        )
        assert _latest().message == "Deleted 2 photos."

        _undone_exactly(alice, before, kind=Undo.Kind.DELETE)


def test_a_box_back_from_not_a_face_is_embedded_again(celery_worker, client, member, faces_dir):
    from tests.library import processed_photo

    album = Album.objects.create(owner=member, title="Back")
    face = processed_photo(album, faces_dir, "people/joe_biden/joe_biden_1.jpg").faces.get()
    client.force_login(member)

    client.post(reverse("face_not_a_face", args=[face.pk]))
    gone = Face.all_objects.get(pk=face.pk)
    assert gone.embedding is None and not gone.crop
    _undo(client, _latest())

    deadline = timezone.now() + timedelta(seconds=60)
    while Face.objects.get(pk=face.pk).embedding is None and timezone.now() < deadline:
        time.sleep(0.2)
    back = Face.objects.get(pk=face.pk)
    assert back.status == face.status and back.crop
    # The same box, cut and embedded again: the same face to the network.
    distance = 1 - float(np.dot(np.asarray(back.embedding), np.asarray(face.embedding)))
    assert distance < 0.02
