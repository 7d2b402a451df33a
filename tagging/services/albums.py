"""Albums: create, change, delete (with every file that belongs to them)."""

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from tagging.models import Album, Face, Photo
from tagging.services.uploads import photo_enqueue

logger = logging.getLogger(__name__)


def album_create(*, owner, title: str, visibility: str) -> Album:
    return Album.objects.create(owner=owner, title=title.strip(), visibility=visibility)


def album_update(*, album: Album, title: str, visibility: str) -> Album:
    album.title, album.visibility = title.strip(), visibility
    album.save(update_fields=["title", "visibility", "updated_at"])
    return album


def _files_of(photos) -> list[str]:
    names = []
    for original, thumbnail, preview in photos.values_list("original", "thumbnail", "preview"):
        names += [original, thumbnail, preview]
    names += list(Face.objects.filter(photo__in=photos).values_list("crop", flat=True))
    return [name for name in names if name]


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name)


def photos_delete(*, photos) -> int:
    """Delete photos, their faces, and (once the deletion is committed) their files."""
    with transaction.atomic():
        names = _files_of(photos)
        count, _ = photos.delete()
        transaction.on_commit(lambda: _delete_files(names))
    return count


def album_delete(*, album: Album) -> None:
    with transaction.atomic():
        photos_delete(photos=Photo.objects.filter(album=album))
        album.delete()


def photo_retry(*, photo: Photo) -> bool:
    """Send a failed photo to the workers again, with a fresh count of attempts."""
    with transaction.atomic():
        updated = Photo.objects.filter(pk=photo.pk, status=Photo.Status.FAILED).update(
            status=Photo.Status.PENDING, error="", attempts=0, claimed_by="", status_changed_at=timezone.now()
        )
        if updated:
            transaction.on_commit(lambda: photo_enqueue(photo_id=photo.pk))
    return bool(updated)
