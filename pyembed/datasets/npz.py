"""The one reader of NumPy files that users hand to pyembed: ``.npz`` archives and ``.npy`` arrays.

``np.load`` trusts its input more than a reader of user files should: it guesses the format from
the contents (an ``.npy`` renamed ``.npz`` comes back as a bare array), lets ``zipfile``, ``zlib``
and ``EOFError`` failures escape without naming the file, and allocates whatever size a header
claims before reading the data. This module owns the checks every NumPy input gets:

- the file is opened once; a file that cannot be opened raises the ``OSError`` the system gave
  (``FileNotFoundError``, ``PermissionError``, ``IsADirectoryError``), with the path as
  ``filename``;
- everything else that is wrong with it is a ``ValueError`` whose message starts with the path:
  the wrong kind of file, a corrupt archive member, a header that does not parse, object
  (pickled) arrays, which are never loaded (``allow_pickle=False`` throughout), and a header whose
  shape and dtype need more bytes than the file or archive member holds, refused before any
  allocation.

Nothing is converted: arrays come back with the dtype and shape they were stored with.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Collection
from typing import IO, Any, Literal

import numpy as np
from numpy.lib import format as npy_format
from numpy.typing import NDArray

__all__ = ["list_npz", "read_npy", "read_npz"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def _kind_of(start: bytes) -> str:
    """What a file that starts with ``start`` is, for messages."""
    if not start:
        return "the file is empty"
    if start.startswith(_NPY_MAGIC):
        return "it is a single .npy array"
    if start.startswith(_ZIP_MAGICS):
        return "it is a zip archive"
    if start.startswith(b"\x80"):
        return "it is a pickle"
    return "it is not a NumPy file"


def _header(stream: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """Read an ``.npy`` header: (shape, Fortran order, dtype, bytes of data it needs).

    Raises ``ValueError`` (message starting with ``where``) for a bad magic, an unknown version,
    a header that does not parse, negative dimensions or an object dtype.
    """
    try:
        version = npy_format.read_magic(stream)  # type: ignore[no-untyped-call]
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)  # type: ignore[no-untyped-call]
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)  # type: ignore[no-untyped-call]
        else:  # 3.0 only differs by UTF-8 field names, which no pyembed array has
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except Exception as exc:  # numpy raises ValueError, SyntaxError, EOFError for bad headers
        raise ValueError(f"{where}: not a valid .npy array header ({_reason(exc)})") from None
    if dtype.hasobject:
        raise ValueError(
            f"{where}: holds an object array, which would need unpickling; pyembed never "
            "loads pickled data"
        )
    if any(n < 0 for n in shape):
        raise ValueError(f"{where}: the header's shape {shape} has a negative dimension")
    count = 1
    for n in shape:
        count *= n
    return tuple(shape), bool(fortran), dtype, count * dtype.itemsize


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name."""
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def _checked_header(
    stream: IO[bytes], where: str, size: int
) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """The header at the start of ``stream`` (of ``size`` bytes in all), checked to fit in it."""
    shape, fortran, dtype, needed = _header(stream, where)
    left = max(0, size - stream.tell())
    if needed > left:
        raise ValueError(
            f"{where}: the header describes {dtype.str} {shape} ({needed} bytes of data) but "
            f"the file holds {left} bytes after the header (truncated or corrupt)"
        )
    return shape, fortran, dtype, needed


def _decode(
    data: bytes, shape: tuple[int, ...], fortran: bool, dtype: np.dtype[Any], where: str
) -> NDArray[Any]:
    """The array of ``shape`` and ``dtype`` whose bytes are ``data``, as a writable copy."""
    order: Literal["C", "F"] = "F" if fortran else "C"
    try:
        if dtype.itemsize == 0:
            return np.empty(shape, dtype=dtype, order=order)
        return np.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy(order="K")
    except Exception as exc:  # e.g. a sub-array dtype whose elements do not match the shape
        raise ValueError(f"{where}: cannot decode the array data ({_reason(exc)})") from None


