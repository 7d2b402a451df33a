"""Undo for the undo period and across a reload, by its member only, never over newer work."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tagging.models import Album, Face, Undo
from tests.pages import _json, _logged_in
from tests.undo import _latest, _rows, _suggested, _undo, _undone_exactly

pytestmark = pytest.mark.django_db


class TestTheUndoPeriod:
    def test_it_still_works_after_30_seconds(self, alice, trip, anna):
        face = _suggested(trip, anna)
        before = _rows()
        alice.post(reverse("face_confirm", args=[face.pk]))
        Undo.objects.update(created_at=timezone.now() - timedelta(seconds=31))

        _undone_exactly(alice, before, kind=Undo.Kind.CONFIRM)

    def test_it_is_refused_once_expired(self, alice, trip, anna, settings):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        Undo.objects.update(created_at=timezone.now() - timedelta(seconds=settings.UNDO_SECONDS + 1))
        after = _rows()

        response = _undo(alice, _latest(), follow=True)

        assert "Not undone: too late: an action can be undone for 10 minutes." in response.content.decode()
        assert _rows() == after
        assert b'id="undo-button"' not in alice.get(reverse("people")).content

    def test_a_reload_shows_the_undo_again_while_it_is_valid(self, alice, trip, anna):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        undo = _latest()

        for _ in range(2):  # the page again, and again: the offer stays
            page = alice.get(reverse("photo", args=[face.photo_id])).content.decode()
            assert reverse("undo", args=[undo.pk]) in page
            assert "Tagged Anna." in page
        assert "Can be undone for 10 minutes" in page

        _undo(alice, undo)
        assert reverse("undo", args=[undo.pk]) not in alice.get(reverse("people")).content.decode()

    def test_closing_the_message_stops_the_offer(self, alice, trip, anna):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        undo = _latest()

        alice.post(reverse("undo_dismiss", args=[undo.pk]))

        assert reverse("undo", args=[undo.pk]) not in alice.get(reverse("people")).content.decode()

    def test_it_is_undone_once(self, alice, trip, anna):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        undo = _latest()
        _undo(alice, undo)

        response = _undo(alice, undo, **_json())

        assert response.status_code == 409 and response.json()["error"] == "this was undone already"


class TestWhoMayUndo:
    def test_another_members_undo_is_missing(self, alice, bob_user, trip, anna, django_user_model):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        after = _rows()
        staff = django_user_model.objects.create_user(username="root", password="x", is_staff=True)

        for user in (bob_user, staff):
            client = _logged_in(user)
            assert _undo(client, _latest()).status_code == 404
            assert client.post(reverse("undo_dismiss", args=[_latest().pk])).status_code == 404
            assert reverse("undo", args=[_latest().pk]) not in client.get(reverse("people")).content.decode()
        assert _undo(alice, Undo(pk=987654)).status_code == 404
        assert _rows() == after

    def test_objects_out_of_sight_make_it_missing(self, bob_user, trip, anna):
        bob = _logged_in(bob_user)
        face = _suggested(trip, anna)
        bob.post(reverse("face_confirm", args=[face.pk]))
        Album.objects.filter(pk=trip.pk).update(visibility=Album.Visibility.PRIVATE)

        assert _undo(bob, _latest()).status_code == 404
        assert Face.objects.get(pk=face.pk).status == Face.Status.CONFIRMED

    def test_it_is_refused_over_newer_work(self, alice, bob_user, trip, anna):
        face = _suggested(trip, anna)
        alice.post(reverse("face_confirm", args=[face.pk]))
        bob = _logged_in(bob_user)
        bob.post(reverse("face_untag", args=[face.pk]))
        bob.post(reverse("face_tag", args=[face.pk]), {"name": "Ben"})
        after = _rows()

        response = _undo(alice, Undo.objects.filter(user__username="alice").get(), follow=True)

        assert "Not undone: a face it changed was tagged again meanwhile." in response.content.decode()
        assert _rows() == after

    def test_the_scripts_get_the_undo_in_the_reply(self, alice, trip, anna):
        """The review grid's script (the one that acts by fetch) gets the undo to show."""
        face = _suggested(trip, anna)

        reply = alice.post(
            reverse("person_review", args=[anna.pk]), {"faces": [face.pk], "action": "confirm"}, **_json()
        ).json()

        undo = _latest()
        assert reply["undo"]["message"] == undo.message
        assert reply["undo"]["url"] == reverse("undo", args=[undo.pk])
        assert undo.message.startswith("Confirmed 1 face")
        assert _undo(alice, undo, **_json()).json() == {"ok": True, "message": f"Undone: {undo.message}"}
        assert Face.objects.get(pk=face.pk).status == Face.Status.SUGGESTED
