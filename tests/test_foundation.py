"""The base: real PostgreSQL with pgvector, Redis and a Celery worker."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from photosite.celery import app
from tagging.models import Album, Face, Photo
from tagging.selectors import faces_near
from tests.plans import forbid_scans_and_sorts

ROOT = Path(__file__).resolve().parent.parent


def _unit(vector: np.ndarray) -> list[float]:
    return (vector / np.linalg.norm(vector)).tolist()


def _photo(user, title="Holiday") -> Photo:
    album = Album.objects.create(owner=user, title=title)
    return Photo.objects.create(album=album, uploaded_by=user, content_hash="0" * 64, display_name="a.jpg")


@pytest.mark.django_db
def test_it_finds_a_stored_embedding_again_by_cosine_distance(member):
    rng = np.random.default_rng(7)
    photo = _photo(member)
    vectors = rng.normal(size=(50, 128))
    faces = [
        Face.objects.create(photo=photo, x=0.1, y=0.1, w=0.2, h=0.2, model_name="Dlib", embedding=_unit(v))
        for v in vectors
    ]
    target = 17
    query = _unit(vectors[target] + rng.normal(scale=0.05, size=128))

    nearest = faces_near(embedding=query, model_name="Dlib", limit=3)

    assert nearest[0].face_id == faces[target].pk
    assert nearest[0].distance < 0.01
    assert nearest[0].distance < nearest[1].distance


@pytest.mark.django_db
def test_it_never_compares_faces_of_another_model(member):
    photo = _photo(member)
    vector = _unit(np.ones(128))
    Face.objects.create(photo=photo, x=0.1, y=0.1, w=0.2, h=0.2, model_name="Facenet", embedding=vector)

    assert faces_near(embedding=vector, model_name="Dlib", limit=10) == []


@pytest.mark.django_db
def test_the_nearest_face_query_uses_the_hnsw_index(member):
    photo = _photo(member)
    rng = np.random.default_rng(1)
    Face.objects.bulk_create(
        Face(photo=photo, x=0.1, y=0.1, w=0.2, h=0.2, model_name="Dlib", embedding=_unit(vector))
        for vector in rng.normal(size=(200, 128))
    )
    # The query the site runs for grouping, as sent to PostgreSQL, explained again.
    with CaptureQueriesContext(connection) as queries:
        faces_near(embedding=_unit(rng.normal(size=128)), model_name="Dlib", limit=5)
    (sql,) = [q["sql"] for q in queries.captured_queries if "<=>" in q["sql"]]
    with connection.cursor() as cursor:
        forbid_scans_and_sorts(cursor)  # 200 rows: the index must still serve the query
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "face_embedding_dlib_hnsw" in plan, plan


@pytest.mark.django_db
def test_the_database_has_pgvector():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        (version,) = cursor.fetchone()
    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 6)


@app.task(name="tests.rename_album")
def rename_album(album_id: int, title: str) -> None:
    Album.objects.filter(pk=album_id).update(title=title)


def test_a_task_sent_through_redis_runs_on_a_real_worker(celery_worker, member):
    assert app.conf.broker_url.startswith("redis")
    album = Album.objects.create(owner=member, title="Before")

    rename_album.delay(album.pk, "Renamed by the worker")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        album.refresh_from_db()
        if album.title == "Renamed by the worker":
            break
        time.sleep(0.1)
    assert album.title == "Renamed by the worker"


def test_django_checks_and_migrations_are_clean(db):
    call_command("check", fail_level="WARNING")
    # Exits with status 1 when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_secret_key_it_generates_one_readable_by_its_owner_and_keeps_it(tmp_path):
    key_file = tmp_path / "var" / "secret_key"
    env = {
        "SECRET_KEY": "",
        "SECRET_KEY_FILE": str(key_file),
        "DATABASE_URL": "postgres://x@127.0.0.1:1/x",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    }
    show = "from django.conf import settings; import django; django.setup(); print(settings.SECRET_KEY)"
    first = _python(show, {**env, "DJANGO_SETTINGS_MODULE": "photosite.settings"})
    second = _python(show, {**env, "DJANGO_SETTINGS_MODULE": "photosite.settings"})

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == key_file.read_text().strip() == second.stdout.strip()
    assert len(first.stdout.strip()) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_it_rejects_a_boolean_it_cannot_parse():
    result = _python("import photosite.settings", {"DEBUG": "ture"})

    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_embedded_servers_keep_their_data_across_a_restart(tmp_path):
    """Each subprocess is the only user of its servers, so they stop when it exits."""
    env = {"PHOTOSITE_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    write = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'photosite.settings'; django.setup()\n"
        "from django.db import connection; from photosite.celery import app\n"
        "connection.cursor().execute('CREATE TABLE kept (v text); INSERT INTO kept VALUES (%s)', ['photo'])\n"
        "with app.connection_for_write() as c: c.default_channel.client.rpush('kept', 'task')\n"
    )
    read = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'photosite.settings'; django.setup()\n"
        "from django.db import connection; from photosite.celery import app\n"
        "c = connection.cursor(); c.execute('SELECT v FROM kept'); print(c.fetchone()[0])\n"
        "with app.connection_for_write() as k: print(k.default_channel.client.lpop('kept').decode())\n"
    )
    first = _python(write, env)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "var" / "postgres.lease").read_text() == "[]"

    second = _python(read, env)

    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["photo", "task"]


_MADE_BY_PGSERVER_0_1_4 = """
import sys, numpy as np, pgserver, psycopg
server = pgserver.get_server(sys.argv[1], cleanup_mode="stop")
info = server.get_postmaster_info()
at = {"host": str(info.socket_dir), "port": info.port, "user": "postgres", "autocommit": True}
with psycopg.connect(**at, dbname="postgres") as c:
    c.execute("CREATE DATABASE photosite")
