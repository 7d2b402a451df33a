"""The distances recognition works with: under which two faces are the same person,
and the stricter one under which they may be grouped."""

from django.conf import settings

# Thresholds measured here (``manage.py evaluate``), for embeddings of dlib's own
# face chip (see tagging.faces.engine). Dlib: deepface publishes 0.07 (cosine);
# dlib's documented tolerance, 0.6 Euclidean on its unit-length vectors, is 0.18.
# On shared/faces and the single-person photos of shared/faces-extra (25 photos,
# 8 people, 300 pairs) same-person pairs reach 0.068 and different people start
# at 0.108 (0.119 within shared/faces; with deepface's own alignment the two
# were 0.081 and 0.095). 0.09 sits in that gap, a little nearer the same-person
# side: a suggestion is only shown, never saved without a member.
CALIBRATED_THRESHOLDS = {"Dlib": 0.09}

# Grouping is stricter: a group is named in one go, and one that mixes two
# people is the hardest thing for a member to repair, while two groups of one
# person merge in one action. 0.075 keeps every same-person pair measured above
# within reach (0.068 at most) and stays 0.033 under the nearest different people.
CALIBRATED_GROUPING = {"Dlib": 0.075}

# deepface's published cosine thresholds (deepface 0.0.9x, ``config/threshold.py``),
# for models not calibrated here. Kept as figures rather than asked of deepface, so
# a web process (which matches found faces, see ``tagging.similar``) never imports it.
PUBLISHED_THRESHOLDS = {
    "VGG-Face": 0.68,
    "Facenet": 0.40,
    "Facenet512": 0.30,
    "ArcFace": 0.68,
    "Dlib": 0.07,
    "SFace": 0.593,
    "OpenFace": 0.10,
    "DeepFace": 0.23,
    "DeepID": 0.015,
    "GhostFaceNet": 0.65,
}


def match_threshold(model_name: str | None = None) -> float:
    """Cosine distance under which two faces of ``model_name`` are the same person.

    ``FACE_MATCH_THRESHOLD`` when set; else the calibrated value above; else
    deepface's published threshold for the model and the cosine metric.
    """
    if settings.FACE_MATCH_THRESHOLD is not None:
        return settings.FACE_MATCH_THRESHOLD
    model_name = model_name or settings.FACE_MODEL
    if model_name in CALIBRATED_THRESHOLDS:
        return CALIBRATED_THRESHOLDS[model_name]
    if model_name not in PUBLISHED_THRESHOLDS:
        raise ValueError(f"no match threshold for the face model {model_name!r}: set FACE_MATCH_THRESHOLD")
    return PUBLISHED_THRESHOLDS[model_name]


def cluster_max_distance(model_name: str | None = None) -> float:
    """Cosine distance for grouping unknown faces: stricter than the match threshold,
    since a group is named in one go and a mixed group is the hardest thing to repair."""
    if settings.FACE_CLUSTER_MAX_DISTANCE is not None:
        return settings.FACE_CLUSTER_MAX_DISTANCE
    model_name = model_name or settings.FACE_MODEL
    if model_name in CALIBRATED_GROUPING:
        return CALIBRATED_GROUPING[model_name]
    return match_threshold(model_name) * 0.85
