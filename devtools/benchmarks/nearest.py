"""The bare k-NN query the matching benchmark times: nearest faces of a model, no filter.

The site itself never asks this (its searches are filtered by visibility and
status, in ``tagging.selectors``); the benchmark measures the index alone with it.
"""

from collections.abc import Sequence

from django.db.models import QuerySet

from tagging.models import Face
from tagging.vectors import nearest_first


def faces_nearest(*, embedding: Sequence[float], model_name: str, limit: int = 10) -> QuerySet:
    """(id, distance) of the faces of ``model_name`` nearest to ``embedding`` by cosine
    distance, nearest first; at the connection's ``hnsw.ef_search``.

    Ids and distances, as the site's own searches read them: whole model instances
    (every column, the embeddings parsed) cost 2 ms more a query at 100,000 faces,
    which is Python's time, not the index's.
    """
    faces = nearest_first(Face.all_objects.all(), model_name=model_name, to=embedding)
    return faces.values_list("pk", "nearest_distance")[:limit]
