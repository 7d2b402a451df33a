"""The synthetic library of ``benchmark matching``: people and their faces as Dlib
spreads them, and the figures that shape it."""

from dataclasses import dataclass

import numpy as np

MODEL = "Dlib"
DIMENSIONS = 128
NEIGHBOURS = 10
FACES_PER_PHOTO = 20
# The people tagged so far: a fifth of everyone, mostly the often-photographed.
NAMED_SHARE = 0.2
CONFIRMED_SHARE = 0.5
QUERIES = 500
WARM_UP = 50
NEW_FACES = 1000
NEW_FACES_PER_PHOTO = 4
# Of the new faces, the share that belongs to people the library has never seen.
NEW_PEOPLE_SHARE = 0.15
# Checked against exact SQL: proves the numpy ground truth uses the same ids and distances.
SQL_EXACT_CHECKS = 3
COPY_BATCH = 10_000
EF_SEARCH_SWEEP = (80, 120, 160, 200)


class FaceSpace:
    """Synthetic people whose embeddings are spread like Dlib's.

    Random 128-d directions are about 1.0 apart in cosine distance, while real
    Dlib faces of different people are mostly 0.1-0.3 apart and faces of one
    person 0.02-0.08. So every centre is a step away from one of a few broad
    group directions (which themselves lean on one common direction: faces
    resemble each other), and each face is a small step of varying length from
    its person's centre (sharp and blurred photos).
    """

    GROUPS = 30
    GROUP_STEP = 0.2
    PERSON_STEP = 0.42
    # Median cosine distance from a face to its centre: two faces of one person
    # are about twice this apart.
    FACE_DISTANCE = 0.022

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        common = _unit(rng.standard_normal(DIMENSIONS))
        steps = _unit(rng.standard_normal((self.GROUPS, DIMENSIONS)))
        self.groups = _unit(common + self.GROUP_STEP * steps)
        self.centres = np.empty((0, DIMENSIONS))

    def add_people(self, count: int) -> np.ndarray:
        """Make ``count`` new people; returns their indices."""
        group = self.rng.integers(0, self.GROUPS, count)
        # A little spread in the step, or every pair would sit at the same distance.
        step = self.PERSON_STEP * np.exp(0.1 * self.rng.standard_normal(count))
        directions = _unit(self.rng.standard_normal((count, DIMENSIONS)))
        centres = _unit(self.groups[group] + step[:, None] * directions)
        start = len(self.centres)
        self.centres = np.vstack([self.centres, centres])
        return np.arange(start, start + count)

    def faces(self, people: np.ndarray) -> np.ndarray:
        """One new face of each person in ``people``, as float32 (what pgvector stores)."""
        distance = self.FACE_DISTANCE * np.exp(0.35 * self.rng.standard_normal(len(people)))
        # For a Gaussian step s·g in 128 dimensions, the cosine distance is about 64·s².
        sigma = np.sqrt(distance / (DIMENSIONS / 2))
        noise = self.rng.standard_normal((len(people), DIMENSIONS))
        return _unit(self.centres[people] + sigma[:, None] * noise).astype(np.float32)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _people_sizes(rng: np.random.Generator, faces: int) -> np.ndarray:
    """Faces per person adding up to ``faces``: heavy-tailed like a family library,
    many people seen once or twice, a few seen hundreds of times."""
    sizes = np.minimum(400, 1 + np.floor(2 * rng.pareto(1.2, size=faces))).astype(np.int64)
    totals = np.cumsum(sizes)
    last = int(np.searchsorted(totals, faces))
    sizes = sizes[: last + 1]
    sizes[-1] -= totals[last] - faces
    return sizes


@dataclass
class Library:
    """What was generated, in the order of the face ids (``ids[i]`` holds ``embeddings[i]``)."""

    space: FaceSpace
    ids: np.ndarray
    embeddings: np.ndarray
    person_index: np.ndarray  # the FaceSpace person of each face
    sizes: np.ndarray  # faces per FaceSpace person
    confirmed: np.ndarray  # bool per face
    person_ids: dict[int, int]  # FaceSpace person -> Person id (named people and unnamed groups)
    named: set[int]  # the FaceSpace people with a name


def _query_faces(rng: np.random.Generator, library: Library, count: int) -> tuple[np.ndarray, np.ndarray]:
    """New faces of existing people, each person as likely as their share of the library's faces."""
    people = library.person_index[rng.integers(0, len(library.ids), size=count)]
    return library.space.faces(people), people
