"""Files follow their rows: whatever deletes a photo or a face (an album, an
account, the admin, a retry), its files go too, once the deletion is committed
(see tagging/files.py)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from tagging.files import files_delete_on_commit
from tagging.models import Face, Photo


@receiver(post_delete, sender=Photo)
def _photo_files(sender, instance: Photo, **kwargs) -> None:
    files_delete_on_commit([instance.original.name, instance.thumbnail.name, instance.preview.name])


@receiver(post_delete, sender=Face)
def _face_crop(sender, instance: Face, **kwargs) -> None:
    files_delete_on_commit([instance.crop.name])
