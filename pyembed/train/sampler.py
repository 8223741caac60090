"""P identities x K samples batch sampler."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PKSampler"]


class PKSampler:
    """Batches of ``n_identities`` (P) labels times ``n_per_identity`` (K) samples each.

    Every batch therefore contains positives for every anchor, which online mining needs.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
    n_identities : int
        P, distinct labels per batch. Only labels with at least 2 samples are drawn; if fewer than P
        exist, each batch uses all of them.
    n_per_identity : int
        K, samples per label. Drawn without replacement when the label has at least K samples,
        with replacement otherwise.
    n_batches : int, optional
        Batches per epoch; default ``max(1, n // (P * K))`` (about one pass over the data).
    seed : int, default 0
        Epoch ``e`` draws from ``numpy.random.default_rng([seed, e])``: an epoch's batches depend
        only on the seed and the epoch number, which makes resumed training repeat the same batches.

    Notes
    -----
    Iterating yields int64 arrays of row indices, shape ``(P' * K,)``, grouped by label.
    Call :meth:`set_epoch` before iterating each epoch.
    """

    def __init__(
        self,
        labels: ArrayLike,
        n_identities: int,
        n_per_identity: int,
        *,
        n_batches: int | None = None,
        seed: int = 0,
    ) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
        if n_identities < 2:
            raise ValueError(f"n_identities must be >= 2, got {n_identities}")
        if n_per_identity < 2:
            raise ValueError(f"n_per_identity must be >= 2, got {n_per_identity}")
        uniques, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        usable = np.flatnonzero(counts >= 2)
        if usable.size < 2:
            raise ValueError(f"need at least 2 labels with 2 or more samples, found {usable.size}")
        self._members = [np.flatnonzero(inverse == u) for u in usable]
        self.n_identities = min(int(n_identities), usable.size)
        self.n_per_identity = int(n_per_identity)
        default = max(1, labels.shape[0] // (self.n_identities * self.n_per_identity))
        self.n_batches = default if n_batches is None else int(n_batches)
        if self.n_batches < 1:
            raise ValueError(f"n_batches must be >= 1, got {n_batches}")
        self.seed = int(seed)
        self.epoch = 0

    @property
    def batch_size(self) -> int:
        """Rows per batch, ``P * K``."""
        return self.n_identities * self.n_per_identity

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches the next iteration yields."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch])
        for _ in range(self.n_batches):
            chosen = rng.choice(len(self._members), size=self.n_identities, replace=False)
            rows = []
            for c in chosen:
                members = self._members[c]
                replace = members.size < self.n_per_identity
                rows.append(rng.choice(members, size=self.n_per_identity, replace=replace))
            yield np.concatenate(rows).astype(np.int64)
