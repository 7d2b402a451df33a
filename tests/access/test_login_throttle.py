"""Login throttling behind the proxy keys on the address the proxy saw."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


# --- Login throttling behind the proxy ---------------------------------------------


def _login(client: Client, address: str, password: str, forged: str = ""):
    # What nginx sends: whatever the client claimed, then the address it saw.
    forwarded = f"{forged}, {address}" if forged else address
    return client.post(
        reverse("login"),
        {"username": "alice", "password": password},
        REMOTE_ADDR="172.18.0.5",
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_behind_the_proxy_one_locked_out_client_does_not_lock_out_another(member, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker, alice = Client(), Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(attacker, "203.0.113.9", "wrong")

    assert _login(attacker, "203.0.113.9", "correct horse battery").status_code == 429
    assert _login(alice, "198.51.100.7", "correct horse battery").status_code == 302


def test_a_forged_forwarded_address_neither_bypasses_the_lock_nor_locks_out_another(member, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker, alice = Client(), Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        # Each try claims to come from Alice's address.
        _login(attacker, "203.0.113.9", "wrong", forged="198.51.100.7")

    assert _login(attacker, "203.0.113.9", "correct horse battery", forged="192.0.2.1").status_code == 429
    assert _login(alice, "198.51.100.7", "correct horse battery").status_code == 302


def test_without_a_proxy_the_forwarded_header_is_ignored(member, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post(
            reverse("login"),
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR="198.51.100.7",
        )

    fresh_header = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "192.0.2.44"}
    response = attacker.post(
        reverse("login"), {"username": "alice", "password": "correct horse battery"}, **fresh_header
    )
    assert response.status_code == 429
