"""Pages for staff: invitations and the processing queue. Anyone else gets 404."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tagging import access
from tagging.forms import InvitationForm
from tagging.models import Invitation, Photo
from tagging.services import albums as album_services
from tagging.services.invitations import invitation_create

QUEUE_ROWS = 200


def staff_required(view):
    """404 for members who are not staff: a page they may not use does not exist for them."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404()
        return view(request, *args, **kwargs)

    return wrapper


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

    Counts are of every photo; the rows are only those the staff member may
    see (a private album stays its owner's, staff included).
    """
    counts = {status: 0 for status in Photo.Status.values}
    counts.update(Photo.objects.order_by().values_list("status").annotate(n=Count("id")))
    visible = access.photos_visible(request.user).select_related("album").order_by("-status_changed_at")
    sections = [
        (Photo.Status(status), visible.filter(status=status)[:QUEUE_ROWS])
        for status in (Photo.Status.FAILED, Photo.Status.PROCESSING, Photo.Status.PENDING)
    ]
    return render(request, "tagging/queue.html", {"counts": counts, "sections": sections})


@require_POST
@staff_required
def queue_retry(request):
    """Send failed photos back to the workers: the ones ticked, or every failed one."""
    failed = Photo.objects.filter(status=Photo.Status.FAILED)
    if request.POST.get("all") != "1":
        ids = [int(value) for value in request.POST.getlist("photo") if value.isdigit()]
        # Only photos the staff member was shown can be picked one by one.
        failed = failed.filter(pk__in=access.photos_visible(request.user).filter(pk__in=ids).values("pk"))
    sent, skipped = album_services.photos_reprocess(photos=failed)
    messages.success(request, f"{sent} failed photo{'s' if sent != 1 else ''} sent to be processed again.")
    return redirect("queue")
