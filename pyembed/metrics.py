"""Metrics of nearest-neighbor results (numpy only, no torch).

This module owns every number computed *from* search results, for the CLI and the benchmarks alike:

- classification: :func:`knn_vote` (majority vote of the k nearest) and :func:`knn_error` (its
  error rate; with k = 1 the archive's 1-NN error), :func:`one_nn_error` on neighbor labels;
- retrieval and verification: :func:`recall_at_k`, :func:`map_at_r`, :func:`verification_accuracy`,
  :func:`retrieval_metrics`, with :func:`knn_brute_force` as the numpy oracle and
  :func:`leave_one_out_neighbors` / :func:`drop_self` for queries drawn from the reference set;
- speed tables: :func:`pareto_front`, :func:`qps_at_recall` and :func:`qps_interpolated` turn a
  sweep of (recall, queries/second) points into queries/second at a target recall;
- presentation attack detection (ISO/IEC 30107-3): :func:`roc_auc`, :func:`pad_errors` (APCER and
  BPCER at a threshold), :func:`equal_error_rate`, :func:`validation_threshold` and
  :func:`pad_report` (per-type APCER, ACER) on attack scores.

Conventions: neighbor matrices are ``(n_queries, k)`` arrays ordered nearest first, and ``-1`` marks
"no neighbor"; a *relevant* neighbor has the query's label. Distances are true L2 (not squared).
Attack scores are "higher = more likely an attack", and a sample is classified as an attack when its
score is ``>= threshold``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "PADReport",
    "VerificationResult",
    "drop_self",
    "equal_error_rate",
    "knn_brute_force",
    "knn_error",
    "knn_vote",
    "labels_of",
    "leave_one_out_neighbors",
    "map_at_r",
    "one_nn_error",
    "pad_errors",
    "pad_report",
    "pair_distances",
    "pareto_front",
    "qps_at_recall",
    "qps_interpolated",
    "recall_at_k",
    "relevant_counts",
    "retrieval_metrics",
    "roc_auc",
    "validation_threshold",
    "verification_accuracy",
]


def _as_real(x: ArrayLike, name: str, ndim: int, shape: str) -> NDArray[np.float64]:
    """``x`` as finite float64 with ``ndim`` axes (``shape`` names them in the message)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {shape}, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _as_matrix(x: ArrayLike, name: str) -> NDArray[np.float64]:
    return _as_real(x, name, 2, "(n, dim)")


