"""The photo page and what members do with its faces."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from tagging import access, selectors
from tagging.forms import DrawnFaceForm, NameForm
from tagging.models import Face
from tagging.services import faces as face_actions
from tagging.services import manual_faces
from tagging.views.replies import refusals_to
from tagging.views.undo import announce


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
    """A face action went through: back where the form was (a local page only), with the
    message, and the Undo button where the action recorded one (``views.undo.announce``)."""
    announce(request, message, since=since)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = face.photo.get_absolute_url()
    return redirect(target)


def _face_photo(request, face_id: int):
    """Where a refused face action goes back to: the face's photo."""
    return access.face_for_user(request.user, face_id).photo


@require_POST
@login_required
@refusals_to(_face_photo)
def face_confirm(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    since = timezone.now()
    face = face_actions.face_confirm(face=face, user=request.user)
    return _done(request, face, f"Tagged {face.person}.", since=since)


@require_POST
@login_required
@refusals_to(_face_photo)
def face_reject(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    since = timezone.now()
    # An unnamed group's label ("Unnamed #3") is no name to say "not" to.
    name = face.person.name if face.person else ""
    face = face_actions.face_reject(face=face, user=request.user)
    return _done(request, face, f"Noted: not {name}." if name else "Noted: not that group.", since=since)


@require_POST
@login_required
@refusals_to(_face_photo)
def face_tag(request, face_id: int):
    """Name a face: an existing person of that name, or a new one."""
    face = access.face_for_user(request.user, face_id)
    form = NameForm(request.POST)
    if not form.is_valid():
        raise face_actions.FaceActionError("a name is needed")
    since = timezone.now()
    face = face_actions.face_tag_by_name(face=face, name=form.cleaned_data["name"], user=request.user)
    return _done(request, face, f"Tagged {face.person}.", since=since)


@require_POST
@login_required
@refusals_to(_face_photo)
def face_untag(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    since = timezone.now()
    name = str(face.person or "")
    face = face_actions.face_untag(face=face)
    return _done(request, face, f"Removed the tag {name}.", since=since)


@require_POST
@login_required
@refusals_to(_face_photo)
def face_not_a_face(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    since = timezone.now()
    face = face_actions.face_not_a_face(face=face, user=request.user)
    return _done(request, face, "Removed: not a face.", since=since)


@require_POST
@login_required
@refusals_to(lambda request, photo_id: access.photo_for_user(request.user, photo_id))
def face_draw(request, photo_id: int):
    """A face a member drew on the photo, with its name; whoever may tag a face here may
    draw one (any member who sees the photo)."""
    photo = access.photo_for_user(request.user, photo_id)
    form = DrawnFaceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Draw a box around the face and type a name.")
        return redirect(photo)
    data = form.cleaned_data
    face = manual_faces.face_draw(
        photo=photo,
        x=data["x"],
        y=data["y"],
        w=data["w"],
        h=data["h"],
        name=data["name"],
        user=request.user,
    )
    messages.success(request, f"Tagged {face.person}.")
    return redirect(f"{photo.get_absolute_url()}#face-{face.pk}")
