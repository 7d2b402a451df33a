"""Files, only through access checks. Nothing uploaded is ever at a public URL.

From the local file system in production (``MEDIA_ACCEL_REDIRECT`` set) the
web server sends the bytes: the view answers with an ``X-Accel-Redirect`` to an
internal-only location. From a bucket (``S3_BUCKET``) the view streams the
object, or with ``S3_MEDIA_REDIRECT`` redirects to a URL signed for this one
object that expires within a minute. The content type is decided here from
the file's own bytes, never from the upload.
"""

import mimetypes

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.views.decorators.http import require_GET

from tagging import access, storage
from tagging.services.metadata import original_for_others

_SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
]


def _sniff(head: bytes) -> str:
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "image/heic"
    return "application/octet-stream"


def _store_unavailable() -> HttpResponse:
    return HttpResponse(
        "The photo store is not answering; try again in a moment.",
        status=503,
        content_type="text/plain; charset=utf-8",
        headers={"Retry-After": "30"},
    )


def _read(file_field) -> bytes:
    """The whole file, from the bucket or the folder. Raises FileNotFoundError, or
    ``storage.StoreUnavailable`` while the store is down."""
    if storage.uses_bucket():
        return b"".join(storage.file_read(file_field.name).chunks)
    with file_field.open("rb") as handle:
        return handle.read()


def _send(file_field, *, content_type: str | None = None, download_name: str | None = None):
    if not file_field:
        raise Http404("not found")
    if storage.uses_bucket():
        try:
            response = _from_bucket(file_field.name, content_type=content_type, download_name=download_name)
        except FileNotFoundError:
            raise Http404("not found") from None
        except storage.StoreUnavailable:
            return _store_unavailable()
        # Private: a shared cache must never hand one member's photo to another.
        response.headers.setdefault("Cache-Control", "private, max-age=3600")
        return response
    try:
        handle = file_field.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("not found") from None
    if content_type is None:
        content_type = _sniff(handle.read(16))
        handle.seek(0)
    prefix = settings.MEDIA_ACCEL_REDIRECT
    if prefix:
        handle.close()
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{file_field.name}"
    else:
        response = FileResponse(handle, content_type=content_type)
    return _headed(response, content_type=content_type, download_name=download_name)


def _headed(response, *, content_type: str, download_name: str | None):
    if download_name:
        response["Content-Disposition"] = f'inline; filename="{_file_name(download_name, content_type)}"'
    # Private: a shared cache must never hand one member's photo to another.
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _file_name(download_name: str, content_type: str) -> str:
    return download_name + (mimetypes.guess_extension(content_type) or "")


def _from_bucket(name: str, *, content_type: str | None, download_name: str | None):
    if settings.S3_MEDIA_REDIRECT:
        if content_type is None:
            content_type = _sniff(storage.file_head(name))
        filename = _file_name(download_name, content_type) if download_name else None
        # Never cached: a browser must come back here (and through the access
        # check) once the signature has expired.
        response = HttpResponseRedirect(
            storage.signed_url(name, content_type=content_type, download_name=filename)
        )
        response["Cache-Control"] = "private, no-store"
        return response
    stored = storage.file_read(name)
    response = StreamingHttpResponse(stored.chunks, content_type=content_type or _sniff(stored.head))
    if stored.size is not None:
        response["Content-Length"] = str(stored.size)
    if download_name:
        response["Content-Disposition"] = (
            f'inline; filename="{_file_name(download_name, response["Content-Type"])}"'
        )
    return response


@require_GET
@login_required
def photo_original(request, photo_id: int):
    """The file as uploaded; to anyone but the owner without its GPS position, unless the
    album shares locations. That copy is made here, so the web server cannot send the file."""
    photo = access.photo_for_user(request.user, photo_id)
    if photo.album.owner_id == request.user.pk or photo.album.share_location:
        return _send(photo.original, download_name=f"photo-{photo.pk}")
    if not photo.original:
        raise Http404("not found")
    try:
        data = _read(photo.original)
    except (FileNotFoundError, ValueError):
        raise Http404("not found") from None
    except storage.StoreUnavailable:
        return _store_unavailable()
    cleaned = original_for_others(data)
    if cleaned is None:
        raise Http404("not found")
    content, content_type = cleaned
    return _headed(
        HttpResponse(content, content_type=content_type),
        content_type=content_type,
        download_name=f"photo-{photo.pk}",
    )


@require_GET
@login_required
def photo_thumbnail(request, photo_id: int):
    return _send(access.photo_for_user(request.user, photo_id).thumbnail, content_type="image/jpeg")


@require_GET
@login_required
def photo_preview(request, photo_id: int):
    return _send(access.photo_for_user(request.user, photo_id).preview, content_type="image/jpeg")


@require_GET
@login_required
def face_crop(request, face_id: int):
    return _send(access.face_for_user(request.user, face_id).crop, content_type="image/jpeg")
