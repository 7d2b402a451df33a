"""Deleting stored files: originals, derivatives and crops, in whatever storage holds them.

A file goes only once the deletion of its row is committed, so a rolled-back
transaction never leaves a row pointing at nothing.
"""

import logging

from django.core.files.storage import default_storage
from django.db import transaction

logger = logging.getLogger(__name__)


def files_delete(names) -> None:
    """Delete stored files now; a file that cannot be deleted is logged, not raised."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name)


def files_delete_on_commit(names) -> None:
    """Delete stored files once the current transaction commits (never, if it rolls back)."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: files_delete(names))
