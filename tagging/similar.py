"""Find by face (reads): the visible faces most like one face, nearest first, down to
a cut-off, with the names the viewer may see. Vector queries as in ``selectors``."""

from dataclasses import dataclass

from django.conf import settings
from pgvector.django import CosineDistance

from tagging.models import Face, Person, Photo
from tagging.vectors import hnsw_search_atomic, nearest_first

# Cut-offs of find by face, nearest first, per model: (strict, loose). Chosen by
# `manage.py evaluate` on the 25 single-person photos of ../shared/faces/people
# and ../shared/faces-extra (8 people, 300 pairs): same person up to 0.0677,
# different people from 0.1083. The widest cut-off with at least 99 in 100 of
# its pairs one person (`find_cutoff`) is 0.088: precision 1.0, recall 1.0. The
# looser bound, 9 in 10 (`find_cutoff_loose`), is 0.128: precision 0.907.
# "Show less similar" widens by FIND_STEP at a time, never past the looser bound.
FIND_CUTOFFS = {"Dlib": (0.088, 0.128)}
FIND_STEP = 0.02


@dataclass(frozen=True)
class SimilarPhoto:
    photo: Photo
    face_id: int
    distance: float


@dataclass(frozen=True)
class FaceMatch:
    photo: Photo
    face_id: int
    distance: float
    person: Person | None  # confirmed on that face, and known to the viewer


def find_cutoffs(model_name: str, *, unmeasured: float) -> list[float]:
    """The cut-offs find by face steps through, strict first. A model not measured
    here has one: ``unmeasured`` (the caller's match threshold for it)."""
    if model_name not in FIND_CUTOFFS:
        return [unmeasured]
    strict, loose = FIND_CUTOFFS[model_name]
    steps = [strict]
    while steps[-1] + FIND_STEP < loose - 1e-9:
        steps.append(round(steps[-1] + FIND_STEP, 4))
    return [*steps, loose]


def _nearest_per_photo(query) -> dict[int, tuple[int, float]]:
    """Photo id -> (its nearest face, distance), nearest photos first."""
    best: dict[int, tuple[int, float]] = {}
    for face_id, photo_id, d in query:
        if photo_id not in best:
            best[photo_id] = (face_id, float(d))
    return best


def photos_similar(*, user, embedding, model_name: str, limit: int = 24, exclude_face_id: int | None = None):
    """Visible photos with the faces most similar to ``embedding``, nearest first (deepface's
    ``find``, inside the site). One photo appears once, with its nearest face."""
    faces = Face.objects.visible_to(user)
    if exclude_face_id is not None:
        faces = faces.exclude(pk=exclude_face_id)
    columns = ("pk", "photo_id", "nearest_distance")
    query = nearest_first(faces, model_name=model_name, to=embedding).values_list(*columns)[: limit * 4]
    with hnsw_search_atomic(ef_search=max(settings.FACE_FILTERED_EF_SEARCH, limit * 8)):
        best = _nearest_per_photo(query)
    if len(best) < limit:
        # The approximate search keeps its candidates before the visibility
        # filter; when most faces near this one are on photos the viewer cannot
        # see (or are deleted rows not yet vacuumed), too few survive. Then an
        # exact search over the visible faces: the distance on the face's own,
        # uncast column is not the indexed expression, so no index can cut it short.
        exact = CosineDistance("embedding", list(embedding))
        faces = faces.filter(model_name=model_name, embedding__isnull=False)
        exact_first = faces.annotate(nearest_distance=exact).order_by("nearest_distance")
        best = _nearest_per_photo(exact_first.values_list(*columns)[: limit * 4])
    photos = Photo.objects.in_bulk(list(best)[:limit])
    return [SimilarPhoto(photos[pid], *best[pid]) for pid in list(best)[:limit] if pid in photos]


def face_matches(
    *, user, embedding, model_name: str, max_distance: float, exclude_face_id: int | None = None
) -> list[FaceMatch]:
    """``photos_similar`` down to ``max_distance``, each with the person confirmed on the
    matching face when ``user`` may know of them (``Person.objects.visible_to``): a
    suggestion is the machine's guess, not a name to show a stranger's face under."""
    similar = photos_similar(
        user=user, embedding=embedding, model_name=model_name, exclude_face_id=exclude_face_id
    )
    within = [s for s in similar if s.distance <= max_distance]
    tagged = dict(
        Face.objects.filter(pk__in=[s.face_id for s in within], status=Face.Status.CONFIRMED).values_list(
            "pk", "person_id"
        )
    )
    people = Person.objects.visible_to(user).in_bulk(set(tagged.values()))
    return [FaceMatch(s.photo, s.face_id, s.distance, people.get(tagged.get(s.face_id))) for s in within]
