"""Private files and directories: secrets, owner files and the home directory, never readable by others.

A secret is written to a fresh temporary name opened with ``O_CREAT | O_EXCL`` and mode 0600 (so a
leftover file, whatever its mode or owner, is never reused), synced, then renamed over the target:
a reader sees the old file or the whole new one, and the new one is 0600 whatever the umask was.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
# What every process pdtrail starts creates by default: nothing for group or others.
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` (and missing parents) as a directory only its owner may enter; an existing one is narrowed."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    if path.stat().st_mode & 0o077:
        os.chmod(path, PRIVATE_DIR)
    return path


def write_private(path: Path, data: bytes | str, *, replace: bool = True) -> Path:
    """Write ``data`` to ``path`` as a 0600 file, atomically. With ``replace=False`` an existing file is
    kept and :class:`FileExistsError` raised (two processes making the same secret: the first wins)."""
    payload = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # the umask may have narrowed it further; never wider
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the target exists, unlike a rename
    finally:
        tmp.unlink(missing_ok=True)
    _sync_dir(path.parent)
    return path


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def restrict_umask() -> int:
    """Set this process's umask to 0077 (inherited by the processes it starts); returns the old one."""
    return os.umask(PRIVATE_UMASK)
