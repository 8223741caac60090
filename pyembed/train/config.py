"""Training settings, stored in every checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the model, the loss and the data.

    Attributes
    ----------
    epochs : int
        Number of epochs.
    n_identities, n_per_identity : int
        P and K of the P x K batch sampler (batch size ``P * K``).
    n_batches : int or None
        Batches per epoch; None means about one pass over the data.
    max_lr : float
        Peak learning rate of the one-cycle schedule.
    pct_start, div_factor, final_div_factor : float
        One-cycle shape: fraction of steps rising; initial lr ``max_lr / div_factor``; final lr
        ``max_lr / final_div_factor``.
    beta1_max, beta1_min, beta2 : float
        Adam's beta1 cycles inversely to the learning rate between these; beta2 is fixed.
    weight_decay : float
        Adam's L2 penalty.
    seed : int
        Seeds batch sampling and augmentation (the model's initial weights are seeded by the
        caller).
    weight_projection : float or None
        If set, DCNet weight projection to this norm after every step.
    checkpoint_every : int
        Write the checkpoint every this many epochs (and after the last one).
    """

    epochs: int = 20
    n_identities: int = 8
    n_per_identity: int = 4
    n_batches: int | None = None
    max_lr: float = 3e-3
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e3
    beta1_max: float = 0.95
    beta1_min: float = 0.85
    beta2: float = 0.99
    weight_decay: float = 0.0
    seed: int = 0
    weight_projection: float | None = None
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        if not 0.0 <= self.beta2 < 1.0:
            raise ValueError(f"beta2 must be in [0, 1), got {self.beta2}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (safe for ``torch.load(weights_only=True)`` and JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)
