"""Joining the site: open sign-up or an invitation link, as ``SIGNUP`` says."""

from django.conf import settings
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tagging.forms import SignupForm
from tagging.services.invitations import (
    InvitationUnusable,
    InvitationWrongEmail,
    invitation_accept,
    invitation_usable,
)

# The backend that checks passwords; django-axes' is listed first but only counts failures.
_BACKEND = "django.contrib.auth.backends.ModelBackend"


@require_http_methods(["GET", "POST"])
def signup(request):
    """Sign-up without an invitation: only where ``SIGNUP`` is ``open``."""
    if settings.SIGNUP != "open":
        return render(request, "registration/signup_closed.html", status=403)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend=_BACKEND)
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def invitation_signup(request, token: str):
    """Create an account with an invitation link (in any mode but ``closed``)."""
    if settings.SIGNUP == "closed":
        return _unusable(request)
    try:
        invitation = invitation_usable(token=token)
    except InvitationUnusable:
        return _unusable(request)
    form = SignupForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(
                token=token,
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except InvitationUnusable:
            return _unusable(request)
        except InvitationWrongEmail:
            form.add_error("email", "This invitation is for another e-mail address.")
        else:
            login(request, user, backend=_BACKEND)
            return redirect("home")
    return render(request, "registration/signup.html", {"form": form, "invitation": invitation})


def _unusable(request):
    # Unknown, used and expired links look the same (as missing and forbidden
    # objects do); the page says what to do about it.
    return render(request, "registration/invitation_unusable.html", status=404)
