"""Files follow their rows: whatever deletes a photo or a face (an album, an
account, the admin, a retry), its files go too, once the deletion is committed."""

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from tagging.models import Face, Photo

logger = logging.getLogger(__name__)


def files_delete_on_commit(names) -> None:
    names = [name for name in names if name]
    if not names:
        return

    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("could not delete %s", name)

    transaction.on_commit(delete)


@receiver(post_delete, sender=Photo)
def _photo_files(sender, instance: Photo, **kwargs) -> None:
    files_delete_on_commit([instance.original.name, instance.thumbnail.name, instance.preview.name])


@receiver(post_delete, sender=Face)
def _face_crop(sender, instance: Face, **kwargs) -> None:
    files_delete_on_commit([instance.crop.name])
