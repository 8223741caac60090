"""Online pair mining from a labelled batch, for the contrastive loss."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pyembed.miners.base import Miner, label_masks
from pyembed.miners.indices import PairIndices
from pyembed.nn.distances import CosineDistance, EuclideanDistance

__all__ = ["PairMiner", "all_pairs"]


def all_pairs(labels: Tensor) -> PairIndices:
    """Every unordered pair ``i < j`` of a batch, split into positive and negative pairs.

    Parameters
    ----------
    labels : Tensor, shape (n,), integer

    Returns
    -------
    PairIndices
        Positive pairs (equal labels) and negative pairs (different labels), each with ``i < j``.
    """
    positive, negative = label_masks(labels)
    upper = torch.ones_like(positive).triu(diagonal=1)
    a_pos, pos = torch.nonzero(positive & upper, as_tuple=True)
    a_neg, neg = torch.nonzero(negative & upper, as_tuple=True)
    return PairIndices(a_pos, pos, a_neg, neg)


class PairMiner(Miner):
    """Choose positive and negative pairs from a labelled batch.

    Parameters
    ----------
    strategy : {"all", "hard"}
        ``"all"``: every unordered pair. ``"hard"``: for each row, its farthest positive and its
        nearest negative (rows without a positive or a negative contribute no pair of that kind).
    distance : EuclideanDistance or CosineDistance, optional
        The distance used to rank pairs for ``"hard"``. Default: plain Euclidean.
    """

    strategies = ("all", "hard")

    def __init__(
        self,
        strategy: Literal["all", "hard"] = "all",
        distance: EuclideanDistance | CosineDistance | None = None,
    ) -> None:
        super().__init__(strategy, distance)

    def mine(self, embeddings: Tensor, labels: Tensor) -> PairIndices:
        """Return the chosen pairs for a batch ``(n, dim)`` with labels ``(n,)``."""
        if self.strategy == "all":
            found = all_pairs(labels)
        else:
            dist = self.distance.pairwise(embeddings, embeddings)
            positive, negative = label_masks(labels)
            inf = torch.tensor(float("inf"), dtype=dist.dtype, device=dist.device)
            a_pos = torch.nonzero(positive.any(dim=1), as_tuple=True)[0]
            a_neg = torch.nonzero(negative.any(dim=1), as_tuple=True)[0]
            far_pos = torch.where(positive, dist, -inf).argmax(dim=1)
            near_neg = torch.where(negative, dist, inf).argmin(dim=1)
            found = PairIndices(a_pos, far_pos[a_pos], a_neg, near_neg[a_neg])
        self.last_stats = {
            "n_positive_pairs": float(found.anchor_pos.numel()),
            "n_negative_pairs": float(found.anchor_neg.numel()),
        }
        return found
