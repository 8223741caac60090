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

__all__ = [
    "Eigenfaces",
    "FaceData",
    "IdentitySplit",
    "identity_split",
    "load_faces",
    "resize_faces",
]


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


def resize_faces(images: ArrayLike, shape: tuple[int, int] | list[int]) -> NDArray[np.uint8]:
    """Centre-crop face images to the aspect ratio of ``shape`` and resize them to ``shape``.

    For a model trained on another face set's image size (Olivetti is 64 x 64, Extended Yale B
    32 x 32). Each image is cut to the largest centred box with the aspect ratio of ``shape``
    (the whole image when the ratios agree; the box may have fractional edges) and that box is
    resampled to ``shape`` by one separable linear map, computed in float64 and rounded once to
    the nearest grey level (halves up):

    - **shrinking** (the box is at least as large as ``shape``): area averaging, each output pixel
      the mean of the input area it covers, partly covered pixels weighted by their covered
      fraction (a 2:1 shrink is the mean of each 2 x 2 block);
    - **enlarging**: bilinear interpolation between pixel centres (pixel ``i`` of a row is
      centred at ``i + 0.5``), taps outside the image dropped and the rest renormalised.

    This is the rule of :func:`pyembed.datasets.images.face_crop` with ``crop=1`` (which uses
    Pillow and rounds after each axis, so the two can differ by one grey level), in numpy alone.

    Parameters
    ----------
    images : array-like of uint8, shape (n, height, width)
        Grayscale face images with pixels.
    shape : (int, int)
        Output ``(height, width)`` in pixels, both at least 1.

    Returns
    -------
    ndarray of uint8, shape (n, shape[0], shape[1])
        A new C-contiguous array; a copy of ``images`` when they already have ``shape``.

    Raises
    ------
    ValueError
        If ``images`` is not a uint8 ``(n, H, W)`` array with pixels, or ``shape`` is not two
        positive sizes.
    """
    arr = np.asarray(images)
    if arr.ndim != 3 or arr.dtype != np.uint8 or 0 in arr.shape[1:]:
        raise ValueError(
            f"images must be uint8 with shape (n, H, W) and H, W >= 1, got {arr.dtype} {arr.shape}"
        )
    if len(shape) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in shape):
        raise ValueError(f"shape must be two positive sizes, got {tuple(shape)!r}")
    out_h, out_w = int(shape[0]), int(shape[1])
    height, width = int(arr.shape[1]), int(arr.shape[2])
    if (height, width) == (out_h, out_w):
        return np.array(arr, dtype=np.uint8, order="C")
    aspect = out_w / out_h
    if width / height > aspect:
        box_h, box_w = float(height), height * aspect
    else:
        box_h, box_w = width / aspect, float(width)
    rows = _resample_weights(height, (height - box_h) / 2.0, box_h, out_h)
    cols = _resample_weights(width, (width - box_w) / 2.0, box_w, out_w)
    resized = np.einsum("ij,njk,lk->nil", rows, arr.astype(np.float64), cols, optimize=True)
    return np.clip(np.floor(resized + 0.5), 0, 255).astype(np.uint8)


def _resample_weights(size: int, start: float, length: float, n_out: int) -> NDArray[np.float64]:
    """``(n_out, size)`` weights mapping ``size`` input pixels, of which the span
    ``[start, start + length)`` is kept, to ``n_out`` output pixels (see :func:`resize_faces`);
    every row sums to 1."""
    scale = length / n_out
    pixels = np.arange(size, dtype=np.float64)
    lows = start + scale * np.arange(n_out, dtype=np.float64)
    if scale >= 1.0:  # area averaging: overlap of [low, low + scale) with each [i, i + 1)
        overlap = np.minimum(lows[:, None] + scale, pixels[None, :] + 1.0) - np.maximum(
            lows[:, None], pixels[None, :]
        )
        weights = np.maximum(overlap, 0.0)
    else:  # bilinear between pixel centres
        centres = lows + 0.5 * scale
        weights = np.maximum(1.0 - np.abs(pixels[None, :] + 0.5 - centres[:, None]), 0.0)
    return weights / weights.sum(axis=1, keepdims=True)
