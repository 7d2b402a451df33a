"""Processing one photo: decode, find and embed faces, write derivatives and faces.

deepface runs outside any transaction; its results are written in one short
atomic block at the end. Running a photo twice (a retry, a task delivered again
after its worker died, ``manage.py reprocess``) never duplicates faces: faces
found again in the same place keep their row, so tags, rejections and covers
survive.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from tagging import queue, storage
from tagging.faces.images import ImageRejected, jpeg_bytes
from tagging.files import files_delete, files_delete_on_commit
from tagging.models import Photo, crop_path, preview_path, thumbnail_path
from tagging.services import detection
from tagging.services.metadata import jpeg_strip_metadata
from tagging.services.photo_faces import FoundFace, faces_find, faces_replace
from tagging.storage import StoreUnavailable

logger = logging.getLogger(__name__)

# Errors that say nothing about the photo: the database, the broker or the
# media store was unreachable for a moment. The task retries them with backoff.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError, ConnectionError, StoreUnavailable)

THUMBNAIL_SIDE = 480


@dataclass
class Analysis:
    width: int
    height: int
    taken_at: datetime | None
    faces: list[FoundFace] | None  # None: recognition is off, faces are left as they are
    thumbnail: bytes
    preview: bytes


def photo_claim(*, photo_id: int, token: str) -> bool:
    """Move the photo from pending to processing for ``token``; False if it is not ours to do.

    A photo already processing under the same token is taken back: that is
    the same task delivered again after its worker died.
    """
    claimable = Q(status=Photo.Status.PENDING) | Q(status=Photo.Status.PROCESSING, claimed_by=token)
    return bool(
        Photo.objects.filter(claimable, pk=photo_id).update(
            status=Photo.Status.PROCESSING,
            claimed_by=token,
            attempts=F("attempts") + 1,
            status_changed_at=timezone.now(),
        )
    )


def photo_process(*, photo_id: int, token: str | None = None) -> Photo | None:
    """Process one photo if it is waiting. Returns the photo, or None when there
    was nothing to do (gone, done, failed, or being processed by someone else).

    Recognition of the new faces is a step of its own
    (``recognition.photo_recognize``, the ``recognize_photo`` task): it reads
    other photos' faces, and its retries must not redo this photo's work.

    Undecodable files fail at once. Any other error puts the photo back to
    pending (or failed, after ``FACE_MAX_ATTEMPTS``) and is raised again, so
    the task can retry transient ones.
    """
    token = token or uuid.uuid4().hex
    if not photo_claim(photo_id=photo_id, token=token):
        return None
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return None
    try:
        analysis = photo_analyse(photo=photo)
        saved = photo_save_analysis(photo_id=photo_id, token=token, analysis=analysis)
    except ImageRejected as error:
        photo_fail(photo_id=photo_id, token=token, reason=str(error), kind=Photo.ErrorKind.FILE)
    except SoftTimeLimitExceeded:
        photo_release(photo_id=photo_id, token=token, reason="processing took longer than the time limit")
        raise
    except StoreUnavailable as error:
        # Nothing wrong with the photo: an outage of the store, however long,
        # must not use up its attempts and fail it for good.
        photo_release(photo_id=photo_id, token=token, reason=f"temporary error: {error}", spend_attempt=False)
        raise
    except TRANSIENT_ERRORS as error:
        photo_release(photo_id=photo_id, token=token, reason=f"temporary error: {error}")
        raise
    except Exception as error:
        logger.exception("photo %s: unexpected error", photo_id)
        photo_release(
            photo_id=photo_id, token=token, reason=f"unexpected error: {type(error).__name__}: {error}"
        )
        raise
    else:
        return saved
    return Photo.objects.filter(pk=photo_id).first()


def photo_analyse(*, photo: Photo) -> Analysis:
    """Everything slow, outside any transaction: decode, faces, derivatives."""
    try:
        source = photo.original.open("rb")
        # A bucket's object is fetched on the first read: here, where an outage
        # can still be told apart from a file that does not decode.
        source.read(1)
        source.seek(0)
    except (FileNotFoundError, ValueError):
        raise ImageRejected("the original file is missing from storage") from None
    except Exception as error:
        if storage.is_outage(error):
            raise StoreUnavailable(f"the photo store is not answering: {error}") from error
        raise
    with source:
        loaded = detection.image_open(source)
        preview = None
        if loaded.jpeg_as_is:
            # Shown at its own size: the file itself with its metadata cut out
            # saves a re-encoding, and its loss.
            source.seek(0)
            preview = jpeg_strip_metadata(source.read())
    faces = faces_find(loaded=loaded) if settings.FACE_RECOGNITION_ENABLED else None
    return Analysis(
        width=loaded.width,
        height=loaded.height,
        taken_at=_exif_datetime(loaded.taken_at),
        faces=faces,
        thumbnail=jpeg_bytes(loaded.rgb, max_side=THUMBNAIL_SIDE, quality=80),
        preview=preview or jpeg_bytes(loaded.rgb),
    )


def _exif_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        naive = datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return timezone.make_aware(naive, timezone.get_default_timezone())


def photo_save_analysis(*, photo_id: int, token: str, analysis: Analysis) -> Photo | None:
    """Write derivatives, then replace the photo's faces in one short transaction."""
    written: list[str] = []

    def store(path_function, content: bytes) -> str:
        # Listed before the write: an object may be stored even when the
        # store's answer is lost, and must then be deleted like the others.
        intended = path_function(None, "")
        written.append(intended)
        try:
            name = default_storage.save(intended, ContentFile(content))
        except Exception as error:
            if storage.is_outage(error):
                raise StoreUnavailable(f"the photo store is not answering: {error}") from error
            raise
        written[-1] = name
        return name

    try:
        thumbnail = store(thumbnail_path, analysis.thumbnail)
        preview = store(preview_path, analysis.preview)
        crops = [store(crop_path, face.crop) for face in analysis.faces or []]
        with transaction.atomic():
            photo = (
                Photo.objects.select_for_update()
                .filter(pk=photo_id, status=Photo.Status.PROCESSING, claimed_by=token)
                .first()
            )
            if photo is None:
                # Deleted meanwhile, or taken back by the sweeper: not ours to write.
                files_delete(written)
                return None
            obsolete = [photo.thumbnail.name, photo.preview.name]
            if analysis.faces is not None:
                obsolete += faces_replace(photo=photo, faces=analysis.faces, crops=crops)
            photo.thumbnail.name, photo.preview.name = thumbnail, preview
            photo.width, photo.height, photo.taken_at = analysis.width, analysis.height, analysis.taken_at
            photo.status, photo.error, photo.claimed_by = Photo.Status.DONE, "", ""
            if analysis.faces is not None:
                photo.face_model = settings.FACE_MODEL
            photo.status_changed_at = timezone.now()
            photo.save(
                update_fields=[
                    "thumbnail",
                    "preview",
                    "width",
                    "height",
                    "taken_at",
                    "status",
                    "error",
                    "claimed_by",
                    "face_model",
                    "status_changed_at",
                ]
            )
            files_delete_on_commit(obsolete)
    except BaseException:
        files_delete(written)
        raise
    return photo


