"""The 1-D series embedding with decoupled convolutions (DCNet, Liu et al. CVPR 2018)."""

from __future__ import annotations

from collections.abc import Sequence

from pyembed.nn.dcnet._dense import ConvSettings
from pyembed.nn.dcnet.operator import Angular, Magnitude, Weighting
from pyembed.nn.timeseries import TimeSeriesEmbedding

__all__ = ["DecoupledTimeSeriesEmbedding"]


class DecoupledTimeSeriesEmbedding(TimeSeriesEmbedding):
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
        settings = ConvSettings.of(
            dims=1,
            decoupled=decoupled,
            batch_norm=batch_norm,
            magnitude=magnitude,
            angular=angular,
            weighting=weighting,
            alpha=alpha,
            beta=beta,
            rho=rho,
            k=k,
            learn_rho=learn_rho,
            weighted_gradients=weighted_gradients,
        )
        super().__init__(
            in_channels,
            embedding_dim,
            growth_rate=growth_rate,
            block_sizes=block_sizes,
            compression=compression,
            bottleneck_width=bottleneck_width,
            kernel_size=kernel_size,
            stem_kernel_size=stem_kernel_size,
            normalize=normalize,
            layers=settings,
        )
        self.settings = settings
