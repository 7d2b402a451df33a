"""The access rule in action: people are private like photos, evidence follows visibility,
"This is me" is a claim staff approve, opt-out sticks, admin and display copies hold it.

The walk of every URL (tests/test_url_walk.py) shows that nothing private answers;
these tests show what each rule does for the people it is for.

This package holds the helpers its tests share; conftest.py their fixtures.
"""

from django.core.files.base import ContentFile
from django.test import Client

from tagging.models import Album, Face, Photo

GPS_LATITUDE = (51.0, 30.0, 12.5)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _album(owner, title="Album", shared=False) -> Album:
    visibility = Album.Visibility.MEMBERS if shared else Album.Visibility.PRIVATE
    return Album.objects.create(owner=owner, title=title, visibility=visibility)


def _bare_face(photo: Photo, person=None, status=Face.Status.UNASSIGNED, x=0.1) -> Face:
    face = Face(photo=photo, x=x, y=0.1, w=0.1, h=0.1, model_name="Dlib", person=person, status=status)
    face.embedding = [0.1] * 128
    face.crop.save("x", ContentFile(b"\xff\xd8\xff"), save=False)
    face.save()
    return face


def _bare_photo(album: Album, name="p.jpg") -> Photo:
    return Photo.objects.create(
        album=album,
        uploaded_by=album.owner,
        display_name=name,
        content_hash=name.ljust(64, "0"),
        status="done",
    )
