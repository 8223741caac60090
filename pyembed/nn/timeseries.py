"""1-D DenseNet embedding network for time series."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from pyembed.nn._dense import Layers, build_dense_trunk, check_dense_args
from pyembed.nn.base import EmbeddingNet

__all__ = ["TimeSeriesEmbedding"]


class TimeSeriesEmbedding(EmbeddingNet):
    """Dense blocks of 1-D convolutions, global average pool over time, linear embedding head.

    Parameters
    ----------
    in_channels : int, default 1
        Variables per time step (1 for univariate series).
    embedding_dim : int, default 32
    growth_rate : int, default 12
    block_sizes : sequence of int, default (2, 2, 2)
        Units per dense block; each transition halves the length.
    compression : float, default 0.5
    bottleneck_width : int, default 4
    kernel_size : int, default 5
        Width, in samples, of each unit's wide convolution (odd, so the length is kept).
    stem_kernel_size : int, default 7
    normalize : bool, default False
        Return unit-length embeddings.
    layers : pyembed.nn._dense.Layers, optional
        How every convolution and normalisation of the trunk is made (default: bias-free
        convolutions after batch normalisations; the DCNet subclasses pass theirs).

    Notes
    -----
    Input: float tensor ``(n, length)`` for one channel or ``(n, in_channels, length)``; the length
    must be at least ``2 ** (len(block_sizes) - 1)``. Output ``(n, embedding_dim)``. Series are used
    as given: z-normalise them first if that is wanted.
    """

    def __init__(
        self,
        in_channels: int = 1,
        embedding_dim: int = 32,
        *,
        growth_rate: int = 12,
        block_sizes: Sequence[int] = (2, 2, 2),
        compression: float = 0.5,
        bottleneck_width: int = 4,
        kernel_size: int = 5,
        stem_kernel_size: int = 7,
        normalize: bool = False,
        layers: Layers | None = None,
    ) -> None:
        super().__init__(embedding_dim, normalize)
        block_sizes = tuple(int(b) for b in block_sizes)
        check_dense_args(growth_rate, block_sizes, compression, bottleneck_width)
        if (
            kernel_size < 1
            or kernel_size % 2 == 0
            or stem_kernel_size < 1
            or stem_kernel_size % 2 == 0
        ):
            raise ValueError(
                f"kernel_size and stem_kernel_size must be odd and >= 1, got {kernel_size} and "
                f"{stem_kernel_size}"
            )
        self.in_channels = int(in_channels)
        self.min_length = 2 ** (len(block_sizes) - 1)
        self.trunk, channels = build_dense_trunk(
            in_channels,
            growth_rate,
            block_sizes,
            compression,
            bottleneck_width,
            kernel_size,
            stem_kernel_size,
            1,
            dims=1,
            layers=layers,
        )
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(channels, embedding_dim)

    def encode(self, inputs: Tensor) -> Tensor:
        """Embed series ``(n, length)`` or ``(n, in_channels, length)``; ``(n, embedding_dim)``."""
        if inputs.ndim == 2 and self.in_channels == 1:
            inputs = inputs.unsqueeze(1)
        if inputs.ndim != 3 or inputs.shape[1] != self.in_channels:
            raise ValueError(
                f"inputs must have shape (n, {self.in_channels}, length), got {tuple(inputs.shape)}"
            )
        if inputs.shape[2] < self.min_length:
            raise ValueError(f"series length must be >= {self.min_length}, got {inputs.shape[2]}")
        return self.head(self.pool(self.trunk(inputs)).flatten(1))
