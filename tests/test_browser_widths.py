"""Every member page, filled with the longest names people give, fits a 390 px phone:
nothing scrolls sideways."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from tagging.models import Album, Face, Person, PersonClaim, Photo
from tests.browser import log_in, screenshot
from tests.pages import _image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# No spaces: nothing to break a line at, the worst case for a layout.
LONG = "Maximiliana-Konstantinopoulou-Featherstonehaugh-Wolfeschlegelsteinhausenbergerdorff"
LONG_FILE = "IMG_20240714_a_very_long_camera_roll_export_name_without_any_spaces_at_all_0001.jpg"


@pytest.fixture
def filled(django_user_model):
    staff = django_user_model.objects.create_user(
        username="a" * 60, password="pw-long-names-1", is_staff=True
    )
    album = Album.objects.create(owner=staff, title=LONG, visibility=Album.Visibility.MEMBERS)
    Album.objects.create(owner=staff, title=LONG + "-second")
    named = [Person.objects.create(name=f"{LONG}-{i}") for i in range(3)]
    group = Person.objects.create()
    photos = []
    for index in range(3):
        photo = Photo(
            album=album, uploaded_by=staff, display_name=f"{index}{LONG_FILE}", content_hash=str(index) * 64
        )
        photo.status = Photo.Status.DONE
        photo.original.save("x", ContentFile(_image(seed=index, size=(900, 600))), save=False)
        photo.thumbnail.save("x", ContentFile(_image(seed=index + 1)), save=False)
        photo.preview.save("x", ContentFile(_image(seed=index + 2, size=(900, 600))), save=False)
        photo.save()
        photos.append(photo)
    faces = []
    for index, (person, status) in enumerate(
        [(named[0], "confirmed"), (named[1], "suggested"), (group, "suggested"), (None, "unassigned")]
    ):
        face = Face(photo=photos[0], x=0.05 + index * 0.22, y=0.2, w=0.2, h=0.3, model_name="Dlib")
        face.person, face.status = person, status
        face.embedding = [0.1 + index * 0.01] + [0.1] * 127
        face.crop.save("x", ContentFile(_image(seed=7)), save=False)
        face.save()
        faces.append(face)
    Photo.objects.create(
        album=album,
        uploaded_by=staff,
        display_name="9" + LONG_FILE,
        content_hash="9" * 64,
        status=Photo.Status.FAILED,
        error=f"the file is truncated: {LONG}",
        error_kind=Photo.ErrorKind.FILE,
    )
    PersonClaim.objects.create(person=named[2], user=staff)
    return {
        "staff": staff,
        "album": album,
        "photo": photos[0],
        "face": faces[0],
        "person": named[0],
        "group": group,
    }


def _pages(filled) -> dict[str, str]:
    album, photo, person = filled["album"], filled["photo"], filled["person"]
    return {
        "albums": reverse("home"),
        "album": reverse("album", args=[album.pk]),
        "album-delete": reverse("album_delete", args=[album.pk]),
        "album-new": reverse("album_create"),
        "photo": reverse("photo", args=[photo.pk]),
        "photo-delete": reverse("photo_delete", args=[photo.pk]),
        "people": reverse("people"),
        "person": reverse("person", args=[person.pk]),
        "group": reverse("person", args=[filled["group"].pk]),
        "search": reverse("search") + f"?people={person.pk}",
        "search-typed": reverse("search") + f"?q={person.name[:20]}",
        "find-by-face": reverse("find_by_face") + f"?face={filled['face'].pk}",
        "account": reverse("account"),
        "claims": reverse("claims"),
        "privacy": reverse("privacy"),
        "timeline": reverse("timeline"),
        "who-is-this": reverse("who_is_this"),
        "review-all": reverse("people_review"),
    }


def test_no_page_scrolls_sideways_on_a_phone_whatever_the_names(live_server, page, filled):
    log_in(page, live_server.url, "a" * 60, "pw-long-names-1")
    page.set_viewport_size({"width": 390, "height": 844})
    too_wide = {}
    for name, path in _pages(filled).items():
        page.goto(live_server.url + path)
        assert page.locator("main").count() == 1, name
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > 390:
            too_wide[name] = width
        screenshot(page, f"long-names-{name}-390")
    assert too_wide == {}, too_wide
