"""The table the face searches run on. Split from ``tagging.models``, which imports it.

``Face.embedding`` is the one place an embedding is written. ``FaceVector``
holds a copy, with the HNSW graphs, and only the database writes it: a
trigger on ``tagging_face`` (migration 0010) inserts, replaces or deletes a
face's row when its embedding or model changes, or when it becomes confirmed
or stops being so. A deleted face takes its row with it (a cascading key).

Why a second table: PostgreSQL can update a row in place only when no
indexed column changes. Recognition changes every face's ``person`` and
``status`` (both indexed), and while the graphs sat on ``tagging_face`` each
such update inserted the face into both graphs again: 4.5 ms a write at
100,000 faces, most of recognising a photo. Here a face's row changes only
when it is embedded again or a member confirms or unconfirms it.

Searches join this table to ``tagging_face`` for everything else (status,
person, visibility): see ``tagging.vectors``.
"""

from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from tagging.embeddings import embedding_expression

# HNSW graph of the face indexes. pgvector's defaults (m 16, ef_construction
# 64) gave recall@10 0.86 at a million faces with ef_search 40 and 0.93 at 100:
# too few links for that size. A denser graph, built with a wider candidate
# list, finds more per candidate visited (figures in the README; ef_construction
# 200 rather than 128 since migration 0011: at a million faces recall@10
# 0.981-0.983 rather than 0.978-0.979 at ef_search 160, for a build 1.4-1.9x as long).
HNSW_M = 24
HNSW_EF_CONSTRUCTION = 200


class FaceVector(models.Model):
    # The key cascades in the database (migration 0010): Django does nothing on
    # delete, so deleting faces costs no query here.
    face = models.OneToOneField(
        "tagging.Face",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="vector",
    )
    model_name = models.CharField(max_length=40)
    # No fixed dimension: each model has its own size, and faces are only ever
    # compared within one model through a partial index per model (below).
    embedding = VectorField()
    # The same vector while the face is confirmed, else null: the column of the
    # confirmed graph. With a flag instead, the planner could (and at 100,000
    # faces did) answer a confirmed-only search from the graph of all faces,
    # filtering three in four of its candidates away.
    confirmed_embedding = VectorField(null=True)

    class Meta:
        # HNSW_M and HNSW_EF_CONSTRUCTION come from `benchmark matching`.
        indexes = [
            HnswIndex(
                OpClass(embedding_expression("Dlib"), name="vector_cosine_ops"),
                name="face_embedding_dlib_hnsw",
                condition=Q(model_name="Dlib"),
                m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
            ),
            # Suggestions search confirmed faces only. Filtering an index over
            # all faces would starve the approximate search when few are
            # confirmed; a partial index over just those faces cannot starve.
            HnswIndex(
                OpClass(embedding_expression("Dlib", "confirmed_embedding"), name="vector_cosine_ops"),
                name="face_confirmed_dlib_hnsw",
                condition=Q(model_name="Dlib", confirmed_embedding__isnull=False),
                m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
            ),
        ]

    def __str__(self) -> str:
        return f"Vector of face {self.face_id}"
