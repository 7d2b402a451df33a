"""Recognition reads a batch of faces' neighbours in one query, and finds exactly
what the one-face selectors find; its queries do not grow with the faces."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tagging import selectors, vectors
from tagging.models import Album, Face, FaceRejection, Person
from tagging.services import faces as face_actions
from tagging.services import recognition

# Transactional: the library fixture vacuums the face indexes first (see conftest).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["iterative scans", "pgvector 0.6"])
def scans(request, monkeypatch):
    """The embedded server has pgvector 0.8 (iterative index scans); a server
    by URL may have 0.6, where only the wider candidate list keeps filtered
    searches complete. Both paths must find the same."""
    if request.param == "pgvector 0.6":
        monkeypatch.setattr(vectors, "_iterative_scans", lambda alias: False)
    elif not vectors._iterative_scans(connection.alias):
        pytest.skip("this server's pgvector has no iterative index scans")
    return request.param


def _tag_one_portrait_each(library) -> dict[str, Person]:
    people = {}
    for name in sorted(library.faces):
        who = name.split("/")[1] if name.startswith("people/") else None
        if who and who not in people:
            people[who] = Person.objects.create(name=who)
            face_actions.face_tag(face=library.first(name), person=people[who])
    return people


def _open_faces(library) -> list[Face]:
    return list(
        Face.objects.filter(pk__in=library.all_ids())
        .exclude(status=Face.Status.CONFIRMED)
        .select_related("photo__album__owner")
    )


def test_the_batch_finds_the_confirmed_neighbours_each_face_finds_alone(library, scans):
    people = _tag_one_portrait_each(library)
    faces = _open_faces(library)
    # A rejection and a private album: what the one-face query leaves out, the batch must too.
    rejected = faces[0]
    FaceRejection.objects.create(face=rejected, person=next(iter(people.values())))

    found = vectors.confirmed_near_each(faces=faces, model_name="Dlib", limit=10, seen_by=library.owner)

    assert any(found.values())
    for face in faces:
        alone = selectors.faces_confirmed_near(
            embedding=face.embedding,
            model_name="Dlib",
            limit=10,
            seen_by=library.owner,
            exclude_photo_id=face.photo_id,
            exclude_person_ids=FaceRejection.objects.filter(face=face).values_list("person_id", flat=True),
        )
        assert found[face.pk] == alone, face.photo.display_name


def test_faces_the_cheap_search_answers_short_are_asked_again_with_the_wide_one(library, scans, settings):
    _tag_one_portrait_each(library)
    faces = _open_faces(library)
    wide = vectors.confirmed_near_each(faces=faces, model_name="Dlib", limit=10, seen_by=library.owner)
    # A candidate list of 2 leaves every face short of 10 neighbours.
    settings.FACE_BATCH_EF_SEARCH = 2

    with CaptureQueriesContext(connection) as queries:
        found = vectors.confirmed_near_each(faces=faces, model_name="Dlib", limit=10, seen_by=library.owner)

    assert any(len(near) > 2 for near in wide.values())
    assert found == wide
    assert sum("LATERAL" in query["sql"] for query in queries) == 2


def test_a_cheap_batch_search_inside_a_transaction_leaves_its_candidate_list_as_it_was(library):
    faces = _open_faces(library)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW hnsw.ef_search")
        (before,) = cursor.fetchone()
        vectors.near_each(face_ids=[face.pk for face in faces], model_name="Dlib", limit=20)
        cursor.execute("SHOW hnsw.ef_search")
        (after,) = cursor.fetchone()

    assert before == after != "64"


def test_the_batch_finds_no_evidence_in_an_album_its_owner_cannot_see(library, scans, django_user_model):
    _tag_one_portrait_each(library)
    stranger = django_user_model.objects.create_user(username="stranger")
    Album.objects.filter(owner=library.owner).update(visibility=Album.Visibility.PRIVATE)
    faces = _open_faces(library)

    found = vectors.confirmed_near_each(faces=faces, model_name="Dlib", limit=10, seen_by=stranger)

    assert found and not any(found.values())


def test_the_batch_finds_the_grouping_neighbours_each_face_finds_alone(library, scans):
    _tag_one_portrait_each(library)
    recognition.faces_recognize(face_ids=library.all_ids())
    ids = library.all_ids()

    found, embeddings = vectors.near_each(face_ids=ids, model_name="Dlib", limit=20)

    for face in Face.objects.filter(pk__in=ids):
        alone = selectors.faces_near(
            embedding=face.embedding, model_name="Dlib", limit=20, exclude_face_id=face.pk
        )
        assert found[face.pk] == alone
        for neighbour in alone:
            stored = Face.objects.get(pk=neighbour.face_id)
            # Embeddings only of the neighbours a pass may still group (the others are in groups).
            if stored.person_id is None and stored.status == Face.Status.UNASSIGNED:
                assert list(embeddings[neighbour.face_id]) == pytest.approx(list(stored.embedding))
            else:
                assert neighbour.face_id not in embeddings
    assert embeddings, "no ungrouped neighbour at all: the test would show nothing"


def test_recognising_more_faces_costs_no_more_suggestion_queries(library):
    _tag_one_portrait_each(library)
    faces = _open_faces(library)

    with CaptureQueriesContext(connection) as one:
        recognition.suggestions_for(faces=faces[:1])
    with CaptureQueriesContext(connection) as all_of_them:
        recognition.suggestions_for(faces=faces)

    assert len(faces) > 10
    # Besides, at most: the centres' query, and the neighbours of any status of the
    # faces with a suggestion not near a confirmed face (a transaction of four statements).
    assert len(all_of_them) <= len(one) + 1 + 4


def test_a_batch_is_suggested_as_each_face_would_be_alone(library):
    _tag_one_portrait_each(library)
    faces = _open_faces(library)

    together = recognition.suggestions_for(faces=faces)

    assert any(together.values())
    for face in faces:
        assert together[face.pk] == recognition.suggestions_for(faces=[face])[face.pk]
