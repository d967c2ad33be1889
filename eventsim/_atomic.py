"""Atomic file writes: nothing is lost if a save is interrupted."""

from __future__ import annotations

import os
import pathlib
import tempfile

__all__ = ["atomic_write"]


def atomic_write(path, write, *, binary=True):
    """Write ``path`` through a temporary file in the same folder, then ``os.replace``.

    ``write(f)`` fills the open temporary file.  The data is fsynced before the
    rename, so a reader sees either the old file or the complete new one.  An existing
    file's permissions are kept; a new file gets the usual ``0o666 & ~umask``.
    """
    path = pathlib.Path(path)
    folder = path.parent if str(path.parent) else pathlib.Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "ascii"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
