"""Attempts, the sweeper, missing weights, and the commands around the pipeline
(import_photos, reembed, detect).
"""

import io
import shutil
import time
from datetime import timedelta

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from tagging.models import Album, Face, Person, Photo
from tagging.services import pipeline
from tests.pipeline import (
    _exif_rotated,
    _photo,
    _process,
)

pytestmark = pytest.mark.django_db


def test_after_the_last_attempt_the_photo_fails_with_the_reason(album, faces_dir, monkeypatch):
    photo = _photo(album, (faces_dir / "people/joe_biden/joe_biden_1.jpg").read_bytes())

    def exploding(*, loaded):
        raise RuntimeError("detector crashed")

    monkeypatch.setattr(pipeline, "faces_find", exploding)
    for attempt in range(1, settings.FACE_MAX_ATTEMPTS + 1):
        with pytest.raises(RuntimeError):
            pipeline.photo_process(photo_id=photo.pk)
        photo.refresh_from_db()
        expected = Photo.Status.FAILED if attempt == settings.FACE_MAX_ATTEMPTS else Photo.Status.PENDING
        assert photo.status == expected

    assert "detector crashed" in photo.error and "gave up after 3 attempts" in photo.error


def test_the_sweeper_takes_back_stuck_photos_and_resends_waiting_ones(album, faces_dir, monkeypatch):
    sent = []
    monkeypatch.setattr("tagging.queue.photo_enqueue", lambda *, photo_id: sent.append(photo_id))
    long_ago = timezone.now() - timedelta(hours=2)
    content = (faces_dir / "people/joe_biden/joe_biden_1.jpg").read_bytes()
    waiting = _photo(album, content)
    stuck = _photo(
        album, content + b"1", status=Photo.Status.PROCESSING, attempts=1, claimed_by="dead-worker"
    )
    hopeless = _photo(album, content + b"2", status=Photo.Status.PROCESSING, attempts=3, claimed_by="dead")
    fresh = _photo(album, content + b"3")
    Photo.objects.exclude(pk=fresh.pk).update(status_changed_at=long_ago)

    result = pipeline.photos_sweep()

    assert sorted(result.requeued) == sorted([waiting.pk, stuck.pk])
    assert sorted(sent) == sorted([waiting.pk, stuck.pk])
    assert result.failed == [hopeless.pk]
    hopeless.refresh_from_db()
    assert hopeless.status == Photo.Status.FAILED and "did not finish after 3 attempts" in hopeless.error
    # Sent again only after another grace period.
    assert pipeline.photos_sweep().requeued == []


def test_import_photos_reports_imported_duplicates_and_rejected(member, faces_dir, tmp_path, capsys):
    folder = tmp_path / "import"
    shutil.copytree(faces_dir / "edge", folder / "edge")
    (folder / "notes.jpg").write_text("not a photo")
    (folder / "empty.png").write_bytes(b"")

    call_command("import_photos", str(folder), album="Imported", user="alice", verbosity=0)

    out = capsys.readouterr().out
    # duplicate_of_joe_biden_1.jpg is new here; a second import finds all five.
    assert "5 imported, 0 duplicate, 2 rejected" in out
    assert "notes.jpg: not an image" in out and "empty.png: the file is empty" in out
    album = Album.objects.get(title="Imported")
    assert album.photos.count() == 5

    call_command("import_photos", str(folder), album="Imported", user="alice", verbosity=0)
    assert "0 imported, 5 duplicate, 2 rejected" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_processes_an_imported_photo_end_to_end(celery_worker, member, faces_dir, tmp_path):
    from tagging.services import faces as face_actions

    known = _process(
        _photo(
            Album.objects.create(owner=member, title="Known"),
            (faces_dir / "people/rose_leslie/rose_leslie_1.jpg").read_bytes(),
        )
    )
    rose = face_actions.face_tag_new_person(face=known.faces.get(), name="Rose Leslie").person
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(faces_dir / "groups/kit_harington_and_rose_leslie.jpg", folder)

    call_command("import_photos", str(folder), album="Worker", user="alice", verbosity=0)

    photo = Photo.objects.get(album__title="Worker")
    deadline = time.monotonic() + 120
    # Processed, then recognised by the task that processing sends on.
    while not photo.faces.filter(person=rose).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
        photo.refresh_from_db()
    assert photo.status == Photo.Status.DONE, photo.error
    assert photo.faces.count() == 2
    assert photo.faces.get(person=rose).status == Face.Status.SUGGESTED


