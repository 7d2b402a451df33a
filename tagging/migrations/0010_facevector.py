"""The HNSW graphs move from ``tagging_face`` to ``tagging_facevector``, which a
trigger keeps from ``tagging_face`` (see ``tagging.models_vectors``).

Every embedded face is copied before the graphs are built, so no face is
unfindable at any point after the migration; ``tests/test_index_migration.py``
checks it on a sample.
"""

import django.contrib.postgres.indexes
import django.db.models.deletion
import django.db.models.functions.comparison
import pgvector.django.indexes
import pgvector.django.vector
from django.db import migrations, models

# One function for inserts and updates: the face's row here mirrors its embedding and
# model (and the embedding again while the face is confirmed), or is absent when it
# has no embedding.
KEEP = """
CREATE FUNCTION tagging_face_vector_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.embedding IS NULL THEN
        DELETE FROM tagging_facevector WHERE face_id = NEW.id;
    ELSE
        INSERT INTO tagging_facevector (face_id, model_name, embedding, confirmed_embedding)
        VALUES (
            NEW.id, NEW.model_name, NEW.embedding,
            CASE WHEN NEW.status = 'confirmed' THEN NEW.embedding END
        )
        ON CONFLICT (face_id) DO UPDATE
            SET model_name = EXCLUDED.model_name,
                embedding = EXCLUDED.embedding,
                confirmed_embedding = EXCLUDED.confirmed_embedding;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tagging_face_vector_insert AFTER INSERT ON tagging_face
    FOR EACH ROW WHEN (NEW.embedding IS NOT NULL)
    EXECUTE FUNCTION tagging_face_vector_keep();

-- Only the changes the copy holds: a suggestion or a face joining a group
-- (status 'unassigned' to 'suggested', a new person) touches nothing here.
CREATE TRIGGER tagging_face_vector_update AFTER UPDATE OF embedding, model_name, status ON tagging_face
    FOR EACH ROW WHEN (
        OLD.embedding IS DISTINCT FROM NEW.embedding
        OR OLD.model_name IS DISTINCT FROM NEW.model_name
        OR (OLD.status = 'confirmed') IS DISTINCT FROM (NEW.status = 'confirmed')
    )
    EXECUTE FUNCTION tagging_face_vector_keep();

ALTER TABLE tagging_facevector ADD CONSTRAINT tagging_facevector_face_cascade
    FOREIGN KEY (face_id) REFERENCES tagging_face (id) ON DELETE CASCADE;

INSERT INTO tagging_facevector (face_id, model_name, embedding, confirmed_embedding)
    SELECT id, model_name, embedding, CASE WHEN status = 'confirmed' THEN embedding END
    FROM tagging_face WHERE embedding IS NOT NULL;
"""

UNKEEP = """
DROP TRIGGER tagging_face_vector_update ON tagging_face;
DROP TRIGGER tagging_face_vector_insert ON tagging_face;
DROP FUNCTION tagging_face_vector_keep();
"""


def _hnsw(name: str, column: str, condition: models.Q) -> pgvector.django.indexes.HnswIndex:
    return pgvector.django.indexes.HnswIndex(
        django.contrib.postgres.indexes.OpClass(
            django.db.models.functions.comparison.Cast(
                column, pgvector.django.vector.VectorField(dimensions=128)
            ),
            name="vector_cosine_ops",
        ),
        condition=condition,
        ef_construction=128,
        m=24,
        name=name,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tagging", "0009_face_source_not_a_face"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="face", name="face_embedding_dlib_hnsw"),
        migrations.RemoveIndex(model_name="face", name="face_confirmed_dlib_hnsw"),
        migrations.CreateModel(
            name="FaceVector",
            fields=[
                (
                    "face",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="vector",
                        serialize=False,
                        to="tagging.face",
                    ),
                ),
                ("model_name", models.CharField(max_length=40)),
                ("embedding", pgvector.django.vector.VectorField()),
                ("confirmed_embedding", pgvector.django.vector.VectorField(null=True)),
            ],
        ),
        migrations.RunSQL(KEEP, UNKEEP),
        # Built once over the copied rows: far cheaper than inserting each into a live graph.
        migrations.AddIndex(
            model_name="facevector",
            index=_hnsw("face_embedding_dlib_hnsw", "embedding", models.Q(("model_name", "Dlib"))),
        ),
        migrations.AddIndex(
            model_name="facevector",
            index=_hnsw(
                "face_confirmed_dlib_hnsw",
                "confirmed_embedding",
                models.Q(("confirmed_embedding__isnull", False), ("model_name", "Dlib")),
            ),
        ),
    ]
