"""The member site through its URLs: who may do what, uploads, media, face actions, people.

Requests go through the whole middleware stack (sessions, CSRF, messages) and
the real PostgreSQL. Face actions run on photos processed by the real models.
"""

import io
import re
import uuid
from dataclasses import dataclass

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from PIL import Image

from tagging.models import Album, Face, FaceRejection, Person, Photo
from tagging.services import pipeline

pytestmark = pytest.mark.django_db

STORED_ORIGINAL = re.compile(r"originals/[0-9a-f]{2}/[0-9a-f]{32}")


# --- Helpers and fixtures -------------------------------------------------------


def _image(fmt: str = "JPEG", *, seed: int = 0, size=(64, 48)) -> bytes:
    """A small valid image; a different ``seed`` gives different bytes (and hash)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, 120)).save(buffer, fmt)
    return buffer.getvalue()


def _photo(album: Album, *, content: bytes | None = None, name="photo.jpg", **fields) -> Photo:
    """A photo with its original, thumbnail and preview stored, as if processed."""
    fields.setdefault("status", Photo.Status.DONE)
    photo = Photo(
        album=album,
        uploaded_by=album.owner,
        display_name=name,
        content_hash=uuid.uuid4().hex,
        **fields,
    )
    photo.original.save("x", ContentFile(content or _image()), save=False)
    if photo.status == Photo.Status.DONE:
        photo.thumbnail.save("x", ContentFile(_image(seed=1)), save=False)
        photo.preview.save("x", ContentFile(_image(seed=2)), save=False)
    photo.save()
    return photo


def _face(photo: Photo, *, person: Person | None = None, status=Face.Status.UNASSIGNED, x=0.1) -> Face:
    face = Face(photo=photo, x=x, y=0.1, w=0.2, h=0.2, model_name="Dlib", person=person, status=status)
    face.crop.save("x", ContentFile(_image(seed=3)), save=False)
    face.save()
    return face


def _logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _json(**headers) -> dict:
    return {"headers": {"accept": "application/json", **headers}}


def _login_url(path: str) -> str:
    return f"{reverse('login')}?next={path}"


def _state() -> tuple:
    """Everything a POST endpoint might change, to show that a refused one changed nothing."""
    return (
        sorted(Album.objects.values_list("pk", "title", "visibility")),
        sorted(Photo.objects.values_list("pk", "status", "album_id")),
        sorted(Face.objects.values_list("pk", "status", "person_id")),
        sorted(Person.objects.values_list("pk", "name")),
        FaceRejection.objects.count(),
    )


@pytest.fixture
def other(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="another horse battery")


@pytest.fixture
def alice(member) -> Client:
    return _logged_in(member)


@pytest.fixture
def bob(other) -> Client:
    return _logged_in(other)


@dataclass
class Things:
    """Alice's private album and one object of each kind an endpoint acts on."""

    album: Album
    photo: Photo
    failed: Photo
    ann: Person
    group: Person
    suggested: Face
    confirmed: Face
    unassigned: Face
    grouped: Face


@pytest.fixture
def things(member) -> Things:
    album = Album.objects.create(owner=member, title="Private")
    photo = _photo(album)
    failed = _photo(album, status=Photo.Status.FAILED, error="detector crashed")
    ann, group = Person.objects.create(name="Ann"), Person.objects.create()
    return Things(
        album=album,
        photo=photo,
        failed=failed,
        ann=ann,
        group=group,
        suggested=_face(photo, person=ann, status=Face.Status.SUGGESTED, x=0.0),
        confirmed=_face(photo, person=ann, status=Face.Status.CONFIRMED, x=0.25),
        unassigned=_face(photo, x=0.5),
        grouped=_face(photo, person=group, status=Face.Status.SUGGESTED, x=0.75),
    )


# --- Every POST endpoint: GET refused, CSRF enforced, others' objects refused --------

