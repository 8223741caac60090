"""Dense blocks and transitions shared by the 2-D and 1-D DenseNets (Huang et al. 2017)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d}


class Layers(Protocol):
    """How the convolutions, normalisations and activations of a DenseNet trunk are made
    (:class:`PlainLayers`; the DCNet networks pass their own,
    :class:`pyembed.nn.dcnet._dense.ConvSettings`)."""

    @property
    def dims(self) -> int:
        """1 for series, 2 for images."""
        ...

    def conv(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1
    ) -> nn.Module:
        """A convolution with ``kernel_size // 2`` zero padding."""
        ...

    def norm(self, channels: int) -> list[nn.Module]:
        """The normalisation before a convolution (``[]`` for none)."""
        ...

    def relu(self) -> nn.Module:
        """The activation."""
        ...


@dataclass(frozen=True)
class PlainLayers:
    """Ordinary convolutions without bias, each after a batch normalisation (the DenseNet)."""

    dims: int

    def conv(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1
    ) -> nn.Module:
        """A bias-free convolution with ``kernel_size // 2`` zero padding."""
        return _CONV[self.dims](
            in_channels,
            out_channels,
            kernel_size=kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            bias=False,
        )

    def norm(self, channels: int) -> list[nn.Module]:
        """``[BatchNorm(channels)]``."""
        return [_NORM[self.dims](channels)]

    def relu(self) -> nn.Module:
        """An in-place ReLU (it follows a batch normalisation, whose output is not reused)."""
        return nn.ReLU(inplace=True)


class DenseUnit(nn.Module):
    """BN-ReLU-1x1 conv (bottleneck, ``bottleneck_width * growth_rate`` channels)-BN-ReLU-kxk conv
    (``growth_rate`` channels); the output is the input with the new channels concatenated.
    ``layers`` makes the convolutions and normalisations (default: :class:`PlainLayers`)."""

    def __init__(
        self,
        in_channels: int,
        growth_rate: int,
        bottleneck_width: int,
        kernel_size: int,
        dims: int,
        layers: Layers | None = None,
    ) -> None:
        super().__init__()
        make = PlainLayers(dims) if layers is None else layers
        inner = bottleneck_width * growth_rate
        self.layers = nn.Sequential(
            *make.norm(in_channels),
            make.relu(),
            make.conv(in_channels, inner, 1),
            *make.norm(inner),
            make.relu(),
            make.conv(inner, growth_rate, kernel_size),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.layers(x)], dim=1)


class Transition(nn.Sequential):
    """BN, 1x1 conv to ``out_channels``, average pool of size 2 (halves every spatial axis)."""

    def __init__(self, in_channels: int, out_channels: int, layers: Layers) -> None:
        super().__init__(
            *layers.norm(in_channels),
            layers.conv(in_channels, out_channels, 1),
            _POOL[layers.dims](kernel_size=2, stride=2),
        )


def check_dense_args(
    growth_rate: int, block_sizes: tuple[int, ...], compression: float, bottleneck_width: int
) -> None:
    """Raise ``ValueError`` for an impossible DenseNet configuration."""
    if growth_rate < 1:
        raise ValueError(f"growth_rate must be >= 1, got {growth_rate}")
    if len(block_sizes) < 1 or any(b < 1 for b in block_sizes):
        raise ValueError(
            f"block_sizes must be a non-empty sequence of positive ints, got {block_sizes}"
        )
    if not 0.0 < compression <= 1.0:
        raise ValueError(f"compression must be in (0, 1], got {compression}")
    if bottleneck_width < 1:
        raise ValueError(f"bottleneck_width must be >= 1, got {bottleneck_width}")


def build_dense_trunk(
    in_channels: int,
    growth_rate: int,
    block_sizes: tuple[int, ...],
    compression: float,
    bottleneck_width: int,
    kernel_size: int,
    stem_kernel_size: int,
    stem_stride: int,
    dims: int,
    layers: Layers | None = None,
) -> tuple[nn.Sequential, int]:
    """Stem, dense blocks with transitions between them, final BN-ReLU; (module, channels).
    ``layers`` makes every convolution and normalisation (default: :class:`PlainLayers`)."""
    make = PlainLayers(dims) if layers is None else layers
    channels = 2 * growth_rate
    modules: list[nn.Module] = [
        make.conv(in_channels, channels, stem_kernel_size, stride=stem_stride)
    ]
    for block, n_units in enumerate(block_sizes):
        for _ in range(n_units):
            modules.append(
                DenseUnit(channels, growth_rate, bottleneck_width, kernel_size, dims, make)
            )
            channels += growth_rate
        if block < len(block_sizes) - 1:
            out = max(1, math.floor(compression * channels))
            modules.append(Transition(channels, out, make))
            channels = out
    modules += [*make.norm(channels), make.relu()]
    return nn.Sequential(*modules), channels
