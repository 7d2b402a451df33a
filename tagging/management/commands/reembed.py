"""Find and embed the faces of processed photos again, in place, with a progress bar."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from tagging.faces.images import ImageRejected
from tagging.models import Face, Photo
from tagging.services import recognition
from tagging.services.pipeline import photo_reembed


class Command(BaseCommand):
    help = (
        "Detect and embed the faces of every processed photo again with the current detector and "
        "alignment. Tags, rejections and covers survive (faces are matched by box); faces of people "
        "who opted out get no embedding back. Then suggestions and groups are rebuilt."
    )

    def add_arguments(self, parser):
        parser.add_argument("--album", type=int, metavar="ID", help="the photos of one album only")

    def handle(self, *args, album: int | None, **options):
        photos = Photo.objects.filter(status=Photo.Status.DONE)
        if album is not None:
            photos = photos.filter(album_id=album)
        ids = list(photos.order_by("pk").values_list("pk", flat=True))
        done = skipped = faces = 0
        failed: list[str] = []
        for photo_id in tqdm(ids, desc="re-embedding", unit="photo", file=self.stderr, disable=None):
            try:
                found = photo_reembed(photo_id=photo_id)
            except ImageRejected as error:
                failed.append(f"photo {photo_id}: {error}")
                continue
            if found is None:
                skipped += 1
            else:
                done += 1
                faces += found
        # Every embedding moved: suggestions and unnamed groups are judged again.
        open_faces = Face.objects.filter(photo_id__in=ids).exclude(status=Face.Status.CONFIRMED)
        for face in tqdm(
            list(open_faces.exclude(person__name="")), desc="suggestions", file=self.stderr, disable=None
        ):
            recognition.face_suggest(face=face)
        groups = recognition.recluster()
        self.stdout.write(
            f"{done} photos re-embedded ({faces} faces), {skipped} skipped (being processed or gone), "
            f"{len(failed)} failed; {groups} unnamed groups"
        )
        for line in failed:
            self.stdout.write(f"  {line}")
