"""Crash-safe small-file writes for the Python parts (shard manifests, the served gallery).

The index file has its own crash-safe save in the core; this is the same discipline for the JSON
and image files beside it: write a temporary file in the target's folder, fsync it, rename it over
the target, fsync the folder. A reader then sees the old file or the new one, whole, even after a
crash or power loss.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["sync_folder", "write_bytes_atomic"]


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file ``path`` with ``data`` atomically and durably.

    Raises
    ------
    OSError
        If the folder is missing or not writable, or the disk is full; the previous file is then
        untouched and no temporary file is left.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(target.parent)


def sync_folder(folder: str | os.PathLike[str]) -> None:
    """fsync a folder so a rename in it is durable (a no-op where folders cannot be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename itself is still atomic
    finally:
        os.close(fd)
