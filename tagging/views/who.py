""" "Who is this?" one face at a time: the next open face a member may see, large,
with its photo around it and the likely names. The actions post to the photo
page's own face endpoints (confirm, reject, tag), which come back here."""

from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Q, Value, When
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from tagging import review, selectors
from tagging.models import Face, Person

# Nearest confirmed faces looked at for guesses; a handful of people among them.
GUESS_NEIGHBOURS = 30
GUESSES = 3


def _open_faces(user):
    """Faces still to name or confirm: first those nobody is suggested for, then those
    with a named suggestion (the review grids take those many at a time), oldest
    first within each (a stable order for skip and back). Each carries ``tier``."""
    suggested = Q(status=Face.Status.SUGGESTED) & ~Q(person__name="")
    return (
        Face.objects.visible_to(user)
        .exclude(status=Face.Status.CONFIRMED)
        .exclude(person__recognition_opt_out=True)
        .annotate(tier=Case(When(suggested, then=Value(1)), default=Value(0), output_field=IntegerField()))
        .order_by("tier", "pk")
    )


def faces_to_name_count(user) -> int:
    """Open faces nobody is suggested for: what "Who is this?" has left to ask (one query)."""
    return _open_faces(user).filter(tier=0).count()


def _after(faces, after: int):
    """The open faces after face ``after`` in their order, by its tier now (the first
    tier when it is open no more: tagged meanwhile, say)."""
    tier = faces.filter(pk=after).values_list("tier", flat=True).first() if after else None
    tier = tier or 0
    return faces.filter(Q(tier__gt=tier) | Q(tier=tier, pk__gt=after))


def _guesses(*, user, face: Face) -> list[Person]:
    """Named people nearest to ``face`` by confirmed faces ``user`` may see, even below
    the match threshold: guesses, shown as such, never applied without a click."""
    if face.embedding is None:
        return []
    near = selectors.faces_confirmed_near(
        embedding=face.embedding, model_name=face.model_name, limit=GUESS_NEIGHBOURS, seen_by=user
    )
    skip = {face.person_id} if face.person_id else set()
    skip |= set(face.rejections.values_list("person_id", flat=True))
    ids = [n.person_id for n in near if n.person_named and n.person_id not in skip]
    ids = list(dict.fromkeys(ids))[:GUESSES]
    people = Person.objects.visible_to(user).in_bulk(ids)
    return [people[pk] for pk in ids if pk in people]


@require_GET
@login_required
def who_is_this(request):
    after = int(request.GET["after"]) if request.GET.get("after", "").isdigit() else 0
    wanted = int(request.GET["face"]) if request.GET.get("face", "").isdigit() else 0
    faces = _open_faces(request.user)
    # "Back" may show a face already named, to see or undo what was done.
    face = Face.objects.visible_to(request.user).filter(pk=wanted).first() if wanted else None
    face = face or _after(faces, after).select_related("photo", "person").first()
    left = faces.count()
    previous = request.GET.get("prev", "")
    context = {
        "face": face,
        "left": left,
        "previous": previous if previous.isdigit() else "",
        "review_waiting": review.suggestions_waiting(user=request.user),
    }
    if face is not None:
        # After an action the next face comes up; skipped ones stay skipped.
        context["next"] = reverse("who_is_this") + "?" + urlencode({"after": after, "prev": face.pk})
        context["skip"] = reverse("who_is_this") + "?" + urlencode({"after": face.pk, "prev": face.pk})
        context["guesses"] = _guesses(user=request.user, face=face)
        named = face.person is not None and bool(face.person.name)
        context["suggested"] = face.person if face.status == Face.Status.SUGGESTED and named else None
    return render(request, "tagging/who.html", context)
