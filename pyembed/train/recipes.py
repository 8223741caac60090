"""Ready-made set-ups shared by the CLI and the benchmarks: model specs, loss/miner pairs, inputs.

A *model spec* is a plain dict ``{"class": name, "kwargs": {...}}`` that is stored in checkpoints,
so a saved run can rebuild its network without pickled code.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn

from pyembed.losses import ContrastiveLoss, SoftmaxCenterLoss, TripletLoss
from pyembed.losses.clustering import ClusterHeadLoss
from pyembed.miners import Miner, PairMiner, TripletMiner
from pyembed.nn import (
    DecoupledDenseNetEmbedding,
    DecoupledTimeSeriesEmbedding,
    DenseNetEmbedding,
    TimeSeriesEmbedding,
)
from pyembed.nn.centers import CenterUpdate
from pyembed.nn.recursive import NeuralGrammar, RecursiveAutoencoder

__all__ = [
    "LOSSES",
    "OBJECTIVE_DEFAULTS",
    "LossName",
    "build_model",
    "build_objective",
    "complete_objective",
    "image_tensor",
    "label_free_groups",
    "series_tensor",
]

LossName = Literal["triplet", "contrastive", "center", "clustering"]
LOSSES: tuple[str, ...] = ("triplet", "contrastive", "center", "clustering")

OBJECTIVE_DEFAULTS: dict[str, Any] = {
    "center_alpha": 0.9,
    "center_update": "mean",
    "n_clusters": None,
    "clustering_gamma": None,
}
"""Values of the ``metadata["objective"]`` keys added after the first runs were written (issue 17):
a run without them was trained with these."""

_MODELS: dict[str, type[nn.Module]] = {
    "DenseNetEmbedding": DenseNetEmbedding,
    "TimeSeriesEmbedding": TimeSeriesEmbedding,
    "DecoupledDenseNetEmbedding": DecoupledDenseNetEmbedding,
    "DecoupledTimeSeriesEmbedding": DecoupledTimeSeriesEmbedding,
    "RecursiveAutoencoder": RecursiveAutoencoder,
    "NeuralGrammar": NeuralGrammar,
}


def build_model(spec: dict[str, Any]) -> nn.Module:
    """Build a network from ``{"class": name, "kwargs": {...}}``.

    ``name`` is ``"DenseNetEmbedding"`` or ``"TimeSeriesEmbedding"``, or their DCNet versions
    ``"DecoupledDenseNetEmbedding"`` and ``"DecoupledTimeSeriesEmbedding"`` (whose kwargs add the
    operator: ``magnitude``, ``angular``, ``weighting``, ``weighted_gradients``, ``batch_norm``
    and the like; a missing key takes the class's default), or the recursive models of
    :mod:`pyembed.nn.recursive`, ``"RecursiveAutoencoder"`` and ``"NeuralGrammar"``.

    Raises
    ------
    ValueError
        For an unknown class name or bad keyword arguments (an unknown operator name included).
    """
    name = spec.get("class")
    if name not in _MODELS:
        raise ValueError(f"model class must be one of {sorted(_MODELS)}, got {name!r}")
    kwargs = dict(spec.get("kwargs", {}))
    try:
        return _MODELS[name](**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments for {name}: {exc}") from exc


def build_objective(
    name: LossName,
    *,
    embedding_dim: int,
    n_classes: int,
    margin: float | None = None,
    miner: str | None = None,
    center_weight: float = 0.5,
    alpha: float = 0.9,
    center_update: CenterUpdate = "mean",
    n_clusters: int | None = None,
    clustering_gamma: float = 1.0,
) -> tuple[nn.Module, Miner | None]:
    """The loss and miner of a named set-up.

    Parameters
    ----------
    name : {"triplet", "contrastive", "center", "clustering"}
        ``triplet``: :class:`~pyembed.losses.TripletLoss` (plain L2, margin default 0.2, reduction
        ``mean_nonzero``) with a :class:`~pyembed.miners.TripletMiner` (default ``"hard"``, batch-hard);
        ``contrastive``: :class:`~pyembed.losses.ContrastiveLoss` (margin default 1.0) with a
        :class:`~pyembed.miners.PairMiner` (default ``"all"``); ``center``:
        :class:`~pyembed.losses.SoftmaxCenterLoss`, no miner; ``clustering``:
        :class:`~pyembed.losses.clustering.ClusterHeadLoss` (a linear cluster head of
        ``n_clusters`` outputs and the entropy clustering loss of Jensen et al. 2020), no miner,
        labels unused (unsupervised; batch it with :func:`label_free_groups`).
    embedding_dim : int
    n_classes : int
        Training identities (center loss only).
    margin : float, optional
    miner : str, optional
        Miner strategy (``"all"``, ``"hard"``, ``"semihard"``; contrastive: ``"all"`` or
        ``"hard"``).
    center_weight, alpha : float
        Lambda and moving-average coefficient (in ``[0, 1)``) of the center loss.
    center_update : {"mean", "per_sample"}, default "mean"
        The center loss's update rule (:class:`~pyembed.nn.ClassCenters`). ``"per_sample"`` moves a
        class seen ``K`` times in a batch by ``K * (1 - alpha)`` times its offset from the batch
        mean, which overshoots when ``K > 1 / (1 - alpha)``: the center oscillates or diverges.
    n_clusters : int, optional
        Clusters of the ``clustering`` set-up (required there, ``>= 2``).
    clustering_gamma : float, default 1.0
        Weight of the batch-mean entropy of the ``clustering`` set-up.

    Returns
    -------
    (loss, miner or None)

    Raises
    ------
    ValueError
        For an unknown ``name``, a miner with ``center`` or ``clustering``, a missing
        ``n_clusters`` with ``clustering``, or a bad value of the chosen loss's settings.
    """
    if name == "triplet":
        m = 0.2 if margin is None else margin
        loss = TripletLoss(margin=m, reduction="mean_nonzero")
        return loss, TripletMiner(miner or "hard", margin=m, distance=loss.distance)  # type: ignore[arg-type]
    if name == "contrastive":
        pair_loss = ContrastiveLoss(margin=1.0 if margin is None else margin)
        return pair_loss, PairMiner(miner or "all")  # type: ignore[arg-type]
    if name == "center":
        if miner is not None:
            raise ValueError("the center-loss set-up uses no miner")
        return SoftmaxCenterLoss(
            embedding_dim,
            n_classes,
            center_weight=center_weight,
            alpha=alpha,
            center_update=center_update,
        ), None
    if name == "clustering":
        if miner is not None:
            raise ValueError("the clustering set-up uses no miner")
        if n_clusters is None:
            raise ValueError("n_clusters is required for the clustering set-up")
        return ClusterHeadLoss(embedding_dim, n_clusters, gamma=clustering_gamma), None
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")


def complete_objective(objective: dict[str, Any]) -> dict[str, Any]:
    """A run's ``metadata["objective"]`` with the keys it predates filled in.

    Parameters
    ----------
    objective : dict
        As stored in a checkpoint; keys it has are kept.

    Returns
    -------
    dict
        ``objective`` completed from :data:`OBJECTIVE_DEFAULTS`, so an old run compares equal to
        the command that would train it today.
    """
    return {**OBJECTIVE_DEFAULTS, **objective}


def label_free_groups(n: int, n_per_group: int, n_groups: int, *, seed: int) -> Tensor:
    """Random groups of rows that stand in for labels when batching an unsupervised objective.

    :class:`~pyembed.train.PKSampler` builds every batch from P labels times K rows. Fed these
    groups instead of the classes, its batches are random rows whatever their classes: the class
    labels then play no part in training at all (not even in which rows share a batch).

    Parameters
    ----------
    n : int
        Number of training rows, ``>= 2 * 2`` (two groups of two rows at least).
    n_per_group : int
        K of the sampler, ``>= 2``; groups get at least this many rows when ``n`` allows it, so
        the sampler draws them without replacement.
    n_groups : int
        P of the sampler, ``>= 2``; fewer groups are made when ``n < n_groups * n_per_group``
        (``max(2, n // n_per_group)``), each batch then holding about ``n`` rows.
    seed : int
        Seed of the assignment (``numpy.random.default_rng(seed)``).

    Returns
    -------
    Tensor of int64, shape (n,)
        Group codes ``0..G-1``, sizes differing by at most one, assigned by a random permutation.

    Raises
    ------
    ValueError
        If ``n < 4`` or ``n_per_group`` or ``n_groups`` is below 2.
    """
    if n < 4:
        raise ValueError(f"n must be >= 4 (two groups of two rows), got {n}")
    if n_per_group < 2 or n_groups < 2:
        raise ValueError(
            f"n_per_group and n_groups must be >= 2, got n_per_group={n_per_group}, "
            f"n_groups={n_groups}"
        )
    groups = max(2, min(n_groups, n // n_per_group))
    codes = np.random.default_rng(seed).permutation(np.arange(n) % groups)
    return torch.from_numpy(codes.astype(np.int64))


def image_tensor(images: ArrayLike) -> Tensor:
    """uint8 images ``(n, H, W)`` to a float32 tensor ``(n, 1, H, W)`` scaled to ``[0, 1]``."""
    arr = np.asarray(images)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (n, H, W), got {arr.dtype} {arr.shape}")
    return torch.from_numpy(arr.astype(np.float32) / 255.0).unsqueeze(1)


def series_tensor(series: ArrayLike) -> Tensor:
    """Series ``(n, length)`` to a float32 tensor ``(n, 1, length)`` (values unchanged)."""
    arr = np.asarray(series, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"series must be 2-D (n, length), got shape {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(1)