def photo_reembed(*, photo_id: int) -> int | None:
    """Find and embed the faces of a processed photo again, in place (``manage.py reembed``).

    For a new detector or alignment: faces found again keep their rows (tags,
    rejections, covers), faces of people who opted out get no embedding or crop
    back, and confirmed faces not found again keep their tag (see
    ``faces_replace``). The photo stays ``done`` throughout, so the site keeps
    showing it. Returns the number of faces found, or None when the photo is
    gone or not done (being processed: the pipeline embeds it anyway).
    """
    photo = Photo.objects.filter(pk=photo_id, status=Photo.Status.DONE).first()
    if photo is None:
        return None
    try:
        source = photo.original.open("rb")
    except (FileNotFoundError, ValueError):
        raise ImageRejected("the original file is missing from storage") from None
    with source:
        loaded = detection.image_open(source)
    faces = faces_find(loaded=loaded)
    written: list[str] = []
    try:
        for face in faces:
            written.append(default_storage.save(crop_path(None, ""), ContentFile(face.crop)))
        with transaction.atomic():
            photo = Photo.objects.select_for_update().filter(pk=photo_id, status=Photo.Status.DONE).first()
            if photo is None:
                files_delete(written)
                return None
            obsolete = faces_replace(photo=photo, faces=faces, crops=written, keep_confirmed=True)
            photo.face_model = settings.FACE_MODEL
            photo.save(update_fields=["face_model"])
            files_delete_on_commit(obsolete)
    except BaseException:
        files_delete(written)
        raise
    return len(faces)


