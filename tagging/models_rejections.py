"""Rejections: what members said a face is not. Split from ``tagging.models``, which
imports it (Django registers it there, and ``tagging.models.FaceRejection`` keeps working)."""

from django.conf import settings
from django.db import models


class FaceRejection(models.Model):
    """A member said this face is not this person: never suggest it again."""

    face = models.ForeignKey("tagging.Face", on_delete=models.CASCADE, related_name="rejections")
    person = models.ForeignKey("tagging.Person", on_delete=models.CASCADE, related_name="rejections")
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["face", "person"], name="face_rejection_unique")]

    def __str__(self) -> str:
        return f"Face {self.face_id} is not {self.person}"
