"""Typed search: people, albums and dates in one field, only what the member may see."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tagging.models import Album, Face, Person
from tests.browser import log_in, screenshot
from tests.pages import _face, _logged_in, _photo


def _taken(year, month) -> datetime:
    return datetime(year, month, 10, 12, tzinfo=UTC)


@pytest.fixture
def world(member, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="another horse battery")
    summer = Album.objects.create(owner=member, title="Summer in Crete")
    winter = Album.objects.create(owner=member, title="Winter")
    hidden = Album.objects.create(owner=bob, title="Bob's secret trip")
    anna, ben = Person.objects.create(name="Anna Berg"), Person.objects.create(name="Ben Ode")
    carl = Person.objects.create(name="Carl Secret")

    def photo(album, name, when, *people):
        made = _photo(album, name=name, taken_at=when)
        for index, person in enumerate(people):
            _face(made, person=person, status=Face.Status.CONFIRMED, x=0.1 + index * 0.3)
        return made

    photo(summer, "both.jpg", _taken(2024, 5), anna, ben)
    photo(summer, "anna.jpg", _taken(2024, 6), anna)
    photo(winter, "ben.jpg", _taken(2023, 5), ben)
    photo(hidden, "carl.jpg", _taken(2024, 5), carl, anna)
    return {"alice": _logged_in(member), "bob": _logged_in(bob)}


def _found(client, q: str) -> list[str]:
    page = client.get(reverse("search"), {"q": q}).content.decode()
    return sorted(re.findall(r'alt="([\w.]+\.jpg)"', page))


@pytest.mark.django_db
class TestTypedSearch:
    @pytest.mark.parametrize(
        ("q", "names"),
        [
            ("Anna Berg", ["anna.jpg", "both.jpg"]),
            ("anna", ["anna.jpg", "both.jpg"]),
            ("Anna and Ben", ["both.jpg"]),
            ("anna, ben ode", ["both.jpg"]),
            ("Summer in Crete", ["anna.jpg", "both.jpg"]),
            ("Ben and Winter", ["ben.jpg"]),
            ("2023", ["ben.jpg"]),
            ("May 2024", ["both.jpg"]),
            ("2024-06", ["anna.jpg"]),
            ("may", ["ben.jpg", "both.jpg"]),
            ("Anna and 2024", ["anna.jpg", "both.jpg"]),
        ],
    )
    def test_it_finds_photos_by_people_albums_and_dates(self, world, q, names):
        assert _found(world["alice"], q) == names

    def test_an_unknown_term_is_named_not_ignored(self, world):
        page = world["alice"].get(reverse("search"), {"q": "Anna and Zorro"}).content.decode()

        assert "Nothing matches “Zorro”." in page
        assert "anna.jpg" not in page

    def test_another_members_private_album_and_people_do_not_exist(self, world):
        bob = world["bob"]

        assert _found(bob, "Bob's secret trip") == ["carl.jpg"]  # his own
        assert _found(world["alice"], "Bob's secret trip") == []
        assert "Nothing matches" in world["alice"].get(reverse("search"), {"q": "Carl"}).content.decode()
        suggested = world["alice"].get(reverse("search_suggest"), {"q": "Secret"}).json()["suggestions"]
        assert suggested == []

    def test_it_suggests_whole_queries_for_the_last_term(self, world):
        def suggest(q):
            return world["alice"].get(reverse("search_suggest"), {"q": q}).json()["suggestions"]

        assert suggest("an") == ["Anna Berg"]
        assert suggest("Anna Berg and B") == ["Anna Berg and Ben Ode"]
        assert "Summer in Crete" in suggest("sum")
        assert suggest("202") == ["2024", "2023"]
        assert "May 2024" in suggest("ma")

    def test_it_works_as_a_plain_form(self, world):
        page = world["alice"].get(reverse("search")).content.decode()

        assert re.search(r'<form method="get"[^>]*role="search"', page)
        assert 'name="q"' in page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_member_types_a_search_with_autocomplete(live_server, page, world):
    log_in(page, live_server.url, "alice", "correct horse battery")
    page.goto(f"{live_server.url}/search/")
    field = page.get_by_label("People, an album, a year or a month")
    field.press_sequentially("Anna Berg and B")
    options = page.locator("#search-suggestions option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == "Anna Berg and Ben Ode"
    field.fill("Anna Berg and Ben Ode")
    field.press("Enter")
    expect(page.locator("#results")).to_have_text("1 photo with Anna Berg and Ben Ode")
    expect(page.locator(".grid img")).to_have_count(1)
    screenshot(page, "search-typed-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "search-typed-390")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
