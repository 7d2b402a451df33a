"""``manage.py benchmark pipeline PATH``: the face pipeline against naive deepface and the floor.

All in one process and one run, on the same files:

(a) naive: ``DeepFace.represent(img_path=file, ...)`` per original file (with
    deepface's dlib detector when photosite's is RetinaFace);
(b) the photosite pipeline: ``photo_process`` per photo (decode, detect, embed,
    crops, thumbnails, database writes), in a scratch database; recognition,
    the next task, is timed apart;
(c) the floor: the bare detector and embedder calls on the same photos already
    decoded and resized: the detector (RetinaFace on onnxruntime, or dlib's HOG
    scan and 5-point landmarks), dlib's face chip and the ResNet descriptor,
    nothing else.

Then the throughput of the engine part in one worker process and in two.
Models are loaded before any timing.
"""

import json
import multiprocessing
import resource
import time
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model

from devtools.benchmarks.scratch import scratch_database
from tagging.faces import detectors
from tagging.faces import engine as face_engine
from tagging.faces.images import ImageRejected
from tagging.models import Album, Face
from tagging.services import detection, pipeline, recognition
from tagging.services.uploads import photo_upload


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _photos(path: Path) -> list[Path]:
    """The files of PATH (recursively) that photosite accepts as photos."""
    found = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        try:
            with file.open("rb") as source:
                detection.image_check(source)
        except (ImageRejected, OSError):
            continue
        found.append(file)
    return found


def _naive(files: list[Path]) -> tuple[float, int]:
    """``DeepFace.represent`` per file. deepface has no RetinaFace that runs
    offline (its ``retinaface`` downloads weights), so with photosite's it runs
    with deepface's ``dlib`` detector, the one it would otherwise use here."""
    from deepface import DeepFace

    detector = "dlib" if settings.FACE_DETECTOR == detectors.RETINAFACE else settings.FACE_DETECTOR
    faces = 0
    started = time.perf_counter()
    for file in files:
        results = DeepFace.represent(
            img_path=str(file),
            model_name=settings.FACE_MODEL,
            detector_backend=detector,
            enforce_detection=False,
        )
        # With enforce_detection off, a photo without a face gives one result
        # for the whole image, with confidence 0.
        faces += sum(1 for result in results if result.get("face_confidence", 0) > 0)
    return time.perf_counter() - started, faces


def _upload_all(files: list[Path], owner, label: str) -> list[int]:
    ids = []
    for file in files:
        # An album per file: a byte-identical copy would be refused in the same album,
        # and the pipeline must see the same files as the other two runs.
        album = Album.objects.create(owner=owner, title=f"{label} {file.name}")
        with file.open("rb") as source:
            photo = photo_upload(album=album, uploader=owner, source=source, name=file.name, enqueue=False)
        ids.append(photo.pk)
    return ids


def _floor_one(engine, bgr: np.ndarray) -> int:
    """The bare calls for one photo: the scan, the landmarks, the chip, the ResNet descriptor.

    HOG: dlib's scan, 5-point shape, ``get_face_chip`` and descriptor. RetinaFace:
    the network on the scan-size copy, dlib's chip from its landmarks, the descriptor.
    """
    import dlib

    descriptor = engine.model.model.model
    if settings.FACE_DETECTOR == detectors.RETINAFACE:
        height, width = bgr.shape[:2]
        scale = min(1.0, detectors.RETINAFACE_SCAN_SIDE / max(height, width))
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if scale < 1:
            rgb = cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        found = engine.retinaface.detect(rgb=rgb, score_threshold=detectors.RETINAFACE_MIN_SCORE)
        template = dlib.dpoints([dlib.dpoint(x, y) for x, y in face_engine.CHIP_LANDMARKS])
        dims = dlib.chip_dims(face_engine.CHIP_SIZE, face_engine.CHIP_SIZE)
        for face in found:
            points = dlib.dpoints([dlib.dpoint(x / scale, y / scale) for x, y in face.landmarks])
            chip = dlib.extract_image_chip(bgr, dlib.chip_details(template, points, dims))
            descriptor.compute_face_descriptor(chip[:, :, ::-1].copy())
        return len(found)
    detector = engine.detector.model["face_detector"]
    predictor = engine.detector.model["sp"]
    upsample = 1 if max(bgr.shape[:2]) <= detectors.UPSAMPLE_MAX_SIDE else 0
    rects, _, _ = detector.run(bgr, upsample)
    for rect in rects:
        chip = dlib.get_face_chip(bgr, predictor(bgr, rect), size=face_engine.CHIP_SIZE)
        descriptor.compute_face_descriptor(chip[:, :, ::-1].copy())
    return len(rects)


