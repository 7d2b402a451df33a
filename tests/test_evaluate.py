"""`manage.py evaluate` on the labelled portraits, through the real pipeline."""

import io
import json
import shutil

import pytest
from django.core.management import call_command
from django.db import connection

from tagging.models import Photo


@pytest.mark.django_db(transaction=True)
def test_evaluate_on_the_portraits_meets_the_targets(faces_dir, tmp_path):
    folder = tmp_path / "people"
    shutil.copytree(faces_dir / "people", folder)
    database = connection.settings_dict["NAME"]
    out = io.StringIO()

    call_command("evaluate", str(folder), "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert report["photos"] == 16
    assert report["photos_without_face"] == 0
    assert report["suggestion_precision"] == 1.0
    assert report["suggestion_recall"] >= 0.9
    assert report["grouping_precision"] == 1.0
    assert report["verification_accuracy"] >= 0.95
    # It worked in a scratch database and left this one as it was.
    assert connection.settings_dict["NAME"] == database
    assert Photo.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_evaluate_review_simulates_a_member_until_nothing_is_left(faces_dir, tmp_path):
    folder = tmp_path / "people"
    shutil.copytree(faces_dir / "people", folder)
    out = io.StringIO()

    call_command("evaluate", str(folder), "--review", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert report["review_faces"] == 16
    assert report["review_final_accuracy"] == 1.0
    assert report["review_wrong_shown"] == 0
    # Five names typed, then at least one confirmation per other face.
    assert 16 <= report["review_actions"] <= 2 * 16
    assert report["review_rounds"] >= 1
    assert Photo.objects.count() == 0


def test_evaluate_detection_on_a_folder_with_marked_faces(tmp_path):
    from tests.conftest import FACES_DIR

    extra = FACES_DIR.parent / "faces-extra"
    folder = tmp_path / "extra"
    folder.mkdir()
    # A group photo, a big camera photo and the photo without a face.
    rows = [line for line in (extra / "faces.csv").read_text().splitlines()]
    keep = [rows[0]] + [
        row for row in rows[1:] if row.split(",")[0] in ("016_8.jpg", "004_A.jpg", "017_0.jpg")
    ]
    (folder / "faces.csv").write_text("\n".join(keep) + "\n")
    for row in keep[1:]:
        shutil.copy(extra / row.split(",")[0], folder)
    out = io.StringIO()

    call_command("evaluate", str(folder), "--json", stdout=out)

    detection = json.loads(out.getvalue())["detection"]
    assert (detection["files"], detection["faces_marked"]) == (3, 9)
    assert detection["true_found"] >= 8
    assert detection["false_positives"] == 0
    assert "017_0.jpg" not in [name for name, _, _ in detection["wrong_counts"]]
