"""The bare k-NN query the matching benchmark times: nearest faces of a model, no filter.

The site itself never asks this (its searches are filtered by visibility and
status, in ``tagging.selectors``); the benchmark measures the index alone with it.
"""

from collections.abc import Sequence

from django.db.models import QuerySet
from pgvector.django import CosineDistance

from tagging.embeddings import embedding_expression
from tagging.models import Face


def faces_nearest(*, embedding: Sequence[float], model_name: str, limit: int = 10) -> QuerySet[Face]:
    """Faces of ``model_name`` nearest to ``embedding`` by cosine distance, nearest first,
    each with ``nearest_distance``; at the connection's ``hnsw.ef_search``."""
    distance = CosineDistance(embedding_expression(model_name), list(embedding))
    return (
        Face.objects.filter(model_name=model_name, embedding__isnull=False)
        .annotate(nearest_distance=distance)
        .order_by("nearest_distance")[:limit]
    )
