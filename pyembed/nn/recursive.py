"""Recursive models over sequences: the recursive autoencoder and the neural grammar.

Both come from the blog seed (``003``): a sequence of vectors (here: frames of a time series) is
merged bottom-up into one binary tree, two adjacent nodes at a time, and the nodes' vectors are
the sequence's representation.

- :class:`RecursiveAutoencoder`: a merge encodes two children ``[a; b]`` into a parent ``h`` and
  decodes ``h`` back to ``[a; b]``; the greedy parse merges the adjacent pair whose subtree has the
  lowest reconstruction error (the merge's own error plus its children's subtree errors, as the
  seed's ``Node.merge`` scores a node). Trained end to end on the summed reconstruction errors of
  all merges of the greedy tree.
- :class:`NeuralGrammar`: left and right projections of the two children, a parent layer and a
  merge score (the seed's ``NeuralGrammar``); the greedy parse merges the adjacent pair with the
  highest score (the seed's ``greedy_tree``). Trained on merge-correctness labels
  (:func:`pyembed.train.recursive.fit_recursive` explains where they come from).

The greedy parse is batched: at every level all adjacent pairs of every sequence of the batch are
scored in one call, the best pair of each sequence is merged, and the loop runs over the ``T - 1``
levels only. The choice itself is not differentiable: pairs are scored without gradients and only
the chosen merges are recomputed with them (the grammar's training also keeps the scores of all
hypotheses, see :meth:`GreedyMerger.parse`).

Unlike the seed's autoencoder sketch, which tries every pair ``i < j`` of the sequence, only
adjacent nodes merge (as in its grammar), so every node covers a contiguous span of frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from pyembed.nn.base import EmbeddingNet

__all__ = [
    "GreedyMerger",
    "MergeTree",
    "NeuralGrammar",
    "Parse",
    "RecursiveAutoencoder",
    "default_frame_width",
    "frame_series",
]

Pool = Literal["root", "mean"]
POOLS: tuple[str, ...] = ("root", "mean")


def default_frame_width(length: int) -> int:
    """The frame width (samples) the CLI and the benchmarks use for series of ``length``
    samples: ``max(2, length // 16)``, about 16 frames (fewer for series under 32 samples),
    capped at the length."""
    return max(1, min(length, max(2, length // 16)))


def frame_series(series: Tensor, width: int, stride: int | None = None) -> Tensor:
    """Cut series into frames, the leaves of a recursive model.

    Parameters
    ----------
    series : Tensor, shape (n, length) or (n, channels, length)
    width : int
        Samples per frame, ``1 <= width <= length``.
    stride : int, optional
        Samples between frame starts (default ``width``: frames side by side).

    Returns
    -------
    Tensor, shape (n, T, channels * width)
        ``T = 1 + (length - width) // stride`` frames in time order; each frame holds its
        channels one after the other. Samples after the last whole frame are dropped.
    """
    if series.ndim == 2:
        series = series.unsqueeze(1)
    if series.ndim != 3:
        raise ValueError(
            f"series must have shape (n, length) or (n, channels, length), got "
            f"{tuple(series.shape)}"
        )
    stride = width if stride is None else stride
    length = series.shape[2]
    if width < 1 or width > length:
        raise ValueError(f"width must be between 1 and the length {length}, got {width}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    frames = series.unfold(2, width, stride)  # (n, channels, T, width)
    return frames.permute(0, 2, 1, 3).reshape(series.shape[0], frames.shape[2], -1)


@dataclass(frozen=True)
class MergeTree:
    """A binary tree over ``n_leaves`` leaves made by ``n_leaves - 1`` merges of adjacent nodes.

    Nodes ``0 .. n_leaves - 1`` are the leaves (frames, in time order); node ``n_leaves + i`` is
    the ``i``-th merge, so the root is the last node.

    Attributes
    ----------
    children : ndarray of int64, shape (n_leaves - 1, 2)
        Left and right child of each merge.
    scores : ndarray of float64, shape (n_leaves - 1,)
        Each merge's score: its reconstruction error (squared L2 / 2) for the autoencoder, its
        logit for the grammar.
    n_leaves : int
    """

    children: NDArray[np.int64]
    scores: NDArray[np.float64]
    n_leaves: int

    def __post_init__(self) -> None:
        n = self.n_leaves
        if n < 1 or self.children.shape != (n - 1, 2) or self.scores.shape != (n - 1,):
            raise ValueError(
                f"a tree over {n} leaves needs children ({n - 1}, 2) and scores ({n - 1},), got "
                f"{self.children.shape} and {self.scores.shape}"
            )
        used = np.sort(self.children.ravel())
        for i, (left, right) in enumerate(self.children.tolist()):
            if not (0 <= left < n + i and 0 <= right < n + i):
                raise ValueError(f"merge {i} joins nodes {left} and {right}, not yet made")
        if np.unique(used).size != used.size:
            raise ValueError("a node is merged twice")

    @property
    def root(self) -> int:
        """The id of the root node (``2 * n_leaves - 2``)."""
        return 2 * self.n_leaves - 2

    @property
    def spans(self) -> NDArray[np.int64]:
        """``(2 * n_leaves - 1, 2)``: the frames ``[start, stop)`` under each node."""
        n = self.n_leaves
        spans = np.zeros((2 * n - 1, 2), dtype=np.int64)
        spans[:n, 0] = np.arange(n)
        spans[:n, 1] = np.arange(1, n + 1)
        for i, (left, right) in enumerate(self.children.tolist()):
            spans[n + i] = (spans[left, 0], spans[right, 1])
        return spans

    def depth(self) -> int:
        """Merges on the longest path from the root to a leaf (0 for a single leaf)."""
        n = self.n_leaves
        depth = np.zeros(2 * n - 1, dtype=np.int64)
        for i, (left, right) in enumerate(self.children.tolist()):
            depth[n + i] = 1 + max(depth[left], depth[right])
        return int(depth[-1])

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (JSON-safe): ``n_leaves`` and one record per merge (``node``,
        ``left``, ``right``, ``start``, ``stop`` in frames, ``score``)."""
        spans = self.spans
        n = self.n_leaves
        return {
            "n_leaves": n,
            "merges": [
                {
                    "node": n + i,
                    "left": int(left),
                    "right": int(right),
                    "start": int(spans[n + i, 0]),
                    "stop": int(spans[n + i, 1]),
                    "score": float(self.scores[i]),
                }
                for i, (left, right) in enumerate(self.children.tolist())
            ],
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MergeTree:
        """Inverse of :meth:`to_dict`."""
        merges = values["merges"]
        return cls(
            children=np.array([[m["left"], m["right"]] for m in merges], dtype=np.int64).reshape(
                -1, 2
            ),
            scores=np.array([m["score"] for m in merges], dtype=np.float64),
            n_leaves=int(values["n_leaves"]),
        )

    def to_newick(self) -> str:
        """The tree in Newick format, leaves named by their frame number: ``((0,1),2);``."""

        def text(node: int) -> str:
            if node < self.n_leaves:
                return str(node)
            left, right = self.children[node - self.n_leaves].tolist()
            return f"({text(left)},{text(right)})"

        return text(self.root) + ";"

    def format(self) -> str:
        """An indented outline, one node per line: span in frames and merge score."""
        spans = self.spans
        lines: list[str] = []

        def walk(node: int, indent: str) -> None:
            start, stop = spans[node].tolist()
            if node < self.n_leaves:
                lines.append(f"{indent}leaf {node}")
                return
            i = node - self.n_leaves
            lines.append(f"{indent}node {node} frames [{start}, {stop}) score {self.scores[i]:.4g}")
            for child in self.children[i].tolist():
                walk(child, indent + "  ")

        walk(self.root, "")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


@dataclass
class Parse:
    """The greedy parse of a batch of sequences (:meth:`GreedyMerger.parse`).

    Attributes
    ----------
    nodes : Tensor, shape (B, 2T - 1, dim)
        Every node's vector: the ``T`` leaves, then the merges in order (the root last).
        Differentiable with respect to the model.
    scores : Tensor, shape (B, T - 1)
        The chosen merges' scores (as :attr:`MergeTree.scores`), differentiable.
    children : Tensor of int64, shape (B, T - 1, 2)
        The chosen merges' children (node ids as in :class:`MergeTree`).
    hypotheses : list of (Tensor, Tensor, Tensor)
        Only when asked for: per level, the scores ``(B, m - 1)`` of all ``m - 1`` adjacent pairs
        (differentiable) and their left and right node ids ``(B, m - 1)``.
    """

    nodes: Tensor
    scores: Tensor
    children: Tensor
    hypotheses: list[tuple[Tensor, Tensor, Tensor]]

    @property
    def n_leaves(self) -> int:
        """Leaves per sequence, ``T``."""
        return int(self.scores.shape[1]) + 1

    @property
    def root(self) -> Tensor:
        """``(B, dim)``: the root vectors."""
        return self.nodes[:, -1]

    def pooled(self, pool: Pool) -> Tensor:
        """``(B, dim)``: the root (``"root"``) or the mean of the merge nodes (``"mean"``; the
        leaf when a sequence has one frame)."""
        if pool == "root":
            return self.root
        if pool == "mean":
            t = self.n_leaves
            return self.nodes[:, t:].mean(dim=1) if t > 1 else self.nodes[:, 0]
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")

    def tree(self, i: int) -> MergeTree:
        """The tree of sequence ``i`` of the batch."""
        return MergeTree(
            children=self.children[i].detach().cpu().numpy().astype(np.int64),
            scores=self.scores[i].detach().cpu().double().numpy(),
            n_leaves=self.n_leaves,
        )


def _rows(values: Tensor, at: Tensor) -> Tensor:
    """``values[b, at[b]]`` for every ``b``: ``(B, m, ...)`` and ``(B,)`` to ``(B, ...)``."""
    return values[torch.arange(values.shape[0], device=values.device), at]


def _merged(values: Tensor, pick: Tensor, new: Tensor) -> Tensor:
    """``values`` ``(B, m, ...)`` with positions ``pick`` and ``pick + 1`` replaced by ``new``
    ``(B, ...)``: ``(B, m - 1, ...)``."""
    b, m = values.shape[:2]
    pos = torch.arange(m - 1, device=values.device).expand(b, -1)
    src = pos + (pos > pick[:, None]).long()
    tail = values.shape[2:]
    index = src.reshape(b, m - 1, *([1] * len(tail))).expand(b, m - 1, *tail)
    kept = values.gather(1, index)
    at = (pos == pick[:, None]).reshape(b, m - 1, *([1] * len(tail)))
    return torch.where(at, new.unsqueeze(1).to(kept.dtype), kept)


class GreedyMerger(EmbeddingNet):
    """Base of the recursive models: frames, the batched greedy parse, the pooled embedding.

    Subclasses define :meth:`merge` (parent vectors and merge scores of pairs of nodes) and
    :meth:`_choose` (which pair of each sequence merges next).

    Parameters
    ----------
    frame_width : int
        Samples per frame (the leaves; frames side by side). The node vectors have
        ``in_channels * frame_width`` entries, which is also the embedding size.
    in_channels : int, default 1
    pool : {"root", "mean"}, default "mean"
        The embedding: the root vector or the mean of all merge nodes' vectors.
    normalize : bool, default False
        Unit-length embeddings.
    """

    def __init__(
        self,
        frame_width: int,
        in_channels: int = 1,
        *,
        pool: Pool = "mean",
        normalize: bool = False,
    ) -> None:
        if frame_width < 1 or in_channels < 1:
            raise ValueError(
                f"frame_width and in_channels must be >= 1, got {frame_width} and {in_channels}"
            )
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        super().__init__(int(frame_width) * int(in_channels), normalize)
        self.frame_width = int(frame_width)
        self.in_channels = int(in_channels)
        self.pool: Pool = pool

    @property
    def dim(self) -> int:
        """Entries of every node vector: ``in_channels * frame_width`` (the embedding size)."""
        return self.embedding_dim

    def merge(self, left: Tensor, right: Tensor) -> tuple[Tensor, Tensor]:
        """Parents ``(..., dim)`` and scores ``(...)`` of merging ``left`` with ``right`` (both
        ``(..., dim)``)."""
        raise NotImplementedError

    def _choose(self, scores: Tensor, subtree: Tensor) -> Tensor:
        """Each sequence's next merge ``(B,)`` among its pairs' ``scores`` ``(B, m - 1)``;
        ``subtree`` ``(B, m)`` holds the current nodes' subtree scores."""
        raise NotImplementedError

    def _subtree(self, own: Tensor, left: Tensor, right: Tensor) -> Tensor:
        """The subtree score of a new node from its own score and its children's."""
        return own

    def leaves(self, series: Tensor) -> Tensor:
        """Frames ``(n, T, dim)`` of series ``(n, length)`` or ``(n, in_channels, length)``."""
        if series.ndim == 2 and self.in_channels == 1:
            series = series.unsqueeze(1)
        if series.ndim != 3 or series.shape[1] != self.in_channels:
            raise ValueError(
                f"series must have shape (n, {self.in_channels}, length), got {tuple(series.shape)}"
            )
        return frame_series(series, self.frame_width)

    def parse(self, leaves: Tensor, *, hypotheses: bool = False) -> Parse:
        """Greedy bottom-up parse of a batch of leaf sequences ``(B, T, dim)``.

        At each of the ``T - 1`` levels every adjacent pair of every sequence is scored in one
        batched call and the chosen pair of each sequence is merged. Without ``hypotheses`` the
        pairs are scored without gradients and only the chosen merges are recomputed with them
        (memory ``O(B T dim)``); with ``hypotheses`` all pairs keep their gradients and their
        scores are returned (what the grammar's merge-correctness loss needs).
        """
        if leaves.ndim != 3 or leaves.shape[2] != self.dim or leaves.shape[1] < 1:
            raise ValueError(
                f"leaves must have shape (B, T >= 1, {self.dim}), got {tuple(leaves.shape)}"
            )
        b, t, _ = leaves.shape
        device = leaves.device
        current = leaves
        ids = torch.arange(t, device=device).expand(b, -1)
        subtree = leaves.new_zeros(b, t)
        parents: list[Tensor] = []
        scores: list[Tensor] = []
        children: list[Tensor] = []
        kept: list[tuple[Tensor, Tensor, Tensor]] = []
        for level in range(t - 1):
            left, right = current[:, :-1], current[:, 1:]
            if hypotheses:
                all_parents, all_scores = self.merge(left, right)
                pick = self._choose(all_scores.detach(), subtree.detach())
                parent, score = _rows(all_parents, pick), _rows(all_scores, pick)
                kept.append((all_scores, ids[:, :-1], ids[:, 1:]))
            else:
                with torch.no_grad():
                    _, all_scores = self.merge(left, right)
                    pick = self._choose(all_scores, subtree)
                parent, score = self.merge(_rows(left, pick), _rows(right, pick))
            node_subtree = self._subtree(
                score.detach(), _rows(subtree, pick), _rows(subtree, pick + 1)
            )
            children.append(torch.stack([_rows(ids, pick), _rows(ids, pick + 1)], dim=1))
            parents.append(parent)
            scores.append(score)
            current = _merged(current, pick, parent)
            subtree = _merged(subtree, pick, node_subtree)
            ids = _merged(ids, pick, torch.full((b,), t + level, device=device, dtype=ids.dtype))
        nodes = torch.cat([leaves, torch.stack(parents, dim=1)], dim=1) if parents else leaves
        return Parse(
            nodes=nodes,
            scores=torch.stack(scores, dim=1) if scores else leaves.new_zeros(b, 0),
            children=(
                torch.stack(children, dim=1)
                if children
                else torch.zeros(b, 0, 2, dtype=torch.long, device=device)
            ),
            hypotheses=kept,
        )

    def parse_series(self, series: Tensor) -> Parse:
        """:meth:`parse` of the frames of ``series`` (as :meth:`leaves` takes them)."""
        return self.parse(self.leaves(series))

    def encode(self, inputs: Tensor) -> Tensor:
        """Embed series ``(n, length)`` or ``(n, in_channels, length)``: the pooled node vector
        of their greedy parse, ``(n, in_channels * frame_width)``."""
        return self.parse_series(inputs).pooled(self.pool)


class RecursiveAutoencoder(GreedyMerger):
    """Recursive autoencoder over frames (seed ``003``, "Recursive Auto Encoders").

    A merge of children ``a, b`` (``dim`` each) computes ``c = [a; b]``, the parent
    ``h = act(W_e c + b_e)`` (``dim``) and the reconstruction ``o = W_d h + b_d`` (``2 dim``); its
    score is the reconstruction error ``0.5 * ||o - c||^2`` (TensorFlow's ``l2_loss``, as in the
    seed). A node's subtree error is its own error plus its children's; the greedy parse merges
    the adjacent pair with the lowest subtree error (the seed's ``Node.merge`` score), so the
    root's subtree error is the sum of the reconstruction errors of all merges, the training
    loss.

    Parameters
    ----------
    frame_width, in_channels, pool, normalize
        As :class:`GreedyMerger`.
    activation : {"tanh", "identity"}, default "tanh"
        ``act``. The seed's sketch uses a linear encoder ("identity"); tanh as in Socher et al.
        (2011).
    normalize_nodes : bool, default True
        Rescale every parent to root-mean-square 1 (norm ``sqrt(dim)``, the scale of
        z-normalised frames). Without it the summed error can be lowered by shrinking the
        parents, which makes their own reconstruction cheap (Socher et al. 2011 normalise the
        parents for this reason).
    """

    def __init__(
        self,
        frame_width: int,
        in_channels: int = 1,
        *,
        activation: Literal["tanh", "identity"] = "tanh",
        normalize_nodes: bool = True,
        pool: Pool = "mean",
        normalize: bool = False,
    ) -> None:
        super().__init__(frame_width, in_channels, pool=pool, normalize=normalize)
        if activation not in ("tanh", "identity"):
            raise ValueError(f"activation must be 'tanh' or 'identity', got {activation!r}")
        self.activation = activation
        self.normalize_nodes = bool(normalize_nodes)
        self.encoder = nn.Linear(2 * self.dim, self.dim)
        self.decoder = nn.Linear(self.dim, 2 * self.dim)

    def extra_repr(self) -> str:
        return (
            f"frame_width={self.frame_width}, in_channels={self.in_channels}, "
            f"activation={self.activation}, normalize_nodes={self.normalize_nodes}, "
            f"pool={self.pool}"
        )

    def encode_pair(self, left: Tensor, right: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(c, h, o)`` of a merge: children concatenated ``(..., 2 dim)``, parent
        ``(..., dim)`` and reconstruction ``(..., 2 dim)``."""
        c = torch.cat([left, right], dim=-1)
        h = self.encoder(c)
        if self.activation == "tanh":
            h = torch.tanh(h)
        if self.normalize_nodes:
            h = F.normalize(h, dim=-1, eps=1e-12) * float(self.dim) ** 0.5
        return c, h, self.decoder(h)

    def merge(self, left: Tensor, right: Tensor) -> tuple[Tensor, Tensor]:
        """Parents ``(..., dim)`` and reconstruction errors ``0.5 ||o - c||^2`` ``(...)``."""
        c, h, o = self.encode_pair(left, right)
        return h, 0.5 * (o - c).pow(2).sum(dim=-1)

    def _choose(self, scores: Tensor, subtree: Tensor) -> Tensor:
        return (scores + subtree[:, :-1] + subtree[:, 1:]).argmin(dim=1)

    def _subtree(self, own: Tensor, left: Tensor, right: Tensor) -> Tensor:
        return own + left + right


class NeuralGrammar(GreedyMerger):
    """Recursive neural network ("neural grammar") over frames (seed ``003``).

    For children ``l, r`` (``dim`` each): ``c_l = relu(W_l l + b_l)`` and ``c_r = relu(W_r r +
    b_r)`` (``hidden`` each), the parent ``p = tanh(W_p [c_l; c_r] + b_p)`` (``dim``) and the
    merge score ``s = w_s . p + b_s`` (a logit: the merge is correct with probability
    ``sigmoid(s)``). The greedy parse merges the adjacent pair with the highest score.

    Parameters
    ----------
    frame_width, in_channels, pool, normalize
        As :class:`GreedyMerger`.
    hidden : int, default 32
        Size of the left and right projections (the seed's ``H``).
    """

    def __init__(
        self,
        frame_width: int,
        in_channels: int = 1,
        *,
        hidden: int = 32,
        pool: Pool = "mean",
        normalize: bool = False,
    ) -> None:
        super().__init__(frame_width, in_channels, pool=pool, normalize=normalize)
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        self.hidden = int(hidden)
        self.left = nn.Linear(self.dim, self.hidden)
        self.right = nn.Linear(self.dim, self.hidden)
        self.parent = nn.Linear(2 * self.hidden, self.dim)
        self.projection = nn.Linear(self.dim, 1)

    def extra_repr(self) -> str:
        return (
            f"frame_width={self.frame_width}, in_channels={self.in_channels}, "
            f"hidden={self.hidden}, pool={self.pool}"
        )

    def merge(self, left: Tensor, right: Tensor) -> tuple[Tensor, Tensor]:
        """Parents ``p`` ``(..., dim)`` and merge logits ``(...)``."""
        x = torch.cat([torch.relu(self.left(left)), torch.relu(self.right(right))], dim=-1)
        p = torch.tanh(self.parent(x))
        return p, self.projection(p).squeeze(-1)

    def _choose(self, scores: Tensor, subtree: Tensor) -> Tensor:
        return scores.argmax(dim=1)
