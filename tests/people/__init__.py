"""Staff curating the people directory: the services in tagging.services.people and the admin.

Where suggestions matter, faces carry real embeddings of the shared photographs
(the ``library`` of tests/test_recognition.py); elsewhere faces have no
embedding, which recognition leaves alone, so the bookkeeping is all that runs.

This package holds the helpers its tests share; conftest.py their fixtures.
"""

from tagging.models import Face

CONFIRMED, SUGGESTED, UNASSIGNED = Face.Status.CONFIRMED, Face.Status.SUGGESTED, Face.Status.UNASSIGNED


def _face(photo, person=None, status=UNASSIGNED, x=0.1) -> Face:
    return Face.objects.create(
        photo=photo, x=x, y=0.1, w=0.05, h=0.05, model_name="Dlib", person=person, status=status
    )


def _faces(photo, person, *statuses) -> list[Face]:
    return [_face(photo, person, status, x=0.01 + 0.06 * i) for i, status in enumerate(statuses)]


def _state(face: Face) -> tuple:
    face.refresh_from_db()
    return face.person_id, face.status
