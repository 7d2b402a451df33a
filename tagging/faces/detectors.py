"""Where the faces are: RetinaFace (the default) or dlib's HOG scan, each with 5 landmarks.

Both give ``Located`` faces (box, score, landmarks) in pixels of the photo;
``tagging.faces.engine`` cuts and embeds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# A photo whose longest side is at most this is scanned upsampled once, which
# finds faces down to about 40 px instead of 60 px. That costs four times the
# scan, no more than the scan of a photo of twice the side.
UPSAMPLE_MAX_SIDE = 512

# The default detector's name in FACE_DETECTOR (deepface's own "retinaface"
# is another package, which downloads its weights).
RETINAFACE = "retinaface-tiny"

# RetinaFace scans a copy whose longest side is at most this. Measured on
# shared/faces and shared/faces-extra: every face is found at 800 to 1600 (the
# smallest, 29 px on an 800 px group photo, scores 0.98 and more), but on big
# camera photos the boxes that hold no face score up to 0.73 at 1024 and up to
# 0.875 at 1600 (a hand, a shoulder). 1024 costs about 50 ms a photo.
RETINAFACE_SCAN_SIDE = 1024

# Boxes scoring less are dropped. Measured as above: true faces score 0.979 and
# more, false boxes 0.73 at most at the scan side above; deepface's and the
# package's default, 0.9, sits closer to the false ones than needed.
RETINAFACE_MIN_SCORE = 0.95

# A box lying mostly inside better-scored faces is a ghost between two faces
# that touch (011_3.jpg of faces-extra: 0.92 of it inside its two neighbours,
# score 0.98); no real face of either fixture set lies more than 0.11 inside
# others, so half is a wide margin.
RETINAFACE_MAX_COVERED = 0.5


@dataclass(frozen=True)
class Located:
    """A face found, before its embedding: box and landmarks in pixels of the photo."""

    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: tuple[tuple[float, float], ...]
    shape: Any  # dlib's full_object_detection for a HOG face, else None


def faces_choose(found: list, *, max_covered: float | None = None) -> list:
    """Drop boxes that lie mostly inside better-scored boxes (``RETINAFACE_MAX_COVERED``).

    ``found`` holds objects with x, y, w, h and score, best score first
    (non-maximum suppression already ran: no two overlap by IoU over 0.4).
    Coverage is judged on a 16 x 16 grid of points of each box.
    """
    limit = RETINAFACE_MAX_COVERED if max_covered is None else max_covered
    grid = (np.arange(16) + 0.5) / 16
    kept: list = []
    for face in sorted(found, key=lambda f: -f.score):
        xs, ys = np.meshgrid(face.x + grid * face.w, face.y + grid * face.h)
        inside = np.zeros(xs.shape, dtype=bool)
        for other in kept:
            within_x = (xs >= other.x) & (xs <= other.x + other.w)
            inside |= within_x & (ys >= other.y) & (ys <= other.y + other.h)
        if inside.mean() <= limit:
            kept.append(face)
    return kept


def retinaface_locate(network, rgb: np.ndarray) -> list[Located]:
    """RetinaFace on a copy of at most RETINAFACE_SCAN_SIDE, mapped back to ``rgb``."""
    height, width = rgb.shape[:2]
    scale = min(1.0, RETINAFACE_SCAN_SIDE / max(height, width))
    scanned = rgb
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        scanned = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        scale = scanned.shape[1] / width
    found = network.detect(rgb=scanned, score_threshold=RETINAFACE_MIN_SCORE)
    located = []
    for detection in faces_choose(found):
        located.append(
            Located(
                x=detection.x / scale,
                y=detection.y / scale,
                w=detection.w / scale,
                h=detection.h / scale,
                score=detection.score,
                landmarks=tuple((px / scale, py / scale) for px, py in detection.landmarks),
                shape=None,
            )
        )
    return located


def dlib_locate(detector, bgr: np.ndarray) -> list[Located]:
    """dlib's HOG scan on the photo itself (deepface scans it padded by half its
    size on each side, 4 times the pixels), upsampled only when the photo is
    small; the 5-point shape predictor gives the landmarks."""
    height, width = bgr.shape[:2]
    upsample = 1 if max(height, width) <= UPSAMPLE_MAX_SIDE else 0
    rects, scores = dlib_scan(detector, bgr, upsample=upsample)
    predictor = detector.model["sp"]
    located = []
    for rect, score in zip(rects, scores, strict=True):
        shape = predictor(bgr, rect)
        located.append(
            Located(
                x=float(rect.left()),
                y=float(rect.top()),
                w=float(rect.right() - rect.left()),
                h=float(rect.bottom() - rect.top()),
                score=min(max(0.0, float(score)), 1.0),
                landmarks=tuple((float(shape.part(i).x), float(shape.part(i).y)) for i in range(5)),
                shape=shape,
            )
        )
    return located


def dlib_scan(detector, bgr: np.ndarray, *, upsample: int) -> tuple[list[Any], list[float]]:
    """dlib's HOG scan: face rectangles (``dlib.rectangle``) and their scores."""
    rects, scores, _ = detector.model["face_detector"].run(bgr, upsample)
    return list(rects), list(scores)
