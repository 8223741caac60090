"""Triplet margin loss (Schroff et al. 2015, FaceNet)."""

from __future__ import annotations

import torch
from torch import Tensor

from pyembed.losses.base import EmbeddingLoss, Reduction
from pyembed.miners.base import check_embeddings_and_labels
from pyembed.miners.indices import TripletIndices
from pyembed.miners.triplet import all_triplets
from pyembed.nn.distances import CosineDistance, EuclideanDistance

__all__ = ["TripletLoss"]


class TripletLoss(EmbeddingLoss):
    """Triplet margin loss ``max(0, d(a, p) - d(a, n) + margin)`` per triplet.

    Parameters
    ----------
    margin : float, default 0.2
        Required gap between the negative and the positive distance, in the units of ``distance``
        (squared L2 units when ``distance`` is ``EuclideanDistance(squared=True)``, as in FaceNet).
    distance : EuclideanDistance or CosineDistance, optional
        Default: plain L2 with an epsilon-safe square root.
    reduction : {"mean", "sum", "mean_nonzero", "none"}, default "mean"

    Notes
    -----
    Call as ``loss(embeddings, labels, indices=None)``. ``embeddings`` is ``(n, dim)`` float,
    ``labels`` ``(n,)`` integer and ``indices`` a :class:`~pyembed.miners.TripletIndices` (from a
    :class:`~pyembed.miners.TripletMiner`). Without ``indices`` every valid triplet of the batch is
    used. ``last_stats`` reports the number of triplets and of active (positive-loss) triplets.
    """

    def __init__(
        self,
        margin: float = 0.2,
        distance: EuclideanDistance | CosineDistance | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(reduction)
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)
        self.distance = distance if distance is not None else EuclideanDistance()

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}, reduction={self.reduction!r}"

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices: TripletIndices | None = None
    ) -> Tensor:
        """Loss of a labelled batch.

        Parameters
        ----------
        embeddings : Tensor, shape (n, dim)
        labels : Tensor, shape (n,), integer
        indices : TripletIndices, optional
            Triplets as row indices into the batch; default: all valid triplets.

        Returns
        -------
        Tensor
            Scalar, or shape ``(t,)`` with ``reduction="none"``.
        """
        check_embeddings_and_labels(embeddings, labels)
        if indices is None:
            indices = all_triplets(labels)
        anchor, positive, negative = (
            torch.as_tensor(i, dtype=torch.long, device=embeddings.device) for i in indices
        )
        d_ap = self.distance.paired(embeddings[anchor], embeddings[positive])
        d_an = self.distance.paired(embeddings[anchor], embeddings[negative])
        per_triplet = torch.relu(d_ap - d_an + self.margin)
        return self.reduce(per_triplet, embeddings)
