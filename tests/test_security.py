"""Production settings, security headers, login throttling, no public media."""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.urls import resolve
from django.urls.exceptions import Resolver404

ROOT = Path(__file__).resolve().parent.parent


def _as_compose_sets_it(value) -> str:
    """``${NAME:-default}`` as compose fills it in with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def test_check_deploy_is_clean_with_the_compose_settings():
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["environment"]
    env = {name: _as_compose_sets_it(value) for name, value in web.items()}
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["ALLOWED_HOSTS"] = "photos.example.org"
    env["CSRF_TRUSTED_ORIGINS"] = "https://photos.example.org"
    env["DATABASE_URL"] = "postgres://photosite:secret@127.0.0.1:1/photosite"  # not contacted by check
    env["MEDIA_ROOT"] = str(ROOT / "var" / "deploy-check-media")
    env["DEEPFACE_HOME"] = str(ROOT / "var" / "deploy-check-deepface")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE (see conftest) is no production setting.
        env={
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            **{k: str(v) for k, v in env.items()},
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_pages_send_security_headers(client):
    response = client.get("/accounts/login/")

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_logins_are_throttled_with_a_cool_off(client, member, settings):
    from axes.models import AccessAttempt
    from django.db.models import F

    # The site's own cool-off; the clock is moved by moving the attempts back,
    # not by sleeping (five password hashes on a loaded machine outlasted a
    # short real cool-off, and the lock was gone before it was checked).
    cool_off = settings.AXES_COOLOFF_TIME
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 429

    locked = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session

    AccessAttempt.objects.update(attempt_time=F("attempt_time") - cool_off + timedelta(seconds=5))
    still = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert still.status_code == 429  # 5 s of the cool-off left

    # A try while locked out starts the cool-off again (axes counts it as a failure).
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - cool_off - timedelta(seconds=1))
    after = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert after.status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


def test_uploaded_files_have_no_public_url(settings):
    with pytest.raises(Resolver404):
        resolve(f"{settings.MEDIA_URL}originals/ab/abcdef")
    assert not settings.MEDIA_URL.startswith("/static")
