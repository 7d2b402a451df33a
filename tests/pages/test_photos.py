"""Media behind the access checks, and the face actions of the photo page on photos
processed by the real models.
"""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tagging.models import Album, Face, FaceRejection, Person, Photo
from tagging.services import pipeline
from tests.pages import (
    GET_PAGES,
    _face,
    _image,
    _messages,
    _photo,
    _upload,
)

pytestmark = pytest.mark.django_db


# --- Media ----------------------------------------------------------------------


class TestMedia:
    def test_the_content_type_comes_from_the_bytes_not_the_name(self, album, alice):
        _upload(alice, album, SimpleUploadedFile("holiday.jpg", _image("PNG")))
        photo = Photo.objects.get()

        response = alice.get(reverse("photo_original", args=[photo.pk]))

        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"] == f'inline; filename="photo-{photo.pk}.png"'
        assert b"".join(response.streaming_content) == _image("PNG")

    @pytest.mark.parametrize("name", ["photo_original", "photo_thumbnail", "photo_preview", "face_crop"])
    def test_it_is_private_to_the_browser(self, name, things, alice):
        response = alice.get(GET_PAGES[name](things))

        assert response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"].startswith("private")

    def test_the_web_server_sends_the_bytes_when_configured(self, things, alice, settings):
        settings.MEDIA_ACCEL_REDIRECT = "/protected/"

        response = alice.get(reverse("photo_original", args=[things.photo.pk]))

        assert response.status_code == 200
        assert response["X-Accel-Redirect"] == f"/protected/{things.photo.original.name}"
        assert response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"].startswith("private")
        assert response.content == b""

    def test_a_photo_not_processed_yet_has_no_thumbnail(self, album, alice):
        photo = _photo(album, status=Photo.Status.PENDING)

        assert alice.get(reverse("photo_thumbnail", args=[photo.pk])).status_code == 404

    def test_a_file_gone_from_storage_is_a_404(self, things, alice):
        default_storage.delete(things.photo.preview.name)

        assert alice.get(reverse("photo_preview", args=[things.photo.pk])).status_code == 404


# --- Face actions on a photo processed by the real models -------------------------


def _processed(album: Album, path) -> Photo:
    photo = _photo(album, content=path.read_bytes(), name=path.name, status=Photo.Status.PENDING)
    pipeline.photo_process(photo_id=photo.pk)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.DONE, photo.error
    return photo


@pytest.fixture
def biden(album, faces_dir) -> tuple[Face, Face]:
    """The faces of two portraits of Joe Biden, each processed (and so grouped) for real."""
    first, second = (
        _processed(album, faces_dir / f"people/joe_biden/joe_biden_{n}.jpg").faces.get() for n in (1, 2)
    )
    return first, second


def _tag(client: Client, face: Face, name: str, **kwargs):
    return client.post(reverse("face_tag", args=[face.pk]), {"name": name}, **kwargs)


class TestPhotoPage:
    def test_it_shows_each_face_with_what_can_be_done(self, biden, alice):
        first, second = biden
        _tag(alice, first, "Joe Biden")

        page = alice.get(reverse("photo", args=[second.photo_id])).content.decode()

        assert "Yes, Joe Biden" in page
        assert reverse("face_confirm", args=[second.pk]) in page
        assert reverse("face_reject", args=[second.pk]) in page
        assert reverse("photo", args=[first.photo_id]) in page  # previous photo in the album


