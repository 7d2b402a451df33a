"""Search: photos with several people; photos with a similar face."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from tagging import access, queue, search_terms, selectors, selectors_photos, similar
from tagging.errors import ActionRefused
from tagging.services import recognition
from tagging.services.uploads import probe_read

PAGE_SIZE = 200
# How long the page waits for a worker to find the dropped photo's face: one
# photo's processing ahead of it, on a busy machine, with room to spare.
PROBE_TIMEOUT = 30


@require_http_methods(["GET"])
@login_required
def search(request):
    """One typed field (``q``: people, albums, dates); ``people`` ids from older links still work."""
    text = request.GET.get("q", "").strip()
    found = search_terms.search_parse(user=request.user, text=text)
    ids = [int(i) for i in request.GET.getlist("people") if i.isdigit()]
    if ids:
        by_id = list(selectors.people_nameable(user=request.user).filter(pk__in=ids))
        found.people += by_id
        found.labels += [person.name for person in by_id]
    photos = None
    if not found.empty and not found.unknown:
        photos = selectors_photos.photos_search(
            user=request.user,
            people=found.people,
            albums=found.albums,
            periods=found.periods,
            months=found.months,
        )[:PAGE_SIZE]
    context = {"q": text, "found": found, "photos": photos, "searched": bool(text or ids)}
    return render(request, "tagging/search.html", context)


@require_GET
@login_required
def search_suggest(request):
    """Completions for the search field, as whole queries (a datalist replaces the field's text)."""
    text = request.GET.get("q", "")[:200]
    return JsonResponse({"suggestions": search_terms.suggestions(user=request.user, text=text)})


# How long a "show less similar" step may follow a search on an uploaded photo:
# the photo is not kept, only its embedding, signed, in the page.
PROBE_MAX_AGE = 3600


def _step(value: str, steps: list[float]) -> int:
    return min(int(value), len(steps) - 1) if value.isdigit() else 0


@require_http_methods(["GET", "POST"])
@login_required
def find_by_face(request):
    """deepface's ``find`` inside the site: a face of a visible photo, or a dropped photo
    that is stored nowhere (decoded in memory, its largest face embedded by a
    worker, then discarded). Matches stop at a cut-off (``similar.FIND_CUTOFFS``);
    "show less similar" widens it a step, for an uploaded photo through its
    embedding signed into the page."""
    context = {"results": None, "error": "", "face": None, "probe": ""}
    if not settings.FACE_RECOGNITION_ENABLED:
        context["error"] = "face recognition is switched off on this site"
        return render(request, "tagging/find_by_face.html", context)
    embedding = model_name = exclude = None
    params = request.POST if request.method == "POST" else request.GET
    if request.method == "GET" and request.GET.get("face", "").isdigit():
        face = access.face_for_user(request.user, int(request.GET["face"]))
        if face.embedding is not None:
            embedding, model_name, exclude = face.embedding, face.model_name, face.pk
        context["face"] = face
    elif request.method == "POST" and request.POST.get("probe"):
        try:
            probe = signing.loads(request.POST["probe"], salt="find-by-face", max_age=PROBE_MAX_AGE)
        except signing.BadSignature:
            context["error"] = "that search is too old: choose the photo again"
        else:
            embedding, model_name = probe["embedding"], probe["model"]
            context["probe"] = request.POST["probe"]
    elif request.method == "POST" and "photo" in request.FILES:
        upload = request.FILES["photo"]
        try:
            # Decoded here with Pillow alone (a bad file is refused at once);
            # the models run on a worker, never in a web process.
            packed = probe_read(source=upload, size=upload.size)
            embedding = queue.face_probe(packed=packed, timeout=PROBE_TIMEOUT)
        except ActionRefused as error:
            # Shown on the page itself, next to the drop zone, rather than after a redirect.
            context["error"] = str(error)
        else:
            if embedding is None:
                context["error"] = "no face found in that photo"
            else:
                model_name = settings.FACE_MODEL
                context["probe"] = signing.dumps(
                    {"embedding": embedding, "model": model_name}, salt="find-by-face", compress=True
                )
    if embedding is not None:
        steps = similar.find_cutoffs(model_name, unmeasured=recognition.match_threshold(model_name))
        step = _step(params.get("step", ""), steps)
        context["results"] = similar.face_matches(
            user=request.user,
            embedding=embedding,
            model_name=model_name,
            max_distance=steps[step],
            exclude_face_id=exclude,
        )
        context["cutoff"] = steps[step]
        context["wider_step"] = step + 1 if step + 1 < len(steps) else None
    return render(request, "tagging/find_by_face.html", context)
