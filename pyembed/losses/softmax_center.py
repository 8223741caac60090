"""Softmax cross entropy plus lambda times center loss (Wen et al. 2016)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from pyembed.losses.base import EmbeddingLoss
from pyembed.losses.center import CenterLoss
from pyembed.miners.base import check_embeddings_and_labels
from pyembed.nn.centers import CenterUpdate

__all__ = ["SoftmaxCenterLoss"]


class SoftmaxCenterLoss(EmbeddingLoss):
    """``cross_entropy(W f + b, y) + center_weight * center_loss(f, y)``.

    The loss owns a linear classifier (trainable parameters: give ``loss.parameters()`` to the
    optimizer too) and a :class:`~pyembed.losses.CenterLoss` whose centers move by moving average.

    Parameters
    ----------
    dim : int
        Embedding size.
    n_classes : int
        Number of training classes; labels must lie in ``[0, n_classes)``.
    center_weight : float, default 0.5
        The lambda of Wen et al. (they use 0.003 on large face sets; small sets of a few hundred
        images did better with 0.1-0.5 in our benchmark).
    alpha : float, default 0.9
        Moving-average coefficient of the centers, in ``[0, 1)``.
    center_update : {"mean", "per_sample"}, default "mean"
        The centers' update rule (:class:`~pyembed.nn.ClassCenters`): one step of ``(1 - alpha)``
        towards each class's batch mean, or the seed's one increment per sample, which moves a
        class repeated ``K`` times by ``K * (1 - alpha)`` times its offset and so overshoots (the
        center oscillates or diverges) when ``K > 1 / (1 - alpha)``. In P x K batches ``K`` is
        ``n_per_identity``.

    Raises
    ------
    ValueError
        For a negative ``center_weight`` or a bad ``alpha`` or ``center_update``.

    Notes
    -----
    Always reduces by the mean over the batch. ``last_stats`` holds ``cross_entropy``,
    ``center_loss`` and ``accuracy`` (training-batch classification accuracy).
    """

    def __init__(
        self,
        dim: int,
        n_classes: int,
        center_weight: float = 0.5,
        alpha: float = 0.9,
        center_update: CenterUpdate = "mean",
    ) -> None:
        super().__init__("mean")
        if not center_weight >= 0:
            raise ValueError(f"center_weight must be >= 0, got {center_weight}")
        self.center_weight = float(center_weight)
        self.classifier = nn.Linear(dim, n_classes)
        self.center_loss = CenterLoss(
            n_classes, dim, alpha=alpha, reduction="mean", update=center_update
        )

    @property
    def centers(self):
        """The :class:`~pyembed.nn.ClassCenters` (for thresholds and open-set classification)."""
        return self.center_loss.centers

    def forward(self, embeddings: Tensor, labels: Tensor, indices: None = None) -> Tensor:
        """Scalar loss of a batch ``(n, dim)`` with labels ``(n,)`` in ``[0, n_classes)``."""
        if indices is not None:
            raise ValueError(
                "SoftmaxCenterLoss uses every sample of the batch; indices must be None"
            )
        check_embeddings_and_labels(embeddings, labels)
        logits = self.classifier(embeddings)
        cross_entropy = F.cross_entropy(logits, labels.long())
        center = self.center_loss(embeddings, labels)
        total = cross_entropy + self.center_weight * center
        self.last_stats = {
            "cross_entropy": float(cross_entropy.detach()),
            "center_loss": float(center.detach()),
            "accuracy": float((logits.detach().argmax(dim=1) == labels).float().mean()),
        }
        return total
