"""Bad inputs: each gets a clear message, and nothing else in the upload is lost.

Every bad file goes through the endpoint the album page uses, in one request
with good photos, and a real Celery worker processes what was accepted. All
bad files are made here, from the shared photographs, Pillow and numpy.
"""

import io
import mimetypes
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from PIL import Image

from tagging.models import Album, Photo

pytestmark = pytest.mark.django_db(transaction=True)

# Small photos of one face each, processed in every upload next to the bad file.
GOOD = ("people/kit_harington/kit_harington_1.jpg", "people/barack_obama/barack_obama_5_240p.jpg")
# The source of most bad files: small (630 x 374), one face at (293, 94, 180, 179).
KIT = "people/kit_harington/kit_harington_2.jpg"
KIT_FACE_WITH_MARGIN = (233, 24, 533, 324)
SETTLED = (Photo.Status.DONE, Photo.Status.FAILED)
SETTLE_SECONDS = 60
BOUNDARY = "photosite-test-boundary-7d1e"


@pytest.fixture
def album(member):
    return Album.objects.create(owner=member, title="Bad inputs")


def _client_for(member, album: Album) -> Client:
    """A logged-in client that passes CSRF checks the way the album page does
    (the X-CSRFToken header), so requests meet CsrfViewMiddleware as in production."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.get(album.get_absolute_url()).status_code == 200  # sets the CSRF cookie
    return client


@pytest.fixture
def member_client(member, album):
    return _client_for(member, album)


@dataclass
class Outcome:
    result: dict  # the endpoint's answer for this file
    photo: Photo | None  # the file's photo once settled, if it was accepted


def _multipart(files: list[tuple[str, bytes]]) -> bytes:
    # Built by hand: Django's test client sends only the base name of a file,
    # and a hostile client sends whatever name it likes ("../", NUL, 300 characters).
    parts = []
    for name, content in files:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        head = (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _post(client: Client, album: Album, files: list[tuple[str, bytes]]):
    return client.post(
        reverse("album_upload", args=[album.pk]),
        data=_multipart(files),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_ACCEPT="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )


def _wait_settled(album: Album, seconds: float = SETTLE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    waiting = Photo.objects.filter(album=album).exclude(status__in=SETTLED)
    while waiting.exists():
        assert time.monotonic() < deadline, f"not settled after {seconds} s: {list(waiting.values())}"
        time.sleep(0.1)


def _good_files(faces_dir: Path, names=GOOD) -> list[tuple[str, bytes]]:
    return [(Path(name).name, (faces_dir / name).read_bytes()) for name in names]


def _upload_among_good(client, album, faces_dir, bad: list[tuple[str, bytes]], good=GOOD) -> list[Outcome]:
    """Upload the bad files followed by good photos, wait for the worker, and
    check that every good photo was processed. Returns one outcome per bad file."""
    response = _post(client, album, bad + _good_files(faces_dir, good))
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert len(results) == len(bad) + len(good)
    _wait_settled(album)

    for result in results[len(bad) :]:
        assert result["ok"], result
        photo = Photo.objects.get(pk=result["id"])
        assert photo.status == Photo.Status.DONE, photo.error
        assert photo.faces.count() == 1, photo.display_name
    # A refused file leaves nothing behind in storage.
    assert _stored_originals() == Photo.objects.filter(album=album).count()
    return [
        Outcome(result=result, photo=Photo.objects.get(pk=result["id"]) if result["ok"] else None)
        for result in results[: len(bad)]
    ]


def _stored_originals() -> int:
    # Imported here: the tests' own ``settings`` is pytest-django's fixture.
    from django.conf import settings

    folder = Path(settings.MEDIA_ROOT) / "originals"
    return sum(1 for path in folder.rglob("*") if path.is_file()) if folder.exists() else 0


def _assert_refused(outcome: Outcome, words: str) -> None:
    assert not outcome.result["ok"], outcome.result
    assert words in outcome.result["error"]
    assert outcome.photo is None


def _assert_done_with_faces(outcome: Outcome, faces: int) -> Photo:
    assert outcome.result["ok"], outcome.result
    photo = outcome.photo
    assert photo.status == Photo.Status.DONE, photo.error
    assert photo.faces.count() == faces
    assert photo.thumbnail.name and photo.preview.name
    return photo


def _encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def _kit(faces_dir) -> Image.Image:
    return Image.open(faces_dir / KIT).convert("RGB")


def _read(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


def test_a_zero_byte_file_is_refused_and_the_rest_is_processed(
    member_client, album, faces_dir, celery_worker
):
    [empty] = _upload_among_good(member_client, album, faces_dir, [("empty.jpg", b"")])

    _assert_refused(empty, "the file is empty")


def test_a_truncated_jpeg_fails_with_a_clear_message_and_the_rest_is_processed(
    member_client, album, faces_dir, celery_worker
):
    whole = (faces_dir / KIT).read_bytes()

    [truncated] = _upload_among_good(member_client, album, faces_dir, [("cut.jpg", whole[: len(whole) // 2])])

    # Either answer is clear: refused at once, or accepted from its header and
    # failed by the worker when the pixels run out.
    if truncated.result["ok"]:
        assert truncated.photo.status == Photo.Status.FAILED
        assert "truncated" in truncated.photo.error
        assert truncated.photo.faces.count() == 0
    else:
        assert "truncated" in truncated.result["error"]


def test_a_png_named_jpg_is_accepted_by_its_content_and_its_face_found(
    member_client, album, faces_dir, celery_worker
):
    png = _encode(_kit(faces_dir), "PNG")

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("kit.jpg", png)])

    photo = _assert_done_with_faces(outcome, 1)
    assert _read(photo.original).startswith(b"\x89PNG")


def test_html_or_a_script_with_an_image_extension_is_refused_and_the_rest_is_processed(
    member_client, album, faces_dir, celery_worker
):
    html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
    script = b"#!/bin/sh\necho 'not a photo'\n"

    page, shell = _upload_among_good(
        member_client, album, faces_dir, [("invitation.jpg", html), ("holiday.png", script)]
    )

    _assert_refused(page, "not an image")
    _assert_refused(shell, "not an image")


def test_an_svg_is_refused_and_the_rest_is_processed(member_client, album, faces_dir, celery_worker):
    svg = (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<circle cx="50" cy="50" r="40" fill="red"/><script>alert(1)</script></svg>\n'
    )

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("drawing.svg", svg)])

    _assert_refused(outcome, "not a format photosite accepts")


def _peak_rss_kb() -> int:
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def _current_rss_kb() -> int:
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _blank_png(width: int, height: int) -> bytes:
    """A valid black PNG of one bit per pixel, compressed row by row.

    400 megapixels make about 50 kB here, without the 50 MB (and 3 s) Pillow
    would take to build it; 1.2 GB if anything decoded it to RGB.
    """
    compressor = zlib.compressobj(9)
    row = bytes(1 + -(-width // 8))  # filter type 0, then the packed bits
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def test_a_20000_by_20000_image_is_refused_before_decoding_and_the_rest_is_processed(
    member_client, album, faces_dir, celery_worker
):
    bomb = _blank_png(20000, 20000)
    assert len(bomb) < 100_000
    # getrusage's peak never goes down, so growth below an earlier peak (the
    # image just made, the face models) would not show. Writing 5 to
    # clear_refs resets this process's peak to its current size.
    Path("/proc/self/clear_refs").write_text("5")
    before = _current_rss_kb()

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("huge.png", bomb)])

    # The worker is a thread of this process: its processing of the good
    # photos counts too.
    growth_mb = (_peak_rss_kb() - before) / 1024
    _assert_refused(outcome, "the image is 400 megapixels; the limit is 100")
    assert growth_mb < 200, f"peak memory grew by {growth_mb:.0f} MB"


def _fits(width: int = 64, height: int = 64) -> bytes:
    """A minimal, valid FITS file: one 2880-byte header block of 80-character cards, then the data."""
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                    8",
        "NAXIS   =                    2",
        f"NAXIS1  = {width:>20}",
        f"NAXIS2  = {height:>20}",
        "END",
    ]
    header = "".join(card.ljust(80) for card in cards).ljust(2880).encode("ascii")
    data = bytes(range(256)) * (width * height // 256)
    return header + data.ljust(-(-len(data) // 2880) * 2880, b"\0")


def test_a_fits_file_outside_the_allow_list_is_refused_and_the_rest_is_processed(
    member_client, album, faces_dir, celery_worker
):
    fits = _fits()
    # A real astronomy image that Pillow itself reads: refused for its format alone.
    assert Image.open(io.BytesIO(fits)).format == "FITS"

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("nebula.fits", fits)])

    _assert_refused(outcome, "not a format photosite accepts (JPEG, PNG, WebP, GIF, TIFF, HEIC)")


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


def test_a_hostile_file_name_is_stored_under_a_generated_name_and_shown_sanitised(
    member_client, album, faces_dir, celery_worker
):
    name = "../../etc/evil\x00" + "n" * 300 + ".jpg"

    [outcome] = _upload_among_good(member_client, album, faces_dir, [(name, (faces_dir / KIT).read_bytes())])

    photo = _assert_done_with_faces(outcome, 1)
    stored = photo.original.name
    assert stored.startswith("originals/") and ".." not in stored
    assert "evil" not in stored and "nnnn" not in stored
    for shown in (photo.display_name, outcome.result["name"]):
        assert "/" not in shown and "\\" not in shown and "\x00" not in shown
        assert 0 < len(shown) <= 120
        assert "nnnn" in shown


def test_more_files_than_allowed_in_one_request_is_a_clear_400_and_nothing_is_added(
    member_client, album, settings
):
    settings.UPLOAD_MAX_FILES_PER_REQUEST = 3
    files = [(f"photo-{index}.jpg", f"file {index}".encode()) for index in range(4)]

    response = _post(member_client, album, files)

    assert response.status_code == 400
    assert response.json() == {"error": "too many files in one request; the limit is 3"}
    assert not Photo.objects.exists()


def _too_many_for_django(settings) -> list[tuple[str, bytes]]:
    count = settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1
    return [(f"photo-{index}.jpg", f"file {index}".encode()) for index in range(count)]


def test_more_files_than_django_will_parse_is_a_clear_400_not_a_500(member_client, album, settings):
    # Django refuses these while CsrfViewMiddleware reads the body, before the
    # view runs; the project's handler400 must still answer in JSON.
    response = _post(member_client, album, _too_many_for_django(settings))

    assert response.status_code == 400
    assert response.json()["error"].startswith("too many files in one request; the limit is")
    assert not Photo.objects.exists()


def test_a_file_over_the_size_limit_is_refused_and_the_rest_is_processed(
    member_client, album, faces_dir, settings, celery_worker
):
    settings.UPLOAD_MAX_BYTES = 1_000_000
    noise = np.random.default_rng(5).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    big = _encode(Image.fromarray(noise), "PNG")
    assert len(big) > settings.UPLOAD_MAX_BYTES

    [outcome] = _upload_among_good(member_client, album, faces_dir, [("big.png", big)])

    _assert_refused(outcome, "too large: ")
    assert outcome.result["error"].endswith("; the limit is 1 MB")


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
