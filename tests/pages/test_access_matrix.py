"""Every endpoint of the member site against the access rule: GET refused on POST views,
CSRF enforced, another member's objects answered as missing, private albums their
owner's, members' albums everyone's, anonymous visitors sent to log in.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tagging.models import Album
from tests.pages import (
    GET_PAGES,
    MISSING,
    Things,
    _image,
    _logged_in,
    _login_url,
    _state,
)

pytestmark = pytest.mark.django_db


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
    "face_not_a_face": lambda t: (reverse("face_not_a_face", args=[t.unassigned.pk]), {}),
    "face_draw": lambda t: (
        reverse("face_draw", args=[t.photo.pk]),
        {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "name": "Zoe"},
    ),
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
