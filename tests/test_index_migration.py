"""Migrations that rebuild or move the face indexes keep every face findable."""

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tagging.models import HNSW_EF_CONSTRUCTION, HNSW_M, Face, FaceVector
from tagging.vectors import nearest_first
from tests.plans import forbid_scans_and_sorts

# The migration before the ones that rebuilt the indexes (0006, 0011) and moved them to
# their own table (0010); the test then migrates to the latest.
BEFORE = "0005_invitation_workerheartbeat"
FACES = 3000
SAMPLE = 300


def _nearest_by_index(vector: list[float], *, confirmed: bool, limit: int) -> list[int]:
    """The site's own search (``vectors.nearest_first``), over all faces."""
    faces = nearest_first(Face.all_objects.all(), model_name="Dlib", to=vector, confirmed=confirmed)
    return list(faces.values_list("pk", flat=True)[:limit])


@pytest.mark.django_db(transaction=True)
def test_the_index_migrations_keep_every_face_findable(member):
    call_command("migrate", "tagging", BEFORE, verbosity=0)
    try:
        # The models as they were then: later migrations may have added columns.
        models = MigrationExecutor(connection).loader.project_state(("tagging", BEFORE)).apps
        OldAlbum, OldPhoto, OldPerson, OldFace = (
            models.get_model("tagging", name) for name in ("Album", "Photo", "Person", "Face")
        )
        rng = np.random.default_rng(14)
        # Clustered like faces: people around centres, several faces each.
        centres = rng.standard_normal((FACES // 6, 128))
        vectors = centres[rng.integers(0, len(centres), FACES)] + 0.15 * rng.standard_normal((FACES, 128))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        album = OldAlbum.objects.create(owner_id=member.pk, title="Index")
        photo = OldPhoto.objects.create(
            album=album, uploaded_by_id=member.pk, content_hash="x" * 64, display_name="p"
        )
        person = OldPerson.objects.create(name="Someone")
        OldFace.objects.bulk_create(
            [
                OldFace(
                    photo=photo,
                    x=0.1,
                    y=0.1,
                    w=0.1,
                    h=0.1,
                    embedding=vector.tolist(),
                    model_name="Dlib",
                    person=person if index % 2 else None,
                    status="confirmed" if index % 2 else "unassigned",
                )
                for index, vector in enumerate(vectors)
            ],
            batch_size=1000,
        )
    finally:
        call_command("migrate", "tagging", verbosity=0)

    ids = list(Face.objects.order_by("pk").values_list("pk", flat=True))
    confirmed = set(Face.objects.filter(status=Face.Status.CONFIRMED).values_list("pk", flat=True))
    sample = np.random.default_rng(0).choice(len(ids), SAMPLE, replace=False)
    with connection.cursor() as cursor:
        for name in ("face_embedding_dlib_hnsw", "face_confirmed_dlib_hnsw"):
            cursor.execute(
                "SELECT i.indrelid::regclass::text, i.indisvalid, c.reloptions "
                "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
                [name],
            )
            table, valid, options = cursor.fetchone()
            assert (table, valid) == ("tagging_facevector", True), name
            assert sorted(options) == sorted([f"m={HNSW_M}", f"ef_construction={HNSW_EF_CONSTRUCTION}"])

    # Every embedded face has its searched copy, and only those.
    copies = FaceVector.objects.values_list("face_id", "embedding", "confirmed_embedding")
    assert sorted(face_id for face_id, _, _ in copies) == ids
    position = {face_id: i for i, face_id in enumerate(ids)}
    for face_id, embedding, confirmed_embedding in copies:
        assert np.allclose(embedding, vectors[position[face_id]], atol=1e-6)
        assert (confirmed_embedding is not None) == (face_id in confirmed)

    with transaction.atomic(), connection.cursor() as cursor:
        forbid_scans_and_sorts(cursor)  # the index, not a scan or a sort of every copy, must find them
        cursor.execute("SET LOCAL hnsw.ef_search = 100")
        for confirmed_only, name in ((False, "face_embedding_dlib_hnsw"), (True, "face_confirmed_dlib_hnsw")):
            plan = nearest_first(
                Face.all_objects.all(), model_name="Dlib", to=[0.1] * 128, confirmed=confirmed_only
            )[:10].explain()
            assert name in plan, plan
        for position in sample:
            face_id = ids[position]
            vector = vectors[position].tolist()
            # Each face is its own nearest neighbour, and the index's ten
            # nearest are exactly the ten nearest by brute force.
            exact = np.argsort(1 - vectors @ vectors[position], kind="stable")[:10]
            found = _nearest_by_index(vector, confirmed=False, limit=10)
            assert found[0] == face_id
            assert set(found) == {ids[i] for i in exact}
            if face_id in confirmed:
                found = _nearest_by_index(vector, confirmed=True, limit=10)
                assert found[0] == face_id
                assert set(found) <= confirmed and len(found) == 10
