"""The member site in headless Chromium, against the real stack: PostgreSQL with
pgvector, Redis, a real Celery worker and the real face models."""

import re

import pytest
from playwright.sync_api import expect

from tagging.models import Album, Face, Photo
from tests.browser import drop_files, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


@pytest.fixture
def site(live_server, celery_worker):
    return live_server.url


def _new_album(page, site: str, title: str) -> str:
    page.goto(f"{site}/albums/new/")
    page.fill("#id_title", title)
    page.get_by_role("button", name="Create album").click()
    page.wait_for_url(re.compile(r"/albums/\d+/$"))
    return page.url


def _upload(page, faces_dir, names: list[str], extra: list[tuple[str, bytes]] = ()) -> None:
    files = [(name.split("/")[-1], (faces_dir / name).read_bytes()) for name in names] + list(extra)
    drop_files(page, "#upload", files)
    expect(page.locator(".upload-progress .summary")).to_contain_text(
        f"{len(files)} of {len(files)} uploaded", timeout=60_000
    )


def _wait_settled(page, count: int) -> None:
    settled = page.locator("#photos .photo-tile.status-done, #photos .photo-tile.status-failed")
    expect(settled).to_have_count(count, timeout=120_000)


def _photo_url(site: str, album_title: str, name: str) -> str:
    photo = Photo.objects.get(album__title=album_title, display_name=name)
    return f"{site}/photos/{photo.pk}/"


