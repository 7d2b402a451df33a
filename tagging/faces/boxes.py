"""Embedding a box a member drew, where the detector found no face.

Free of Django, like the rest of ``tagging.faces``: an image array and a box in
its pixels in, an embedding (or None) out. Beside ``engine`` rather than in it:
a use of the engine, not a part of it.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from tagging.faces import engine

# The detector looks at the box with this much of its size around it on each
# side: a member's box is rarely tight, and RetinaFace needs some context.
SEARCH_MARGIN = 0.5


@dataclass(frozen=True)
class BoxEmbedding:
    embedding: np.ndarray  # unit length, float32
    aligned: bool  # from the detector's landmarks (True) or the plain box (False)


def _inside(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def box_embed(
    *,
    image: np.ndarray,
    box: tuple[int, int, int, int],
    model_name: str,
    detector: str,
    home,
    min_side: int,
) -> BoxEmbedding | None:
    """The embedding of the face in ``box`` (x, y, w, h in pixels of ``image``, RGB uint8).

    First the detector runs on the box and a margin around it; a face whose
    landmarks all fall inside the box is aligned on them the way the pipeline
    aligns every face. Otherwise the box itself is embedded, cut and resized
    as the engine does for a crop it is given. A box whose shortest side is
    under ``min_side`` pixels gets None: too little to compare with anything.
    """
    x, y, w, h = box
    if min(w, h) < min_side:
        return None
    height, width = image.shape[:2]
    mx, my = int(w * SEARCH_MARGIN), int(h * SEARCH_MARGIN)
    left, top = max(0, x - mx), max(0, y - my)
    right, bottom = min(width, x + w + mx), min(height, y + h + my)
    region = np.ascontiguousarray(image[top:bottom, left:right])
    found = engine.faces_detect(image=region, model_name=model_name, detector=detector, home=home)
    inner = (x - left, y - top, w, h)
    inside = [
        face for face in found if face.landmarks and all(_inside(point, inner) for point in face.landmarks)
    ]
    if inside:
        best = max(inside, key=lambda face: face.w * face.h)
        return BoxEmbedding(embedding=np.asarray(best.embedding, dtype=np.float32), aligned=True)
    return BoxEmbedding(embedding=_plain_embed(image, box, model_name, detector, home), aligned=False)


def _plain_embed(image: np.ndarray, box, model_name: str, detector: str, home) -> np.ndarray:
    """The box, unaligned. For Dlib: the box with dlib's chip padding around it at
    the chip's size, which the engine passes to the network as it is; for other
    models the tight box, which the engine resizes as ``DeepFace.represent`` does."""
    x, y, w, h = box
    height, width = image.shape[:2]
    if model_name == "Dlib":
        pad_x, pad_y = int(w * engine.CHIP_PADDING), int(h * engine.CHIP_PADDING)
        canvas = np.zeros((h + 2 * pad_y, w + 2 * pad_x, 3), dtype=np.uint8)
        x0, y0 = max(0, x - pad_x), max(0, y - pad_y)
        x1, y1 = min(width, x + w + pad_x), min(height, y + h + pad_y)
        canvas[y0 - (y - pad_y) : y1 - (y - pad_y), x0 - (x - pad_x) : x1 - (x - pad_x)] = image[y0:y1, x0:x1]
        side = engine.CHIP_SIZE
        crop = cv2.resize(canvas, (side, side), interpolation=cv2.INTER_AREA)
    else:
        crop = np.ascontiguousarray(image[y : y + h, x : x + w])
    bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    # The engine's own model and lock: one network per process, never run in
    # two threads at once (see engine._Engine).
    running = engine._engine_get(model_name=model_name, detector=detector, home=home)
    with running.lock:
        return running._embed([bgr])[0]
