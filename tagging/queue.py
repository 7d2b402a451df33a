"""Sending work to the workers: the one place services hand tasks to the broker.

Tasks are looked up by name in the Celery app's registry rather than imported:
``tagging.tasks`` imports the services, and a service importing it back would
close a cycle. A broker that is down loses nothing here: each caller says what
catches up later (the sweeper for photos, the next deletion for files).
"""

import logging

from celery import current_app
from celery.exceptions import TimeoutError as ResultTimeout
from kombu.exceptions import OperationalError

from photosite.queues import interactive_queue
from tagging.errors import ActionRefused

logger = logging.getLogger(__name__)


def _task(name: str):
    # Registered in every process when Django starts (tagging.apps).
    return current_app.tasks[f"tagging.tasks.{name}"]


def photo_enqueue(*, photo_id: int) -> None:
    """Send the photo to the workers. With the broker down the photo stays pending,
    and the sweeper sends it again."""
    try:
        _task("process_photo").apply_async(args=[photo_id], retry=False)
    except (OperationalError, OSError):
        logger.warning("broker unavailable; photo %s stays pending for the sweeper", photo_id)


def face_embed_enqueue(*, face_id: int) -> None:
    """Send a drawn face to the workers for its crop and embedding. With the broker
    down it stays a tag without an embedding, which ``manage.py reprocess`` of its
    photo does not change: the member can draw it again.

    On the interactive queue: the member who drew it is on the page, and one
    box costs a fraction of a photo, so it need not wait behind an import."""
    queue = interactive_queue(current_app.conf.task_default_queue)
    try:
        _task("embed_drawn_face").apply_async(args=[face_id], queue=queue, retry=False)
    except (OperationalError, OSError):
        logger.warning("broker unavailable; drawn face %s stays without an embedding", face_id)


def files_delete_later(names: list[str]) -> None:
    """Files a media store that was down could not delete: a task tries again with backoff."""
    logger.warning("media store unavailable; %s files will be deleted later", len(names))
    try:
        _task("delete_files").apply_async(args=[names], countdown=30, retry=False)
    except (OperationalError, OSError):
        logger.error("broker unavailable too; files not deleted: %s", names)


class ProbeUnanswered(ActionRefused):
    """No worker answered a page's request in time; ``str(error)`` says so in plain words."""


def face_probe(*, packed: str, timeout: float) -> list[float] | None:
    """Ask a worker for the embedding of the largest face of a probe photo, and wait for it.

    None when the photo has no face. Raises ProbeUnanswered when the broker is
    down or no worker answers within ``timeout`` seconds; a worker that takes
    the task later drops it (``expires``).
    """
    queue = interactive_queue(current_app.conf.task_default_queue)
    try:
        result = _task("face_probe").apply_async(args=[packed], queue=queue, expires=timeout, retry=False)
    except (OperationalError, OSError):
        raise ProbeUnanswered("the face search cannot reach the workers; try again in a minute") from None
    try:
        return result.get(timeout=timeout)
    except ResultTimeout:
        raise ProbeUnanswered("the workers are busy; try again in a minute") from None
    finally:
        result.forget()
