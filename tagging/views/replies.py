"""How views answer: JSON for the pages' scripts, and refusals a member reads.

The one place that decides whether a request comes from a page's script
(:func:`wants_json`) and the one place that turns a service's
:class:`~tagging.errors.ActionRefused` into an answer (:func:`refusals_to`).
"""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect

from tagging.errors import ActionRefused


def wants_json(request: HttpRequest) -> bool:
    """True when a page's script asked (``Accept: application/json``, as static/tagging/js
    sends it); a plain form post or a link gets a page or a redirect instead."""
    return request.headers.get("Accept", "").startswith("application/json")


def refusals_to(to: str | Callable, say: str = "{}"):
    """Answer an :class:`ActionRefused` raised by the view: for a script, a JSON 400
    ``{"error": message}``; otherwise the message (``say`` with the error in its ``{}``)
    on the page a redirect to ``to`` leads to.

    ``to`` is what ``redirect`` takes (a URL name, a URL), or a callable given the
    request and the view's arguments that returns one; it runs only on a refusal.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except ActionRefused as error:
                if wants_json(request):
                    return JsonResponse({"error": str(error)}, status=400)
                messages.error(request, say.format(error))
                return redirect(to(request, *args, **kwargs) if callable(to) else to)

        return wrapped

    return decorator
