"""Display copies carry the pixels only; originals reach others without their position."""

import io
import zipfile

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from tagging.models import Album, Photo
from tagging.services import pipeline
from tagging.services.metadata import exif_gps_erase, jpeg_strip_metadata, jpeg_without_location
from tests.access import (
    GPS_LATITUDE,
    _album,
    _client,
)

pytestmark = pytest.mark.django_db


# --- Display copies and originals --------------------------------------------------


def _jpeg_with_gps(faces_dir, *, trailer: bytes = b"") -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = GPS_LATITUDE
    exif.get_ifd(0x8825)[1] = "N"
    buffer = io.BytesIO()
    Image.open(faces_dir / "people/kit_harington/kit_harington_1.jpg").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue() + trailer


def _gps(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("secret.txt", "the polyglot's payload")
    return buffer.getvalue()


def test_a_preview_ends_where_the_image_ends(faces_dir):
    polyglot = _jpeg_with_gps(faces_dir, trailer=_zip())
    progressive = io.BytesIO()
    Image.open(faces_dir / "people/kit_harington/kit_harington_1.jpg").save(
        progressive, "JPEG", progressive=True
    )

    stripped = jpeg_strip_metadata(polyglot)
    stripped_progressive = jpeg_strip_metadata(progressive.getvalue() + b"MOTIONVIDEO")

    assert stripped.endswith(b"\xff\xd9") and b"polyglot" not in stripped and b"PK" not in stripped[-200:]
    assert not _gps(stripped)
    for before, after in [(polyglot, stripped), (progressive.getvalue(), stripped_progressive)]:
        pixels = np.asarray(Image.open(io.BytesIO(before)).convert("RGB"))
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(after)).convert("RGB")), pixels)


def test_a_polyglot_upload_gets_a_preview_without_its_payload(
    member, faces_dir, django_capture_on_commit_callbacks
):
    album = _album(member)
    photo = Photo(album=album, uploaded_by=member, display_name="p.jpg", content_hash="p" * 64)
    photo.original.save("x", ContentFile(_jpeg_with_gps(faces_dir, trailer=_zip())), save=False)
    photo.save()

    pipeline.photo_process(photo_id=photo.pk)

    photo.refresh_from_db()
    preview = default_storage.open(photo.preview.name).read()
    assert photo.status == Photo.Status.DONE
    assert b"polyglot" not in preview and preview.endswith(b"\xff\xd9")


def test_removing_the_location_keeps_every_other_byte_of_the_picture(faces_dir):
    original = _jpeg_with_gps(faces_dir)

    cleaned = jpeg_without_location(original)

    assert _gps(original)[2] == GPS_LATITUDE
    assert not _gps(cleaned)
    assert Image.open(io.BytesIO(cleaned)).getexif()[0x010F] == "CameraMaker"
    assert len(cleaned) == len(original)  # erased in place: every offset stays valid
    pixels = np.asarray(Image.open(io.BytesIO(original)).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(cleaned)).convert("RGB")), pixels)
    assert exif_gps_erase(b"not exif") == b""  # unreadable: dropped, never kept by mistake


def _original_photo(owner, faces_dir, *, share_location: bool) -> Photo:
    album = _album(owner, "Trip", shared=True)
    Album.objects.filter(pk=album.pk).update(share_location=share_location)
    photo = Photo(
        album=album, uploaded_by=owner, display_name="trip.jpg", content_hash="t" * 64, status="done"
    )
    photo.original.save("x", ContentFile(_jpeg_with_gps(faces_dir)), save=False)
    photo.save()
    return photo


def test_originals_reach_others_without_their_position(member, bob, faces_dir):
    photo = _original_photo(member, faces_dir, share_location=False)
    url = reverse("photo_original", args=[photo.pk])

    as_owner = _client(member).get(url)
    as_other = _client(bob).get(url)

    assert _gps(b"".join(as_owner.streaming_content))[2] == GPS_LATITUDE
    assert as_other.status_code == 200 and as_other["Content-Type"] == "image/jpeg"
    assert not _gps(as_other.content)


def test_an_album_that_shares_locations_gives_others_the_position(member, bob, faces_dir):
    photo = _original_photo(member, faces_dir, share_location=True)

    response = _client(bob).get(reverse("photo_original", args=[photo.pk]))

    assert _gps(b"".join(response.streaming_content))[2] == GPS_LATITUDE


def test_a_png_original_reaches_others_as_pixels_only(member, bob):
    album = _album(member, "Pngs", shared=True)
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = GPS_LATITUDE
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, "PNG", exif=exif)
    photo = Photo(album=album, uploaded_by=member, display_name="a.png", content_hash="q" * 64, status="done")
    photo.original.save("x", ContentFile(buffer.getvalue()), save=False)
    photo.save()

    response = _client(bob).get(reverse("photo_original", args=[photo.pk]))

    assert response["Content-Type"] == "image/png"
    assert not _gps(response.content)
    assert Image.open(io.BytesIO(response.content)).getpixel((5, 5)) == (10, 200, 30)
