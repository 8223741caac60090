"""Decoupled networks (DCNet, Liu et al. CVPR 2018): ``f(w, x) = h(||w||, ||x||) * g(theta)``."""

from __future__ import annotations

from pyembed.nn.dcnet._layer import weighted_gradient
from pyembed.nn.dcnet.conv1d import DecoupledConv1d
from pyembed.nn.dcnet.conv2d import DecoupledConv2d
from pyembed.nn.dcnet.densenet import DecoupledDenseNetEmbedding
from pyembed.nn.dcnet.linear import DecoupledLinear
from pyembed.nn.dcnet.operator import (
    Angular,
    DecoupledOperator,
    Magnitude,
    Weighting,
    angular,
    magnitude,
)
from pyembed.nn.dcnet.projection import project_weights_
from pyembed.nn.dcnet.timeseries import DecoupledTimeSeriesEmbedding

__all__ = [
    "Angular",
    "DecoupledConv1d",
    "DecoupledConv2d",
    "DecoupledDenseNetEmbedding",
    "DecoupledLinear",
    "DecoupledOperator",
    "DecoupledTimeSeriesEmbedding",
    "Magnitude",
    "Weighting",
    "angular",
    "magnitude",
    "project_weights_",
    "weighted_gradient",
]
