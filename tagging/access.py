"""Get one object for a user, or 404: thin helpers over the ``visible_to`` querysets.

The rule itself lives in ``tagging.models`` (``Album.objects.visible_to`` and
the same for photos, faces and people). A forbidden object and a missing one
look the same (404), so ids reveal nothing.
"""

from django.http import Http404

from tagging.models import Album, Face, Person, Photo, Undo


def _get(queryset, pk):
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404("not found")
    return obj


def album_for_user(user, album_id: int) -> Album:
    return _get(Album.objects.visible_to(user), album_id)


def albums_owned_by(user):
    """The albums ``user`` owns: where they may upload, move or delete photos."""
    if not user.is_authenticated:
        return Album.objects.none()
    return Album.objects.filter(owner=user)


def album_for_owner(user, album_id: int) -> Album:
    """The album, if ``user`` owns it: only owners upload, rename or delete."""
    if not user.is_authenticated:
        raise Http404("not found")
    return _get(albums_owned_by(user), album_id)


def photo_for_user(user, photo_id: int) -> Photo:
    return _get(Photo.objects.visible_to(user).select_related("album"), photo_id)


def face_for_user(user, face_id: int) -> Face:
    """A face on a photo ``user`` may see: the only faces a member may tag or view."""
    return _get(Face.objects.visible_to(user).select_related("photo__album", "person"), face_id)


def person_for_user(user, person_id: int) -> Person:
    """A person ``user`` may know of (see ``PersonQuerySet.visible_to``)."""
    return _get(Person.objects.visible_to(user), person_id)


def undo_for_user(user, undo_id: int) -> Undo:
    """``user``'s own undo, while they may still see what it changed: its faces on
    photos they may see, its photos in albums they own. Anyone else's undo, or one
    about objects now out of their sight, is missing."""
    if not user.is_authenticated:
        raise Http404("not found")
    undo = _get(Undo.objects.filter(user=user), undo_id)
    faces = Face.objects.filter(pk__in=undo.face_ids())
    if faces.exclude(pk__in=Face.objects.visible_to(user).values("pk")).exists():
        raise Http404("not found")
    # Deleted photos are visible to nobody: their owner's album is what counts.
    if Photo.all_objects.filter(pk__in=undo.photo_ids()).exclude(album__in=albums_owned_by(user)).exists():
        raise Http404("not found")
    return undo
