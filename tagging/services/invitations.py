"""Invitations: staff create single-use links; a new member spends one on an account."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from tagging.errors import ActionRefused
from tagging.models import Invitation


class InvitationUnusable(ActionRefused):
    """The link is unknown, used or expired. One message for all three, like a
    missing object and a forbidden one: the page says what to do, not which."""


class InvitationWrongEmail(ActionRefused):
    """The invitation is for another e-mail address."""


def invitation_create(*, created_by, email: str = "", days: int | None = None) -> Invitation:
    days = settings.INVITATION_DAYS if days is None else days
    return Invitation.objects.create(
        token=secrets.token_urlsafe(32),
        email=email.strip(),
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=days),
    )


def invitation_usable(*, token: str) -> Invitation:
    """The invitation behind ``token`` if it can still be used; else :class:`InvitationUnusable`."""
    invitation = Invitation.objects.filter(
        token=token, used_at__isnull=True, expires_at__gt=timezone.now()
    ).first()
    if invitation is None:
        raise InvitationUnusable()
    return invitation


def invitation_accept(*, token: str, username: str, email: str, password: str):
    """Create the account and spend the invitation, both or neither.

    The conditional UPDATE decides between two people sending the same link at
    once: the second finds it used and no second account is created.
    """
    invitation = invitation_usable(token=token)
    if invitation.email and invitation.email.casefold() != email.strip().casefold():
        raise InvitationWrongEmail()
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, email=email.strip(), password=password)
        spent = Invitation.objects.filter(
            pk=invitation.pk, used_at__isnull=True, expires_at__gt=timezone.now()
        ).update(used_by=user, used_at=timezone.now())
        if not spent:
            raise InvitationUnusable()  # the account goes with the transaction
    return user