def read_npy(path: str | os.PathLike[str]) -> NDArray[Any]:
    """Read one ``.npy`` array.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    numpy.ndarray
        As stored (dtype, shape and memory order), writable.

    Raises
    ------
    OSError
        If the file cannot be opened (``FileNotFoundError``, ``PermissionError``,
        ``IsADirectoryError``); ``filename`` is the path.
    ValueError
        If the file is not an ``.npy`` array (an ``.npz`` archive, a pickle, anything else), its
        header does not parse, it holds objects, or it is shorter than its header says. The
        message starts with the path.
    """
    where = os.fspath(path)
    with open(path, "rb") as handle:
        start = handle.read(len(_NPY_MAGIC))
        if not start.startswith(_NPY_MAGIC):
            raise ValueError(f"{where}: not a readable .npy array: {_kind_of(start)}")
        handle.seek(0)
        size = os.fstat(handle.fileno()).st_size
        shape, fortran, dtype, needed = _checked_header(handle, where, size)
        data = handle.read(needed)
    if len(data) != needed:
        raise ValueError(f"{where}: the file ended inside the array data (truncated)")
    return _decode(data, shape, fortran, dtype, where)


def _open_archive(handle: IO[bytes], where: str) -> zipfile.ZipFile:
    start = handle.read(len(_NPY_MAGIC))
    handle.seek(0)
    try:
        return zipfile.ZipFile(handle)
    except Exception as exc:  # BadZipFile, and OSError/ValueError/EOFError on mangled directories
        found = _kind_of(start)
        if start.startswith(_ZIP_MAGICS):
            found = f"it is a truncated or corrupt zip archive ({_reason(exc)})"
        raise ValueError(f"{where}: not a readable .npz archive: {found}") from None


def _member_names(archive: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    """Array name -> member, for the ``.npy`` members of an archive (as ``np.load`` names them).

    A zip archive with files but no ``.npy`` member (a torch checkpoint, say) is not an ``.npz``.
    """
    infos = archive.infolist()
    members = {
        info.filename[: -len(".npy")]: info for info in infos if info.filename.endswith(".npy")
    }
    if infos and not members:
        raise ValueError(
            f"{where}: not a readable .npz archive: it is a zip archive of other files (such "
            f"as {infos[0].filename!r}) with no .npy arrays"
        )
    return members


def list_npz(path: str | os.PathLike[str]) -> list[str]:
    """The names of the arrays in an ``.npz`` archive, in archive order.

    Raises
    ------
    OSError
        If the file cannot be opened.
    ValueError
        If the file is not a zip archive (the message says what it is instead).
    """
    where = os.fspath(path)
    with open(path, "rb") as handle, _open_archive(handle, where) as archive:
        return list(_member_names(archive, where))


def read_npz(
    path: str | os.PathLike[str], keys: Collection[str] | None = None
) -> dict[str, NDArray[Any]]:
    """Read the arrays of an ``.npz`` archive (written by ``np.savez`` or ``np.savez_compressed``).

    Parameters
    ----------
    path : path-like
    keys : collection of str, optional
        The arrays to read; default every array of the archive.

    Returns
    -------
    dict of str to numpy.ndarray
        Keyed by array name, in archive order; each array as stored, writable.

    Raises
    ------
    OSError
        If the file cannot be opened (``FileNotFoundError``, ``PermissionError``,
        ``IsADirectoryError``); ``filename`` is the path.
    ValueError
        If the file is not an ``.npz`` archive (a single ``.npy`` array, a pickle, anything else),
        lacks one of ``keys`` (the message lists what it has), or an array is corrupt, holds
        objects, or is shorter than its header says. The message starts with the path.
    """
    where = os.fspath(path)
    with open(path, "rb") as handle, _open_archive(handle, where) as archive:
        members = _member_names(archive, where)
        wanted = list(members) if keys is None else list(keys)
        missing = [key for key in wanted if key not in members]
        if missing:
            raise ValueError(
                f"{where}: lacks array(s) {', '.join(missing)}; it has "
                f"{', '.join(members) or 'none'}"
            )
        return {
            key: _read_member(archive, members[key], f"{where}: array {key!r}") for key in wanted
        }


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> NDArray[Any]:
    try:
        with archive.open(info) as member:
            shape, fortran, dtype, needed = _checked_header(member, where, info.file_size)
            data = member.read(needed)
    except ValueError as exc:
        if str(exc).startswith(where):
            raise
        raise ValueError(f"{where}: corrupt archive member ({_reason(exc)})") from None
    except Exception as exc:  # BadZipFile (CRC), zlib.error, NotImplementedError, EOFError, ...
        raise ValueError(f"{where}: corrupt archive member ({_reason(exc)})") from None
    if len(data) != needed:
        raise ValueError(f"{where}: the archive member ended inside the array data (truncated)")
    return _decode(data, shape, fortran, dtype, where)
