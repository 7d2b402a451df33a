"""Send photos back to the workers: all, the failed ones, or one album."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tagging.models import Photo
from tagging.services.uploads import photo_enqueue


class Command(BaseCommand):
    help = "Mark photos pending and enqueue them. Tags survive: faces found again keep their row."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every photo that is not processing now")
        which.add_argument("--failed", action="store_true", help="failed photos only")
        which.add_argument("--album", type=int, metavar="ID", help="the photos of one album")

    def handle(self, *args, **options):
        photos = Photo.objects.exclude(status=Photo.Status.PROCESSING)
        if options["failed"]:
            photos = photos.filter(status=Photo.Status.FAILED)
        elif options["album"] is not None:
            photos = photos.filter(album_id=options["album"])
            if not photos.exists() and not Photo.objects.filter(album_id=options["album"]).exists():
                raise CommandError(f"album {options['album']} has no photos or does not exist")
        with transaction.atomic():
            ids = list(photos.select_for_update().values_list("pk", flat=True))
            # A fresh start: attempts count again from zero.
            Photo.objects.filter(pk__in=ids).update(
                status=Photo.Status.PENDING,
                error="",
                attempts=0,
                claimed_by="",
                status_changed_at=timezone.now(),
            )
            transaction.on_commit(lambda: [photo_enqueue(photo_id=pk) for pk in ids])
        self.stdout.write(f"{len(ids)} photos sent for processing")
