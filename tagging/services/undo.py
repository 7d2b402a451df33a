"""Undo: a member takes back a confirm, reject, name, "not a face" or deletion.

The service that owns a change records it, inside the transaction of the
change, through :func:`undoable`::

    with transaction.atomic(), undo.undoable(user=user, kind=Undo.Kind.CONFIRM) as record:
        record.faces(ids)        # before changing them
        ...the change...
        record.message = "Confirmed 3 faces as Anna."

The record is generic over rows: for each face noted, its person, status,
suggestion distance and rejections; for each person those faces belong to (or
the service notes), name, cover and the rest of the row; for each photo noted,
whether it is deleted. It keeps them as they were before the change and as the
change left them. Undoing (:func:`undo_apply`) puts back the first, and is
refused while the rows no longer hold what the change left there in what
members say (a confirmed tag, a name, a "not a face" mark): newer work by
anyone is never overwritten. What the machine changed since (suggestions,
groups) is simply put back.
"""

import contextlib
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tagging import queue
from tagging.models import Face, FaceRejection, Person, PersonClaim, Photo, Undo
from tagging.services import recognition
from tagging.text import plural

FACE_FIELDS = ("person_id", "status", "distance", "updated_at")
PERSON_FIELDS = ("name", "hidden", "cover_face_id", "user_id", "recognition_opt_out", "created_at")
REJECTION_FIELDS = ("id", "face_id", "person_id", "rejected_by_id", "created_at")
# Statuses the machine sets and changes on its own; any other is a member's word.
MACHINE_STATUSES = {Face.Status.UNASSIGNED, Face.Status.SUGGESTED}


class UndoRefused(Exception):
    """Too late, done already, or the rows changed since (``str`` says why); nothing changed."""


def _plain(row: dict) -> dict:
    # Full microseconds: Django's JSON encoder would cut datetimes to milliseconds,
    # and a restored row must equal the row before.
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in row.items()}


def _rows(queryset, fields) -> dict[int, dict]:
    return {row.pop("id"): _plain(row) for row in queryset.values("id", *fields)}


class Recorder:
    """What one action changes; see :func:`undoable`. Without a user it records nothing."""

    def __init__(self, *, user, kind: str):
        self.user, self.kind, self.message = user, kind, ""
        self._faces: dict[int, dict] = {}
        self._unseen: set[int] = set()
        self._people: dict[int, dict] = {}
        self._rejections: dict[int, dict] = {}
        self._created: list[int] = []
        self._photos: dict[int, dict] = {}

    def faces(self, ids, *, seen: bool = True) -> None:
        """Note these faces, their rejections and their people, before changing them.

        Faces the member acts on are ``seen``: undoing needs them still visible to
        the member. Others the action moves (a group's faces the member cannot
        see, say) are noted with ``seen=False``.
        """
        new = [pk for pk in set(ids) if pk not in self._faces]
        if self.user is None or not new:
            return
        if not seen:
            self._unseen.update(new)
        self._faces.update(_rows(Face.objects.filter(pk__in=new), FACE_FIELDS))
        rejections = FaceRejection.objects.filter(face_id__in=new)
        self._rejections.update({row["id"]: _plain(row) for row in rejections.values(*REJECTION_FIELDS)})
        self.people(row["person_id"] for row in self._faces.values())

    def people(self, ids) -> None:
        """Note these people (name, cover, ...) before changing them."""
        new = [pk for pk in set(ids) if pk and pk not in self._people and pk not in self._created]
        if self.user is not None and new:
            self._people.update(_rows(Person.objects.filter(pk__in=new), PERSON_FIELDS))

    def created(self, person: Person) -> None:
        """A person this action made: undoing deletes them again, unless someone else refers to them."""
        if self.user is not None:
            self._created.append(person.pk)

    def photos(self, ids) -> None:
        """Note these photos before deleting them."""
        if self.user is not None:
            self._photos.update(_rows(Photo.all_objects.filter(pk__in=list(ids)), ["deleted_at"]))

    def save(self) -> Undo | None:
        """Write the record with the rows as the action left them; nothing when nothing was noted."""
        if self.user is None or not (self._faces or self._photos):
            return None
        assert connection.in_atomic_block, "record an action inside the transaction of the change"
        faces = _rows(Face.objects.filter(pk__in=list(self._faces)), FACE_FIELDS)
        people = _rows(Person.objects.filter(pk__in=list(self._people)), PERSON_FIELDS)
        photos = _rows(Photo.all_objects.filter(pk__in=list(self._photos)), ["deleted_at"])
        rejections = set(
            FaceRejection.objects.filter(face_id__in=list(self._faces)).values_list("id", flat=True)
        )

        def pairs(before: dict, after: dict) -> list[dict]:
            return [{"id": pk, "before": row, "after": after.get(pk)} for pk, row in sorted(before.items())]

        snapshot = {
            "faces": [{**pair, "seen": pair["id"] not in self._unseen} for pair in pairs(self._faces, faces)],
            "people": pairs(self._people, people),
            "photos": pairs(self._photos, photos),
            "rejections": {
                "removed": [row for pk, row in sorted(self._rejections.items()) if pk not in rejections],
                "added": sorted(rejections - set(self._rejections)),
            },
            "created": self._created,
        }
        return Undo.objects.create(user=self.user, kind=self.kind, message=self.message, snapshot=snapshot)


