"""Measure recognition on a labelled folder: PATH/<person>/<photos>."""

import json
from itertools import combinations
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tagging.benchmarks.scratch import scratch_database
from tagging.embeddings import embedding_expression
from tagging.models import Album, Face, Person, Photo
from tagging.services import faces as face_actions
from tagging.services import pipeline, recognition
from tagging.services.uploads import UploadRejected, photo_upload


class Command(BaseCommand):
    help = (
        "Import PATH/<person>/<photos> through the real pipeline into a scratch database and report "
        "suggestion precision/recall, grouping precision/recall and verification accuracy."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, path: Path, as_json: bool, **options):
        labelled = _labelled_files(path)
        if not labelled:
            raise CommandError(f"{path} holds no PATH/<person>/<photo> files")
        with scratch_database(label="evaluate"):
            report = _evaluate(labelled)
        if as_json:
            self.stdout.write(json.dumps(report))
            return
        r = report
        self.stdout.write(
            f"{r['photos']} photos of {r['people']} people, threshold {r['threshold']}\n"
            f"suggestions:  precision {r['suggestion_precision']:.3f}  recall {r['suggestion_recall']:.3f}"
            f"  ({r['suggestions_correct']} correct of {r['suggestions_made']} made, "
            f"{r['suggestions_scored']} faces)\n"
            f"grouping:     precision {r['grouping_precision']:.3f}  recall {r['grouping_recall']:.3f}"
            f"  ({r['groups']} groups, distance {r['grouping_distance']})\n"
            f"verification: accuracy {r['verification_accuracy']:.3f} over {r['pairs']} pairs; "
            f"same person up to {r['same_person_max_distance']}, different people from "
            f"{r['different_people_min_distance']}; best single threshold here {r['best_threshold']} "
            f"(accuracy {r['best_threshold_accuracy']:.3f})\n"
            f"photos without any face: {r['photos_without_face']}"
        )
        for name in report["photos_without_face_names"]:
            self.stdout.write(f"  no face: {name}")


def _labelled_files(path: Path) -> list[tuple[str, Path]]:
    if not path.is_dir():
        return []
    return [
        (folder.name, file)
        for folder in sorted(p for p in path.iterdir() if p.is_dir())
        for file in sorted(f for f in folder.iterdir() if f.is_file())
    ]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def _evaluate(labelled: list[tuple[str, Path]]) -> dict:
    owner = get_user_model().objects.create_user(username="evaluate")
    album = Album.objects.create(owner=owner, title="evaluate")
    truth: dict[int, str] = {}  # photo id -> person
    order: list[tuple[str, int]] = []
    for person, file in labelled:
        try:
            with file.open("rb") as source:
                photo = photo_upload(
                    album=album, uploader=owner, source=source, name=file.name, enqueue=False
                )
        except UploadRejected:
            # A byte-identical copy (or an unusable file) is one photo for the site too.
            continue
        truth[photo.pk] = person
        order.append((person, photo.pk))
    for photo_id in truth:
        pipeline.photo_process(photo_id=photo_id)
        recognition.photo_recognize(photo_id=photo_id)

    largest: dict[int, Face] = {}
    for face in Face.objects.filter(photo_id__in=truth).order_by("photo_id", "-w", "-h"):
        largest.setdefault(face.photo_id, face)
    without = [p.display_name for p in Photo.objects.filter(pk__in=truth).exclude(pk__in=largest)]

    grouping = _grouping(largest, truth)
    verification = _verification(largest, truth)
    suggestions = _suggestions(largest, truth, order)
    return {
        "photos": len(truth),
        "people": len(set(truth.values())),
        "threshold": recognition.match_threshold(),
        "grouping_distance": recognition.cluster_max_distance(),
        **suggestions,
        **grouping,
        **verification,
        "photos_without_face": len(without),
        "photos_without_face_names": without,
    }


