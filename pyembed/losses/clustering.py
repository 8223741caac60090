"""Clustering (entropy) loss (Jensen et al., ICASSP 2020)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pyembed.losses.base import EmbeddingLoss

__all__ = ["ClusteringLoss"]


class ClusteringLoss(EmbeddingLoss):
    """Mean per-sample entropy of softmax outputs minus ``gamma`` times the entropy of their mean.

    ``L = mean_i H(p_i) - gamma * H(mean_i p_i)`` with ``p_i = softmax(logits_i)`` and
    ``H(q) = -sum_c q_c log q_c`` (natural log, nats). The first term pushes each sample to one
    cluster; the second rewards using all clusters across the batch.

    Parameters
    ----------
    gamma : float, default 1.0
        Weight of the batch-mean entropy.

    Notes
    -----
    Works on logits with ``log_softmax`` and ``logsumexp`` (``log mean_i p_ic = logsumexp_i log p_ic
    - log n``), so no epsilon is needed and the loss is finite for any finite logits. Labels are not
    used (unsupervised); the loss is a scalar in ``[-gamma log C, log C]`` for ``C`` clusters.
    """

    def __init__(self, gamma: float = 1.0) -> None:
        super().__init__("mean")
        self.gamma = float(gamma)

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
