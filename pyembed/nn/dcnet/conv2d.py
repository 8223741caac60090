"""Decoupled 2-D convolution (DCNet)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from pyembed.nn.dcnet._conv import decoupled_conv
from pyembed.nn.dcnet._layer import DecoupledLayer
from pyembed.nn.dcnet.operator import DecoupledOperator

__all__ = ["DecoupledConv2d"]


class DecoupledConv2d(DecoupledLayer):
    """Drop-in for ``nn.Conv2d`` (zero padding, no groups) with a decoupled operator per patch.

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int or (int, int)
    stride, padding, dilation : int, default 1, 0, 1
        As in ``nn.Conv2d``; ``padding`` may also be ``"same"`` or ``"valid"``.
    bias : bool, default False
        Add a learned bias after the operator.
    operator : DecoupledOperator, optional
        Default ``DecoupledOperator()`` (TanhConv with cosine activation).
    weighted_gradients : bool, default False
        Multiply the gradient of each kernel ``w_j`` (all its input channels and taps) by
        ``||w_j||`` in the backward pass (DCNet's weighted gradients,
        :func:`~pyembed.nn.dcnet.weighted_gradient`); the output is unchanged.

    Notes
    -----
    Input ``(n, in_channels, H, W)``, output ``(n, out_channels, H_out, W_out)`` as ``nn.Conv2d``.
    ``||x||`` is the norm of each receptive-field patch (all input channels), with ``sqrt(s +
    1e-12)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = False,
        *,
        operator: DecoupledOperator | None = None,
        weighted_gradients: bool = False,
    ) -> None:
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        super().__init__((out_channels, in_channels, kh, kw), bias, operator, weighted_gradients)
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, inputs: Tensor) -> Tensor:
        """Convolve ``(n, in_channels, H, W)`` to ``(n, out_channels, H_out, W_out)``."""
        return decoupled_conv(
            inputs, self.params, F.conv2d, self.stride, self.padding, self.dilation
        )
