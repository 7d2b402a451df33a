"""Reads. Every vector query lives here, so the index expression is used consistently."""

from collections.abc import Sequence

from django.db.models import QuerySet
from pgvector.django import CosineDistance

from tagging.embeddings import embedding_expression
from tagging.models import Face


def faces_nearest(*, embedding: Sequence[float], model_name: str, limit: int = 10) -> QuerySet[Face]:
    """Faces of ``model_name`` nearest to ``embedding`` by cosine distance, nearest first.

    Ordered by the distance to ``embedding::vector(N)`` under a ``model_name``
    filter, which is exactly the shape the model's partial HNSW index serves.
    Each face carries ``nearest_distance``. The HNSW search is approximate: it
    returns up to ``hnsw.ef_search`` (40 by default) candidates.
    """
    distance = CosineDistance(embedding_expression(model_name), list(embedding))
    return (
        Face.objects.filter(model_name=model_name, embedding__isnull=False)
        .annotate(nearest_distance=distance)
        .order_by("nearest_distance")[:limit]
    )
