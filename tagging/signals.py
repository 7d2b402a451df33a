"""Files follow their rows: whatever deletes a photo or a face (an album, an
account, the admin, a retry), its files go too, once the deletion is committed."""

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from tagging.models import Face, Photo

logger = logging.getLogger(__name__)


def files_delete(names) -> None:
    """Delete stored files now; a file that cannot be deleted is logged, not raised."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name)


def files_delete_on_commit(names) -> None:
    """Delete stored files once the current transaction commits (never, if it rolls back)."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: files_delete(names))


@receiver(post_delete, sender=Photo)
def _photo_files(sender, instance: Photo, **kwargs) -> None:
    files_delete_on_commit([instance.original.name, instance.thumbnail.name, instance.preview.name])


@receiver(post_delete, sender=Face)
def _face_crop(sender, instance: Face, **kwargs) -> None:
    files_delete_on_commit([instance.crop.name])