@contextlib.contextmanager
def undoable(*, user, kind: str):
    """Record the change made inside the block so that ``user`` may undo it.

    Use it inside the change's own transaction: the record is written when the
    block ends without an error, so it exists exactly when the change does.
    With ``user`` None (the admin, commands, simulations) nothing is recorded.
    """
    recorder = Recorder(user=user if user is not None and user.is_authenticated else None, kind=kind)
    yield recorder
    recorder.save()


def undo_period() -> str:
    minutes, seconds = divmod(settings.UNDO_SECONDS, 60)
    return plural(minutes, "minute") if minutes and not seconds else plural(settings.UNDO_SECONDS, "second")


# --- Undoing ------------------------------------------------------------------------


def _said(row: dict | None):
    """What members said of a face (a tag, a "not a face"), or None where only the machine spoke."""
    if row is None or row["status"] in MACHINE_STATUSES:
        return None
    return row["status"], row["person_id"]


def _check(snapshot: dict, faces: dict[int, Face], people: dict[int, Person]) -> None:
    for entry in snapshot["faces"]:
        face = faces.get(entry["id"])
        if face is None:
            raise UndoRefused("a face it changed is gone (its photo was deleted)")
        now = {"status": face.status, "person_id": face.person_id}
        if _said(now) != _said(entry["after"]):
            raise UndoRefused("a face it changed was tagged again meanwhile")
    for entry in snapshot["people"]:
        before, after, person = entry["before"], entry["after"], people.get(entry["id"])
        if person is None:
            if before["name"] or before["user_id"]:
                raise UndoRefused(f"{before['name'] or 'a person'} was deleted or merged meanwhile")
        elif after is not None and before["name"] != after["name"] and person.name != after["name"]:
            raise UndoRefused(f"{person} was renamed meanwhile")


def _people_restore(snapshot: dict, people: dict[int, Person]) -> None:
    """Unnamed groups the machine deleted since come back under their id; elsewhere each field
    the action changed goes back, unless someone changed it again since."""
    existing_faces = set(
        Face.objects.filter(pk__in=[e["before"]["cover_face_id"] for e in snapshot["people"]]).values_list(
            "pk", flat=True
        )
    )
    for entry in snapshot["people"]:
        before, after = dict(entry["before"]), entry["after"]
        if before["cover_face_id"] not in existing_faces:
            before["cover_face_id"] = None
        person = people.get(entry["id"])
        if person is None:
            Person.objects.create(id=entry["id"], **before)
            # auto_now_add set the creation time afresh; the group's own comes back.
            Person.objects.filter(pk=entry["id"]).update(created_at=before["created_at"])
            continue
        now = _plain({field: getattr(person, field) for field in PERSON_FIELDS})
        changed = {
            field: before[field]
            for field in PERSON_FIELDS
            if after is not None and after[field] != entry["before"][field] and now[field] == after[field]
        }
        if changed:
            Person.objects.filter(pk=person.pk).update(**changed)


def _rejections_restore(snapshot: dict) -> None:
    FaceRejection.objects.filter(pk__in=snapshot["rejections"]["added"]).delete()
    removed = snapshot["rejections"]["removed"]
    people = set(Person.objects.filter(pk__in=[r["person_id"] for r in removed]).values_list("pk", flat=True))
    back = [row for row in removed if row["person_id"] in people]
    FaceRejection.objects.bulk_create([FaceRejection(**row) for row in back], ignore_conflicts=True)
    for row in back:  # auto_now_add stamped them afresh
        FaceRejection.objects.filter(pk=row["id"]).update(created_at=row["created_at"])


