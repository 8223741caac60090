"""Shared pieces of the decoupled layers: norms with a safe square root, cosines, projection and
the layers' base class."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pyembed.nn.dcnet.operator import DecoupledOperator

#: Added inside every norm's square root, ``sqrt(s + NORM_EPS)``: zero inputs (padding, ReLU zeros)
#: then have a finite gradient, cosine 0 and output 0 for every angular activation.
NORM_EPS = 1e-12


def safe_norm(squared: Tensor) -> Tensor:
    """``sqrt(squared + NORM_EPS)``."""
    return torch.sqrt(squared.clamp_min(0.0) + NORM_EPS)


class DecoupledWeights(nn.Module):
    """Weight, optional bias and operator of a decoupled layer (composition, not a base class)."""

    def __init__(
        self, shape: tuple[int, ...], bias: bool, operator: DecoupledOperator | None
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.empty(shape[0])) if bias else None
        self.operator = operator if operator is not None else DecoupledOperator()
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = math.prod(shape[1:])
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def weight_norms(self) -> Tensor:
        """``||w||`` per output unit, shape ``(out,)``."""
        return safe_norm(self.weight.flatten(1).pow(2).sum(dim=1))

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

    Subclasses call ``super().__init__(shape, bias, operator)`` with the weight shape (output units
    first) and implement ``forward``.
    """

    def __init__(
        self, shape: tuple[int, ...], bias: bool, operator: DecoupledOperator | None
    ) -> None:
        super().__init__()
        self.params = DecoupledWeights(shape, bias, operator)

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
