"""What a worker derives from a stored original commits without waiting for the
disk; nothing a member gives does, and the setting never outlives its transaction."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tagging.models import Album, Photo
from tagging.services.uploads import photo_upload

ASYNC = "SET LOCAL synchronous_commit TO OFF"


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_processing_commits_early_and_the_connection_stays_durable(member, faces_dir, transactional_db):
    from tagging.services import pipeline

    album = Album.objects.create(owner=member, title="Durable")
    data = (faces_dir / "people/joe_biden/joe_biden_1.jpg").read_bytes()
    with CaptureQueriesContext(connection) as upload:
        photo = photo_upload(
            album=album,
            uploader=member,
            source=SimpleUploadedFile("a.jpg", data),
            name="a.jpg",
            enqueue=False,
        )
    with CaptureQueriesContext(connection) as processing:
        pipeline.photo_process(photo_id=photo.pk)

    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.DONE
    # The claim and the results: each its own transaction, each without the flush.
    assert [q["sql"] for q in processing.captured_queries].count(ASYNC) == 2
    assert not any(ASYNC in q["sql"] for q in upload.captured_queries)
    # SET LOCAL ended with its transaction: the next write on this connection
    # (a deletion, a tag) waits for the disk again.
    assert _synchronous_commit() == "on"
