""" "Who is this?" one face at a time, through the photo page's own face actions."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tagging.models import Album, Face, FaceRejection, Person
from tests.browser import log_in, screenshot
from tests.pages import _face, _logged_in, _photo


def _vector(first: float) -> list[float]:
    return [first] + [0.1] * 127


@pytest.fixture
def faces(member, django_user_model):
    album = Album.objects.create(owner=member, title="Friends")
    anna, ben = Person.objects.create(name="Anna Berg"), Person.objects.create(name="Ben Ode")
    known = _face(_photo(album, name="known.jpg"), person=anna, status=Face.Status.CONFIRMED)
    suggested = _face(_photo(album, name="ben.jpg"), person=ben, status=Face.Status.SUGGESTED)
    guessed = _face(_photo(album, name="anna-maybe.jpg"))
    blank = _face(_photo(album, name="stranger.jpg"))
    for face, vector in ((known, _vector(0.9)), (suggested, _vector(-0.5)), (guessed, _vector(0.7))):
        face.embedding = vector
        face.save(update_fields=["embedding"])
    bob = django_user_model.objects.create_user(username="bob", password="another horse battery")
    hidden = Album.objects.create(owner=bob, title="Bob's")
    _face(_photo(hidden, name="bobs.jpg"))
    return {"anna": anna, "ben": ben, "suggested": suggested, "guessed": guessed, "blank": blank}


@pytest.mark.django_db
class TestWhoIsThis:
    def test_it_shows_faces_nobody_is_suggested_for_first_and_what_is_left(self, faces, member):
        page = _logged_in(member).get(reverse("who_is_this")).content.decode()

        # The face with a named suggestion was made first, but waits for the others:
        # the review grid says yes to many suggestions at once.
        assert f'data-face-id="{faces["guessed"].pk}"' in page
        assert "3 faces left to name" in page  # not Bob's private one
        assert "Review 1 suggestion, person by person" in page

    def test_a_guess_below_the_threshold_is_offered_as_a_guess(self, faces, member):
        page = _logged_in(member).get(reverse("who_is_this")).content.decode()

        assert f'data-face-id="{faces["guessed"].pk}"' in page
        assert re.search(r"Guesses, less sure:.*Anna Berg\?", page, re.S)

    def test_a_suggested_face_comes_after_the_unknown_ones_with_its_suggestion(self, faces, member):
        page = _logged_in(member).get(reverse("who_is_this") + f"?after={faces['blank'].pk}").content.decode()

        assert f'data-face-id="{faces["suggested"].pk}"' in page
        assert "Yes, Ben Ode" in page and "Not Ben Ode" in page

    def test_skipping_the_last_unknown_face_goes_on_to_the_suggested_ones(self, faces, member):
        client = _logged_in(member)
        page = client.get(reverse("who_is_this") + f"?after={faces['guessed'].pk}").content.decode()
        assert f'data-face-id="{faces["blank"].pk}"' in page
        skip = re.search(r'id="who-skip" href="([^"]+)"', page).group(1).replace("&amp;", "&")

        after = client.get(skip).content.decode()

        assert f'data-face-id="{faces["suggested"].pk}"' in after

    def test_a_skipped_face_tagged_meanwhile_still_leads_on_to_the_suggested_ones(self, faces, member):
        Face.objects.filter(pk=faces["blank"].pk).confirm(faces["anna"])

        page = _logged_in(member).get(reverse("who_is_this") + f"?after={faces['blank'].pk}").content.decode()

        # The suggested face is older than the one skipped, but comes after it in the order.
        assert f'data-face-id="{faces["suggested"].pk}"' in page

    def test_confirming_moves_on_by_itself(self, faces, member):
        client = _logged_in(member)
        url = reverse("who_is_this") + f"?after={faces['blank'].pk}"
        page = client.get(url).content.decode()
        target = re.search(r'id="who-confirm">.*?name="next" value="([^"]+)"', page, re.S).group(1)

        response = client.post(
            reverse("face_confirm", args=[faces["suggested"].pk]), {"next": target.replace("&amp;", "&")}
        )
        after = client.get(response.url).content.decode()

        faces["suggested"].refresh_from_db()
        assert faces["suggested"].status == Face.Status.CONFIRMED
        # The skipped faces stay skipped; the way back leads to the face just confirmed.
        assert 'id="all-named"' in after
        assert "2 faces left to name" in after
        assert f"?face={faces['suggested'].pk}" in after

    def test_another_members_face_is_not_shown_even_by_id(self, faces, member):
        secret = Face.objects.get(photo__display_name="bobs.jpg")

        page = _logged_in(member).get(reverse("who_is_this") + f"?face={secret.pk}").content.decode()

        assert "bobs.jpg" not in page
        assert f'data-face-id="{faces["guessed"].pk}"' in page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_member_names_faces_one_after_another_by_keyboard(live_server, page, faces):
    log_in(page, live_server.url, "alice", "correct horse battery")
    page.goto(f"{live_server.url}/people/who/")
    who = page.locator(".who")
    actions = 0

    expect(page.locator("#left")).to_have_text("3 faces left to name")
    screenshot(page, "who-1280")
    page.keyboard.press("1")  # the first guess, Anna Berg
    actions += 1
    expect(who).to_have_attribute("data-face-id", str(faces["blank"].pk))
    expect(page.locator("#left")).to_have_text("2 faces left to name")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "who-390")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    page.keyboard.type("Nina")  # a letter starts the name field; a capital N is no "not"
    page.keyboard.press("Enter")
    actions += 5
    expect(who).to_have_attribute("data-face-id", str(faces["suggested"].pk))
    page.keyboard.press("Enter")  # yes, Ben Ode
    actions += 1
    expect(page.locator("#all-named")).to_be_visible()
    expect(page.locator("#left")).to_have_text("0 faces left to name")

    states = {f.pk: (f.person.name, f.status) for f in Face.objects.select_related("person") if f.person}
    assert states[faces["suggested"].pk] == ("Ben Ode", "confirmed")
    assert states[faces["guessed"].pk] == ("Anna Berg", "confirmed")
    assert states[faces["blank"].pk] == ("Nina", "confirmed")
    assert not FaceRejection.objects.exists()
    print(f"who-is-this: {actions} actions for 3 faces on 3 photos, {actions / 3:.2f} per photo")

    # Back shows the face just named, to see or undo it.
    page.keyboard.press("b")
    expect(who).to_have_attribute("data-face-id", str(faces["suggested"].pk))
    expect(who).to_contain_text("Tagged Ben Ode.")
