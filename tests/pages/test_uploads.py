"""Uploads through the album page: each file gets its own result, a failure stops nothing."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tagging.models import Photo
from tests.pages import (
    STORED_ORIGINAL,
    _image,
    _json,
    _logged_in,
    _upload,
)

pytestmark = pytest.mark.django_db


# --- Uploads --------------------------------------------------------------------


def _multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    """A request body with a file name that the test client would clean up before sending."""
    boundary = "photosite-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


class TestAlbumUpload:
    def test_it_stores_a_photo_under_a_generated_name(self, album, alice, faces_dir):
        content = (faces_dir / "people/joe_biden/joe_biden_1.jpg").read_bytes()

        response = _upload(alice, album, SimpleUploadedFile("joe.jpg", content))

        photo = Photo.objects.get()
        assert response.status_code == 200
        assert response.json() == {
            "results": [{"name": "joe.jpg", "ok": True, "id": photo.pk, "url": photo.get_absolute_url()}]
        }
        assert photo.status == Photo.Status.PENDING and photo.display_name == "joe.jpg"
        assert STORED_ORIGINAL.fullmatch(photo.original.name)
        with photo.original.open("rb") as handle:
            assert handle.read() == content

    def test_it_never_uses_the_uploaded_name_as_a_path(self, album, alice):
        body, content_type = _multipart("../../etc/pa\x00sswd" + "x" * 300 + ".jpg", _image())

        response = alice.post(
            reverse("album_upload", args=[album.pk]), body, content_type=content_type, **_json()
        )

        [result] = response.json()["results"]
        photo = Photo.objects.get()
        assert result["ok"] and result["name"] == photo.display_name
        assert photo.display_name.startswith("passwdxxx") and photo.display_name.endswith(".jpg")
        assert len(photo.display_name) <= 120
        assert not any(c in photo.display_name for c in "/\\\x00")
        assert STORED_ORIGINAL.fullmatch(photo.original.name)

    def test_it_answers_for_each_file_and_a_failure_stops_nothing(self, album, alice, faces_dir):
        good = (faces_dir / "people/joe_biden/joe_biden_1.jpg").read_bytes()

        response = _upload(
            alice,
            album,
            SimpleUploadedFile("empty.jpg", b""),
            SimpleUploadedFile("letter.jpg", b"Dear Alice,\nthe photos are attached.\n"),
            SimpleUploadedFile("good.jpg", good),
            SimpleUploadedFile("again.jpg", good),
            SimpleUploadedFile("really-a-png.jpg", _image("PNG")),
        )

        results = response.json()["results"]
        assert response.status_code == 200
        assert [(r["name"], r["ok"]) for r in results] == [
            ("empty.jpg", False),
            ("letter.jpg", False),
            ("good.jpg", True),
            ("again.jpg", False),
            ("really-a-png.jpg", True),
        ]
        assert results[0]["error"] == "the file is empty"
        assert results[1]["error"].startswith("not an image")
        assert results[3]["error"] == "already in this album"
        assert sorted(album.photos.values_list("display_name", flat=True)) == ["good.jpg", "really-a-png.jpg"]

    def test_it_refuses_a_file_over_the_size_limit(self, album, alice, settings):
        settings.UPLOAD_MAX_BYTES = 2_000_000

        response = _upload(alice, album, SimpleUploadedFile("huge.jpg", _image() + b"\0" * 2_500_000))

        [result] = response.json()["results"]
        assert not result["ok"] and result["error"] == "too large: 2.5 MB; the limit is 2 MB"
        assert not Photo.objects.exists()
        assert not default_storage.exists("originals")

    def test_it_refuses_more_files_than_the_limit_with_a_clear_400(self, album, alice, settings):
        settings.UPLOAD_MAX_FILES_PER_REQUEST = 3
        files = [SimpleUploadedFile(f"{i}.jpg", _image(seed=i)) for i in range(4)]

        response = _upload(alice, album, *files)

        assert response.status_code == 400
        assert response.json() == {"error": "too many files in one request; the limit is 3"}
        assert not Photo.objects.exists()

    def test_it_answers_in_json_past_djangos_own_file_count_limit(self, album, member, settings):
        # The real path: CSRF enforced, token sent in the header like album.js does.
        client = _logged_in(member, enforce_csrf_checks=True)
        client.get(reverse("album", args=[album.pk]))
        token = client.cookies["csrftoken"].value
        files = [
            SimpleUploadedFile(f"{i}.jpg", b"x") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
        ]

        response = _upload(
            client, album, *files, headers={"accept": "application/json", "x-csrftoken": token}
        )

        assert response.status_code == 400
        assert "too many files" in response.json()["error"]

    def test_it_needs_a_file(self, album, alice):
        response = alice.post(reverse("album_upload", args=[album.pk]), {}, **_json())

        assert response.status_code == 400 and response.json() == {"error": "no file in the request"}

    def test_a_plain_form_post_goes_back_to_the_album_with_messages(self, album, alice):
        response = _upload(
            alice,
            album,
            SimpleUploadedFile("good.jpg", _image()),
            SimpleUploadedFile("letter.jpg", b"not a photo"),
            headers={},
        )

        assert response.status_code == 302 and response.url == album.get_absolute_url()
        page = alice.get(response.url).content.decode()
        assert "Added 1 of 2 files." in page
        assert "letter.jpg: not an image" in page
