"""What owners do to the photos of their albums: delete one, or delete or move several."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tagging import access
from tagging.services import albums as album_services
from tagging.views.undo import announce


def _photos(count: int) -> str:
    return f"{count} photo" if count == 1 else f"{count} photos"


@require_http_methods(["GET", "POST"])
@login_required
def photo_delete(request, photo_id: int):
    photo = access.photo_for_user(request.user, photo_id)
    album = access.album_for_owner(request.user, photo.album_id)  # only the owner deletes
    if request.method == "POST":
        since = timezone.now()
        album_services.photo_delete(photo=photo, user=request.user)
        announce(request, f"Deleted “{photo.display_name}”.", since=since)
        return redirect(album)
    return render(request, "tagging/photo_delete.html", {"photo": photo})


@require_POST
@login_required
def album_photos(request, album_id: int):
    """Act on the photos ticked on the album page: ``action`` is ``delete`` or ``move``.

    Deleting asks once more on a page of its own (then it may be undone for
    ``UNDO_SECONDS``); moving goes ahead, as it is undone by moving back.
    """
    album = access.album_for_owner(request.user, album_id)
    try:
        ids = sorted({int(value) for value in request.POST.getlist("photos")})
    except ValueError:
        ids = []
    chosen = list(album.photos.filter(pk__in=ids).order_by("created_at", "pk"))
    if not chosen:
        messages.error(request, "No photo was selected.")
        return redirect(album)
    ids = [photo.pk for photo in chosen]
    action = request.POST.get("action")
    if action == "delete":
        if request.POST.get("confirmed") != "yes":
            return render(request, "tagging/photos_delete.html", {"album": album, "photos": chosen})
        since = timezone.now()
        deleted = album_services.photos_delete(album=album, photo_ids=ids, user=request.user)
        announce(request, f"Deleted {_photos(deleted)}.", since=since)
        return redirect(album)
    if action == "move":
        target_id = request.POST.get("target", "")
        target = (
            access.albums_owned_by(request.user)
            .filter(pk=int(target_id) if target_id.isdigit() else 0)
            .first()
        )
        if target is None or target.pk == album.pk:
            messages.error(request, "Choose another of your albums to move the photos to.")
            return redirect(album)
        moved, skipped = album_services.photos_move(album=album, photo_ids=ids, target=target)
        message = f"Moved {_photos(moved)} to “{target.title}”."
        if skipped:
            message += f" {_photos(skipped)} stayed: “{target.title}” has the same file already."
        messages.success(request, message)
        return redirect(album)
    messages.error(request, "Choose what to do with the selected photos.")
    return redirect(album)
