"""Fixtures of the bad-input tests: the album files go to, and a client that passes CSRF as the page does."""

import pytest

from tagging.models import Album
from tests.bad_inputs import (
    _client_for,
)


@pytest.fixture
def album(member):
    return Album.objects.create(owner=member, title="Bad inputs")


@pytest.fixture
def member_client(member, album):
    return _client_for(member, album)
