"""Fixtures of the undo tests: two members, an album shared with all, a named person."""

import pytest

from tagging.models import Album, Face, Person
from tests.pages import _face, _logged_in, _photo


@pytest.fixture
def alice(member):
    return _logged_in(member)


@pytest.fixture
def bob_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="another horse battery")


@pytest.fixture
def trip(member) -> Album:
    return Album.objects.create(owner=member, title="Trip", visibility=Album.Visibility.MEMBERS)


@pytest.fixture
def anna(trip) -> Person:
    """Anna, with one confirmed face (and no cover yet: the next tag sets it)."""
    anna = Person.objects.create(name="Anna")
    _face(_photo(trip), person=anna, status=Face.Status.CONFIRMED)
    return anna