with psycopg.connect(**at, dbname="photosite") as c:
    c.execute("CREATE EXTENSION vector; CREATE TABLE kept (id int, e vector(8))")
    for i, v in enumerate(np.random.default_rng(3).normal(size=(300, 8))):
        c.execute("INSERT INTO kept VALUES (%s, %s)", [i, str(v.tolist())])
    c.execute("CREATE INDEX kept_e ON kept USING hnsw (e vector_cosine_ops)")
    print(c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0])
"""

_OPENED_TODAY = """
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "photosite.settings"
django.setup()
from django.db import connection
c = connection.cursor()
def show(sql, *args):
    c.execute(sql, args)
    print(c.fetchone()[0])
show("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
show("SELECT count(*) FROM kept")
c.execute("SELECT e FROM kept WHERE id = 17")
(q,) = c.fetchone()
c.execute("SET enable_seqscan = off")
c.execute("EXPLAIN SELECT id FROM kept ORDER BY e <=> %s LIMIT 3", [q])
print("kept_e" in str(c.fetchall()))
show("SELECT id FROM kept ORDER BY e <=> %s LIMIT 1", q)
show("SELECT e::halfvec(8) <=> %s::halfvec(8) < 0.001 FROM kept WHERE id = 17", q)
"""


def test_a_data_folder_of_the_previous_embedded_server_opens_with_its_vectors_findable(tmp_path):
    """pgserver 0.1.4 (PostgreSQL 16.2, pgvector 0.6.2) made every embedded site
    until now; its folder opens with the embedded server of today, as it is, and
    gets pgvector's update (halfvec among it), so nobody's library is left behind."""
    var = tmp_path / "var"
    var.mkdir()
    made = subprocess.run(
        [sys.executable, "-c", _MADE_BY_PGSERVER_0_1_4, str(var / "postgres")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.split() == ["0.6.2"]
    assert (var / "postgres" / "PG_VERSION").read_text().strip() == "16"

    opened = _python(
        _OPENED_TODAY, {"PHOTOSITE_VAR_DIR": str(var), "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    )

    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.split() == ["0.8.5", "300", "True", "17", "True"]
    assert (var / "postgres" / "PG_VERSION").read_text().strip() == "16"


def test_several_processes_share_the_embedded_servers(db):
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the configured database is not the embedded one")
    # This process holds a lease; a second process joins and leaves, and the
    # server it leaves behind still answers here.
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'photosite.settings'; django.setup()\n"
        "from django.db import connection\n"
        "c = connection.cursor(); c.execute('SELECT 1'); print(c.fetchone()[0])\n"
    )
    result = _python(code, {})
    assert result.returncode == 0, result.stderr

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert str(os.getpid()) in (settings.VAR_DIR / "postgres.lease").read_text()


def test_the_embedded_postgresql_caches_a_quarter_of_memory(db):
    """Searches read the HNSW graphs page by page: at PostgreSQL's default cache
    of 128 MB, a large library's graphs would be read through replacement."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the configured database is not the embedded one")
    from photosite import embedded

    with connection.cursor() as cursor:
        cursor.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")
        (megabytes,) = cursor.fetchone()

    assert megabytes == embedded.shared_buffers_mb()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    assert 128 <= megabytes <= max(128, memory / 4)
