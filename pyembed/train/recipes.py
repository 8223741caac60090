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
from pyembed.miners import Miner, PairMiner, TripletMiner
from pyembed.nn import DenseNetEmbedding, TimeSeriesEmbedding

__all__ = ["LOSSES", "LossName", "build_model", "build_objective", "image_tensor", "series_tensor"]

LossName = Literal["triplet", "contrastive", "center"]
LOSSES: tuple[str, ...] = ("triplet", "contrastive", "center")

_MODELS: dict[str, type[nn.Module]] = {
    "DenseNetEmbedding": DenseNetEmbedding,
    "TimeSeriesEmbedding": TimeSeriesEmbedding,
}


def build_model(spec: dict[str, Any]) -> nn.Module:
    """Build a network from ``{"class": name, "kwargs": {...}}``.

    ``name`` is ``"DenseNetEmbedding"`` or ``"TimeSeriesEmbedding"``.

    Raises
    ------
    ValueError
        For an unknown class name or bad keyword arguments.
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
) -> tuple[nn.Module, Miner | None]:
    """The loss and miner of a named set-up.

    Parameters
    ----------
    name : {"triplet", "contrastive", "center"}
        ``triplet``: :class:`~pyembed.losses.TripletLoss` (plain L2, margin default 0.2, reduction
        ``mean_nonzero``) with a :class:`~pyembed.miners.TripletMiner` (default ``"hard"``, batch-hard);
        ``contrastive``: :class:`~pyembed.losses.ContrastiveLoss` (margin default 1.0) with a
        :class:`~pyembed.miners.PairMiner` (default ``"all"``); ``center``:
        :class:`~pyembed.losses.SoftmaxCenterLoss`, no miner.
    embedding_dim : int
    n_classes : int
        Training identities (center loss only).
    margin : float, optional
    miner : str, optional
        Miner strategy (``"all"``, ``"hard"``, ``"semihard"``; contrastive: ``"all"`` or
        ``"hard"``).
    center_weight, alpha : float
        Lambda and moving-average coefficient of the center loss.

    Returns
    -------
    (loss, miner or None)
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
            embedding_dim, n_classes, center_weight=center_weight, alpha=alpha
        ), None
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")


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
