"""The secret key of a site that was given none: generated once, kept in a file.

Sessions, password-reset links and CSRF tokens are signed with it, so it must
survive restarts (or every member is logged out) and must not be readable by
other users of the machine.
"""

import contextlib
import os
import secrets
from pathlib import Path


def secret_key_load_or_create(path: Path) -> str:
    """Read the key in ``path``; create it first (mode 0600) when it does not exist.

    Several processes may start at once (web, worker, a command). The key is
    written to a private temporary file that is then linked into place, which
    fails when another process got there first; everybody then reads the one
    file that won.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"the secret key in {path} is too short; delete the file to get a new one")
    return key
