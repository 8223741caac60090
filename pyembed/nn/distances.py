"""Pairwise distances shared by the losses and the miners.

A distance maps embeddings ``(n, dim)`` and ``(m, dim)`` to an ``(n, m)`` matrix. Every square root
and division carries a documented epsilon, so gradients stay finite when two embeddings coincide.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["CosineDistance", "EuclideanDistance"]


def _check_pair(first: Tensor, second: Tensor) -> None:
    if first.ndim != 2 or second.ndim != 2:
        raise ValueError(
            f"distances need 2-D (n, dim) inputs, got shapes {tuple(first.shape)} and "
            f"{tuple(second.shape)}"
        )
    if first.shape[1] != second.shape[1]:
        raise ValueError(f"first has dim={first.shape[1]} but second has dim={second.shape[1]}")


class EuclideanDistance:
    """Euclidean (L2) distance with an epsilon-safe square root.

    Parameters
    ----------
    squared : bool, default False
        Return the squared distance ``||a - b||^2`` (no square root, no epsilon).
    eps : float, default 1e-12
        Added inside the square root: ``sqrt(||a - b||^2 + eps)``. The derivative of ``sqrt`` at 0
        is infinite; with ``eps`` the gradient of a zero distance is ``0 / sqrt(eps) = 0`` instead
        of NaN. The price is a bias of at most ``sqrt(eps)`` (1e-6 by default) on every distance.

    Notes
    -----
    Squared distances are computed from explicit differences, ``O(n m dim)`` memory, so that a
    point's distance to itself is exactly zero (the ``|a|^2 + |b|^2 - 2ab`` expansion leaves
    rounding noise that would turn zero distances into random small or negative numbers).
    """

    def __init__(self, squared: bool = False, eps: float = 1e-12) -> None:
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.squared = bool(squared)
        self.eps = float(eps)

    def __repr__(self) -> str:
        return f"EuclideanDistance(squared={self.squared}, eps={self.eps})"

    def pairwise(self, first: Tensor, second: Tensor) -> Tensor:
        """All distances between two sets of embeddings.

        Parameters
        ----------
        first : Tensor, shape (n, dim)
        second : Tensor, shape (m, dim)

        Returns
        -------
        Tensor, shape (n, m)
            L2 distance (or squared L2 when ``squared``) in embedding units.
        """
        _check_pair(first, second)
        squared = (first[:, None, :] - second[None, :, :]).pow(2).sum(dim=-1)
        return squared if self.squared else torch.sqrt(squared + self.eps)

    def paired(self, first: Tensor, second: Tensor) -> Tensor:
        """Row-by-row distances: ``d(first[i], second[i])``.

        Parameters
        ----------
        first, second : Tensor, shape (n, dim)

        Returns
        -------
        Tensor, shape (n,)
        """
        _check_pair(first, second)
        if first.shape[0] != second.shape[0]:
            raise ValueError(
                f"paired distances need equal row counts, got {first.shape[0]} and "
                f"{second.shape[0]}"
            )
        squared = (first - second).pow(2).sum(dim=-1)
        return squared if self.squared else torch.sqrt(squared + self.eps)


class CosineDistance:
    """Cosine distance ``1 - cos(a, b)``, in ``[0, 2]``.

    Parameters
    ----------
    eps : float, default 1e-8
        Lower bound on each norm before dividing: ``a / max(||a||, eps)``. A zero vector therefore
        has cosine 0 with everything (distance 1) instead of NaN.
    """

    squared = False

    def __init__(self, eps: float = 1e-8) -> None:
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = float(eps)

    def __repr__(self) -> str:
        return f"CosineDistance(eps={self.eps})"

    def _unit(self, x: Tensor) -> Tensor:
        return x / x.norm(dim=-1, keepdim=True).clamp_min(self.eps)

    def pairwise(self, first: Tensor, second: Tensor) -> Tensor:
        """All cosine distances, shape ``(n, m)`` for inputs ``(n, dim)`` and ``(m, dim)``."""
        _check_pair(first, second)
        return 1.0 - self._unit(first) @ self._unit(second).T

    def paired(self, first: Tensor, second: Tensor) -> Tensor:
        """Row-by-row cosine distances, shape ``(n,)`` for two ``(n, dim)`` inputs."""
        _check_pair(first, second)
        return 1.0 - (self._unit(first) * self._unit(second)).sum(dim=-1)
