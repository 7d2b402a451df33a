"""The distances recognition works with, for the calibrated model and the others."""

import pytest
from deepface.modules.verification import find_threshold

from tagging.services import thresholds


def test_the_thresholds_for_uncalibrated_models_are_deepfaces_published_ones():
    published = thresholds.PUBLISHED_THRESHOLDS

    assert {model: find_threshold(model, "cosine") for model in published} == published


def test_an_uncalibrated_model_matches_at_its_published_threshold_and_groups_stricter(settings):
    settings.FACE_MATCH_THRESHOLD = settings.FACE_CLUSTER_MAX_DISTANCE = None

    assert thresholds.match_threshold("Facenet512") == 0.30
    assert thresholds.cluster_max_distance("Facenet512") < 0.30
    assert thresholds.match_threshold("Dlib") == thresholds.CALIBRATED_THRESHOLDS["Dlib"]


def test_a_model_with_no_known_threshold_is_refused_by_name(settings):
    settings.FACE_MATCH_THRESHOLD = None

    with pytest.raises(ValueError, match="'NoSuchNet'.*FACE_MATCH_THRESHOLD"):
        thresholds.match_threshold("NoSuchNet")
