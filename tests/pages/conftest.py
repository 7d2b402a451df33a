"""Fixtures of the page tests: two members' clients, and one object of each kind an endpoint acts on."""

import pytest
from django.test import Client

from tagging.models import Album, Face, Person, Photo
from tests.pages import (
    Things,
    _face,
    _logged_in,
    _photo,
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


@pytest.fixture
def album(member) -> Album:
    return Album.objects.create(owner=member, title="Uploads")
