"""Awkward but valid files: unusual formats, orientations and face counts are processed,
duplicates kept once, and no derivative carries metadata.
"""

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.urls import reverse
from PIL import Image

from tagging.models import Photo
from tests.bad_inputs import (
    GOOD,
    KIT,
    KIT_FACE_WITH_MARGIN,
    _assert_done_with_faces,
    _assert_refused,
    _client_for,
    _encode,
    _good_files,
    _kit,
    _post,
    _read,
    _stored_originals,
    _upload_among_good,
    _wait_settled,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_png_named_jpg_is_accepted_by_its_content_and_its_face_found(
    member_client, album, faces_dir, celery_worker
):
    png = _encode(_kit(faces_dir), "PNG")

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("kit.jpg", png)])

    photo = _assert_done_with_faces(outcome, 1)
    assert _read(photo.original).startswith(b"\x89PNG")


def test_an_animated_gif_uses_its_first_frame_and_its_face_is_found(
    member_client, album, faces_dir, celery_worker
):
    face = _kit(faces_dir)
    blank = Image.new("RGB", face.size, "white")
    gif = _encode(face, "GIF", save_all=True, append_images=[blank], duration=500, loop=0)
    assert Image.open(io.BytesIO(gif)).n_frames == 2

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("wave.gif", gif)])

    _assert_done_with_faces(outcome, 1)


def test_a_cmyk_jpeg_has_its_face_found(member_client, album, faces_dir, celery_worker):
    cmyk = _encode(_kit(faces_dir).convert("CMYK"), "JPEG", quality=90)
    assert Image.open(io.BytesIO(cmyk)).mode == "CMYK"

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("print.jpg", cmyk)])

    _assert_done_with_faces(outcome, 1)


def test_a_16_bit_greyscale_png_has_its_face_found(member_client, album, faces_dir, celery_worker):
    grey16 = np.asarray(_kit(faces_dir).convert("L"), dtype=np.uint16) * 257
    png = _encode(Image.fromarray(grey16), "PNG")
    assert Image.open(io.BytesIO(png)).mode == "I;16"

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("scan.png", png)])

    _assert_done_with_faces(outcome, 1)


def test_a_palette_png_with_transparency_is_processed_on_white(
    member_client, album, faces_dir, celery_worker
):
    face = _kit(faces_dir).convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    # A 40-pixel frame in the one palette entry left: magenta, and transparent.
    framed = Image.new("P", (face.width + 80, face.height + 80), 255)
    framed.putpalette(face.getpalette()[: 255 * 3] + [255, 0, 255])
    framed.paste(face, (40, 40))
    png = _encode(framed, "PNG", transparency=255)
    reopened = Image.open(io.BytesIO(png))
    assert reopened.mode == "P" and reopened.convert("RGBA").getpixel((10, 10)) == (255, 0, 255, 0)

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("sticker.png", png)])

    photo = _assert_done_with_faces(outcome, 1)
    preview = Image.open(io.BytesIO(_read(photo.preview))).convert("RGB")
    assert min(preview.getpixel((10, 10))) > 240, "the transparent frame is not white"


def test_a_heic_photo_has_its_face_found(member_client, album, faces_dir, celery_worker):
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    pillow_heif.register_heif_opener()
    try:
        heic = _encode(_kit(faces_dir), "HEIF", quality=90)
    except (KeyError, OSError, RuntimeError, ValueError) as error:
        pytest.skip(f"this pillow-heif build cannot encode HEIF: {error}")

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("phone.heic", heic)])

    _assert_done_with_faces(outcome, 1)


def test_an_exif_rotated_jpeg_gets_boxes_on_the_face_as_displayed(
    member_client, album, faces_dir, celery_worker
):
    upright = _kit(faces_dir)
    exif = Image.Exif()
    exif[0x0112] = 6  # display: rotate 90 degrees clockwise
    rotated = _encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif)

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("sideways.jpg", rotated)], good=[KIT])

    photo = _assert_done_with_faces(outcome, 1)
    assert (photo.width, photo.height) == upright.size
    turned = photo.faces.get()
    original = Photo.objects.get(album=album, display_name=Path(KIT).name).faces.get()
    for attr in ("x", "y", "w", "h"):
        assert getattr(turned, attr) == pytest.approx(getattr(original, attr), abs=0.03), attr