def test_a_member_uploads_an_album_and_sees_faces_and_a_failure(site, page, member, faces_dir):
    log_in(page, site, "alice", PASSWORD)
    _new_album(page, site, "Summer")
    whole = (faces_dir / "people/joe_biden/joe_biden_2.jpg").read_bytes()
    broken = ("broken.jpg", whole[: len(whole) // 3])
    good = [
        "people/barack_obama/barack_obama_1.jpg",
        "groups/barack_obama_and_joe_biden_2.jpg",
        "people/kit_harington/kit_harington_1.jpg",
        "edge/lin_manuel_miranda_rgba.png",
    ]

    _upload(page, faces_dir, good, extra=[broken])
    _wait_settled(page, 5)

    expect(page.locator("#photos .status-done")).to_have_count(4)
    failed = page.locator("#photos .status-failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".reason")).to_contain_text("truncated")
    # A truncated file would fail again: no Retry is offered.
    expect(failed.locator(".reason")).to_contain_text("Processing it again would not help")
    expect(failed.locator("button", has_text="Retry")).to_have_count(0)
    screenshot(page, "album")

    page.goto(_photo_url(site, "Summer", "barack_obama_and_joe_biden_2.jpg"))
    expect(page.locator("svg.boxes rect")).to_have_count(2)
    expect(page.locator(".face-card")).to_have_count(2)
    screenshot(page, "photo-boxes")


def test_a_file_over_the_limit_is_refused_before_sending_in_the_servers_words(
    live_server, page, member, settings
):
    settings.UPLOAD_MAX_BYTES = 2_000_000
    log_in(page, live_server.url, "alice", PASSWORD)
    _new_album(page, live_server.url, "Big")

    drop_files(page, "#upload", [("huge.jpg", b"\xff" * 2_500_000)])

    row = page.locator(".upload-progress .files li.failed")
    expect(row).to_contain_text("huge.jpg")
    expect(row.locator(".note")).to_have_text("too large: 2.5 MB; the limit is 2 MB")
    expect(page.locator(".upload-progress .summary")).to_contain_text("0 of 1 uploaded, 1 not added.")
    assert not Photo.all_objects.filter(album__title="Big").exists()


def test_naming_a_face_brings_a_suggestion_and_a_rejection_sticks(site, page, member, faces_dir):
    log_in(page, site, "alice", PASSWORD)
    _new_album(page, site, "Politics")
    _upload(
        page,
        faces_dir,
        [
            "people/barack_obama/barack_obama_1.jpg",
            "people/barack_obama/barack_obama_2.jpg",
            "people/joe_biden/joe_biden_1.jpg",
            "people/joe_biden/joe_biden_2.jpg",
        ],
    )
    _wait_settled(page, 4)

    # Name a face.
    page.goto(_photo_url(site, "Politics", "barack_obama_1.jpg"))
    card = page.locator(".face-card").first
    card.get_by_label("Who is this?").fill("Barack Obama")
    card.get_by_role("button", name="Save").click()
    expect(page.locator(".face-card .person-name")).to_have_text("Barack Obama")

    # The same person on another photo: suggested, confirmed with one click.
    page.goto(_photo_url(site, "Politics", "barack_obama_2.jpg"))
    expect(page.locator(".face-card .suggestion")).to_have_text("Barack Obama?")
    screenshot(page, "photo-suggestion")
    page.get_by_role("button", name="Yes, Barack Obama").click()
    expect(page.locator(".face-card .person-name")).to_have_text("Barack Obama")
    expect(page.locator(".tagged")).to_contain_text("Barack Obama")

    # A mistaken tag makes a wrong suggestion elsewhere; rejected, it stays gone.
    page.goto(_photo_url(site, "Politics", "joe_biden_1.jpg"))
    card = page.locator(".face-card").first
    card.get_by_label("Who is this?").fill("Kit Harington")
    card.get_by_role("button", name="Save").click()
    page.goto(_photo_url(site, "Politics", "joe_biden_2.jpg"))
    expect(page.locator(".face-card .suggestion")).to_have_text("Kit Harington?")
    page.get_by_role("button", name="Not Kit Harington").click()
    expect(page.locator(".face-card .suggestion")).to_have_count(0)
    page.reload()
    expect(page.locator(".face-card .suggestion")).to_have_count(0)
    expect(page.get_by_label("Who is this?")).to_be_visible()


def test_an_unnamed_group_is_named_on_the_people_page(site, page, member, faces_dir):
    log_in(page, site, "alice", PASSWORD)
    _new_album(page, site, "Set")
    names = [f"people/kit_harington/kit_harington_{i}.jpg" for i in (1, 2, 3)]
    _upload(page, faces_dir, names)
    _wait_settled(page, 3)

    page.goto(f"{site}/people/")
    group = page.locator(".group-tile")
    expect(group).to_have_count(1)
    expect(group.locator(".meta")).to_have_text("3 faces")
    screenshot(page, "people")
    group.get_by_placeholder("Who is this?").fill("Kit Harington")
    group.get_by_role("button", name="Name").click()

    # The face the member saw is tagged; the group's other faces wait to be looked at.
    expect(page.locator("h1")).to_have_text("Kit Harington")
    expect(page.locator(".grid.photos img")).to_have_count(1)
    expect(page.locator("#review-form .face-tile")).to_have_count(2)
    assert Face.objects.filter(person__name="Kit Harington", status=Face.Status.CONFIRMED).count() == 1
    page.locator("#select-all").check()
    page.locator("#review-confirm").click()
    expect(page.locator("#review-form .face-tile")).to_have_count(0)
    page.reload()
    expect(page.locator(".grid.photos img")).to_have_count(3)
    screenshot(page, "person")
    assert Face.objects.filter(person__name="Kit Harington", status=Face.Status.CONFIRMED).count() == 3


def test_another_member_sees_private_photos_only_once_shared(
    site, browser, page, member, faces_dir, django_user_model
):
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    log_in(page, site, "alice", PASSWORD)
    album_url = _new_album(page, site, "Family")
    _upload(page, faces_dir, ["people/rose_leslie/rose_leslie_1.jpg"])
    _wait_settled(page, 1)
    photo = Photo.objects.get(album__title="Family")
    face = photo.faces.get()
    private = [
        album_url,
        f"{site}/photos/{photo.pk}/",
        f"{site}/photos/{photo.pk}/original/",
        f"{site}/photos/{photo.pk}/thumbnail/",
        f"{site}/photos/{photo.pk}/preview/",
        f"{site}/faces/{face.pk}/crop/",
    ]

    bob = browser.new_context().new_page()
    log_in(bob, site, "bob", PASSWORD)
    for url in private:
        assert bob.goto(url).status == 404, url
    missing = bob.goto(f"{site}/photos/{photo.pk + 1000}/")
    assert missing.status == 404

    page.goto(album_url)
    page.locator(".album-settings summary").click()
    page.get_by_label("All members").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Album saved")
    assert Album.objects.get(title="Family").visibility == Album.Visibility.MEMBERS

    assert bob.goto(album_url).status == 200
    expect(bob.locator("#photos .photo-tile")).to_have_count(1)
    for url in private[1:]:
        assert bob.goto(url).status == 200, url
    bob.context.close()


def test_an_admin_merges_two_people_and_the_kept_person_lists_both_photos(
    live_server, page, faces_dir, django_user_model
):
    from django.core.files.base import ContentFile

    from tagging.services import faces as face_actions
    from tagging.services import pipeline

    admin = django_user_model.objects.create_user(
        username="admin", password=PASSWORD, is_staff=True, is_superuser=True
    )
    album = Album.objects.create(owner=admin, title="Speeches", visibility=Album.Visibility.MEMBERS)
    people = []
    for index, (name, label) in enumerate(
        [
            ("people/barack_obama/barack_obama_1.jpg", "Barack Obama"),
            ("people/barack_obama/barack_obama_2.jpg", "B. Obama"),
        ]
    ):
        photo = Photo(album=album, uploaded_by=admin, display_name=name, content_hash=str(index) * 64)
        photo.original.save("x", ContentFile((faces_dir / name).read_bytes()), save=False)
        photo.save()
        pipeline.photo_process(photo_id=photo.pk)
        face = face_actions.face_tag_new_person(face=photo.faces.get(), name=label)
        people.append(face.person)
    keep, merged = people

    log_in(page, live_server.url, "admin", PASSWORD)
    page.goto(f"{live_server.url}/admin/tagging/person/")
    for person in people:
        page.locator(f'input[name="_selected_action"][value="{person.pk}"]').check()
    page.select_option('select[name="action"]', "merge_people")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("h1")).to_contain_text("Merge")
    screenshot(page, "admin-merge")
    page.locator(f"#keep-{keep.pk}").check()
    page.get_by_role("button", name="Merge into the person chosen").click()
    expect(page.locator(".messagelist")).to_contain_text("Merged")

    page.goto(f"{live_server.url}/people/{keep.pk}/")
    expect(page.locator("h1")).to_have_text("Barack Obama")
    expect(page.locator(".grid.photos img")).to_have_count(2)
    screenshot(page, "person-after-merge")
    assert not type(merged).objects.filter(pk=merged.pk).exists()


def test_this_is_me_waits_for_staff_who_approve_it(
    live_server, page, browser, member, django_user_model, faces_dir
):
    from django.core.files.base import ContentFile

    from tagging.services import faces as face_actions
    from tagging.services import pipeline

    django_user_model.objects.create_user(username="admin", password=PASSWORD, is_staff=True)
    album = Album.objects.create(owner=member, title="Family", visibility=Album.Visibility.MEMBERS)
    name = "people/rose_leslie/rose_leslie_1.jpg"
    photo = Photo(album=album, uploaded_by=member, display_name="rose.jpg", content_hash="r" * 64)
    photo.original.save("x", ContentFile((faces_dir / name).read_bytes()), save=False)
    photo.save()
    pipeline.photo_process(photo_id=photo.pk)
    rose = face_actions.face_tag_new_person(face=photo.faces.get(), name="Rose Leslie").person

    log_in(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}/people/{rose.pk}/")
    page.get_by_role("button", name="This is me").click()
    expect(page.locator(".messages")).to_contain_text("Asked staff to confirm")
    expect(page.locator("main")).to_contain_text("Staff check that before anything changes")
    screenshot(page, "account-claim-waiting")

    staff_context = browser.new_context(viewport={"width": 1280, "height": 900})
    staff_page = staff_context.new_page()
    log_in(staff_page, live_server.url, "admin", PASSWORD)
    staff_page.get_by_role("link", name="Requests").click()
    expect(staff_page.locator(".claim")).to_contain_text("alice says they are Rose Leslie")
    expect(staff_page.locator(".claim img")).to_have_count(1)
    screenshot(staff_page, "claims")
    staff_page.set_viewport_size({"width": 390, "height": 844})
    screenshot(staff_page, "claims-phone")
    staff_page.get_by_role("button", name="Link them").click()
    expect(staff_page.locator(".messages")).to_contain_text("alice linked")
    staff_context.close()

    page.reload()
    expect(page.locator("main")).to_contain_text("Your account is linked to Rose Leslie")
    screenshot(page, "account-linked")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "account-linked-phone")
