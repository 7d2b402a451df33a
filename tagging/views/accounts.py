from django.conf import settings
from django.contrib.auth import login
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tagging.forms import SignupForm


@require_http_methods(["GET", "POST"])
def signup(request):
    """Self sign-up, only where ``SIGNUP_ENABLED`` allows it."""
    if not settings.SIGNUP_ENABLED:
        raise Http404("sign-up is closed")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})
