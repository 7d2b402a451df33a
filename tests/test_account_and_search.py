"""Members' own privacy endpoints, and search by people and by face."""

import pytest
from django.test import Client

from tagging.models import Album, Face, Person, Photo
from tagging.services import faces as face_actions
from tests.library import processed_photo

pytestmark = pytest.mark.django_db

PRIVACY_POSTS = ["/accounts/privacy/opt-out/", "/accounts/privacy/opt-in/", "/accounts/delete/"]


@pytest.mark.parametrize("url", PRIVACY_POSTS[:2])
def test_privacy_switches_refuse_get(client, member, url):
    client.force_login(member)
    assert client.get(url).status_code == 405


@pytest.mark.parametrize("url", PRIVACY_POSTS)
def test_privacy_endpoints_require_csrf(member, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(url, {"password": "correct horse battery"}).status_code == 403
    member.refresh_from_db()  # still there


@pytest.mark.parametrize("url", [*PRIVACY_POSTS, "/accounts/privacy/"])
def test_privacy_endpoints_require_login(client, url):
    response = client.post(url) if url in PRIVACY_POSTS else client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_this_is_me_then_opt_out_through_the_pages(client, member, faces_dir, django_user_model):
    album = Album.objects.create(owner=member, title="Me", visibility=Album.Visibility.MEMBERS)
    face = processed_photo(album, faces_dir, "people/rose_leslie/rose_leslie_1.jpg").faces.get()
    me = face_actions.face_tag_new_person(face=face, name="Rose Leslie").person
    staff = django_user_model.objects.create_user(username="staff", password="x-staff-12345", is_staff=True)
    client.force_login(member)

    client.post(f"/people/{me.pk}/this-is-me/")
    me.refresh_from_db()
    assert me.user is None  # nothing links before staff approve
    client.force_login(staff)
    claims_page = client.get("/people/claims/").content.decode()
    assert "alice" in claims_page and f"/faces/{face.pk}/crop/" in claims_page
    claim = me.claims.get()
    client.post(f"/people/claims/{claim.pk}/decide/", {"decision": "approve"})
    client.force_login(member)
    response = client.post("/accounts/privacy/opt-out/", follow=True)

    me.refresh_from_db()
    assert me.user == member and me.recognition_opt_out
    assert "Recognition is off for you" in response.content.decode()
    assert Face.objects.get(pk=face.pk).embedding is None


def test_account_deletion_needs_the_password(client, member, django_user_model):
    client.force_login(member)

    wrong = client.post("/accounts/delete/", {"password": "nope"}, follow=True)
    assert "nothing was deleted" in wrong.content.decode()
    assert django_user_model.objects.filter(pk=member.pk).exists()

    right = client.post("/accounts/delete/", {"password": "correct horse battery"})
    assert right.status_code == 302
    assert not django_user_model.objects.filter(pk=member.pk).exists()


def test_search_finds_photos_with_all_the_chosen_people(client, member, faces_dir):
    album = Album.objects.create(owner=member, title="Search")
    together = processed_photo(album, faces_dir, "groups/barack_obama_and_joe_biden_2.jpg")
    alone = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_1.jpg")
    obama, biden = Person.objects.create(name="Barack Obama"), Person.objects.create(name="Joe Biden")
    first, second = together.faces.order_by("x")
    face_actions.face_tag(face=first, person=obama)
    face_actions.face_tag(face=second, person=biden)
    face_actions.face_tag(face=alone.faces.get(), person=obama)
    client.force_login(member)

    both = client.get("/search/", {"people": [obama.pk, biden.pk]}).content.decode()
    one = client.get("/search/", {"people": [obama.pk]}).content.decode()

    assert f"/photos/{together.pk}/" in both and f"/photos/{alone.pk}/" not in both
    assert f"/photos/{together.pk}/" in one and f"/photos/{alone.pk}/" in one


def test_find_by_face_with_a_dropped_photo_lists_the_nearest_faces_first(
    client, member, faces_dir, media_root, celery_worker
):
    album = Album.objects.create(owner=member, title="Find")
    biden = processed_photo(album, faces_dir, "people/joe_biden/joe_biden_2.jpg")
    other = processed_photo(album, faces_dir, "people/kit_harington/kit_harington_1.jpg")
    stored_before = sorted(p.name for p in media_root.rglob("*") if p.is_file())
    client.force_login(member)

    with (faces_dir / "people/joe_biden/joe_biden_1.jpg").open("rb") as dropped:
        page = client.post("/search/face/", {"photo": dropped}).content.decode()

    assert page.index(f"/photos/{biden.pk}/") < page.index(f"/photos/{other.pk}/")
    assert "distance" in page
    # The dropped photo was only looked at.
    assert sorted(p.name for p in media_root.rglob("*") if p.is_file()) == stored_before
    assert Photo.objects.count() == 2


def test_find_by_face_from_a_face_on_a_photo(client, member, faces_dir):
    album = Album.objects.create(owner=member, title="Find")
    first = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_1.jpg").faces.get()
    second = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_2.jpg")
    client.force_login(member)

    page = client.get("/search/face/", {"face": first.pk}).content.decode()

    assert f"/photos/{second.pk}/" in page


def test_a_member_changes_their_password(client, member):
    client.force_login(member)
    assert client.get("/accounts/password_change/").status_code == 200

    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": "correct horse battery",
            "new_password1": "a brand new secret 42",
            "new_password2": "a brand new secret 42",
        },
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password("a brand new secret 42")


