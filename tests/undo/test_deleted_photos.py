"""Deleted photos: gone everywhere at once, back with their files on undo, purged after the period."""

import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from tagging.models import Album, Face, Photo, Undo
from tagging.services import undo as undo_services
from tests.pages import _face, _logged_in, _photo
from tests.undo import _latest, _undo

pytestmark = pytest.mark.django_db


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
