"""The face graphs rebuilt with ef_construction 200 (was 128), m 24 as before.

`benchmark matching --faces 1000000` (runs of 2026-12-03, two builds of each):
recall@10 at ef_search 120 / 160 / 200 went from 0.968 / 0.978-0.979 /
0.985-0.987 to 0.977-0.981 / 0.981-0.983 / 0.985-0.986, at about the same search
time (`--faces 100000 --compare 24,128`: within 2%); the build took 655-790 s
against 407-482 s.

The new graphs are built beside the old ones, which keep serving searches until
the old ones are dropped and the new ones take their names, at the end of the
migration's one transaction; writes to the faces wait for the build. The site's
statement timeout would cut a large build short, so it is lifted for this
transaction, and the build gets the memory its graph needs (about 2.5 kB a face,
up to 1 GB; never less than the server gives). ``tests/test_index_migration.py``
checks that every face stays findable.
"""

import math

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import pgvector.django.indexes
import pgvector.django.vector
from django.db import migrations, models

NO_TIMEOUT = "SET LOCAL statement_timeout = 0"
BUILD_MEMORY_MB_AT_MOST = 1024


def _build_memory(apps, schema_editor):
    """Enough ``maintenance_work_mem`` for the graph of every face, within the cap."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tagging_facevector")
        faces = cursor.fetchone()[0]
        cursor.execute("SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'")
        current_mb = cursor.fetchone()[0] // 2**20
        wanted_mb = min(BUILD_MEMORY_MB_AT_MOST, math.ceil(faces * 2.5 / 1024) + 64)
        if wanted_mb > current_mb:
            cursor.execute(f"SET LOCAL maintenance_work_mem = '{int(wanted_mb)}MB'")


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
        # The build's settings come first either way: these two going forward, the last
        # two going back (unapplying rebuilds the old graphs).
        migrations.RunSQL(NO_TIMEOUT, migrations.RunSQL.noop),
        migrations.RunPython(_build_memory, migrations.RunPython.noop),
        *(
            migrations.AddIndex(model_name="facevector", index=_hnsw(f"{name}_new", column, condition))
            for name, column, condition in (ALL, CONFIRMED)
        ),
        *(migrations.RemoveIndex(model_name="facevector", name=name) for name, _, _ in (ALL, CONFIRMED)),
        *(
            migrations.RenameIndex(model_name="facevector", new_name=name, old_name=f"{name}_new")
            for name, _, _ in (ALL, CONFIRMED)
        ),
        migrations.RunPython(migrations.RunPython.noop, _build_memory),
        migrations.RunSQL(migrations.RunSQL.noop, NO_TIMEOUT),
    ]
