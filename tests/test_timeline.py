"""The timeline: every photo a member may see, by date taken, a page at a time."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tagging.models import Album, Photo
from tagging.views import timeline as timeline_view
from tests.browser import log_in, screenshot
from tests.pages import _logged_in, _photo


def _taken(year, month, day) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
def photos(member, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="another horse battery")
    shared = Album.objects.create(owner=bob, title="Bob's", visibility=Album.Visibility.MEMBERS)
    private = Album.objects.create(owner=bob, title="Bob's own")
    mine = Album.objects.create(owner=member, title="Mine")
    made = {
        "march": _photo(mine, name="march.jpg", taken_at=_taken(2024, 3, 2)),
        "may-shared": _photo(shared, name="may-shared.jpg", taken_at=_taken(2024, 5, 20)),
        "may": _photo(mine, name="may.jpg", taken_at=_taken(2024, 5, 3)),
        "undated": _photo(mine, name="undated.jpg"),  # uploaded now: the newest
        "secret": _photo(private, name="secret.jpg", taken_at=_taken(2024, 5, 21)),
        "pending": _photo(mine, name="pending.jpg", status=Photo.Status.PENDING),
    }
    Photo.objects.filter(pk=made["undated"].pk).update(created_at=_taken(2025, 1, 9))
    return made


@pytest.mark.django_db
class TestTimeline:
    def test_it_lists_visible_photos_by_date_taken_under_month_headings(self, photos, member):
        page = _logged_in(member).get(reverse("timeline")).content.decode()

        names = re.findall(r'alt="([\w-]+)\.jpg"', page)
        assert names == ["undated", "may-shared", "may", "march"]
        assert re.findall(r"<h2>(.*?)</h2>", page) == ["January 2025", "May 2024", "March 2024"]

    def test_pages_follow_one_another_without_a_gap_or_a_repeat(self, photos, member, monkeypatch):
        monkeypatch.setattr(timeline_view, "PAGE_SIZE", 3)
        client = _logged_in(member)

        first = client.get(reverse("timeline")).content.decode()
        more = (
            re.search(r'id="more" class="button quiet" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        )
        second = client.get(more).content.decode()

        assert re.findall(r'alt="([\w-]+)\.jpg"', first) == ["undated", "may-shared", "may"]
        assert re.findall(r'alt="([\w-]+)\.jpg"', second) == ["march"]
        assert 'id="more"' not in second

    def test_a_bad_cursor_starts_from_the_top(self, photos, member):
        page = _logged_in(member).get(reverse("timeline") + "?at=yesterday&id=x").content.decode()

        assert re.findall(r'alt="([\w-]+)\.jpg"', page)[0] == "undated"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_timeline_loads_more_as_one_scrolls(live_server, page, member, monkeypatch):
    monkeypatch.setattr(timeline_view, "PAGE_SIZE", 4)
    album = Album.objects.create(owner=member, title="Years")
    for index in range(10):
        _photo(album, name=f"p{index}.jpg", taken_at=_taken(2024, 1 + index // 4, 1 + index))
    log_in(page, live_server.url, "alice", "correct horse battery")
    page.set_viewport_size({"width": 1280, "height": 500})

    page.goto(f"{live_server.url}/timeline/")
    tiles = page.locator("#timeline .timeline-tile")
    page.mouse.wheel(0, 5000)
    expect(tiles).to_have_count(10)
    expect(page.locator("#more")).to_have_count(0)
    # March's photos came over two pages and stay under one heading.
    expect(page.locator("#timeline h2")).to_have_text(["March 2024", "February 2024", "January 2024"])
    names = page.locator("#timeline img").evaluate_all("(imgs) => imgs.map((i) => i.alt)")
    assert names == [f"p{index}.jpg" for index in reversed(range(10))]
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "timeline-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "timeline-390")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
