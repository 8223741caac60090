"""Shared pieces of the decoupled layers: norms with a safe square root, cosines, projection,
weighted gradients and the layers' base class."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from pyembed.nn.dcnet.operator import DecoupledOperator

#: Added inside every norm's square root, ``sqrt(s + NORM_EPS)``: zero inputs (padding, ReLU zeros)
#: then have a finite gradient, cosine 0 and output 0 for every angular activation.
NORM_EPS = 1e-12


def safe_norm(squared: Tensor) -> Tensor:
    """``sqrt(squared + NORM_EPS)``."""
    return torch.sqrt(squared.clamp_min(0.0) + NORM_EPS)


def kernel_norms(weight: Tensor) -> Tensor:
    """``||w_j|| = sqrt(sum w_j^2 + NORM_EPS)`` per output unit ``j`` (first axis), shape ``(out,)``."""
    return safe_norm(weight.flatten(1).pow(2).sum(dim=1))


class _WeightedGradient(torch.autograd.Function):
    """Identity in the forward pass; the backward pass multiplies each kernel's gradient by
    ``||w_j||`` (:func:`kernel_norms`, taken as a constant: it is not differentiated)."""

    @staticmethod
    def forward(ctx: Any, weight: Tensor) -> Tensor:
        ctx.save_for_backward(kernel_norms(weight.detach()))
        return weight.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (norms,) = ctx.saved_tensors
        return grad * norms.view(-1, *([1] * (grad.ndim - 1)))


def weighted_gradient(weight: Tensor) -> Tensor:
    """DCNet weighted gradients: ``weight`` unchanged, its gradient scaled by ``||w_j||`` per kernel.

    The gradient of the angle shrinks as ``1 / ||w||``: ``d(w_hat . x_hat)/dw = (x_hat - (w_hat .
    x_hat) w_hat) / ||w||``. Liu et al. (2018, "weighted gradients") update with ``||w|| *`` that
    gradient, ``x_hat - (w_hat . x_hat) w_hat``, whatever the norm. Here the whole gradient that
    reaches kernel ``j`` is multiplied by ``||w_j||`` (``sqrt(sum w_j^2 + 1e-12)``, not
    differentiated); the forward value is ``weight`` itself.

    Parameters
    ----------
    weight : Tensor, shape (out, ...)
        Kernels, output units first.

    Returns
    -------
    Tensor
        A copy of ``weight`` whose backward pass applies the scaling.
    """
    return _WeightedGradient.apply(weight)  # type: ignore[no-any-return]


class DecoupledWeights(nn.Module):
    """Weight, optional bias and operator of a decoupled layer (composition, not a base class).

    ``weighted_gradients=True`` routes the weight through :func:`weighted_gradient` in
    :meth:`kernel` (the forward value is unchanged).
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        bias: bool,
        operator: DecoupledOperator | None,
        weighted_gradients: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.empty(shape[0])) if bias else None
        self.operator = operator if operator is not None else DecoupledOperator()
        self.weighted_gradients = bool(weighted_gradients)
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = math.prod(shape[1:])
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def weight_norms(self) -> Tensor:
        """``||w||`` per output unit, shape ``(out,)``."""
        return kernel_norms(self.weight)

    def kernel(self) -> Tensor:
        """The weight as the forward pass uses it: with weighted gradients if they are on."""
        return weighted_gradient(self.weight) if self.weighted_gradients else self.weight

    def combine(self, inner: Tensor, input_norms: Tensor, weight_norms: Tensor) -> Tensor:
        """Apply the operator to ``<w, x>``, ``||x||``, ``||w||`` (broadcastable); add the bias."""
        cosines = (inner / (input_norms * weight_norms)).clamp(-1.0, 1.0)
        out = self.operator(cosines, input_norms, weight_norms)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, *([1] * (out.ndim - 2)))
        return out

    @torch.no_grad()
    def project_(self, scale: float = 1.0) -> None:
        """Weight projection: ``w <- scale * w / ||w||`` per output unit."""
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        norms = self.weight_norms().view(-1, *([1] * (self.weight.ndim - 1)))
        self.weight.mul_(scale / norms)


class DecoupledLayer(nn.Module):
    """Base class of the decoupled layers: their :class:`DecoupledWeights` live in ``params``.

    Subclasses call ``super().__init__(shape, bias, operator, weighted_gradients)`` with the weight
    shape (output units first) and implement ``forward``.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        bias: bool,
        operator: DecoupledOperator | None,
        weighted_gradients: bool = False,
    ) -> None:
        super().__init__()
        self.params = DecoupledWeights(shape, bias, operator, weighted_gradients)

    @property
    def weight(self) -> nn.Parameter:
        """The kernels, shape ``(out, in, *kernel_size)`` (``(out_features, in_features)`` for
        the linear layer)."""
        return self.params.weight

    @property
    def operator(self) -> DecoupledOperator:
        """The decoupled operator."""
        return self.params.operator

    def project_weights_(self, scale: float = 1.0) -> None:
        """Weight projection ``w <- scale * w / ||w||`` (call after each optimizer step)."""
        self.params.project_(scale)
