"""Album pages, uploads and live processing status."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tagging import access, selectors
from tagging.forms import AlbumForm
from tagging.models import Photo
from tagging.services import albums as album_services
from tagging.services.uploads import UploadRejected, display_name_clean, photo_upload, too_large_message
from tagging.views.replies import refusals_to, wants_json


@require_GET
@login_required
def home(request):
    albums = selectors.albums_for_list(user=request.user)
    return render(request, "tagging/albums.html", {"albums": albums})


@require_http_methods(["GET", "POST"])
@login_required
def album_create(request):
    form = AlbumForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        album = album_services.album_create(owner=request.user, **form.cleaned_data)
        return redirect(album)
    return render(request, "tagging/album_form.html", {"form": form})


@require_GET
@login_required
def album_detail(request, album_id: int):
    album = access.album_for_user(request.user, album_id)
    photos = list(selectors.album_photos(album=album))
    is_owner = album.owner_id == request.user.pk
    context = {
        "album": album,
        "photos": photos,
        "is_owner": is_owner,
        "other_albums": (
            access.albums_owned_by(request.user).exclude(pk=album.pk).order_by("title") if is_owner else []
        ),
        "progress": selectors.album_progress(album=album),
        "form": AlbumForm(instance=album),
        "upload_limits": {
            "maxBytes": settings.UPLOAD_MAX_BYTES,
            "maxFiles": settings.UPLOAD_MAX_FILES_PER_REQUEST,
            "tooLarge": too_large_message(),
        },
    }
    return render(request, "tagging/album.html", context)


@require_POST
@login_required
def album_edit(request, album_id: int):
    album = access.album_for_owner(request.user, album_id)
    form = AlbumForm(request.POST, instance=album)
    if form.is_valid():
        album_services.album_update(album=album, **form.cleaned_data)
        messages.success(request, "Album saved.")
    else:
        messages.error(
            request, "The album was not saved: " + " ".join(m for e in form.errors.values() for m in e)
        )
    return redirect(album)


@require_http_methods(["GET", "POST"])
@login_required
def album_delete(request, album_id: int):
    album = access.album_for_owner(request.user, album_id)
    if request.method == "POST":
        album_services.album_delete(album=album)
        messages.success(request, f"Deleted the album “{album.title}” and its photos.")
        return redirect("home")
    return render(request, "tagging/album_delete.html", {"album": album, "photo_count": album.photos.count()})


def _own_album(request, album_id: int):
    return access.album_for_owner(request.user, album_id)


@require_POST
@login_required
@refusals_to(_own_album, say="Nothing was uploaded: {}.")
def album_upload(request, album_id: int):
    """Add one or more files (field ``files``); each gets its own result, a failure stops nothing."""
    album = access.album_for_owner(request.user, album_id)
    limit = settings.UPLOAD_MAX_FILES_PER_REQUEST
    try:
        files = request.FILES.getlist("files")
    except (TooManyFilesSent, RequestDataTooBig):
        files = None
    if files is None or len(files) > limit:
        raise UploadRejected(f"too many files in one request; the limit is {limit}")
    if not files:
        raise UploadRejected("no file in the request")
    results = []
    for upload in files:
        try:
            photo = photo_upload(
                album=album, uploader=request.user, source=upload, name=upload.name, size=upload.size
            )
        except UploadRejected as error:
            results.append({"name": display_name_clean(upload.name), "ok": False, "error": str(error)})
        else:
            results.append(
                {"name": photo.display_name, "ok": True, "id": photo.pk, "url": photo.get_absolute_url()}
            )
    if not wants_json(request):
        # A plain form post (no script): report in words on the album page.
        added = sum(result["ok"] for result in results)
        messages.success(request, f"Added {added} of {len(results)} files.")
        for result in results:
            if not result["ok"]:
                messages.error(request, f"{result['name']}: {result['error']}")
        return redirect(album)
    return JsonResponse({"results": results})


@require_GET
@login_required
def album_status(request, album_id: int):
    """Processing state of every photo, for the album page to poll until all are settled.

    Each photo carries its tile as HTML from the same partial the page uses, so
    a tile redrawn by the script shows what a reload would (name, reason, Retry).
    """
    album = access.album_for_user(request.user, album_id)
    is_owner = album.owner_id == request.user.pk
    photos = [
        {
            "id": photo.pk,
            "status": photo.status,
            "label": photo.get_status_display(),
            "error": photo.error if photo.status == Photo.Status.FAILED else "",
            "faces": photo.face_count,
            "thumbnail": reverse("photo_thumbnail", args=[photo.pk]) if photo.thumbnail else "",
            "url": photo.get_absolute_url(),
            "html": render_to_string(
                "tagging/partials/photo_tile.html", {"photo": photo, "is_owner": is_owner}, request
            ),
        }
        for photo in selectors.album_photos(album=album)
    ]
    settled = all(p["status"] in (Photo.Status.DONE, Photo.Status.FAILED) for p in photos)
    return JsonResponse(
        {"photos": photos, "settled": settled, "progress": selectors.album_progress(album=album)}
    )


@require_POST
@login_required
def photo_retry(request, photo_id: int):
    photo = access.photo_for_user(request.user, photo_id)
    access.album_for_owner(request.user, photo.album_id)  # only the owner retries
    if album_services.photo_retry(photo=photo):
        messages.success(request, f"“{photo.display_name}” will be processed again.")
    elif photo.status == Photo.Status.FAILED:
        messages.error(request, f"“{photo.display_name}” would fail again: {photo.error}.")
    return redirect(photo.album)
