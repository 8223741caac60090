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

For faces runs, :func:`run_face_data` reads the face file the run was trained on (its recorded
``data.path``) and :func:`model_face_data` reads another face file as inputs of the run's model.
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
    from torch import nn

    from pyembed.datasets.faces import FaceData
    from pyembed.index import Index

__all__ = [
    "EMBEDDINGS_FILE",
    "INDEX_FILE",
    "KINDS",
    "MODEL_FILE",
    "RUN_FILE",
    "Run",
    "load_index",
    "load_model",
    "load_run",
    "model_face_data",
    "prepare_run_dir",
    "run_face_data",
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
    index.add(embeddings[index_rows], ids=index_rows)
    index.build(n_threads=1)
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
    """Read the checkpoint and the embeddings of a run directory (not the index), checked.

    The checkpoint must carry the metadata :func:`pyembed.cli.eval` and :func:`pyembed.cli.query`
    need, and ``embeddings.npz`` the five arrays of the layout, consistent with each other:
    finite float32 ``embeddings`` ``(n, dim)``; integer ``labels``, str ``label_names`` and bool
    ``is_test``, each ``(n,)``; integer ``index_rows`` within ``0..n-1``.

    Raises
    ------
    FileNotFoundError
        If ``model.pt`` or ``embeddings.npz`` is missing (the message says which).
    OSError
        If one of them cannot be read (a directory, no permission).
    ValueError
        If the checkpoint is not a pyembed checkpoint or lacks faces/ucr run metadata, or
        ``embeddings.npz`` is corrupt or its arrays do not fit the layout. The message starts with
        the file's path.
    """
    from pyembed.datasets.npz import read_npz

    folder = Path(run_dir)
    for file in (MODEL_FILE, EMBEDDINGS_FILE):
        if not (folder / file).exists():
            raise FileNotFoundError(f"{str(folder)!r} is not a run directory: {file} is missing")
    state = load_checkpoint(folder / MODEL_FILE)
    metadata = _checked_metadata(state, folder / MODEL_FILE)
    arrays = read_npz(folder / EMBEDDINGS_FILE, _ARRAYS)
    _check_arrays(arrays, folder / EMBEDDINGS_FILE)
    return Run(path=folder, state=state, metadata=metadata, arrays=arrays)


_ARRAYS = ("embeddings", "labels", "label_names", "is_test", "index_rows")
"""The arrays of ``embeddings.npz``."""

# The metadata["data"] entries each kind needs, with their types (what save_run's callers write).
_DATA_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "faces": {"path": (str,), "name": (str,), "image_shape": (list, tuple)},
    "ucr": {"name": (str,), "znorm": (bool,), "length": (int,), "data_dir": (str, type(None))},
}


def _checked_metadata(state: dict[str, Any], path: Path) -> dict[str, Any]:
    """``state["metadata"]``, checked to hold what evaluation and queries read."""
    metadata = state.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("kind") not in KINDS:
        raise ValueError(f"{path}: the checkpoint has no faces/ucr run metadata")
    if not isinstance(state.get("model"), dict):
        raise ValueError(f"{path}: the checkpoint holds no model state")
    kind = metadata["kind"]
    model, data = metadata.get("model"), metadata.get("data")
    if not isinstance(model, dict) or not isinstance(data, dict):
        raise ValueError(f"{path}: the {kind} run metadata lacks its model or data description")
    for key, types in _DATA_FIELDS[kind].items():
        if key not in data or not isinstance(data[key], types):
            raise ValueError(f"{path}: the {kind} run metadata has no valid data.{key}")
    if kind == "faces":
        shape = data["image_shape"]
        if len(shape) != 2 or not all(isinstance(n, int) and n >= 1 for n in shape):
            raise ValueError(f"{path}: data.image_shape must be two positive sizes, got {shape!r}")
    elif isinstance(data["length"], bool) or data["length"] < 1:
        raise ValueError(f"{path}: data.length must be a positive number of samples")
    return metadata


def _check_arrays(arrays: dict[str, NDArray[Any]], path: Path) -> None:
    """Check the arrays of ``embeddings.npz`` against the layout and each other."""
    embeddings = arrays["embeddings"]
    if embeddings.dtype != np.float32 or embeddings.ndim != 2 or embeddings.shape[1] < 1:
        raise ValueError(
            f"{path}: embeddings must be float32 of shape (n, dim) with dim >= 1, got "
            f"{embeddings.dtype} {embeddings.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(embeddings).all(axis=1))
    if bad.size:
        raise ValueError(f"{path}: embeddings row {int(bad[0])} is not finite (NaN or inf)")
    n = embeddings.shape[0]
    kinds = {"labels": "iu", "label_names": "U", "is_test": "b", "index_rows": "iu"}
    words = {"iu": "integers", "U": "strings", "b": "booleans"}
    for key, kind in kinds.items():
        value = arrays[key]
        if value.dtype.kind not in kind or value.ndim != 1:
            raise ValueError(
                f"{path}: {key} must be 1-D {words[kind]}, got {value.dtype} {value.shape}"
            )
        if key != "index_rows" and value.shape[0] != n:
            raise ValueError(f"{path}: {key} has {value.shape[0]} entries for {n} embeddings")
    rows = arrays["index_rows"]
    if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= n):
        raise ValueError(f"{path}: index_rows must be rows of the {n} embeddings (0..{n - 1})")


