"""Members join by invitation, in headless Chromium against the live site."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tagging.models import Invitation
from tests.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a new member's long password 3"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="olga", password=PASSWORD, is_staff=True)


def _sign_up(page, link: str, username: str, email: str = "") -> None:
    page.goto(link)
    page.fill("#id_username", username)
    if email:
        page.fill("#id_email", email)
    page.fill("#id_password1", NEW_PASSWORD)
    page.fill("#id_password2", NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()


def test_a_new_member_joins_with_an_invitation_link_once(
    live_server, browser, page, staff, django_user_model
):
    site = live_server.url
    log_in(page, site, "olga", PASSWORD)
    page.get_by_role("link", name="Invitations").click()
    page.fill("#id_email", "nadia@example.org")
    page.get_by_role("button", name="Create invitation link").click()
    expect(page.locator(".messages")).to_contain_text("Invitation created")
    link = page.locator(".invitation.state-open .invitation-link").first.input_value()
    assert link.startswith(f"{site}/accounts/invitation/")
    screenshot(page, "invitations-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "invitations-390")

    # The new person, in a browser of their own.
    newcomer = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    newcomer.goto(f"{site}/accounts/login/")
    expect(newcomer.locator(".how-to-join")).to_contain_text("invitation link")
    _sign_up(newcomer, link, "nadia", email="someone.else@example.org")
    expect(newcomer.locator(".errorlist")).to_contain_text("for another e-mail address")
    screenshot(newcomer, "invitation-signup-390")
    _sign_up(newcomer, link, "nadia", email="Nadia@example.org")
    newcomer.wait_for_url(f"{site}/")
    expect(newcomer.locator(".account summary")).to_have_text("nadia")  # logged in
    nadia = django_user_model.objects.get(username="nadia")
    assert not nadia.is_staff and nadia.check_password(NEW_PASSWORD)
    newcomer.context.close()

    # The link works once.
    second = browser.new_context().new_page()
    response = second.goto(link)
    assert response.status == 404
    expect(second.locator("h1")).to_have_text("This invitation cannot be used")
    assert second.locator("#id_username").count() == 0
    second.context.close()

    # The staff page says who used it.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    expect(page.locator(".invitation.state-used")).to_contain_text("Used by nadia")
    screenshot(page, "invitations-used-1280")
    assert django_user_model.objects.filter(username="nadia").count() == 1


def test_an_expired_link_and_sign_up_without_one_are_refused_in_plain_words(
    live_server, page, staff, django_user_model
):
    site = live_server.url
    expired = Invitation.objects.create(
        token="expired-token-for-the-test", created_by=staff, expires_at=timezone.now() - timedelta(minutes=1)
    )

    response = page.goto(f"{site}{expired.get_absolute_url()}")
    assert response.status == 404
    expect(page.locator("main")).to_contain_text("The link has expired, was used already")
    screenshot(page, "invitation-expired-1280")

    response = page.goto(f"{site}/accounts/signup/")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Sign-up is by invitation")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "signup-by-invitation-390")
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["olga"]


def test_the_invitations_page_does_not_exist_for_members_who_are_not_staff(client, member):
    client.force_login(member)

    assert client.get("/staff/invitations/").status_code == 404
    assert client.post("/staff/invitations/", {"email": "", "days": 3}).status_code == 404
    assert not Invitation.objects.exists()
