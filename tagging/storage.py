"""The media store as the rest of the app needs it: whether an error means the
store is down, and reading a file for a view without loading all of it.

The store is Django's default storage: the local file system, or an
S3-compatible bucket through django-storages (``S3_BUCKET``). Nothing here
knows about requests or access; the views check access before calling in.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage

_CHUNK = 256 * 1024


class PrivateS3Storage(S3Storage):
    """django-storages' S3 storage, except that ``url()`` gives out no address of
    the bucket, signed or not.

    Django itself renders ``FieldFile.url`` in places (the admin shows a
    read-only file field as a link), and such a link would skip the views that
    check access. As with local files, the answer is a path under the
    non-public ``MEDIA_URL``; the media views reach the bucket through
    :func:`file_read` and :func:`signed_url`.
    """

    def url(self, name, parameters=None, expire=None, http_method=None):
        return settings.MEDIA_URL + filepath_to_uri(name)


class StoreUnavailable(Exception):
    """The media store did not answer (down, unreachable, overloaded); try again later."""


def is_outage(error: BaseException) -> bool:
    """True when ``error`` says the store is unreachable rather than anything about a file.

    Refused and timed-out connections, and the 5xx answers a store gives while
    it starts or sheds load (503 SlowDown), are outages; a missing object
    (404) or a denied one (403) is not.
    """
    if isinstance(error, StoreUnavailable | BotoConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500
    return False


def is_store_error(error: BaseException) -> bool:
    """Any error from the bucket's client (outage, denial, bad request)."""
    return isinstance(error, BotoCoreError | ClientError)


def _is_missing(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or code in {"NoSuchKey", "404", "NotFound"}


def uses_bucket() -> bool:
    return hasattr(default_storage, "bucket_name")


@dataclass
class StoredFile:
    head: bytes  # the first bytes, to tell the content type
    size: int | None
    chunks: Iterator[bytes]  # the whole file, head included


def file_read(name: str) -> StoredFile:
    """Open a file in the bucket for sending, in chunks.

    Raises ``FileNotFoundError`` when it is not there and
    :class:`StoreUnavailable` when the store does not answer. From a bucket the
    object is streamed as it arrives: an original of several megabytes is not
    first copied to memory or disk, as ``FieldFile.open`` would (the local
    file system is sent by the view itself, or by nginx).
    """
    answer = _get_object(name)
    body = answer["Body"]
    head = body.read(16)
    return StoredFile(head=head, size=answer.get("ContentLength"), chunks=_chain(head, body))


def file_head(name: str, length: int = 16) -> bytes:
    """The first bytes of a file in the bucket (one small ranged read)."""
    answer = _get_object(name, Range=f"bytes=0-{length - 1}")
    with answer["Body"] as body:
        return body.read()


def signed_url(name: str, *, content_type: str, download_name: str | None = None) -> str:
    """A URL the browser can fetch the object from for ``S3_SIGNED_URL_SECONDS``.

    Only for a bucket. The signature covers this one object and the response
    headers, so the URL opens nothing else and expires on its own. Signed for
    ``S3_PUBLIC_ENDPOINT_URL`` when the browsers reach the store elsewhere than
    the workers do.
    """
    params = {
        "Bucket": default_storage.bucket_name,
        "Key": _key(name),
        "ResponseContentType": content_type,
        # Private: a shared cache must never hand one member's photo to another.
        "ResponseCacheControl": f"private, max-age={settings.S3_SIGNED_URL_SECONDS}",
    }
    if download_name:
        params["ResponseContentDisposition"] = f'inline; filename="{download_name}"'
    return _client(public=True).generate_presigned_url(
        "get_object", Params=params, ExpiresIn=settings.S3_SIGNED_URL_SECONDS
    )


def _key(name: str) -> str:
    # The storage's folder in the bucket (S3_LOCATION), as django-storages
    # prefixes it; stored names are generated, so no path needs cleaning.
    location = default_storage.location.strip("/")
    return f"{location}/{name}" if location else name


def _get_object(name: str, **extra) -> dict:
    try:
        return _client().get_object(Bucket=default_storage.bucket_name, Key=_key(name), **extra)
    except ClientError as error:
        if _is_missing(error):
            raise FileNotFoundError(name) from None
        if is_outage(error):
            raise StoreUnavailable(str(error)) from error
        raise
    except (BotoConnectionError, HTTPClientError) as error:
        raise StoreUnavailable(str(error)) from error


def _client(*, public: bool = False):
    if public and settings.S3_PUBLIC_ENDPOINT_URL:
        return _public_client(settings.S3_PUBLIC_ENDPOINT_URL)
    return default_storage.connection.meta.client


@cache
def _public_client(endpoint_url: str):
    # Signing needs no connection: this client is only used to sign URLs.
    return default_storage._create_session().client(
        "s3",
        region_name=default_storage.region_name,
        endpoint_url=endpoint_url,
        config=default_storage.client_config,
    )


def _chain(head: bytes, body) -> Iterator[bytes]:
    try:
        yield head
        while chunk := body.read(_CHUNK):
            yield chunk
    finally:
        body.close()
