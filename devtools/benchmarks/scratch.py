"""A throw-away database and media folder for evaluations and benchmarks.

Measurements import photos and fill tables; none of that may touch the site's
own data. The scratch database is created on the same server (so it measures
the same PostgreSQL and pgvector), migrated, used, and dropped.
"""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from django.db import connection
from django.test.utils import override_settings


@contextlib.contextmanager
def scratch_database(*, label: str):
    """Switch the default connection to a new, migrated database for the block.

    Nothing is sent to the broker inside: the site's workers use the real
    database and must never see the scratch rows' ids.
    """
    old_name = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    previous = test_settings.get("NAME")
    test_settings["NAME"] = f"photosite_{label}_{os.getpid()}"
    media = Path(tempfile.mkdtemp(prefix=f"photosite-{label}-"))
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        with override_settings(MEDIA_ROOT=media):
            yield media
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        test_settings["NAME"] = previous
        shutil.rmtree(media, ignore_errors=True)
