"""The computation shared by the 1-D and 2-D decoupled convolutions."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from pyembed.nn.dcnet._layer import DecoupledWeights, kernel_norms, safe_norm


def decoupled_conv(
    inputs: Tensor, params: DecoupledWeights, conv: Callable[..., Tensor], stride, padding, dilation
) -> Tensor:
    """Decoupled convolution: ``<w, x>`` and ``||x||`` per patch come from two ordinary convolutions
    (the second with an all-ones kernel over the squared input), ``||w||`` per output channel.

    Both ``<w, x>`` and ``||w||`` use :meth:`DecoupledWeights.kernel`, so weighted gradients scale
    the whole gradient of each kernel."""
    weight = params.kernel()
    inner = conv(inputs, weight, None, stride, padding, dilation)
    ones = torch.ones((1, *weight.shape[1:]), dtype=inputs.dtype, device=inputs.device)
    input_norms = safe_norm(conv(inputs.pow(2), ones, None, stride, padding, dilation))
    weight_norms = kernel_norms(weight).view(1, -1, *([1] * (inner.ndim - 2)))
    return params.combine(inner, input_norms, weight_norms)
