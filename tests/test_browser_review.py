"""The review grid in headless Chromium: likely and maybe faces, a confirmation that
leaves alone the faces still on screen, and "Review all" from the people page.
Photos go through the real pipeline and models in the test's own process."""

import pytest
from playwright.sync_api import expect

from tagging.models import Album, Face
from tagging.services import faces as face_actions
from tagging.text import plural
from tests.browser import log_in, screenshot
from tests.library import processed_photo
from tests.test_browser import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = [
    "people/barack_obama/barack_obama_1.jpg",
    "people/barack_obama/barack_obama_2.jpg",
    "people/barack_obama/barack_obama_3.jpg",
    "people/barack_obama/barack_obama_4.jpg",
    "people/joe_biden/joe_biden_1.jpg",
    "people/joe_biden/joe_biden_2.jpg",
    "groups/barack_obama_and_joe_biden_1.jpg",
]


def _both_widths(page, name: str) -> None:
    screenshot(page, f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def named(member, faces_dir):
    album = Album.objects.create(owner=member, title="Speeches")
    photos = {name.split("/")[-1]: processed_photo(album, faces_dir, name) for name in PHOTOS}
    barack = face_actions.face_tag_new_person(
        face=photos["barack_obama_1.jpg"].faces.get(), name="Barack Obama"
    ).person
    joe = face_actions.face_tag_new_person(
        face=photos["joe_biden_1.jpg"].faces.get(), name="Joe Biden"
    ).person
    return photos, barack, joe


def test_a_member_reviews_everyone_and_nothing_on_screen_is_replaced(live_server, page, named):
    photos, barack, joe = named
    suggested = list(Face.objects.filter(person=barack, status=Face.Status.SUGGESTED).order_by("distance"))
    assert len(suggested) >= 4, "the real models suggest Barack Obama on his other photos"
    # The measured suggestions are all "likely"; one is moved into the "maybe" band
    # (just inside the match threshold) to show both.
    maybe = suggested[-1]
    Face.objects.filter(pk=maybe.pk).update(distance=0.085)

    log_in(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}/people/")
    tile = page.locator(".person-tile", has_text="Barack Obama")
    expect(tile.locator(".to-review")).to_have_text(f"{len(suggested)} to review")
    expect(page.locator(".single-tile")).to_have_count(1)  # the child seen once, in the group photo
    _both_widths(page, "people-review-counts")

    # One suggestion is held back while the grid is drawn, to come back as new.
    held = suggested[1]
    Face.objects.filter(pk=held.pk).unassign()
    page.locator("#review-all").click()
    page.wait_for_url(f"{live_server.url}/people/{barack.pk}/?walk=1")
    likely = page.locator("#review-likely .review-tile")
    expect(likely).to_have_count(len(suggested) - 2)
    expect(page.locator("#review-maybe .review-tile")).to_have_count(1)
    expect(page.locator("#review-maybe input[name=faces]")).not_to_be_checked()
    expect(page.locator("#review-confirm")).to_have_text("Confirm all likely")
    _both_widths(page, "review-grid")

    # Meanwhile another member confirms one face on screen, and a new face is
    # suggested for Barack. Confirming acts on the faces as shown, nothing else.
    changed = suggested[0]
    Face.objects.filter(pk=changed.pk).update(status=Face.Status.CONFIRMED, distance=None)
    Face.objects.filter(pk=held.pk).update(
        person=barack, status=Face.Status.SUGGESTED, distance=held.distance
    )
    page.locator("#review-confirm").click()
    refused = page.locator(f'.review-tile[data-face-id="{changed.pk}"]')
    expect(refused.locator(".note")).to_contain_text("already tagged as Barack Obama; left as it is.")
    expect(likely).to_have_count(1)  # the refused one stays, as it was
    expect(page.locator("#review-maybe .review-tile")).to_have_count(1)
    expect(page.locator("#review-more")).to_have_text("Load 1 more")
    confirmed = plural(len(suggested) - 3, "face")
    expect(page.locator("#review-status")).to_contain_text(f"Confirmed {confirmed} as Barack Obama.")
    expect(page.locator("#review-undo")).to_be_visible()
    _both_widths(page, "review-grid-refused")
    assert Face.objects.get(pk=changed.pk).status == Face.Status.CONFIRMED
    assert Face.objects.get(pk=held.pk).status == Face.Status.SUGGESTED
    assert Face.objects.get(pk=maybe.pk).status == Face.Status.SUGGESTED

    # "Not Barack Obama" on the maybe face; then on through everyone.
    page.locator(f'.review-tile[data-face-id="{maybe.pk}"] button.not').click()
    expect(page.locator("#review-maybe")).to_be_hidden()
    page.locator("#review-next").click()
    page.wait_for_url(f"{live_server.url}/people/{joe.pk}/?walk=1")
    page.locator("#review-confirm").click()  # the grid empties: the walk moves on by itself
    done = page.locator("#review-done")
    expect(done).to_contain_text("1 suggestion still waits for a yes or no.")
    page.get_by_role("link", name="Start again").click()
    page.wait_for_url(f"{live_server.url}/people/{barack.pk}/?walk=1")
    expect(page.locator(".review-tile")).to_have_count(1)  # the new suggestion, now shown
    page.locator("#review-confirm").click()
    expect(done).to_contain_text("Nothing left to review.")
    expect(done).to_contain_text("2 faces still need a name.")  # the child, and the face said no to
    _both_widths(page, "review-all-done")
    assert Face.objects.get(pk=maybe.pk).rejections.filter(person=barack).exists()
    assert Face.objects.get(pk=held.pk).status == Face.Status.CONFIRMED
    assert not Face.objects.filter(status=Face.Status.SUGGESTED).exclude(person__name="").exists()