def _created_remove(snapshot: dict) -> None:
    """People the action made go again, if nothing refers to them now."""
    for pk in snapshot["created"]:
        Person.objects.filter(pk=pk, user__isnull=True).exclude(faces__isnull=False).exclude(
            rejections__isnull=False
        ).exclude(pk__in=PersonClaim.objects.values("person_id")).delete()


def _photos_restore(snapshot: dict) -> None:
    entries = snapshot["photos"]
    photos = {
        p.pk: p for p in Photo.all_objects.select_for_update().filter(pk__in=[e["id"] for e in entries])
    }
    for entry in entries:
        photo = photos.get(entry["id"])
        if photo is None:
            raise UndoRefused("a photo it deleted is gone for good")
        if _plain({"at": photo.deleted_at}) != {"at": entry["after"]["deleted_at"]}:
            raise UndoRefused(f"“{photo.display_name}” was brought back already")
        if Photo.objects.filter(album_id=photo.album_id, content_hash=photo.content_hash).exists():
            raise UndoRefused(f"“{photo.display_name}” was uploaded to its album again meanwhile")
    Photo.all_objects.filter(pk__in=list(photos)).update(deleted_at=None)
    # Workers skip a deleted photo, and one that was processing it dropped its
    # results: photos not settled yet go back to the workers (a run still going
    # on finds its claim gone and writes nothing).
    unsettled = [
        pk for pk, p in photos.items() if p.status in (Photo.Status.PENDING, Photo.Status.PROCESSING)
    ]
    Photo.all_objects.filter(pk__in=unsettled).update(
        status=Photo.Status.PENDING, claimed_by="", status_changed_at=timezone.now()
    )
    transaction.on_commit(lambda: [queue.photo_enqueue(photo_id=pk) for pk in unsettled])


def undo_apply(*, undo: Undo) -> Undo:
    """Put back the rows ``undo`` recorded, as they were before the action.

    Raises :class:`UndoRefused` when it was undone already, is past the undo
    period, or the rows changed since in what members say. The caller checks
    that the member may still see the objects (``access.undo_for_user``).
    """
    with transaction.atomic():
        undo = Undo.objects.select_for_update().get(pk=undo.pk)
        if undo.undone_at is not None:
            raise UndoRefused("this was undone already")
        if not undo.is_open:
            raise UndoRefused(f"too late: an action can be undone for {undo_period()}")
        snapshot = undo.snapshot
        # People before faces, in primary key order, as merges and reassignments lock them.
        person_ids = {e["id"] for e in snapshot["people"]} | set(snapshot["created"])
        people = {
            p.pk: p for p in Person.objects.select_for_update().filter(pk__in=person_ids).order_by("pk")
        }
        face_ids = [e["id"] for e in snapshot["faces"]]
        faces = {f.pk: f for f in Face.objects.select_for_update().filter(pk__in=face_ids).order_by("pk")}
        _check(snapshot, faces, people)
        _people_restore(snapshot, people)
        for entry in snapshot["faces"]:
            Face.objects.filter(pk=entry["id"]).update(**entry["before"])
        _rejections_restore(snapshot)
        _created_remove(snapshot)
        _photos_restore(snapshot)
        undo.undone_at = timezone.now()
        undo.save(update_fields=["undone_at"])
    # Suggestions made on the strength of a tag that is gone again (or back) are re-judged.
    tags = [
        e["id"]
        for e in snapshot["faces"]
        if Face.Status.CONFIRMED in (e["before"]["status"], (e["after"] or {}).get("status"))
    ]
    recognition.faces_refresh_near(faces=Face.objects.filter(pk__in=tags).exclude(embedding=None))
    return undo


def undo_dismiss(*, undo: Undo) -> None:
    Undo.objects.filter(pk=undo.pk).update(dismissed=True)


def expired_purge(*, limit: int = 200) -> int:
    """Delete photos deleted longer ago than the undo period (their files after commit),
    and the undo records past it. Returns how many photos went."""
    cutoff = timezone.now() - timedelta(seconds=settings.UNDO_SECONDS)
    ids = list(
        Photo.all_objects.filter(deleted_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic():
        # Each row's post_delete signal deletes its files once this commits (tagging.signals).
        Photo.all_objects.filter(pk__in=ids, deleted_at__lt=cutoff).delete()
        Undo.objects.filter(created_at__lt=cutoff).delete()
    if ids:
        recognition.unnamed_groups_prune()
    return len(ids)
