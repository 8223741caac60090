"""Atomic checkpoint files."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from pyembed._atomic import atomic_writer

__all__ = ["CHECKPOINT_FORMAT", "load_checkpoint", "save_checkpoint"]

#: Value of the ``"format"`` key of every checkpoint written by pyembed.
CHECKPOINT_FORMAT = "pyembed-train-checkpoint-1"


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``state`` with ``torch.save``, atomically.

    The file is written to a temporary name in the target directory, flushed and fsynced, then
    renamed over ``path`` and the folder synced (:func:`pyembed._atomic.atomic_writer`): an
    interrupted save leaves the previous checkpoint intact.

    Parameters
    ----------
    state : dict
        Tensors, state dicts and plain Python values (no numpy arrays, so the file loads with
        ``weights_only=True``).
    path : path-like
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(target) as handle:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, handle)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : path-like
    map_location : str or torch.device, default "cpu"

    Returns
    -------
    dict
        The saved state (loaded with ``weights_only=True``: no code runs while reading).

    Raises
    ------
    OSError
        If ``path`` cannot be opened (``FileNotFoundError``, ``IsADirectoryError``,
        ``PermissionError``; ``filename`` is the path).
    ValueError
        If the file is not a pyembed training checkpoint, or is corrupt. The message starts with
        the path and is one line.
    """
    try:
        state = torch.load(Path(path), map_location=map_location, weights_only=True)
    except OSError as exc:
        if exc.filename is not None:  # could not open the file: FileNotFoundError and kin
            raise
        raise ValueError(
            f"{os.fspath(path)}: not a readable pyembed checkpoint ({_reason(exc)})"
        ) from exc
    except Exception as exc:  # torch raises many types for foreign or corrupt files
        raise ValueError(
            f"{os.fspath(path)}: not a readable pyembed checkpoint ({_reason(exc)})"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{os.fspath(path)}: not a pyembed training checkpoint (no format {CHECKPOINT_FORMAT!r})"
        )
    return state


def _reason(exc: BaseException) -> str:
    """The gist of a torch.load error on one line: its first sentence, and what the weights-only
    unpickler refused (torch's own messages run to several paragraphs of advice)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    first = " ".join(text.split()).split(". ", 1)[0].rstrip(".")
    if not first:
        return "the file is empty or cut short" if isinstance(exc, EOFError) else type(exc).__name__
    refused = text.partition("WeightsUnpickler error:")[2].strip()
    if refused:
        return f"{first}: {refused.splitlines()[0].rstrip('.')}"
    return first
