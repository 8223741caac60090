"""The DCNet decoupled operator ``f(w, x) = h(||w||, ||x||) * g(theta)`` (Liu et al. 2018)."""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor, nn

__all__ = ["Angular", "DecoupledOperator", "Magnitude", "Weighting", "angular", "magnitude"]

Magnitude = Literal["sphere", "ball", "tanh", "linear", "seg", "log", "mix"]
Angular = Literal["linear", "cosine", "sigmoid", "square_cosine"]
Weighting = Literal["none", "linear", "nonlinear_joint", "nonlinear_separate"]
_MAGNITUDES: tuple[str, ...] = get_args(Magnitude)
_ANGULARS: tuple[str, ...] = get_args(Angular)
_WEIGHTINGS: tuple[str, ...] = get_args(Weighting)
_BOUNDED = ("sphere", "ball", "tanh")

# : The derivative of ``acos`` is infinite at +-1. The angle is computed exactly from cosines
# clamped : to ``[-1, 1]``, but its gradient is taken from cosines clamped to ``[-1 + ACOS_EPS, 1 -
# ACOS_EPS]`` : (at most ``1 / sqrt(2 ACOS_EPS)``, about 707). Used only by the activations that
# need the angle.
ACOS_EPS = 1e-6


def _safe_acos(cosines: Tensor) -> Tensor:
    exact = torch.acos(cosines.clamp(-1.0, 1.0))
    smooth = torch.acos(cosines.clamp(-1.0 + ACOS_EPS, 1.0 - ACOS_EPS))
    return smooth + (exact - smooth).detach()


def magnitude(
    kind: Magnitude,
    norms: Tensor,
    alpha: float | Tensor = 1.0,
    beta: float | Tensor = 0.5,
    rho: float | Tensor = 1.0,
) -> Tensor:
    """The magnitude function ``h`` of a norm ``r``.

    Parameters
    ----------
    kind : {"sphere", "ball", "tanh", "linear", "seg", "log", "mix"}
        ``sphere``: ``alpha``; ``ball``: ``alpha * min(r, rho) / rho``; ``tanh``: ``alpha * tanh(r /
        rho)``; ``linear``: ``alpha * r``; ``seg``: ``alpha * r`` for ``r <= rho``, else ``beta * r
        + alpha * rho - beta * rho``; ``log``: ``alpha * log(1 + r)``; ``mix``: ``alpha * r + beta *
        log(1 + r)``.
    norms : Tensor
        Non-negative norms ``r`` (any shape).
    alpha, beta, rho : float or Tensor
        Scale, second slope and operator radius (``rho > 0``).

    Returns
    -------
    Tensor
        Same shape as ``norms``. ``sphere``, ``ball`` and ``tanh`` lie in ``[0, alpha]``.
    """
    if kind == "sphere":
        return torch.ones_like(norms) * alpha
    if kind == "ball":
        return alpha * torch.minimum(norms, torch.as_tensor(rho, dtype=norms.dtype)) / rho
    if kind == "tanh":
        return alpha * torch.tanh(norms / rho)
    if kind == "linear":
        return alpha * norms
    if kind == "seg":
        return torch.where(norms <= rho, alpha * norms, beta * norms + alpha * rho - beta * rho)
    if kind == "log":
        return alpha * torch.log1p(norms)
    if kind == "mix":
        return alpha * norms + beta * torch.log1p(norms)
    raise ValueError(f"magnitude must be one of {_MAGNITUDES}, got {kind!r}")


def angular(kind: Angular, cosines: Tensor, k: float = 0.3) -> Tensor:
    """The angular activation ``g`` of ``theta = acos(cosines)``.

    Parameters
    ----------
    kind : {"linear", "cosine", "sigmoid", "square_cosine"}
        ``linear``: ``1 - 2 theta / pi``; ``cosine``: ``cos theta``; ``sigmoid``:
        ``(1 + e^{-pi/2k}) / (1 - e^{-pi/2k}) * (1 - e^{theta/k - pi/2k}) / (1 + e^{theta/k -
        pi/2k})``, evaluated as ``tanh((pi/2 - theta) / 2k) / tanh(pi / 4k)``; ``square_cosine``:
        ``sign(cos theta) * cos^2 theta``.
    cosines : Tensor
        Cosines of the angles, in ``[-1, 1]``.
    k : float, default 0.3
        Steepness of the sigmoid activation (``k > 0``; small ``k`` approaches a step).

    Returns
    -------
    Tensor
        Same shape, in ``[-1, 1]``; every activation maps ``theta = pi/2`` (cosine 0) to 0.
    """
    if kind == "cosine":
        return cosines
    if kind == "square_cosine":
        return torch.sign(cosines) * cosines.pow(2)
    theta = _safe_acos(cosines)
    if kind == "linear":
        return 1.0 - 2.0 * theta / math.pi
    if kind == "sigmoid":
        if not k > 0:
            raise ValueError(f"k must be > 0, got {k}")
        return torch.tanh((math.pi / 2 - theta) / (2 * k)) / math.tanh(math.pi / (4 * k))
    raise ValueError(f"angular must be one of {_ANGULARS}, got {kind!r}")


