"""The data model: albums of photos, the faces found on them, and people.

See ``shared/DESIGN.md``. Rules that the database can hold are constraints
here, so that no code path (admin, shell, a task) can break them.
"""

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from pgvector.django import VectorField

from tagging.files import files_delete_on_commit
from tagging.media_paths import crop_path, original_path, preview_path, thumbnail_path

# --- Who may see what --------------------------------------------------------
# The one access rule of the site (see DESIGN.md, "Access"). Every view,
# selector, vector search, count, message and admin page starts from these
# ``visible_to`` querysets; ``tagging.access`` adds thin get-or-404 helpers.
#
# - an album is visible to its owner, and to every member when its visibility
#   is "members"; private means the owner only, staff included;
# - a photo or a face is visible when its album is;
# - a person is visible when one of their faces is, or to the member linked to
#   them; hidden people, and people with no face at all, only to staff. A person
#   seen only in someone's private album does not exist for anyone else.


def _photo_visible_q(user, prefix: str = "") -> Q:
    # A photo deleted within the undo period is gone for everyone, its owner
    # included, and so are its faces (see tagging.services.undo).
    return (Q(**{f"{prefix}album__owner": user}) | Q(**{f"{prefix}album__visibility": "members"})) & Q(
        **{f"{prefix}deleted_at__isnull": True}
    )


class AlbumQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AlbumQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(owner=user) | Q(visibility=Album.Visibility.MEMBERS))


class PhotoQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PhotoQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(_photo_visible_q(user))


class PhotoManager(models.Manager.from_queryset(PhotoQuerySet)):
    """``Photo.objects`` and ``album.photos``: photos not waiting for deletion.

    Joins from other models (``Count("photos")``, ``photo__...``) do not pass
    through a manager and filter ``deleted_at`` themselves; the base manager
    (``face.photo``) still reaches a deleted photo.
    """

    def get_queryset(self) -> PhotoQuerySet:
        return super().get_queryset().filter(deleted_at__isnull=True)


class PersonQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PersonQuerySet":
        """People ``user`` may know of: one of their faces is visible, or it is the user's own person.

        One EXISTS per person on the (person, status) index, whatever the number of faces.
        """
        if not user.is_authenticated:
            return self.none()
        faces = Face.objects.visible_to(user).filter(person=OuterRef("pk"))
        if not user.is_staff:
            return self.filter(Exists(faces) | Q(user=user)).filter(hidden=False)
        # Staff curate the directory: hidden people too, and people with no face at all
        # (a name alone tells of no photo), so that they can be merged or deleted.
        faceless = ~Exists(Face.objects.filter(person=OuterRef("pk")))
        return self.filter(Exists(faces) | Q(user=user) | faceless)

    def named(self, name: str) -> "PersonQuerySet":
        """People called ``name`` (spelling as typed, case aside): one person of a name is the rule."""
        return self.filter(name__iexact=name.strip()).exclude(name="")


class FaceQuerySet(models.QuerySet):
    def visible_to(self, user) -> "FaceQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(_photo_visible_q(user, prefix="photo__"))

    # State changes of many faces at once. Each takes the ids first: the
    # queryset's own filter (a status, say) may no longer hold after the update.

    def confirm(self, person: "Person") -> list[int]:
        """Confirmed tags for ``person``; returns the ids. Faces of someone who opted out
        of recognition keep no embedding or crop, whichever path tagged them."""
        ids = list(self.values_list("pk", flat=True))
        faces = Face.objects.filter(pk__in=ids)
        faces.update(person=person, status=Face.Status.CONFIRMED, distance=None, updated_at=timezone.now())
        if person.recognition_opt_out:
            faces.forget()
        return ids

    def unassign(self) -> int:
        """Back to nobody's: open to suggestions and grouping again."""
        return self.update(
            person=None, status=Face.Status.UNASSIGNED, distance=None, updated_at=timezone.now()
        )

    def forget(self) -> int:
        """Delete the embeddings and crops (files after commit); suggestions are withdrawn,
        confirmed tags stay (they are what people said, not what the machine computed)."""
        ids = list(self.values_list("pk", flat=True))
        faces = Face.objects.filter(pk__in=ids)
        files_delete_on_commit(list(faces.exclude(crop="").values_list("crop", flat=True)))
        faces.filter(status=Face.Status.SUGGESTED).unassign()
        return faces.update(embedding=None, crop="")

    def not_a_face(self) -> list[int]:
        """ "Not a face": no person, no embedding, no crop, and gone from every page and
        search (see ``FaceManager``). The row stays, so that reprocessing the photo
        does not find the same box again (``photo_faces.faces_replace``); returns the ids."""
        ids = list(self.values_list("pk", flat=True))
        faces = Face.all_objects.filter(pk__in=ids)
        faces.forget()
        Person.objects.filter(cover_face__in=ids).update(cover_face=None)
        faces.update(person=None, status=Face.Status.NOT_A_FACE, distance=None, updated_at=timezone.now())
        return ids


