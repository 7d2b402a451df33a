"""The way back from a member's last actions (see ``tagging.services.undo``)."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Undo(models.Model):
    """One action of one member, undoable by them for ``settings.UNDO_SECONDS``.

    ``snapshot`` holds the rows the action changed, as they were before it and
    as it left them. Undoing puts back the first, and is refused where the
    second no longer holds (someone changed the rows since).
    """

    class Kind(models.TextChoices):
        CONFIRM = "confirm", "Confirm"
        REJECT = "reject", "Not this person"
        NAME = "name", "Name"
        NOT_A_FACE = "not_a_face", "Not a face"
        DELETE = "delete", "Delete photos"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="undos")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    message = models.CharField(max_length=300, help_text="What was done, as the member was told")
    snapshot = models.JSONField(help_text="The rows before the action and as it left them")
    # A default rather than auto_now_add: tests move it back to age an undo.
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    dismissed = models.BooleanField(default=False, help_text="The member closed its message")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="undo_user_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["confirm", "reject", "name", "not_a_face", "delete"]),
                name="undo_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.message}"

    @property
    def expires_at(self):
        return self.created_at + timedelta(seconds=settings.UNDO_SECONDS)

    @property
    def is_open(self) -> bool:
        """Not undone yet, and still within the undo period."""
        return self.undone_at is None and timezone.now() < self.expires_at

    def face_ids(self) -> list[int]:
        """The faces the member acted on (others the action moved are not theirs to see)."""
        return [row["id"] for row in self.snapshot.get("faces", []) if row.get("seen", True)]

    def photo_ids(self) -> list[int]:
        return [row["id"] for row in self.snapshot.get("photos", [])]