def photo_fail(*, photo_id: int, token: str, reason: str, kind: str = Photo.ErrorKind.PROCESSING) -> None:
    Photo.objects.filter(pk=photo_id, claimed_by=token).update(
        status=Photo.Status.FAILED,
        error=reason[:2000],
        error_kind=kind,
        claimed_by="",
        status_changed_at=timezone.now(),
    )


def photo_release(*, photo_id: int, token: str, reason: str, spend_attempt: bool = True) -> None:
    """Give the photo back after an error: pending for another try, or failed for good.

    ``spend_attempt=False`` gives back the attempt its claim counted: the
    error was not the photo's (the media store was down).
    """
    try:
        photo = Photo.objects.filter(pk=photo_id, claimed_by=token).only("attempts").first()
        if photo is None:
            return
        if not spend_attempt:
            Photo.objects.filter(pk=photo_id, claimed_by=token).update(
                status=Photo.Status.PENDING,
                error=reason[:2000],
                claimed_by="",
                attempts=Greatest(F("attempts") - 1, 0),
                status_changed_at=timezone.now(),
            )
            return
        if photo.attempts >= settings.FACE_MAX_ATTEMPTS:
            photo_fail(
                photo_id=photo_id, token=token, reason=f"{reason} (gave up after {photo.attempts} attempts)"
            )
            return
        Photo.objects.filter(pk=photo_id, claimed_by=token).update(
            status=Photo.Status.PENDING, error=reason[:2000], claimed_by="", status_changed_at=timezone.now()
        )
    except DatabaseError:
        # The database itself is the problem; the sweeper takes the photo back
        # once processing has outlived the time limit.
        logger.warning("photo %s: could not release after %s", photo_id, reason)


@dataclass
class SweepResult:
    requeued: list[int]
    failed: list[int]


def photos_sweep(*, now: datetime | None = None, pending_grace: int | None = None) -> SweepResult:
    """Find photos nobody is working on and get them processed (or failed for good).

    - processing for longer than the hard time limit: its worker died or lost
      the database; back to pending, or failed after ``FACE_MAX_ATTEMPTS``;
    - pending for longer than ``PHOTO_PENDING_GRACE``: its message never reached
      a worker (broker down at upload time, broker lost its queue); sent again.
    A message sent twice is harmless: only one run can claim the photo.

    ``pending_grace=0`` sends every pending photo at once: what a worker asks
    for when it (re)connects to the broker, since photos uploaded while the
    broker was away are waiting for exactly that.
    """
    now = now or timezone.now()
    stuck_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    stuck = Photo.objects.filter(status=Photo.Status.PROCESSING, status_changed_at__lt=stuck_before)
    failed = list(stuck.filter(attempts__gte=settings.FACE_MAX_ATTEMPTS).values_list("pk", flat=True))
    Photo.objects.filter(pk__in=failed).update(
        status=Photo.Status.FAILED,
        error=f"processing did not finish after {settings.FACE_MAX_ATTEMPTS} attempts",
        error_kind=Photo.ErrorKind.PROCESSING,
        claimed_by="",
        status_changed_at=now,
    )
    stuck.filter(attempts__lt=settings.FACE_MAX_ATTEMPTS).update(
        status=Photo.Status.PENDING, claimed_by="", status_changed_at=now - timedelta(days=1)
    )
    grace = settings.PHOTO_PENDING_GRACE if pending_grace is None else pending_grace
    waiting_before = now - timedelta(seconds=grace)
    waiting = list(
        Photo.objects.filter(status=Photo.Status.PENDING, status_changed_at__lt=waiting_before)
        .order_by("status_changed_at")
        .values_list("pk", flat=True)[:1000]
    )
    # Start a new grace period, so a long queue is not sent again at every sweep.
    Photo.objects.filter(pk__in=waiting).update(status_changed_at=now)
    for photo_id in waiting:
        queue.photo_enqueue(photo_id=photo_id)
    return SweepResult(requeued=waiting, failed=failed)
