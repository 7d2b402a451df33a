"""``manage.py benchmark import PATH --workers N``: end to end with real workers.

Every photo of PATH is uploaded as a member's upload would be (checks, storage
in the configured media store, a task sent after commit) into a scratch
database, and real Celery worker processes (``celery worker``, prefork, one
process per photo at a time) decode, detect, embed and recognise them. The
clock runs from the first upload to the moment the last photo is processed and
recognised and the workers are idle. The same run is made with one worker
process and with N, so the scaling is a ratio from one run.

``--megapixels M`` re-encodes every photo at about M megapixels first (up or
down, JPEG quality 92), so small test photos cost what a camera's do.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import override_settings
from PIL import Image, ImageOps

from devtools.benchmarks.pipeline import _photos
from devtools.benchmarks.scratch import scratch_database
from photosite.celery import app
from tagging.models import Album, Face, Photo
from tagging.services.uploads import UploadRejected, photo_upload

_SETTLED = (Photo.Status.DONE, Photo.Status.FAILED)


def _reencode(files: list[Path], megapixels: float | None, folder: Path, copies: int = 1) -> list[Path]:
    """Each photo at about ``megapixels`` (or its own size), ``copies`` times over: the
    copies differ in their JPEG comment, so each is a new photo to the site (another
    content hash), with the same pixels."""
    out = []
    for copy in range(copies):
        for index, file in enumerate(files):
            with Image.open(file) as image:
                image = ImageOps.exif_transpose(image).convert("RGB")
                if megapixels:
                    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
                    size = (round(image.width * scale), round(image.height * scale))
                    image = image.resize(size, Image.Resampling.LANCZOS)
                target = folder / f"{copy:03d}_{index:03d}_{file.stem}.jpg"
                image.save(target, quality=92, comment=f"benchmark copy {copy}")
            out.append(target)
    return out


@contextlib.contextmanager
def _scratch_bucket_folder(label: str):
    """With media in a bucket, a folder of the run's own in it, deleted afterwards
    (the scratch database's media folder does the same for local files).
    Yields the variables that point the workers at it."""
    media = settings.STORAGES["default"]
    options = media.get("OPTIONS", {})
    if "bucket_name" not in options:
        yield {}
        return
    location = "/".join(part for part in [options.get("location", "").strip("/"), label] if part)
    storages = {**settings.STORAGES, "default": {**media, "OPTIONS": {**options, "location": location}}}
    with override_settings(STORAGES=storages):
        try:
            yield {"S3_LOCATION": location}
        finally:
            default_storage.bucket.objects.filter(Prefix=f"{location}/").delete()


def _worker_env(queue: str, media: Path, extra: dict[str, str]) -> dict[str, str]:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    user, host = quote(db["USER"], safe=""), quote(db["HOST"], safe="")
    url = f"postgres://{user}{password}@{host}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": app.conf.broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "MEDIA_ROOT": str(media),
        **extra,
    }


def _start_workers(count: int, queue: str, media: Path, extra: dict, log: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "celery", "-A", "photosite", "worker", "--pool", "prefork"]
    args += ["--concurrency", str(count), "--queues", queue, "--loglevel", "WARNING", "--without-heartbeat"]
    args += ["--without-gossip", "--without-mingle", "--hostname", _hostname(count)]
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            cwd=settings.BASE_DIR,
            env=_worker_env(queue, media, extra),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc (Linux)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (every process, every core) since boot."""
    try:
        values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return float("nan")
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _queued(queue: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


def _hostname(count: int) -> str:
    return f"benchmark-{os.getpid()}-{count}@{socket.gethostname()}"


def _idle(queue: str, hostname: str) -> bool:
    """Nothing queued and nothing running on the benchmark's workers."""
    if _queued(queue):
        return False
    # One worker to hear from: the answer comes as soon as it replied, instead
    # of after the whole timeout, which would be counted as work.
    inspector = app.control.inspect(destination=[hostname], timeout=5.0, limit=1)
    for answer in (inspector.active(), inspector.reserved(), inspector.scheduled()):
        if answer is None or any(answer.values()):
            return False
    return True


def _wait(ids: list[int], queue: str, hostname: str, worker: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if worker.poll() is not None:
            raise RuntimeError(f"the workers exited with {worker.returncode}")
        settled = Photo.objects.filter(pk__in=ids, status__in=_SETTLED).count()
        if settled == len(ids) and _idle(queue, hostname):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(ids) - settled} photos not processed after {seconds} s")
        time.sleep(0.1)


def _one_run(files: list[Path], workers: int, log: Path) -> dict:
    queue = f"photosite-benchmark-{os.getpid()}-{workers}"
    previous_queue = app.conf.task_default_queue
    hostname = _hostname(workers)
    with (
        scratch_database(label=f"import{workers}") as media,
        _scratch_bucket_folder(f"scratch-import-{os.getpid()}-{workers}") as extra,
    ):
        owner = get_user_model().objects.create_user(username="benchmark")
        app.conf.task_default_queue = queue
        worker = _start_workers(workers, queue, media, extra, log)
        try:
            # Warm-up: every pool process loads its models and takes a photo
            # before the clock starts (a worker that starts mid-run would be
            # timed loading models, not working).
            warm = Album.objects.create(owner=owner, title="warm-up")
            warm_ids = []
            for file in files[:workers]:
                with file.open("rb") as source:
                    warm_ids.append(
                        photo_upload(album=warm, uploader=owner, source=source, name=file.name).pk
                    )
            _wait(warm_ids, queue, hostname, worker, seconds=600)

            album = Album.objects.create(owner=owner, title="import")
            cpu_before, busy_before = _tree_cpu_seconds(worker.pid), _machine_busy_seconds()
            started = time.perf_counter()
            ids, rejected = [], 0
            for file in files:
                with file.open("rb") as source:
                    try:
                        ids.append(
                            photo_upload(album=album, uploader=owner, source=source, name=file.name).pk
                        )
                    except UploadRejected:
                        rejected += 1  # a duplicate in the folder, as a member's upload would be told
            uploaded = time.perf_counter() - started
            _wait(ids, queue, hostname, worker, seconds=3600)
            elapsed = time.perf_counter() - started
            worker_cpu = _tree_cpu_seconds(worker.pid) - cpu_before
            machine_busy = _machine_busy_seconds() - busy_before
            done = Photo.objects.filter(pk__in=ids, status=Photo.Status.DONE).count()
            faces = Face.objects.filter(photo_id__in=ids).count()
        finally:
            worker.terminate()
            worker.wait(timeout=120)
            app.conf.task_default_queue = previous_queue
    return {
        "workers": workers,
        "photos": len(ids),
        "rejected": rejected,
        "done": done,
        "faces": faces,
        "seconds": round(elapsed, 2),
        "upload_seconds": round(uploaded, 2),
        "photos_per_second": round(len(ids) / elapsed, 3),
        "seconds_per_photo": round(elapsed / len(ids), 3),
        # Cores in use on average while the clock ran: by the worker processes,
        # and by the whole machine (the database and anything else running).
        # On a shared machine the second figure says how much room was left.
        "worker_busy_cores": round(worker_cpu / elapsed, 2),
        "machine_busy_cores": round(machine_busy / elapsed, 2),
        "cores": os.cpu_count(),
    }


def run(
    path: Path, *, workers: int, megapixels: float | None, as_json: bool, stdout, copies: int = 1
) -> dict:
    """``copies`` above 1 uploads the folder that many times over (``_reencode``):
    runs of a few seconds vary by a tenth or more in their ratio, longer ones less."""
    files = _photos(path)
    if not files:
        raise SystemExit(f"no photos in {path}")
    with tempfile.TemporaryDirectory(prefix="photosite-import-") as folder:
        folder = Path(folder)
        if megapixels or copies > 1:
            files = _reencode(files, megapixels, folder, copies)
        pixels = []
        for file in files:
            with Image.open(file) as image:
                pixels.append(image.width * image.height / 1e6)
        log = folder / "workers.log"
        runs = [_one_run(files, count, log) for count in sorted({1, workers})]
    report = {
        "path": str(path),
        "megapixels": {
            "asked": megapixels,
            "median": round(sorted(pixels)[len(pixels) // 2], 1),
            "max": round(max(pixels), 1),
        },
        "copies": copies,
        "storage": settings.STORAGES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "runs": runs,
    }
    if len(runs) == 2:
        report["scaling"] = round(runs[1]["photos_per_second"] / runs[0]["photos_per_second"], 3)
    if as_json:
        stdout.write(json.dumps(report, indent=2))
    else:
        for result in runs:
            stdout.write(
                f"{result['workers']} worker process(es): {result['photos']} photos ({result['done']} done, "
                f"{result['faces']} faces) in {result['seconds']} s: {result['photos_per_second']} photos/s, "
                f"{result['seconds_per_photo']} s per photo"
            )
        if "scaling" in report:
            stdout.write(f"scaling 1 -> {workers} worker processes: {report['scaling']}x")
    return report
