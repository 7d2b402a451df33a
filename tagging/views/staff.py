"""Pages for staff: invitations and the processing queue. Anyone else gets 404."""

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tagging.forms import InvitationForm
from tagging.models import Invitation, Photo
from tagging.services import albums as album_services
from tagging.services.invitations import invitation_create
from tagging.text import plural
from tagging.views.decorators import staff_required

QUEUE_ROWS = 200


@require_http_methods(["GET", "POST"])
@staff_required
def invitations(request):
    form = InvitationForm(request.POST or None, initial={"days": settings.INVITATION_DAYS})
    if request.method == "POST" and form.is_valid():
        invitation = invitation_create(
            created_by=request.user, email=form.cleaned_data["email"], days=form.cleaned_data["days"]
        )
        messages.success(request, "Invitation created: send the link below to the new member.")
        return redirect(f"{request.path}#invitation-{invitation.pk}")
    rows = Invitation.objects.select_related("created_by", "used_by")[:QUEUE_ROWS]
    return render(
        request,
        "tagging/invitations.html",
        {"form": form, "invitations": rows, "now": timezone.now()},
    )


@require_http_methods(["GET"])
@staff_required
def queue(request):
    """Photos waiting, being processed and failed, with the reason.

    Counts and rows are of the photos the staff member may see: a private
    album stays its owner's, staff included, down to how many photos it holds.
    """
    counts = {status: 0 for status in Photo.Status.values}
    counts.update(
        Photo.objects.visible_to(request.user).order_by().values_list("status").annotate(n=Count("id"))
    )
    visible = Photo.objects.visible_to(request.user).select_related("album").order_by("-status_changed_at")
    sections = [
        (Photo.Status(status), visible.filter(status=status)[:QUEUE_ROWS])
        for status in (Photo.Status.FAILED, Photo.Status.PROCESSING, Photo.Status.PENDING)
    ]
    return render(request, "tagging/queue.html", {"counts": counts, "sections": sections})


@require_POST
@staff_required
def queue_retry(request):
    """Send failed photos back to the workers: the ones ticked, or every failed one the
    staff member may see (the owner of a private album retries its photos)."""
    failed = Photo.objects.visible_to(request.user).filter(status=Photo.Status.FAILED)
    if request.POST.get("all") != "1":
        ids = [int(value) for value in request.POST.getlist("photo") if value.isdigit()]
        failed = failed.filter(pk__in=ids)
    sent, skipped = album_services.photos_reprocess(photos=failed)
    messages.success(request, f"{plural(sent, 'failed photo')} sent to be processed again.")
    return redirect("queue")