def test_a_photo_with_no_face_is_done_with_zero_faces(member_client, album, faces_dir, celery_worker):
    rng = np.random.default_rng(3)
    landscape = np.zeros((400, 600, 3), dtype=np.uint8)
    landscape[:200] = (120, 170, 230)  # sky
    landscape[200:] = (60, 120, 50)  # grass
    landscape = np.clip(landscape + rng.normal(0, 8, landscape.shape), 0, 255).astype(np.uint8)

    [outcome] = _upload_among_good(
        member_client, album, faces_dir, [("field.jpg", _encode(Image.fromarray(landscape), "JPEG"))]
    )

    _assert_done_with_faces(outcome, 0)


def test_a_photo_with_60_faces_keeps_the_cap_in_bounded_time(
    member_client, album, faces_dir, settings, celery_worker
):
    # The worker thread reads the same settings object, so the lower cap applies there.
    settings.FACE_MAX_PER_PHOTO = 20
    tile = _kit(faces_dir).crop(KIT_FACE_WITH_MARGIN).resize((150, 150))
    crowd = Image.new("RGB", (10 * 150, 6 * 150), "white")
    for index in range(60):
        crowd.paste(tile, ((index % 10) * 150, (index // 10) * 150))
    started = time.monotonic()

    [outcome] = _upload_among_good(
        member_client, album, faces_dir, [("crowd.jpg", _encode(crowd, "JPEG", quality=90))]
    )

    elapsed = time.monotonic() - started
    _assert_done_with_faces(outcome, settings.FACE_MAX_PER_PHOTO)
    assert elapsed < 30, f"took {elapsed:.1f} s"


def test_the_same_file_twice_in_one_request_is_added_once(member_client, album, faces_dir, celery_worker):
    data = (faces_dir / KIT).read_bytes()

    first, second = _upload_among_good(
        member_client, album, faces_dir, [("kit.jpg", data), ("kit (copy).jpg", data)]
    )

    _assert_done_with_faces(first, 1)
    _assert_refused(second, "already in this album")
    assert Photo.objects.filter(album=album, content_hash=first.photo.content_hash).count() == 1


def test_the_same_file_uploaded_from_two_threads_at_once_is_added_once(
    member, album, faces_dir, celery_worker
):
    shared = ("kit.jpg", (faces_dir / KIT).read_bytes())
    # Each thread sends the shared file and a good photo of its own.
    uploads = [[shared, *_good_files(faces_dir, [name])] for name in GOOD]
    clients = [_client_for(member, album) for _ in uploads]
    barrier = threading.Barrier(len(uploads))
    answers: list = [None] * len(uploads)

    def send(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            answers[index] = _post(clients[index], album, uploads[index])
        except BaseException as error:  # reported by the main thread
            answers[index] = error
        finally:
            # Each thread opened a database connection of its own.
            connection.close()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(uploads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    _wait_settled(album)

    for answer in answers:
        assert not isinstance(answer, BaseException), answer
        assert answer.status_code == 200, answer.content
    shared_results = [answer.json()["results"][0] for answer in answers]
    assert sorted(result["ok"] for result in shared_results) == [False, True]
    refused = next(result for result in shared_results if not result["ok"])
    assert refused["error"] == "already in this album"
    # Two good photos and one copy of the shared file, all processed; the
    # refused copy left no file behind.
    photos = Photo.objects.filter(album=album)
    assert photos.count() == 3 == _stored_originals()
    for photo in photos:
        assert photo.status == Photo.Status.DONE, photo.error
        assert photo.faces.count() == 1


def test_no_derivative_carries_exif_or_gps(member_client, album, faces_dir, celery_worker):
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    tagged = _encode(_kit(faces_dir), "JPEG", quality=90, exif=exif)
    assert Image.open(io.BytesIO(tagged)).getexif().get_ifd(0x8825)

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("located.jpg", tagged)])

    photo = _assert_done_with_faces(outcome, 1)
    # What a member's browser receives, through the media endpoints.
    urls = [
        reverse("photo_thumbnail", args=[photo.pk]),
        reverse("photo_preview", args=[photo.pk]),
        *(reverse("face_crop", args=[face.pk]) for face in photo.faces.all()),
    ]
    assert len(urls) == 3
    for url in urls:
        response = member_client.get(url)
        assert response.status_code == 200, url
        data = b"".join(response.streaming_content)
        assert b"Exif\x00\x00" not in data and b"CameraMaker" not in data, url
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and not image.getexif(), url
        assert "exif" not in image.info and "xmp" not in image.info, url
