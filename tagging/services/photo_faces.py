"""The faces of one photo: which detections to keep, their crops, and how a new
detection is matched to the faces the photo already has (``faces_replace``)."""

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image

from tagging.faces.images import LoadedImage, jpeg_bytes
from tagging.models import Face, Photo
from tagging.services import detection

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
                crop=crop_bytes(loaded.rgb, face),
            )
        )
    return found


def crop_bytes(image: Image.Image, face) -> bytes:
    """A face's crop as JPEG bytes: its box (pixels of ``image``) with some of the head around it."""
    side = max(face.w, face.h) * (1 + 2 * CROP_MARGIN)
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    box = (
        max(0, int(cx - side / 2)),
        max(0, int(cy - side / 2)),
        min(image.width, int(cx + side / 2)),
        min(image.height, int(cy + side / 2)),
    )
    return jpeg_bytes(image.crop(box), max_side=CROP_SIDE, quality=85)


def _iou(a: FoundFace, b: Face) -> float:
    left, top = max(a.x, b.x), max(a.y, b.y)
    right, bottom = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def _clamp_box(face: FoundFace) -> tuple[float, float, float, float]:
    x, y = min(max(face.x, 0.0), 1.0), min(max(face.y, 0.0), 1.0)
    return x, y, max(min(face.w, 1.0 - x), 1e-6), max(min(face.h, 1.0 - y), 1e-6)


def faces_replace(
    *, photo: Photo, faces: list[FoundFace], crops: list[str], keep_confirmed: bool = False
) -> list[str]:
    """Match new faces to the photo's old ones by position; returns files no longer used.

    A face found again keeps its row (and with it its tag, rejections and any
    cover that points at it); only its box, embedding and crop are refreshed.
    A face of a person who opted out of recognition gets neither back: it keeps
    no embedding and no crop. Drawn faces and "not a face" boxes are never
    changed, and a detection on one of them is dropped. Old faces not found again are deleted, unless
    ``keep_confirmed`` keeps the confirmed ones (re-embedding with another
    detector must not lose a tag): they keep their tag and crop and lose their
    embedding, which came from the old alignment and must not meet new ones.
    """
    old_faces = list(
        Face.all_objects.filter(photo=photo).select_for_update(of=("self",)).select_related("person")
    )
    # Boxes members drew or called "not a face" stand as they are: a detection
    # on one of them is the same face, so it is dropped rather than stored again.
    fixed = [
        old for old in old_faces if old.source == Face.Source.MANUAL or old.status == Face.Status.NOT_A_FACE
    ]
    old_faces = [old for old in old_faces if old not in fixed]
    obsolete: list[str] = []
    to_create, to_update = [], []
    for found, crop in zip(faces, crops, strict=True):
        if any(_iou(found, old) >= SAME_FACE_IOU for old in fixed):
            obsolete.append(crop)
            continue
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
