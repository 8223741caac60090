"""How the DCNet embeddings build their trunks: :class:`ConvSettings`, the layer factory
(:class:`pyembed.nn._dense.Layers`) that :func:`pyembed.nn._dense.build_dense_trunk` uses in the
DenseNet layout (stem; dense units BN-ReLU-1x1-BN-ReLU-kxk whose output is concatenated to their
input; transitions BN-1x1-average pool; final BN-ReLU), with every convolution a
:class:`~pyembed.nn.dcnet.DecoupledConv1d` / :class:`~pyembed.nn.dcnet.DecoupledConv2d` and,
optionally, no batch normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from pyembed.nn.dcnet.conv1d import DecoupledConv1d
from pyembed.nn.dcnet.conv2d import DecoupledConv2d
from pyembed.nn.dcnet.operator import Angular, DecoupledOperator, Magnitude, Weighting

_PLAIN_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_DECOUPLED_CONV: dict[int, type[DecoupledConv1d] | type[DecoupledConv2d]] = {
    1: DecoupledConv1d,
    2: DecoupledConv2d,
}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


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

    @classmethod
    def of(
        cls,
        *,
        dims: int,
        decoupled: bool,
        batch_norm: bool,
        magnitude: Magnitude,
        angular: Angular,
        weighting: Weighting,
        alpha: float,
        beta: float,
        rho: float,
        k: float,
        learn_rho: bool,
        weighted_gradients: bool,
    ) -> ConvSettings:
        """Checked settings from a network's arguments (``ValueError`` for a bad operator or a
        meaningless combination, see :meth:`check`)."""
        settings = cls(
            dims=dims,
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
        return settings

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
