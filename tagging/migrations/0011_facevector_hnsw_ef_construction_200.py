"""The face graphs rebuilt with ef_construction 200 (was 128), m 24 as before.

`benchmark matching --faces 1000000` (three runs of 2026-12-03): recall@10 at
ef_search 120 / 160 / 200 went from 0.968 / 0.978-0.979 / 0.985-0.987 to
0.981 / 0.983 / 0.986, at about the same search time; the build took 790 s
against 407-482 s.

The new graphs are built beside the old ones, which keep serving searches until
the old ones are dropped and the new ones take their names, at the end of the
migration's one transaction; writes to the faces wait for the build. The site's
statement timeout would cut a large build short, so it is lifted for this
transaction. ``tests/test_index_migration.py`` checks that every face stays findable.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import pgvector.django.indexes
import pgvector.django.vector
from django.db import migrations, models

NO_TIMEOUT = "SET LOCAL statement_timeout = 0"


def _hnsw(name: str, column: str, condition: models.Q) -> pgvector.django.indexes.HnswIndex:
    return pgvector.django.indexes.HnswIndex(
        django.contrib.postgres.indexes.OpClass(
            django.db.models.functions.comparison.Cast(
                column, pgvector.django.vector.VectorField(dimensions=128)
            ),
            name="vector_cosine_ops",
        ),
        condition=condition,
        ef_construction=200,
        m=24,
        name=name,
    )


ALL = ("face_embedding_dlib_hnsw", "embedding", models.Q(("model_name", "Dlib")))
CONFIRMED = (
    "face_confirmed_dlib_hnsw",
    "confirmed_embedding",
    models.Q(("confirmed_embedding__isnull", False), ("model_name", "Dlib")),
)


class Migration(migrations.Migration):
    dependencies = [
        ("tagging", "0010_facevector"),
    ]

    operations = [
        migrations.RunSQL(NO_TIMEOUT, NO_TIMEOUT),
        *(
            migrations.AddIndex(model_name="facevector", index=_hnsw(f"{name}_new", column, condition))
            for name, column, condition in (ALL, CONFIRMED)
        ),
        *(migrations.RemoveIndex(model_name="facevector", name=name) for name, _, _ in (ALL, CONFIRMED)),
        *(
            migrations.RenameIndex(model_name="facevector", new_name=name, old_name=f"{name}_new")
            for name, _, _ in (ALL, CONFIRMED)
        ),
    ]
