"""Who may see what. Every view and media endpoint loads objects through these.

A forbidden object and a missing one look the same (404), so ids reveal nothing.
Private albums are their owner's alone (staff included); members' albums are
visible to every member.
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from tagging.models import Album, Face, Person, Photo


def albums_visible(user) -> QuerySet[Album]:
    if not user.is_authenticated:
        return Album.objects.none()
    return Album.objects.filter(Q(owner=user) | Q(visibility=Album.Visibility.MEMBERS))


def photos_visible(user) -> QuerySet[Photo]:
    if not user.is_authenticated:
        return Photo.objects.none()
    return Photo.objects.filter(Q(album__owner=user) | Q(album__visibility=Album.Visibility.MEMBERS))


def faces_visible(user) -> QuerySet[Face]:
    if not user.is_authenticated:
        return Face.objects.none()
    return Face.objects.filter(
        Q(photo__album__owner=user) | Q(photo__album__visibility=Album.Visibility.MEMBERS)
    )


def _get(queryset, pk):
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404("not found")
    return obj


def album_for_user(user, album_id: int) -> Album:
    return _get(albums_visible(user), album_id)


def album_for_owner(user, album_id: int) -> Album:
    """The album, if ``user`` owns it: only owners upload, rename or delete."""
    return _get(Album.objects.filter(owner=user), album_id)


def photo_for_user(user, photo_id: int) -> Photo:
    return _get(photos_visible(user).select_related("album"), photo_id)


def face_for_user(user, face_id: int) -> Face:
    """A face on a photo ``user`` may see: the only faces a member may tag or view."""
    return _get(faces_visible(user).select_related("photo", "person"), face_id)


def person_for_user(user, person_id: int) -> Person:
    """The directory is shared, but hidden people are for staff only."""
    people = Person.objects.all() if user.is_staff else Person.objects.filter(hidden=False)
    return _get(people, person_id)
