"""Rollbacks, deletions, time limits, a broker that is down and a worker killed mid-photo:
nothing lost, nothing duplicated.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from PIL import Image

from photosite.celery import app
from tagging.models import Face, Person, Photo
from tagging.services import pipeline, recognition
from tagging.services.uploads import photo_upload
from tests.faults import (
    ROOT,
    _queued,
    _wait_for,
    _worker_env,
)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_upload_enqueues_nothing(album, faces_dir):
    before = _queued()

    with pytest.raises(RuntimeError), transaction.atomic():
        with (faces_dir / "people/joe_biden/joe_biden_1.jpg").open("rb") as source:
            photo_upload(album=album, uploader=album.owner, source=source, name="a.jpg")
        raise RuntimeError("the request failed after the upload")

    assert _queued() == before
    assert not Photo.objects.exists()


@pytest.mark.django_db
def test_a_photo_deleted_while_it_is_processed_ends_cleanly(album, faces_dir, media_root):
    with (faces_dir / "groups/kit_harington_and_rose_leslie.jpg").open("rb") as source:
        photo = photo_upload(album=album, uploader=album.owner, source=source, name="a.jpg", enqueue=False)
    assert pipeline.photo_claim(photo_id=photo.pk, token="t")
    analysis = pipeline.photo_analyse(photo=photo)

    Photo.objects.filter(pk=photo.pk).delete()
    result = pipeline.photo_save_analysis(photo_id=photo.pk, token="t", analysis=analysis)

    assert result is None
    assert not Face.objects.exists()
    written = [p for p in media_root.rglob("*") if p.is_file() and "originals" not in p.parts]
    assert written == []  # thumbnails and crops written for it were removed again


@pytest.mark.django_db
def test_a_person_deleted_while_faces_are_assigned_to_them_ends_cleanly(library, member, monkeypatch):
    from tagging.services import people

    biden = Person.objects.create(name="Joe Biden")
    confirmed = library.first("people/joe_biden/joe_biden_1.jpg")
    Face.objects.filter(pk=confirmed.pk).update(person=biden, status=Face.Status.CONFIRMED)
    face = library.first("people/joe_biden/joe_biden_2.jpg")
    real = recognition.suggestions_for

    def suggest_then_lose_the_person(*, faces):
        suggestions = real(faces=faces)
        # An admin deletes the person between the neighbour query and the write.
        people.person_delete(person=Person.objects.get(pk=biden.pk), actor=member)
        return suggestions

    monkeypatch.setattr(recognition, "suggestions_for", suggest_then_lose_the_person)
    recognition.faces_recognize(face_ids=[face.pk])

    face.refresh_from_db()
    assert face.person_id != biden.pk
    assert not Person.objects.filter(pk=biden.pk).exists()
    # Its tag went with the person; the face itself is kept (and may be grouped anew).
    assert Face.objects.filter(pk=confirmed.pk).exclude(status=Face.Status.CONFIRMED).exists()


@pytest.mark.django_db
def test_a_task_past_its_time_limit_is_failed_with_the_reason_after_its_attempts(
    album, faces_dir, monkeypatch
):
    with (faces_dir / "people/joe_biden/joe_biden_1.jpg").open("rb") as source:
        photo = photo_upload(album=album, uploader=album.owner, source=source, name="a.jpg", enqueue=False)

    def too_slow(*, loaded):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pipeline, "faces_find", too_slow)
    for _ in range(settings.FACE_MAX_ATTEMPTS):
        with pytest.raises(SoftTimeLimitExceeded):
            pipeline.photo_process(photo_id=photo.pk)
    photo.refresh_from_db()

    assert photo.status == Photo.Status.FAILED
    assert "longer than the time limit" in photo.error and "after 3 attempts" in photo.error
    # Never looping: a further delivery of the task finds nothing to do.
    assert pipeline.photo_process(photo_id=photo.pk) is None


@pytest.mark.django_db(transaction=True)
def test_uploads_while_the_broker_is_down_are_processed_by_the_sweeper_once_it_is_back(
    celery_worker, client, member, album, faces_dir, monkeypatch
):
    from tagging import tasks

    def broker_down(*args, **kwargs):
        # What kombu raises when Redis does not answer; raised here because the
        # test's Redis is shared with the worker that must later do the work.
        raise BrokerError("Error 111 connecting to redis. Connection refused.")

    monkeypatch.setattr(tasks.process_photo, "apply_async", broker_down)
    client.force_login(member)
    names = ["people/kit_harington/kit_harington_1.jpg", "people/rose_leslie/rose_leslie_1.jpg"]
    for name in names:
        with (faces_dir / name).open("rb") as source:
            response = client.post(
                f"/albums/{album.pk}/upload/", {"files": [source]}, HTTP_ACCEPT="application/json"
            )
        assert response.status_code == 200 and response.json()["results"][0]["ok"]
    time.sleep(1)
    assert set(Photo.objects.values_list("status", flat=True)) == {Photo.Status.PENDING}

    monkeypatch.undo()  # the broker is back
    swept = pipeline.photos_sweep(now=timezone.now() + timedelta(seconds=settings.PHOTO_PENDING_GRACE + 1))

    assert len(swept.requeued) == 2
    for photo in Photo.objects.all():
        assert _wait_for(photo, {Photo.Status.DONE}).faces.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_photo_has_it_processed_again_without_duplicate_faces(
    album, faces_dir, media_root, tmp_path
):
    from celery.contrib.testing.worker import start_worker

    # A large photo, processed at full size, keeps the worker busy long enough to be killed mid-way.
    big = tmp_path / "big.jpg"
    image = Image.open(faces_dir / "groups/kit_harington_and_rose_leslie.jpg")
    image.resize((image.width * 4, image.height * 4)).save(big, quality=90)
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "photosite",
            "worker",
            "--pool",
            "prefork",
            "-c",
            "1",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env=_worker_env(media_root, FACE_MAX_SIDE="6000"),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while "ready." not in log.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.1)
        with big.open("rb") as source:
            photo = photo_upload(album=album, uploader=album.owner, source=source, name="big.jpg")
        _wait_for(photo, {Photo.Status.PROCESSING}, seconds=60)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)

    time.sleep(0.5)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PROCESSING and photo.faces.count() == 0

    # Later the sweeper finds it stuck past the time limit and sends it again.
    later = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    assert pipeline.photos_sweep(now=later).requeued == [photo.pk]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        photo = _wait_for(photo, {Photo.Status.DONE, Photo.Status.FAILED})

    assert photo.status == Photo.Status.DONE, photo.error
    assert photo.attempts == 2
    assert photo.faces.count() == 2
    assert len({(round(f.x, 3), round(f.y, 3)) for f in photo.faces.all()}) == 2
