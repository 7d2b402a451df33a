"""The privacy page, and each member's own privacy settings."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tagging import access
from tagging.models import Person
from tagging.services import privacy


@require_GET
def privacy_page(request):
    """Public: what is stored, why, and for how long."""
    context = {
        "retention_days": settings.FACE_UNCONFIRMED_RETENTION_DAYS,
        "recognition_enabled": settings.FACE_RECOGNITION_ENABLED,
    }
    return render(request, "tagging/privacy.html", context)


@require_GET
@login_required
def account(request):
    person = Person.objects.filter(user=request.user).first()
    return render(request, "tagging/account.html", {"person": person})


@require_POST
@login_required
def person_this_is_me(request, person_id: int):
    person = access.person_for_user(request.user, person_id)
    try:
        privacy.person_link_user(person=person, user=request.user)
    except privacy.PrivacyError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Your account is linked to {person}.")
    return redirect("account")


@require_POST
@login_required
def opt_out(request):
    try:
        forgotten = privacy.recognition_opt_out(user=request.user)
    except privacy.PrivacyError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Recognition is off for you; {forgotten} face records were forgotten.")
    return redirect("account")


@require_POST
@login_required
def opt_in(request):
    try:
        photos = privacy.recognition_opt_in(user=request.user)
    except privacy.PrivacyError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Recognition is on for you again; {photos} photos are processed again.")
    return redirect("account")


@require_http_methods(["GET", "POST"])
@login_required
def account_delete(request):
    if request.method == "POST":
        if not request.user.check_password(request.POST.get("password", "")):
            messages.error(request, "That password is not right; nothing was deleted.")
            return redirect("account_delete")
        user = request.user
        logout(request)
        privacy.account_delete(user=user)
        messages.success(request, "Your account, photos and faces are deleted.")
        return redirect("login")
    return render(request, "tagging/account_delete.html")
