"""The run directory: the files one training run writes and that evaluation and queries read.

A run directory holds four files:

- ``model.pt`` (:data:`MODEL_FILE`): the training checkpoint (model, loss, optimizer and schedule
  states, config) plus the ``metadata`` needed to rebuild the network and its inputs: ``kind``
  (``"faces"`` or ``"ucr"``), ``model``, ``objective``, ``data`` and, for faces, ``split``;
- ``embeddings.npz`` (:data:`EMBEDDINGS_FILE`): ``embeddings`` ``(n, dim)`` float32 for every item
  of the data set, ``labels`` (int64 codes), ``label_names`` (the original labels as strings),
  ``is_test`` (bool: held-out identity for faces, TEST split for UCR) and ``index_rows`` (the rows
  stored in the index);
- ``index.nswg`` (:data:`INDEX_FILE`): a saved Euclidean :class:`pyembed.Index` over
  ``embeddings[index_rows]``, whose ids are the row numbers into ``embeddings.npz``;
- ``run.json`` (:data:`RUN_FILE`): settings, split and per-epoch history, human-readable.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pyembed.train.checkpoint import load_checkpoint

if TYPE_CHECKING:
    from pyembed.index import Index

__all__ = [
    "EMBEDDINGS_FILE",
    "INDEX_FILE",
    "KINDS",
    "MODEL_FILE",
    "RUN_FILE",
    "Run",
    "load_index",
    "load_run",
    "prepare_run_dir",
    "save_run",
]

MODEL_FILE = "model.pt"
"""The checkpoint, with the run's metadata."""
EMBEDDINGS_FILE = "embeddings.npz"
"""Embeddings, labels and the split of every item."""
INDEX_FILE = "index.nswg"
"""The index over the embeddings of ``index_rows``."""
RUN_FILE = "run.json"
"""Settings and history, for people."""
KINDS = ("faces", "ucr")
"""The values of ``metadata["kind"]``."""


def prepare_run_dir(run_dir: str | Path, *, resume: bool, overwrite: bool) -> Path:
    """Create ``run_dir`` if needed and return the checkpoint path a training run writes.

    Parameters
    ----------
    run_dir : str or pathlib.Path
    resume : bool
        Continue the checkpoint already in ``run_dir`` (it must exist).
    overwrite : bool
        Start over even if ``run_dir`` holds a checkpoint.

    Returns
    -------
    pathlib.Path
        ``run_dir / MODEL_FILE``.

    Raises
    ------
    ValueError
        If both ``resume`` and ``overwrite`` are set.
    FileNotFoundError
        If ``resume`` is set and there is no checkpoint (``filename`` is its path).
    FileExistsError
        If a checkpoint exists and neither flag is set (``filename`` is its path), so a run is
        never overwritten by accident.
    """
    checkpoint = Path(run_dir) / MODEL_FILE
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other")
    if resume and not checkpoint.exists():
        raise FileNotFoundError(errno.ENOENT, "no checkpoint to resume", str(checkpoint))
    if checkpoint.exists() and not (resume or overwrite):
        raise FileExistsError(
            errno.EEXIST, "a checkpoint exists; resume or overwrite it", str(checkpoint)
        )
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    return checkpoint


def save_run(
    run_dir: str | Path,
    *,
    embeddings: NDArray[np.float32],
    labels: NDArray[Any],
    label_names: Any,
    is_test: NDArray[np.bool_],
    index_rows: NDArray[np.int64],
    run_info: dict[str, Any],
    seed: int,
    graph: str,
) -> None:
    """Write ``embeddings.npz``, ``index.nswg`` and ``run.json`` into ``run_dir``.

    The index is built on one thread, so the saved graph is a function of the seed and the
    embeddings alone: a rerun with the same seed writes the same index file (a parallel build may
    link differently).

    Parameters
    ----------
    run_dir : str or pathlib.Path
        An existing directory (see :func:`prepare_run_dir`).
    embeddings : ndarray of float32, shape (n, dim)
        One row per item of the data set.
    labels : ndarray of int64, shape (n,)
        Label codes.
    label_names : array-like of str, shape (n,)
        The original label of each item.
    is_test : ndarray of bool, shape (n,)
        Held out from training.
    index_rows : ndarray of int64, shape (m,)
        Rows stored in the index (their row numbers are the ids).
    run_info : dict
        Written to ``run.json`` (values JSON cannot hold are written as text).
    seed : int
        Seed of the index build.
    graph : {"hnsw", "nsw"}
        Graph kind of the index.
    """
    from pyembed.index import Index

    folder = Path(run_dir)
    np.savez(
        folder / EMBEDDINGS_FILE,
        embeddings=embeddings,
        labels=labels,
        label_names=np.asarray(label_names, dtype=str),
        is_test=is_test,
        index_rows=index_rows,
    )
    index = Index(embeddings.shape[1], "euclidean", seed=seed, graph=graph)  # type: ignore[arg-type]
    index.add(embeddings[index_rows], ids=index_rows, n_threads=1)
    index.save(folder / INDEX_FILE)
    (folder / RUN_FILE).write_text(
        json.dumps(run_info, indent=2, default=str) + "\n", encoding="utf-8"
    )


@dataclass(frozen=True)
class Run:
    """A run directory as read back by :func:`load_run`.

    Attributes
    ----------
    path : pathlib.Path
        The directory.
    state : dict
        The checkpoint (``state["model"]`` is the network's state dict).
    metadata : dict
        ``state["metadata"]``: ``kind``, ``model``, ``objective``, ``data`` (and ``split``).
    arrays : dict of str to ndarray
        The arrays of ``embeddings.npz``.
    """

    path: Path
    state: dict[str, Any]
    metadata: dict[str, Any]
    arrays: dict[str, NDArray[Any]]

    @property
    def kind(self) -> str:
        """``"faces"`` or ``"ucr"``."""
        return str(self.metadata["kind"])


def load_run(run_dir: str | Path) -> Run:
    """Read the checkpoint and the embeddings of a run directory (not the index).

    Raises
    ------
    FileNotFoundError
        If ``model.pt`` or ``embeddings.npz`` is missing (the message says which).
    ValueError
        If the checkpoint carries no faces/ucr run metadata.
    """
    folder = Path(run_dir)
    for file in (MODEL_FILE, EMBEDDINGS_FILE):
        if not (folder / file).exists():
            raise FileNotFoundError(f"{str(folder)!r} is not a run directory: {file} is missing")
    state = load_checkpoint(folder / MODEL_FILE)
    metadata = state.get("metadata", {})
    if metadata.get("kind") not in KINDS:
        raise ValueError(f"{str(folder / MODEL_FILE)!r} has no faces/ucr run metadata")
    with np.load(folder / EMBEDDINGS_FILE, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    return Run(path=folder, state=state, metadata=metadata, arrays=arrays)


def load_index(run_dir: str | Path) -> Index:
    """The run's saved index (ids are row numbers into ``embeddings.npz``).

    Raises
    ------
    FileNotFoundError
        If ``index.nswg`` is missing.
    """
    from pyembed.index import Index

    path = Path(run_dir) / INDEX_FILE
    if not path.exists():
        raise FileNotFoundError(f"{str(path)!r} is missing")
    return Index.load(path)
