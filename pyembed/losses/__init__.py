"""Metric-learning losses (torch, ``train`` extra).

Every loss is an ``nn.Module`` called as ``loss(embeddings, labels, indices=None)`` returning a
scalar (see :class:`EmbeddingLoss`).
"""

from __future__ import annotations

from pyembed.losses.base import EmbeddingLoss, Reduction
from pyembed.losses.center import CenterLoss
from pyembed.losses.clustering import ClusterHeadLoss, ClusteringLoss
from pyembed.losses.contrastive import ContrastiveLoss
from pyembed.losses.dtn import DTNLoss
from pyembed.losses.softmax_center import SoftmaxCenterLoss
from pyembed.losses.triplet import TripletLoss
from pyembed.nn.distances import CosineDistance, EuclideanDistance

__all__ = [
    "CenterLoss",
    "ClusterHeadLoss",
    "ClusteringLoss",
    "ContrastiveLoss",
    "CosineDistance",
    "DTNLoss",
    "EmbeddingLoss",
    "EuclideanDistance",
    "Reduction",
    "SoftmaxCenterLoss",
    "TripletLoss",
]
