"""Undo: the button after an action, and what the action views say about it.

An undoable action shows its message with an Undo button (a POST form, in
``templates/base.html``, offered by ``tagging.context_processors.site``) on
every page for as long as it may be undone, so a reload keeps it.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tagging import access, selectors
from tagging.models import Undo
from tagging.services import undo as undo_services
from tagging.views.replies import wants_json


def _back(request):
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("home")
    return redirect(target)


def announce(request, message: str, *, since) -> Undo | None:
    """After an action: the undo it recorded (made after ``since``), whose message the
    page shows with its button; without one, ``message`` as a plain message."""
    undo = selectors.undo_offered(user=request.user)
    if undo is not None and undo.created_at >= since:
        return undo
    if not wants_json(request):
        messages.success(request, message)
    return None


def as_json(undo: Undo | None) -> dict | None:
    """The undo as the pages' scripts get it: its message, the form's URL and its deadline."""
    if undo is None:
        return None
    return {
        "id": undo.pk,
        "message": undo.message,
        "url": reverse("undo", args=[undo.pk]),
        "until": undo.expires_at.isoformat(),
    }


@require_POST
@login_required
def undo(request, undo_id: int):
    found = access.undo_for_user(request.user, undo_id)
    try:
        undo_services.undo_apply(undo=found)
    except undo_services.UndoRefused as error:
        if wants_json(request):
            return JsonResponse({"ok": False, "error": str(error)}, status=409)
        messages.error(request, f"Not undone: {error}.")
    else:
        if wants_json(request):
            return JsonResponse({"ok": True, "message": f"Undone: {found.message}"})
        messages.success(request, f"Undone: {found.message}")
    return _back(request)


@require_POST
@login_required
def undo_dismiss(request, undo_id: int):
    """Close the message of an undo; it may still be undone until it expires, but is not offered."""
    undo_services.undo_dismiss(undo=access.undo_for_user(request.user, undo_id))
    if wants_json(request):
        return JsonResponse({"ok": True})
    return _back(request)