class TestFaceTag:
    def test_it_creates_the_person_and_confirms(self, biden, alice):
        first, second = biden

        response = _tag(alice, first, "Joe Biden")

        first.refresh_from_db()
        assert response.status_code == 302 and response.url == first.photo.get_absolute_url()
        assert first.status == Face.Status.CONFIRMED and first.person.name == "Joe Biden"
        # Recognition ran: the other portrait is now a suggestion for the new person.
        second.refresh_from_db()
        assert (second.status, second.person) == (Face.Status.SUGGESTED, first.person)

    def test_it_reuses_a_person_of_that_name(self, biden, alice):
        joe = Person.objects.create(name="Joe Biden")
        # Someone alice may know of: tagged on one of her photos.
        _face(biden[0].photo, person=joe, status=Face.Status.CONFIRMED, x=0.8)

        _tag(alice, biden[0], "joe biden")

        assert Person.objects.filter(name__iexact="joe biden").count() == 1
        assert Face.objects.get(pk=biden[0].pk).person == joe

    def test_it_says_who_was_tagged_on_the_photo_page(self, biden, alice):
        response = _tag(alice, biden[0], "Joe Biden", follow=True)

        assert response.redirect_chain[-1][0] == biden[0].photo.get_absolute_url()
        assert "Tagged Joe Biden." in _messages(response)

    def test_it_needs_a_name(self, biden, alice):
        response = _tag(alice, biden[0], "   ", follow=True)

        assert response.redirect_chain[-1][0] == biden[0].photo.get_absolute_url()
        assert _messages(response)[-1] == "a name is needed"
        assert Face.objects.get(pk=biden[0].pk).status != Face.Status.CONFIRMED

    def test_it_goes_back_to_a_local_page_only(self, biden, alice):
        face = biden[0]
        people = reverse("people")

        local = alice.post(reverse("face_tag", args=[face.pk]), {"name": "Joe Biden", "next": people})
        away = alice.post(reverse("face_untag", args=[face.pk]), {"next": "https://evil.example/"})

        assert local.url == people
        assert away.url == face.photo.get_absolute_url()


class TestFaceConfirm:
    def test_it_confirms_a_suggestion(self, biden, alice):
        first, second = biden
        _tag(alice, first, "Joe Biden")

        response = alice.post(reverse("face_confirm", args=[second.pk]), follow=True)

        assert _messages(response)[-1] == "Tagged Joe Biden."
        second.refresh_from_db()
        assert second.status == Face.Status.CONFIRMED and second.distance is None

    def test_it_refuses_a_face_with_no_suggestion(self, biden, alice):
        first, _ = biden
        _tag(alice, first, "Joe Biden")

        response = alice.post(reverse("face_confirm", args=[first.pk]), follow=True)

        assert response.redirect_chain[-1][0] == first.photo.get_absolute_url()
        assert _messages(response)[-1] == "this face has no suggestion to confirm"

    def test_a_plain_form_post_redirects_with_a_message(self, biden, alice):
        first, second = biden
        _tag(alice, first, "Joe Biden")

        response = alice.post(reverse("face_confirm", args=[second.pk]), follow=True)

        assert response.redirect_chain[-1][0] == second.photo.get_absolute_url()
        assert b"Tagged Joe Biden." in response.content


class TestFaceReject:
    def test_it_rejects_a_suggestion_and_remembers(self, biden, alice):
        first, second = biden
        _tag(alice, first, "Joe Biden")

        joe = Person.objects.get(name="Joe Biden")

        response = alice.post(reverse("face_reject", args=[second.pk]), follow=True)

        assert _messages(response)[-1] == "Noted: not Joe Biden."
        second.refresh_from_db()
        assert second.person_id != joe.pk
        assert FaceRejection.objects.filter(face=second, person=joe).exists()
        # Tagging the first face again does not bring the rejected suggestion back.
        alice.post(reverse("face_untag", args=[first.pk]))
        _tag(alice, first, "Joe Biden")
        second.refresh_from_db()
        assert second.person_id != joe.pk

    def test_it_refuses_a_confirmed_face(self, biden, alice):
        _tag(alice, biden[0], "Joe Biden")

        response = alice.post(reverse("face_reject", args=[biden[0].pk]), follow=True)

        assert _messages(response)[-1] == "this face has no suggestion to reject"
        assert Face.objects.get(pk=biden[0].pk).status == Face.Status.CONFIRMED


class TestFaceUntag:
    def test_it_removes_the_tag(self, biden, alice):
        first, second = biden
        _tag(alice, first, "Joe Biden")

        response = alice.post(reverse("face_untag", args=[first.pk]), follow=True)

        assert _messages(response)[-1] == "Removed the tag Joe Biden."
        first.refresh_from_db()
        assert first.person is None and first.status == Face.Status.UNASSIGNED
        # The suggestion that rested on this tag is withdrawn.
        second.refresh_from_db()
        assert not (second.status == Face.Status.SUGGESTED and second.person.name == "Joe Biden")

    def test_it_refuses_a_face_that_is_not_tagged(self, biden, alice):
        response = alice.post(reverse("face_untag", args=[biden[0].pk]), follow=True)

        assert _messages(response)[-1] == "this face is not tagged"
