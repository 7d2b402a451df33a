"""Library basics in headless Chromium against the real stack: selecting, moving
and deleting photos, the viewer with zoom, and the shortcuts behind "?"."""

import re

import pytest
from playwright.sync_api import expect

from tagging import selectors
from tagging.models import Album, Photo
from tests.browser import log_in, screenshot
from tests.test_browser import PASSWORD, _new_album, _upload, _wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = [
    "groups/barack_obama_and_joe_biden_2.jpg",
    "people/kit_harington/kit_harington_1.jpg",
    "people/barack_obama/barack_obama_1.jpg",
    "people/joe_biden/joe_biden_1.jpg",
]


@pytest.fixture
def site(live_server, celery_worker):
    return live_server.url


def _both_widths(page, name: str) -> None:
    screenshot(page, f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_owner_selects_moves_and_deletes_photos(site, page, member, faces_dir):
    log_in(page, site, "alice", PASSWORD)
    _new_album(page, site, "Home")
    trip_url = _new_album(page, site, "Trip")
    _upload(page, faces_dir, PHOTOS)
    _wait_settled(page, 4)
    expect(page.locator("#processing")).to_have_text("4 of 4 photos processed.")
    page.goto(trip_url)
    boxes = page.locator("#photos input[name=photos]")
    count = page.locator("#selection .selected-count")

    # Click one, shift-click a later one: the range between is ticked.
    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])
    expect(count).to_have_text("3 photos selected")
    assert [boxes.nth(i).is_checked() for i in range(4)] == [True, True, True, False]
    expect(page.locator("#photos .photo-tile.selected")).to_have_count(3)
    _both_widths(page, "album-selection")
    page.get_by_role("button", name="Select none").click()
    expect(count).to_have_text("Tick photos to delete or move them.")
    expect(page.get_by_role("button", name="Delete…")).to_be_disabled()
    page.get_by_role("button", name="Select all").click()
    expect(count).to_have_text("4 photos selected")
    page.keyboard.press("Escape")
    expect(count).to_have_text("Tick photos to delete or move them.")

    # Move the first photo to the owner's other album.
    first_name = page.locator("#photos .photo-tile .name").nth(0).inner_text()
    boxes.nth(0).click()
    page.select_option("#selection select[name=target]", label="Home")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Moved 1 photo to “Home”.")
    expect(page.locator("#photos .photo-tile")).to_have_count(3)
    assert Photo.objects.get(display_name=first_name).album.title == "Home"

    # Delete two, after a page that names them.
    boxes.nth(0).click()
    boxes.nth(1).click()
    doomed = [page.locator("#photos .photo-tile .name").nth(i).inner_text() for i in (0, 1)]
    page.get_by_role("button", name="Delete…").click()
    expect(page.locator("h1")).to_have_text("Delete 2 photos?")
    for name in doomed:
        expect(page.locator(".chosen-names")).to_contain_text(name)
    screenshot(page, "photos-delete-confirm")
    page.get_by_role("button", name="Delete 2 photos").click()
    expect(page.locator(".messages")).to_contain_text("Deleted 2 photos.")
    expect(page.locator("#photos .photo-tile")).to_have_count(1)
    assert not Photo.objects.filter(display_name__in=doomed).exists()

    # One photo from its own page.
    last = Photo.objects.get(album__title="Trip")
    page.goto(f"{site}/photos/{last.pk}/")
    page.get_by_role("link", name="Delete this photo…").click()
    page.get_by_role("button", name="Delete photo").click()
    page.wait_for_url(trip_url)
    expect(page.locator("#photos .photo-tile")).to_have_count(0)
    assert not Photo.objects.filter(album__title="Trip").exists()


def _box_fits_image(page) -> bool:
    """The face boxes' layer covers the image exactly, whatever the zoom."""
    return page.evaluate(
        """() => {
            const a = document.querySelector('#stage img').getBoundingClientRect();
            const b = document.querySelector('#stage svg.boxes').getBoundingClientRect();
            return Math.abs(a.left - b.left) < 1 && Math.abs(a.top - b.top) < 1
                && Math.abs(a.width - b.width) < 1 && Math.abs(a.height - b.height) < 1;
        }"""
    )


def test_the_viewer_zooms_and_pages_through_photos_with_their_boxes(site, page, member, faces_dir):
    log_in(page, site, "alice", PASSWORD)
    _new_album(page, site, "Viewer")
    _upload(page, faces_dir, PHOTOS)
    _wait_settled(page, 4)
    group = Photo.objects.get(display_name="barack_obama_and_joe_biden_2.jpg")
    previous_id, next_id = selectors.photo_neighbours(photo=group)
    target_id = next_id or previous_id
    key = "ArrowRight" if next_id else "ArrowLeft"
    target = Photo.objects.get(pk=target_id)

    page.goto(f"{site}/photos/{group.pk}/")
    frame = page.locator("#frame")
    page.keyboard.press("f")
    expect(frame).to_have_class(re.compile(r"\bviewing\b"))
    expect(page.locator("#stage svg.boxes rect")).to_have_count(2)
    assert _box_fits_image(page)
    # Fitted: the whole photo within the window.
    size = page.evaluate("() => document.querySelector('#stage').getBoundingClientRect().height")
    assert size <= 900
    screenshot(page, "photo-viewer-1280")

    page.keyboard.press("+")
    expect(frame).to_have_attribute("data-zoom", "1.5")
    page.get_by_role("button", name="Zoom in").click()
    expect(frame).to_have_attribute("data-zoom", "2.25")
    assert page.evaluate("() => document.querySelector('#frame').scrollWidth > window.innerWidth")
    assert _box_fits_image(page)
    screenshot(page, "photo-viewer-zoomed")
    page.keyboard.press("0")
    expect(frame).to_have_attribute("data-zoom", "1")

    # The next photo replaces this one in the viewer, with its own boxes.
    page.keyboard.press(key)
    page.wait_for_url(f"{site}/photos/{target.pk}/")
    expect(frame).to_have_class(re.compile(r"\bviewing\b"))
    expect(page.locator("#stage img")).to_have_attribute("alt", target.display_name)
    expect(page.locator("#stage svg.boxes rect")).to_have_count(target.faces.count())
    expect(page.locator("h1.photo-title")).to_have_text(target.display_name)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("() => document.querySelector('#stage').getBoundingClientRect().width <= 390")
    assert _box_fits_image(page)
    screenshot(page, "photo-viewer-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.keyboard.press("Escape")
    expect(frame).not_to_have_class(re.compile(r"\bviewing\b"))

    # "?" lists the shortcuts.
    page.keyboard.press("?")
    dialog = page.locator("dialog#shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Zoom in and out")
    _both_widths(page, "photo-shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert Album.objects.count() == 1
