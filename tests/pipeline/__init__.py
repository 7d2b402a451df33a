"""The face pipeline with real deepface models on the shared photographs.

This package holds the helpers its tests share; conftest.py their fixtures.
"""

import csv
import hashlib
import io

from django.core.files.base import ContentFile
from PIL import Image

from tagging.models import Photo
from tagging.services import pipeline


def _photo(album, content: bytes, name="photo.jpg", **fields) -> Photo:
    photo = Photo(
        album=album,
        uploaded_by=album.owner,
        display_name=name,
        content_hash=hashlib.sha256(content + name.encode()).hexdigest(),
        **fields,
    )
    photo.original.save("x", ContentFile(content), save=False)
    photo.save()
    return photo


def _process(photo: Photo) -> Photo:
    pipeline.photo_process(photo_id=photo.pk)
    photo.refresh_from_db()
    return photo


def _fixtures(faces_dir):
    with open(faces_dir / "faces.csv") as handle:
        return [(row["file"], int(row["faces"])) for row in csv.DictReader(handle)]


def _exif_rotated(path) -> bytes:
    """The same picture, stored rotated, with an EXIF tag that turns it upright again."""
    upright = Image.open(path).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # display: rotate 90 degrees clockwise
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()
