"""Media in an S3-compatible bucket: a real SeaweedFS server, a real Celery
worker and real models. The round trip (upload, processing, display,
deletion, opt-out) leaves in the bucket exactly the objects that rows name,
and nothing reaches a member except through the views that check access."""

import re
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tagging.models import Album, Face, Person, Photo
from tagging.services.privacy import person_opt_out

PHOTO = "people/joe_biden/joe_biden_1.jpg"


def _wait_done(photo: Photo, seconds: float = 120) -> Photo:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        photo.refresh_from_db()
        if photo.status in {Photo.Status.DONE, Photo.Status.FAILED}:
            return photo
        time.sleep(0.05)
    raise AssertionError(f"photo {photo.pk} still {photo.status} after {seconds} s")


def _upload(client, album: Album, path) -> Photo:
    with path.open("rb") as source:
        response = client.post(
            reverse("album_upload", args=[album.pk]), {"files": [source]}, HTTP_ACCEPT="application/json"
        )
    result = response.json()["results"][0]
    assert result["ok"], result
    return Photo.objects.get(pk=result["id"])


def _named_objects() -> set[str]:
    photos = Photo.objects.values_list("original", "thumbnail", "preview")
    crops = Face.objects.exclude(crop="").values_list("crop", flat=True)
    return {name for row in photos for name in row if name} | set(crops)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback test server)
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


@pytest.mark.django_db(transaction=True)
def test_a_photo_goes_through_the_bucket_and_leaves_nothing_behind(
    celery_worker, client, member, faces_dir, seaweed, s3_media, media_root
):
    album = Album.objects.create(owner=member, title="In the bucket")
    client.force_login(member)

    photo = _wait_done(_upload(client, album, faces_dir / PHOTO))

    assert photo.status == Photo.Status.DONE, photo.error
    face = photo.faces.get()
    stored = seaweed.keys(s3_media)
    assert stored == sorted(_named_objects())
    assert {name.split("/")[0] for name in stored} == {"originals", "thumbnails", "previews", "crops"}
    # Nothing went to the local disk: a worker elsewhere sees the same files.
    assert not media_root.exists() or not any(path.is_file() for path in media_root.rglob("*"))

    original = client.get(reverse("photo_original", args=[photo.pk]))
    assert original.status_code == 200
    assert original["Content-Type"] == "image/jpeg"
    assert original["Cache-Control"].startswith("private")
    assert _body(original) == (faces_dir / PHOTO).read_bytes()
    for name, pk, field in [
        ("photo_thumbnail", photo.pk, photo.thumbnail),
        ("photo_preview", photo.pk, photo.preview),
        ("face_crop", face.pk, face.crop),
    ]:
        response = client.get(reverse(name, args=[pk]))
        assert response.status_code == 200, name
        expected = seaweed.client().get_object(Bucket=s3_media, Key=field.name)["Body"].read()
        assert _body(response) == expected, name
    page = client.get(photo.get_absolute_url())
    assert page.status_code == 200
    assert reverse("face_crop", args=[face.pk]) in page.content.decode()

    response = client.post(reverse("album_delete", args=[album.pk]))
    assert response.status_code == 302
    assert not Photo.objects.exists()
    assert seaweed.keys(s3_media) == []


@pytest.mark.django_db(transaction=True)
def test_opting_out_deletes_the_members_crops_from_the_bucket(
    celery_worker, client, member, faces_dir, seaweed, s3_media
):
    album = Album.objects.create(owner=member, title="Me")
    client.force_login(member)
    photo = _wait_done(_upload(client, album, faces_dir / PHOTO))
    face = photo.faces.get()
    crop = face.crop.name
    assert crop in seaweed.keys(s3_media)
    person = Person.objects.create(name="Alice", user=member)
    Face.objects.filter(pk=face.pk).update(person=person, status=Face.Status.CONFIRMED)

    assert person_opt_out(user=member) == 1

    assert crop not in seaweed.keys(s3_media)
    assert seaweed.keys(s3_media) == sorted(_named_objects())
    assert client.get(reverse("face_crop", args=[face.pk])).status_code == 404


