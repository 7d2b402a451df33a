"""The photo page and what members do with its faces."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from tagging import access, selectors
from tagging.forms import NameForm
from tagging.models import Face
from tagging.services import faces as face_actions
from tagging.views.undo import announce, as_json


@require_GET
@login_required
def photo_detail(request, photo_id: int):
    photo = access.photo_for_user(request.user, photo_id)
    faces = list(photo.faces.select_related("person").order_by("x"))
    previous_id, next_id = selectors.photo_neighbours(photo=photo)
    tagged = {face.person_id: face.person for face in faces if face.status == Face.Status.CONFIRMED}
    context = {
        "photo": photo,
        "faces": faces,
        "tagged": sorted(tagged.values(), key=lambda p: p.name),
        "previous_id": previous_id,
        "next_id": next_id,
        "is_owner": photo.album.owner_id == request.user.pk,
    }
    return render(request, "tagging/photo.html", context)


def _done(request, face: Face, message: str, *, since):
    """Answer a face action: JSON for the page's script, a redirect for a plain form post;
    either offers the undo the action recorded (see ``views.undo.announce``)."""
    undo = announce(request, message, since=since)
    if request.headers.get("Accept", "").startswith("application/json"):
        face.refresh_from_db()
        return JsonResponse(
            {
                "ok": True,
                "message": undo.message if undo else message,
                "status": face.status,
                "person": str(face.person or ""),
                "undo": as_json(undo),
            }
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = face.photo.get_absolute_url()
    return redirect(target)


def _refused(request, face: Face, error: Exception):
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": False, "error": str(error)}, status=409)
    messages.error(request, str(error))
    return redirect(face.photo)


@require_POST
@login_required
def face_confirm(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    since = timezone.now()
    try:
        face = face_actions.face_confirm(face=face, user=request.user)
    except face_actions.FaceActionError as error:
        return _refused(request, face, error)
    return _done(request, face, f"Tagged {face.person}.", since=since)


@require_POST
@login_required
def face_reject(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    since = timezone.now()
    try:
        # An unnamed group's label ("Unnamed #3") is no name to say "not" to.
        name = face.person.name if face.person else ""
        face = face_actions.face_reject(face=face, user=request.user)
    except face_actions.FaceActionError as error:
        return _refused(request, face, error)
    return _done(request, face, f"Noted: not {name}." if name else "Noted: not that group.", since=since)


@require_POST
@login_required
def face_tag(request, face_id: int):
    """Name a face: an existing person of that name, or a new one."""
    face = access.face_for_user(request.user, face_id)
    form = NameForm(request.POST)
    if not form.is_valid():
        return _refused(request, face, face_actions.FaceActionError("a name is needed"))
    since = timezone.now()
    try:
        face = face_actions.face_tag_by_name(face=face, name=form.cleaned_data["name"], user=request.user)
    except face_actions.FaceActionError as error:
        return _refused(request, face, error)
    return _done(request, face, f"Tagged {face.person}.", since=since)


@require_POST
@login_required
def face_untag(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    since = timezone.now()
    try:
        name = str(face.person or "")
        face = face_actions.face_untag(face=face)
    except face_actions.FaceActionError as error:
        return _refused(request, face, error)
    return _done(request, face, f"Removed the tag {name}.", since=since)