def _pipeline_and_floor(files: list[Path], rounds: int) -> dict:
    """(b) and (c) interleaved photo by photo, best of ``rounds`` for each photo.

    Interleaving puts any burst of load from elsewhere on both alike; the best
    of a few rounds keeps what the code costs rather than what the machine
    was doing. (c) only exists for Dlib with the RetinaFace or the dlib detector.
    """
    with_floor = settings.FACE_MODEL == "Dlib" and settings.FACE_DETECTOR in (detectors.RETINAFACE, "dlib")
    engine = face_engine._engine_get(
        model_name=settings.FACE_MODEL, detector=settings.FACE_DETECTOR, home=settings.DEEPFACE_HOME
    )
    arrays = [cv2.cvtColor(array, cv2.COLOR_RGB2BGR) for array in _decoded(files)]
    owner = get_user_model().objects.create_user(username="benchmark")
    best_pipeline = [float("inf")] * len(files)
    best_floor = [float("inf")] * len(files)
    floor_faces = 0
    for round_number in range(rounds):
        ids = _upload_all(files, owner, f"round {round_number}")
        for index, photo_id in enumerate(ids):
            if with_floor:
                started = time.perf_counter()
                found = _floor_one(engine, arrays[index])
                best_floor[index] = min(best_floor[index], time.perf_counter() - started)
                floor_faces += found if round_number == 0 else 0
            started = time.perf_counter()
            pipeline.photo_process(photo_id=photo_id)
            best_pipeline[index] = min(best_pipeline[index], time.perf_counter() - started)
    # Recognition is the next task's work (suggest, group); timed apart, once.
    started = time.perf_counter()
    for photo_id in ids:
        recognition.photo_recognize(photo_id=photo_id)
    return {
        "pipeline_seconds": sum(best_pipeline),
        "floor_seconds": sum(best_floor) if with_floor else None,
        "pipeline_faces": Face.objects.filter(photo_id__in=ids).count(),
        "floor_faces": floor_faces,
        "recognition_seconds": time.perf_counter() - started,
    }


def _decoded(files: list[Path]) -> list[np.ndarray]:
    arrays = []
    for file in files:
        with file.open("rb") as source:
            loaded = detection.image_open(source)
        arrays.append(loaded.array())
    return arrays


def _engine_work(file: str) -> int:
    with open(file, "rb") as source:
        loaded = detection.image_open(source)
    return len(
        face_engine.faces_detect(
            image=loaded.array(),
            model_name=settings.FACE_MODEL,
            detector=settings.FACE_DETECTOR,
            home=settings.DEEPFACE_HOME,
        )
    )


def _warm(_: int) -> None:
    face_engine.engine_warm_up(
        model_name=settings.FACE_MODEL, detector=settings.FACE_DETECTOR, home=settings.DEEPFACE_HOME
    )


def _throughput(files: list[Path], processes: int, rounds: int = 2) -> float:
    """Photos per second of decode + detect + embed in ``processes`` worker processes."""
    work = [str(file) for file in files] * rounds
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        pool.map(_warm, range(processes), chunksize=1)  # models loaded in every process first
        started = time.perf_counter()
        pool.map(_engine_work, work, chunksize=1)
        elapsed = time.perf_counter() - started
    return len(work) / elapsed


