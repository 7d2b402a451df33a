"""Faces members draw where the detector found none: the box and its name at once,
the crop and embedding later in a worker (``embed_drawn_face``)."""

import logging
from types import SimpleNamespace

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from tagging import queue, storage
from tagging.faces.images import ImageRejected
from tagging.files import files_delete
from tagging.models import Face, Photo, crop_path
from tagging.services import detection, recognition
from tagging.services import faces as face_actions
from tagging.services.photo_faces import crop_bytes
from tagging.storage import StoreUnavailable

logger = logging.getLogger(__name__)


def face_draw(*, photo: Photo, x: float, y: float, w: float, h: float, name: str, user) -> Face:
    """A face on ``photo`` where a member drew it (box relative to the oriented photo,
    0..1), tagged ``name`` (as ``face_tag_by_name`` means it). The worker makes its
    crop and embedding after commit; until then, and for good when it cannot, it is a
    tag only: without an embedding it is never anyone's evidence."""
    if not name.strip():
        raise face_actions.FaceActionError("a name is needed")
    x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
    w, h = min(w, 1.0 - x), min(h, 1.0 - y)
    if w <= 0.005 or h <= 0.005:
        raise face_actions.FaceActionError("draw a box around the face first")
    with transaction.atomic():
        face = Face.objects.create(
            photo=photo, x=x, y=y, w=w, h=h, model_name=settings.FACE_MODEL, source=Face.Source.MANUAL
        )
        face = face_actions.face_tag_by_name(face=face, name=name, user=user)
        if settings.FACE_RECOGNITION_ENABLED:
            transaction.on_commit(lambda: queue.face_embed_enqueue(face_id=face.pk))
    return face


def _embeddable(face_id: int) -> Face | None:
    """The face still waiting for its embedding, unless its person opted out: a drawn
    face, or a detected one back from "not a face" (by undo)."""
    return (
        Face.objects.filter(pk=face_id, embedding__isnull=True, crop="")
        .exclude(person__recognition_opt_out=True)
        .select_related("photo")
        .first()
    )


def drawn_face_embed(*, face_id: int) -> bool:
    """Crop and embed a drawn face (the ``embed_drawn_face`` task); True when it got an
    embedding. Idempotent: a face already embedded, gone, marked "not a face" or of
    someone who opted out is left alone, and the result is written only if that
    still holds once the slow part is done."""
    face = _embeddable(face_id)
    if face is None:
        return False
    try:
        with face.photo.original.open("rb") as source:
            loaded = detection.image_open(source)
    except (FileNotFoundError, ValueError, ImageRejected) as error:
        logger.warning("drawn face %s: photo unreadable (%s); kept as a tag only", face_id, error)
        return False
    except Exception as error:
        if storage.is_outage(error):
            raise StoreUnavailable(f"the photo store is not answering: {error}") from error
        raise
    array = loaded.array()
    height, width = array.shape[:2]
    box = (
        int(face.x * width),
        int(face.y * height),
        max(1, int(face.w * width)),
        max(1, int(face.h * height)),
    )
    result = detection.box_embedding(loaded=loaded, box=box)
    pixels = SimpleNamespace(x=box[0], y=box[1], w=box[2], h=box[3])
    name = default_storage.save(crop_path(None, ""), ContentFile(crop_bytes(loaded.rgb, pixels)))
    try:
        with transaction.atomic():
            locked = Face.objects.select_for_update().filter(pk=face_id).exists()
            if not locked or _embeddable(face_id) is None:
                files_delete([name])
                return False
            embedding = (
                None if result is None else (result.embedding / np.linalg.norm(result.embedding)).tolist()
            )
            Face.objects.filter(pk=face_id).update(embedding=embedding, crop=name)
    except BaseException:
        files_delete([name])
        raise
    face.refresh_from_db()
    if embedding is not None:
        # Now evidence: the open faces near it may be suggested this person.
        recognition.faces_refresh_near(face=face)
    return embedding is not None