def test_sign_up_without_an_invitation_is_refused_unless_it_is_open(client, settings, django_user_model):
    password = "a long new password 7"
    form = {"username": "newcomer", "password1": password, "password2": password}
    for mode in ("invitation", "closed"):
        settings.SIGNUP = mode
        refused = client.post("/accounts/signup/", form)
        assert refused.status_code == 403
        assert not django_user_model.objects.filter(username="newcomer").exists()
        login_page = client.get("/accounts/login/").content.decode()
        assert ("invitation link" in login_page) == (mode == "invitation")

    settings.SIGNUP = "open"
    assert "Create an account" in client.get("/accounts/login/").content.decode()
    response = client.post(
        "/accounts/signup/",
        {"username": "newcomer", "password1": "a long new password 7", "password2": "a long new password 7"},
    )

    assert response.status_code == 302
    assert django_user_model.objects.filter(username="newcomer", is_staff=False).exists()
    assert client.get("/").status_code == 200  # signed in


def test_find_by_face_is_not_starved_by_faces_the_member_cannot_see(member, django_user_model, faces_dir):
    import numpy as np
    from django.db import connection

    from tagging import selectors_photos

    album = Album.objects.create(owner=member, title="Mine")
    mine = processed_photo(album, faces_dir, "people/kit_harington/kit_harington_1.jpg").faces.get()
    other = django_user_model.objects.create_user(username="bob", password="pw-bob-12345")
    private = Album.objects.create(owner=other, title="Bob's")
    crowd = Photo.objects.create(
        album=private, uploaded_by=other, content_hash="f" * 64, display_name="crowd.jpg"
    )
    rng = np.random.default_rng(9)
    probe = np.asarray(mine.embedding) + rng.normal(scale=0.02, size=len(mine.embedding))
    probe /= np.linalg.norm(probe)
    # Hundreds of faces nearer to the probe than the member's own, all private to Bob.
    near = probe + rng.normal(scale=0.003, size=(600, len(probe)))
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    Face.objects.bulk_create(
        Face(photo=crowd, x=0.1, y=0.1, w=0.1, h=0.1, model_name="Dlib", embedding=v.tolist()) for v in near
    )
    probe = probe.tolist()
    with connection.cursor() as cursor:
        # With so few rows the planner would scan the table anyway; a real library
        # is large enough for the index, which is where starvation happens.
        cursor.execute("SET LOCAL enable_seqscan = off")

    found = selectors_photos.photos_similar(user=member, embedding=probe, model_name="Dlib")

    assert [result.photo.pk for result in found] == [mine.photo_id]
