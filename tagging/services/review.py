"""The review grid's actions: yes or no to a person's suggestions, on exactly the faces
the page showed, and nothing that changed since it was shown."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from tagging.models import Face, FaceRejection, Person
from tagging.services import faces as face_actions

CONFIRM, REJECT = "confirm", "reject"


@dataclass
class ReviewOutcome:
    done: list[int] = field(default_factory=list)
    # Face id -> why it was left as it is, in words for the member.
    refused: dict[int, str] = field(default_factory=dict)


def _why_refused(face: Face | None, person: Person) -> str:
    if face is None:
        return "no longer there"
    if face.status == Face.Status.CONFIRMED:
        return f"already tagged as {face.person}"
    if face.status == Face.Status.SUGGESTED and face.person_id != person.pk:
        return f"now suggested as {face.person}" if face.person.name else "now in an unnamed group"
    return f"no longer suggested as {person}"


def faces_review(*, person: Person, face_ids: Iterable[int], action: str, user) -> ReviewOutcome:
    """Confirm (or reject) the suggestion of ``person`` on each of ``face_ids``: the faces
    the grid showed and the member left ticked.

    Only faces ``user`` may see that are still suggested for ``person`` are
    touched (``faces_confirm_bulk`` and ``faces_reject_bulk`` check it again
    under their row locks). A face whose suggestion changed since the page was
    drawn (another person suggested now, or tagged by someone else) is refused,
    with the reason, rather than applied: the member said yes to what they saw.
    """
    ids = list(dict.fromkeys(face_ids))
    visible = Face.objects.visible_to(user)
    eligible = list(
        visible.filter(pk__in=ids, person=person, status=Face.Status.SUGGESTED).values_list("pk", flat=True)
    )
    if action == REJECT:
        face_actions.faces_reject_bulk(person=person, face_ids=eligible, user=user)
        done = FaceRejection.objects.filter(face_id__in=eligible, person=person).values_list(
            "face_id", flat=True
        )
    else:
        face_actions.faces_confirm_bulk(person=person, face_ids=eligible, user=user)
        done = visible.filter(pk__in=eligible, person=person, status=Face.Status.CONFIRMED).values_list(
            "pk", flat=True
        )
    done = set(done)
    outcome = ReviewOutcome(done=[pk for pk in ids if pk in done])
    left = set(ids) - set(outcome.done)
    now = visible.filter(pk__in=left).select_related("person", "photo").in_bulk()
    for pk in ids:
        if pk in left:
            face = now.get(pk)
            where = f"{face.photo.display_name}: " if face is not None else ""
            outcome.refused[pk] = f"{where}{_why_refused(face, person)}; left as it is."
    return outcome
