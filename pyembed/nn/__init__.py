"""Embedding networks and building blocks (torch, ``train`` extra).

All models are plain ``nn.Module``s with explicit sizes returning unnormalised ``(n,
embedding_dim)`` embeddings unless ``normalize=True``.
"""

from __future__ import annotations

from pyembed.nn.base import EmbeddingNet
from pyembed.nn.centers import ClassCenters
from pyembed.nn.dcnet import (
    DecoupledConv1d,
    DecoupledConv2d,
    DecoupledDenseNetEmbedding,
    DecoupledLinear,
    DecoupledOperator,
    DecoupledTimeSeriesEmbedding,
    project_weights_,
)
from pyembed.nn.densenet import DenseNetEmbedding
from pyembed.nn.distances import CosineDistance, EuclideanDistance
from pyembed.nn.dtn import DeepTreeNetwork, SpoofCNN
from pyembed.nn.timeseries import TimeSeriesEmbedding

__all__ = [
    "ClassCenters",
    "CosineDistance",
    "DecoupledConv1d",
    "DecoupledConv2d",
    "DecoupledDenseNetEmbedding",
    "DecoupledLinear",
    "DecoupledOperator",
    "DecoupledTimeSeriesEmbedding",
    "DeepTreeNetwork",
    "DenseNetEmbedding",
    "EmbeddingNet",
    "EuclideanDistance",
    "SpoofCNN",
    "TimeSeriesEmbedding",
    "project_weights_",
]
