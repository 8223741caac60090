"""Dense blocks and transitions shared by the 2-D and 1-D DenseNets (Huang et al. 2017)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d}


class DenseUnit(nn.Module):
    """BN-ReLU-1x1 conv (bottleneck, ``bottleneck_width * growth_rate`` channels)-BN-ReLU-kxk conv
    (``growth_rate`` channels); the output is the input with the new channels concatenated."""

    def __init__(
        self, in_channels: int, growth_rate: int, bottleneck_width: int, kernel_size: int, dims: int
    ) -> None:
        super().__init__()
        inner = bottleneck_width * growth_rate
        self.layers = nn.Sequential(
            _NORM[dims](in_channels),
            nn.ReLU(inplace=True),
            _CONV[dims](in_channels, inner, kernel_size=1, bias=False),
            _NORM[dims](inner),
            nn.ReLU(inplace=True),
            _CONV[dims](
                inner, growth_rate, kernel_size=kernel_size, padding=kernel_size // 2, bias=False
            ),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.layers(x)], dim=1)


class Transition(nn.Sequential):
    """BN, 1x1 conv to ``out_channels``, average pool of size 2 (halves every spatial axis)."""

    def __init__(self, in_channels: int, out_channels: int, dims: int) -> None:
        super().__init__(
            _NORM[dims](in_channels),
            _CONV[dims](in_channels, out_channels, kernel_size=1, bias=False),
            _POOL[dims](kernel_size=2, stride=2),
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
) -> tuple[nn.Sequential, int]:
    """Stem, dense blocks with transitions between them, final BN-ReLU; (module, channels)."""
    channels = 2 * growth_rate
    layers: list[nn.Module] = [
        _CONV[dims](
            in_channels,
            channels,
            kernel_size=stem_kernel_size,
            stride=stem_stride,
            padding=stem_kernel_size // 2,
            bias=False,
        )
    ]
    for block, n_units in enumerate(block_sizes):
        for _ in range(n_units):
            layers.append(DenseUnit(channels, growth_rate, bottleneck_width, kernel_size, dims))
            channels += growth_rate
        if block < len(block_sizes) - 1:
            out = max(1, math.floor(compression * channels))
            layers.append(Transition(channels, out, dims))
            channels = out
    layers += [_NORM[dims](channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers), channels
