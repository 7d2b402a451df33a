"""Import a folder of photos into an album, as if uploaded through the site."""

import sys
from collections import Counter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tagging.models import Album
from tagging.services.uploads import UploadRejected, photo_upload


class Command(BaseCommand):
    help = "Import every file under PATH (recursively) into an album; duplicates are skipped by content."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--album", required=True, help="album title; created if the user has none by that name"
        )
        parser.add_argument("--user", required=True, help="username of the owner and uploader")
        parser.add_argument(
            "--visibility", choices=[c for c, _ in Album.Visibility.choices], default="private"
        )

    def handle(self, *args, path: Path, album: str, user: str, visibility: str, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"no user named {user!r}")
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
        target, created = Album.objects.get_or_create(
            owner=owner, title=album, defaults={"visibility": visibility}
        )
        counts: Counter[str] = Counter()
        rejected: list[tuple[Path, str]] = []
        for file in tqdm(files, unit="file", disable=options["verbosity"] == 0, file=sys.stderr):
            try:
                with file.open("rb") as source:
                    photo_upload(album=target, uploader=owner, source=source, name=file.name)
            except UploadRejected as error:
                if str(error) == "already in this album":
                    counts["duplicate"] += 1
                else:
                    counts["rejected"] += 1
                    rejected.append((file, str(error)))
            except OSError as error:
                counts["rejected"] += 1
                rejected.append((file, f"cannot read the file ({error.strerror or error})"))
            else:
                counts["imported"] += 1
        action = "created" if created else "existing"
        self.stdout.write(
            f"{action} album {target.title!r} (#{target.pk}): {counts['imported']} imported, "
            f"{counts['duplicate']} duplicate, {counts['rejected']} rejected"
        )
        for file, reason in rejected:
            self.stdout.write(f"  rejected {file}: {reason}")
