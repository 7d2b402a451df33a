"""The face library (``tagging.faces``) with this site's settings.

The one place that reads the FACE_* settings and DEEPFACE_HOME: the pipeline,
the find-by-face probe, ``manage.py detect`` and the worker's start all come
through here.
"""

import base64
import io
from typing import BinaryIO

import numpy as np
from django.conf import settings

from tagging.faces import engine
from tagging.faces.images import LoadedImage, image_inspect, image_load, jpeg_bytes


def image_check(source: BinaryIO) -> None:
    """Raises ImageRejected for a file that is no photo this site takes (cheap: no decoding)."""
    return image_inspect(source=source, max_pixels=settings.FACE_MAX_PIXELS)


def image_open(source: BinaryIO) -> LoadedImage:
    """Decoded, oriented, at most FACE_MAX_SIDE: what detection runs on."""
    return image_load(source=source, max_pixels=settings.FACE_MAX_PIXELS, max_side=settings.FACE_MAX_SIDE)


def models_load() -> None:
    """Load the model and the detector now (a worker process at start)."""
    engine.engine_warm_up(
        model_name=settings.FACE_MODEL, detector=settings.FACE_DETECTOR, home=settings.DEEPFACE_HOME
    )


def faces_kept(*, loaded: LoadedImage) -> tuple[list[engine.DetectedFace], float]:
    """Detect and embed, then keep the faces worth keeping, largest first.

    Returns the faces (boxes in pixels of the downscaled array) and the factor
    from those pixels to the oriented original's.
    """
    array = loaded.array()
    detected = engine.faces_detect(
        image=array,
        model_name=settings.FACE_MODEL,
        detector=settings.FACE_DETECTOR,
        home=settings.DEEPFACE_HOME,
    )
    # Sizes are judged in pixels of the original, not of the downscaled copy.
    scale = loaded.width / array.shape[1]
    kept = [
        face
        for face in detected
        if min(face.w, face.h) * scale >= settings.FACE_MIN_SIZE
        and (face.confidence is None or face.confidence >= settings.FACE_MIN_CONFIDENCE)
    ]
    kept.sort(key=lambda face: face.w * face.h, reverse=True)
    return kept[: settings.FACE_MAX_PER_PHOTO], scale


def probe_pack(loaded: LoadedImage) -> str:
    """A dropped photo as the find-by-face task takes it: the decoded copy as a JPEG, in base64
    (a few hundred kB at FACE_MAX_SIDE; the original may be tens of MB)."""
    return base64.b64encode(jpeg_bytes(loaded.rgb, quality=92)).decode("ascii")


def probe_embedding(packed: str) -> list[float] | None:
    """The embedding of the largest face kept in a packed probe, or None when it has none."""
    loaded = image_open(io.BytesIO(base64.b64decode(packed)))
    kept, _ = faces_kept(loaded=loaded)
    if not kept:
        return None
    return np.asarray(kept[0].embedding, dtype=np.float32).tolist()
