"""Rebuilding the face indexes by a migration keeps every face findable."""

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tagging.models import HNSW_EF_CONSTRUCTION, HNSW_M, Face

# The migration before the one that rebuilt the indexes; the test then migrates to the latest.
BEFORE = "0005_invitation_workerheartbeat"
FACES = 3000
SAMPLE = 300


def _nearest_by_index(cursor, vector: str, *, confirmed: bool, limit: int) -> list[int]:
    where = "model_name = 'Dlib'" + (" AND status = 'confirmed'" if confirmed else "")
    cursor.execute(
        f"SELECT id FROM tagging_face WHERE {where} "  # noqa: S608 (constant text, no input)
        "ORDER BY embedding::vector(128) <=> %s::vector(128) LIMIT %s",
        [vector, limit],
    )
    return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_the_denser_hnsw_graph_migration_keeps_every_face_findable(member):
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
                "SELECT i.indisvalid, c.reloptions FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s",
                [name],
            )
            valid, options = cursor.fetchone()
            assert valid, name
            assert sorted(options) == sorted([f"m={HNSW_M}", f"ef_construction={HNSW_EF_CONSTRUCTION}"])

        cursor.execute("SET enable_seqscan = off")  # the index, not a scan, must find them
        cursor.execute("SET hnsw.ef_search = 100")
        cursor.execute(
            "EXPLAIN SELECT id FROM tagging_face WHERE model_name = 'Dlib' "
            "ORDER BY embedding::vector(128) <=> %s::vector(128) LIMIT 10",
            ["[" + ",".join(["0.1"] * 128) + "]"],
        )
        assert "face_embedding_dlib_hnsw" in " ".join(row[0] for row in cursor.fetchall())
        for position in sample:
            face_id = ids[position]
            vector = "[" + ",".join(f"{value:.9g}" for value in vectors[position]) + "]"
            # Each face is its own nearest neighbour, and the index's ten
            # nearest are exactly the ten nearest by brute force.
            exact = np.argsort(1 - vectors @ vectors[position], kind="stable")[:10]
            found = _nearest_by_index(cursor, vector, confirmed=False, limit=10)
            assert found[0] == face_id
            assert set(found) == {ids[i] for i in exact}
            if face_id in confirmed:
                found = _nearest_by_index(cursor, vector, confirmed=True, limit=10)
                assert found[0] == face_id
                assert set(found) <= confirmed and len(found) == 10
