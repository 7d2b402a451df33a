"""The people directory: named people, unnamed groups, a person's photos and review grid."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from tagging import access, review, selectors
from tagging.forms import NameForm
from tagging.models import Person, PersonClaim
from tagging.services import faces as face_actions
from tagging.services import review as review_actions
from tagging.services.merge import person_merge
from tagging.text import plural
from tagging.views.decorators import staff_required
from tagging.views.replies import refusals_to, wants_json
from tagging.views.undo import announce, as_json
from tagging.views.who import faces_to_name_count


@require_GET
@login_required
def people_list(request):
    named = list(
        review.people_with_review_counts(selectors.people_named(user=request.user), user=request.user)
    )
    context = {
        "people": [p for p in named if not p.hidden],
        "hidden_people": [p for p in named if p.hidden],
        "groups": list(selectors.people_unnamed(user=request.user)),
        "singles": review.faces_unnamed_single(user=request.user),
        "singles_count": review.faces_unnamed_single_count(user=request.user),
        "review_waiting": review.suggestions_waiting(user=request.user),
    }
    return render(request, "tagging/people.html", context)


@require_GET
@login_required
def person_detail(request, person_id: int):
    person = access.person_for_user(request.user, person_id)
    grid = review.review_grid(user=request.user, person=person)
    walking = request.GET.get("walk") == "1"
    if walking and not grid:
        # "Review all" goes on to the next person once this one has nothing left.
        return redirect(reverse("people_review") + "?" + urlencode({"after": person.pk}))
    context = {
        "person": person,
        "photos": selectors.person_photos(user=request.user, person=person)[:500],
        "review": grid,
        "walking": walking,
        "claim": PersonClaim.objects.filter(
            user=request.user, person=person, status=PersonClaim.Status.PENDING
        ).first(),
        "group_faces": []
        if person.name
        else selectors.group_faces_for_naming(user=request.user, person=person),
    }
    return render(request, "tagging/person.html", context)


@require_POST
@login_required
def person_review(request, person_id: int):
    """Confirm or reject the ticked suggestions of the grid (or the one face whose "Not"
    was pressed). Faces whose suggestion changed since the page was drawn are
    refused one by one, with the reason; faces still on the page stay as they are."""
    person = access.person_for_user(request.user, person_id)
    one = request.POST.get("reject", "")
    if one.isdigit():
        action, ids = review_actions.REJECT, [int(one)]
    else:
        action = review_actions.REJECT if request.POST.get("action") == "reject" else review_actions.CONFIRM
        ids = [int(i) for i in request.POST.getlist("faces") if i.isdigit()]
    since = timezone.now()
    outcome = review_actions.faces_review(person=person, face_ids=ids, action=action, user=request.user)
    count = len(outcome.done)
    if action == review_actions.REJECT:
        message = f"Rejected {plural(count, 'suggestion')}."
    else:
        message = f"Confirmed {plural(count, 'face')} as {person}."
    walking = request.POST.get("walk") == "1"
    # The change records its undo; the message then comes with its Undo button.
    undo = announce(request, message, since=since) if count else None
    if wants_json(request):
        shown = [int(i) for i in request.POST.getlist("shown") if i.isdigit()]
        return JsonResponse(
            {
                "done": outcome.done,
                "refused": {str(pk): note for pk, note in outcome.refused.items()},
                "message": undo.message if undo else message,
                "undo": as_json(undo),
                "waiting": review.person_waiting_count(user=request.user, person=person, shown=shown),
                "next": reverse("people_review") + "?" + urlencode({"after": person.pk}),
            }
        )
    if not count and not outcome.refused:
        messages.success(request, message)
    for note in outcome.refused.values():
        messages.warning(request, f"Not changed: {note}")
    return redirect(person.get_absolute_url() + ("?walk=1" if walking else ""))


@require_POST
@login_required
def person_naming(request, person_id: int):
    """Name an unnamed group. Members may name groups; renaming a named person is for staff."""
    person = access.person_for_user(request.user, person_id)
    if person.name and not request.user.is_staff:
        raise PermissionDenied("only staff rename people")
    form = NameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A name is needed.")
        return redirect("people")
    # The naming form lists the group's faces ("shown") with a box each ("faces"):
    # only the faces the member saw and left ticked are confirmed.
    shown = [int(i) for i in request.POST.getlist("shown") if i.isdigit()]
    kept = [int(i) for i in request.POST.getlist("faces") if i.isdigit()]
    since = timezone.now()
    try:
        person = face_actions.group_name(
            person=person,
            name=form.cleaned_data["name"],
            actor=request.user,
            shown_face_ids=shown if "shown" in request.POST else None,
            kept_face_ids=kept,
        )
    except face_actions.NameTaken as taken:
        # Are these the same person? Staff may merge; members are told staff will.
        return render(
            request,
            "tagging/person_same.html",
            {"person": person, "existing": taken.existing, "name": form.cleaned_data["name"]},
            status=409,
        )
    announce(request, f"Named {form.cleaned_data['name']}.", since=since)
    return redirect(person)


@require_POST
@staff_required
@refusals_to("people")
def people_merge(request):
    """Staff: "these are the same person". ``keep`` names the person whose name stays."""
    ids = {int(i) for i in request.POST.getlist("people") if i.isdigit()}
    keep_id = request.POST.get("keep", "")
    if not keep_id.isdigit() or int(keep_id) not in ids or len(ids) < 2:
        messages.error(request, "Select two or more people and the one whose name to keep.")
        return redirect("people")
    people = {p.pk: p for p in Person.objects.visible_to(request.user).filter(pk__in=ids)}
    if len(people) != len(ids):
        messages.error(request, "Some of these people were already merged; reload and try again.")
        return redirect("people")
    keep = people.pop(int(keep_id))
    person_merge(keep=keep, merge=list(people.values()), actor=request.user)
    messages.success(request, f"Merged into {keep}.")
    return redirect(keep)


@require_GET
@login_required
def people_review(request):
    """ "Review all": on to the next person with suggestions, by name, until nothing is left."""
    after_id = request.GET.get("after", "")
    after = (
        Person.objects.visible_to(request.user).filter(pk=after_id).first() if after_id.isdigit() else None
    )
    person = review.person_next_to_review(user=request.user, after=after)
    if person is not None:
        return redirect(person.get_absolute_url() + "?walk=1")
    context = {
        "left": review.suggestions_waiting(user=request.user),
        "went_round": after is not None,
        "to_name": faces_to_name_count(request.user),
    }
    return render(request, "tagging/review_done.html", context)


@require_GET
@login_required
def people_autocomplete(request):
    query = request.GET.get("q", "").strip()
    people = selectors.people_nameable(user=request.user)
    if query:
        people = people.filter(name__icontains=query)
    names = list(people.order_by("name").values_list("name", flat=True).distinct()[:20])
    return JsonResponse({"names": names})
