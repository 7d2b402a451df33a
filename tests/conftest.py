"""Shared fixtures. Tests run against the real embedded (or configured) PostgreSQL
with pgvector and Redis, and a real Celery worker; nothing is faked."""

import os
from pathlib import Path

import pytest

FACES_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "faces"


def pytest_configure(config):
    from django.conf import settings

    from photosite.celery import app

    # Django's advice for tests: a fast hasher. PBKDF2's 1,000,000 rounds took
    # about a second per login or new member on a loaded 2-core machine, and the
    # suite makes hundreds. The served site (`bin/photosite serve` in
    # tests/served.py) runs its own settings, with the real hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from photosite.queues import worker_queues

    # A queue of this test run alone: a development worker on the same Redis
    # must not take the tests' tasks (it would run them against the wrong database).
    app.conf.task_default_queue = f"photosite-test-{os.getpid()}"
    app.conf.task_queues = worker_queues(app.conf.task_default_queue)
    # Workers started in a thread of the tests share the test database with
    # tests that count photos and rows: no heartbeat rows, no sweep of pending
    # photos at connect. The tests of `bin/photosite serve` run real worker
    # processes, with both.
    app.conf.photosite_heartbeat = False
    app.conf.photosite_sweep_on_connect = False


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """A test database of this run's own: several test runs (and the site) may
    share the embedded server, and must not drop each other's databases."""
    from django.db import connections

    for connection in connections.all():
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"test_photosite_{os.getpid()}"


@pytest.fixture(scope="session", autouse=True)
def static_files(tmp_path_factory):
    """Static files by their plain names. The live server of the browser tests
    serves them from the source folders (Django's static handler), where no
    hashed name exists; the hashed, compressed files of production are tested
    on `bin/photosite serve` itself (tests/test_serve.py)."""
    from django.conf import settings
    from django.test import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # An empty STATIC_ROOT: whitenoise warns about a missing one.
    with override_settings(STORAGES=storages, STATIC_ROOT=tmp_path_factory.mktemp("static")):
        yield


@pytest.fixture
def served_var():
    """A clean var/ for a run of `bin/photosite serve` (its parent folder for
    any other PostgreSQL of a test's own). Not under pytest's tmp_path: the
    embedded PostgreSQL runs as another user, and other pytest sessions on the
    machine reset /tmp/pytest-of-<user> to owner-only, which locks it out of
    its own data folder mid-test (pg_ctl stop then fails)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="photosite-serve-"))
    folder.chmod(0o755)
    yield folder / "var"
    if not os.environ.get("KEEP_SERVED_VAR"):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not FACES_DIR.is_dir():
        pytest.fail(f"test photos not found at {FACES_DIR}")
    return FACES_DIR


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker, in a thread of this process, consuming from Redis.

    Its tasks use their own database connections, so tests using it must let
    their writes commit (``transactional_db``).
    """
    from celery.contrib.testing.worker import start_worker

    from photosite.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test writes its files to a folder of its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def detections(faces_dir):
    """Every fixture's faces, largest first, found once for the whole session."""
    import csv

    import numpy as np
    from django.conf import settings
    from PIL import Image, ImageOps

    from tagging.faces import engine as face_engine

    found = {}
    with open(faces_dir / "faces.csv") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        image = ImageOps.exif_transpose(Image.open(faces_dir / row["file"])).convert("RGB")
        image.thumbnail((settings.FACE_MAX_SIDE, settings.FACE_MAX_SIDE))
        faces = face_engine.faces_detect(
            image=np.asarray(image),
            model_name="Dlib",
            detector=settings.FACE_DETECTOR,
            home=settings.DEEPFACE_HOME,
        )
        faces.sort(key=lambda f: f.w * f.h, reverse=True)
        found[row["file"]] = (image.size, faces, row["people"].split(";"))
    return found


@pytest.fixture
def library(member, detections):
    from django.db import connection

    from tests.library import Library

    if not connection.in_atomic_block:
        # Rows of earlier tests that were rolled back stay in the HNSW indexes
        # until a vacuum, and spend the candidates of an approximate search (as
        # deleted faces do on a live site until autovacuum). Tests that judge
        # suggestions start from clean indexes.
        with connection.cursor() as cursor:
            # ANALYZE too: a bare VACUUM of an emptied table records 0 rows, which
            # misleads the planner about the rows the test is about to add.
            cursor.execute("VACUUM ANALYZE tagging_face")
    return Library(member, detections)


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="correct horse battery")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; `bin/photosite test` installs Debian's chromium")
    # Playwright's sync API runs an event loop in this thread; Django would
    # otherwise refuse the ORM calls the tests make between browser steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    # Every page the test visited lived within the site's content security policy.
    assert violations == []


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One real SeaweedFS server (S3 gateway) for the session's storage tests."""
    from tests.seaweed import SeaweedServer

    server = SeaweedServer(tmp_path_factory.mktemp("seaweed"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_media(seaweed, settings):
    """Media in a bucket of this test's own on the real SeaweedFS server, exactly
    as ``S3_BUCKET`` and friends configure it."""
    import uuid

    bucket = f"test-{uuid.uuid4().hex[:12]}"
    seaweed.client().create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": seaweed.storage_settings(bucket)}
    return bucket
