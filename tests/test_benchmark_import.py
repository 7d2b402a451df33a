"""``manage.py benchmark import`` with real worker processes that know the site
only by DATABASE_URL, CELERY_BROKER_URL and the S3 variables."""

import json
import shutil
from io import StringIO

import pytest
from django.core.management import call_command

from tests.seaweed import ACCESS_KEY, SECRET_KEY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PHOTOS = [
    "people/joe_biden/joe_biden_1.jpg",
    "people/kit_harington/kit_harington_1.jpg",
    "people/rose_leslie/rose_leslie_1.jpg",
]


def test_it_imports_through_worker_processes_that_read_the_photos_from_the_bucket(
    tmp_path, faces_dir, seaweed, s3_media, monkeypatch, django_db_blocker
):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in PHOTOS:
        shutil.copy(faces_dir / name, folder / name.rsplit("/", 1)[-1])
    # What a worker on another machine gets: no folder of the site's, only these.
    for key, value in {
        "S3_BUCKET": s3_media,
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }.items():
        monkeypatch.setenv(key, value)
    out = StringIO()

    with django_db_blocker.unblock():
        call_command("benchmark", "import", str(folder), "--workers", "2", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert report["storage"] == "PrivateS3Storage"
    assert [run["workers"] for run in report["runs"]] == [1, 2]
    for run in report["runs"]:
        # Every photo processed: the workers' own media folder is empty, so
        # they read each original from the bucket.
        assert run["photos"] == run["done"] == len(PHOTOS)
        assert run["faces"] == len(PHOTOS)
        assert run["photos_per_second"] > 0
        assert run["seconds_per_photo"] == pytest.approx(1 / run["photos_per_second"], rel=0.01)
    assert report["scaling"] == pytest.approx(
        report["runs"][1]["photos_per_second"] / report["runs"][0]["photos_per_second"], rel=0.01
    )
    # The run's folder in the bucket went with its scratch database.
    assert seaweed.keys(s3_media) == []


def test_copies_of_the_folder_are_new_photos_of_the_same_size(tmp_path, faces_dir):
    import hashlib

    from PIL import Image, ImageOps

    from devtools.benchmarks.imports import _reencode

    files = [faces_dir / name for name in PHOTOS]
    copies = _reencode(files, None, tmp_path, copies=3)

    assert len(copies) == 3 * len(files)
    assert len({hashlib.sha256(path.read_bytes()).hexdigest() for path in copies}) == len(copies)
    for position, path in enumerate(copies):
        with Image.open(path) as copy, Image.open(files[position % len(files)]) as original:
            assert copy.size == ImageOps.exif_transpose(original).size
