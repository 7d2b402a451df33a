"""Undo in headless Chromium against the real stack (served site, Celery worker, models):
a confirmed suggestion comes back as a suggestion, a deleted photo comes back after a reload."""

import pytest
from playwright.sync_api import expect

from tagging.models import Face, Photo
from tests.browser import log_in, screenshot
from tests.test_browser import PASSWORD, _new_album, _photo_url, _upload, _wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server, celery_worker):
    return live_server.url


def _both_widths(page, name: str) -> None:
    screenshot(page, f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_member_undoes_a_confirm_and_a_deletion(site, page, member, faces_dir):
    log_in(page, site, "alice", PASSWORD)
    album_url = _new_album(page, site, "Politics")
    _upload(
        page, faces_dir, ["people/barack_obama/barack_obama_1.jpg", "people/barack_obama/barack_obama_2.jpg"]
    )
    _wait_settled(page, 2)
    page.goto(_photo_url(site, "Politics", "barack_obama_1.jpg"))
    card = page.locator(".face-card").first
    card.get_by_label("Who is this?").fill("Barack Obama")
    card.get_by_role("button", name="Save").click()
    expect(page.locator(".face-card .person-name")).to_have_text("Barack Obama")

    # Confirm the suggestion on the other photo, then undo it: a suggestion again.
    page.goto(_photo_url(site, "Politics", "barack_obama_2.jpg"))
    expect(page.locator(".face-card .suggestion")).to_have_text("Barack Obama?")
    face = Face.objects.get(photo__display_name="barack_obama_2.jpg")
    suggested = (face.person_id, face.status, face.distance)
    page.get_by_role("button", name="Yes, Barack Obama").click()
    expect(page.locator(".face-card .person-name")).to_have_text("Barack Obama")
    offer = page.locator("#undo-offer")
    expect(offer).to_contain_text("Tagged Barack Obama.")
    _both_widths(page, "undo-confirm")
    offer.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("Undone: Tagged Barack Obama.")
    expect(page.locator(".face-card .suggestion")).to_have_text("Barack Obama?")
    expect(page.locator("#undo-offer")).to_have_count(0)
    face.refresh_from_db()
    assert (face.person_id, face.status, face.distance) == suggested

    # Delete a photo from its page; it is gone, and back with Undo after a reload.
    page.get_by_role("link", name="Delete this photo…").click()
    page.get_by_role("button", name="Delete photo").click()
    page.wait_for_url(album_url)
    expect(page.locator("#photos .photo-tile")).to_have_count(1)
    page.reload()
    offer = page.locator("#undo-offer")
    expect(offer).to_contain_text("Deleted “barack_obama_2.jpg”.")
    _both_widths(page, "undo-delete")
    offer.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("Undone: Deleted “barack_obama_2.jpg”.")
    expect(page.locator("#photos .photo-tile")).to_have_count(2)
    page.goto(_photo_url(site, "Politics", "barack_obama_2.jpg"))
    expect(page.locator("#stage img")).to_be_visible()
    assert Photo.objects.filter(display_name="barack_obama_2.jpg").exists()