# name -> (url, form data) for a request that would succeed for alice.
POST_ENDPOINTS = {
    "album_create": lambda t: (reverse("album_create"), {"title": "New", "visibility": "private"}),
    "album_edit": lambda t: (
        reverse("album_edit", args=[t.album.pk]),
        {"title": "Renamed", "visibility": "members"},
    ),
    "album_delete": lambda t: (reverse("album_delete", args=[t.album.pk]), {}),
    "album_upload": lambda t: (
        reverse("album_upload", args=[t.album.pk]),
        {"files": SimpleUploadedFile("new.jpg", _image(seed=9))},
    ),
    "photo_retry": lambda t: (reverse("photo_retry", args=[t.failed.pk]), {}),
    "photo_delete": lambda t: (reverse("photo_delete", args=[t.photo.pk]), {}),
    "album_photos_delete": lambda t: (
        reverse("album_photos", args=[t.album.pk]),
        {"photos": [t.photo.pk], "action": "delete", "confirmed": "yes"},
    ),
    "album_photos_move": lambda t: (
        reverse("album_photos", args=[t.album.pk]),
        {
            "photos": [t.photo.pk],
            "action": "move",
            "target": Album.objects.create(owner=t.album.owner, title="Other").pk,
        },
    ),
    "face_confirm": lambda t: (reverse("face_confirm", args=[t.suggested.pk]), {}),
    "face_reject": lambda t: (reverse("face_reject", args=[t.suggested.pk]), {}),
    "face_tag": lambda t: (reverse("face_tag", args=[t.unassigned.pk]), {"name": "Zoe"}),
    "face_untag": lambda t: (reverse("face_untag", args=[t.confirmed.pk]), {}),
    "person_review": lambda t: (
        reverse("person_review", args=[t.ann.pk]),
        {"faces": [t.suggested.pk], "action": "confirm"},
    ),
    "person_naming": lambda t: (reverse("person_naming", args=[t.group.pk]), {"name": "Zed"}),
    "people_merge": lambda t: (reverse("people_merge"), {"people": [t.ann.pk, t.group.pk], "keep": t.ann.pk}),
}
POST_ONLY = [name for name in POST_ENDPOINTS if name not in ("album_create", "album_delete", "photo_delete")]

# What another member gets for alice's objects: the 404 of a missing one. people_merge
# is for staff, and a staff page does not exist for a member.
REFUSED_FOR_OTHERS = [
    pytest.param("album_edit", 404),
    pytest.param("album_delete", 404),
    pytest.param("album_upload", 404),
    pytest.param("photo_retry", 404),
    pytest.param("photo_delete", 404),
    pytest.param("album_photos_delete", 404),
    pytest.param("album_photos_move", 404),
    pytest.param("face_confirm", 404),
    pytest.param("face_reject", 404),
    pytest.param("face_tag", 404),
    pytest.param("face_untag", 404),
    pytest.param("person_review", 404),
    pytest.param("person_naming", 404),
    pytest.param("people_merge", 404),
]


