"""Decoupled networks (DCNet, Liu et al. CVPR 2018): ``f(w, x) = h(||w||, ||x||) * g(theta)``."""

from __future__ import annotations

from pyembed.nn.dcnet.conv1d import DecoupledConv1d
from pyembed.nn.dcnet.conv2d import DecoupledConv2d
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

__all__ = [
    "Angular",
    "DecoupledConv1d",
    "DecoupledConv2d",
    "DecoupledLinear",
    "DecoupledOperator",
    "Magnitude",
    "Weighting",
    "angular",
    "magnitude",
    "project_weights_",
]
