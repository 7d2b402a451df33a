"""Fixtures of the access tests: a second member and a member of staff."""

import pytest


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-password-1")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="root", password="root-password-1", is_staff=True, is_superuser=True
    )