def _grouping(largest: dict[int, Face], truth: dict[int, str]) -> dict:
    """Pairwise precision and recall of the unnamed groups, with nothing confirmed."""
    group = {photo_id: face.person_id for photo_id, face in largest.items()}
    tp = fp = fn = 0
    for a, b in combinations(sorted(largest), 2):
        same_person = truth[a] == truth[b]
        same_group = group[a] is not None and group[a] == group[b]
        tp += same_person and same_group
        fp += same_group and not same_person
        fn += same_person and not same_group
    groups = len({g for g in group.values() if g is not None})
    return {
        "grouping_precision": _ratio(tp, tp + fp),
        "grouping_recall": _ratio(tp, tp + fn),
        "groups": groups,
    }


def _verification(largest: dict[int, Face], truth: dict[int, str]) -> dict:
    """Accuracy of "same person?" at the app's threshold over all pairs, computed in PostgreSQL."""
    threshold = recognition.match_threshold()
    ids = [face.pk for face in largest.values()]
    person_of = {face.pk: truth[photo_id] for photo_id, face in largest.items()}
    expression = embedding_expression(Face.objects.get(pk=ids[0]).model_name) if ids else None
    from pgvector.django import CosineDistance

    pairs: list[tuple[float, bool]] = []
    for face in Face.objects.filter(pk__in=ids):
        others = (
            Face.objects.filter(pk__in=ids, pk__gt=face.pk)
            .annotate(d=CosineDistance(expression, face.embedding))
            .values_list("pk", "d")
        )
        pairs += [(float(d), person_of[face.pk] == person_of[other]) for other, d in others]
    correct = sum((d <= threshold) == same for d, same in pairs)
    same = [d for d, is_same in pairs if is_same]
    different = [d for d, is_same in pairs if not is_same]
    # The single threshold that would do best here (the midpoint of the widest
    # gap among the best), to recalibrate from: not the app's, which is chosen
    # on more than one folder.
    best_accuracy, best_threshold = -1.0, threshold
    candidates = sorted({round(d, 4) for d, _ in pairs})
    for low, high in zip(
        candidates, candidates[1:] + [candidates[-1] + 0.01] if candidates else [], strict=False
    ):
        cut = (low + high) / 2
        accuracy = _ratio(sum((d <= cut) == is_same for d, is_same in pairs), len(pairs))
        if accuracy > best_accuracy:
            best_accuracy, best_threshold = accuracy, cut
    return {
        "verification_accuracy": _ratio(correct, len(pairs)),
        "pairs": len(pairs),
        "same_person_max_distance": round(max(same), 4) if same else None,
        "different_people_min_distance": round(min(different), 4) if different else None,
        "best_threshold": round(best_threshold, 4),
        "best_threshold_accuracy": best_accuracy if pairs else 1.0,
    }


def _suggestions(largest: dict[int, Face], truth: dict[int, str], order: list[tuple[str, int]]) -> dict:
    """Confirm each person's first photo, then score the suggestion on every other largest face."""
    people: dict[str, Person] = {}
    for person, photo_id in order:
        if person in people or photo_id not in largest:
            continue
        people[person] = Person.objects.create(name=person)
        face_actions.face_tag(face=largest[photo_id], person=people[person])
    firsts = {face.photo_id for face in Face.objects.filter(status=Face.Status.CONFIRMED)}
    scored = [face.pk for photo_id, face in largest.items() if photo_id not in firsts]
    recognition.faces_recognize(face_ids=scored)
    made = correct = 0
    for face in Face.objects.filter(pk__in=scored).select_related("person"):
        if face.person is not None and face.person.name:
            made += 1
            correct += face.person.name == truth[face.photo_id]
    return {
        "suggestion_precision": _ratio(correct, made),
        "suggestion_recall": _ratio(correct, len(scored)),
        "suggestions_made": made,
        "suggestions_correct": correct,
        "suggestions_scored": len(scored),
    }