class TestPostEndpoints:
    @pytest.mark.parametrize("name", POST_ONLY)
    def test_it_rejects_get(self, name, things, alice):
        url, _ = POST_ENDPOINTS[name](things)

        assert alice.get(url).status_code == 405

    @pytest.mark.parametrize("name", list(POST_ENDPOINTS))
    def test_it_works_for_the_owner(self, name, things, member, alice):
        # The control for the refusals below: the same request does change something.
        member.is_staff = True
        member.save()
        url, data = POST_ENDPOINTS[name](things)
        before = _state()

        response = alice.post(url, data)

        assert response.status_code in (200, 302)
        assert _state() != before

    @pytest.mark.parametrize("name", list(POST_ENDPOINTS))
    def test_it_requires_csrf(self, name, things, member):
        # Staff, so that nothing but the missing token can be the reason for a refusal.
        member.is_staff = True
        member.save()
        url, data = POST_ENDPOINTS[name](things)
        before = _state()

        response = _logged_in(member, enforce_csrf_checks=True).post(url, data)

        assert response.status_code == 403
        assert _state() == before

    @pytest.mark.parametrize(("name", "status"), REFUSED_FOR_OTHERS)
    def test_it_refuses_another_members_objects(self, name, status, things, bob):
        url, data = POST_ENDPOINTS[name](things)
        before = _state()

        response = bob.post(url, data)

        assert response.status_code == status
        assert _state() == before

    @pytest.mark.parametrize("name", list(POST_ENDPOINTS))
    def test_it_sends_anonymous_users_to_log_in(self, name, things, client):
        url, data = POST_ENDPOINTS[name](things)
        before = _state()

        response = client.post(url, data)

        assert response.status_code == 302 and response.url == f"{reverse('login')}?next={url}"
        assert _state() == before


# --- Reading: private albums are their owner's, members' albums everyone's ----------

GET_PAGES = {
    "album": lambda t: reverse("album", args=[t.album.pk]),
    "album_status": lambda t: reverse("album_status", args=[t.album.pk]),
    "photo": lambda t: reverse("photo", args=[t.photo.pk]),
    "photo_original": lambda t: reverse("photo_original", args=[t.photo.pk]),
    "photo_thumbnail": lambda t: reverse("photo_thumbnail", args=[t.photo.pk]),
    "photo_preview": lambda t: reverse("photo_preview", args=[t.photo.pk]),
    "face_crop": lambda t: reverse("face_crop", args=[t.confirmed.pk]),
}
MISSING = 987_654_321


def _missing(name: str) -> str:
    return reverse(name, args=[MISSING])


class TestPrivateAlbum:
    @pytest.mark.parametrize("name", list(GET_PAGES))
    def test_its_owner_sees_it(self, name, things, alice):
        assert alice.get(GET_PAGES[name](things)).status_code == 200

    @pytest.mark.parametrize("name", list(GET_PAGES))
    def test_it_hides_other_members_photos(self, name, things, bob):
        hidden = bob.get(GET_PAGES[name](things))
        missing = bob.get(_missing(name))

        # Forbidden and missing look the same: an id reveals nothing.
        assert hidden.status_code == missing.status_code == 404
        assert hidden.content == missing.content

    def test_staff_do_not_see_it_either(self, things, other, bob):
        other.is_staff = other.is_superuser = True
        other.save()

        assert bob.get(GET_PAGES["photo"](things)).status_code == 404

    def test_it_is_not_listed_for_other_members(self, things, alice, bob):
        assert things.album.title in alice.get(reverse("home")).content.decode()
        assert things.album.title not in bob.get(reverse("home")).content.decode()


class TestMembersAlbum:
    @pytest.fixture
    def shared(self, things) -> Things:
        Album.objects.filter(pk=things.album.pk).update(visibility=Album.Visibility.MEMBERS)
        return things

    @pytest.mark.parametrize("name", list(GET_PAGES))
    def test_other_members_see_it(self, name, shared, bob):
        assert bob.get(GET_PAGES[name](shared)).status_code == 200

    @pytest.mark.parametrize("name", ["album_edit", "album_delete", "album_upload", "photo_retry"])
    def test_only_its_owner_changes_it(self, name, shared, bob):
        url, data = POST_ENDPOINTS[name](shared)
        before = _state()

        assert bob.post(url, data).status_code == 404
        assert _state() == before

    def test_other_members_get_no_delete_page(self, shared, bob):
        assert bob.get(reverse("album_delete", args=[shared.album.pk])).status_code == 404

    def test_other_members_get_no_upload_form_or_retry_button(self, shared, bob):
        page = bob.get(reverse("album", args=[shared.album.pk])).content.decode()

        assert reverse("album_upload", args=[shared.album.pk]) not in page
        assert reverse("photo_retry", args=[shared.failed.pk]) not in page