class FaceManager(models.Manager.from_queryset(FaceQuerySet)):
    """Faces as every page, count and search knows them: without the boxes members
    said are not faces. Those are kept only as a record for reprocessing, and only
    ``Face.all_objects`` (the pipeline, undo) sees them. Related managers
    (``photo.faces``, ``person.faces``) use this one too."""

    def get_queryset(self) -> FaceQuerySet:
        return super().get_queryset().exclude(status=Face.Status.NOT_A_FACE)


class Album(models.Model):
    class Visibility(models.TextChoices):
        PRIVATE = "private", "Only me"
        MEMBERS = "members", "All members"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="albums")
    title = models.CharField(max_length=200)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    share_location = models.BooleanField(
        default=False,
        help_text="Others who may see the album get originals with their GPS position; off: removed",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AlbumQuerySet.as_manager()

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

    class ErrorKind(models.TextChoices):
        # The file itself: truncated, undecodable, too large, missing. Processing
        # it again gives the same answer, so nobody is offered a retry.
        FILE = "file", "the file"
        # A time limit, a crash, too many attempts: another run may succeed.
        PROCESSING = "processing", "processing"

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
    error_kind = models.CharField(
        max_length=12,
        choices=ErrorKind.choices,
        blank=True,
        help_text="Why a failed photo failed: its file (a retry cannot help) or its processing",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # Who holds the photo while it is processing: the Celery task id. A task
    # delivered again after its worker died carries the same id and may take
    # the photo back; any other run leaves it alone.
    claimed_by = models.CharField(max_length=64, blank=True)
    face_model = models.CharField(max_length=40, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when its owner deletes it: hidden at once, purged with its files once
    # the deletion can no longer be undone (tasks.purge_deleted).
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = PhotoManager()
    all_objects = PhotoQuerySet.as_manager()  # deleted ones too: for undo and the purge

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # A file deleted within the undo period may be uploaded again; undoing
            # that deletion is then refused.
            models.UniqueConstraint(
                fields=["album", "content_hash"],
                condition=Q(deleted_at__isnull=True),
                name="photo_unique_hash_per_album",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processing", "done", "failed"]),
                name="photo_status_valid",
            ),
            # A failed photo always says why.
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error=""), name="photo_failed_has_error"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "status_changed_at"], name="photo_status_idx"),
            models.Index(
                fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="photo_deleted_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("photo", args=[self.pk])

    @property
    def can_retry(self) -> bool:
        """Failed for a reason another run may not meet (see ``ErrorKind``)."""
        return self.status == self.Status.FAILED and self.error_kind != self.ErrorKind.FILE


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

    objects = PersonQuerySet.as_manager()

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
        NOT_A_FACE = "not_face", "Not a face"

    class Source(models.TextChoices):
        DETECTED = "detected", "Found by the detector"
        MANUAL = "manual", "Drawn by a member"

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="faces")
    # Box relative to the oriented image: 0..1 on both axes.
    x = models.FloatField()
    y = models.FloatField()
    w = models.FloatField()
    h = models.FloatField()
    confidence = models.FloatField(null=True, blank=True)
    # Searched through its copy in ``FaceVector``, which the database keeps.
    embedding = VectorField(null=True, blank=True)
    model_name = models.CharField(max_length=40)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="faces")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNASSIGNED)
    distance = models.FloatField(null=True, blank=True, help_text="Cosine distance of the suggestion")
    crop = models.FileField(upload_to=crop_path, max_length=200, blank=True)
    # A drawn box is a member's word: reprocessing never moves or deletes it.
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.DETECTED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FaceManager()
    all_objects = FaceQuerySet.as_manager()

    class Meta:
        ordering = ["photo", "x"]
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["unassigned", "suggested", "confirmed", "not_face"]),
                name="face_status_valid",
            ),
            models.CheckConstraint(condition=Q(source__in=["detected", "manual"]), name="face_source_valid"),
            # A person exactly when the face is suggested or confirmed.
            models.CheckConstraint(
                condition=(Q(status__in=["unassigned", "not_face"]) & Q(person__isnull=True))
                | (Q(status__in=["suggested", "confirmed"]) & Q(person__isnull=False)),
                name="face_person_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(x__gte=0, y__gte=0, w__gt=0, h__gt=0)
                & Q(x__lte=1 - F("w") + 1e-6, y__lte=1 - F("h") + 1e-6),
                name="face_box_inside_photo",
            ),
        ]
        # The HNSW graphs are on ``FaceVector`` (tagging.models_vectors).
        indexes = [
            models.Index(fields=["person", "status"], name="face_person_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Face {self.pk} on photo {self.photo_id}"


# Split off to keep this module readable; imported here so that Django finds
# them, and so that ``tagging.models.Invitation`` and friends keep working.
from tagging.models_rejections import FaceRejection  # noqa: E402
from tagging.models_site import Invitation, PersonClaim, WorkerHeartbeat  # noqa: E402
from tagging.models_undo import Undo  # noqa: E402
from tagging.models_vectors import HNSW_EF_CONSTRUCTION, HNSW_M, FaceVector  # noqa: E402

__all__ = [
    "Album",
    "Face",
    "FaceRejection",
    "FaceVector",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_M",
    "Invitation",
    "Person",
    "PersonClaim",
    "Photo",
    "Undo",
    "WorkerHeartbeat",
]
