"""The staff queue page: photos waiting, processing and failed, and a bulk retry."""

import pytest

from tagging.models import Album, Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="olga", password="x" * 20, is_staff=True)


def _photo(album: Album, name: str, status: str, error: str = "") -> Photo:
    return Photo.objects.create(
        album=album,
        uploaded_by=album.owner,
        original=f"originals/{name}",
        content_hash=name.ljust(64, "0"),
        display_name=name,
        status=status,
        error=error,
        attempts=3 if status == Photo.Status.FAILED else 0,
    )


@pytest.fixture
def photos(staff, member):
    shared = Album.objects.create(owner=member, title="Shared", visibility=Album.Visibility.MEMBERS)
    private = Album.objects.create(owner=member, title="Alice's own", visibility=Album.Visibility.PRIVATE)
    return {
        "failed": _photo(shared, "broken.jpg", Photo.Status.FAILED, "the file is truncated"),
        "failed_too": _photo(shared, "timeout.jpg", Photo.Status.FAILED, "took longer than the time limit"),
        "private_failed": _photo(private, "secret-name.jpg", Photo.Status.FAILED, "the file is truncated"),
        "pending": _photo(shared, "waiting.jpg", Photo.Status.PENDING),
        "done": _photo(shared, "fine.jpg", Photo.Status.DONE),
    }


def test_it_shows_staff_the_queue_with_errors_but_not_photos_of_private_albums(client, staff, photos):
    client.force_login(staff)

    page = client.get("/staff/queue/").content.decode()

    assert "broken.jpg" in page and "the file is truncated" in page and "timeout.jpg" in page
    assert "waiting.jpg" in page
    # A private album's photos are neither shown nor counted: not even how many it holds.
    assert "Retry all 2 failed photos" in page
    assert "secret-name.jpg" not in page and "Alice&#x27;s own" not in page


def test_it_retries_the_selected_failed_photos(client, staff, photos):
    client.force_login(staff)

    picked = [photos["failed"].pk, photos["private_failed"].pk, photos["done"].pk]
    response = client.post("/staff/queue/retry/", {"photo": picked})

    assert response.status_code == 302
    statuses = dict(Photo.objects.values_list("display_name", "status"))
    assert statuses["broken.jpg"] == Photo.Status.PENDING
    # Not shown to staff, so not picked one by one; and a done photo is not failed.
    assert statuses["secret-name.jpg"] == statuses["timeout.jpg"] == Photo.Status.FAILED
    assert statuses["fine.jpg"] == Photo.Status.DONE
    retried = Photo.objects.get(pk=photos["failed"].pk)
    assert retried.attempts == 0 and retried.error == ""


def test_it_retries_every_failed_photo_at_once(client, staff, photos):
    client.force_login(staff)

    client.post("/staff/queue/retry/", {"all": "1"})

    # Every failed photo staff may see; the private album's is its owner's to retry.
    assert list(Photo.objects.filter(status=Photo.Status.FAILED)) == [photos["private_failed"]]
    assert Photo.objects.filter(status=Photo.Status.PENDING).count() == 3


def test_it_does_not_exist_for_members_who_are_not_staff(client, member, photos):
    client.force_login(member)

    assert client.get("/staff/queue/").status_code == 404
    assert client.post("/staff/queue/retry/", {"all": "1"}).status_code == 404
    assert Photo.objects.filter(status=Photo.Status.FAILED).count() == 3


def test_it_rejects_get_on_retry(client, staff, photos):
    client.force_login(staff)

    assert client.get("/staff/queue/retry/").status_code == 405


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_retry_failed_photos_from_the_queue_page_in_a_browser(live_server, page, staff, photos):
    from playwright.sync_api import expect

    from tests.browser import log_in, screenshot

    log_in(page, live_server.url, "olga", "x" * 20)
    page.get_by_role("link", name="Queue").click()
    expect(page.locator(".queue-row")).to_have_count(3)  # two failed, one waiting; the private one unlisted
    screenshot(page, "queue-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "queue-390")

    page.get_by_label("Select broken.jpg").check()
    page.get_by_role("button", name="Retry the selected photos").click()

    expect(page.locator(".messages")).to_contain_text("1 failed photo sent to be processed again")
    assert Photo.objects.get(pk=photos["failed"].pk).status == Photo.Status.PENDING
