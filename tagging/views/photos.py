"""The photo page and what members do with its faces."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from tagging import access, selectors
from tagging.forms import NameForm
from tagging.models import Face
from tagging.services import faces as face_actions
from tagging.views.replies import refusals_to


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


def _done(request, face: Face, message: str):
    """A face action went through: back where the form was (a local page only), with the message."""
    messages.success(request, message)
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
    face = face_actions.face_confirm(face=face)
    return _done(request, face, f"Tagged {face.person}.")


@require_POST
@login_required
@refusals_to(_face_photo)
def face_reject(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    # An unnamed group's label ("Unnamed #3") is no name to say "not" to.
    name = face.person.name if face.person else ""
    face = face_actions.face_reject(face=face, user=request.user)
    return _done(request, face, f"Noted: not {name}." if name else "Noted: not that group.")


@require_POST
@login_required
@refusals_to(_face_photo)
def face_tag(request, face_id: int):
    """Name a face: an existing person of that name, or a new one."""
    face = access.face_for_user(request.user, face_id)
    form = NameForm(request.POST)
    if not form.is_valid():
        raise face_actions.FaceActionError("a name is needed")
    face = face_actions.face_tag_by_name(face=face, name=form.cleaned_data["name"], user=request.user)
    return _done(request, face, f"Tagged {face.person}.")


@require_POST
@login_required
@refusals_to(_face_photo)
def face_untag(request, face_id: int):
    face = access.face_for_user(request.user, face_id)
    name = str(face.person or "")
    face = face_actions.face_untag(face=face)
    return _done(request, face, f"Removed the tag {name}.")
