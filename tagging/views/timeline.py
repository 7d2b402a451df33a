"""Every photo a member may see, by the date it was taken, a month at a time."""

from itertools import groupby

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from tagging import selectors_photos

PAGE_SIZE = 60


def _cursor(request) -> tuple | None:
    """The (when, id) after which this page starts, from ``?at=…&id=…``; None for the first."""
    at = parse_datetime(request.GET.get("at", "") or "")
    pk = request.GET.get("id", "")
    if at is None or not pk.isdigit():
        return None
    return at, int(pk)


@require_GET
@login_required
def timeline(request):
    photos = selectors_photos.photos_timeline(user=request.user, before=_cursor(request), limit=PAGE_SIZE)
    months = [
        (key, list(group))
        for key, group in groupby(photos, key=lambda p: timezone.localtime(p.when).strftime("%Y-%m"))
    ]
    more = ""
    if len(photos) == PAGE_SIZE:
        last = photos[-1]
        more = reverse("timeline") + "?" + urlencode({"at": last.when.isoformat(), "id": last.pk})
    return render(request, "tagging/timeline.html", {"months": months, "more": more})