def load_model(run: Run) -> nn.Module:
    """The run's network rebuilt from its metadata with the trained weights, in evaluation mode.

    Raises
    ------
    ValueError
        If the checkpoint's model description or weights do not rebuild (the message starts with
        the path of ``model.pt``).
    """
    from pyembed.train.recipes import build_model

    try:
        model = build_model(run.metadata["model"])
        model.load_state_dict(run.state["model"])
    except (ValueError, TypeError, RuntimeError) as exc:  # torch's mismatch is RuntimeError
        message = " ".join(str(exc).split())
        raise ValueError(
            f"{run.path / MODEL_FILE}: cannot rebuild the run's model ({message})"
        ) from exc
    model.eval()
    return model


def load_index(run_dir: str | Path) -> Index:
    """The run's saved index (ids are row numbers into ``embeddings.npz``).

    Raises
    ------
    FileNotFoundError
        If ``index.nswg`` is missing.
    OSError
        If it cannot be read; ``filename`` is its path.
    pyembed.IndexFormatError
        If it is not a valid index file; the message starts with its path.
    """
    from pyembed.index import Index

    path = Path(run_dir) / INDEX_FILE
    if not path.exists():
        raise FileNotFoundError(
            errno.ENOENT, "the run directory has no index file (is it a complete run?)", str(path)
        )
    try:
        return Index.load(path)
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from exc
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise _renamed(exc, f"{path}: {exc}") from exc


def _renamed(exc: ValueError, message: str) -> ValueError:
    """``exc``'s type with a new message (``IndexFormatError`` stays ``IndexFormatError``)."""
    try:
        return type(exc)(message)
    except Exception:  # a subclass with another constructor
        return ValueError(message)


def run_face_data(run: Run) -> FaceData:
    """The face file a faces run was trained on (``data.path``), checked against the run.

    The images of ``run.arrays["is_test"]`` are the held-out identities; the others are the
    training images.

    Parameters
    ----------
    run : Run
        A faces run (:func:`load_run`).

    Returns
    -------
    pyembed.datasets.faces.FaceData
        The file as stored, one row per row of ``embeddings.npz``.

    Raises
    ------
    ValueError
        If ``run`` is not a faces run, or the file no longer has the run's images: another number
        of rows or other labels (the message names the file), or is not a valid face file.
    OSError
        If the file cannot be read (``FileNotFoundError`` when it was moved or deleted).
    """
    from pyembed.datasets.faces import load_faces

    if run.kind != "faces":
        raise ValueError(f"{run.path} is a {run.kind} run, not a faces run")
    path = run.metadata["data"]["path"]
    data = load_faces(path)
    if data.n != run.arrays["is_test"].size or not np.array_equal(
        data.labels, run.arrays["labels"]
    ):
        raise ValueError(f"{path!r} no longer matches the run's embeddings")
    return data


def model_face_data(
    run: Run, path: str | Path, *, resize: bool = False
) -> tuple[FaceData, tuple[int, int] | None]:
    """Another face file, as inputs of a faces run's model (images of ``data.image_shape``).

    Parameters
    ----------
    run : Run
        A faces run (:func:`load_run`).
    path : str or pathlib.Path
        A face ``.npz`` (:func:`pyembed.datasets.faces.load_faces`): uint8 ``images``
        ``(n, H, W)`` and integer ``labels`` ``(n,)``.
    resize : bool, default False
        Accept images of another size than the model's input and convert them with
        :func:`pyembed.datasets.faces.resize_faces` (centre crop to the model's aspect ratio, then
        area averaging when shrinking or bilinear interpolation when enlarging). Without it, a
        size mismatch is an error: nothing is resized unless asked for.

    Returns
    -------
    data : pyembed.datasets.faces.FaceData
        Images of the model's input size ``(n, height, width)`` uint8, labels as in the file.
    resized_from : (int, int) or None
        The file's image size ``(H, W)`` in pixels when the images were resized, else None.

    Raises
    ------
    ValueError
        If ``run`` is not a faces run, the file is not a valid face file (the message starts with
        its path), or its images have another size than the model's and ``resize`` is False.
    OSError
        If the file cannot be read; ``filename`` is its path.
    """
    from pyembed.datasets.faces import FaceData, load_faces, resize_faces

    if run.kind != "faces":
        raise ValueError(f"{run.path} is a {run.kind} run, not a faces run")
    data = load_faces(path)
    height, width = (int(s) for s in run.metadata["data"]["image_shape"])
    size = (int(data.images.shape[1]), int(data.images.shape[2]))
    if size == (height, width):
        return data, None
    if not resize:
        raise ValueError(
            f"{path}: images are {size[0]} x {size[1]} pixels but the run's model takes "
            f"{height} x {width}; --resize centre-crops and resizes them to the model's input"
        )
    return FaceData(resize_faces(data.images, (height, width)), data.labels, data.name), size