def _check_neighbors(
    neighbor_labels: ArrayLike, query_labels: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    nl = np.asarray(neighbor_labels)
    ql = np.asarray(query_labels)
    if nl.ndim != 2:
        raise ValueError(f"neighbor_labels must be 2-D (n_queries, k), got shape {nl.shape}")
    if ql.shape != (nl.shape[0],):
        raise ValueError(f"query_labels must have shape ({nl.shape[0]},), got {ql.shape}")
    if nl.shape[0] == 0:
        raise ValueError("need at least one query")
    return nl, ql


def labels_of(neighbor_ids: ArrayLike, labels: ArrayLike) -> NDArray[Any]:
    """The labels of neighbors given by id, with ``None`` where the id is ``-1`` (a search pads
    rows that reached fewer than k neighbors with -1; indexing ``labels[-1]`` would silently take
    the last label instead). ``None`` equals no label, so a missing neighbor counts as a miss.

    Parameters
    ----------
    neighbor_ids : array-like of int, shape (n, k)
        Row numbers into ``labels``, or -1.
    labels : array-like, shape (m,)

    Returns
    -------
    ndarray of object, shape (n, k)
    """
    ids = np.asarray(neighbor_ids, dtype=np.int64)
    lab = np.asarray(labels)
    out = np.empty(ids.shape, dtype=object)
    out[...] = None
    hit = ids >= 0
    out[hit] = lab[ids[hit]]
    return out


def knn_brute_force(
    queries: ArrayLike,
    references: ArrayLike,
    k: int,
    *,
    exclude_self: bool = False,
    chunk_size: int = 1024,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Exact k nearest neighbors by L2 distance (the numpy oracle).

    Parameters
    ----------
    queries : array-like, shape (n, dim)
    references : array-like, shape (m, dim)
    k : int
        Neighbors per query, ``1 <= k <= m`` (``<= m - 1`` with ``exclude_self``).
    exclude_self : bool, default False
        Queries are the references themselves (same rows, ``n == m``): row ``i`` never returns
        ``i``.
    chunk_size : int, default 1024
        Queries per block (memory ``chunk_size * m`` floats).

    Returns
    -------
    ids : ndarray of int64, shape (n, k)
        Row numbers into ``references``, nearest first; ties broken by the lower row number.
    distances : ndarray of float32, shape (n, k)
        L2 distances (computed in float64).
    """
    q = _as_matrix(queries, "queries")
    r = _as_matrix(references, "references")
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries have dim={q.shape[1]} but references have dim={r.shape[1]}")
    if exclude_self and q.shape[0] != r.shape[0]:
        raise ValueError(
            f"exclude_self needs queries and references of equal length, got {q.shape[0]} and "
            f"{r.shape[0]}"
        )
    limit = r.shape[0] - (1 if exclude_self else 0)
    if not 1 <= k <= limit:
        raise ValueError(f"k must be between 1 and {limit}, got {k}")
    ids = np.empty((q.shape[0], k), dtype=np.int64)
    dists = np.empty((q.shape[0], k), dtype=np.float32)
    r_sq = (r * r).sum(axis=1)
    for start in range(0, q.shape[0], chunk_size):
        block = q[start : start + chunk_size]
        sq = (block * block).sum(axis=1)[:, None] + r_sq[None, :] - 2.0 * block @ r.T
        np.maximum(sq, 0.0, out=sq)
        if exclude_self:
            rows = np.arange(block.shape[0])
            sq[rows, start + rows] = np.inf
        order = np.argsort(sq, axis=1, kind="stable")[:, :k]
        ids[start : start + block.shape[0]] = order
        dists[start : start + block.shape[0]] = np.sqrt(np.take_along_axis(sq, order, axis=1))
    return ids, dists


def drop_self(neighbor_ids: ArrayLike, query_ids: ArrayLike) -> NDArray[np.int64]:
    """Remove each query's own id from its neighbor row (leave-one-out with an index that holds it).

    Parameters
    ----------
    neighbor_ids : array-like of int, shape (n, k)
    query_ids : array-like of int, shape (n,)

    Returns
    -------
    ndarray of int64, shape (n, k - 1)
        Each row without the query's id; if the id is absent, the row's last entry is dropped.
    """
    ids = np.asarray(neighbor_ids, dtype=np.int64)
    own = np.asarray(query_ids, dtype=np.int64)
    if ids.ndim != 2 or ids.shape[1] < 2 or own.shape != (ids.shape[0],):
        raise ValueError(
            f"need neighbor_ids (n, k >= 2) and query_ids (n,), got {ids.shape} and {own.shape}"
        )
    hit = ids == own[:, None]
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), ids.shape[1] - 1)
    keep = np.ones_like(ids, dtype=bool)
    keep[np.arange(ids.shape[0]), first] = False
    return ids[keep].reshape(ids.shape[0], ids.shape[1] - 1)


def leave_one_out_neighbors(
    vectors: ArrayLike,
    depth: int,
    *,
    exact: bool = True,
    ef: int | None = None,
    graph: str | None = None,
    seed: int | None = None,
    n_threads: int | None = None,
) -> NDArray[np.int64]:
    """The ``depth`` nearest other rows of every row, found through a Euclidean :class:`pyembed.Index`.

    Every row is stored in one index (ids are the row numbers) and queries it for ``depth + 1``
    neighbors; :func:`drop_self` then removes the row itself.

    Parameters
    ----------
    vectors : array-like, shape (n, dim)
        Real numbers, ``n >= 2``; converted to float32 by the index.
    depth : int
        Neighbors kept per row, ``1 <= depth <= n - 1``.
    exact : bool, default True
        Brute-force search (the exact answer); False walks the graph.
    ef : int, optional
        Graph search beam (``exact=False`` only); None: the index default.
    graph : {"hnsw", "nsw"}, optional
        Graph kind of the index; None: the index default.
    seed : int, optional
        Seed of the graph build; None: the index default.
    n_threads : int, optional
        Threads of the build and the search; None: all cores.

    Returns
    -------
    ndarray of int64, shape (n, depth)
        Row numbers, nearest first (L2 distance), never the row itself.
    """
    from pyembed.index import Index

    x = np.asarray(vectors)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"vectors must be 2-D (n >= 2, dim), got shape {x.shape}")
    n = x.shape[0]
    if not 1 <= depth <= n - 1:
        raise ValueError(f"depth must be between 1 and n - 1 = {n - 1}, got {depth}")
    build: dict[str, Any] = {}
    if graph is not None:
        build["graph"] = graph
    if seed is not None:
        build["seed"] = seed
    index = Index(x.shape[1], "euclidean", **build)
    rows = np.arange(n, dtype=np.int64)
    index.add(x, ids=rows)
    found = index.search(x, k=depth + 1, exact=exact, ef=None if exact else ef, n_threads=n_threads)
    return drop_self(found.ids, rows)


def relevant_counts(
    query_labels: ArrayLike, reference_labels: ArrayLike, *, exclude_self: bool = False
) -> NDArray[np.int64]:
    """Number of references sharing each query's label (``R`` of MAP@R).

    Parameters
    ----------
    query_labels : array-like, shape (n,)
    reference_labels : array-like, shape (m,)
    exclude_self : bool, default False
        Queries are the references (leave-one-out): subtract the query itself.

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    uniques, counts = np.unique(np.asarray(reference_labels), return_counts=True)
    lookup = dict(zip(uniques.tolist(), counts.tolist(), strict=True))
    out = np.array([lookup.get(v, 0) for v in np.asarray(query_labels).tolist()], dtype=np.int64)
    return out - 1 if exclude_self else out


def recall_at_k(neighbor_labels: ArrayLike, query_labels: ArrayLike, k: int = 1) -> float:
    """Fraction of queries with at least one relevant neighbor among their first ``k``.

    Parameters
    ----------
    neighbor_labels : array-like, shape (n, >= k)
        Labels of each query's neighbors, nearest first.
    query_labels : array-like, shape (n,)
    k : int, default 1

    Returns
    -------
    float
        Recall@k in ``[0, 1]``.
    """
    nl, ql = _check_neighbors(neighbor_labels, query_labels)
    if not 1 <= k <= nl.shape[1]:
        raise ValueError(f"k must be between 1 and {nl.shape[1]} (the neighbors given), got {k}")
    return float(np.mean((nl[:, :k] == ql[:, None]).any(axis=1)))


def map_at_r(neighbor_labels: ArrayLike, query_labels: ArrayLike, n_relevant: ArrayLike) -> float:
    """Mean average precision at R (Musgrave, Belongie and Lim 2020).

    For a query with ``R`` relevant references, ``AP@R = (1/R) * sum_{i<=R} P(i) * rel(i)`` where
    ``P(i)`` is the precision of the first ``i`` neighbors and ``rel(i)`` is 1 when neighbor ``i``
    is relevant. Queries with ``R = 0`` are skipped.

    Parameters
    ----------
    neighbor_labels : array-like, shape (n, k)
        With ``k >= max(R)``.
    query_labels : array-like, shape (n,)
    n_relevant : array-like of int, shape (n,)
        ``R`` per query (see :func:`relevant_counts`).

    Returns
    -------
    float
        MAP@R in ``[0, 1]``.
    """
    nl, ql = _check_neighbors(neighbor_labels, query_labels)
    r = np.asarray(n_relevant, dtype=np.int64)
    if r.shape != ql.shape:
        raise ValueError(f"n_relevant must have shape {ql.shape}, got {r.shape}")
    used = r > 0
    if not used.any():
        raise ValueError("no query has a relevant reference (all R are 0)")
    if int(r.max()) > nl.shape[1]:
        raise ValueError(
            f"need at least max(R)={int(r.max())} neighbors per query, got {nl.shape[1]}"
        )
    rel = (nl == ql[:, None]).astype(np.float64)
    positions = np.arange(1, nl.shape[1] + 1)
    within = positions[None, :] <= r[:, None]
    rel = rel * within
    precision = np.cumsum(rel, axis=1) / positions[None, :]
    ap = (precision * rel).sum(axis=1)[used] / r[used]
    return float(np.mean(ap))


def one_nn_error(neighbor_labels: ArrayLike, query_labels: ArrayLike) -> float:
    """Error rate of the 1-nearest-neighbor classifier: share of queries with a wrong nearest label.

    Parameters
    ----------
    neighbor_labels : array-like, shape (n, >= 1)
    query_labels : array-like, shape (n,)

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    nl, ql = _check_neighbors(neighbor_labels, query_labels)
    return float(np.mean(nl[:, 0] != ql))


def knn_vote(
    neighbor_ids: ArrayLike, reference_labels: ArrayLike
) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """Majority vote of the k nearest neighbors; a tie goes to the nearest tied neighbor's label.

    Parameters
    ----------
    neighbor_ids : array-like of int, shape (n, k)
        Row numbers into ``reference_labels``, nearest first, as returned by ``Index.search`` when
        the ids are the reference row numbers. ``-1`` marks "no neighbor" and does not vote.
    reference_labels : array-like, shape (m,)
        Labels of the reference (training) items.

    Returns
    -------
    predictions : ndarray, shape (n,)
        The predicted label per query, same dtype as ``reference_labels``; arbitrary where
        ``valid`` is False.
    valid : ndarray of bool, shape (n,)
        False for queries without any neighbor (count them as errors).

    Raises
    ------
    ValueError
        If ``neighbor_ids`` is not 2-D or holds an id ``>= m``.
    """
    ids = np.asarray(neighbor_ids, dtype=np.int64)
    labels = np.asarray(reference_labels)
    if ids.ndim != 2:
        raise ValueError(f"neighbor_ids must be 2-D (n, k), got {ids.ndim} dimensions")
    if ids.size and int(ids.max()) >= labels.shape[0]:
        raise ValueError(
            f"neighbor id {int(ids.max())} is out of range for {labels.shape[0]} training labels"
        )
    n = ids.shape[0]
    valid: NDArray[np.bool_] = np.asarray((ids >= 0).any(axis=1), dtype=bool)
    predictions = np.empty(n, dtype=labels.dtype)
    if labels.shape[0] == 0:
        return predictions, valid
    if ids.shape[1] == 1:
        first = ids[:, 0]
        predictions[:] = labels[np.where(first >= 0, first, 0)]
        return predictions, valid
    for row in range(n):
        votes: dict[Any, int] = {}
        nearest: dict[Any, int] = {}
        for rank, neighbor in enumerate(ids[row].tolist()):
            if neighbor < 0:
                continue
            label = labels[neighbor].item()
            votes[label] = votes.get(label, 0) + 1
            nearest.setdefault(label, rank)
        if votes:
            predictions[row] = max(votes, key=lambda label: (votes[label], -nearest[label]))
        else:
            predictions[row] = labels[0]
    return predictions, valid


def knn_error(
    neighbor_ids: ArrayLike, reference_labels: ArrayLike, query_labels: ArrayLike
) -> float:
    """Error rate of k-NN classification by :func:`knn_vote`: the share of queries misclassified.

    With ``k = 1`` this is the 1-NN error the UCR archive publishes (ties between equally near
    references go to the lower id, which exact search returns first). A query without any
    neighbor (a row of ``-1``) counts as an error. Labels compare as text when the two label
    arrays have different kinds (integers in one, strings in the other).

    Parameters
    ----------
    neighbor_ids : array-like of int, shape (n, k)
        Row numbers into ``reference_labels``, nearest first; ``-1`` = no neighbor.
    reference_labels : array-like, shape (m,)
    query_labels : array-like, shape (n,)
        The true label of each query.

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If there are no queries, or the shapes disagree (see :func:`knn_vote`).
    """
    predictions, valid = knn_vote(neighbor_ids, reference_labels)
    truth = np.asarray(query_labels)
    if truth.shape != predictions.shape:
        raise ValueError(
            f"query_labels must have shape ({predictions.shape[0]},), got {truth.shape}"
        )
    if truth.size == 0:
        raise ValueError("need at least one query")
    return float(np.mean(~valid | ~_same_labels(predictions, truth)))


def _same_labels(a: NDArray[Any], b: NDArray[Any]) -> NDArray[np.bool_]:
    if a.dtype.kind != b.dtype.kind:  # e.g. int labels in one split, text in the other
        return np.asarray(a.astype(str) == b.astype(str))
    return np.asarray(a == b)


class VerificationResult(NamedTuple):
    """Best verification accuracy over thresholds and the threshold achieving it.

    ``threshold`` is in L2 units: a pair is declared "same identity" iff its distance is ``<=
    threshold``.
    """

    accuracy: float
    threshold: float


def verification_accuracy(
    distances: ArrayLike, same: ArrayLike, *, balanced: bool = False
) -> VerificationResult:
    """Accuracy of "same iff distance <= t" at the best threshold ``t``.

    Every cut between consecutive distinct distances is tried (plus accepting none and all); the
    returned threshold is the midpoint of the best cut's gap (the smallest such cut on ties).

    Parameters
    ----------
    distances : array-like of float, shape (p,)
        Distance of each pair.
    same : array-like of bool, shape (p,)
        Whether the pair shows the same identity.
    balanced : bool, default False
        Score ``(true positive rate + true negative rate) / 2`` instead of the fraction of pairs
        classified correctly. With all pairs of a labelled set, different-identity pairs outnumber
        same-identity pairs many times, and plain accuracy is then mostly the negative rate; the
        balanced score weighs both kinds equally, like the 50/50 pair lists of LFW.

    Returns
    -------
    VerificationResult
        ``accuracy`` in ``[0, 1]`` and ``threshold``.
    """
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    if d.ndim != 1 or s.shape != d.shape or d.size == 0:
        raise ValueError(
            f"distances and same must be equal non-empty 1-D arrays, got {d.shape} and {s.shape}"
        )
    if not np.all(np.isfinite(d)):
        raise ValueError("distances contains NaN or inf")
    order = np.argsort(d, kind="stable")
    d, s = d[order], s[order]
    n_same = int(s.sum())
    n_diff = d.size - n_same
    if balanced and (n_same == 0 or n_diff == 0):
        raise ValueError("balanced accuracy needs both same-identity and different-identity pairs")
    # accepting the first i pairs (i = 0..p): correct = same among them + different among the rest
    tp = np.concatenate([[0], np.cumsum(s)])
    fp = np.concatenate([[0], np.cumsum(~s)])
    if balanced:
        correct = 0.5 * (tp / n_same + (n_diff - fp) / n_diff)
    else:
        correct = (tp + (n_diff - fp)) / d.size
    # only cuts between distinct values are realisable
    valid = np.ones(d.size + 1, dtype=bool)
    valid[1:-1] = d[1:] > d[:-1]
    correct = np.where(valid, correct, -1)
    best = int(np.argmax(correct))
    if best == 0:
        threshold = d[0] - 1.0
    elif best == d.size:
        threshold = d[-1]
    else:
        threshold = 0.5 * (d[best - 1] + d[best])
    return VerificationResult(float(correct[best]), float(threshold))


def pair_distances(
    embeddings: ArrayLike, labels: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """L2 distance and same-label flag of every unordered pair ``i < j``.

    Parameters
    ----------
    embeddings : array-like, shape (n, dim)
    labels : array-like, shape (n,)

    Returns
    -------
    distances : ndarray of float64, shape (n * (n - 1) / 2,)
    same : ndarray of bool, same shape
    """
    x = _as_matrix(embeddings, "embeddings")
    lab = np.asarray(labels)
    if lab.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {lab.shape}")
    i, j = np.triu_indices(x.shape[0], k=1)
    sq = (x * x).sum(axis=1)
    gram = sq[:, None] + sq[None, :] - 2.0 * x @ x.T
    return np.sqrt(np.maximum(gram[i, j], 0.0)), lab[i] == lab[j]


def retrieval_metrics(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    ks: tuple[int, ...] = (1, 5),
    neighbor_ids: ArrayLike | None = None,
) -> dict[str, float]:
    """Leave-one-out retrieval and verification metrics of a labelled set of embeddings.

    Every item queries all the others.

    Parameters
    ----------
    embeddings : array-like, shape (n, dim)
    labels : array-like, shape (n,)
    ks : tuple of int, default (1, 5)
        The ``k`` of each reported Recall@k, each between 1 and ``n - 1``.
    neighbor_ids : array-like of int, shape (n, k'), optional
        Neighbors found elsewhere (e.g. by a :class:`pyembed.Index`), row numbers into
        ``embeddings``, self already removed, ``k' >= max(max(ks), max R)``. Default: exact search.

    Returns
    -------
    dict
        ``recall@k`` for each ``k``, ``map@r``, ``one_nn_error``, and the *balanced* verification
        accuracy over all pairs at its best threshold, ``verification_accuracy``, with that
        ``verification_threshold`` (L2 units); see :func:`verification_accuracy`.
    """
    x = _as_matrix(embeddings, "embeddings")
    lab = np.asarray(labels)
    if lab.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {lab.shape}")
    if not ks or min(ks) < 1 or max(ks) > x.shape[0] - 1:
        raise ValueError(f"every k in ks must be between 1 and n - 1 = {x.shape[0] - 1}, got {ks}")
    r = relevant_counts(lab, lab, exclude_self=True)
    depth = max(max(ks), int(r.max()))
    if neighbor_ids is None:
        neighbor_ids, _ = knn_brute_force(x, x, min(depth, x.shape[0] - 1), exclude_self=True)
    ids = np.asarray(neighbor_ids, dtype=np.int64)
    if ids.ndim != 2 or ids.shape[0] != x.shape[0] or ids.shape[1] < depth:
        raise ValueError(
            f"neighbor_ids must have shape ({x.shape[0]}, >= {depth}), got {ids.shape}"
        )
    neighbor_labels = labels_of(ids, lab)
    out = {f"recall@{k}": recall_at_k(neighbor_labels, lab, k) for k in ks}
    out["map@r"] = map_at_r(neighbor_labels, lab, r)
    out["one_nn_error"] = one_nn_error(neighbor_labels, lab)
    verification = verification_accuracy(*pair_distances(x, lab), balanced=True)
    out["verification_accuracy"] = verification.accuracy
    out["verification_threshold"] = verification.threshold
    return out


# --------------------------------------------------------------------------------------------------
# Speed tables: queries/second at a target recall, from a sweep of search efforts


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (recall, speed) points not beaten on both recall and speed, by increasing recall.

    A point is dropped when another point has at least its recall and a higher speed (a noisy
    round at a higher effort can be slower yet no more accurate).

    Parameters
    ----------
    points : sequence of (float, float)
        ``(recall, queries_per_second)`` pairs; recall in ``[0, 1]``, speed in queries/second.

    Returns
    -------
    list of (float, float)
        The front, recall increasing and speed decreasing.
    """
    front: list[tuple[float, float]] = []
    for recall, speed in sorted(points, reverse=True):
        if not front or speed > front[-1][1]:
            front.append((recall, speed))
    front.reverse()
    return front


def qps_at_recall(sweep: Sequence[Mapping[str, Any]], target: float, key: str) -> float | None:
    """Queries/second of the fastest sweep point whose recall reaches ``target`` (a step).

    A library whose sweep point lands just above the target gets credit that a coarser sweep
    does not; :func:`qps_interpolated` is the even-handed figure.

    Parameters
    ----------
    sweep : sequence of mapping
        One mapping per search effort, with ``"recall"`` (in ``[0, 1]``) and ``key``.
    target : float
        Recall to reach, in ``[0, 1]``.
    key : str
        The speed field of each point, in queries/second.

    Returns
    -------
    float or None
        Queries/second; None when no point reaches ``target``.
    """
    reached = [point[key] for point in sweep if point["recall"] >= target]
    return max(reached) if reached else None


def qps_interpolated(sweep: Sequence[Mapping[str, Any]], target: float, key: str) -> float | None:
    """Queries/second at exactly recall ``target``, interpolated on the sweep's Pareto front.

    ``log(queries/second)`` is interpolated linearly in recall between the two points of
    :func:`pareto_front` that bracket ``target``.

    Parameters
    ----------
    sweep : sequence of mapping
        One mapping per search effort, with ``"recall"`` (in ``[0, 1]``) and ``key``.
    target : float
        Recall, in ``[0, 1]``.
    key : str
        The speed field of each point, in queries/second.

    Returns
    -------
    float or None
        Queries/second; None when the front does not bracket ``target`` (every point below it,
        or every point above it; a point exactly at ``target`` counts).
    """
    front = pareto_front([(point["recall"], point[key]) for point in sweep])
    for (r0, q0), (r1, q1) in zip(front[:-1], front[1:], strict=True):
        if r0 <= target <= r1:
            if r1 == r0:
                return float(max(q0, q1))
            f = (target - r0) / (r1 - r0)
            return float(np.exp(np.log(q0) + f * (np.log(q1) - np.log(q0))))
    if front and front[0][0] == target:
        return float(front[0][1])
    return None


# --------------------------------------------------------------------------------------------------
# Presentation attack detection (ISO/IEC 30107-3): scores are "higher = more likely an attack"


def _check_pad(
    scores: ArrayLike, is_attack: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Scores as finite float64 and labels as bool, both 1-D of one length, with both classes."""
    s = _as_real(scores, "scores", 1, "(n,)")
    y = np.asarray(is_attack)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"is_attack must be bool or 0/1 numbers, got dtype {y.dtype}")
    if y.shape != s.shape:
        raise ValueError(f"is_attack must have the shape of scores {s.shape}, got {y.shape}")
    if y.dtype.kind != "b":
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("is_attack must hold only 0/1 (or True/False)")
        y = y == 1
    n_attack = int(y.sum())
    if n_attack == 0 or n_attack == y.size:
        raise ValueError(
            f"need both attack and live samples, got {n_attack} attack and {y.size - n_attack} live"
        )
    return s, np.asarray(y, dtype=bool)


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if np.isnan(t):
        raise ValueError("threshold is NaN")
    return t


def roc_auc(scores: ArrayLike, is_attack: ArrayLike) -> float:
    """Area under the ROC curve of attack scores: ``P(s_attack > s_live) + P(s_attack = s_live) / 2``.

    Computed as the Mann-Whitney U statistic with average ranks for ties, ``(R_attack - n_a (n_a +
    1) / 2) / (n_a n_l)`` where ``R_attack`` is the rank sum of the attack scores, in
    ``O(n log n)``. 1 means every attack scores above every live sample, 0.5 is chance (or all
    scores equal), and negating the scores gives ``1 - AUC``.

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        Attack score per sample, higher = more likely an attack.
    is_attack : array-like of bool or 0/1, shape (n,)
        True for attack (spoof) presentations, False for live (bona fide) ones.

    Returns
    -------
    float
        AUC in ``[0, 1]``.

    Raises
    ------
    TypeError
        If ``scores`` is not real numbers or ``is_attack`` not bool / numbers.
    ValueError
        If the arrays are not 1-D of one length, ``scores`` holds NaN or inf, ``is_attack`` holds
        a value other than 0/1, or either class is empty.
    """
    s, y = _check_pad(scores, is_attack)
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # average rank (1-based) of each distinct value: the middle of its run in the sorted order
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0
    ranks = average_rank[inverse.reshape(-1)]
    n_attack = int(y.sum())
    n_live = y.size - n_attack
    u = float(ranks[y].sum()) - n_attack * (n_attack + 1) / 2.0
    return u / (n_attack * n_live)


def _error_curve(
    s: NDArray[np.float64], y: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """APCER and BPCER at every candidate threshold: the distinct scores (increasing), then +inf."""
    values, inverse = np.unique(s, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_values = values.size
    attacks_at = np.bincount(inverse[y], minlength=n_values)
    live_at = np.bincount(inverse[~y], minlength=n_values)
    n_attack = int(y.sum())
    n_live = y.size - n_attack
    # at threshold values[j]: attacks accepted = attack scores < values[j] (those at values[:j])
    apcer = np.concatenate([[0], np.cumsum(attacks_at)]) / n_attack
    # live rejected = live scores >= values[j] (those at values[j:])
    bpcer = np.concatenate([np.cumsum(live_at[::-1])[::-1], [0]]) / n_live
    thresholds = np.concatenate([values, [np.inf]])
    return thresholds, apcer, bpcer


def pad_errors(scores: ArrayLike, is_attack: ArrayLike, threshold: float) -> tuple[float, float]:
    """APCER and BPCER at a decision threshold (a sample is an attack when ``score >= threshold``).

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        Attack score per sample, higher = more likely an attack.
    is_attack : array-like of bool or 0/1, shape (n,)
        True for attack presentations, False for live (bona fide) ones.
    threshold : float
        Decision threshold in score units; ``+inf`` accepts every sample as bona fide.

    Returns
    -------
    apcer : float
        Attack presentation classification error rate: the share of attacks with ``score <
        threshold`` (accepted as bona fide), in ``[0, 1]``. All attack types are pooled; see
        :func:`pad_report` for the per-type maximum of ISO/IEC 30107-3.
    bpcer : float
        Bona fide presentation classification error rate: the share of live samples with
        ``score >= threshold`` (rejected as attacks), in ``[0, 1]``.

    Raises
    ------
    TypeError, ValueError
        As :func:`roc_auc`; ValueError also if ``threshold`` is NaN.
    """
    s, y = _check_pad(scores, is_attack)
    t = _check_threshold(threshold)
    return float(np.mean(s[y] < t)), float(np.mean(s[~y] >= t))


def equal_error_rate(
    scores: ArrayLike, is_attack: ArrayLike, *, interpolate: bool = True
) -> tuple[float, float]:
    """Equal error rate (APCER = BPCER) and the threshold that comes closest to it.

    The candidate thresholds are the distinct scores plus ``+inf`` (every other threshold gives
    the errors of one of them). Raising the threshold from one candidate to the next strictly
    increases ``APCER - BPCER``, from -1 at the lowest score to +1 at ``+inf``, so the sign
    changes exactly once: between the last candidate ``t0`` with ``APCER <= BPCER`` and the next
    one ``t1``.

    - ``threshold`` is whichever of ``t0``, ``t1`` has the smaller ``|APCER - BPCER|`` (``t0`` on a
      tie); ``pad_errors(scores, is_attack, threshold)`` gives its error rates.
    - With ``interpolate=True`` (the default) the EER is where the straight segment between the
      operating points ``(APCER, BPCER)`` of ``t0`` and ``t1`` crosses ``APCER = BPCER``: with
      ``d0 = BPCER(t0) - APCER(t0) >= 0`` and ``d1 = APCER(t1) - BPCER(t1) > 0``, ``w = d0 / (d0 +
      d1)`` and ``EER = (1 - w) APCER(t0) + w APCER(t1)``. That is the error of the randomised
      rule "use ``t1`` with probability ``w``, else ``t0``", so it is attainable, does not depend
      on the tie-break, and equals ``APCER(t0)`` when the two rates meet exactly at ``t0``.
    - With ``interpolate=False`` the EER is ``(APCER + BPCER) / 2`` at ``threshold`` (the common
      discrete convention; it can differ from the interpolated value by up to half a step).

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        Attack score per sample, higher = more likely an attack.
    is_attack : array-like of bool or 0/1, shape (n,)
        True for attack presentations, False for live (bona fide) ones.
    interpolate : bool, default True
        Interpolate between the two candidates bracketing the crossing (see above).

    Returns
    -------
    eer : float
        In ``[0, 1]``.
    threshold : float
        One of the scores (score units), never ``+inf``: ``|APCER - BPCER|`` is 1 there and
        smaller, or equal with ``t0`` winning the tie, at the highest score.

    Raises
    ------
    TypeError, ValueError
        As :func:`roc_auc`.
    """
    s, y = _check_pad(scores, is_attack)
    thresholds, apcer, bpcer = _error_curve(s, y)
    gap = apcer - bpcer
    low = int(np.flatnonzero(gap <= 0)[-1])  # exists: gap is -1 at the lowest score
    high = low + 1  # exists: gap is +1 at +inf
    best = low if abs(gap[low]) <= abs(gap[high]) else high
    if not interpolate:
        return float((apcer[best] + bpcer[best]) / 2.0), float(thresholds[best])
    d0 = -gap[low]
    d1 = gap[high]
    w = d0 / (d0 + d1)
    eer = (1.0 - w) * apcer[low] + w * apcer[high]
    return float(eer), float(thresholds[best])


def validation_threshold(scores: ArrayLike, is_attack: ArrayLike) -> float:
    """The a-priori decision threshold, fixed on validation data before the test set is seen.

    It is the threshold of :func:`equal_error_rate` on the validation scores: the validation
    score at which ``|APCER - BPCER|`` is smallest (the lower one on a tie). Apply it unchanged to
    the test scores with :func:`pad_report`; choosing the threshold at each test fold's own EER
    would flatter APCER and BPCER.

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        Attack scores of the validation samples, higher = more likely an attack.
    is_attack : array-like of bool or 0/1, shape (n,)
        True for attack presentations, False for live ones.

    Returns
    -------
    float
        Threshold in score units (a sample is an attack when ``score >= threshold``).

    Raises
    ------
    TypeError, ValueError
        As :func:`roc_auc`.
    """
    return equal_error_rate(scores, is_attack)[1]


class PADReport(NamedTuple):
    """Presentation attack detection metrics of one test set (all rates are fractions in [0, 1]).

    ``auc`` and ``eer`` do not depend on a threshold (see :func:`roc_auc` and
    :func:`equal_error_rate`, interpolated); ``apcer``, ``bpcer`` and ``acer`` are at
    ``threshold`` (score units). ``apcer`` is the maximum of ``apcer_per_type`` over attack
    types and ``acer = (apcer + bpcer) / 2``.
    """

    auc: float
    eer: float
    apcer: float
    bpcer: float
    acer: float
    threshold: float
    apcer_per_type: dict[str, float]


def pad_report(
    scores: ArrayLike,
    is_attack: ArrayLike,
    threshold: float,
    attack_types: ArrayLike | None = None,
) -> PADReport:
    """AUC and EER, and APCER / BPCER / ACER at an a-priori threshold (ISO/IEC 30107-3).

    APCER is computed per attack type (the share of that type's attacks with ``score <
    threshold``) and the reported ``apcer`` is the maximum over types, as the standard asks; with
    one type it is that type's. BPCER is the share of live samples with ``score >= threshold``;
    ACER is ``(APCER + BPCER) / 2`` (what papers report, though the standard does not define it).

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        Attack score per sample, higher = more likely an attack.
    is_attack : array-like of bool or 0/1, shape (n,)
        True for attack presentations, False for live ones.
    threshold : float
        Decision threshold in score units, fixed beforehand (e.g. by
        :func:`validation_threshold` on validation data).
    attack_types : array-like, shape (n,), optional
        Attack type of each sample (names or codes, keyed by ``str``); the entries of live samples
        are ignored. None: every attack is of one type, named ``"attack"``.

    Returns
    -------
    PADReport
        ``apcer_per_type`` maps each attack type present (sorted by name) to its APCER.

    Raises
    ------
    TypeError, ValueError
        As :func:`roc_auc`; ValueError also if ``threshold`` is NaN or ``attack_types`` does not
        have shape ``(n,)``.
    """
    s, y = _check_pad(scores, is_attack)
    t = _check_threshold(threshold)
    if attack_types is None:
        names = np.full(s.shape, "attack", dtype=object)
    else:
        names = np.asarray(attack_types)
        if names.shape != s.shape:
            raise ValueError(
                f"attack_types must have the shape of scores {s.shape}, got {names.shape}"
            )
    attack_names = [str(v) for v in names[y].tolist()]
    accepted = (s[y] < t).tolist()
    n_of: dict[str, int] = {}
    accepted_of: dict[str, int] = {}
    for name, hit in zip(attack_names, accepted, strict=True):
        n_of[name] = n_of.get(name, 0) + 1
        accepted_of[name] = accepted_of.get(name, 0) + int(hit)
    per_type = {name: accepted_of[name] / n_of[name] for name in sorted(n_of)}
    apcer = max(per_type.values())
    bpcer = float(np.mean(s[~y] >= t))
    eer, _ = equal_error_rate(s, y)
    return PADReport(
        auc=roc_auc(s, y),
        eer=eer,
        apcer=apcer,
        bpcer=bpcer,
        acer=(apcer + bpcer) / 2.0,
        threshold=t,
        apcer_per_type=per_type,
    )
