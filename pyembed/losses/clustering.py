"""Clustering (entropy) loss (Jensen et al., ICASSP 2020), on logits or through a linear head.

:class:`ClusteringLoss` scores cluster logits; :class:`ClusterHeadLoss` owns the linear cluster head
that turns embeddings into those logits, so the training loop can fit an embedding network with it
(the ``clustering`` recipe of :func:`pyembed.train.build_objective`). Both live here because the
second is only the first behind a ``nn.Linear``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pyembed.losses.base import EmbeddingLoss

__all__ = ["ClusterHeadLoss", "ClusteringLoss"]


def _check_gamma(gamma: float) -> float:
    if not (math.isfinite(gamma) and gamma >= 0.0):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma}")
    return float(gamma)


class ClusteringLoss(EmbeddingLoss):
    """Mean per-sample entropy of softmax outputs minus ``gamma`` times the entropy of their mean.

    ``L = mean_i H(p_i) - gamma * H(mean_i p_i)`` with ``p_i = softmax(logits_i)`` and
    ``H(q) = -sum_c q_c log q_c`` (natural log, nats). The first term pushes each sample to one
    cluster; the second rewards using all clusters across the batch.

    Parameters
    ----------
    gamma : float, default 1.0
        Weight of the batch-mean entropy, finite and ``>= 0``.

    Raises
    ------
    ValueError
        If ``gamma`` is negative or not finite.

    Notes
    -----
    Works on logits with ``log_softmax`` and ``logsumexp`` (``log mean_i p_ic = logsumexp_i log p_ic
    - log n``), so no epsilon is needed and the loss is finite for any finite logits. Labels are not
    used (unsupervised); the loss is a scalar in ``[-gamma log C, log C]`` for ``C`` clusters.
    """

    def __init__(self, gamma: float = 1.0) -> None:
        super().__init__("mean")
        self.gamma = _check_gamma(gamma)

    def forward(self, logits: Tensor, labels: Tensor | None = None, indices: None = None) -> Tensor:
        """Loss of a batch of cluster logits.

        Parameters
        ----------
        logits : Tensor, shape (n, n_clusters)
            Unnormalised cluster scores (before the softmax).
        labels, indices : ignored
            Accepted for the common loss signature.

        Returns
        -------
        Tensor
            Scalar.
        """
        if logits.ndim != 2 or logits.shape[0] == 0:
            raise ValueError(
                f"logits must be 2-D (n, n_clusters) with n >= 1, got shape {tuple(logits.shape)}"
            )
        log_p = torch.log_softmax(logits, dim=1)
        sample_entropy = -(log_p.exp() * log_p).sum(dim=1).mean()
        log_mean = torch.logsumexp(log_p, dim=0) - math.log(logits.shape[0])
        batch_entropy = -(log_mean.exp() * log_mean).sum()
        self.last_stats = {
            "sample_entropy": float(sample_entropy.detach()),
            "batch_entropy": float(batch_entropy.detach()),
        }
        return sample_entropy - self.gamma * batch_entropy


class ClusterHeadLoss(EmbeddingLoss):
    """:class:`ClusteringLoss` of the logits of a linear cluster head over the embeddings.

    ``L = mean_i H(p_i) - gamma * H(mean_i p_i)`` with ``p_i = softmax(W f_i + b)`` for the
    embeddings ``f_i``; ``W`` ``(n_clusters, dim)`` and ``b`` are trainable parameters of this loss
    (give ``loss.parameters()`` to the optimizer; :class:`~pyembed.train.Trainer` does). Labels are
    accepted for the common loss signature and never read: training with it is unsupervised.

    Parameters
    ----------
    dim : int
        Embedding size.
    n_clusters : int
        Number of clusters ``C >= 2`` (the head's outputs).
    gamma : float, default 1.0
        Weight of the batch-mean entropy, finite and ``>= 0``.

    Raises
    ------
    ValueError
        If ``dim < 1``, ``n_clusters < 2`` or ``gamma`` is negative or not finite.

    Notes
    -----
    ``last_stats`` holds ``sample_entropy`` and ``batch_entropy`` (nats) of the last batch and
    ``clusters_used``, the number of distinct arg-max clusters among its samples. The
    batch-mean term needs several samples per batch: with ``n`` samples it is at most
    ``log(min(n, C))``.
    """

    def __init__(self, dim: int, n_clusters: int, gamma: float = 1.0) -> None:
        super().__init__("mean")
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if n_clusters < 2:
            raise ValueError(f"n_clusters must be >= 2, got {n_clusters}")
        self.dim = int(dim)
        self.n_clusters = int(n_clusters)
        self.head = nn.Linear(self.dim, self.n_clusters)
        self.clustering = ClusteringLoss(gamma)

    @property
    def gamma(self) -> float:
        """Weight of the batch-mean entropy."""
        return self.clustering.gamma

    def logits(self, embeddings: Tensor) -> Tensor:
        """Cluster logits ``(n, n_clusters)`` of embeddings ``(n, dim)``.

        Raises
        ------
        ValueError
            If ``embeddings`` is not ``(n, dim)``.
        """
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise ValueError(
                f"embeddings must have shape (n, {self.dim}), got {tuple(embeddings.shape)}"
            )
        return self.head(embeddings)

    @torch.no_grad()
    def assign(self, embeddings: Tensor) -> Tensor:
        """Hard cluster assignment: the arg-max of the logits, int64 ``(n,)`` in ``[0, C)``."""
        return self.logits(embeddings).argmax(dim=1)

    def forward(
        self, embeddings: Tensor, labels: Tensor | None = None, indices: None = None
    ) -> Tensor:
        """Scalar loss of a batch of embeddings ``(n, dim)``, ``n >= 1``; labels are ignored."""
        if indices is not None:
            raise ValueError("ClusterHeadLoss uses every sample of the batch; indices must be None")
        logits = self.logits(embeddings)
        value = self.clustering(logits)
        used = torch.unique(logits.detach().argmax(dim=1)).numel()
        self.last_stats = {**self.clustering.last_stats, "clusters_used": float(used)}
        return value
