"""Dense blocks with decoupled convolutions, shared by the 2-D and 1-D DCNet embeddings.

The layout is that of :mod:`pyembed.nn._dense` (stem; dense units BN-ReLU-1x1-BN-ReLU-kxk whose
output is concatenated to their input; transitions BN-1x1-average pool; final BN-ReLU), with
every convolution replaced by a :class:`~pyembed.nn.dcnet.DecoupledConv1d` /
:class:`~pyembed.nn.dcnet.DecoupledConv2d` and, optionally, without batch normalisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pyembed.nn.dcnet.conv1d import DecoupledConv1d
from pyembed.nn.dcnet.conv2d import DecoupledConv2d
from pyembed.nn.dcnet.operator import Angular, DecoupledOperator, Magnitude, Weighting

_PLAIN_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_DECOUPLED_CONV: dict[int, type[DecoupledConv1d] | type[DecoupledConv2d]] = {
    1: DecoupledConv1d,
    2: DecoupledConv2d,
}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d}


@dataclass(frozen=True)
class ConvSettings:
    """How every convolution of a trunk is built.

    ``decoupled=False`` gives ordinary convolutions (with a bias when there is no batch
    normalisation to follow them), the CNN baseline of the DCNet ablations; the operator fields are
    then unused.
    """

    dims: int
    decoupled: bool
    batch_norm: bool
    magnitude: Magnitude
    angular: Angular
    weighting: Weighting
    alpha: float
    beta: float
    rho: float
    k: float
    learn_rho: bool
    weighted_gradients: bool

    def operator(self) -> DecoupledOperator:
        """A fresh operator (each layer has its own, so a learnable ``rho`` is per layer)."""
        return DecoupledOperator(
            self.magnitude,
            self.angular,
            alpha=self.alpha,
            beta=self.beta,
            rho=self.rho,
            k=self.k,
            learn_rho=self.learn_rho,
            weighting=self.weighting,
        )

    def check(self) -> None:
        """Raise ``ValueError`` for a bad operator or a meaningless combination."""
        if self.weighted_gradients and not self.decoupled:
            raise ValueError("weighted_gradients needs decoupled=True (ordinary convolutions)")
        self.operator()  # validates the names and numbers

    def conv(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1
    ) -> nn.Module:
        """A convolution with ``kernel_size // 2`` zero padding."""
        if self.decoupled:
            return _DECOUPLED_CONV[self.dims](
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=kernel_size // 2,
                operator=self.operator(),
                weighted_gradients=self.weighted_gradients,
            )
        return _PLAIN_CONV[self.dims](
            in_channels,
            out_channels,
            kernel_size=kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            bias=not self.batch_norm,
        )

    def norm(self, channels: int) -> list[nn.Module]:
        """``[BatchNorm(channels)]``, or ``[]`` without batch normalisation."""
        return [_NORM[self.dims](channels)] if self.batch_norm else []

    def relu(self) -> nn.Module:
        """In place only right after a batch normalisation (its output is not reused)."""
        return nn.ReLU(inplace=self.batch_norm)


class DecoupledDenseUnit(nn.Module):
    """[BN]-ReLU-1x1 conv-[BN]-ReLU-kxk conv; the output is the input with the new channels
    concatenated."""

    def __init__(
        self,
        in_channels: int,
        growth_rate: int,
        bottleneck_width: int,
        kernel_size: int,
        settings: ConvSettings,
    ) -> None:
        super().__init__()
        inner = bottleneck_width * growth_rate
        self.layers = nn.Sequential(
            *settings.norm(in_channels),
            settings.relu(),
            settings.conv(in_channels, inner, 1),
            *settings.norm(inner),
            settings.relu(),
            settings.conv(inner, growth_rate, kernel_size),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.layers(x)], dim=1)


def build_decoupled_trunk(
    in_channels: int,
    growth_rate: int,
    block_sizes: tuple[int, ...],
    compression: float,
    bottleneck_width: int,
    kernel_size: int,
    stem_kernel_size: int,
    stem_stride: int,
    settings: ConvSettings,
) -> tuple[nn.Sequential, int]:
    """Stem, dense blocks with transitions between them, final [BN]-ReLU; (module, channels)."""
    channels = 2 * growth_rate
    layers: list[nn.Module] = [
        settings.conv(in_channels, channels, stem_kernel_size, stride=stem_stride)
    ]
    for block, n_units in enumerate(block_sizes):
        for _ in range(n_units):
            layers.append(
                DecoupledDenseUnit(channels, growth_rate, bottleneck_width, kernel_size, settings)
            )
            channels += growth_rate
        if block < len(block_sizes) - 1:
            out = max(1, math.floor(compression * channels))
            layers.append(  # the transition: [BN], 1x1 conv, average pool of size 2
                nn.Sequential(
                    *settings.norm(channels),
                    settings.conv(channels, out, 1),
                    _POOL[settings.dims](kernel_size=2, stride=2),
                )
            )
            channels = out
    layers += [*settings.norm(channels), settings.relu()]
    return nn.Sequential(*layers), channels
