"""The privacy page, and each member's own privacy settings."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tagging import access
from tagging.models import Face, Person, PersonClaim
from tagging.services import privacy
from tagging.text import plural
from tagging.views.decorators import staff_required
from tagging.views.replies import refusals_to


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
    context = {
        "person": Person.objects.filter(user=request.user).first(),
        # The member's latest claim, whatever staff made of it: this is how they are told.
        "claim": PersonClaim.objects.filter(user=request.user).select_related("person").first(),
    }
    return render(request, "tagging/account.html", context)


@require_POST
@login_required
@refusals_to("account", say="Not asked: {}.")
def person_this_is_me(request, person_id: int):
    """Ask staff to link the member to this person; nothing changes before they approve."""
    person = access.person_for_user(request.user, person_id)
    privacy.person_claim(person=person, user=request.user)
    messages.success(request, f"Asked staff to confirm that you are {person}; their answer shows here.")
    return redirect("account")


@require_POST
@login_required
def claim_withdraw(request):
    if privacy.claim_withdraw(user=request.user):
        messages.success(request, "Your request is withdrawn.")
    return redirect("account")


@require_POST
@login_required
@refusals_to("account")
def person_unlink(request):
    person = privacy.person_unlink(user=request.user)
    messages.success(request, f"Your account is no longer linked to {person}.")
    return redirect("account")


@require_POST
@login_required
@refusals_to("account")
def opt_out(request):
    forgotten = privacy.person_opt_out(user=request.user)
    messages.success(
        request, f"Recognition is off for you; {plural(forgotten, 'face')} you can see forgotten."
    )
    return redirect("account")


@require_POST
@login_required
@refusals_to("account")
def opt_in(request):
    photos = privacy.person_opt_in(user=request.user)
    messages.success(
        request, f"Recognition is on for you again; {plural(photos, 'photo')} you can see sent again."
    )
    return redirect("account")


def _claims_pending(user):
    """Open claims ``user`` may judge: on people they may see, and not their own."""
    return (
        PersonClaim.objects.visible_to(user)
        .filter(status=PersonClaim.Status.PENDING)
        .exclude(user=user)
        .select_related("person", "user")
    )


@require_GET
@staff_required
def claims(request):
    """Staff: the open "This is me" requests, each with the person's faces this member of
    staff may see."""
    rows = [
        {
            "claim": claim,
            "faces": Face.objects.visible_to(request.user)
            .filter(person_id=claim.person_id)
            .exclude(crop="")
            .order_by("-status", "pk")[:8],
        }
        for claim in _claims_pending(request.user)
    ]
    return render(request, "tagging/claims.html", {"rows": rows})


@require_POST
@staff_required
@refusals_to("claims", say="Nothing changed: {}.")
def claim_decide(request, claim_id: int):
    claim = get_object_or_404(_claims_pending(request.user), pk=claim_id)
    approve = request.POST.get("decision") == "approve"
    privacy.claim_decide(claim=claim, approve=approve, actor=request.user)
    verb = "linked" if approve else "refused"
    messages.success(request, f"{claim.user} {verb}.")
    return redirect("claims")


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
