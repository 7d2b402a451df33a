"""Web processes never load the face models: find-by-face's dropped photo is
embedded by a worker, and the page says so plainly when none answers."""

import subprocess
import sys
from pathlib import Path

from tagging.models import Album, Photo
from tests.library import processed_photo

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("deepface", "dlib", "onnxruntime", "tensorflow", "tf_keras")

_WEB_PROCESS = """
import importlib, pkgutil, sys
import django
django.setup()
import photosite, tagging
from django.urls import get_resolver
# Every module of the site (views, admin, tasks, services, commands), as a web
# process might import them, and every URL resolved.
for package in (photosite, tagging):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
get_resolver().url_patterns
# Find-by-face matches in the web process, with the threshold of any face model.
from tagging.services import thresholds
for model_name in thresholds.PUBLISHED_THRESHOLDS:
    thresholds.match_threshold(model_name), thresholds.cluster_max_distance(model_name)
print(" ".join(sorted(name for name in {models!r} if name in sys.modules)))
"""

_WORKER_START = """
import sys
import django
django.setup()
from tagging.services import detection
detection.models_load()
print(" ".join(sorted(name for name in {models!r} if name in sys.modules)))
"""


def test_a_web_process_loads_every_view_without_the_models():
    script = _WEB_PROCESS.format(models=MODELS)
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()

    assert loaded == []


def test_the_control_a_worker_process_does_load_them():
    """The check above would see them: a worker's start loads them."""
    script = _WORKER_START.format(models=MODELS)
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    ).stdout.split()

    assert {"deepface", "dlib", "onnxruntime"} <= set(loaded)


def test_find_by_face_without_a_worker_says_so_and_keeps_nothing(
    client, member, faces_dir, media_root, monkeypatch, transactional_db
):
    from tagging.views import search

    monkeypatch.setattr(search, "PROBE_TIMEOUT", 1)
    album = Album.objects.create(owner=member, title="Find")
    processed_photo(album, faces_dir, "people/joe_biden/joe_biden_2.jpg")
    stored_before = sorted(p.name for p in media_root.rglob("*") if p.is_file())
    client.force_login(member)

    with (faces_dir / "people/joe_biden/joe_biden_1.jpg").open("rb") as dropped:
        page = client.post("/search/face/", {"photo": dropped}).content.decode()

    assert "the workers are busy; try again in a minute" in page
    assert sorted(p.name for p in media_root.rglob("*") if p.is_file()) == stored_before
    assert Photo.objects.count() == 1


def test_find_by_face_refuses_a_broken_file_without_asking_a_worker(client, member, monkeypatch):
    from tagging import queue

    def no_worker(**kwargs):
        raise AssertionError("a file that does not decode went to the workers")

    monkeypatch.setattr(queue, "face_probe", no_worker)
    client.force_login(member)

    page = client.post("/search/face/", {"photo": _upload(b"\xff\xd8\xff\xe0 not really a jpeg")})

    assert page.status_code == 200
    assert '<p class="error">' in page.content.decode()


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("broken.jpg", data, content_type="image/jpeg")
