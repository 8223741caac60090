"""The 1-D series embedding with decoupled convolutions (DCNet, Liu et al. CVPR 2018)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from pyembed.nn._dense import check_dense_args
from pyembed.nn.base import EmbeddingNet
from pyembed.nn.dcnet._dense import ConvSettings, build_decoupled_trunk
from pyembed.nn.dcnet.operator import Angular, Magnitude, Weighting

__all__ = ["DecoupledTimeSeriesEmbedding"]


class DecoupledTimeSeriesEmbedding(EmbeddingNet):
    """:class:`~pyembed.nn.TimeSeriesEmbedding` with every convolution decoupled.

    Each 1-D convolution computes ``h(||w||, ||x||) * g(theta)`` per window of ``kernel_size``
    samples over all channels (:class:`~pyembed.nn.dcnet.DecoupledConv1d`). The linear embedding
    head stays ordinary.

    Parameters
    ----------
    in_channels : int, default 1
    embedding_dim : int, default 32
    growth_rate : int, default 12
    block_sizes : sequence of int, default (2, 2, 2)
    compression : float, default 0.5
    bottleneck_width : int, default 4
    kernel_size : int, default 5
        Width in samples of each unit's wide convolution (odd).
    stem_kernel_size : int, default 7
        Width in samples of the first convolution (odd).
    normalize : bool, default False
    magnitude, angular, weighting, alpha, beta, rho, k, learn_rho, weighted_gradients
        The operator of every layer, as in :class:`~pyembed.nn.dcnet.DecoupledDenseNetEmbedding`
        (``rho`` in units of the window norm ``||x||``, series units).
    batch_norm : bool, default True
        False removes every batch normalisation.
    decoupled : bool, default True
        False gives ordinary convolutions in the same layout (with ``batch_norm=True``, exactly
        :class:`~pyembed.nn.TimeSeriesEmbedding`).

    Raises
    ------
    ValueError
        For an impossible configuration (even kernel sizes included) or a bad operator.

    Notes
    -----
    Input: ``(n, length)`` for one channel or ``(n, in_channels, length)``, length at least ``2 **
    (len(block_sizes) - 1)``. Output ``(n, embedding_dim)``. Series are used as given.
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
        magnitude: Magnitude = "tanh",
        angular: Angular = "cosine",
        weighting: Weighting = "none",
        alpha: float = 1.0,
        beta: float = 0.5,
        rho: float = 1.0,
        k: float = 0.3,
        learn_rho: bool = False,
        weighted_gradients: bool = False,
        batch_norm: bool = True,
        decoupled: bool = True,
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
        settings = ConvSettings(
            dims=1,
            decoupled=bool(decoupled),
            batch_norm=bool(batch_norm),
            magnitude=magnitude,
            angular=angular,
            weighting=weighting,
            alpha=float(alpha),
            beta=float(beta),
            rho=float(rho),
            k=float(k),
            learn_rho=bool(learn_rho),
            weighted_gradients=bool(weighted_gradients),
        )
        settings.check()
        self.settings = settings
        self.in_channels = int(in_channels)
        self.min_length = 2 ** (len(block_sizes) - 1)
        self.trunk, channels = build_decoupled_trunk(
            in_channels,
            growth_rate,
            block_sizes,
            compression,
            bottleneck_width,
            kernel_size,
            stem_kernel_size,
            1,
            settings,
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
