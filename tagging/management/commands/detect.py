"""Print the faces the pipeline would keep in image files."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tagging.faces.images import ImageRejected
from tagging.services import detection


class Command(BaseCommand):
    help = (
        "Detect faces in FILEs as the pipeline does (orientation, downscaling, detector, minimum size "
        "and score): boxes x, y, w, h in pixels of the EXIF-oriented image, scores and landmarks."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument("--json", action="store_true", dest="as_json", help="one JSON line per file")

    def handle(self, *args, files: list[Path], as_json: bool, **options):
        failed = 0
        for file in files:
            report = file_detect(file)
            failed += "error" in report
            if as_json:
                self.stdout.write(json.dumps(report))
            elif "error" in report:
                self.stdout.write(f"{file}: {report['error']}")
            else:
                boxes = "  ".join(
                    f"{f['x']},{f['y']} {f['w']}x{f['h']} ({f['score']:.3f})" for f in report["faces"]
                )
                self.stdout.write(f"{file}: {len(report['faces'])} faces  {boxes}")
        if failed == len(files):
            raise CommandError("no file could be read")


def file_detect(file: Path) -> dict:
    """The faces of one file, as the pipeline keeps them, in pixels of the oriented original."""
    try:
        with file.open("rb") as source:
            loaded = detection.image_open(source)
    except (ImageRejected, OSError) as error:
        return {"file": str(file), "error": str(error)}
    faces, scale = detection.faces_kept(loaded=loaded)
    return {
        "file": str(file),
        "width": loaded.width,
        "height": loaded.height,
        "detector": settings.FACE_DETECTOR,
        "faces": [
            {
                "x": round(face.x * scale),
                "y": round(face.y * scale),
                "w": round(face.w * scale),
                "h": round(face.h * scale),
                "score": None if face.confidence is None else round(face.confidence, 4),
                "landmarks": [[round(x * scale, 1), round(y * scale, 1)] for x, y in face.landmarks or ()],
            }
            for face in faces
        ],
    }
