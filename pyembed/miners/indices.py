"""Index tuples returned by miners and accepted by losses."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = ["PairIndices", "TripletIndices"]


class TripletIndices(NamedTuple):
    """Rows of a batch forming triplets: ``labels[anchor] == labels[positive] != labels[negative]``.

    Each field is an int64 tensor of shape ``(t,)``; triplet ``i`` is
    ``(anchor[i], positive[i], negative[i])``.
    """

    anchor: Tensor
    positive: Tensor
    negative: Tensor


class PairIndices(NamedTuple):
    """Rows of a batch forming positive pairs ``(anchor_pos[i], positive[i])`` (same label) and
    negative pairs ``(anchor_neg[j], negative[j])`` (different labels).

    Each field is an int64 tensor.
    """

    anchor_pos: Tensor
    positive: Tensor
    anchor_neg: Tensor
    negative: Tensor
