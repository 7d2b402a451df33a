"""Fixtures of the pipeline tests."""

import pytest

from tagging.models import Album


@pytest.fixture
def album(member):
    return Album.objects.create(owner=member, title="Fixtures")
