"""The Deep Tree Network: a binary tree of CRU + TRU nodes with an SFL at every leaf.

Training runs every node on the whole batch (the authors' code does the same): live samples are
used at every leaf, spoof samples are routed, and the per-node visit masks say which spoof samples
reached which node. Inference routes each sample down one path only, batching the samples that
share a node, so the branches a sample does not take are never evaluated for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyembed.nn.dtn.units import (
    LEAKY_SLOPE,
    ConvResidualUnit,
    SpoofLeaf,
    TreeRoutingUnit,
    init_dtn_weights_,
)

__all__ = ["DTNInference", "DTNTraining", "DeepTreeNetwork", "NodeRouting", "leaf_features"]


@dataclass(frozen=True)
class NodeRouting:
    """What one routing node saw in a training forward pass.

    Attributes
    ----------
    vectors : Tensor, shape (n, dim)
        The TRU's compressed features of every sample of the batch.
    center : Tensor, shape (dim,)
        The centre used: the mean of the visiting spoof samples when at least two visit, else
        the moving-average centre.
    direction : Tensor, shape (dim,)
        The unit projection vector ``v_hat``.
    visit : Tensor of bool, shape (n,)
        Spoof samples that reached this node.
    """

    vectors: Tensor
    center: Tensor
    direction: Tensor
    visit: Tensor


@dataclass(frozen=True)
class DTNTraining:
    """A training forward pass (every node and leaf on the whole batch).

    Attributes
    ----------
    maps : Tensor, shape (n_leaves, n, s, s)
        Spoof maps in [0, 1] of every leaf for every sample.
    logits : Tensor, shape (n_leaves, n)
        Live/spoof logits (positive: spoof).
    leaf_visit : Tensor of bool, shape (n_leaves, n)
        Spoof samples routed to each leaf (each spoof sample to exactly one; live to none).
    nodes : list of NodeRouting
        The routing nodes in breadth-first order (root first; node ``(level, j)`` is at
        ``2**level - 1 + j``).
    """

    maps: Tensor
    logits: Tensor
    leaf_visit: Tensor
    nodes: list[NodeRouting]


@dataclass(frozen=True)
class DTNInference:
    """A hard-routed inference pass: one leaf per sample.

    Attributes
    ----------
    leaf : Tensor of int64, shape (n,)
        The leaf each sample reached, ``0 .. n_leaves - 1``.
    maps : Tensor, shape (n, s, s)
        The spoof map of that leaf, in [0, 1].
    logits : Tensor, shape (n,)
        The class head's logit of that leaf.
    responses : Tensor, shape (n, depth)
        The TRU response at each node of the path (``>= 0``: the first child was taken).
    features : Tensor, shape (n, dim)
        The TRU-compressed features of the last routing node on the path (the last CRU's
        features), unnormalised.
    """

    leaf: Tensor
    maps: Tensor
    logits: Tensor
    responses: Tensor
    features: Tensor

    @property
    def map_score(self) -> Tensor:
        """Mean of the spoof map, ``(n,)`` in [0, 1]: the primary spoof score."""
        return self.maps.mean(dim=(1, 2))

    @property
    def class_score(self) -> Tensor:
        """``sigmoid(logits)``, ``(n,)`` in [0, 1]."""
        return torch.sigmoid(self.logits)

    @property
    def fused_score(self) -> Tensor:
        """``(map_score + class_score) / 2``, ``(n,)`` in [0, 1] (the paper's fusion is not given)."""
        return 0.5 * (self.map_score + self.class_score)


class DeepTreeNetwork(nn.Module):
    """Deep Tree Network for zero-shot face anti-spoofing (Liu, Stehouwer, Jourabloo, Liu, 2019).

    A stem (5x5 conv, BN, leaky ReLU) feeds a binary tree of ``depth`` routing levels: node
    ``(level, j)`` has a CRU and a TRU, and its TRU sends a sample to child ``2j`` when its
    response is ``>= 0``, else to ``2j + 1``. Leaf ``i`` (``2**depth`` of them) reads the CRU
    output of its parent ``(depth - 1, i // 2)`` and has its own SFL.

    Parameters
    ----------
    in_channels : int, default 1
        Input channels (1 for grayscale faces).
    image_side : int, default 64
        Side of the square input images, in pixels.
    width : int, default 16
        Channels of every CRU (the authors' code: 32).
    depth : int, default 3
        Routing levels (the paper: 3, giving 8 leaves).
    n_pool : int, default 2
        The first ``n_pool`` levels halve the side; with 64x64 inputs and the default the leaf
        maps are 16x16.
    tru_side : int, default 4
        Side of each TRU's compressed features (its vector has ``width * tru_side**2`` entries).
    leaf_hidden : int, default 64
        Dense width of each leaf's class head.
    momentum : float, default 0.05
        Moving-average rate of the TRU centres.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        image_side: int = 64,
        width: int = 16,
        depth: int = 3,
        n_pool: int = 2,
        tru_side: int = 4,
        leaf_hidden: int = 64,
        momentum: float = 0.05,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("width", width), ("depth", depth)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not 0 <= n_pool <= depth:
            raise ValueError(f"n_pool must be in 0..depth={depth}, got {n_pool}")
        if image_side < 2**n_pool:
            raise ValueError(f"image_side must be >= 2**n_pool = {2**n_pool}, got {image_side}")
        self.in_channels = in_channels
        self.image_side = image_side
        self.depth = depth
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 5, padding=2, bias=False),
            nn.BatchNorm2d(width),
            nn.LeakyReLU(LEAKY_SLOPE),
        )
        crus, trus = [], []
        side = image_side
        for level in range(depth):
            pool = level < n_pool
            out_side = (side + 1) // 2 if pool else side
            for _ in range(2**level):
                crus.append(ConvResidualUnit(width, pool=pool))
                trus.append(TreeRoutingUnit(width, out_side, out_side=tru_side, momentum=momentum))
            side = out_side
        self.crus = nn.ModuleList(crus)
        self.trus = nn.ModuleList(trus)
        self.leaves = nn.ModuleList(
            SpoofLeaf(width, side, hidden=leaf_hidden) for _ in range(2**depth)
        )
        self.map_side = side
        self.feature_dim = width * tru_side * tru_side
        init_dtn_weights_(self)

    @property
    def n_leaves(self) -> int:
        """Number of leaves, ``2**depth``."""
        return 2**self.depth

    def routing_parameters(self) -> list[nn.Parameter]:
        """The TRUs' parameters (for the paper's alternating schedule)."""
        return [p for tru in self.trus for p in tru.parameters()]

    def other_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not a TRU's (stem, CRUs, leaves)."""
        routing = {id(p) for p in self.routing_parameters()}
        return [p for p in self.parameters() if id(p) not in routing]

    def _check(self, images: Tensor) -> None:
        expected = (self.in_channels, self.image_side, self.image_side)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images must have shape (n, {expected[0]}, {expected[1]}, {expected[2]}), "
                f"got {tuple(images.shape)}"
            )

    def forward(self, images: Tensor, is_spoof: Tensor) -> DTNTraining:
        """Training pass: every node and leaf on the whole batch; spoof samples routed.

        Parameters
        ----------
        images : Tensor, shape (n, in_channels, image_side, image_side)
        is_spoof : Tensor of bool, shape (n,)

        Returns
        -------
        DTNTraining
            The moving-average centres are updated (in training mode) as a side effect.
        """
        self._check(images)
        if is_spoof.shape != images.shape[:1]:
            raise ValueError(f"is_spoof must have shape ({images.shape[0]},)")
        feats = [self.stem(images)]
        visits = [is_spoof.bool()]
        nodes: list[NodeRouting] = []
        for level in range(self.depth):
            next_feats, next_visits = [], []
            for j in range(2**level):
                k = 2**level - 1 + j
                cru, tru = self.crus[k], self.trus[k]
                assert isinstance(tru, TreeRoutingUnit)
                out = cru(feats[j])
                vectors = tru.features(out)
                visit = visits[j]
                if int(visit.sum()) >= 2:
                    center = vectors[visit].mean(dim=0)
                    if self.training:
                        tru.update_center(center)
                else:
                    center = tru.center
                responses = tru.responses(vectors, center)
                first = responses.detach() >= 0
                nodes.append(NodeRouting(vectors, center, tru.direction(), visit))
                next_feats += [out, out]
                next_visits += [visit & first, visit & ~first]
            feats, visits = next_feats, next_visits
        maps, logits = [], []
        for i, leaf in enumerate(self.leaves):
            m, lo = leaf(feats[i])
            maps.append(m)
            logits.append(lo)
        return DTNTraining(torch.stack(maps), torch.stack(logits), torch.stack(visits), nodes)

    @torch.no_grad()
    def infer(self, images: Tensor) -> DTNInference:
        """Hard routing: each sample follows one path, scored by the leaf it reaches.

        The samples at a node are batched together, so no sample is run through a branch it does
        not take. Centres are the moving averages kept in training. Call in ``eval()`` mode.

        Parameters
        ----------
        images : Tensor, shape (n, in_channels, image_side, image_side)

        Returns
        -------
        DTNInference
        """
        self._check(images)
        n = images.shape[0]
        leaf = torch.zeros(n, dtype=torch.long, device=images.device)
        maps = images.new_zeros((n, self.map_side, self.map_side))
        logits = images.new_zeros(n)
        responses = images.new_zeros((n, self.depth))
        features = images.new_zeros((n, self.feature_dim))
        # (rows of the batch, their features) per node of the current level
        groups: list[tuple[Tensor, Tensor]] = [
            (torch.arange(n, device=images.device), self.stem(images))
        ]
        for level in range(self.depth):
            next_groups: list[tuple[Tensor, Tensor]] = []
            for j, (rows, x) in enumerate(groups):
                tru = self.trus[2**level - 1 + j]
                assert isinstance(tru, TreeRoutingUnit)
                if rows.numel() == 0:
                    empty = rows[:0]
                    next_groups += [(empty, x), (empty, x)]
                    continue
                out = self.crus[2**level - 1 + j](x)
                vectors = tru.features(out)
                r = tru.responses(vectors, tru.center)
                responses[rows, level] = r
                if level == self.depth - 1:
                    features[rows] = vectors
                first = r >= 0
                next_groups += [(rows[first], out[first]), (rows[~first], out[~first])]
            groups = next_groups
        for i, (rows, x) in enumerate(groups):
            if rows.numel() == 0:
                continue
            m, lo = self.leaves[i](x)
            leaf[rows] = i
            maps[rows] = m
            logits[rows] = lo
        return DTNInference(leaf, maps, logits, responses, features)


def leaf_features(result: DTNInference, n_leaves: int, leaf_weight: float = 1.0) -> Tensor:
    """Index features: ``[leaf_weight * one_hot(leaf), features / ||features||]``, ``(n, L + dim)``.

    Samples at the same leaf differ only by their (unit-length) last-node features; samples at
    different leaves are at least ``leaf_weight * sqrt(2)`` further apart in the one-hot part.
    """
    one_hot = F.one_hot(result.leaf, n_leaves).to(result.features.dtype) * leaf_weight
    unit = F.normalize(result.features, dim=1, eps=1e-12)
    return torch.cat([one_hot, unit], dim=1)
