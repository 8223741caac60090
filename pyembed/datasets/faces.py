"""Face image arrays: the ``.npz`` reader and identity-disjoint splits (numpy only).

A face file is a NumPy ``.npz`` archive with ``images`` (``uint8``, ``(N, H, W)``, grayscale,
upright) and ``labels`` (integers, ``(N,)``, identity per image), the layout of the Olivetti and
Extended Yale B files in ``shared/data/faces``. Nothing is rescaled or reordered while reading, and
nothing is unpickled (:mod:`pyembed.datasets.npz` reads the archive).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pyembed.datasets.npz import read_npz

__all__ = ["Eigenfaces", "FaceData", "IdentitySplit", "identity_split", "load_faces"]


@dataclass(frozen=True)
class FaceData:
    """Face images with identity labels.

    Attributes
    ----------
    images : ndarray of uint8, shape (n, height, width)
    labels : ndarray of int64, shape (n,)
    name : str
        The file's stem, e.g. ``"olivetti"``.
    """

    images: NDArray[np.uint8]
    labels: NDArray[np.int64]
    name: str

    @property
    def n(self) -> int:
        """Number of images."""
        return int(self.images.shape[0])

    @property
    def n_identities(self) -> int:
        """Number of distinct labels."""
        return int(np.unique(self.labels).size)


def load_faces(path: str | os.PathLike[str]) -> FaceData:
    """Read a face ``.npz`` file.

    The archive is read by :func:`pyembed.datasets.npz.read_npz`: never unpickled, every member
    checked against its header before anything is allocated.

    Parameters
    ----------
    path : path-like
        An ``.npz`` archive holding ``images`` (uint8, ``(N, H, W)``, ``H, W >= 1``) and
        ``labels`` (integer, ``(N,)``, within the int64 range).

    Returns
    -------
    FaceData
        Images as stored (uint8, C-contiguous) and labels as int64.

    Raises
    ------
    OSError
        If ``path`` cannot be opened: ``FileNotFoundError`` if it does not exist,
        ``IsADirectoryError``, ``PermissionError``; ``filename`` is the path.
    ValueError
        If the file is not an ``.npz`` archive or is corrupt, lacks ``images`` or ``labels``, or
        the arrays have the wrong dtype, rank or length. The message starts with the path.
    """
    where = os.fspath(path)
    arrays = read_npz(path, ("images", "labels"))
    images, labels = arrays["images"], arrays["labels"]
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{where}: images must be uint8 with shape (N, H, W), got {images.dtype} {images.shape}"
        )
    if 0 in images.shape[1:]:
        raise ValueError(f"{where}: images have no pixels (shape {images.shape})")
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise ValueError(
            f"{where}: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{where}: images has {images.shape[0]} rows but labels has {labels.shape[0]}"
        )
    if labels.dtype.kind == "u" and labels.size and labels.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{where}: labels go up to {labels.max()}, beyond the int64 range")
    return FaceData(np.ascontiguousarray(images), labels.astype(np.int64), Path(path).stem)


@dataclass(frozen=True)
class IdentitySplit:
    """Row indices of an identity-disjoint train/test split.

    Attributes
    ----------
    train, test : ndarray of int64
        Row numbers (ascending) of the training and the held-out images.
    train_identities, test_identities : ndarray
        The labels on each side (sorted, disjoint).
    """

    train: NDArray[np.int64]
    test: NDArray[np.int64]
    train_identities: NDArray[np.int64]
    test_identities: NDArray[np.int64]


def identity_split(
    labels: ArrayLike,
    *,
    test_fraction: float = 0.25,
    n_test_identities: int | None = None,
    seed: int = 0,
) -> IdentitySplit:
    """Split rows so that no identity appears on both sides.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
    test_fraction : float, default 0.25
        Fraction of identities held out, rounded to the nearest integer (at least 1); ignored when
        ``n_test_identities`` is given.
    n_test_identities : int, optional
        Exact number of held-out identities.
    seed : int, default 0
        The held-out identities are ``default_rng(seed).permutation(identities)[:n_test]``.

    Returns
    -------
    IdentitySplit

    Raises
    ------
    ValueError
        If fewer than 3 identities exist or the requested test size leaves fewer than 2 training or
        1 test identity.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {lab.shape}")
    identities = np.unique(lab)
    n_ids = identities.size
    if n_ids < 3:
        raise ValueError(f"an identity split needs at least 3 identities, got {n_ids}")
    if n_test_identities is None:
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        n_test = max(1, int(np.floor(test_fraction * n_ids + 0.5)))
    else:
        n_test = int(n_test_identities)
    if not 1 <= n_test <= n_ids - 2:
        raise ValueError(
            f"n_test_identities must be between 1 and {n_ids - 2} for {n_ids} identities, got "
            f"{n_test}"
        )
    held_out = np.sort(np.random.default_rng(seed).permutation(identities)[:n_test])
    is_test = np.isin(lab, held_out)
    return IdentitySplit(
        train=np.flatnonzero(~is_test).astype(np.int64),
        test=np.flatnonzero(is_test).astype(np.int64),
        train_identities=np.setdiff1d(identities, held_out),
        test_identities=held_out,
    )


class Eigenfaces:
    """PCA "eigenfaces" (Turk and Pentland 1991): the classical face embedding baseline.

    Parameters
    ----------
    n_components : int, default 100
        Number of principal components kept (capped at ``min(n_train, height * width)``).

    Notes
    -----
    :meth:`fit` takes uint8 or float images ``(n, H, W)``; pixels are scaled to ``[0, 1]`` (uint8
    input divided by 255), the training mean is subtracted and the leading right singular vectors
    are kept. :meth:`transform` returns the projections, ``(n, n_components)`` float32, whose L2
    distances are the eigenface distances.
    """

    def __init__(self, n_components: int = 100) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        self.n_components = int(n_components)
        self.mean: NDArray[np.float64] | None = None
        self.components: NDArray[np.float64] | None = None

    @staticmethod
    def _flatten(images: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(images)
        if arr.ndim != 3:
            raise ValueError(f"images must have shape (n, H, W), got {arr.shape}")
        scale = 255.0 if arr.dtype == np.uint8 else 1.0
        return arr.reshape(arr.shape[0], -1).astype(np.float64) / scale

    def fit(self, images: ArrayLike) -> Eigenfaces:
        """Learn the mean face and components from training images ``(n, H, W)``; returns self."""
        x = self._flatten(images)
        if x.shape[0] < 2:
            raise ValueError(f"need at least 2 training images, got {x.shape[0]}")
        self.mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt[: self.n_components]
        return self

    def transform(self, images: ArrayLike) -> NDArray[np.float32]:
        """Project images ``(n, H, W)`` to ``(n, n_components)`` float32 eigenface coordinates."""
        if self.mean is None or self.components is None:
            raise ValueError("call fit before transform")
        x = self._flatten(images)
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"images have {x.shape[1]} pixels but the model was fit on {self.mean.shape[0]}"
            )
        return ((x - self.mean) @ self.components.T).astype(np.float32)
