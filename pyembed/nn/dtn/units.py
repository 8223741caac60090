"""The three units of the Deep Tree Network (Liu et al., CVPR 2019): CRU, TRU and the SFL leaf.

Sizes follow the authors' TF code where it differs from the paper (see
``shared/research/dtn.md``): convolutions without bias, batch normalisation, leaky ReLU 0.2 and
N(0, 0.02) weights; a CRU is two residual blocks then an optional 3x3 stride-2 max-pool; a TRU
compresses its node's CRU output with stride-2 convolutions and average pooling to a fixed-size
vector before projecting it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvResidualUnit", "SpoofLeaf", "TreeRoutingUnit", "init_dtn_weights_"]

LEAKY_SLOPE = 0.2
"""Negative slope of every leaky ReLU (the authors' code)."""
PROJECTION_EPS = 1e-8
"""Added to ``||v||`` when the routing vector is normalised, so ``v = 0`` gives no NaN."""


def _conv_bn(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def init_dtn_weights_(module: nn.Module) -> None:
    """Initialise convolution and linear weights N(0, 0.02) (biases 0), as the authors' code does."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class _ResidualBlock(nn.Module):
    """conv3x3-BN-lrelu-conv3x3-BN, plus the input, then leaky ReLU; shape-preserving."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = _conv_bn(channels, channels)
        self.second = _conv_bn(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        y = F.leaky_relu(self.first(x), LEAKY_SLOPE)
        return F.leaky_relu(x + self.second(y), LEAKY_SLOPE)


class ConvResidualUnit(nn.Module):
    """CRU: ``n_blocks`` residual 3x3 blocks, then (if ``pool``) a 3x3 stride-2 max-pool.

    Parameters
    ----------
    channels : int
        Channels in and out.
    pool : bool, default True
        Halve the side (``ceil(side / 2)``) after the blocks.
    n_blocks : int, default 2
        Residual blocks (the authors' code uses two).

    Shapes: ``(n, channels, h, w)`` to ``(n, channels, ceil(h/2), ceil(w/2))`` with pooling, else
    unchanged.
    """

    def __init__(self, channels: int, *, pool: bool = True, n_blocks: int = 2) -> None:
        super().__init__()
        if channels < 1 or n_blocks < 1:
            raise ValueError(f"channels and n_blocks must be >= 1, got {channels} and {n_blocks}")
        self.blocks = nn.Sequential(*(_ResidualBlock(channels) for _ in range(n_blocks)))
        self.pool = nn.MaxPool2d(3, stride=2, padding=1) if pool else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Features ``(n, channels, h', w')``; see the class docstring for ``h'``."""
        return self.pool(self.blocks(x))


class TreeRoutingUnit(nn.Module):
    """TRU: compress a node's features to a vector, centre it and project it on a unit vector.

    The compression is stride-2 conv-BN-lrelu blocks until the side is at most ``2 * out_side``,
    then average pooling to ``out_side x out_side``: a ``channels * out_side**2`` vector ``x``. The
    response is ``r = (x - mu) . v / (||v|| + 1e-8)`` with ``v`` learned (initialised N(0, 0.02))
    and ``mu`` the centre given by the caller: in training the batch mean of the spoof samples
    visiting the node, at inference :attr:`center`, an exponential moving average of those means.

    **Convention:** a sample goes to the first child (child 0) when ``r >= 0``, else to child 1
    (the authors' code: ``r >= 0`` goes "left").

    Parameters
    ----------
    channels : int
        Channels of the node's features.
    in_side : int
        Side of the node's (square) features.
    out_side : int, default 4
        Side after compression.
    momentum : float, default 0.05
        Weight of a new batch mean in the moving-average centre.
    """

    def __init__(
        self, channels: int, in_side: int, *, out_side: int = 4, momentum: float = 0.05
    ) -> None:
        super().__init__()
        if in_side < 1 or out_side < 1:
            raise ValueError(f"in_side and out_side must be >= 1, got {in_side} and {out_side}")
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        layers: list[nn.Module] = []
        side = in_side
        while side > 2 * out_side:
            layers += [_conv_bn(channels, channels, stride=2), nn.LeakyReLU(LEAKY_SLOPE)]
            side = (side + 1) // 2
        layers.append(nn.AdaptiveAvgPool2d(out_side))
        self.compress = nn.Sequential(*layers)
        self.dim = channels * out_side * out_side
        self.momentum = float(momentum)
        self.v = nn.Parameter(torch.randn(self.dim) * 0.02)
        self.center: Tensor
        self.register_buffer("center", torch.zeros(self.dim))
        self.center_initialised: Tensor
        self.register_buffer("center_initialised", torch.zeros((), dtype=torch.bool))

    def direction(self) -> Tensor:
        """The unit projection vector ``v / (||v|| + 1e-8)``, shape ``(dim,)``."""
        return self.v / (self.v.norm() + PROJECTION_EPS)

    def features(self, x: Tensor) -> Tensor:
        """The compressed vectors, ``(n, channels, side, side)`` to ``(n, dim)``."""
        return self.compress(x).flatten(1)

    @torch.no_grad()
    def update_center(self, batch_mean: Tensor) -> None:
        """Move :attr:`center` towards ``batch_mean`` (the first call copies it)."""
        if bool(self.center_initialised):
            self.center.lerp_(batch_mean.detach(), self.momentum)
        else:
            self.center.copy_(batch_mean.detach())
            self.center_initialised.fill_(True)

    def responses(self, vectors: Tensor, center: Tensor) -> Tensor:
        """``(vectors - center) . v_hat``, shape ``(n,)``."""
        return (vectors - center) @ self.direction()


class SpoofLeaf(nn.Module):
    """SFL: a spoof-map head (a CRU, 3x3 conv to one channel, sigmoid) and a live/spoof logit head.

    The class head is stride-2 conv-BN-lrelu blocks to a side of at most 4, flatten, dropout,
    a dense layer with BN and leaky ReLU, and a dense layer to one raw logit (positive: spoof).

    Parameters
    ----------
    channels : int
        Channels of the parent's features.
    in_side : int
        Side of the parent's (square) features; the map has this side.
    hidden : int, default 64
        Width of the dense layer.
    dropout : float, default 0.3

    Shapes: ``(n, channels, s, s)`` to a map ``(n, s, s)`` in [0, 1] and logits ``(n,)``.
    """

    def __init__(
        self, channels: int, in_side: int, *, hidden: int = 64, dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.map_cru = ConvResidualUnit(channels, pool=False, n_blocks=1)
        self.map_out = nn.Conv2d(channels, 1, 3, padding=1, bias=False)
        layers: list[nn.Module] = []
        side, width = in_side, channels
        while side > 4:
            layers += [_conv_bn(width, 2 * width, stride=2), nn.LeakyReLU(LEAKY_SLOPE)]
            side, width = (side + 1) // 2, 2 * width
        self.class_convs = nn.Sequential(*layers)
        self.class_dense = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(width * side * side, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(spoof map (n, s, s) in [0, 1], logits (n,))``."""
        spoof_map = torch.sigmoid(self.map_out(self.map_cru(x))).squeeze(1)
        logits = self.class_dense(self.class_convs(x)).squeeze(1)
        return spoof_map, logits
