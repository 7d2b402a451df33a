"""The member site through its URLs: who may do what, uploads, media, face actions, people.

Requests go through the whole middleware stack (sessions, CSRF, messages) and
the real PostgreSQL. Face actions run on photos processed by the real models.
This package holds the helpers the page tests share; conftest.py their fixtures.
"""

import io
import re
import uuid
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from tagging.models import Album, Face, FaceRejection, Person, Photo

STORED_ORIGINAL = re.compile(r"originals/[0-9a-f]{2}/[0-9a-f]{32}")


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


def _upload(client: Client, album: Album, *files, **kwargs):
    kwargs.setdefault("headers", {"accept": "application/json"})
    return client.post(reverse("album_upload", args=[album.pk]), {"files": list(files)}, **kwargs)


def _messages(response) -> list[str]:
    """The messages the page shows: the latest undoable action's (with its Undo button,
    which may be an earlier request's), then this request's own, newest last."""
    offer = response.context.get("undo_offer")
    return ([offer.message] if offer else []) + [str(message) for message in response.context["messages"]]
