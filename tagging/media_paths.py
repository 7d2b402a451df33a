"""Where stored files go: generated names in a folder per kind (originals, thumbnails, previews, crops).

Kept apart from ``tagging.models`` (which uses them, as do migrations through it).
"""

import uuid


def _upload_path(folder: str, suffix: str) -> str:
    # Stored names are generated: an uploaded name can hold "../", NUL or
    # 300 characters, and is only ever shown (sanitised), never used as a path.
    token = uuid.uuid4().hex
    return f"{folder}/{token[:2]}/{token}{suffix}"


def original_path(instance, filename: str) -> str:
    return _upload_path("originals", "")


def thumbnail_path(instance, filename: str) -> str:
    return _upload_path("thumbnails", ".jpg")


def preview_path(instance, filename: str) -> str:
    return _upload_path("previews", ".jpg")


def crop_path(instance, filename: str) -> str:
    return _upload_path("crops", ".jpg")
