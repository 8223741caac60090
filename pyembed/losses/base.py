"""The contract every pyembed loss follows.

``loss(embeddings, labels, indices=None)`` returns a scalar tensor (or per-tuple values with
``reduction="none"``). Without ``indices`` a loss builds every valid tuple from ``labels``. The
reduction is a closed set of names checked in ``__init__``; diagnostics go to ``last_stats``.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

__all__ = ["EmbeddingLoss", "Reduction"]

Reduction = Literal["mean", "sum", "mean_nonzero", "none"]
_REDUCTIONS: tuple[str, ...] = get_args(Reduction)


class EmbeddingLoss(nn.Module):
    """Base class: validates and applies the reduction, keeps ``last_stats``.

    Parameters
    ----------
    reduction : {"mean", "sum", "mean_nonzero", "none"}
        How per-tuple losses become the returned value. ``"mean_nonzero"`` averages over the tuples
        whose loss is positive (the batch-all convention of Hermans et al. 2017); ``"none"`` returns
        the 1-D tensor of per-tuple losses.

    Notes
    -----
    When there is no tuple at all (or, for ``"mean_nonzero"``, no positive one) the loss is a zero
    that is still connected to the graph, so ``backward`` works and gives zero gradients.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction: Reduction = reduction
        self.last_stats: dict[str, float] = {}

    def reduce(self, per_tuple: Tensor, anchor: Tensor) -> Tensor:
        """Reduce per-tuple losses.

        Parameters
        ----------
        per_tuple : Tensor, shape (t,)
            Non-negative loss of each tuple.
        anchor : Tensor
            Any tensor that depends on the inputs (usually the embeddings); used to return a zero
            that keeps a gradient path when ``t == 0``.

        Returns
        -------
        Tensor
            Scalar, or ``(t,)`` when ``reduction == "none"``.
        """
        with torch.no_grad():
            n_active = int((per_tuple > 0).sum())
            self.last_stats = {
                "n_tuples": float(per_tuple.numel()),
                "n_active": float(n_active),
                "fraction_active": n_active / per_tuple.numel() if per_tuple.numel() else 0.0,
            }
        if self.reduction == "none":
            return per_tuple
        zero = anchor.sum() * 0.0
        if per_tuple.numel() == 0:
            return zero
        if self.reduction == "sum":
            return per_tuple.sum()
        if self.reduction == "mean":
            return per_tuple.mean()
        # mean_nonzero
        if n_active == 0:
            return per_tuple.sum() * 0.0
        return per_tuple.sum() / n_active
