"""Fixtures of the people tests: a member of staff, their admin client, a photo shared with all members."""

import pytest

from tagging.models import Album, Photo


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="admin", password="correct horse battery", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def photo(member):
    # Shared with all members: staff curate what they may see (private albums are the owner's alone).
    album = Album.objects.create(owner=member, title="Holiday", visibility=Album.Visibility.MEMBERS)
    return Photo.objects.create(
        album=album, uploaded_by=member, content_hash="a" * 64, display_name="beach.jpg", status="done"
    )
