"""Send photos back to the workers: all, the failed ones, or one album."""

from django.core.management.base import BaseCommand, CommandError

from tagging.models import Photo
from tagging.services.albums import photos_reprocess


class Command(BaseCommand):
    help = "Mark photos pending and enqueue them. Tags survive: faces found again keep their row."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every photo")
        which.add_argument("--failed", action="store_true", help="failed photos only")
        which.add_argument("--album", type=int, metavar="ID", help="the photos of one album")

    def handle(self, *args, **options):
        photos = Photo.objects.all()
        if options["failed"]:
            photos = photos.filter(status=Photo.Status.FAILED)
        elif options["album"] is not None:
            photos = photos.filter(album_id=options["album"])
            if not photos.exists():
                raise CommandError(f"album {options['album']} has no photos or does not exist")
        sent, skipped = photos_reprocess(photos=photos)
        self.stdout.write(
            f"{sent} photos sent for processing ({skipped} are processing now and were left alone)"
        )
