"""Siamese DenseNet embedding network for images (DenseNet: Huang et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from pyembed.nn._dense import Layers, build_dense_trunk, check_dense_args
from pyembed.nn.base import EmbeddingNet

__all__ = ["DenseNetEmbedding"]


class DenseNetEmbedding(EmbeddingNet):
    """DenseNet trunk, global average pool and a linear embedding head.

    The same instance embeds both sides of a pair (siamese weight sharing is simply reusing it).

    Parameters
    ----------
    in_channels : int, default 1
        Image channels (1 for the grayscale face sets).
    embedding_dim : int, default 64
        Size ``d`` of the embedding.
    growth_rate : int, default 12
        Channels ``k`` added by every dense unit.
    block_sizes : sequence of int, default (3, 3, 3)
        Units per dense block; a transition layer sits between consecutive blocks.
    compression : float, default 0.5
        ``theta``: a transition keeps ``floor(theta * channels)`` channels.
    bottleneck_width : int, default 4
        The 1x1 bottleneck has ``bottleneck_width * k`` channels.
    stem_stride : int, default 1
        Stride of the initial 3x3 convolution (2 halves the resolution up front, 4x cheaper).
    normalize : bool, default False
        Return unit-length embeddings.
    layers : pyembed.nn._dense.Layers, optional
        How every convolution and normalisation of the trunk is made (default: bias-free
        convolutions after batch normalisations; the DCNet subclasses pass theirs).

    Notes
    -----
    Input: float tensor ``(n, in_channels, H, W)``, or ``(n, H, W)`` when ``in_channels == 1``.
    Output: ``(n, embedding_dim)``. Any ``H, W`` that survive the ``len(block_sizes) - 1`` halvings
    work. The defaults (about 60k parameters) train on a CPU in minutes on 32x32 or 64x64 faces.
    """

    def __init__(
        self,
        in_channels: int = 1,
        embedding_dim: int = 64,
        *,
        growth_rate: int = 12,
        block_sizes: Sequence[int] = (3, 3, 3),
        compression: float = 0.5,
        bottleneck_width: int = 4,
        stem_stride: int = 1,
        normalize: bool = False,
        layers: Layers | None = None,
    ) -> None:
        super().__init__(embedding_dim, normalize)
        block_sizes = tuple(int(b) for b in block_sizes)
        check_dense_args(growth_rate, block_sizes, compression, bottleneck_width)
        if in_channels < 1 or stem_stride < 1:
            raise ValueError(
                f"in_channels and stem_stride must be >= 1, got {in_channels} and {stem_stride}"
            )
        self.in_channels = int(in_channels)
        self.trunk, channels = build_dense_trunk(
            in_channels,
            growth_rate,
            block_sizes,
            compression,
            bottleneck_width,
            3,
            3,
            stem_stride,
            dims=2,
            layers=layers,
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels, embedding_dim)

    def encode(self, inputs: Tensor) -> Tensor:
        """Embed images ``(n, C, H, W)`` (or ``(n, H, W)``, one channel); ``(n, embedding_dim)``."""
        if inputs.ndim == 3 and self.in_channels == 1:
            inputs = inputs.unsqueeze(1)
        if inputs.ndim != 4 or inputs.shape[1] != self.in_channels:
            raise ValueError(
                f"inputs must have shape (n, {self.in_channels}, H, W), got {tuple(inputs.shape)}"
            )
        return self.head(self.pool(self.trunk(inputs)).flatten(1))
