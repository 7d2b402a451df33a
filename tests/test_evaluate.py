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
