"""The searched copy of each embedding (``FaceVector``) follows its face, written by the
database alone, and only when what it holds changes."""

import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tagging.models import Album, Face, FaceVector, Person, Photo
from tagging.vectors import confirmed_near_each, faces_confirmed_near, faces_near
from tests.plans import forbid_scans_and_sorts


def _vector(seed: int) -> list[float]:
    vector = np.random.default_rng(seed).normal(size=128)
    return (vector / np.linalg.norm(vector)).tolist()


@pytest.fixture
def photo(member) -> Photo:
    album = Album.objects.create(owner=member, title="Vectors")
    return Photo.objects.create(album=album, uploaded_by=member, content_hash="v" * 64, display_name="v.jpg")


def _face(photo, seed: int | None = 1) -> Face:
    embedding = None if seed is None else _vector(seed)
    box = {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}
    return Face.objects.create(photo=photo, **box, model_name="Dlib", embedding=embedding)


def _row_version(face: Face) -> str | None:
    """The row's ``xmin``: it changes exactly when the row is written."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM tagging_facevector WHERE face_id = %s", [face.pk])
        row = cursor.fetchone()
    return row and row[0]


def _rounded(vector) -> list[float] | None:
    return None if vector is None else [round(float(v), 6) for v in vector]


def _copy(face: Face) -> tuple | None:
    """(model, embedding, embedding while confirmed) of the face's searched copy."""
    columns = ("model_name", "embedding", "confirmed_embedding")
    row = FaceVector.objects.filter(face=face).values_list(*columns).first()
    return row and (row[0], _rounded(row[1]), _rounded(row[2]))


def _expected(face: Face) -> tuple:
    face.refresh_from_db()
    embedding = _rounded(face.embedding)
    return (face.model_name, embedding, embedding if face.status == Face.Status.CONFIRMED else None)


@pytest.mark.django_db(transaction=True)
def test_an_embedded_face_has_its_copy_and_a_face_without_one_has_none(photo):
    embedded, bare = _face(photo, 1), _face(photo, None)

    assert _copy(embedded) == _expected(embedded)
    assert _copy(bare) is None

    # A drawn face embedded later by a worker; then re-embedded by another model run.
    Face.objects.filter(pk=bare.pk).update(embedding=_vector(2))
    assert _copy(bare) == _expected(bare)
    bare.embedding = _vector(3)
    bare.save()
    assert _copy(bare) == _expected(bare)


@pytest.mark.django_db(transaction=True)
def test_confirming_and_unconfirming_change_the_copy_and_suggestions_do_not_write_it(photo):
    face = _face(photo)
    anna = Person.objects.create(name="Anna")
    before = _row_version(face)

    # What recognition writes for every face: a suggestion, a group.
    Face.objects.filter(pk=face.pk).update(person=anna, status=Face.Status.SUGGESTED, distance=0.05)
    group = Person.objects.create(name="")
    Face.objects.filter(pk=face.pk).update(person=group, distance=0.06)
    Face.objects.filter(pk=face.pk).unassign()
    face.refresh_from_db()
    face.save()  # an ORM save writes every column, and changes nothing here either

    assert _row_version(face) == before

    Face.objects.filter(pk=face.pk).confirm(anna)
    assert _copy(face) == _expected(face) and _copy(face)[2] is not None
    assert _row_version(face) != before
    Face.objects.filter(pk=face.pk).unassign()
    assert _copy(face) == _expected(face) and _copy(face)[2] is None


@pytest.mark.django_db(transaction=True)
def test_forgetting_an_embedding_or_deleting_the_face_removes_the_copy(photo):
    forgotten, deleted, on_deleted_photo = _face(photo, 1), _face(photo, 2), _face(photo, 3)
    other = Photo.objects.create(album=photo.album, uploaded_by=photo.uploaded_by, content_hash="w" * 64)
    Face.objects.filter(pk=on_deleted_photo.pk).update(photo=other)

    Face.objects.filter(pk=forgotten.pk).forget()
    deleted.delete()
    other.delete()

    assert not FaceVector.objects.exists()
    assert Face.all_objects.filter(pk=forgotten.pk, embedding=None).exists()


@pytest.mark.django_db(transaction=True)
def test_the_searches_find_faces_through_their_copies(photo, member):
    faces = [_face(photo, seed) for seed in range(1, 6)]
    anna = Person.objects.create(name="Anna")
    Face.objects.filter(pk=faces[0].pk).confirm(anna)
    query = _vector(1)

    near = faces_near(embedding=query, model_name="Dlib", limit=3)
    confirmed = faces_confirmed_near(embedding=query, model_name="Dlib", limit=3, seen_by=member)

    assert near[0].face_id == faces[0].pk and near[0].distance == pytest.approx(0, abs=1e-6)
    assert len(near) == 3
    assert [n.face_id for n in confirmed] == [faces[0].pk]
    Face.objects.filter(pk=faces[0].pk).forget()
    assert faces_near(embedding=query, model_name="Dlib", limit=5)[0].face_id != faces[0].pk


@pytest.mark.django_db(transaction=True)
def test_the_batched_suggestion_search_can_only_be_served_by_the_confirmed_graph(photo, member):
    """Ordering by the confirmed copy leaves the planner no way to answer from the graph
    of all faces and filter (what a flag let it do, with three in four candidates lost)."""
    faces = [_face(photo, seed) for seed in range(1, 30)]
    Face.objects.filter(pk__in=[f.pk for f in faces[::3]]).confirm(Person.objects.create(name="Anna"))
    with CaptureQueriesContext(connection) as queries:
        confirmed_near_each(faces=faces[:2], model_name="Dlib", limit=5, seen_by=member)
    # The first search (the faces are all on one photo, which never votes for its own
    # faces, so a second, wider one follows: same query, another candidate list).
    sql = next(q["sql"] for q in queries.captured_queries if "LATERAL" in q["sql"])

    with transaction.atomic(), connection.cursor() as cursor:
        forbid_scans_and_sorts(cursor)
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "face_confirmed_dlib_hnsw" in plan and "face_embedding_dlib_hnsw" not in plan, plan
