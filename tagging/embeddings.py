"""Which deepface model gives embeddings of which size, and how to query them.

Faces of all models share one ``vector`` column with no fixed dimension; pgvector
indexes such a column per model with a partial expression index that casts to
the model's dimension. Queries must use the very same expression (and filter on
the model) for PostgreSQL to pick the index, so both come from here.
"""

from django.db.models.functions import Cast
from pgvector.django import VectorField

# Output sizes of deepface's recognition models.
MODEL_DIMENSIONS = {
    "Dlib": 128,
    "Facenet": 128,
    "Facenet512": 512,
    "ArcFace": 512,
    "SFace": 128,
    "OpenFace": 128,
    "DeepFace": 4096,
    "DeepID": 160,
    "GhostFaceNet": 512,
    "VGG-Face": 4096,
    "Buffalo_L": 512,
}


def model_dimensions(model_name: str) -> int:
    try:
        return MODEL_DIMENSIONS[model_name]
    except KeyError:
        raise ValueError(f"unknown face model {model_name!r}; known: {', '.join(MODEL_DIMENSIONS)}") from None


def embedding_expression(model_name: str, field: str = "embedding") -> Cast:
    """``embedding::vector(N)`` for the model: the expression its HNSW index is built on
    (``field`` names the column from another model: ``vector__embedding`` from a face)."""
    return Cast(field, VectorField(dimensions=model_dimensions(model_name)))
