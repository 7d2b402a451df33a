"""The people directory: named people, unnamed groups, a person's photos and review grid."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tagging import access, selectors
from tagging.forms import NameForm
from tagging.models import Face, Person, PersonClaim
from tagging.services import faces as face_actions
from tagging.services.merge import person_merge
from tagging.text import plural
from tagging.views.decorators import staff_required
from tagging.views.replies import refusals_to


@require_GET
@login_required
def people_list(request):
    named = list(selectors.people_named(user=request.user))
    context = {
        "people": [p for p in named if not p.hidden],
        "hidden_people": [p for p in named if p.hidden],
        "groups": list(selectors.people_unnamed(user=request.user)),
    }
    return render(request, "tagging/people.html", context)


@require_GET
@login_required
def person_detail(request, person_id: int):
    person = access.person_for_user(request.user, person_id)
    context = {
        "person": person,
        "photos": selectors.person_photos(user=request.user, person=person)[:500],
        "review": selectors.person_review_faces(user=request.user, person=person),
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
    """Confirm or reject many suggestions at once; only faces the member may see are touched."""
    person = access.person_for_user(request.user, person_id)
    ids = [int(i) for i in request.POST.getlist("faces") if i.isdigit()]
    # Not selectors.person_review_faces: it is sliced, and a sliced queryset cannot be filtered.
    visible = list(
        Face.objects.visible_to(request.user)
        .filter(pk__in=ids, person=person, status=Face.Status.SUGGESTED)
        .values_list("pk", flat=True)
    )
    if request.POST.get("action") == "reject":
        count = face_actions.faces_reject_bulk(person=person, face_ids=visible, user=request.user)
        messages.success(request, f"Rejected {plural(count, 'suggestion')}.")
    else:
        count = face_actions.faces_confirm_bulk(person=person, face_ids=visible)
        messages.success(request, f"Confirmed {plural(count, 'face')} as {person}.")
    return redirect(person)


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
    messages.success(request, f"Named {form.cleaned_data['name']}.")
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
def people_autocomplete(request):
    query = request.GET.get("q", "").strip()
    people = selectors.people_nameable(user=request.user)
    if query:
        people = people.filter(name__icontains=query)
    names = list(people.order_by("name").values_list("name", flat=True).distinct()[:20])
    return JsonResponse({"names": names})
