"""Albums: create, change, delete (with every file that belongs to them)."""

from django.db import transaction
from django.utils import timezone

from tagging import queue
from tagging.models import Album, Photo


def album_create(*, owner, title: str, visibility: str, share_location: bool = False) -> Album:
    return Album.objects.create(
        owner=owner, title=title.strip(), visibility=visibility, share_location=share_location
    )


def album_update(*, album: Album, title: str, visibility: str, share_location: bool = False) -> Album:
    album.title, album.visibility, album.share_location = title.strip(), visibility, share_location
    album.save(update_fields=["title", "visibility", "share_location", "updated_at"])
    return album


def album_delete(*, album: Album) -> None:
    """Delete the album, its photos and faces; their files go after commit (tagging.signals)."""
    album.delete()


def photos_reprocess(*, photos) -> tuple[int, int]:
    """Send ``photos`` back to the workers with a fresh count of attempts.

    Returns (sent, skipped): photos being processed right now are left to their
    worker. Tags survive: faces found again in the same place keep their row.
    """
    with transaction.atomic():
        ids = list(
            photos.exclude(status=Photo.Status.PROCESSING)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        Photo.objects.filter(pk__in=ids).update(
            status=Photo.Status.PENDING, error="", attempts=0, claimed_by="", status_changed_at=timezone.now()
        )
        # Enqueued after commit: a worker must find the photo pending.
        transaction.on_commit(lambda: [queue.photo_enqueue(photo_id=pk) for pk in ids])
    return len(ids), photos.count() - len(ids)


def photo_retry(*, photo: Photo) -> bool:
    """Send a failed photo to the workers again."""
    sent, _ = photos_reprocess(photos=Photo.objects.filter(pk=photo.pk, status=Photo.Status.FAILED))
    return bool(sent)
