"""The Deep Tree Network's losses: route and unique losses per routing node, map and class losses
per leaf, and :class:`DTNLoss`, their weighted sum (Liu et al., CVPR 2019, eq. 10).

Conventions (see ``shared/research/dtn.md`` for where they differ from the authors' code):

- ``C`` is the covariance of the visiting spoof samples' TRU vectors about their batch mean,
  divided by their count ``n``; ``v^T C v = mean_s(((x_s - mu) . v_hat)^2)`` and
  ``tr(C) = mean_s(||x_s - mu||^2)``, so ``C`` itself is never formed;
- route loss ``exp(-alpha * v^T C v) + beta * tr(C)``;
- unique loss ``-mean_s(((x_s - mu) . v_hat)^2) + mean_not(((x - mu) . v_hat)^2)`` over the visiting
  spoof samples and the rest of the batch (live and non-visiting spoof samples), both centred on
  the node's centre (the authors' code leaves the second set uncentred; centring makes the loss
  push non-visitors towards the routing hyperplane's origin, not towards the origin of the
  feature space);
- a node with fewer than two visiting spoof samples contributes zero to both (never NaN), as in
  the authors' code; node ``(level, j)`` has weight ``2**-level`` and each loss is the weighted
  sum over the nodes divided by the sum of all weights;
- leaf map loss: per sample the mean absolute difference between the leaf's map and the target
  (zeros for live, the spoof mask for spoof); per leaf ``0.5 * (mean over the spoof samples
  routed there + mean over all live samples)``, zero for a leaf no spoof sample reached; the mean
  over leaves;
- leaf class loss: the same per-leaf weighting of the binary cross-entropy of the class logit
  (the paper's cross-entropy; the authors' code uses L1 on the raw logit).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyembed.nn.dtn.tree import DTNTraining, NodeRouting

__all__ = [
    "DTNLoss",
    "DTNLossParts",
    "leaf_class_loss",
    "leaf_map_loss",
    "route_loss",
    "unique_loss",
]

COUNT_EPS = 1e-8
"""Added to every sample count a loss divides by."""


def _visitors(node: NodeRouting) -> tuple[Tensor, Tensor] | None:
    """Projections of the visiting and the other samples, or None below two visitors."""
    if int(node.visit.sum()) < 2:
        return None
    r = (node.vectors - node.center) @ node.direction
    return r[node.visit], r[~node.visit]


def route_loss(node: NodeRouting, alpha: float = 1e-3, beta: float = 1e-2) -> Tensor:
    """``exp(-alpha * v^T C v) + beta * tr(C)`` of one node; zero below two visiting spoof samples.

    Parameters
    ----------
    node : NodeRouting
        The node's vectors ``(n, dim)``, centre, unit direction and visit mask.
    alpha, beta : float
        The weights inside the loss (the authors' code: 1e-3 and 1e-2).

    Returns
    -------
    Tensor
        A scalar (with a gradient even when zero).
    """
    visiting = node.vectors[node.visit]
    if visiting.shape[0] < 2:
        return node.vectors.sum() * 0.0
    centred = visiting - node.center
    n = visiting.shape[0] + COUNT_EPS
    projected_variance = (centred @ node.direction).square().sum() / n
    trace = centred.square().sum() / n
    return torch.exp(-alpha * projected_variance) + beta * trace


def unique_loss(node: NodeRouting) -> Tensor:
    """``-mean_s(r_s^2) + mean_not(r^2)`` of one node, ``r = (x - mu) . v_hat``; zero below two
    visiting spoof samples, and the second term zero when every sample visits."""
    parts = _visitors(node)
    if parts is None:
        return node.vectors.sum() * 0.0
    visiting, others = parts
    loss = -visiting.square().mean()
    if others.numel():
        loss = loss + others.square().mean()
    return loss


def _per_leaf(per_sample: Tensor, leaf_visit: Tensor, is_spoof: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted mean over leaves of ``0.5 (spoof mean + live mean)``; also the spoof counts."""
    live = (~is_spoof).to(per_sample.dtype)
    spoof = leaf_visit.to(per_sample.dtype)  # (L, n)
    n_spoof = spoof.sum(dim=1)
    n_live = live.sum()
    spoof_part = (per_sample * spoof).sum(dim=1) / (n_spoof + COUNT_EPS)
    live_part = (per_sample * live).sum(dim=1) / (n_live + COUNT_EPS)
    tag = n_spoof / (n_spoof + COUNT_EPS)
    return (0.5 * (spoof_part + live_part) * tag).mean(), n_spoof


def leaf_map_loss(out: DTNTraining, targets: Tensor, is_spoof: Tensor) -> Tensor:
    """Leaf map loss: per-sample mean |map - target|, weighted per leaf (module docstring).

    Parameters
    ----------
    out : DTNTraining
        ``out.maps`` is ``(L, n, s, s)``.
    targets : Tensor, shape (n, s, s)
        Zeros for live samples, the spoof mask (resized to ``s x s``) for spoof samples.
    is_spoof : Tensor of bool, shape (n,)
    """
    if targets.shape != out.maps.shape[1:]:
        raise ValueError(
            f"targets must have shape {tuple(out.maps.shape[1:])}, got {tuple(targets.shape)}"
        )
    per_sample = (out.maps - targets.unsqueeze(0)).abs().mean(dim=(2, 3))  # (L, n)
    return _per_leaf(per_sample, out.leaf_visit, is_spoof)[0]


def leaf_class_loss(out: DTNTraining, is_spoof: Tensor) -> Tensor:
    """Leaf class loss: binary cross-entropy of each leaf's logits, weighted per leaf."""
    labels = is_spoof.to(out.logits.dtype).expand_as(out.logits)
    per_sample = F.binary_cross_entropy_with_logits(out.logits, labels, reduction="none")
    return _per_leaf(per_sample, out.leaf_visit, is_spoof)[0]


@dataclass(frozen=True)
class DTNLossParts:
    """The terms of one :class:`DTNLoss` evaluation (unweighted), and the total.

    Attributes
    ----------
    total : Tensor
        ``w_class * class + w_map * map`` plus, when unsupervised terms are on,
        ``w_route * route + w_unique * unique``.
    map, cls, route, unique : Tensor
        Scalars.
    leaf_spoof_counts : Tensor of int64, shape (L,)
        Spoof samples routed to each leaf (route collapse shows as zeros).
    """

    total: Tensor
    map: Tensor
    cls: Tensor
    route: Tensor
    unique: Tensor
    leaf_spoof_counts: Tensor


class DTNLoss(nn.Module):
    """The DTN's total loss (eq. 10) with the reference weights.

    Parameters
    ----------
    class_weight : float, default 0.001
    map_weight : float, default 1.0
    route_weight : float, default 2.0
    unique_weight : float, default 0.001
    alpha : float, default 1e-3
        Inside the route loss's exponential.
    beta : float, default 1e-2
        Weight of ``tr(C)`` in the route loss.
    """

    def __init__(
        self,
        *,
        class_weight: float = 0.001,
        map_weight: float = 1.0,
        route_weight: float = 2.0,
        unique_weight: float = 0.001,
        alpha: float = 1e-3,
        beta: float = 1e-2,
    ) -> None:
        super().__init__()
        for name, value in (
            ("class_weight", class_weight),
            ("map_weight", map_weight),
            ("route_weight", route_weight),
            ("unique_weight", unique_weight),
            ("alpha", alpha),
            ("beta", beta),
        ):
            if not value >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.class_weight = class_weight
        self.map_weight = map_weight
        self.route_weight = route_weight
        self.unique_weight = unique_weight
        self.alpha = alpha
        self.beta = beta

    def forward(
        self, out: DTNTraining, targets: Tensor, is_spoof: Tensor, *, unsupervised: bool = True
    ) -> DTNLossParts:
        """Evaluate every term; ``unsupervised=False`` leaves route and unique out of the total
        (the supervised warm-up) but still reports them."""
        is_spoof = is_spoof.bool()
        m = leaf_map_loss(out, targets, is_spoof)
        c = leaf_class_loss(out, is_spoof)
        weights = [2.0 ** -_level(k) for k in range(len(out.nodes))]
        total_weight = sum(weights)
        route = (
            sum(
                (
                    w * route_loss(node, self.alpha, self.beta)
                    for w, node in zip(weights, out.nodes, strict=True)
                ),
                start=m * 0.0,
            )
            / total_weight
        )
        unique = (
            sum(
                (w * unique_loss(node) for w, node in zip(weights, out.nodes, strict=True)),
                start=m * 0.0,
            )
            / total_weight
        )
        total = self.class_weight * c + self.map_weight * m
        if unsupervised:
            total = total + self.route_weight * route + self.unique_weight * unique
        counts = out.leaf_visit.sum(dim=1).detach()
        return DTNLossParts(total, m, c, route, unique, counts)


def _level(k: int) -> int:
    """Level of breadth-first node ``k`` (root 0)."""
    return (k + 1).bit_length() - 1
