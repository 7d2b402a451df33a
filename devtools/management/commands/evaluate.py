"""Measure recognition on a labelled folder (PATH/<person>/<photos>) and detection on a
folder with a faces.csv."""

import json
from itertools import combinations
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from devtools.benchmarks.scratch import scratch_database
from tagging import selectors
from tagging.embeddings import embedding_expression
from tagging.models import Album, Face, Person, Photo
from tagging.services import faces as face_actions
from tagging.services import pipeline, recognition
from tagging.services.uploads import UploadRejected, photo_upload

# Rounds of the simulated review before it gives up (each round opens every
# person's review once).
REVIEW_MAX_ROUNDS = 10


class Command(BaseCommand):
    help = (
        "Import PATH/<person>/<photos> through the real pipeline into a scratch database and report "
        "suggestion precision/recall, grouping precision/recall and verification accuracy."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument(
            "--review",
            action="store_true",
            help="also simulate a member naming and reviewing everyone through the site's services",
        )

    def handle(self, *args, path: Path, as_json: bool, review: bool, **options):
        listing = path / "faces.csv"
        # A folder with a faces.csv lists its files' faces (shared/faces-extra):
        # its subfolders, if any, are not people.
        labelled = [] if listing.is_file() else _labelled_files(path)
        if not labelled and not listing.is_file():
            raise CommandError(f"{path} holds no PATH/<person>/<photo> files and no faces.csv")
        report: dict = {}
        if labelled:
            with scratch_database(label="evaluate"):
                report.update(_evaluate(labelled))
            if review:
                with scratch_database(label="evaluate-review"):
                    report.update(review_simulate(labelled))
        if listing.is_file():
            report["detection"] = detection_evaluate(path, listing)
        if as_json:
            self.stdout.write(json.dumps(report))
            return
        if labelled:
            self._write_labelled(report)
        if "review_faces" in report:
            r = report
            self.stdout.write(
                f"review: {r['review_faces']} faces, {r['review_actions']} actions in {r['review_rounds']} "
                f"rounds, {r['review_wrong_shown']} wrong suggestions shown, final accuracy "
                f"{r['review_final_accuracy']:.3f} "
                f"({r['review_left_untagged']} faces tagged by hand at the end)"
            )
        if "detection" in report:
            d = report["detection"]
            line = (
                f"detection: {d['faces_found']} faces found, {d['faces_expected']} expected; "
                f"{d['counts_right']} of {d['files']} files with the expected count"
            )
            if d.get("true_found") is not None:
                line += (
                    f"; {d['true_found']} of {d['faces_marked']} marked faces found, "
                    f"{d['false_positives']} false positives"
                )
            self.stdout.write(line)
            for name, found, expected in d["wrong_counts"]:
                self.stdout.write(f"  {name}: {found} faces, {expected} expected")

    def _write_labelled(self, report: dict) -> None:
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


def _import(labelled: list[tuple[str, Path]]):
    """Upload, process and recognise every file as the workers would; returns the
    owner, photo id -> person, and (person, photo id) in folder order."""
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
    return owner, truth, order


def _largest(truth: dict[int, str]) -> dict[int, Face]:
    """The largest face of each photo: the labelled person's."""
    largest: dict[int, Face] = {}
    for face in Face.objects.filter(photo_id__in=truth).order_by("photo_id", "-w", "-h"):
        largest.setdefault(face.photo_id, face)
    return largest


def _evaluate(labelled: list[tuple[str, Path]]) -> dict:
    _, truth, order = _import(labelled)
    largest = _largest(truth)
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


def review_simulate(labelled: list[tuple[str, Path]]) -> dict:
    """A member tags everyone through the services the pages use, from a fresh import.

    The largest face of each photo is its folder's person; other faces on a
    photo are someone else (a suggestion of the folder's person for them is
    wrong). The member names the first photo of each person on its photo page
    (rejecting a wrong suggestion there first), then opens each person's review
    grid (``person_review_faces``), confirms the right faces and rejects the
    wrong ones in bulk, round after round until no grid shows anything. Faces
    never suggested are tagged by hand at the end, one name typed each.
    """
    owner, truth, order = _import(labelled)
    largest = _largest(truth)
    right_person = {face.pk: truth[photo_id] for photo_id, face in largest.items()}
    people: dict[str, Person] = {}
    actions = wrong_shown = 0

    def name_on_photo(face: Face, name: str) -> int:
        face.refresh_from_db()
        done = 0
        if face.status == Face.Status.CONFIRMED and face.person_id == people.get(name, Person()).pk:
            return 0
        if face.status == Face.Status.SUGGESTED and face.person.name == name:
            face_actions.face_confirm(face=face)
            return 1
        if face.status == Face.Status.SUGGESTED and face.person.name:
            face_actions.face_reject(face=face, user=owner)
            done += 1
            face.refresh_from_db()
        if name in people:
            face_actions.face_tag(face=face, person=people[name])
        else:
            face = face_actions.face_tag_new_person(face=face, name=name)
            people[name] = face.person
        return done + 1

    for person, photo_id in order:
        if person in people or photo_id not in largest:
            continue
        actions += name_on_photo(largest[photo_id], person)

    rounds = 0
    while rounds < REVIEW_MAX_ROUNDS:
        shown_any = False
        for name, person in people.items():
            grid = list(selectors.person_review_faces(user=owner, person=person))
            if not grid:
                continue
            shown_any = True
            right = [face.pk for face in grid if right_person.get(face.pk) == name]
            wrong = [face.pk for face in grid if right_person.get(face.pk) != name]
            wrong_shown += len(wrong)
            if right:
                actions += face_actions.faces_confirm_bulk(person=person, face_ids=right)
            if wrong:
                actions += face_actions.faces_reject_bulk(person=person, face_ids=wrong, user=owner)
        if not shown_any:
            break
        rounds += 1

    left = 0
    for face_id, name in right_person.items():
        face = Face.objects.select_related("person").get(pk=face_id)
        if face.status == Face.Status.CONFIRMED and face.person.name == name:
            continue
        left += 1
        actions += name_on_photo(face, name)

    correct = sum(
        1
        for face in Face.objects.filter(pk__in=right_person, status=Face.Status.CONFIRMED).select_related(
            "person"
        )
        if face.person.name == right_person[face.pk]
    )
    return {
        "review_faces": len(right_person),
        "review_actions": actions,
        "review_wrong_shown": wrong_shown,
        "review_rounds": rounds,
        "review_left_untagged": left,
        "review_final_accuracy": _ratio(correct, len(right_person)),
    }


def detection_evaluate(path: Path, listing: Path) -> dict:
    """Faces found in the files of ``faces.csv`` (columns ``file``, ``faces`` and, where
    faces are marked, ``noses``: one ``x:y`` pixel point per face). A box holding a
    nose point is a real face; one holding none is a false positive."""
    import csv

    from tagging.management.commands.detect import file_detect

    with listing.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    marked = bool(rows) and "noses" in rows[0]
    found_total = expected_total = right = true_found = false_positives = marked_total = 0
    wrong_counts = []
    false_boxes = []
    for row in rows:
        report = file_detect(path / row["file"])
        faces = report.get("faces", [])
        expected = int(row["faces"])
        found_total += len(faces)
        expected_total += expected
        if len(faces) == expected:
            right += 1
        else:
            wrong_counts.append((row["file"], len(faces), expected))
        if not marked:
            continue
        noses = [tuple(float(v) for v in point.split(":")) for point in row["noses"].split()]
        marked_total += len(noses)
        hit: set[int] = set()
        for face in faces:
            inside = [
                index
                for index, (x, y) in enumerate(noses)
                if face["x"] <= x <= face["x"] + face["w"] and face["y"] <= y <= face["y"] + face["h"]
            ]
            if inside:
                hit.update(inside)
            else:
                false_positives += 1
                false_boxes.append((row["file"], face["x"], face["y"], face["w"], face["h"], face["score"]))
        true_found += len(hit)
    return {
        "files": len(rows),
        "faces_expected": expected_total,
        "faces_found": found_total,
        "counts_right": right,
        "wrong_counts": wrong_counts,
        "faces_marked": marked_total if marked else None,
        "true_found": true_found if marked else None,
        "false_positives": false_positives if marked else None,
        "false_boxes": false_boxes,
    }
