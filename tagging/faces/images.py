"""Decoding uploaded images safely, and writing derivatives without metadata.

Only formats on an allow-list are opened, the pixel count is checked from the
header before any pixel is decoded (decompression bombs), and every failure is a
:class:`ImageRejected` whose message is written for the person who uploaded the
file.
"""

import io
import re
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

# Pillow names of the formats photosite accepts. pillow-heif adds HEIF.
ALLOWED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF", "TIFF": "TIFF", "HEIF": "HEIC"}
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED = {5, 6, 7, 8}  # orientations that swap width and height
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_TRUNCATED = "the file is truncated: it ends before the image does"


class ImageRejected(Exception):
    """The file cannot be used as a photo; ``str(error)`` says why in plain words."""


def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


_register_heif()


def _open(source: BinaryIO, max_pixels: int) -> Image.Image:
    """Open the header only and apply the allow-list and the pixel limit."""
    source.seek(0)
    if not source.read(1):
        raise ImageRejected("the file is empty")
    source.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past twice the limit, raises) about large
            # images; the limit is enforced below with a clearer message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source, formats=list(ALLOWED_FORMATS))
    except UnidentifiedImageError:
        raise ImageRejected(
            f"not an image, or not a format photosite accepts ({', '.join(ALLOWED_FORMATS.values())})"
        ) from None
    except Image.DecompressionBombError as error:
        # Pillow refuses twice its own limit before returning the header; its
        # message carries the size: "Image size (400000000 pixels) exceeds ...".
        found = re.search(r"\((\d+) pixels\)", str(error))
        size = f" is {_megapixels(int(found.group(1)))} megapixels;" if found else " is too large;"
        raise ImageRejected(f"the image{size} the limit is {_megapixels(max_pixels)}") from None
    except (OSError, SyntaxError, ValueError) as error:
        if "runcated" in str(error):
            raise ImageRejected(_TRUNCATED) from None
        raise ImageRejected(f"not a readable image ({error})") from None
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise ImageRejected(
            f"the image is {_megapixels(pixels)} megapixels; the limit is {_megapixels(max_pixels)}"
        )
    return image


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    if orientation in _TRANSPOSED:
        return image.height, image.width
    return image.width, image.height


def image_inspect(*, source: BinaryIO, max_pixels: int) -> None:
    """Check a file from its header alone: cheap enough for every upload. Raises ImageRejected."""
    with _open(source, max_pixels) as image:
        _oriented_size(image)


@dataclass(frozen=True)
class LoadedImage:
    rgb: Image.Image  # oriented, RGB, longest side at most max_side
    width: int  # oriented size of the original
    height: int
    taken_at: str | None  # EXIF DateTimeOriginal as written in the file
    # An upright RGB JPEG shown at its own size: its display copy can be the
    # file itself with the metadata cut out (jpeg_strip_metadata), not re-encoded.
    jpeg_as_is: bool = False

    def array(self) -> np.ndarray:
        return np.asarray(self.rgb)


def image_load(*, source: BinaryIO, max_pixels: int, max_side: int) -> LoadedImage:
    """Decode to an oriented RGB image whose longest side is at most ``max_side``.

    JPEGs are decoded in draft mode: libjpeg scales by 1/2, 1/4 or 1/8 while
    decoding, so a 24-megapixel photo never exists at full size in memory.
    Animated images give their first frame.
    """
    image = _open(source, max_pixels)
    try:
        width, height = _oriented_size(image)
        exif = image.getexif()
        taken_at = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
        if image.format == "JPEG":
            # draft() keeps at least the requested size; ask for the size the
            # longest side will have after the final resize.
            scale = max_side / max(image.width, image.height)
            if scale < 1:
                image.draft("RGB", (max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        try:
            image.seek(0)
            image.load()
        except OSError as error:
            if "truncated" in str(error):
                raise ImageRejected(_TRUNCATED) from None
            raise ImageRejected(f"the image data is damaged ({error})") from None
        except (SyntaxError, ValueError) as error:
            raise ImageRejected(f"the image data is damaged ({error})") from None
        # Convert, then turn as the EXIF orientation says (what exif_transpose
        # does, without the extra full-size copy it makes of an upright photo).
        rgb = _to_rgb(image)
        turn = _ORIENTATION_TRANSPOSE.get(image.getexif().get(_EXIF_ORIENTATION, 1))
        if turn is not None:
            rgb = rgb.transpose(turn)
        jpeg_as_is = (
            image.format == "JPEG" and image.mode == "RGB" and turn is None and max(rgb.size) <= max_side
        )
        # Bilinear, antialiased by Pillow: a third of Lanczos's cost, and the face
        # detector and embedder see no difference at these scales (the face counts
        # and distances of tests/test_face_engine.py hold either way).
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=1.5)
        return LoadedImage(
            rgb=rgb, width=width, height=height, taken_at=_clean_text(taken_at), jpeg_as_is=jpeg_as_is
        )
    finally:
        image.close()


def _clean_text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ") or None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode to 8-bit RGB; transparency is flattened onto white."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit or 32-bit greyscale: scale to 8 bits instead of clipping to white.
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() or 1.0
        image = Image.fromarray(np.clip(array * (255.0 / peak), 0, 255).astype(np.uint8), mode="L")
    if image.mode == "F":
        image = image.convert("L")
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    # A copy even when already RGB: the caller may change it in place.
    return image.convert("RGB")


def jpeg_bytes(image: Image.Image, *, max_side: int | None = None, quality: int = 85) -> bytes:
    """JPEG of ``image`` with no EXIF, GPS or other metadata."""
    if max_side is not None and max(image.size) > max_side:
        image = image.copy()
        # Shrink by whole factors first (a cheap box filter) down to the
        # nearest whole factor above the size, then bilinear for the last step.
        # These run for every photo and every face: a gap of 1.0 rather than 2.0
        # makes a 480 px thumbnail of a 1600 px photo in 14 ms rather than 21
        # (measured on shared/faces), with no difference to see at that size.
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=1.0)
    buffer = io.BytesIO()
    # No exif= or icc_profile= argument: the derivative carries pixels only.
    # Baseline, not progressive: progressive encoding costs five times as long here.
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
