"""Crash-safe file writes for the Python parts (checkpoints, shard manifests, the served gallery).

The index file has its own crash-safe save in the core; this is the same discipline for the files
beside it: write a temporary file in the target's folder, fsync it, rename it over the target,
fsync the folder. A reader then sees the old file or the new one, whole, even after a crash or
power loss. The new file gets the usual permissions (``0o666`` less the umask).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_writer", "sync_folder", "write_bytes_atomic"]


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new contents into; on a clean exit it replaces ``path``
    atomically and durably, on an exception it is removed and ``path`` is untouched.

    Raises
    ------
    OSError
        If the folder is missing or not writable, or the disk is full (no temporary file is left).
    """
    target = Path(path)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    # os.open with mode 0o666 honours the umask (mkstemp would leave the file private, 0o600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_folder(target.parent)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file ``path`` with ``data`` atomically and durably (:func:`atomic_writer`)."""
    with atomic_writer(path) as f:
        f.write(data)


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
