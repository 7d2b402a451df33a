"""Keep the parts of a one-machine site running: restart what dies, stop all on request.

``bin/photosite serve`` (tagging/management/commands/serve.py) hands this the
embedded PostgreSQL and Redis and the web and worker processes. A part that
dies is started again at once, then after 1, 2, 4 ... 30 s while it keeps
dying within a minute of its start; each death is logged with its reason. One
part dying leaves the others alone. Only SIGINT (Ctrl-C) or SIGTERM stops
everything.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("photosite.supervisor")

POLL_SECONDS = 0.25
# A part that ran this long before dying starts again at once; sooner, it backs off.
STABLE_SECONDS = 60
BACKOFF_MAX_SECONDS = 30
STOP_GRACE_SECONDS = 15


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the supervisor itself is killed
    (SIGKILL cannot be caught), so no web server outlives it holding the port."""
    with contextlib.suppress(OSError, AttributeError):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Part:
    """Something the supervisor keeps alive. Subclasses say how to start, check and stop it."""

    name = "part"

    def __init__(self) -> None:
        self.started_at = 0.0
        self.failures = 0
        self.restart_at: float | None = None

    def start(self) -> None:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def death(self) -> str:
        """Why it is not alive, in words for the log."""
        raise NotImplementedError

    def stop(self) -> None:
        """Ask it to stop (no wait)."""

    def wait(self, deadline: float) -> None:
        """Wait until it stopped, killing it at ``deadline``."""


class ChildProcess(Part):
    """A process the supervisor runs itself (gunicorn, the Celery worker)."""

    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str]):
        super().__init__()
        self.name, self.argv, self.cwd, self.env = name, argv, cwd, env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        # A session of its own: Ctrl-C reaches only the supervisor, which then
        # stops each child once, in order (a second SIGINT would make Celery
        # abandon its tasks).
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )
        logger.info("%s started (pid %s)", self.name, self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def death(self) -> str:
        code = self.process.returncode if self.process else None
        if code is None:
            return "was not started"
        if code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with status {code}"

    def stop(self) -> None:
        # To the main process only: gunicorn's master and Celery's main process
        # each stop their own children in order (a Celery pool process signalled
        # directly would drop its task).
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time; killing it", self.name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class EmbeddedServer(Part):
    """An embedded server (see photosite/embedded.py). It runs in the background
    and is shared through leases, so it is watched by its pid and started again
    through the same code that first started it."""

    def __init__(self, name: str, *, pid: Callable[[], int | None], ensure_running: Callable[[], bool]):
        super().__init__()
        self.name, self._pid, self._ensure_running = name, pid, ensure_running
        self.last_pid: int | None = None

    def start(self) -> None:
        self._ensure_running()
        pid = self._pid()
        if pid is None:
            # PostgreSQL refuses to start while its killed predecessor is still
            # a zombie (its pid still "exists"): tried again after a backoff.
            raise RuntimeError("it did not come up")
        self.last_pid = pid
        logger.info("%s running (pid %s)", self.name, pid)

    def alive(self) -> bool:
        pid = self._pid()
        if pid is not None:
            self.last_pid = pid
        return pid is not None

    def death(self) -> str:
        return f"is no longer running (its process {self.last_pid} is gone)"


class Supervisor:
    def __init__(self, parts: list[Part]):
        self.parts = parts
        self.stopping = False

    def _request_stop(self, signum, frame) -> None:
        if not self.stopping:
            logger.info("%s received: stopping", signal.Signals(signum).name)
        self.stopping = True

    def run(self, *, started: Callable[[], None] | None = None) -> None:
        """Start every part in order, keep them alive until SIGINT or SIGTERM, then stop them."""
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        for part in self.parts:
            self._start(part)
        if started:
            started()
        while not self.stopping:
            for part in self.parts:
                if self.stopping:
                    break
                self._tend(part)
            time.sleep(POLL_SECONDS)
        self.stop()

    def _start(self, part: Part) -> None:
        part.started_at = time.monotonic()
        try:
            part.start()
        except Exception as error:  # whatever stopped it from starting, it is tried again
            logger.error("%s could not start: %s", part.name, error)
            self._schedule(part)
        else:
            part.restart_at = None

    def _tend(self, part: Part) -> None:
        now = time.monotonic()
        if part.restart_at is None:
            if part.alive():
                return
            logger.error("%s %s; starting it again", part.name, part.death())
            self._schedule(part)
        if part.restart_at is not None and now >= part.restart_at:
            self._start(part)

    def _schedule(self, part: Part) -> None:
        now = time.monotonic()
        if now - part.started_at >= STABLE_SECONDS:
            part.failures = 0
        delay = 0.0 if part.failures == 0 else min(BACKOFF_MAX_SECONDS, 2.0 ** (part.failures - 1))
        part.failures += 1
        if delay:
            logger.warning("%s keeps dying: next start in %.0f s", part.name, delay)
        part.restart_at = now + delay

    def stop(self) -> None:
        """Children in reverse order of start (web first, so no request meets a
        stopped worker's queue); embedded servers stop by their leases when the
        process that holds them exits."""
        for part in reversed(self.parts):
            part.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for part in reversed(self.parts):
            part.wait(deadline)
        logger.info("stopped")
