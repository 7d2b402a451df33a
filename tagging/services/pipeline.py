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

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from PIL import Image

from tagging import queue, storage
from tagging.faces.images import ImageRejected, LoadedImage, jpeg_bytes
from tagging.files import files_delete, files_delete_on_commit
from tagging.models import Face, Photo, crop_path, preview_path, thumbnail_path
from tagging.services import detection
from tagging.services.metadata import jpeg_strip_metadata
from tagging.storage import StoreUnavailable

logger = logging.getLogger(__name__)

# Errors that say nothing about the photo: the database, the broker or the
# media store was unreachable for a moment. The task retries them with backoff.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError, ConnectionError, StoreUnavailable)

THUMBNAIL_SIDE = 480
CROP_SIDE = 224
# Crops show some of the head and hair around the detector's tight box.
CROP_MARGIN = 0.35
# Boxes overlapping this much on a second run are the same face.
SAME_FACE_IOU = 0.5


@dataclass
class FoundFace:
    x: float  # relative to the oriented image, 0..1
    y: float
    w: float
    h: float
    confidence: float | None
    embedding: np.ndarray
    crop: bytes


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
    with transaction.atomic():
        _commit_without_waiting_for_the_disk()
        return bool(
            Photo.objects.filter(claimable, pk=photo_id).update(
                status=Photo.Status.PROCESSING,
                claimed_by=token,
                attempts=F("attempts") + 1,
                status_changed_at=timezone.now(),
            )
        )


def _commit_without_waiting_for_the_disk() -> None:
    """This transaction's commit returns before PostgreSQL flushes it to disk
    (``synchronous_commit`` off for it alone).

    Only for what a worker derives from a stored original: a crash within a
    fraction of a second after the commit can lose it, and the photo is then
    processed again (the sweeper sends back photos left pending or processing),
    so nothing a member gave is lost. Uploads, tags and deletions keep waiting
    for the disk. A flush per commit, two per photo, cost 5 to 11 ms each here
    under load, a third of what the pipeline spends beyond detection and embedding.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


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


def faces_find(*, loaded: LoadedImage) -> list[FoundFace]:
    """The faces worth keeping (``detection.faces_kept``), with boxes relative to the image and crops."""
    kept, _ = detection.faces_kept(loaded=loaded)
    width, height = loaded.rgb.size
    found = []
    for face in kept:
        embedding = np.asarray(face.embedding, dtype=np.float32)
        embedding = embedding / (np.linalg.norm(embedding) or 1.0)
        found.append(
            FoundFace(
                x=face.x / width,
                y=face.y / height,
                w=face.w / width,
                h=face.h / height,
                confidence=face.confidence,
                embedding=embedding,
                crop=_crop(loaded.rgb, face),
            )
        )
    return found


def _crop(image: Image.Image, face) -> bytes:
    side = max(face.w, face.h) * (1 + 2 * CROP_MARGIN)
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    box = (
        max(0, int(cx - side / 2)),
        max(0, int(cy - side / 2)),
        min(image.width, int(cx + side / 2)),
        min(image.height, int(cy + side / 2)),
    )
    return jpeg_bytes(image.crop(box), max_side=CROP_SIDE, quality=85)


def _exif_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        naive = datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return timezone.make_aware(naive, timezone.get_default_timezone())


def _iou(a: FoundFace, b: Face) -> float:
    left, top = max(a.x, b.x), max(a.y, b.y)
    right, bottom = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def _clamp_box(face: FoundFace) -> tuple[float, float, float, float]:
    x, y = min(max(face.x, 0.0), 1.0), min(max(face.y, 0.0), 1.0)
    return x, y, max(min(face.w, 1.0 - x), 1e-6), max(min(face.h, 1.0 - y), 1e-6)


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
            _commit_without_waiting_for_the_disk()
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
                obsolete += _faces_replace(photo=photo, faces=analysis.faces, crops=crops)
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


def _faces_replace(
    *, photo: Photo, faces: list[FoundFace], crops: list[str], keep_confirmed: bool = False
) -> list[str]:
    """Match new faces to the photo's old ones by position; returns files no longer used.

    A face found again keeps its row (and with it its tag, rejections and any
    cover that points at it); only its box, embedding and crop are refreshed.
    A face of a person who opted out of recognition gets neither back: it keeps
    no embedding and no crop. Old faces not found again are deleted, unless
    ``keep_confirmed`` keeps the confirmed ones (re-embedding with another
    detector must not lose a tag): they keep their tag and crop and lose their
    embedding, which came from the old alignment and must not meet new ones.
    """
    old_faces = list(photo.faces.select_for_update(of=("self",)).select_related("person"))
    obsolete: list[str] = []
    to_create, to_update = [], []
    for found, crop in zip(faces, crops, strict=True):
        x, y, w, h = _clamp_box(found)
        match = max(old_faces, key=lambda old: _iou(found, old), default=None)
        if match is not None and _iou(found, match) >= SAME_FACE_IOU:
            old_faces.remove(match)
            match.x, match.y, match.w, match.h = x, y, w, h
            match.confidence, match.model_name = found.confidence, settings.FACE_MODEL
            if match.person is not None and match.person.recognition_opt_out:
                obsolete += [crop, match.crop.name]
                match.embedding, match.crop.name = None, ""
            else:
                obsolete.append(match.crop.name)
                match.embedding, match.crop.name = found.embedding.tolist(), crop
            to_update.append(match)
        else:
            to_create.append(
                Face(
                    photo=photo,
                    x=x,
                    y=y,
                    w=w,
                    h=h,
                    confidence=found.confidence,
                    embedding=found.embedding.tolist(),
                    model_name=settings.FACE_MODEL,
                    crop=crop,
                )
            )
    if keep_confirmed:
        kept = [old for old in old_faces if old.status == Face.Status.CONFIRMED]
        Face.objects.filter(pk__in=[old.pk for old in kept]).update(embedding=None)
        old_faces = [old for old in old_faces if old.status != Face.Status.CONFIRMED]
    Face.objects.filter(pk__in=[old.pk for old in old_faces]).delete()
    Face.objects.bulk_update(to_update, ["x", "y", "w", "h", "confidence", "embedding", "model_name", "crop"])
    Face.objects.bulk_create(to_create)
    return [name for name in obsolete if name]


def photo_reembed(*, photo_id: int) -> int | None:
    """Find and embed the faces of a processed photo again, in place (``manage.py reembed``).

    For a new detector or alignment: faces found again keep their rows (tags,
    rejections, covers), faces of people who opted out get no embedding or crop
    back, and confirmed faces not found again keep their tag (see
    ``_faces_replace``). The photo stays ``done`` throughout, so the site keeps
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
            obsolete = _faces_replace(photo=photo, faces=faces, crops=written, keep_confirmed=True)
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
