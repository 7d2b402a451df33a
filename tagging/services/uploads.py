"""Adding photos to an album: checks, storage under a generated name, enqueueing."""

import hashlib
import logging
import os
import re
import unicodedata
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from tagging import queue, storage
from tagging.errors import ActionRefused
from tagging.faces.images import ImageRejected
from tagging.files import files_delete
from tagging.models import Album, Photo, original_path
from tagging.services import detection

logger = logging.getLogger(__name__)
_HASH_CHUNK = 1 << 20


class UploadRejected(ActionRefused):
    """The file was not added; ``str(error)`` says why in plain words."""


def display_name_clean(name: str) -> str:
    """An uploaded file name made safe to show: no folders, control characters or excess length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > 120:
        stem, ext = os.path.splitext(name)
        name = f"{stem[: 120 - len(ext[:10]) - 1]}…{ext[:10]}"
    return name or "photo"


def _megabytes(size: int) -> str:
    # Three significant digits: 1.04 MB over a 1 MB limit must not read "1 MB".
    return f"{size / 1_000_000:.3g}"


def content_hash(source: BinaryIO) -> str:
    digest = hashlib.sha256()
    source.seek(0)
    for chunk in iter(lambda: source.read(_HASH_CHUNK), b""):
        digest.update(chunk)
    source.seek(0)
    return digest.hexdigest()


def _size_check(source: BinaryIO, size: int | None) -> None:
    """Raises :class:`UploadRejected` for an empty file or one over UPLOAD_MAX_BYTES."""
    if size is None:
        source.seek(0, os.SEEK_END)
        size = source.tell()
        source.seek(0)
    if size == 0:
        raise UploadRejected("the file is empty")
    if size > settings.UPLOAD_MAX_BYTES:
        raise UploadRejected(too_large_message().format(size=_megabytes(size)))


def too_large_message() -> str:
    """What an uploader reads for a file over UPLOAD_MAX_BYTES, ``{size}`` (in MB, three
    significant digits) left to fill: the album page checks sizes before sending, in
    the same words."""
    return f"too large: {{size}} MB; the limit is {_megabytes(settings.UPLOAD_MAX_BYTES)} MB"


def probe_read(*, source: BinaryIO, size: int | None = None) -> str:
    """A dropped find-by-face photo, checked as an upload is and decoded here with Pillow
    alone, packed for a worker to embed; it is stored nowhere.

    The face library's :class:`ImageRejected` knows nothing of the site, so it is
    turned into :class:`UploadRejected` here, as for uploads: views only see
    refusals of the one kind.
    """
    _size_check(source, size)
    try:
        return detection.probe_pack(detection.image_open(source))
    except ImageRejected as error:
        raise UploadRejected(str(error)) from None


def photo_upload(
    *, album: Album, uploader, source: BinaryIO, name: str, size: int | None = None, enqueue: bool = True
) -> Photo:
    """Check, store and register one file; face processing is enqueued after commit.

    Raises :class:`UploadRejected` with a message for the uploader when the file
    is empty, too large, not an accepted image, over the pixel limit or already
    in the album. Nothing is stored for a rejected file. ``enqueue=False`` leaves
    the photo pending for the caller to process (evaluations, benchmarks).
    """
    _size_check(source, size)
    try:
        detection.image_check(source)
    except ImageRejected as error:
        raise UploadRejected(str(error)) from None
    digest = content_hash(source)
    if Photo.objects.filter(album=album, content_hash=digest).exists():
        raise UploadRejected("already in this album")

    photo = Photo(
        album=album, uploaded_by=uploader, content_hash=digest, display_name=display_name_clean(name)
    )
    intended = original_path(photo, name)
    try:
        photo.original.name = default_storage.save(intended, File(source))
    except Exception as error:
        if not storage.is_outage(error):
            raise
        # The store may have written the object before its answer was lost.
        files_delete([intended])
        raise UploadRejected(
            "the photo store is not answering; nothing was saved, try again in a moment"
        ) from None
    try:
        with transaction.atomic():
            photo.save()
            if enqueue:
                transaction.on_commit(lambda: queue.photo_enqueue(photo_id=photo.pk))
    except IntegrityError:
        # The same file uploaded twice at once: the unique constraint let one in.
        files_delete([photo.original.name])
        raise UploadRejected("already in this album") from None
    except BaseException:
        # No row (the database failed, the request was cut): no file either.
        files_delete([photo.original.name])
        raise
    return photo
