"""Undo: every kind of change put back exactly (the rows compared before and after),
for the undo period and across a reload, by its member only, never over newer work."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from tagging.models import Album, Face, FaceRejection, Person, Photo, Undo
from tagging.services import undo as undo_services
from tests.test_views import _face, _json, _logged_in, _photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(member):
    return _logged_in(member)


@pytest.fixture
def bob_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="another horse battery")


@pytest.fixture
def trip(member) -> Album:
    return Album.objects.create(owner=member, title="Trip", visibility=Album.Visibility.MEMBERS)


@pytest.fixture
def anna(trip) -> Person:
    """Anna, with one confirmed face (and no cover yet: the next tag sets it)."""
    anna = Person.objects.create(name="Anna")
    _face(_photo(trip), person=anna, status=Face.Status.CONFIRMED)
    return anna


def _suggested(trip, person, *, distance=0.05, x=0.1) -> Face:
    face = _face(_photo(trip), person=person, status=Face.Status.SUGGESTED, x=x)
    Face.objects.filter(pk=face.pk).update(distance=distance)
    return Face.objects.get(pk=face.pk)


def _rows() -> dict:
    """Every row an undo may touch, all their fields (embeddings aside: these faces have none)."""
    face_fields = [f.attname for f in Face._meta.concrete_fields if f.name != "embedding"]
    return {
        "faces": sorted(Face.objects.values_list(*face_fields)),
        "rejections": sorted(FaceRejection.objects.values_list()),
        "people": sorted(Person.objects.values_list()),
        "photos": sorted(Photo.all_objects.values_list()),
    }


def _undo(client, undo: Undo, **kwargs):
    return client.post(reverse("undo", args=[undo.pk]), {"next": "/people/"}, **kwargs)


def _latest() -> Undo:
    return Undo.objects.latest("created_at")


def _undone_exactly(client, before: dict, *, kind: str) -> None:
    undo = _latest()
    assert undo.kind == kind
    assert _rows() != before  # the action changed something
    response = _undo(client, undo, follow=True)
    assert response.status_code == 200
    assert f"Undone: {undo.message}" in response.content.decode()
    assert _rows() == before


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
            reverse("person_name", args=[group.pk]),
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

        alice.post(reverse("person_name", args=[group.pk]), {"name": "Ben"})
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


class TestTheUndoPeriod:
    def test_it_still_works_after_30_seconds(self, alice, trip, anna):
        face = _suggested(trip, anna)
        before = _rows()
        alice.post(reverse("face_confirm", args=[face.pk]))
        Undo.objects.update(created_at=timezone.now() - timedelta(seconds=31))

        _undone_exactly(alice, before, kind=Undo.Kind.CONFIRM)

    def test_it_is_refused_once_expired(self, alice, trip, anna, settings):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        Undo.objects.update(created_at=timezone.now() - timedelta(seconds=settings.UNDO_SECONDS + 1))
        after = _rows()

        response = _undo(alice, _latest(), follow=True)

        assert "Not undone: too late: an action can be undone for 10 minutes." in response.content.decode()
        assert _rows() == after
        assert b'id="undo-button"' not in alice.get(reverse("people")).content

    def test_a_reload_shows_the_undo_again_while_it_is_valid(self, alice, trip, anna):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        undo = _latest()

        for _ in range(2):  # the page again, and again: the offer stays
            page = alice.get(reverse("photo", args=[face.photo_id])).content.decode()
            assert reverse("undo", args=[undo.pk]) in page
            assert "Tagged Anna." in page
        assert "Can be undone for 10 minutes" in page

        _undo(alice, undo)
        assert reverse("undo", args=[undo.pk]) not in alice.get(reverse("people")).content.decode()

    def test_closing_the_message_stops_the_offer(self, alice, trip, anna):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        undo = _latest()

        alice.post(reverse("undo_dismiss", args=[undo.pk]))

        assert reverse("undo", args=[undo.pk]) not in alice.get(reverse("people")).content.decode()

    def test_it_is_undone_once(self, alice, trip, anna):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        undo = _latest()
        _undo(alice, undo)

        response = _undo(alice, undo, **_json())

        assert response.status_code == 409 and response.json()["error"] == "this was undone already"


class TestWhoMayUndo:
    def test_another_members_undo_is_missing(self, alice, bob_user, trip, anna, django_user_model):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        after = _rows()
        staff = django_user_model.objects.create_user(username="root", password="x", is_staff=True)

        for user in (bob_user, staff):
            client = _logged_in(user)
            assert _undo(client, _latest()).status_code == 404
            assert client.post(reverse("undo_dismiss", args=[_latest().pk])).status_code == 404
            assert reverse("undo", args=[_latest().pk]) not in client.get(reverse("people")).content.decode()
        assert _undo(alice, Undo(pk=987654)).status_code == 404
        assert _rows() == after

    def test_objects_out_of_sight_make_it_missing(self, bob_user, trip, anna):
        bob = _logged_in(bob_user)
        face = _suggested(trip, anna)
        bob.post(reverse("face_confirm", args=[face.pk]))
        Album.objects.filter(pk=trip.pk).update(visibility=Album.Visibility.PRIVATE)

        assert _undo(bob, _latest()).status_code == 404
        assert Face.objects.get(pk=face.pk).status == Face.Status.CONFIRMED

    def test_it_is_refused_over_newer_work(self, alice, bob_user, trip, anna):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        bob = _logged_in(bob_user)
        bob.post(reverse("face_untag", args=[face.pk]))
        bob.post(reverse("face_tag", args=[face.pk]), {"name": "Ben"})
        after = _rows()

        response = _undo(alice, Undo.objects.filter(user__username="alice").get(), follow=True)

        assert "Not undone: a face it changed was tagged again meanwhile." in response.content.decode()
        assert _rows() == after

    def test_the_scripts_get_the_undo_in_the_reply(self, alice, trip, anna):
        face = _suggested(trip, anna)

        reply = alice.post(reverse("face_confirm", args=[face.pk]), **_json()).json()

        undo = _latest()
        assert reply["message"] == "Tagged Anna."
        assert reply["undo"]["url"] == reverse("undo", args=[undo.pk])
        assert _undo(alice, undo, **_json()).json() == {"ok": True, "message": "Undone: Tagged Anna."}
        assert Face.objects.get(pk=face.pk).status == Face.Status.SUGGESTED


class TestDeletedPhotos:
    def test_a_deleted_photo_is_gone_everywhere_and_comes_back_with_its_files(self, alice, trip, anna):
        photo = _photo(trip, name="beach.jpg")
        face = _face(photo, person=anna, status=Face.Status.CONFIRMED)
        files = [photo.original.name, photo.thumbnail.name, photo.preview.name, face.crop.name]
        urls = [
            reverse("photo", args=[photo.pk]),
            reverse("photo_original", args=[photo.pk]),
            reverse("photo_thumbnail", args=[photo.pk]),
            reverse("photo_preview", args=[photo.pk]),
            reverse("face_crop", args=[face.pk]),
        ]
        assert all(alice.get(url).status_code == 200 for url in urls)

        alice.post(reverse("photo_delete", args=[photo.pk]))

        assert [alice.get(url).status_code for url in urls] == [404] * len(urls)
        album_page = alice.get(trip.get_absolute_url()).content.decode()
        assert reverse("photo", args=[photo.pk]) not in album_page
        assert "Deleted “beach.jpg”." in album_page  # the message, with its Undo
        assert "1 photo" in alice.get(reverse("home")).content.decode()  # Anna's other photo only
        person_page = alice.get(reverse("person", args=[anna.pk])).content.decode()
        assert reverse("photo", args=[photo.pk]) not in person_page
        search = alice.get(reverse("search"), {"q": "Anna"}).content.decode()
        assert reverse("photo", args=[photo.pk]) not in search
        assert all(default_storage.exists(name) for name in files)  # kept for the undo

        _undo(alice, _latest())

        assert all(alice.get(url).status_code == 200 for url in urls)
        assert all(default_storage.exists(name) for name in files)

    def test_the_purge_deletes_rows_and_files_after_the_period(
        self, alice, trip, settings, django_capture_on_commit_callbacks
    ):
        old, recent = _photo(trip), _photo(trip)
        face = _face(old)
        files = [old.original.name, old.thumbnail.name, old.preview.name, face.crop.name]
        alice.post(reverse("photo_delete", args=[old.pk]))
        alice.post(reverse("photo_delete", args=[recent.pk]))
        past = timezone.now() - timedelta(seconds=settings.UNDO_SECONDS + 1)
        Photo.all_objects.filter(pk=old.pk).update(deleted_at=past)

        with django_capture_on_commit_callbacks(execute=True):
            assert undo_services.expired_purge() == 1

        assert not Photo.all_objects.filter(pk=old.pk).exists()
        assert not Face.objects.filter(pk=face.pk).exists()
        assert not any(default_storage.exists(name) for name in files)
        assert Photo.all_objects.filter(pk=recent.pk).exists()  # still within its period
        assert default_storage.exists(recent.original.name)

    def test_undo_is_refused_when_the_file_was_uploaded_again(self, alice, trip):
        photo = _photo(trip, name="beach.jpg")
        alice.post(reverse("photo_delete", args=[photo.pk]))
        again = _photo(trip, name="beach.jpg")
        Photo.objects.filter(pk=again.pk).update(content_hash=photo.content_hash)

        response = _undo(alice, _latest(), follow=True)

        assert "“beach.jpg” was uploaded to its album again meanwhile" in response.content.decode()
        assert Photo.all_objects.get(pk=photo.pk).deleted_at is not None

    def test_another_member_cannot_undo_a_deletion(self, alice, bob_user, trip):
        photo = _photo(trip)
        alice.post(reverse("photo_delete", args=[photo.pk]))

        assert _undo(_logged_in(bob_user), _latest()).status_code == 404
        assert Photo.all_objects.get(pk=photo.pk).deleted_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_purges_on_a_real_worker(celery_worker, member, settings):
    import time

    from photosite.celery import app
    from tagging.services import albums

    album = Album.objects.create(owner=member, title="Old")
    photo = _photo(album)
    face = _face(photo)
    files = [photo.original.name, photo.thumbnail.name, photo.preview.name, face.crop.name]
    albums.photo_delete(photo=photo, user=member)
    Photo.all_objects.update(deleted_at=timezone.now() - timedelta(seconds=settings.UNDO_SECONDS + 1))
    schedule = settings.CELERY_BEAT_SCHEDULE["purge-deleted"]
    assert schedule["schedule"] == settings.UNDO_PURGE_INTERVAL

    app.tasks[schedule["task"]].delay()

    deadline = time.monotonic() + 60
    while Photo.all_objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Photo.all_objects.exists() and not Face.objects.exists()
    assert not any(default_storage.exists(name) for name in files)


@pytest.mark.django_db(transaction=True)
def test_a_photo_deleted_while_processing_is_processed_after_the_undo(celery_worker, member, faces_dir):
    import time

    from tagging.services import albums, pipeline
    from tagging.services.uploads import photo_upload

    album = Album.objects.create(owner=member, title="Busy")
    with (faces_dir / "people/joe_biden/joe_biden_1.jpg").open("rb") as source:
        photo = photo_upload(album=album, uploader=member, source=source, name="a.jpg", enqueue=False)
    assert pipeline.photo_claim(photo_id=photo.pk, token="gone-worker")
    albums.photo_delete(photo=photo, user=member)

    undo_services.undo_apply(undo=Undo.objects.get(user=member))

    deadline = time.monotonic() + 120
    while Photo.objects.get(pk=photo.pk).status != Photo.Status.DONE and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.DONE
    assert Face.objects.filter(photo=photo).count() == 1
