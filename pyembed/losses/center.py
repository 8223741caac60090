"""Center loss (Wen, Zhang, Li and Qiao, ECCV 2016)."""

from __future__ import annotations

from torch import Tensor

from pyembed.losses.base import EmbeddingLoss, Reduction
from pyembed.miners.base import check_embeddings_and_labels
from pyembed.nn.centers import CenterUpdate, ClassCenters

__all__ = ["CenterLoss"]


class CenterLoss(EmbeddingLoss):
    """Center loss ``0.5 * ||f_i - c_{y_i}||^2`` with moving-average centers.

    The centers live in a :class:`~pyembed.nn.ClassCenters` submodule (registered buffers, no
    parameters, so the optimizer never touches them). In training mode every call first computes the
    loss against the current centers and then moves the centers of the classes in the batch.

    Parameters
    ----------
    n_classes : int
        Number of training classes; labels must lie in ``[0, n_classes)``.
    dim : int
        Embedding size.
    alpha : float, default 0.9
        Moving-average coefficient in ``[0, 1)`` (fraction of the old center kept per update).
    reduction : {"mean", "sum", "mean_nonzero", "none"}, default "mean"
        Over samples.
    update : {"mean", "per_sample"}, default "mean"
        How a class's center moves (:class:`~pyembed.nn.ClassCenters`): ``"mean"`` moves it once,
        ``c - (1 - alpha) * (c - m)`` towards its batch mean ``m``; ``"per_sample"`` adds one
        increment per sample as the seed's Theano module does, ``c - (1 - alpha) * sum_i (c - x_i)``,
        so a class repeated ``K`` times in a batch moves by ``K * (1 - alpha)`` times its offset
        ``m - c``. With ``K > 1 / (1 - alpha)`` (``K > 10`` at ``alpha = 0.9``) that overshoots the
        mean: the center oscillates, and diverges for ``K * (1 - alpha) > 2``.

    Raises
    ------
    ValueError
        For a bad ``n_classes``, ``dim``, ``alpha``, ``update`` or ``reduction``.

    Notes
    -----
    A class seen for the first time starts at its batch mean (under both rules), so its first loss
    is its spread around that mean. Use it next to a classifier, ``cross_entropy + lambda *
    center_loss`` (:class:`~pyembed.losses.SoftmaxCenterLoss`): on its own the loss collapses all
    embeddings.
    """

    def __init__(
        self,
        n_classes: int,
        dim: int,
        alpha: float = 0.9,
        reduction: Reduction = "mean",
        update: CenterUpdate = "mean",
    ) -> None:
        super().__init__(reduction)
        self.centers = ClassCenters(n_classes, dim, alpha, update=update)

    def forward(self, embeddings: Tensor, labels: Tensor, indices: None = None) -> Tensor:
        """Loss of a labelled batch.

        Parameters
        ----------
        embeddings : Tensor, shape (n, dim)
        labels : Tensor, shape (n,), integer in ``[0, n_classes)``
        indices : None
            Center loss uses every sample; passing indices is an error.

        Returns
        -------
        Tensor
            Scalar, or ``(n,)`` with ``reduction="none"``.
        """
        if indices is not None:
            raise ValueError("CenterLoss uses every sample of the batch; indices must be None")
        check_embeddings_and_labels(embeddings, labels)
        self.centers._check(embeddings, labels)
        unseen = ~self.centers.seen[labels.long()]
        if self.training:
            # First sightings: start the center at the batch mean before measuring against it.
            if bool(unseen.any()):
                self.centers.update(embeddings[unseen], labels[unseen])
        target = self.centers.centers[labels.long()].to(embeddings.dtype)
        per_sample = 0.5 * (embeddings - target).pow(2).sum(dim=1)
        if self.training:
            self.centers.update(embeddings[~unseen], labels[~unseen])
        return self.reduce(per_sample, embeddings)
