"""Training the recursive models of :mod:`pyembed.nn.recursive` on unlabelled series.

- The recursive autoencoder trains end to end on the summed reconstruction errors of all merges
  of each series' greedy tree (the seed's gradient tape over ``merge``), here divided by the
  number of merges and averaged over the batch (:func:`autoencoder_loss`).
- The neural grammar needs merge-correctness labels, which unlabelled series do not have. They
  come from splicing (:func:`splice`): a training sequence is cut at random frame boundaries
  into 2 to ``max_segments`` segments, and each segment is filled with the same frames of a
  different training series (the frames keep their time positions). A merge is correct when
  both children lie inside one segment: the grammar learns which adjacent frames belong to one
  series, the self-supervised signal the seed's "use labels to decide if a merge was correct"
  needs. Every hypothesis the greedy parse scores (all adjacent pairs at every level) gets a
  binary cross-entropy term (:func:`grammar_loss`); the parse follows the model's own scores,
  as the seed's ``greedy_tree`` does.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pyembed.nn.recursive import GreedyMerger, NeuralGrammar, RecursiveAutoencoder
from pyembed.train.progress import ProgressBar

__all__ = [
    "RecursiveConfig",
    "autoencoder_loss",
    "fit_recursive",
    "grammar_loss",
    "merge_labels",
    "splice",
]


@dataclass(frozen=True)
class RecursiveConfig:
    """Settings of :func:`fit_recursive`.

    Attributes
    ----------
    epochs : int
        Number of epochs.
    batches_per_epoch : int or None
        Batches per epoch; None: about one pass over the training series.
    batch_size : int
        Sequences per batch.
    lr : float
        Adam's learning rate (constant).
    max_segments : int
        The grammar's splices have 2 to this many segments (at most the number of frames).
    seed : int
        Seeds batch sampling and splicing (seed the model's initial weights yourself).
    """

    epochs: int = 30
    batches_per_epoch: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    max_segments: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batches_per_epoch is not None and self.batches_per_epoch < 1:
            raise ValueError(f"batches_per_epoch must be >= 1, got {self.batches_per_epoch}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.max_segments < 2:
            raise ValueError(f"max_segments must be >= 2, got {self.max_segments}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (JSON-safe)."""
        return dataclasses.asdict(self)


def splice(
    frames: Tensor, batch_size: int, rng: np.random.Generator, max_segments: int = 4
) -> tuple[Tensor, Tensor]:
    """Spliced training sequences for the grammar, with their segment of every frame.

    Parameters
    ----------
    frames : Tensor, shape (n, T, dim)
        The frames of ``n >= 2`` training series.
    batch_size : int
    rng : numpy.random.Generator
    max_segments : int, default 4
        Each sequence has ``2 .. min(max_segments, T, n)`` segments (drawn uniformly), cut at
        distinct random frame boundaries; the series of its segments are distinct.

    Returns
    -------
    leaves : Tensor, shape (batch_size, T, dim)
        ``leaves[b, t] = frames[series of the segment of t, t]``.
    segments : Tensor of int64, shape (batch_size, T)
        The segment number (0, 1, ...) of every frame.
    """
    n, t, _ = frames.shape
    top = min(max_segments, t, n)
    if top < 2:
        raise ValueError(f"splicing needs at least 2 series of at least 2 frames, got {n} of {t}")
    source = np.empty((batch_size, t), dtype=np.int64)
    segments = np.empty((batch_size, t), dtype=np.int64)
    for b in range(batch_size):
        k = int(rng.integers(2, top + 1))
        cuts = np.sort(rng.choice(np.arange(1, t), size=k - 1, replace=False))
        segment = np.searchsorted(cuts, np.arange(t), side="right")
        series = rng.choice(n, size=k, replace=False)
        segments[b] = segment
        source[b] = series[segment]
    time_index = np.broadcast_to(np.arange(t), (batch_size, t))
    leaves = frames[torch.from_numpy(source), torch.from_numpy(np.ascontiguousarray(time_index))]
    return leaves, torch.from_numpy(segments)


def merge_labels(segments: Tensor, children: Tensor) -> Tensor:
    """The segment of every node of a parse, or -1 for a node that spans two segments.

    Parameters
    ----------
    segments : Tensor of int64, shape (B, T)
        The leaves' segments.
    children : Tensor of int64, shape (B, T - 1, 2)
        The parse's merges (:attr:`pyembed.nn.recursive.Parse.children`).

    Returns
    -------
    Tensor of int64, shape (B, 2T - 1)
        A merge is correct exactly when both its children have the same segment ``>= 0``.
    """
    b, t = segments.shape
    node = torch.full((b, 2 * t - 1), -1, dtype=torch.long)
    node[:, :t] = segments
    rows = torch.arange(b)
    for i in range(t - 1):
        left = node[rows, children[:, i, 0]]
        right = node[rows, children[:, i, 1]]
        node[:, t + i] = torch.where(left == right, left, torch.full_like(left, -1))
    return node


def autoencoder_loss(
    model: RecursiveAutoencoder, leaves: Tensor
) -> tuple[Tensor, dict[str, float]]:
    """Mean reconstruction error per merge of the greedy trees of a batch ``(B, T, dim)``.

    The sum of the ``T - 1`` merges' errors ``0.5 ||o - c||^2`` (the root's subtree error),
    divided by ``T - 1`` and averaged over the batch. Stats: ``root_error`` (the mean sum) and
    ``depth`` (the mean tree depth, in merges).
    """
    parse = model.parse(leaves)
    merges = max(1, parse.scores.shape[1])
    total = parse.scores.sum(dim=1)
    depth = float(np.mean([parse.tree(i).depth() for i in range(leaves.shape[0])]))
    return total.mean() / merges, {"root_error": float(total.mean().detach()), "depth": depth}


def grammar_loss(
    model: NeuralGrammar, leaves: Tensor, segments: Tensor
) -> tuple[Tensor, dict[str, float]]:
    """Binary cross-entropy of every hypothesis of the greedy parse against merge correctness.

    Every adjacent pair scored at every level is a hypothesis, labelled 1 when both nodes lie in
    one segment of the splice (:func:`merge_labels`); the loss is the mean over all of them.
    Stats: ``merge_accuracy`` (share of the chosen merges that are correct; a perfect parse
    makes ``T - K`` correct merges of ``T - 1`` for ``K`` segments), ``hypothesis_accuracy``
    (share of hypotheses whose logit has the sign of the label) and ``positive_share``.
    """
    parse = model.parse(leaves, hypotheses=True)
    node = merge_labels(segments, parse.children)
    rows = torch.arange(leaves.shape[0])[:, None]
    logits, labels = [], []
    for scores, left, right in parse.hypotheses:
        seg_left, seg_right = node[rows, left], node[rows, right]
        labels.append(((seg_left == seg_right) & (seg_left >= 0)).reshape(-1))
        logits.append(scores.reshape(-1))
    if not logits:
        zero = leaves.sum() * 0.0
        return zero, {"merge_accuracy": float("nan"), "hypothesis_accuracy": float("nan")}
    logit = torch.cat(logits)
    target = torch.cat(labels).to(logit.dtype)
    loss = F.binary_cross_entropy_with_logits(logit, target)
    t = leaves.shape[1]
    chosen = (node[:, t:] >= 0).to(torch.float64).mean()
    agree = ((logit.detach() > 0) == (target > 0.5)).to(torch.float64).mean()
    return loss, {
        "merge_accuracy": float(chosen),
        "hypothesis_accuracy": float(agree),
        "positive_share": float(target.mean()),
    }


def fit_recursive(
    model: GreedyMerger,
    series: Tensor,
    config: RecursiveConfig,
    *,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train a recursive model on unlabelled series with Adam.

    Parameters
    ----------
    model : RecursiveAutoencoder or NeuralGrammar
    series : Tensor, shape (n, length) or (n, channels, length)
        The training series (their labels are not used).
    config : RecursiveConfig
    progress : bool, default True
        A progress bar per epoch on stderr.

    Returns
    -------
    list of dict
        One record per epoch: ``epoch``, mean ``loss``, wall-clock ``seconds`` and the epoch
        means of the loss's stats (:func:`autoencoder_loss`, :func:`grammar_loss`).
    """
    if not isinstance(model, (RecursiveAutoencoder, NeuralGrammar)):
        raise TypeError(
            f"model must be a RecursiveAutoencoder or a NeuralGrammar, got {type(model).__name__}"
        )
    frames = model.leaves(series).detach()
    n = frames.shape[0]
    if isinstance(model, NeuralGrammar) and (n < 2 or frames.shape[1] < 2):
        raise ValueError(
            f"the grammar's splices need at least 2 series of at least 2 frames, got {n} "
            f"series of {frames.shape[1]} frame(s) (a smaller frame width gives more frames)"
        )
    batches = config.batches_per_epoch or max(1, -(-n // config.batch_size))
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: list[dict[str, float]] = []
    model.train()
    for epoch in range(config.epochs):
        bar = ProgressBar(batches, f"epoch {epoch + 1}/{config.epochs}", enabled=progress)
        start = time.perf_counter()
        total = 0.0
        sums: dict[str, float] = {}
        for step in range(batches):
            if isinstance(model, NeuralGrammar):
                leaves, segments = splice(frames, config.batch_size, rng, config.max_segments)
                loss, stats = grammar_loss(model, leaves, segments)
            else:
                rows = rng.choice(n, size=min(config.batch_size, n), replace=False)
                loss, stats = autoencoder_loss(model, frames[torch.from_numpy(rows)])
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at epoch {epoch}, step {step}"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            for key, value in stats.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.update(1, f"loss={total / (step + 1):.4f}")
        record = {
            "epoch": float(epoch + 1),
            "loss": total / batches,
            "seconds": time.perf_counter() - start,
            **{key: value / batches for key, value in sums.items()},
        }
        bar.close(f"loss={record['loss']:.4f}")
        history.append(record)
    model.eval()
    return history