OTHER_PAGES = {
    "home": lambda t: reverse("home"),
    "album_create": lambda t: reverse("album_create"),
    "album_delete": lambda t: reverse("album_delete", args=[t.album.pk]),
    "people": lambda t: reverse("people"),
    "person": lambda t: reverse("person", args=[t.ann.pk]),
    "people_autocomplete": lambda t: reverse("people_autocomplete"),
    "search": lambda t: reverse("search"),
    "find_by_face": lambda t: reverse("find_by_face"),
}


class TestAnonymous:
    @pytest.mark.parametrize(
        "url", [*OTHER_PAGES.values(), *GET_PAGES.values()], ids=[*OTHER_PAGES, *GET_PAGES]
    )
    def test_it_redirects_to_login(self, url, things, client):
        path = url(things)

        response = client.get(path)

        assert response.status_code == 302 and response.url == _login_url(path)


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


# --- Uploads --------------------------------------------------------------------


@pytest.fixture
def album(member) -> Album:
    return Album.objects.create(owner=member, title="Uploads")


def _upload(client: Client, album: Album, *files, **kwargs):
    kwargs.setdefault("headers", {"accept": "application/json"})
    return client.post(reverse("album_upload", args=[album.pk]), {"files": list(files)}, **kwargs)


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


def _messages(response) -> list[str]:
    """The messages the page a redirect led to shows."""
    return [str(message) for message in response.context["messages"]]


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


# --- Query counts ------------------------------------------------------------------

MANY = 1000


def _analyze() -> None:
    """Statistics for what a test just bulk-inserted, as autovacuum gives a live site soon
    after an import. Without them the planner takes a thousand rows for none, and a
    nested loop it judges cheap scans faces x photos for every person (the people page
    once ran past the 60 s statement timeout that way, in a full run only)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tagging_album, tagging_photo, tagging_person, tagging_face")


def _many_photos(album: Album) -> list[Photo]:
    photos = Photo.objects.bulk_create(
        Photo(
            album=album,
            uploaded_by=album.owner,
            display_name=f"photo-{i}.jpg",
            content_hash=f"{i:064x}",
            status=Photo.Status.DONE,
            original=f"originals/fake/{i}",
            thumbnail=f"thumbnails/fake/{i}.jpg",
            preview=f"previews/fake/{i}.jpg",
        )
        for i in range(MANY)
    )
    _analyze()
    return photos


class TestQueryCounts:
    def test_the_album_page_does_not_query_per_photo(self, album, alice, django_assert_max_num_queries):
        _many_photos(album)

        with django_assert_max_num_queries(15):
            response = alice.get(reverse("album", args=[album.pk]))

        assert response.content.count(b'class="tile photo-tile') == MANY

    def test_the_album_status_does_not_query_per_photo(self, album, alice, django_assert_max_num_queries):
        _many_photos(album)

        with django_assert_max_num_queries(15):
            response = alice.get(reverse("album_status", args=[album.pk]))

        assert len(response.json()["photos"]) == MANY

    def test_the_people_page_does_not_query_per_person(self, album, alice, django_assert_max_num_queries):
        photos = _many_photos(album)
        people = Person.objects.bulk_create(Person(name=f"Person {i:04}") for i in range(MANY))
        Face.objects.bulk_create(
            Face(
                photo=photo,
                person=person,
                status=Face.Status.CONFIRMED,
                x=0.1,
                y=0.1,
                w=0.2,
                h=0.2,
                model_name="Dlib",
                crop=f"crops/fake/{photo.pk}.jpg",
            )
            for photo, person in zip(photos, people, strict=True)
        )
        _analyze()

        with django_assert_max_num_queries(15):
            response = alice.get(reverse("people"))

        assert len(response.context["people"]) == MANY
        assert response.content.count(b'class="tile person-tile"') == MANY
