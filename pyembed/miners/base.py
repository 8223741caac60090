"""The contract every pyembed miner follows.

``miner(embeddings, labels)`` looks at a labelled batch, under ``torch.no_grad``, and returns the
index tuples a loss should use (:class:`~pyembed.miners.TripletIndices` or
:class:`~pyembed.miners.PairIndices`).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pyembed.nn.distances import CosineDistance, EuclideanDistance

__all__ = ["Miner", "Strategy", "check_embeddings_and_labels", "label_masks"]

Strategy = Literal["all", "hard", "semihard"]


def check_embeddings_and_labels(embeddings: Tensor, labels: Tensor) -> None:
    """Raise unless ``embeddings`` is ``(n, dim)`` and ``labels`` is an integer ``(n,)`` tensor."""
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n, dim), got shape {tuple(embeddings.shape)}")
    if labels.ndim != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"labels must have shape ({embeddings.shape[0]},) to match embeddings, got "
            f"{tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got dtype {labels.dtype}")


class Miner:
    """Base class for miners.

    Parameters
    ----------
    distance : EuclideanDistance or CosineDistance, optional
        The distance the mining decisions use; give the same object as the loss. Defaults to plain
        (non-squared) Euclidean.
    """

    strategies: tuple[str, ...] = ()

    def __init__(
        self, strategy: str, distance: EuclideanDistance | CosineDistance | None = None
    ) -> None:
        if strategy not in self.strategies:
            raise ValueError(f"strategy must be one of {self.strategies}, got {strategy!r}")
        self.strategy = strategy
        self.distance = distance if distance is not None else EuclideanDistance()
        self.last_stats: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strategy={self.strategy!r}, distance={self.distance!r})"

    def __call__(self, embeddings: Tensor, labels: Tensor):
        check_embeddings_and_labels(embeddings, labels)
        with torch.no_grad():
            return self.mine(embeddings.detach(), labels)

    def mine(self, embeddings: Tensor, labels: Tensor):
        """Compute the index tuples; subclasses implement this (called under ``no_grad``)."""
        raise NotImplementedError


def label_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """Boolean ``(n, n)`` masks of positive pairs (same label, ``i != j``) and negative pairs."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same
