"""Models around the photos rather than of them: members' claims to be a person,
invitations to join, and worker heartbeats.

Split from ``tagging.models``, which imports them (Django registers them there).
"""

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


def _people():
    # tagging.models imports this module, so Person is looked up when first needed.
    return apps.get_model("tagging", "Person")


class PersonClaimQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PersonClaimQuerySet":
        """A member's own claims, and claims on people ``user`` may know of: staff judge a
        claim by the person's faces, and a person they cannot see is nobody to them."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(user=user) | Q(person__in=_people().objects.visible_to(user)))


class PersonClaim(models.Model):
    """A member says "this is me" of a person; nothing links before staff approve.

    A member's word alone would let anyone take over a person and then opt
    them out, wiping face data from albums the member cannot even see.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for staff"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    person = models.ForeignKey("tagging.Person", on_delete=models.CASCADE, related_name="claims")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person_claims")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = PersonClaimQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "refused", "withdrawn"]),
                name="claim_status_valid",
            ),
            # One open question per member at a time.
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="pending"), name="claim_one_pending_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.person}?"


class Invitation(models.Model):
    """A link that lets one new member create an account (``SIGNUP=invitation``).

    Single use: the first account created through it marks it used, by a
    conditional UPDATE, so two people racing on one link get one account.
    """

    token = models.CharField(max_length=64, unique=True, editable=False)
    email = models.EmailField(blank=True, help_text="Only this address may use it; blank: anyone with it")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitation",
    )
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The account may be deleted later; the link stays used.
            models.CheckConstraint(
                condition=Q(used_by__isnull=True) | Q(used_at__isnull=False), name="invitation_used_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation {self.pk}" + (f" for {self.email}" if self.email else "")

    def get_absolute_url(self) -> str:
        return reverse("invitation_accept", args=[self.token])


class WorkerHeartbeat(models.Model):
    """The last sign of life of each Celery worker, for ``/healthz``.

    In the database rather than the broker: the health check must still say
    when the worker was last seen while the broker is the part that is down.
    """

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
