"""Contrastive loss for siamese pairs (Hadsell, Chopra and LeCun 2006)."""

from __future__ import annotations

import torch
from torch import Tensor

from pyembed.losses.base import EmbeddingLoss, Reduction
from pyembed.miners.base import check_embeddings_and_labels
from pyembed.miners.indices import PairIndices
from pyembed.miners.pair import all_pairs
from pyembed.nn.distances import EuclideanDistance

__all__ = ["ContrastiveLoss"]


class ContrastiveLoss(EmbeddingLoss):
    """Contrastive loss with margin ``m``.

    For a pair at Euclidean distance ``D`` the loss is ``0.5 * D**2`` when the two items are similar
    and ``0.5 * max(0, m - D)**2`` when they are dissimilar.

    **Label convention.** In :meth:`forward` pairs come from identity labels: equal labels make a
    similar pair. In :meth:`pair_loss`, which takes explicit siamese pairs, ``dissimilar`` follows
    Hadsell et al.: ``0`` means the two inputs show the same identity, ``1`` means different
    identities.

    Parameters
    ----------
    margin : float, default 1.0
        Radius ``m`` (in L2 units) beyond which dissimilar pairs stop contributing.
    eps : float, default 1e-12
        Added inside the square root, ``D = sqrt(||a - b||^2 + eps)``, so the gradient of the
        dissimilar term stays finite (zero) when a pair coincides. The similar term uses ``||a -
        b||^2`` directly and needs no epsilon.
    reduction : {"mean", "sum", "mean_nonzero", "none"}, default "mean"
        Applied over all pairs, similar and dissimilar together.
    """

    def __init__(
        self, margin: float = 1.0, eps: float = 1e-12, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(reduction)
        if not margin > 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.margin = float(margin)
        self.distance = EuclideanDistance(squared=False, eps=eps)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, eps={self.distance.eps}, reduction={self.reduction!r}"

    def per_pair(self, first: Tensor, second: Tensor, dissimilar: Tensor) -> Tensor:
        """Unreduced loss of explicit pairs.

        Parameters
        ----------
        first, second : Tensor, shape (n, dim)
        dissimilar : Tensor, shape (n,)
            ``0`` for a same-identity pair, ``1`` for a different-identity pair (bool or number).

        Returns
        -------
        Tensor, shape (n,)
        """
        squared = EuclideanDistance(squared=True).paired(first, second)
        distance = torch.sqrt(squared + self.distance.eps)
        dissimilar = dissimilar.to(first.dtype)
        similar_term = 0.5 * squared
        dissimilar_term = 0.5 * torch.relu(self.margin - distance).pow(2)
        return (1.0 - dissimilar) * similar_term + dissimilar * dissimilar_term

    def pair_loss(self, first: Tensor, second: Tensor, dissimilar: Tensor) -> Tensor:
        """Reduced loss of explicit siamese pairs (``dissimilar``: 0 same identity, 1 different)."""
        if first.ndim != 2 or first.shape != second.shape:
            raise ValueError(
                f"first and second must be equal (n, dim) shapes, got {tuple(first.shape)} and "
                f"{tuple(second.shape)}"
            )
        if dissimilar.shape != (first.shape[0],):
            raise ValueError(
                f"dissimilar must have shape ({first.shape[0]},), got {tuple(dissimilar.shape)}"
            )
        return self.reduce(self.per_pair(first, second, dissimilar), first)

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices: PairIndices | None = None
    ) -> Tensor:
        """Loss of a labelled batch.

        Parameters
        ----------
        embeddings : Tensor, shape (n, dim)
        labels : Tensor, shape (n,), integer identity labels
        indices : PairIndices, optional
            Pairs as row indices; default: all unordered pairs of the batch.

        Returns
        -------
        Tensor
            Scalar, or ``(n_positive + n_negative,)`` with ``reduction="none"`` (positive pairs
            first).
        """
        check_embeddings_and_labels(embeddings, labels)
        if indices is None:
            indices = all_pairs(labels)
        a_pos, pos, a_neg, neg = (
            torch.as_tensor(i, dtype=torch.long, device=embeddings.device) for i in indices
        )
        first = torch.cat([embeddings[a_pos], embeddings[a_neg]])
        second = torch.cat([embeddings[pos], embeddings[neg]])
        dissimilar = torch.cat([torch.zeros_like(a_pos), torch.ones_like(a_neg)])
        return self.reduce(self.per_pair(first, second, dissimilar), embeddings)
