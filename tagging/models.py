"""The data model: albums of photos, the faces found on them, and people.

See ``shared/DESIGN.md``. Rules that the database can hold are constraints
here, so that no code path (admin, shell, a task) can break them.
"""

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from pgvector.django import HnswIndex, VectorField

from tagging.embeddings import embedding_expression

# HNSW graph of the face indexes. pgvector's defaults (m 16, ef_construction
# 64) gave recall@10 0.86 at a million faces with ef_search 40 and 0.93 at 100:
# too few links for that size. A denser graph, built with a wider candidate
# list, finds more per candidate visited (figures in the README).
HNSW_M = 24
HNSW_EF_CONSTRUCTION = 128


def _upload_path(folder: str, suffix: str) -> str:
    # Stored names are generated: an uploaded name can hold "../", NUL or
    # 300 characters, and is only ever shown (sanitised), never used as a path.
    token = uuid.uuid4().hex
    return f"{folder}/{token[:2]}/{token}{suffix}"


def original_path(instance, filename: str) -> str:
    return _upload_path("originals", "")


def thumbnail_path(instance, filename: str) -> str:
    return _upload_path("thumbnails", ".jpg")


def preview_path(instance, filename: str) -> str:
    return _upload_path("previews", ".jpg")


def crop_path(instance, filename: str) -> str:
    return _upload_path("crops", ".jpg")


class Album(models.Model):
    class Visibility(models.TextChoices):
        PRIVATE = "private", "Only me"
        MEMBERS = "members", "All members"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="albums")
    title = models.CharField(max_length=200)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=["private", "members"]), name="album_visibility_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("album", args=[self.pk])


class Photo(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        PROCESSING = "processing", "Finding faces"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="photos")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploaded_photos"
    )
    original = models.FileField(upload_to=original_path, max_length=200)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the original file")
    display_name = models.CharField(max_length=255, help_text="The uploaded file name, sanitised")
    width = models.PositiveIntegerField(null=True, blank=True, help_text="Width after EXIF orientation")
    height = models.PositiveIntegerField(null=True, blank=True, help_text="Height after EXIF orientation")
    taken_at = models.DateTimeField(null=True, blank=True)
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=200, blank=True)
    preview = models.FileField(upload_to=preview_path, max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Who holds the photo while it is processing: the Celery task id. A task
    # delivered again after its worker died carries the same id and may take
    # the photo back; any other run leaves it alone.
    claimed_by = models.CharField(max_length=64, blank=True)
    face_model = models.CharField(max_length=40, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["album", "content_hash"], name="photo_unique_hash_per_album"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processing", "done", "failed"]),
                name="photo_status_valid",
            ),
            # A failed photo always says why.
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error=""), name="photo_failed_has_error"
            ),
        ]
        indexes = [models.Index(fields=["status", "status_changed_at"], name="photo_status_idx")]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("photo", args=[self.pk])


class Person(models.Model):
    name = models.CharField(max_length=200, blank=True, help_text="Blank for a group nobody has named yet")
    hidden = models.BooleanField(default=False, help_text="Left out of the people page; still recognised")
    cover_face = models.ForeignKey("Face", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
        help_text="The member this person is, for opting out of recognition",
    )
    recognition_opt_out = models.BooleanField(
        default=False, help_text="Never suggest or match this person; their embeddings are deleted"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "people"
        indexes = [models.Index(fields=["name"], name="person_name_idx")]

    def __str__(self) -> str:
        return self.name or f"Unnamed #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("person", args=[self.pk])


class Face(models.Model):
    class Status(models.TextChoices):
        UNASSIGNED = "unassigned", "Unassigned"
        SUGGESTED = "suggested", "Suggested"
        CONFIRMED = "confirmed", "Confirmed"

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="faces")
    # Box relative to the oriented image: 0..1 on both axes.
    x = models.FloatField()
    y = models.FloatField()
    w = models.FloatField()
    h = models.FloatField()
    confidence = models.FloatField(null=True, blank=True)
    # No fixed dimension: each model has its own size, and faces are only ever
    # compared within one model through a partial index per model (below).
    embedding = VectorField(null=True, blank=True)
    model_name = models.CharField(max_length=40)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="faces")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNASSIGNED)
    distance = models.FloatField(null=True, blank=True, help_text="Cosine distance of the suggestion")
    crop = models.FileField(upload_to=crop_path, max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["photo", "x"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["unassigned", "suggested", "confirmed"]), name="face_status_valid"
            ),
            # A person exactly when the face is suggested or confirmed.
            models.CheckConstraint(
                condition=(Q(status="unassigned") & Q(person__isnull=True))
                | (Q(status__in=["suggested", "confirmed"]) & Q(person__isnull=False)),
                name="face_person_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(x__gte=0, y__gte=0, w__gt=0, h__gt=0)
                & Q(x__lte=1 - F("w") + 1e-6, y__lte=1 - F("h") + 1e-6),
                name="face_box_inside_photo",
            ),
        ]
        # HNSW_M and HNSW_EF_CONSTRUCTION (below) come from `benchmark matching`.
        indexes = [
            HnswIndex(
                OpClass(embedding_expression("Dlib"), name="vector_cosine_ops"),
                name="face_embedding_dlib_hnsw",
                condition=Q(model_name="Dlib"),
                m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
            ),
            # Suggestions search confirmed faces only. Filtering an index over
            # all faces would starve the approximate search when few are
            # confirmed; a partial index over just those faces cannot starve.
            HnswIndex(
                OpClass(embedding_expression("Dlib"), name="vector_cosine_ops"),
                name="face_confirmed_dlib_hnsw",
                condition=Q(model_name="Dlib", status="confirmed"),
                m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
            ),
            models.Index(fields=["person", "status"], name="face_person_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Face {self.pk} on photo {self.photo_id}"


class FaceRejection(models.Model):
    """A member said this face is not this person: never suggest it again."""

    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="rejections")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="rejections")
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["face", "person"], name="face_rejection_unique")]

    def __str__(self) -> str:
        return f"Face {self.face_id} is not {self.person}"
