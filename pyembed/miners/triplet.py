"""Online triplet mining from a labelled batch (Schroff et al. 2015; Hermans et al. 2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from pyembed.miners.base import Miner, Strategy, label_masks
from pyembed.miners.indices import TripletIndices
from pyembed.nn.distances import CosineDistance, EuclideanDistance

__all__ = ["TripletMiner", "all_triplets"]


def all_triplets(labels: Tensor) -> TripletIndices:
    """Every valid triplet of a batch.

    Parameters
    ----------
    labels : Tensor, shape (n,), integer

    Returns
    -------
    TripletIndices
        All ``(a, p, n)`` with ``a != p``, ``labels[a] == labels[p]`` and ``labels[n] !=
        labels[a]``, in lexicographic order.
    """
    positive, negative = label_masks(labels)
    valid = positive[:, :, None] & negative[:, None, :]
    anchor, pos, neg = torch.nonzero(valid, as_tuple=True)
    return TripletIndices(anchor, pos, neg)


class TripletMiner(Miner):
    """Choose triplets from a labelled batch.

    Parameters
    ----------
    strategy : {"all", "hard", "semihard"}
        ``"all"``: every valid triplet (batch-all). ``"hard"``: one triplet per anchor with its
        farthest positive and its nearest negative (batch-hard). ``"semihard"``: one triplet per
        positive pair ``(a, p)``, with the nearest negative that is still farther than the positive
        but inside the margin, ``d(a, p) < d(a, n) < d(a, p) + margin`` (FaceNet); pairs without
        such a negative are skipped.
    margin : float, default 0.2
        The triplet margin, in the units of ``distance``; only ``"semihard"`` uses it.
    distance : EuclideanDistance or CosineDistance, optional
        Must be the distance of the loss the triplets feed. Default: plain Euclidean.

    Notes
    -----
    Anchors without a positive or without a negative in the batch produce no triplet. Ties are
    broken by the lowest row index.
    """

    strategies = ("all", "hard", "semihard")

    def __init__(
        self,
        strategy: Strategy = "semihard",
        margin: float = 0.2,
        distance: EuclideanDistance | CosineDistance | None = None,
    ) -> None:
        super().__init__(strategy, distance)
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)

    def mine(self, embeddings: Tensor, labels: Tensor) -> TripletIndices:
        """Return the chosen triplets for a batch ``(n, dim)`` with labels ``(n,)``."""
        if self.strategy == "all":
            found = all_triplets(labels)
        else:
            dist = self.distance.pairwise(embeddings, embeddings)
            positive, negative = label_masks(labels)
            if self.strategy == "hard":
                found = self._hard(dist, positive, negative)
            else:
                found = self._semihard(dist, positive, negative)
        self.last_stats = {"n_triplets": float(found.anchor.numel())}
        return found

    @staticmethod
    def _hard(dist: Tensor, positive: Tensor, negative: Tensor) -> TripletIndices:
        inf = torch.tensor(float("inf"), dtype=dist.dtype, device=dist.device)
        usable = positive.any(dim=1) & negative.any(dim=1)
        hardest_pos = torch.where(positive, dist, -inf).argmax(dim=1)
        hardest_neg = torch.where(negative, dist, inf).argmin(dim=1)
        anchor = torch.nonzero(usable, as_tuple=True)[0]
        return TripletIndices(anchor, hardest_pos[anchor], hardest_neg[anchor])

    def _semihard(self, dist: Tensor, positive: Tensor, negative: Tensor) -> TripletIndices:
        anchor, pos = torch.nonzero(positive, as_tuple=True)
        d_ap = dist[anchor, pos][:, None]
        d_an = dist[anchor]
        window = negative[anchor] & (d_an > d_ap) & (d_an < d_ap + self.margin)
        inf = torch.tensor(float("inf"), dtype=dist.dtype, device=dist.device)
        choice = torch.where(window, d_an, inf).argmin(dim=1)
        keep = window.any(dim=1)
        return TripletIndices(anchor[keep], pos[keep], choice[keep])
