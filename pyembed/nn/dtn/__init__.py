"""Deep Tree Network for zero-shot face anti-spoofing (Liu et al., CVPR 2019) and its CNN baseline."""

from __future__ import annotations

from pyembed.nn.dtn.cnn import SpoofCNN
from pyembed.nn.dtn.tree import (
    DeepTreeNetwork,
    DTNInference,
    DTNTraining,
    NodeRouting,
    leaf_features,
)
from pyembed.nn.dtn.units import ConvResidualUnit, SpoofLeaf, TreeRoutingUnit

__all__ = [
    "ConvResidualUnit",
    "DTNInference",
    "DTNTraining",
    "DeepTreeNetwork",
    "NodeRouting",
    "SpoofCNN",
    "SpoofLeaf",
    "TreeRoutingUnit",
    "leaf_features",
]
