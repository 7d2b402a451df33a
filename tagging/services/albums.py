"""Albums: create, change, delete (with every file that belongs to them); delete and move photos."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from tagging import queue
from tagging.models import Album, Photo, Undo
from tagging.services import undo
from tagging.text import plural


def album_create(*, owner, title: str, visibility: str, share_location: bool = False) -> Album:
    return Album.objects.create(
        owner=owner, title=title.strip(), visibility=visibility, share_location=share_location
    )


def album_update(*, album: Album, title: str, visibility: str, share_location: bool = False) -> Album:
    album.title, album.visibility, album.share_location = title.strip(), visibility, share_location
    album.save(update_fields=["title", "visibility", "share_location", "updated_at"])
    return album


def album_delete(*, album: Album) -> None:
    """Delete the album, its photos and faces; their files go after commit (tagging.signals)."""
    album.delete()


def photos_reprocess(*, photos) -> tuple[int, int]:
    """Send ``photos`` back to the workers with a fresh count of attempts.

    Returns (sent, skipped): photos being processed right now are left to their
    worker. Tags survive: faces found again in the same place keep their row.
    """
    with transaction.atomic():
        ids = list(
            photos.exclude(status=Photo.Status.PROCESSING)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        Photo.objects.filter(pk__in=ids).update(
            status=Photo.Status.PENDING,
            error="",
            error_kind="",
            attempts=0,
            claimed_by="",
            status_changed_at=timezone.now(),
        )
        # Enqueued after commit: a worker must find the photo pending.
        transaction.on_commit(lambda: [queue.photo_enqueue(photo_id=pk) for pk in ids])
    return len(ids), photos.count() - len(ids)


def photo_retry(*, photo: Photo) -> bool:
    """Send a failed photo to the workers again, unless its file is what failed
    (``Photo.can_retry``). Reprocessing (admin, command) still takes any photo."""
    failed = Photo.objects.filter(pk=photo.pk, status=Photo.Status.FAILED)
    sent, _ = photos_reprocess(photos=failed.exclude(error_kind=Photo.ErrorKind.FILE))
    return bool(sent)


def _photos_hide(*, album: Album, photo_ids, user, one_by_name: bool) -> int:
    with transaction.atomic(), undo.undoable(user=user, kind=Undo.Kind.DELETE) as record:
        photos = list(album.photos.filter(pk__in=list(photo_ids)).select_for_update().order_by("pk"))
        record.photos([photo.pk for photo in photos])
        Photo.objects.filter(pk__in=[photo.pk for photo in photos]).update(deleted_at=timezone.now())
        if one_by_name and len(photos) == 1:
            record.message = f"Deleted “{photos[0].display_name}”."
        else:
            record.message = f"Deleted {plural(len(photos), 'photo')}."
    return len(photos)


def photos_delete(*, album: Album, photo_ids, user=None) -> int:
    """Delete the photos of ``album`` among ``photo_ids``; ids of other albums are ignored.

    They are gone from every page at once (``deleted_at``; see ``Photo.objects``),
    and ``user`` may undo it for ``UNDO_SECONDS``; their rows, faces and files
    are deleted after that by ``tasks.purge_deleted``. Returns how many.
    """
    return _photos_hide(album=album, photo_ids=photo_ids, user=user, one_by_name=False)


def photo_delete(*, photo: Photo, user=None) -> None:
    """Delete one photo, as :func:`photos_delete` does."""
    _photos_hide(album=photo.album, photo_ids=[photo.pk], user=user, one_by_name=True)


def photos_move(*, album: Album, photo_ids, target: Album) -> tuple[int, int]:
    """Move the photos of ``album`` among ``photo_ids`` to ``target``; returns (moved, skipped).

    A photo whose file is already in ``target`` stays where it is: one album
    holds a file once (``photo_unique_hash_per_album``). The caller checks that
    one owner has both albums.
    """
    chosen = album.photos.filter(pk__in=list(photo_ids))
    if target.pk == album.pk:
        return 0, chosen.count()
    with transaction.atomic():
        # Locks the chosen rows, so a concurrent move or delete cannot interleave.
        wanted = list(chosen.select_for_update().values_list("pk", flat=True))
        movable = Photo.objects.filter(pk__in=wanted).exclude(
            content_hash__in=target.photos.values("content_hash")
        )
        try:
            with transaction.atomic():
                moved = movable.update(album=target)
        except IntegrityError:
            # The same file reached ``target`` by an upload in between: move nothing.
            moved = 0
    return moved, len(wanted) - moved
