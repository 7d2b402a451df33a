"""Helpers of the undo tests: the rows an undo may touch, and undoing through the page."""

from django.urls import reverse

from tagging.models import Face, FaceRejection, Person, Photo, Undo
from tests.pages import _face, _photo


def _suggested(trip, person, *, distance=0.05, x=0.1) -> Face:
    face = _face(_photo(trip), person=person, status=Face.Status.SUGGESTED, x=x)
    Face.objects.filter(pk=face.pk).update(distance=distance)
    return Face.objects.get(pk=face.pk)


def _rows(*, derived: bool = True) -> dict:
    """Every row an undo may touch, all their fields (embeddings aside: these faces have none).

    Without ``derived``, a face's crop file is left out: "not a face" deletes it,
    and undoing it has a worker cut the box again (tested with a real one below)."""
    skipped = {"embedding"} | (set() if derived else {"crop"})
    face_fields = [f.attname for f in Face._meta.concrete_fields if f.name not in skipped]
    return {
        "faces": sorted(Face.all_objects.values_list(*face_fields)),
        "rejections": sorted(FaceRejection.objects.values_list()),
        "people": sorted(Person.objects.values_list()),
        "photos": sorted(Photo.all_objects.values_list()),
    }


def _undo(client, undo: Undo, **kwargs):
    return client.post(reverse("undo", args=[undo.pk]), {"next": "/people/"}, **kwargs)


def _latest() -> Undo:
    return Undo.objects.latest("created_at")


def _undone_exactly(client, before: dict, *, kind: str, derived: bool = True) -> None:
    undo = _latest()
    assert undo.kind == kind
    assert _rows(derived=derived) != before  # the action changed something
    response = _undo(client, undo, follow=True)
    assert response.status_code == 200
    assert f"Undone: {undo.message}" in response.content.decode()
    assert _rows(derived=derived) == before
