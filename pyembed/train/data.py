"""Training data for the two recipes: face images split by identity, and UCR series by split.

Each loader returns a :class:`TrainingData`: every item of the data set (the rows of the run's
``embeddings.npz``, see :mod:`pyembed.train.run_dir`), the subset the network is fitted on, the
augmentation, the split, and the metadata that lets evaluation reload the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pyembed.train.augment import ImageAugment
from pyembed.train.recipes import image_tensor, series_tensor
from pyembed.train.series_augment import SeriesAugment

__all__ = ["TrainingData", "faces_training_data", "ucr_training_data"]


@dataclass(frozen=True)
class TrainingData:
    """The data-specific part of a training run.

    Attributes
    ----------
    kind : {"faces", "ucr"}
    model_class : str
        The network of :func:`pyembed.train.build_model` that suits the data.
    model_kwargs : dict
        Data-specific network arguments (e.g. the first convolution's stride).
    data : dict
        Where the data came from (path or name, shapes): ``metadata["data"]`` of the run.
    split : dict or None
        How items were held out (faces: seed, fraction, held-out identities); None for UCR, whose
        split is the archive's.
    inputs : torch.Tensor, shape (n, 1, ...)
        Every item, float32: images ``(n, 1, H, W)`` in ``[0, 1]``, series ``(n, 1, length)``.
    train_inputs : torch.Tensor, shape (n_train, 1, ...)
        The items the network is fitted on.
    train_labels : torch.Tensor of int64, shape (n_train,)
        Their class codes, ``0..n_classes-1``.
    n_classes : int
        Classes among the training items.
    augment : callable
        The batch augmentation.
    labels : ndarray of int64, shape (n,)
        Label codes of every item.
    label_names : ndarray of str, shape (n,)
        The original label of every item.
    is_test : ndarray of bool, shape (n,)
        Held out from training.
    index_rows : ndarray of int64
        Rows to store in the run's index.
    summary : dict
        Counts for the command's summary.
    """

    kind: str
    model_class: str
    model_kwargs: dict[str, Any]
    data: dict[str, Any]
    split: dict[str, Any] | None
    inputs: Any
    train_inputs: Any
    train_labels: Any
    n_classes: int
    augment: Any
    labels: Any
    label_names: Any
    is_test: Any
    index_rows: Any
    summary: dict[str, Any]


def faces_training_data(
    path: str | Path,
    *,
    test_fraction: float,
    test_identities: int | None,
    seed: int,
    stem_stride: int,
    flip: bool,
    max_shift: int,
) -> TrainingData:
    """Face images of ``path``, with some identities held out (never trained on).

    Parameters
    ----------
    path : str or pathlib.Path
        A face ``.npz`` (see :func:`pyembed.datasets.faces.load_faces`).
    test_fraction : float
        Share of identities held out, in ``(0, 1)``; ignored when ``test_identities`` is given.
    test_identities : int or None
        Exact number of identities held out.
    seed : int
        Seed of the identity split.
    stem_stride : int
        Stride of the network's first convolution (2 halves the images up front).
    flip : bool
        Random left-right mirroring during training.
    max_shift : int
        Random shift during training, in pixels.

    Returns
    -------
    TrainingData
        Every image is indexed (``index_rows`` is every row).
    """
    from pyembed.datasets.faces import identity_split, load_faces

    path = Path(path)
    data = load_faces(path)
    split = identity_split(
        data.labels, test_fraction=test_fraction, n_test_identities=test_identities, seed=seed
    )
    inputs = image_tensor(data.images)
    codes = np.unique(data.labels[split.train], return_inverse=True)[1]
    is_test = np.zeros(data.n, dtype=bool)
    is_test[split.test] = True
    return TrainingData(
        kind="faces",
        model_class="DenseNetEmbedding",
        model_kwargs={"stem_stride": stem_stride},
        data={
            "path": str(path.resolve()),
            "name": data.name,
            "image_shape": list(data.images.shape[1:]),
        },
        split={
            "seed": seed,
            "test_fraction": test_fraction,
            "test_identities": split.test_identities.tolist(),
        },
        inputs=inputs,
        train_inputs=inputs[torch.from_numpy(split.train)],
        train_labels=torch.from_numpy(codes),
        n_classes=len(split.train_identities),
        augment=ImageAugment(flip=flip, max_shift=max_shift),
        labels=data.labels,
        label_names=data.labels.astype(str),
        is_test=is_test,
        index_rows=np.arange(data.n, dtype=np.int64),
        summary={
            "data": data.name,
            "train_images": int(split.train.size),
            "train_identities": int(split.train_identities.size),
            "test_images": int(split.test.size),
            "test_identities": int(split.test_identities.size),
        },
    )


def ucr_training_data(
    name: str,
    data_dir: str | Path | None,
    *,
    znorm: bool,
    max_shift_pct: float,
    scale: float,
    noise_std: float,
) -> TrainingData:
    """The TRAIN split of a UCR data set to train on; TRAIN then TEST rows to embed.

    Parameters
    ----------
    name : str
        Data set name (see :func:`pyembed.datasets.ucr.load_ucr`).
    data_dir : str or pathlib.Path or None
        Archive-like directory; None for the data bundled with pyembed.
    znorm : bool
        Z-normalize every series.
    max_shift_pct : float
        Augmentation: random time shift up to this percentage of the length.
    scale : float
        Augmentation: random amplitude factor in ``1 +- scale``.
    noise_std : float
        Augmentation: standard deviation of the added Gaussian jitter (series units).

    Returns
    -------
    TrainingData
        Only the TRAIN rows are indexed (for 1-NN classification of the TEST rows).
    """
    from pyembed.datasets.ucr import load_pair

    train_split, test_split = load_pair(name, data_dir, znorm=znorm)
    if train_split.channels != 1 or not train_split.equal_length:
        raise ValueError(
            f"{name}: the 1-D DenseNet trains on one-channel series of one length; this data set "
            f"has {train_split.channels} channel(s) and lengths {int(train_split.lengths.min())} "
            f"to {int(train_split.lengths.max())} (k-NN on it: pyembed.classify or "
            "pyembed bench ucr)"
        )
    series = np.concatenate([train_split.X, test_split.X]).astype(np.float32)
    names, codes = np.unique(
        np.concatenate([train_split.y, test_split.y]).astype(str), return_inverse=True
    )
    n_train = train_split.n
    train_codes = np.unique(codes[:n_train], return_inverse=True)[1]
    length = series.shape[1]
    inputs = series_tensor(series)
    return TrainingData(
        kind="ucr",
        model_class="TimeSeriesEmbedding",
        model_kwargs={},
        data={
            "name": train_split.name,
            "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
            "znorm": znorm,
            "length": length,
        },
        split=None,
        inputs=inputs,
        train_inputs=inputs[:n_train],
        train_labels=torch.from_numpy(train_codes),
        n_classes=int(train_codes.max()) + 1,
        augment=SeriesAugment(
            max_shift=round(max_shift_pct / 100 * length), scale=scale, noise_std=noise_std
        ),
        labels=codes.astype(np.int64),
        label_names=names[codes],
        is_test=np.arange(series.shape[0]) >= n_train,
        index_rows=np.arange(n_train, dtype=np.int64),
        summary={
            "data": train_split.name,
            "train_series": n_train,
            "test_series": test_split.n,
            "length": length,
            "classes": int(names.size),
        },
    )
