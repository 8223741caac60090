"""The folder format of a sharded index: one ordinary index file per shard plus ``manifest.json``.

A save writes every shard to a file of a new *generation* (``shard-0003.g7.nswg``), each with the
index's crash-safe save, and only then replaces the manifest (atomically: a temporary file,
fsync, rename, folder fsync); files of older generations are removed after that. Whatever kills
a save, the manifest names a complete set of shard files of one generation, and a shard actor that
Ray restarts reloads exactly the shards of the last completed save.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pyembed._atomic import write_bytes_atomic
from pyembed._nswg import IndexFormatError

MANIFEST = "manifest.json"
FORMAT = "pyembed-sharded"
VERSION = 1
_SHARD_FILE = re.compile(r"^shard-(\d{4,})\.g(\d+)\.nswg$")


def shard_file(shard: int, generation: int) -> str:
    """File name of ``shard``'s index in save ``generation``."""
    return f"shard-{shard:04d}.g{generation}.nswg"


def read(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of the sharded index in ``directory``, checked for its format and fields.

    Raises
    ------
    FileNotFoundError
        No ``manifest.json`` in ``directory``.
    pyembed.IndexFormatError
        The manifest is not JSON, not of this format, from a newer version, or inconsistent.
    """
    path = Path(directory) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            2, f"no sharded index here (no {MANIFEST}); save one with ShardedIndex.save", str(path)
        ) from None
    try:
        m = json.loads(text)
    except json.JSONDecodeError as e:
        raise IndexFormatError(f"{path}: not a sharded-index manifest ({e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise IndexFormatError(f"{path}: not a sharded-index manifest (format is not {FORMAT!r})")
    if not isinstance(m.get("version"), int) or m["version"] > VERSION:
        raise IndexFormatError(
            f"{path}: manifest version {m.get('version')!r}; this build reads up to {VERSION}"
        )
    need = {"generation": int, "n_shards": int, "next_id": int, "spec": dict, "shards": list}
    for key, kind in need.items():
        if not isinstance(m.get(key), kind):
            raise IndexFormatError(
                f"{path}: manifest field {key!r} is missing or not {kind.__name__}"
            )
    if m["n_shards"] < 1 or len(m["shards"]) != m["n_shards"]:
        raise IndexFormatError(
            f"{path}: manifest lists {len(m['shards'])} shards but n_shards is {m['n_shards']}"
        )
    for i, s in enumerate(m["shards"]):
        if (
            not isinstance(s, dict)
            or not isinstance(s.get("file"), str)
            or not isinstance(s.get("len"), int)
            or Path(s["file"]).name != s["file"]
        ):
            raise IndexFormatError(f"{path}: manifest entry of shard {i} is malformed")
    return m


def write(directory: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Replace ``directory``'s manifest atomically and durably (temporary file, fsync, rename,
    folder fsync), so a reader sees the old manifest or the new one, whole."""
    data = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
    write_bytes_atomic(Path(directory) / MANIFEST, data)


def remove_older_generations(directory: str | os.PathLike[str], generation: int) -> None:
    """Delete shard files of generations older than ``generation`` (after a save completed; a
    newer one can only belong to a save running concurrently)."""
    for p in Path(directory).iterdir():
        m = _SHARD_FILE.match(p.name)
        if m and int(m.group(2)) < generation:
            p.unlink(missing_ok=True)
