"""``manage.py evaluate``: "same person?" over every pair of labelled faces, and the
find-by-face cut-offs chosen from the same pairs."""

from pgvector.django import CosineDistance

from tagging.embeddings import embedding_expression
from tagging.models import Face
from tagging.services import recognition

# Find by face lists faces nearest first down to a cut-off: strict enough that
# at most 1 face in 100 within it is a stranger; "show less similar" widens it
# to where 1 in 10 may be.
FIND_PRECISION = 0.99
FIND_LOOSE_PRECISION = 0.9


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def _pairs(largest: dict[int, Face], truth: dict[int, str]) -> list[tuple[float, bool]]:
    """(distance, same person?) for every pair of the labelled faces, computed in PostgreSQL."""
    ids = [face.pk for face in largest.values()]
    if not ids:
        return []
    person_of = {face.pk: truth[photo_id] for photo_id, face in largest.items()}
    expression = embedding_expression(Face.objects.get(pk=ids[0]).model_name)
    pairs: list[tuple[float, bool]] = []
    for face in Face.objects.filter(pk__in=ids):
        others = (
            Face.objects.filter(pk__in=ids, pk__gt=face.pk)
            .annotate(d=CosineDistance(expression, face.embedding))
            .values_list("pk", "d")
        )
        pairs += [(float(d), person_of[face.pk] == person_of[other]) for other, d in others]
    return pairs


def _cuts(pairs: list[tuple[float, bool]]) -> list[float]:
    """Candidate cut-offs: the midpoints between consecutive distances (and one past the last)."""
    distances = sorted({round(d, 4) for d, _ in pairs})
    if not distances:
        return []
    return [
        (low + high) / 2 for low, high in zip(distances, distances[1:] + [distances[-1] + 0.01], strict=True)
    ]


def find_cutoff(pairs: list[tuple[float, bool]], *, precision: float) -> tuple[float, float, float]:
    """The widest cut-off at which at least ``precision`` of the pairs within it are one
    person: (cut-off, its precision, its recall over all same-person pairs)."""
    same_total = sum(same for _, same in pairs)
    best = (0.0, 1.0, 0.0)
    for cut in _cuts(pairs):
        within = [same for d, same in pairs if d <= cut]
        kept = _ratio(sum(within), len(within))
        if kept >= precision:
            best = (round(cut, 4), kept, _ratio(sum(within), same_total))
    return best


def verification_measure(largest: dict[int, Face], truth: dict[int, str]) -> dict:
    """Accuracy of "same person?" at the app's threshold over all pairs, the distances
    behind it, and the find-by-face cut-offs (``FIND_PRECISION``)."""
    threshold = recognition.match_threshold()
    pairs = _pairs(largest, truth)
    correct = sum((d <= threshold) == same for d, same in pairs)
    same = [d for d, is_same in pairs if is_same]
    different = [d for d, is_same in pairs if not is_same]
    # The single threshold that would do best here (the first of the best
    # midpoints), to recalibrate from: not the app's, which is chosen on more
    # than one folder.
    best_accuracy, best_threshold = -1.0, threshold
    for cut in _cuts(pairs):
        accuracy = _ratio(sum((d <= cut) == is_same for d, is_same in pairs), len(pairs))
        if accuracy > best_accuracy:
            best_accuracy, best_threshold = accuracy, cut
    strict = find_cutoff(pairs, precision=FIND_PRECISION)
    loose = find_cutoff(pairs, precision=FIND_LOOSE_PRECISION)
    return {
        "verification_accuracy": _ratio(correct, len(pairs)),
        "pairs": len(pairs),
        "same_person_max_distance": round(max(same), 4) if same else None,
        "different_people_min_distance": round(min(different), 4) if different else None,
        "best_threshold": round(best_threshold, 4),
        "best_threshold_accuracy": best_accuracy if pairs else 1.0,
        "find_cutoff": strict[0],
        "find_cutoff_precision": strict[1],
        "find_cutoff_recall": strict[2],
        "find_cutoff_loose": loose[0],
        "find_cutoff_loose_precision": loose[1],
        "find_cutoff_loose_recall": loose[2],
    }
