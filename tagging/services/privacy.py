"""Faces are biometric data: switching recognition off, opting out, forgetting.

Embeddings are what make a face recognisable; crops show it. Opting out deletes
both for every face of the member's person; tags that members confirmed stay
(they are what people said, not what the machine computed).
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tagging.errors import ActionRefused
from tagging.models import Face, Person, PersonClaim, Photo
from tagging.services.albums import photos_reprocess


class PrivacyError(ActionRefused):
    """A claim, link or opt-out that does not apply as things are now (``str`` says why)."""


def person_claim(*, person: Person, user) -> PersonClaim:
    """ "This is me": ask staff to link ``user`` to ``person``. Nothing about the person
    changes before a member of staff approves (``claim_decide``)."""
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        if person.user_id == user.pk:
            raise PrivacyError("your account is already linked to this person")
        if person.user_id is not None:
            raise PrivacyError("this person is already linked to another account")
        if Person.objects.filter(user=user).exists():
            raise PrivacyError("your account is already linked to a person; unlink it first")
        if PersonClaim.objects.filter(user=user, status=PersonClaim.Status.PENDING).exists():
            raise PrivacyError("you already asked; staff will answer that first (or withdraw it)")
        return PersonClaim.objects.create(person=person, user=user)


def claim_withdraw(*, user) -> int:
    """The member takes back their open claim. Returns how many were withdrawn (0 or 1)."""
    return PersonClaim.objects.filter(user=user, status=PersonClaim.Status.PENDING).update(
        status=PersonClaim.Status.WITHDRAWN, decided_at=timezone.now()
    )


def claim_decide(*, claim: PersonClaim, approve: bool, actor) -> PersonClaim:
    """Staff answer a claim: approved links the member to the person, refused links nothing."""
    with transaction.atomic():
        claim = PersonClaim.objects.select_for_update().get(pk=claim.pk)
        if claim.user_id == actor.pk:
            raise PrivacyError("another member of staff must answer your own claim")
        if claim.status != PersonClaim.Status.PENDING:
            raise PrivacyError(f"this claim was {claim.get_status_display().lower()} already")
        if approve:
            person_link(person=claim.person, user=claim.user, actor=actor)
        claim.status = PersonClaim.Status.APPROVED if approve else PersonClaim.Status.REFUSED
        claim.decided_at, claim.decided_by = timezone.now(), actor
        claim.save(update_fields=["status", "decided_at", "decided_by"])
    return claim


def person_link(*, person: Person, user, actor) -> Person:
    """Staff link a member to their person (directly, or by approving a claim)."""
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        if person.user_id not in (None, user.pk):
            raise PrivacyError(f"{person} is already linked to another account")
        if Person.objects.filter(user=user).exclude(pk=person.pk).exists():
            raise PrivacyError(f"{user} is already linked to another person")
        person.user = user
        person.save(update_fields=["user"])
        # Other open claims on either side are answered by this link.
        PersonClaim.objects.filter(
            Q(person=person) | Q(user=user), status=PersonClaim.Status.PENDING
        ).exclude(person=person, user=user).update(
            status=PersonClaim.Status.REFUSED, decided_at=timezone.now(), decided_by=actor
        )
        LogEntry.objects.log_actions(
            user_id=actor.pk, queryset=[person], action_flag=CHANGE, change_message=f"Linked to {user}"
        )
    return person


def person_unlink(*, user) -> Person:
    """The member withdraws the link to their person. An opt-out stays with the person:
    it is the member's word about their face, whoever is linked later."""
    with transaction.atomic():
        person = _linked_person(user)
        person.user = None
        person.save(update_fields=["user"])
    return person


def _linked_person(user) -> Person:
    """The member's own person, locked; callers hold a transaction."""
    person = Person.objects.select_for_update().filter(user=user).first()
    if person is None:
        raise PrivacyError("link your account to your person first (“This is me” on your person page)")
    return person


def person_opt_out(*, user) -> int:
    """The member's face is never suggested or matched again: embeddings and crops of every
    face of their person are deleted. Returns how many of those faces the member may see
    (a count of the others would tell of photos they cannot see)."""
    with transaction.atomic():
        person = _linked_person(user)
        person.recognition_opt_out = True
        person.save(update_fields=["recognition_opt_out"])
        faces = Face.objects.filter(person=person)
        seen = faces.visible_to(user).count()
        faces.select_for_update().forget()
        Person.objects.filter(pk=person.pk).update(cover_face=None)
    return seen


def person_opt_in(*, user) -> int:
    """Undo an opt-out: the photos with the member's tags are processed again, which
    brings back their embeddings and crops (tags are kept: faces are matched by place).
    Returns how many of those photos the member may see."""
    with transaction.atomic():
        person = _linked_person(user)
        person.recognition_opt_out = False
        person.save(update_fields=["recognition_opt_out"])
    photos = Photo.objects.filter(pk__in=Face.objects.filter(person=person).values("photo_id"))
    photos_reprocess(photos=photos)
    return photos.visible_to(user).count()


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
            Face.objects.filter(person=person).select_for_update().forget()
        # Albums cascade to photos and faces; photos in others' albums go too.
        Photo.objects.filter(uploaded_by=user).delete()
        user.delete()
