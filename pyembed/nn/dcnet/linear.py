"""Decoupled fully connected layer (DCNet)."""

from __future__ import annotations

from torch import Tensor

from pyembed.nn.dcnet._layer import DecoupledLayer, kernel_norms, safe_norm
from pyembed.nn.dcnet.operator import DecoupledOperator

__all__ = ["DecoupledLinear"]


class DecoupledLinear(DecoupledLayer):
    """Drop-in for ``nn.Linear`` computing ``h(||w_j||, ||x||) * g(theta_j)`` per output unit ``j``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default False
        Add a learned bias after the operator (off by default: it would break the operator's bound).
    operator : DecoupledOperator, optional
        Magnitude/angular choice; default ``DecoupledOperator()`` (TanhConv with cosine activation).
    weighted_gradients : bool, default False
        Multiply the gradient of each kernel ``w_j`` by ``||w_j||`` in the backward pass (DCNet's
        weighted gradients, :func:`~pyembed.nn.dcnet.weighted_gradient`); the output is unchanged.

    Notes
    -----
    Input ``(..., in_features)``, output ``(..., out_features)``. Norms use ``sqrt(s + 1e-12)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = False,
        *,
        operator: DecoupledOperator | None = None,
        weighted_gradients: bool = False,
    ) -> None:
        super().__init__((out_features, in_features), bias, operator, weighted_gradients)
        self.in_features = int(in_features)
        self.out_features = int(out_features)

    def forward(self, inputs: Tensor) -> Tensor:
        """Map ``(..., in_features)`` to ``(..., out_features)``."""
        if inputs.shape[-1] != self.in_features:
            raise ValueError(
                f"inputs have {inputs.shape[-1]} features but the layer expects {self.in_features}"
            )
        flat = inputs.reshape(-1, self.in_features)
        weight = self.params.kernel()
        inner = flat @ weight.T
        input_norms = safe_norm(flat.pow(2).sum(dim=1, keepdim=True))
        out = self.params.combine(inner, input_norms, kernel_norms(weight)[None, :])
        return out.reshape(*inputs.shape[:-1], self.out_features)
