""" "This is me" is a claim staff approve; nothing is linked before."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from tagging.models import Face, Person, PersonClaim
from tagging.services import privacy
from tests.access import (
    _album,
    _bare_face,
    _bare_photo,
    _client,
)

pytestmark = pytest.mark.django_db


# --- "This is me" is a claim staff approve ------------------------------------------


@pytest.fixture
def claimable(member, bob):
    """Bob, in a photo of Alice's shared album, and one more in her private album."""
    bob_person = Person.objects.create(name="Bob Smith")
    shared = _bare_face(
        _bare_photo(_album(member, "Party", shared=True), "party.jpg"), bob_person, "confirmed"
    )
    private = _bare_face(_bare_photo(_album(member, "Diary"), "diary.jpg"), bob_person, "confirmed")
    return bob_person, shared, private


def test_this_is_me_changes_nothing_until_staff_approve(claimable, bob, staff):
    person, shared, private = claimable
    response = _client(bob).post(reverse("person_this_is_me", args=[person.pk]), follow=True)

    person.refresh_from_db()
    assert person.user is None
    assert "Asked staff to confirm" in response.content.decode()
    assert "Staff check that before anything changes" in _client(bob).get(reverse("account")).content.decode()
    # Bob cannot opt out of anything yet.
    _client(bob).post(reverse("opt_out"))
    assert Face.objects.filter(pk__in=[shared.pk, private.pk], embedding__isnull=True).count() == 0

    page = _client(staff).get(reverse("claims")).content.decode()
    assert "bob" in page and "Bob Smith" in page
    assert reverse("face_crop", args=[shared.pk]) in page
    assert reverse("face_crop", args=[private.pk]) not in page  # staff see only what they may

    claim = PersonClaim.objects.get()
    _client(staff).post(reverse("claim_decide", args=[claim.pk]), {"decision": "approve"})

    person.refresh_from_db()
    assert person.user == bob
    assert PersonClaim.objects.get().status == PersonClaim.Status.APPROVED
    assert LogEntry.objects.filter(
        object_id=str(person.pk), change_message__contains="Linked to bob"
    ).exists()
    assert "Your account is linked to" in _client(bob).get(reverse("account")).content.decode()


def test_a_refused_claim_links_nothing_and_the_member_is_told(claimable, bob, staff):
    person, _, _ = claimable
    claim = privacy.person_claim(person=person, user=bob)

    _client(staff).post(reverse("claim_decide", args=[claim.pk]), {"decision": "refuse"})

    person.refresh_from_db()
    assert person.user is None
    assert "Staff did not link you to Bob Smith" in _client(bob).get(reverse("account")).content.decode()


def test_a_member_can_withdraw_a_claim_and_a_link(claimable, bob, staff):
    person, _, _ = claimable
    privacy.person_claim(person=person, user=bob)
    _client(bob).post(reverse("claim_withdraw"))
    assert PersonClaim.objects.get().status == PersonClaim.Status.WITHDRAWN
    assert "Bob Smith" not in _client(staff).get(reverse("claims")).content.decode()

    privacy.person_link(person=person, user=bob, actor=staff)
    _client(bob).post(reverse("person_unlink"))

    person.refresh_from_db()
    assert person.user is None


def test_staff_can_link_a_member_directly_in_the_admin(claimable, bob, staff):
    person, _, _ = claimable
    privacy.person_claim(person=person, user=bob)
    url = reverse("admin:tagging_person_change", args=[person.pk])

    response = _client(staff).post(url, {"name": "Bob Smith", "user": bob.pk})

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.user == bob


def test_a_claim_on_a_person_seen_only_in_a_private_album_reaches_no_staff_member(member, bob, staff):
    person = Person.objects.create(name="Only Alice knows")
    _bare_face(_bare_photo(_album(member, "Diary")), person, Face.Status.CONFIRMED)
    claim = privacy.person_claim(person=person, user=member)  # Alice may: she sees the person

    assert "Only Alice knows" not in _client(staff).get(reverse("claims")).content.decode()
    assert (
        _client(staff).post(reverse("claim_decide", args=[claim.pk]), {"decision": "approve"}).status_code
        == 404
    )
    admin_list = _client(staff).get(reverse("admin:tagging_personclaim_changelist")).content.decode()
    assert "Only Alice knows" not in admin_list


def test_opting_out_counts_only_the_faces_the_member_may_see(
    claimable, bob, staff, django_capture_on_commit_callbacks
):
    person, shared, private = claimable
    privacy.person_link(person=person, user=bob, actor=staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = _client(bob).post(reverse("opt_out"), follow=True)

    assert "1 face you can see forgotten" in response.content.decode()
    # Both are forgotten all the same: the opt-out is about Bob's face, wherever it is.
    assert Face.objects.filter(pk__in=[shared.pk, private.pk], embedding__isnull=True, crop="").count() == 2


def test_staff_cannot_approve_their_own_claim(claimable, staff):
    person, _, _ = claimable
    claim = privacy.person_claim(person=person, user=staff)

    assert "Bob Smith" not in _client(staff).get(reverse("claims")).content.decode()
    with pytest.raises(privacy.PrivacyError, match="another member of staff"):
        privacy.claim_decide(claim=claim, approve=True, actor=staff)
    person.refresh_from_db()
    assert person.user is None