class DecoupledOperator(nn.Module):
    """Combine a magnitude function and an angular activation, optionally weighted by ``||w||``.

    Parameters
    ----------
    magnitude : {"sphere", "ball", "tanh", "linear", "seg", "log", "mix"}, default "tanh"
    angular : {"linear", "cosine", "sigmoid", "square_cosine"}, default "cosine"
    alpha : float, default 1.0
        Output scale (slope for ``linear``/``seg`` below ``rho``).
    beta : float, default 0.5
        Slope of ``seg`` above ``rho``; weight of the log term of ``mix``.
    rho : float, default 1.0
        Operator radius (``ball``, ``tanh``, ``seg``, and the nonlinear weightings).
    k : float, default 0.3
        Steepness of the sigmoid angular activation.
    learn_rho : bool, default False
        Make ``rho`` a trainable parameter (the single learnable hyper-parameter of the paper). It
        is clamped to at least ``1e-3`` when used.
    weighting : {"none", "linear", "nonlinear_joint", "nonlinear_separate"}, default "none"
        ``none``: ``h(||x||) g``; ``linear``: ``||w|| h(||x||) g``; ``nonlinear_joint``:
        ``h(||w|| ||x||) g`` (for ``tanh`` this is ``alpha tanh(||w|| ||x|| / rho) g``, the paper's
        Eq. 15); ``nonlinear_separate``: ``tanh(||w|| / rho) h(||x||) g`` (Eq. 16 for ``tanh``).

    Notes
    -----
    Bounded operators (``sphere``, ``ball``, ``tanh`` with weighting ``none``, ``nonlinear_joint``
    or ``nonlinear_separate``) satisfy ``|f| <= alpha``; :meth:`bound` returns that constant, or
    ``None``.
    """

    def __init__(
        self,
        magnitude: Magnitude = "tanh",
        angular: Angular = "cosine",
        *,
        alpha: float = 1.0,
        beta: float = 0.5,
        rho: float = 1.0,
        k: float = 0.3,
        learn_rho: bool = False,
        weighting: Weighting = "none",
    ) -> None:
        super().__init__()
        if magnitude not in _MAGNITUDES:
            raise ValueError(f"magnitude must be one of {_MAGNITUDES}, got {magnitude!r}")
        if angular not in _ANGULARS:
            raise ValueError(f"angular must be one of {_ANGULARS}, got {angular!r}")
        if weighting not in _WEIGHTINGS:
            raise ValueError(f"weighting must be one of {_WEIGHTINGS}, got {weighting!r}")
        if not rho > 0 or not k > 0:
            raise ValueError(f"rho and k must be > 0, got rho={rho}, k={k}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.magnitude_kind: Magnitude = magnitude
        self.angular_kind: Angular = angular
        self.weighting: Weighting = weighting
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)
        if learn_rho:
            self.rho = nn.Parameter(torch.tensor(float(rho)))
        else:
            self.register_buffer("rho", torch.tensor(float(rho)))

    def extra_repr(self) -> str:
        return (
            f"magnitude={self.magnitude_kind!r}, angular={self.angular_kind!r}, "
            f"weighting={self.weighting!r}, "
            f"alpha={self.alpha}, beta={self.beta}, rho={self.rho.item():.4g}, k={self.k}, "
            f"learn_rho={isinstance(self.rho, nn.Parameter)}"
        )

    def bound(self) -> float | None:
        """``c`` with ``|f(w, x)| <= c`` for every input, or ``None`` for unbounded operators."""
        if self.magnitude_kind in _BOUNDED and self.weighting != "linear":
            return self.alpha
        return None

    def forward(self, cosines: Tensor, input_norms: Tensor, weight_norms: Tensor) -> Tensor:
        """Evaluate ``h(||w||, ||x||) * g(theta)``.

        Parameters
        ----------
        cosines : Tensor
            ``cos theta`` between kernel and input, in ``[-1, 1]``.
        input_norms, weight_norms : Tensor
            ``||x||`` and ``||w||``, broadcastable against ``cosines``.

        Returns
        -------
        Tensor
            Broadcast shape of the inputs.
        """
        rho = self.rho.clamp_min(1e-3)
        norms = input_norms * weight_norms if self.weighting == "nonlinear_joint" else input_norms
        scale = magnitude(self.magnitude_kind, norms, self.alpha, self.beta, rho)
        if self.weighting == "linear":
            scale = scale * weight_norms
        elif self.weighting == "nonlinear_separate":
            scale = scale * torch.tanh(weight_norms / rho)
        return scale * angular(self.angular_kind, cosines, self.k)
