"""The media store stopped while members upload and while a worker processes,
then started again: nothing is lost, nothing is left half-made."""

import time

import pytest
from celery.signals import task_retry
from django.urls import reverse

from tagging.models import Album, Face, Photo
from tests.seaweed import SeaweedServer

NAMES = [
    "people/joe_biden/joe_biden_1.jpg",
    "people/kit_harington/kit_harington_1.jpg",
    "people/rose_leslie/rose_leslie_1.jpg",
]


@pytest.fixture
def store(tmp_path, settings):
    """A SeaweedFS server of this test's own, since the test stops it."""
    server = SeaweedServer(tmp_path / "seaweed")
    server.start()
    server.client().create_bucket(Bucket="media")
    settings.STORAGES = {**settings.STORAGES, "default": server.storage_settings("media", connect_timeout=1)}
    yield server
    server.stop()


def _named_objects() -> list[str]:
    photos = Photo.objects.values_list("original", "thumbnail", "preview")
    crops = Face.objects.exclude(crop="").values_list("crop", flat=True)
    return sorted({name for row in photos for name in row if name} | set(crops))


def _upload(client, album: Album, path):
    with path.open("rb") as source:
        return client.post(
            reverse("album_upload", args=[album.pk]), {"files": [source]}, HTTP_ACCEPT="application/json"
        )


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {seconds} s")
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_uploads_while_the_store_is_down_answer_a_plain_error_and_leave_no_row_nor_file(
    client, member, faces_dir, store
):
    album = Album.objects.create(owner=member, title="Outage")
    client.force_login(member)
    store.stop()

    response = _upload(client, album, faces_dir / NAMES[0])

    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["ok"] is False
    assert result["error"] == "the photo store is not answering; nothing was saved, try again in a moment"
    assert not Photo.objects.exists()
    store.start()
    assert store.keys("media") == []
    # Once it is back, the same file goes in.
    assert _upload(client, album, faces_dir / NAMES[0]).json()["results"][0]["ok"]
    assert store.keys("media") == _named_objects()


@pytest.mark.django_db(transaction=True)
def test_photos_processed_while_the_store_is_down_are_retried_with_backoff_and_all_done_once_it_is_back(
    client, member, faces_dir, store, settings
):
    from celery.contrib.testing.worker import start_worker

    from photosite.celery import app

    album = Album.objects.create(owner=member, title="Outage")
    client.force_login(member)
    for name in NAMES:
        assert _upload(client, album, faces_dir / name).json()["results"][0]["ok"]
    accepted = list(Photo.objects.values_list("pk", flat=True))
    retries = []

    def record(sender=None, reason=None, **kwargs):
        retries.append((sender.name, str(reason)))

    task_retry.connect(record)
    store.stop()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            # The worker takes the photos while the store is down: each goes
            # back to pending with the reason, its attempts unspent, and the
            # task is retried later rather than the photo failed.
            _wait(lambda: len(retries) >= len(NAMES), 120, "retried")
            assert not Photo.objects.exclude(status__in=[Photo.Status.PENDING, Photo.Status.PROCESSING])
            assert {name for name, _ in retries} == {"tagging.tasks.process_photo"}
            assert all("photo store is not answering" in reason for _, reason in retries)
            pending = Photo.objects.get(pk=accepted[0])
            assert "temporary error: the photo store is not answering" in pending.error

            store.start()
            _wait(
                lambda: Photo.objects.filter(status=Photo.Status.DONE).count() == len(NAMES),
                240,
                "all processed once the store is back",
            )
    finally:
        task_retry.disconnect(record)

    assert sorted(Photo.objects.values_list("pk", flat=True)) == sorted(accepted)
    assert Face.objects.count() == len(NAMES)
    assert Photo.objects.filter(error="").count() == len(NAMES)
    # The outage spent none of the photos' attempts: only the one that worked counts.
    assert set(Photo.objects.values_list("attempts", flat=True)) == {1}
    # Every object in the bucket belongs to a row, and every row's file is there.
    assert store.keys("media") == _named_objects()
