"""What a photo file tells besides its pixels: metadata segments, trailers, GPS.

Display copies carry nothing but the image; originals shown to anyone but
their owner lose their GPS position unless the owner shares it. Both work on
the JPEG's own segments, so the pixels are never decoded or re-encoded.

A JPEG is a list of marker segments up to the start of scan (SOS), then
entropy-coded data in which 0xFF is always followed by 0x00 (stuffing) or a
restart marker (0xD0-0xD7). Any other marker after it ends the scan:
progressive files have more tables and scans, and end of image (EOI) ends the
image. Whatever follows EOI is no part of the picture (a ZIP of a polyglot, the
video of a motion photo, the further images of a multi-picture file) and is cut.
"""

import io
import re
from collections.abc import Callable

from PIL import Image, ImageOps

# APP1-APP13 and APP15 hold EXIF (with GPS), XMP, IPTC, ICC and maker notes;
# COM holds comments. APP0 (JFIF) and APP14 (Adobe: how to read the colours)
# say nothing about the person or the place and are kept.
_METADATA_MARKERS = {*range(0xE1, 0xEE), 0xEF, 0xFE}
_SOS, _EOI, _APP1, _APP2 = 0xDA, 0xD9, 0xE1, 0xE2
# A marker inside entropy-coded data: 0xFF then neither stuffing nor a restart marker.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_EXIF = b"Exif\x00\x00"
_GPS_IFD_TAG = 0x8825
# Bytes per value of each TIFF field type.
_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}

# A segment filter gets (marker, whole segment) and returns what to write instead: the
# segment, a changed segment, or b"" to drop it.
SegmentFilter = Callable[[int, bytes], bytes]


def jpeg_rewrite(data: bytes, keep: SegmentFilter) -> bytes | None:
    """``data`` up to its end of image, each segment before a scan passed through ``keep``.

    Returns None for anything this walk does not recognise (no JPEG, a damaged
    segment, no end of image), so the caller can fall back to re-encoding: a
    damaged header never leaks through unfiltered.
    """
    if data[:2] != b"\xff\xd8":
        return None
    out = bytearray(b"\xff\xd8")
    position = 2
    while position + 2 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == _EOI:
            out += b"\xff\xd9"
            return bytes(out)
        if position + 4 > len(data):
            return None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        end = position + 2 + length
        if length < 2 or end > len(data):
            return None
        if marker == _SOS:
            found = _SCAN_END.search(data, end)
            if found is None:
                return None
            out += data[position : found.start()]
            position = found.start()
            continue
        out += keep(marker, data[position:end])
        position = end
    return None


def jpeg_strip_metadata(data: bytes) -> bytes | None:
    """The JPEG ``data`` without metadata segments or trailing data, pixels untouched."""
    return jpeg_rewrite(data, lambda marker, segment: b"" if marker in _METADATA_MARKERS else segment)


def _without_location(marker: int, segment: bytes) -> bytes:
    payload = segment[4:]
    if marker == _APP1 and payload.startswith(_EXIF):
        return segment[:4] + _EXIF + exif_gps_erase(payload[len(_EXIF) :])
    if marker == _APP1:
        return b""  # XMP, which may repeat the position
    if marker == _APP2 and payload.startswith(b"MPF\x00"):
        return b""  # points at the further images, which are cut
    return segment


def jpeg_without_location(data: bytes) -> bytes | None:
    """The JPEG ``data`` with its GPS position erased (XMP and trailing images go too);
    every other byte of the original stays. None where the file is not understood."""
    return jpeg_rewrite(data, _without_location)


def exif_gps_erase(tiff: bytes) -> bytes:
    """The EXIF block ``tiff`` (TIFF layout) with its GPS directory emptied in place.

    Overwrites the GPS entries and the values they point to with zeros and leaves
    an empty directory behind, so every other offset in the block stays valid.
    An EXIF block that cannot be read is dropped whole: nothing is better than
    a position kept by mistake.
    """
    if tiff[:2] == b"II":
        order = "little"
    elif tiff[:2] == b"MM":
        order = "big"
    else:
        return b""
    block = bytearray(tiff)

    def number(offset: int, size: int) -> int:
        if offset + size > len(block):
            raise ValueError("outside the block")
        return int.from_bytes(block[offset : offset + size], order)

    try:
        ifd0 = number(4, 4)
        gps = next(
            (
                number(ifd0 + 2 + 12 * i + 8, 4)
                for i in range(number(ifd0, 2))
                if number(ifd0 + 2 + 12 * i, 2) == _GPS_IFD_TAG
            ),
            None,
        )
        if gps is None:
            return tiff
        count = number(gps, 2)
        for i in range(count):
            entry = gps + 2 + 12 * i
            size = _TIFF_TYPE_SIZES.get(number(entry + 2, 2), 1) * number(entry + 4, 4)
            if size > 4:
                start = number(entry + 8, 4)
                end = min(start + size, len(block))
                block[start:end] = bytes(end - start)
            block[entry : entry + 12] = bytes(12)
        block[gps : gps + 2] = bytes(2)
    except ValueError:
        return b""
    return bytes(block)


def original_for_others(data: bytes) -> tuple[bytes, str] | None:
    """What an original looks like to members other than its owner, when the album does
    not share locations: (bytes, content type), or None for a file that cannot be read
    (and so cannot be cleaned: it is not to be sent).

    JPEG keeps everything but the position. Other formats keep metadata in many
    places (PNG text chunks, HEIF boxes, WebP chunks); they are re-encoded from
    their pixels instead, PNG losslessly.
    """
    if data[:2] == b"\xff\xd8":
        cleaned = jpeg_without_location(data)
        if cleaned is not None:
            return cleaned, "image/jpeg"
    try:
        with Image.open(io.BytesIO(data)) as opened:
            lossless = opened.format == "PNG"
            # The orientation lived in the metadata that goes: turn the pixels instead.
            image = ImageOps.exif_transpose(opened)
            image = image.convert("RGBA" if lossless and "A" in image.getbands() else "RGB")
    except (OSError, SyntaxError, ValueError):
        return None
    buffer = io.BytesIO()
    # No exif=, pnginfo= or xmp= argument: pixels only.
    if lossless:
        image.save(buffer, "PNG")
        return buffer.getvalue(), "image/png"
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue(), "image/jpeg"
