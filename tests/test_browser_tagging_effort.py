"""How much work tagging a library takes: every photo of ../shared/faces/people,
uploaded by one member, tagged through "Who is this?" and the review grids only,
every key press and click counted (issue 12). On the code before the review
grid's bands and "Review all": 22 actions for 16 photos (1.38 per photo).

A name typed counts as one action, whatever its length: the figure measures the
decisions a member makes, and the letters of a new name are the same for any
flow. The letters are printed beside it.
"""

import csv
import re
import shutil

import pytest
from playwright.sync_api import expect

from tagging.models import Face, Photo
from tests.browser import drop_files, log_in
from tests.test_browser import PASSWORD, _new_album, _wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server, celery_worker):
    return live_server.url


def _title(label: str) -> str:
    return label.replace("_", " ").title()


class Counter:
    """The member's hands: each press and click is one action; a name typed is one too."""

    def __init__(self, page):
        self.page, self.actions, self.letters, self.log = page, 0, 0, []

    def press(self, key: str) -> None:
        with self.page.expect_navigation():
            self.page.keyboard.press(key)
        self.actions += 1
        self.log.append(key)

    def click(self, locator, navigates: bool = True) -> None:
        if navigates:
            with self.page.expect_navigation():
                locator.click()
        else:
            locator.click()
        self.actions += 1
        self.log.append("click")

    def type_name(self, name: str) -> None:
        self.page.keyboard.type(name)
        self.actions += 1
        self.letters += len(name)
        self.log.append(repr(name))


def _truth(faces_dir) -> dict[str, list[str]]:
    """File name -> the people on it, largest face first (faces.csv lists them so)."""
    with open(faces_dir / "faces.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row["file"].startswith("people/")]
    return {row["file"].split("/")[-1]: row["people"].split(";") for row in rows}


def _face_labels(truth: dict[str, list[str]]) -> dict[int, str]:
    """Face id -> the person it is: on a photo of one person, its largest face."""
    labels = {}
    for photo in Photo.objects.prefetch_related("faces"):
        faces = sorted(photo.faces.all(), key=lambda f: f.w * f.h, reverse=True)
        assert len(faces) == len(truth[photo.display_name]), photo.display_name
        labels[faces[0].pk] = _title(truth[photo.display_name][0])
    return labels


def _name_in_who(hands: Counter, labels: dict[int, str]) -> None:
    """One face on "Who is this?": yes to a right suggestion, no to a wrong one, a
    guess when it is right, else the name typed."""
    page = hands.page
    face_id = int(page.locator(".who").get_attribute("data-face-id"))
    right = labels[face_id]
    confirm = page.locator("#who-confirm button")
    if confirm.count():
        suggested = re.match(r"Yes, (.*?)\s*Enter$", confirm.inner_text().strip()).group(1)
        hands.press("Enter" if suggested == right else "n")
        return
    guess = page.locator(".guess", has_text=f"{right}?")
    if guess.count():
        hands.press(guess.get_attribute("data-key"))
        return
    hands.type_name(right)
    hands.press("Enter")


def _review_grid(hands: Counter, labels: dict[int, str]) -> None:
    """One person's grid in "Review all": untick a wrong likely face, tick a right maybe
    face, say "Not" to the wrong ones, then confirm; the walk moves on by itself."""
    page = hands.page
    person = page.locator("h1").inner_text().strip()
    before = page.url
    tiles = page.locator("#review-form .review-tile")
    wrong = []
    for index in range(tiles.count()):
        tile = tiles.nth(index)
        box = tile.locator('input[name="faces"]')
        right = labels.get(int(tile.get_attribute("data-face-id"))) == person
        if box.is_checked() != right:
            hands.click(box, navigates=False)
        if not right:
            wrong.append(tile)
    for tile in wrong:
        hands.click(tile.locator("button.not"), navigates=False)
        expect(tile).to_have_count(0)
    if page.locator("#review-form .review-tile").count():
        hands.click(page.locator("#review-confirm"), navigates=False)
    page.wait_for_url(lambda url: url != before)
    page.wait_for_load_state()


def _tag_everything(hands: Counter, labels: dict[int, str], site: str) -> None:
    page = hands.page
    page.goto(f"{site}/people/who/")
    for _ in range(10 * len(labels)):
        if page.locator("#review-done").count():
            if not page.locator("#review-who").count():
                return  # nothing to review, nothing to name
            hands.click(page.locator("#review-who"))
        elif page.locator("#review-form").count():
            _review_grid(hands, labels)
        elif page.locator("#all-named").count():
            if not page.locator("#who-review").count():
                return
            hands.click(page.locator("#who-review"))
        elif page.locator("#who-confirm").count() and page.locator("#who-review").count():
            # Only faces with suggestions are left: yes to them many at a time.
            hands.press("r")
        else:
            _name_in_who(hands, labels)
    raise AssertionError("the member went round in circles")


def test_tagging_every_photo_of_the_people_folder(site, page, member, faces_dir, tmp_path):
    folder = tmp_path / "people"
    shutil.copytree(faces_dir / "people", folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    truth = _truth(faces_dir)
    assert {p.name for p in files} == set(truth)

    log_in(page, site, "alice", PASSWORD)
    _new_album(page, site, "Everyone")
    drop_files(page, "#upload", [(p.name, p.read_bytes()) for p in files])
    expect(page.locator(".upload-progress .summary")).to_contain_text(
        f"{len(files)} of {len(files)} uploaded", timeout=120_000
    )
    _wait_settled(page, len(files))
    labels = _face_labels(truth)

    hands = Counter(page)
    _tag_everything(hands, labels, site)

    faces = {f.pk: f for f in Face.objects.select_related("person")}
    wrong = {
        pk: (right, str(faces[pk].person), faces[pk].status)
        for pk, right in labels.items()
        if faces[pk].status != Face.Status.CONFIRMED or faces[pk].person.name != right
    }
    assert wrong == {}
    per_photo = hands.actions / len(files)
    print(
        f"\ntagging effort: {hands.actions} actions for {len(labels)} faces on {len(files)} photos "
        f"({hands.letters} letters typed in names): {' '.join(hands.log)}\nactions per photo: {per_photo:.2f}"
    )
    assert per_photo <= 1.2