def test_an_upright_jpeg_is_shown_as_itself_without_its_metadata(faces_dir):
    from tagging.services.metadata import jpeg_strip_metadata

    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    buffer = io.BytesIO()
    Image.open(faces_dir / "people/kit_harington/kit_harington_1.jpg").save(
        buffer, "JPEG", exif=exif, comment=b"at home"
    )

    stripped = jpeg_strip_metadata(buffer.getvalue())

    assert b"Exif" not in stripped and b"CameraMaker" not in stripped and b"at home" not in stripped
    original = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(stripped)).convert("RGB")), original)
    # Anything it cannot walk is left to re-encoding.
    assert jpeg_strip_metadata(b"\xff\xd8\xff\xe1\xff\xff") is None
    assert jpeg_strip_metadata(b"GIF89a") is None


def test_a_model_whose_weights_are_missing_fails_photos_with_the_file_and_folder(
    album, faces_dir, settings, tmp_path
):
    from tagging.faces import weights
    from tagging.tasks import _load_models

    settings.FACE_MODEL = "Facenet512"
    settings.DEEPFACE_HOME = tmp_path / "deepface"
    _load_models()  # a worker process starts anyway, and says why in its log
    photo = _photo(album, (faces_dir / "people/joe_biden/joe_biden_1.jpg").read_bytes())

    for _ in range(settings.FACE_MAX_ATTEMPTS):
        with pytest.raises(weights.WeightsMissing):
            pipeline.photo_process(photo_id=photo.pk)
    photo.refresh_from_db()

    assert photo.status == Photo.Status.FAILED
    assert "facenet512_weights.onnx" in photo.error
    assert str(tmp_path / "deepface" / ".deepface" / "weights") in photo.error


def test_reembedding_keeps_tags_rejections_covers_and_gives_opted_out_faces_nothing_back(
    album, faces_dir, settings
):
    from tagging.faces.detectors import RETINAFACE
    from tagging.models import FaceRejection

    settings.FACE_DETECTOR = "dlib"
    photo = _process(_photo(album, (faces_dir / "groups/barack_obama_and_joe_biden_1.jpg").read_bytes()))
    tagged, rejected, opted_out = photo.faces.order_by("x")
    obama = Person.objects.create(name="Barack Obama")
    biden = Person.objects.create(name="Joe Biden")
    hidden = Person.objects.create(name="Child", recognition_opt_out=True)
    Face.objects.filter(pk=tagged.pk).update(person=obama, status=Face.Status.CONFIRMED)
    Person.objects.filter(pk=obama.pk).update(cover_face=tagged)
    FaceRejection.objects.create(face=rejected, person=biden)
    Face.objects.filter(pk=opted_out.pk).update(person=hidden, status=Face.Status.CONFIRMED)
    Face.objects.filter(pk=opted_out.pk).forget()
    old_embedding = np.asarray(Face.objects.get(pk=tagged.pk).embedding)

    settings.FACE_DETECTOR = RETINAFACE
    call_command("reembed", stdout=io.StringIO(), stderr=io.StringIO())

    faces = {face.pk: face for face in Face.objects.filter(photo=photo)}
    assert sorted(faces) == sorted([tagged.pk, rejected.pk, opted_out.pk])
    assert (faces[tagged.pk].person, faces[tagged.pk].status) == (obama, Face.Status.CONFIRMED)
    assert not np.allclose(np.asarray(faces[tagged.pk].embedding), old_embedding)
    assert FaceRejection.objects.filter(face=rejected, person=biden).exists()
    assert faces[rejected.pk].person != biden
    assert (faces[opted_out.pk].person, faces[opted_out.pk].status) == (hidden, Face.Status.CONFIRMED)
    assert faces[opted_out.pk].embedding is None and not faces[opted_out.pk].crop
    obama.refresh_from_db()
    assert obama.cover_face_id == tagged.pk


def test_detect_prints_boxes_in_pixels_of_the_oriented_image_with_scores_and_landmarks(faces_dir, tmp_path):
    import json

    path = faces_dir / "people/joe_biden/joe_biden_2.jpg"
    rotated = tmp_path / "rotated.jpg"
    rotated.write_bytes(_exif_rotated(path))
    out = io.StringIO()

    call_command("detect", str(path), str(rotated), "--json", stdout=out)

    upright, turned = (json.loads(line) for line in out.getvalue().splitlines())
    width, height = Image.open(path).size
    assert (upright["width"], upright["height"]) == (turned["width"], turned["height"]) == (width, height)
    for report in (upright, turned):
        (face,) = report["faces"]
        assert (
            0 <= face["x"] < face["x"] + face["w"] <= width
            and 0 <= face["y"] < face["y"] + face["h"] <= height
        )
        assert face["score"] >= 0.95 and len(face["landmarks"]) == 5
        # Every landmark lies in the box: eyes, nose tip and mouth corners.
        assert all(
            face["x"] <= x <= face["x"] + face["w"] and face["y"] <= y <= face["y"] + face["h"]
            for x, y in face["landmarks"]
        )
    a, b = upright["faces"][0], turned["faces"][0]
    assert abs(a["x"] - b["x"]) <= 0.03 * width and abs(a["y"] - b["y"]) <= 0.03 * height
