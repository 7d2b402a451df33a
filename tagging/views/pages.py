"""Pages members see. Placeholders until the site issue builds them out."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "tagging/home.html")


@login_required
def album(request, album_id: int):
    return render(request, "tagging/home.html")


@login_required
def photo(request, photo_id: int):
    return render(request, "tagging/home.html")


@login_required
def person(request, person_id: int):
    return render(request, "tagging/home.html")
