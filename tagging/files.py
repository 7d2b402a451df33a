"""Deleting stored files: originals, derivatives and crops, in whatever storage holds them.

A file goes only once the deletion of its row is committed, so a rolled-back
transaction never leaves a row pointing at nothing. Files a store that is down
could not delete are deleted later by a task that tries again with backoff,
so no object outlives its row for long.
"""

import logging

from django.core.files.storage import default_storage
from django.db import transaction

from tagging import queue, storage

logger = logging.getLogger(__name__)


def files_delete(names, *, later: bool = True) -> None:
    """Delete stored files now; a file that cannot be deleted is logged, not raised.

    When the store is down, the files left are sent to the ``delete_files``
    task (``later``), or :class:`storage.StoreUnavailable` is raised (that
    task's own call, so that it retries).
    """
    left = []
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception as error:
            if storage.is_outage(error):
                left.append(name)
            elif isinstance(error, OSError) or storage.is_store_error(error):
                logger.warning("could not delete %s: %s", name, error)
            else:
                raise
    if not left:
        return
    if not later:
        raise storage.StoreUnavailable(f"{len(left)} files not deleted yet")
    queue.files_delete_later(left)


def files_delete_on_commit(names) -> None:
    """Delete stored files once the current transaction commits (never, if it rolls back)."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: files_delete(names))
