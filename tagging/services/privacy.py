"""Faces are biometric data: switching recognition off, opting out, forgetting.

Embeddings are what make a face recognisable; crops show it. Opting out deletes
both for every face of the member's person; tags that members confirmed stay
(they are what people said, not what the machine computed).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tagging.models import Face, Person, Photo
from tagging.services.albums import photos_reprocess
from tagging.signals import files_delete_on_commit


class PrivacyError(Exception):
    pass


def person_link_user(*, person: Person, user) -> Person:
    """ "This is me": link a member's account to their person, once."""
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        if person.user_id not in (None, user.pk):
            raise PrivacyError("this person is already linked to another account")
        if Person.objects.filter(user=user).exclude(pk=person.pk).exists():
            raise PrivacyError("your account is already linked to another person")
        person.user = user
        person.save(update_fields=["user"])
    return person


def faces_forget(faces) -> int:
    """Delete embeddings and crops of ``faces`` (confirmed and suggested alike: a machine
    suggestion is likely the same face); the suggestions themselves are withdrawn."""
    ids = list(faces.select_for_update().values_list("pk", flat=True))
    chosen = Face.objects.filter(pk__in=ids)
    files_delete_on_commit(list(chosen.exclude(crop="").values_list("crop", flat=True)))
    chosen.filter(status=Face.Status.SUGGESTED).update(
        person=None, status=Face.Status.UNASSIGNED, distance=None
    )
    return chosen.update(embedding=None, crop="")


def _linked_person(user) -> Person:
    """The member's own person, locked; callers hold a transaction."""
    person = Person.objects.select_for_update().filter(user=user).first()
    if person is None:
        raise PrivacyError("link your account to your person first (“This is me” on your person page)")
    return person


def recognition_opt_out(*, user) -> int:
    """The member's face is never suggested or matched again; returns how many faces were forgotten."""
    with transaction.atomic():
        person = _linked_person(user)
        person.recognition_opt_out = True
        person.save(update_fields=["recognition_opt_out"])
        forgotten = faces_forget(Face.objects.filter(person=person))
        Person.objects.filter(pk=person.pk).update(cover_face=None)
    return forgotten


def recognition_opt_in(*, user) -> int:
    """Undo an opt-out: the photos with the member's tags are processed again, which
    brings back their embeddings and crops (tags are kept: faces are matched by place)."""
    with transaction.atomic():
        person = _linked_person(user)
        person.recognition_opt_out = False
        person.save(update_fields=["recognition_opt_out"])
    photos = Photo.objects.filter(pk__in=Face.objects.filter(person=person).values("photo_id"))
    sent, _ = photos_reprocess(photos=photos)
    return sent


def embeddings_delete_all() -> int:
    """Forget every embedding on the site (recognition switched off for good)."""
    with transaction.atomic():
        return Face.objects.filter(embedding__isnull=False).update(embedding=None)


def embeddings_expire(*, now=None) -> int:
    """Enforce ``FACE_UNCONFIRMED_RETENTION_DAYS``: embeddings of faces nobody confirmed are
    deleted after that long. Confirmed faces keep theirs: they are what suggestions learn from."""
    days = settings.FACE_UNCONFIRMED_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        return (
            Face.objects.filter(Q(status=Face.Status.UNASSIGNED) | Q(status=Face.Status.SUGGESTED))
            .filter(created_at__lt=cutoff, embedding__isnull=False)
            .update(embedding=None)
        )


def account_delete(*, user) -> None:
    """Delete a member and everything they uploaded: albums, photos, faces, embeddings,
    crops and files (files after commit, see tagging.signals)."""
    with transaction.atomic():
        person = Person.objects.filter(user=user).first()
        if person is not None:
            faces_forget(Face.objects.filter(person=person))
        # Albums cascade to photos and faces; photos in others' albums go too.
        Photo.objects.filter(uploaded_by=user).delete()
        user.delete()
