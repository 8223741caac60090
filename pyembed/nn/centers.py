"""Class centers moved by a moving average, with open-set rejection thresholds."""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

__all__ = ["CenterUpdate", "ClassCenters"]

CenterUpdate = Literal["mean", "per_sample"]
"""The center update rules of :class:`ClassCenters`."""


class ClassCenters(nn.Module):
    """One center per class in embedding space, updated by a moving average (not by the optimizer).

    Each :meth:`update` moves the centers of the classes present in the batch by one of two rules.
    Write ``c`` for a class's center before the update, ``x_1 .. x_K`` for its ``K`` embeddings in
    the batch and ``m = (x_1 + ... + x_K) / K`` for their mean:

    - ``update="mean"`` (default): one step towards the batch mean, whatever ``K`` is,
      ``c_new = alpha * c + (1 - alpha) * m = c - (1 - alpha) * (c - m)``;
    - ``update="per_sample"``: one moving-average increment per sample, each computed from the same
      old center and summed, ``c_new = c - (1 - alpha) * sum_i (c - x_i)
      = c - K * (1 - alpha) * (c - m)``. This is the rule of the Dandelion "Center" module
      (``diff = (alpha - 1) * (center[labels] - features)`` added with Theano's ``inc_subtensor``,
      which accumulates repeated labels; ``shared/seeds/001_6d8c36f8c93992de.txt``, lines 63-65).

    Both rules agree when a class appears once (``K = 1``). A class seen for the first time starts
    at its batch mean under both rules. Centers, the seen flags and the rejection thresholds are
    registered buffers, so ``state_dict`` saves them; the rule and ``alpha`` are constructor
    arguments, not state (a ``state_dict`` loads into either rule).

    Parameters
    ----------
    n_classes : int
        Number of known classes ``C``; labels run from 0 to ``C - 1``.
    dim : int
        Embedding size.
    alpha : float, default 0.9
        Moving-average coefficient in ``[0, 1)``: the fraction of the old center kept per update
        (per sample with ``update="per_sample"``).
    update : {"mean", "per_sample"}, default "mean"
        The update rule above.

    Raises
    ------
    ValueError
        If ``n_classes`` or ``dim`` is below 1, ``alpha`` is outside ``[0, 1)`` or ``update`` is
        not one of the two rules.

    Notes
    -----
    **The per-sample rule is unstable for frequent classes.** A class repeated ``K`` times in a
    batch moves by ``K * (1 - alpha)`` times its offset ``m - c``. When ``K > 1 / (1 - alpha)``
    (``K > 10`` at the default ``alpha = 0.9``) that factor exceeds 1 and the center overshoots its
    batch mean, landing on the far side at ``K * (1 - alpha) - 1`` times the old offset. Fed batches
    with the same mean, the offset is multiplied by ``1 - K * (1 - alpha)`` per update: the center
    oscillates around the mean, decaying while ``K * (1 - alpha) < 2`` and diverging when
    ``K * (1 - alpha) > 2``. The mean rule moves by ``(1 - alpha)`` of the offset for every ``K``
    and cannot overshoot. P x K batches with large K and the seed's ``alpha = 0.9`` hit this.

    First sightings differ from the seed: its centers start as Glorot-uniform random values and
    the first update moves them from there by the rule above, so a class's first center is
    ``c_0 - K * (1 - alpha) * (c_0 - m)`` for a random ``c_0``; here a class's first center is its
    batch mean ``m`` exactly (no random start, and no dependence on ``alpha`` or ``K``).

    Open-set rejection: :meth:`fit_thresholds` sets, per class, a quantile of the training samples'
    distances to their own center; :meth:`classify` assigns each sample to its nearest center and
    reports it as an outsider (label ``-1``) when that distance exceeds the class threshold.
    """

    centers: Tensor
    seen: Tensor
    thresholds: Tensor

    def __init__(
        self, n_classes: int, dim: int, alpha: float = 0.9, update: CenterUpdate = "mean"
    ) -> None:
        super().__init__()
        if n_classes < 1 or dim < 1:
            raise ValueError(
                f"n_classes and dim must be >= 1, got n_classes={n_classes}, dim={dim}"
            )
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        if update not in get_args(CenterUpdate):
            raise ValueError(f"update must be 'mean' or 'per_sample', got {update!r}")
        self.n_classes = int(n_classes)
        self.dim = int(dim)
        self.alpha = float(alpha)
        self.update_rule: CenterUpdate = update
        self.register_buffer("centers", torch.zeros(n_classes, dim))
        self.register_buffer("seen", torch.zeros(n_classes, dtype=torch.bool))
        self.register_buffer("thresholds", torch.full((n_classes,), float("inf")))

    def extra_repr(self) -> str:
        return (
            f"n_classes={self.n_classes}, dim={self.dim}, alpha={self.alpha}, "
            f"update={self.update_rule!r}"
        )

    def _check(self, embeddings: Tensor, labels: Tensor | None = None) -> None:
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise ValueError(
                f"embeddings must have shape (n, {self.dim}), got {tuple(embeddings.shape)}"
            )
        if labels is not None:
            if labels.shape != (embeddings.shape[0],):
                raise ValueError(
                    f"labels must have shape ({embeddings.shape[0]},), got {tuple(labels.shape)}"
                )
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.n_classes):
                raise ValueError(
                    f"labels must lie in [0, {self.n_classes - 1}], got range "
                    f"[{int(labels.min())}, {int(labels.max())}]"
                )

    @torch.no_grad()
    def update(self, embeddings: Tensor, labels: Tensor) -> None:
        """Move the centers of the classes present in a batch by the constructor's rule.

        Parameters
        ----------
        embeddings : Tensor, shape (n, dim)
            Embeddings, used without gradient and converted to the centers' dtype.
        labels : Tensor, shape (n,), integer in ``[0, n_classes)``
            A label may repeat; with ``update="per_sample"`` each repetition adds one increment.

        Raises
        ------
        ValueError
            If the shapes disagree with ``dim`` and each other, or a label is out of range.
        """
        self._check(embeddings, labels)
        labels = labels.long()
        sums = torch.zeros_like(self.centers).index_add_(
            0, labels, embeddings.detach().to(self.centers.dtype)
        )
        counts = torch.bincount(labels, minlength=self.n_classes).to(self.centers.dtype)
        present = counts > 0
        means = sums[present] / counts[present, None]
        old = self.centers[present]
        first = ~self.seen[present]
        if self.update_rule == "mean":
            blended = self.alpha * old + (1.0 - self.alpha) * means
        else:
            # sum_i (c - x_i) over the K samples of a class: K * c - sum_i x_i
            offsets = counts[present, None] * old - sums[present]
            blended = old - (1.0 - self.alpha) * offsets
        self.centers[present] = torch.where(first[:, None], means, blended)
        self.seen[present] = True

    def distances(self, embeddings: Tensor) -> Tensor:
        """L2 distances to every center, ``(n, n_classes)``; never-seen classes are at ``+inf``."""
        self._check(embeddings)
        dist = torch.cdist(embeddings.to(self.centers.dtype), self.centers)
        return dist.masked_fill(~self.seen[None, :], float("inf"))

    @torch.no_grad()
    def fit_thresholds(self, embeddings: Tensor, labels: Tensor, quantile: float = 0.95) -> Tensor:
        """Set each class's rejection threshold from training distances.

        Parameters
        ----------
        embeddings : Tensor, shape (n, dim)
            Training embeddings.
        labels : Tensor, shape (n,)
        quantile : float, default 0.95
            The threshold of class ``c`` is this quantile of the distances of class-``c`` samples to
            center ``c``. Classes without samples keep threshold ``+inf``.

        Returns
        -------
        Tensor, shape (n_classes,)
            The thresholds, in L2 units (also stored in the ``thresholds`` buffer).
        """
        self._check(embeddings, labels)
        if not 0.0 <= quantile <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {quantile}")
        own = (embeddings.to(self.centers.dtype) - self.centers[labels.long()]).norm(dim=1)
        for c in range(self.n_classes):
            members = own[labels == c]
            if members.numel():
                self.thresholds[c] = torch.quantile(members, quantile)
        return self.thresholds.clone()

    @torch.no_grad()
    def classify(self, embeddings: Tensor) -> tuple[Tensor, Tensor]:
        """Nearest-center class with open-set rejection.

        Parameters
        ----------
        embeddings : Tensor, shape (n, dim)

        Returns
        -------
        labels : Tensor, shape (n,), int64
            Nearest center's class, or ``-1`` (outsider) when the distance exceeds that class's
            threshold.
        distances : Tensor, shape (n,)
            L2 distance to the nearest center.
        """
        dist = self.distances(embeddings)
        nearest, labels = dist.min(dim=1)
        outsider = nearest > self.thresholds[labels]
        return torch.where(outsider, torch.full_like(labels, -1), labels), nearest
