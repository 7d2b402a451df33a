"""Faces with embeddings placed by hand, so that the distances a test relies on are exact."""

import hashlib

import numpy as np

from tagging.models import Album, Face, Photo


def faces_at(member, degrees: list[float]) -> list[Face]:
    """Faces on photos of their own whose embeddings lie on one circle, at these angles:
    cosine distance 1 - cos(angle between them), so the geometry is exact."""
    return faces_along(member, [towards(angle, (1.0, 0.0)) for angle in degrees])


def towards(degrees: float, direction: tuple[float, ...]) -> np.ndarray:
    """The unit vector ``degrees`` away from the first axis, towards ``direction``
    (a unit vector in the next axes): cosine distance to the first axis 1 - cos(degrees)."""
    vector = np.zeros(128)
    vector[0] = np.cos(np.radians(degrees))
    vector[1 : 1 + len(direction)] = np.sin(np.radians(degrees)) * np.asarray(direction)
    return vector


def faces_along(member, embeddings: list[np.ndarray]) -> list[Face]:
    """Faces on photos of their own with these embeddings."""
    album = Album.objects.create(owner=member, title=f"Circle {Album.objects.count()}")
    faces = []
    for index, vector in enumerate(embeddings):
        photo = Photo.objects.create(
            album=album,
            uploaded_by=member,
            display_name=f"{index}.jpg",
            status=Photo.Status.DONE,
            content_hash=hashlib.sha256(f"{album.title} {index}".encode()).hexdigest(),
            width=100,
            height=100,
        )
        faces.append(
            Face.objects.create(
                photo=photo, x=0.1, y=0.1, w=0.5, h=0.5, embedding=vector.tolist(), model_name="Dlib"
            )
        )
    return faces