def _urls_in(html: str) -> set[str]:
    return set(re.findall(r'(?:src|href|data-[a-z-]+)="([^"]+)"', html))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("redirect", [False, True], ids=["streamed", "signed-redirect"])
def test_a_member_cannot_fetch_another_members_private_original_by_any_url_the_site_gives_out(
    redirect, celery_worker, client, member, django_user_model, faces_dir, seaweed, s3_media, settings
):
    settings.S3_MEDIA_REDIRECT = redirect
    bob = django_user_model.objects.create_user(username="bob", password="pw-bob-12345")
    private = Album.objects.create(owner=bob, title="Bob only", visibility=Album.Visibility.PRIVATE)
    shared = Album.objects.create(owner=member, title="Alice's", visibility=Album.Visibility.MEMBERS)
    client.force_login(bob)
    secret = _wait_done(_upload(client, private, faces_dir / PHOTO))
    client.force_login(member)
    own = _wait_done(_upload(client, shared, faces_dir / "people/kit_harington/kit_harington_1.jpg"))
    secret_face = secret.faces.get()

    # Every media view answers Alice as if Bob's photo did not exist.
    for name, pk in [
        ("photo_original", secret.pk),
        ("photo_thumbnail", secret.pk),
        ("photo_preview", secret.pk),
        ("face_crop", secret_face.pk),
    ]:
        assert client.get(reverse(name, args=[pk])).status_code == 404, name
        assert client.get(reverse(name, args=[987654])).status_code == 404, name

    # No page Alice sees names Bob's objects or the store itself.
    store = urlsplit(seaweed.endpoint_url).netloc
    bob_keys = {secret.original.name, secret.thumbnail.name, secret.preview.name, secret_face.crop.name}
    for url in ["/", shared.get_absolute_url(), own.get_absolute_url(), "/people/", "/search/"]:
        html = client.get(url).content.decode()
        assert store not in html, url
        assert not any(key in html for key in bob_keys), url
        assert not any(urlsplit(link).netloc == store for link in _urls_in(html)), url

    # The bucket itself answers nobody without a signature.
    assert _fetch(f"{seaweed.endpoint_url}/{s3_media}/{secret.original.name}")[0] == 403

    # Alice's own original reaches her; in redirect mode by a URL signed for
    # that one object, which opens nothing else and expires.
    response = client.get(reverse("photo_original", args=[own.pk]))
    assert response.status_code == (302 if redirect else 200)
    if redirect:
        signed = response["Location"]
        assert urlsplit(signed).netloc == store
        assert response["Cache-Control"] == "private, no-store"
        assert _fetch(signed) == (200, (faces_dir / "people/kit_harington/kit_harington_1.jpg").read_bytes())
        forged = signed.replace(own.original.name, secret.original.name)
        assert forged != signed
        assert _fetch(forged)[0] == 403
        policy = client.get(own.get_absolute_url())["Content-Security-Policy"]
        assert f"img-src 'self' http://{store}" in policy
        settings.S3_SIGNED_URL_SECONDS = 1
        short = client.get(reverse("photo_original", args=[own.pk]))["Location"]
        time.sleep(2.5)
        assert _fetch(short)[0] == 403
    else:
        assert _body(response) == (faces_dir / "people/kit_harington/kit_harington_1.jpg").read_bytes()


@pytest.mark.django_db(transaction=True)
def test_no_page_not_even_the_admin_links_to_the_bucket(
    celery_worker, client, django_user_model, faces_dir, seaweed, s3_media
):
    staff = django_user_model.objects.create_superuser(username="root", password="pw-root-12345")
    album = Album.objects.create(owner=staff, title="Staff's")
    client.force_login(staff)
    photo = _wait_done(_upload(client, album, faces_dir / PHOTO))
    store = urlsplit(seaweed.endpoint_url).netloc

    # Django renders a read-only file field as a link to ``FieldFile.url``.
    html = client.get(reverse("admin:tagging_photo_change", args=[photo.pk])).content.decode()

    assert photo.original.name in html
    assert store not in html
    assert urlsplit(photo.original.url).netloc == ""
