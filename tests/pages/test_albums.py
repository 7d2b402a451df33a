"""Album pages: create, edit, delete, live status and retry."""

import re

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from tagging.models import Album, Face, Photo
from tests.pages import (
    _logged_in,
    _photo,
)

pytestmark = pytest.mark.django_db


# --- Album pages ----------------------------------------------------------------


class TestAlbumCreate:
    def test_it_shows_the_form(self, alice):
        response = alice.get(reverse("album_create"))

        assert response.status_code == 200
        assert b'name="title"' in response.content

    def test_it_creates_an_album_of_the_member(self, member, alice):
        response = alice.post(reverse("album_create"), {"title": "  Summer  ", "visibility": "members"})

        album = Album.objects.get()
        assert response.status_code == 302 and response.url == album.get_absolute_url()
        assert (album.owner, album.title, album.visibility) == (member, "Summer", "members")

    def test_it_accepts_the_token_from_its_own_form(self, member):
        client = _logged_in(member, enforce_csrf_checks=True)
        page = client.get(reverse("album_create")).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

        response = client.post(
            reverse("album_create"), {"title": "A", "visibility": "private", "csrfmiddlewaretoken": token}
        )

        assert response.status_code == 302 and Album.objects.filter(title="A").exists()

    def test_it_rejects_an_unknown_visibility(self, alice):
        response = alice.post(reverse("album_create"), {"title": "A", "visibility": "public"})

        assert response.status_code == 200 and not Album.objects.exists()


class TestAlbumEdit:
    def test_it_renames_and_shares(self, things, alice):
        response = alice.post(
            reverse("album_edit", args=[things.album.pk]),
            {"title": "Shared", "visibility": "members"},
            follow=True,
        )

        things.album.refresh_from_db()
        assert (things.album.title, things.album.visibility) == ("Shared", "members")
        assert b"Album saved." in response.content

    def test_it_says_why_an_edit_failed(self, things, alice):
        response = alice.post(
            reverse("album_edit", args=[things.album.pk]), {"title": "", "visibility": "members"}, follow=True
        )

        things.album.refresh_from_db()
        assert things.album.title == "Private"
        assert b"The album was not saved" in response.content


class TestAlbumDelete:
    def test_it_asks_first(self, things, alice):
        response = alice.get(reverse("album_delete", args=[things.album.pk]))

        assert response.status_code == 200
        assert b"Its 2 photos" in response.content
        assert Album.objects.filter(pk=things.album.pk).exists()

    def test_it_deletes_the_album_its_photos_and_their_files(
        self, things, alice, django_capture_on_commit_callbacks
    ):
        original = things.photo.original.name
        with django_capture_on_commit_callbacks(execute=True):
            response = alice.post(reverse("album_delete", args=[things.album.pk]))

        assert response.status_code == 302 and response.url == reverse("home")
        assert not Album.objects.exists() and not Photo.objects.exists() and not Face.objects.exists()
        assert not default_storage.exists(original)


class TestAlbumStatus:
    def test_it_reports_each_photo_and_whether_all_are_settled(self, things, alice):
        pending = _photo(things.album, status=Photo.Status.PENDING)

        body = alice.get(reverse("album_status", args=[things.album.pk])).json()

        by_id = {photo["id"]: photo for photo in body["photos"]}
        assert by_id[things.photo.pk]["faces"] == 4
        assert by_id[things.failed.pk]["error"] == "detector crashed"
        assert by_id[pending.pk]["status"] == "pending" and by_id[pending.pk]["thumbnail"] == ""
        assert body["settled"] is False


class TestPhotoRetry:
    def test_it_sends_a_failed_photo_back(self, things, alice):
        response = alice.post(reverse("photo_retry", args=[things.failed.pk]))

        things.failed.refresh_from_db()
        assert response.status_code == 302 and response.url == things.album.get_absolute_url()
        assert (things.failed.status, things.failed.error, things.failed.attempts) == ("pending", "", 0)

    def test_it_leaves_a_done_photo_alone(self, things, alice):
        alice.post(reverse("photo_retry", args=[things.photo.pk]))

        things.photo.refresh_from_db()
        assert things.photo.status == Photo.Status.DONE
