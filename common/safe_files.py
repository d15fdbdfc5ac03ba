"""Files a root process writes in directories a user chose.

Written whole or not at all: a temporary file beside the target, under an
unpredictable name (``mkstemp``: ``O_EXCL``, mode 0600), then ``os.replace``
(atomic on one filesystem, and it replaces a link rather than following
it), so a crash or an error never leaves a half-written file and a planted
symlink never redirects a write.  A file written as it goes (a log, a CSV
the controller appends to) is created new with ``open_new``: ``O_EXCL`` and
``O_NOFOLLOW``, so it cannot land on something that already exists.
"""

import os
import tempfile
from pathlib import Path

NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_text_atomic(path, text, perms=0o644):
    return write_bytes_atomic(path, text.encode("utf-8"), perms)


def write_bytes_atomic(path, data, perms=0o644):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, perms)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def open_new(path, mode="w", perms=0o644, **kwargs):
    """A new file opened for writing; refused (FileExistsError, or OSError
    ELOOP for a link) if anything is already at ``path``."""
    return os.fdopen(os.open(path, NEW_FILE, perms), mode, **kwargs)


def write_json_atomic(path, data, perms=0o644):
    """``data`` as indented JSON, written as ``write_text_atomic`` does."""
    import json

    return write_text_atomic(path, json.dumps(data, indent=2) + "\n", perms)
