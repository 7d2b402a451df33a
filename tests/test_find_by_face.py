"""Find by face stops at strangers: matches within a measured cut-off, nearest first,
named where the viewer may know the person, a step wider on request, else 'no match'."""

import re

import pytest
from django.core import signing

from tagging import similar
from tagging.models import Album, Face, Person
from tagging.services import faces as face_actions
from tests.library import processed_photo

pytestmark = pytest.mark.django_db

OBAMA = [f"people/barack_obama/barack_obama_{n}.jpg" for n in (1, 2, 3)]
STRANGERS = ["people/joe_biden/joe_biden_1.jpg", "people/kit_harington/kit_harington_1.jpg"]


@pytest.fixture
def album(member):
    return Album.objects.create(owner=member, title="Mine")


@pytest.fixture
def photos(album, faces_dir):
    return {name: processed_photo(album, faces_dir, name) for name in OBAMA + STRANGERS}


def _listed(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="tile match"><a href="/photos/(\d+)/', page)]


def test_cutoffs_step_from_the_strict_one_to_the_looser_bound():
    steps = similar.find_cutoffs("Dlib", unmeasured=0.5)

    assert steps[0] == similar.FIND_CUTOFFS["Dlib"][0]
    assert steps[-1] == similar.FIND_CUTOFFS["Dlib"][1]
    assert steps == sorted(steps) and len(steps) >= 2
    assert similar.find_cutoffs("Facenet", unmeasured=0.4) == [0.4]


def test_it_lists_the_person_nearest_first_with_their_name_and_no_strangers(client, member, photos):
    obama = Person.objects.create(name="Barack Obama")
    face_actions.face_tag(face=photos[OBAMA[0]].faces.get(), person=obama)
    probe = photos[OBAMA[1]].faces.get()
    client.force_login(member)

    page = client.get("/search/face/", {"face": probe.pk}).content.decode()

    listed = _listed(page)
    assert set(listed) == {photos[OBAMA[0]].pk, photos[OBAMA[2]].pk}
    distances = [float(d) for d in re.findall(r"distance (0\.\d+)</span>", page)]
    assert distances == sorted(distances)
    assert all(d <= similar.FIND_CUTOFFS["Dlib"][0] for d in distances)
    assert page.count('class="similar-name"') == 1 and ">Barack Obama</a>" in page
    assert 'id="show-less-similar"' in page and "step=1" in page


def test_it_says_no_match_when_only_strangers_are_there(client, member, album, faces_dir):
    probe = processed_photo(album, faces_dir, OBAMA[0]).faces.get()
    for name in STRANGERS:
        processed_photo(album, faces_dir, name)
    client.force_login(member)

    page = client.get("/search/face/", {"face": probe.pk}).content.decode()

    assert 'id="no-match"' in page and _listed(page) == []


def test_show_less_similar_widens_one_step_at_a_time_up_to_the_looser_bound(client, member, photos):
    probe = photos[OBAMA[0]].faces.get()
    steps = similar.find_cutoffs("Dlib", unmeasured=0.5)
    client.force_login(member)

    widest = client.get("/search/face/", {"face": probe.pk, "step": len(steps) - 1}).content.decode()
    beyond = client.get("/search/face/", {"face": probe.pk, "step": 99}).content.decode()

    assert f"within distance {steps[-1]:.3f}" in widest
    assert 'id="show-less-similar"' not in widest
    assert _listed(beyond) == _listed(widest)
    assert (
        f"step={len(steps) - 1}"
        in client.get("/search/face/", {"face": probe.pk, "step": len(steps) - 2}).content.decode()
    )


def test_names_are_shown_only_for_confirmed_people_the_viewer_may_know(client, member, photos):
    hidden = Person.objects.create(name="Hidden Person", hidden=True)
    face_actions.face_tag(face=photos[OBAMA[0]].faces.get(), person=hidden)
    suggested = photos[OBAMA[2]].faces.get()
    guess = Person.objects.create(name="Only A Guess")
    Face.objects.filter(pk=suggested.pk).update(person=guess, status=Face.Status.SUGGESTED)
    client.force_login(member)

    page = client.get("/search/face/", {"face": photos[OBAMA[1]].faces.get().pk}).content.decode()

    assert set(_listed(page)) == {photos[OBAMA[0]].pk, photos[OBAMA[2]].pk}
    assert "Hidden Person" not in page and "Only A Guess" not in page


def test_a_dropped_photo_can_be_widened_through_its_signed_embedding(
    client, member, photos, faces_dir, celery_worker
):
    client.force_login(member)
    with (faces_dir / "people/barack_obama/barack_obama_4.jpg").open("rb") as dropped:
        first = client.post("/search/face/", {"photo": dropped}).content.decode()
    probe = re.search(r'name="probe" value="([^"]+)"', first).group(1)

    wider = client.post("/search/face/", {"probe": probe, "step": "1"}).content.decode()
    forged = signing.dumps({"embedding": [0.0] * 128, "model": "Dlib"}, salt="another-salt")
    refused = client.post("/search/face/", {"probe": forged, "step": "1"}).content.decode()

    assert set(_listed(first)) == {photos[name].pk for name in OBAMA}
    assert set(_listed(first)) <= set(_listed(wider))
    assert f"within distance {similar.find_cutoffs('Dlib', unmeasured=0.5)[1]:.3f}" in wider
    assert "choose the photo again" in refused and _listed(refused) == []
