"""The face DenseNet embedding with decoupled convolutions (DCNet, Liu et al. CVPR 2018)."""

from __future__ import annotations

from collections.abc import Sequence

from pyembed.nn.dcnet._dense import ConvSettings
from pyembed.nn.dcnet.operator import Angular, Magnitude, Weighting
from pyembed.nn.densenet import DenseNetEmbedding

__all__ = ["DecoupledDenseNetEmbedding"]


class DecoupledDenseNetEmbedding(DenseNetEmbedding):
    """:class:`~pyembed.nn.DenseNetEmbedding` with every convolution decoupled.

    Each convolution computes ``h(||w||, ||x||) * g(theta)`` per receptive-field patch
    (:class:`~pyembed.nn.dcnet.DecoupledConv2d`, each layer with its own
    :class:`~pyembed.nn.dcnet.DecoupledOperator`). The embedding head after global average pooling
    stays an ordinary linear layer, so embeddings are not bounded.

    Parameters
    ----------
    in_channels : int, default 1
    embedding_dim : int, default 64
    growth_rate : int, default 12
    block_sizes : sequence of int, default (3, 3, 3)
    compression : float, default 0.5
    bottleneck_width : int, default 4
    stem_stride : int, default 1
        As in :class:`~pyembed.nn.DenseNetEmbedding`.
    normalize : bool, default False
        Return unit-length embeddings.
    magnitude : {"sphere", "ball", "tanh", "linear", "seg", "log", "mix"}, default "tanh"
    angular : {"linear", "cosine", "sigmoid", "square_cosine"}, default "cosine"
    weighting : {"none", "linear", "nonlinear_joint", "nonlinear_separate"}, default "none"
    alpha, beta, rho, k : float, default 1.0, 0.5, 1.0, 0.3
    learn_rho : bool, default False
        The operator of every layer (see :class:`~pyembed.nn.dcnet.DecoupledOperator`). ``rho``
        is in units of the patch norm ``||x||``.
    weighted_gradients : bool, default False
        Scale each kernel's gradient by its norm (the paper's "weighted gradients").
    batch_norm : bool, default True
        Keep the DenseNet's batch normalisations; False removes every one of them.
    decoupled : bool, default True
        False gives ordinary convolutions in the same layout (the CNN baseline of the paper's
        ablations; with ``batch_norm=True`` it is exactly :class:`~pyembed.nn.DenseNetEmbedding`,
        without it the convolutions get biases). The operator arguments are then unused.

    Raises
    ------
    ValueError
        For an impossible DenseNet configuration, an unknown operator name, ``rho``, ``k`` or
        ``alpha`` not positive, or ``weighted_gradients`` without ``decoupled``.

    Notes
    -----
    Input: float tensor ``(n, in_channels, H, W)``, or ``(n, H, W)`` when ``in_channels == 1``.
    Output: ``(n, embedding_dim)``. A decoupled convolution costs about two ordinary ones (``<w,
    x>`` and the patch norms ``||x||``). Weight projection (``project_weights_`` or
    ``TrainConfig.weight_projection``) applies to every decoupled convolution.
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
            dims=2,
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
            stem_stride=stem_stride,
            normalize=normalize,
            layers=settings,
        )
        self.settings = settings
