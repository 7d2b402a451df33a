"""View decorators shared by the pages."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404


def staff_required(view):
    """Staff only. Anyone else logged in gets the 404 a missing page gives (a staff page
    is nothing to them); anonymous visitors are sent to log in, as everywhere."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404("not found")
        return view(request, *args, **kwargs)

    return login_required(wrapped)
