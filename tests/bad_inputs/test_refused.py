"""Bad files refused at upload (or failed at processing) with a clear message, the rest of
the upload processed.
"""

import io
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tagging.models import Photo
from tests.bad_inputs import (
    KIT,
    _assert_done_with_faces,
    _assert_refused,
    _encode,
    _post,
    _upload_among_good,
)

pytestmark = pytest.mark.django_db(transaction=True)


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