def run(path: Path, *, stdout, as_json: bool, rounds: int = 3) -> dict:
    files = _photos(path)
    if not files:
        raise SystemExit(f"no photos under {path}")
    _warm(0)
    from deepface.modules import modeling

    modeling.build_model(task="facial_recognition", model_name=settings.FACE_MODEL)
    baseline_mb = _peak_mb()

    # The pipeline first: the peak memory read after it is its own (a peak
    # only grows, and the naive loop decodes every photo at full size).
    with scratch_database(label="benchmark"):
        measured = _pipeline_and_floor(files, rounds)
    pipeline_mb = _peak_mb()
    naive_seconds, naive_faces = _naive(files)
    naive_mb = _peak_mb()
    pipeline_seconds, floor_seconds = measured["pipeline_seconds"], measured["floor_seconds"]
    pipeline_faces, floor_faces = measured["pipeline_faces"], measured["floor_faces"]
    recognition_seconds = measured["recognition_seconds"]
    one = _throughput(files, 1)
    two = _throughput(files, 2)

    report = {
        "photos": len(files),
        "cores": multiprocessing.cpu_count(),
        "model": settings.FACE_MODEL,
        "detector": settings.FACE_DETECTOR,
        "max_side": settings.FACE_MAX_SIDE,
        "rounds": rounds,
        "naive_seconds": round(naive_seconds, 3),
        "pipeline_seconds": round(pipeline_seconds, 3),
        "floor_seconds": None if floor_seconds is None else round(floor_seconds, 3),
        "naive_photos_per_second": round(len(files) / naive_seconds, 2),
        "pipeline_photos_per_second": round(len(files) / pipeline_seconds, 2),
        "floor_photos_per_second": None if floor_seconds is None else round(len(files) / floor_seconds, 2),
        "speedup": round(naive_seconds / pipeline_seconds, 2),
        "floor_ratio": None if floor_seconds is None else round(pipeline_seconds / floor_seconds, 3),
        "recognition_seconds": round(recognition_seconds, 3),
        "naive_faces": naive_faces,
        "pipeline_faces": pipeline_faces,
        "floor_faces": floor_faces,
        "peak_rss_mb_models_loaded": round(baseline_mb, 1),
        "peak_rss_mb_after_pipeline": round(pipeline_mb, 1),
        "peak_rss_mb_after_naive": round(naive_mb, 1),
        "workers_1_photos_per_second": round(one, 2),
        "workers_2_photos_per_second": round(two, 2),
        "workers_2_over_1": round(two / one, 2),
    }
    if as_json:
        stdout.write(json.dumps(report))
        return report
    r = report
    floor = "n/a" if r["floor_seconds"] is None else f"{r['floor_seconds']:8.2f} s"
    lines = [
        f"{r['photos']} photos, {r['model']} + {r['detector']}, max side {r['max_side']}, {r['cores']} cores;"
        f" (b) and (c) interleaved, best of {r['rounds']} rounds per photo",
        f"(a) naive DeepFace.represent: {r['naive_seconds']:8.2f} s"
        f"  {r['naive_photos_per_second']:6.2f} photos/s  {r['naive_faces']} faces",
        f"(b) photosite pipeline:       {r['pipeline_seconds']:8.2f} s"
        f"  {r['pipeline_photos_per_second']:6.2f} photos/s  {r['pipeline_faces']} faces",
        f"(c) bare detector + embedder: {floor}"
        f"  {r['floor_photos_per_second']} photos/s  {r['floor_faces']} faces",
        f"speedup (a/b): {r['speedup']}x   pipeline/floor (b/c): {r['floor_ratio']}",
        f"then recognition (suggest and group, the next task): {r['recognition_seconds']:.2f} s",
        f"peak memory: {r['peak_rss_mb_models_loaded']} MB with models loaded,"
        f" {r['peak_rss_mb_after_pipeline']} MB after (b) and (c),"
        f" {r['peak_rss_mb_after_naive']} MB after (a)",
        f"engine throughput: 1 process {r['workers_1_photos_per_second']} photos/s,"
        f" 2 processes {r['workers_2_photos_per_second']} photos/s ({r['workers_2_over_1']}x)",
    ]
    stdout.write("\n".join(lines) + "\n")
    return report
