"""Bad inputs: each gets a clear message, and nothing else in the upload is lost.

Every bad file goes through the endpoint the album page uses, in one request
with good photos, and a real Celery worker processes what was accepted. All
bad files are made here, from the shared photographs, Pillow and numpy.

This package holds the helpers its tests share; conftest.py their fixtures.
"""

import io
import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path

from django.test import Client
from django.urls import reverse
from PIL import Image

from tagging.models import Album, Photo

# Small photos of one face each, processed in every upload next to the bad file.
GOOD = ("people/kit_harington/kit_harington_1.jpg", "people/barack_obama/barack_obama_5_240p.jpg")
# The source of most bad files: small (630 x 374), one face at (293, 94, 180, 179).
KIT = "people/kit_harington/kit_harington_2.jpg"
KIT_FACE_WITH_MARGIN = (233, 24, 533, 324)
SETTLED = (Photo.Status.DONE, Photo.Status.FAILED)
SETTLE_SECONDS = 60
BOUNDARY = "photosite-test-boundary-7d1e"


def _client_for(member, album: Album) -> Client:
    """A logged-in client that passes CSRF checks the way the album page does
    (the X-CSRFToken header), so requests meet CsrfViewMiddleware as in production."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.get(album.get_absolute_url()).status_code == 200  # sets the CSRF cookie
    return client


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
