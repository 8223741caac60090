"""Retrieval and verification metrics on hand-computed cases and against naive loops."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pyembed.metrics import (
    drop_self,
    knn_brute_force,
    knn_error,
    knn_vote,
    leave_one_out_neighbors,
    map_at_r,
    one_nn_error,
    pair_distances,
    recall_at_k,
    relevant_counts,
    retrieval_metrics,
    verification_accuracy,
)


def test_recall_at_k_hand_values():
    neighbors = np.array([[1, 0, 0], [0, 0, 1], [2, 2, 2]])
    queries = np.array([0, 1, 1])
    assert recall_at_k(neighbors, queries, 1) == pytest.approx(0.0)
    assert recall_at_k(neighbors, queries, 2) == pytest.approx(1 / 3)
    assert recall_at_k(neighbors, queries, 3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="k must be between 1 and 3"):
        recall_at_k(neighbors, queries, 4)


def test_map_at_r_hand_values():
    # R = 3, relevant at ranks 1 and 3: (1/1 + 2/3) / 3; rank-4 hit is beyond R and ignored
    neighbors = np.array([[5, 9, 5, 5], [9, 5, 5, 9]])
    queries = np.array([5, 5])
    r = np.array([3, 2])
    first = (1 + 2 / 3) / 3
    second = (1 / 2) / 2  # R = 2, one hit at rank 2
    assert map_at_r(neighbors, queries, r) == pytest.approx((first + second) / 2)


def test_map_at_r_skips_queries_without_relevant_items_and_checks_depth():
    neighbors = np.array([[1, 1], [0, 0]])
    assert map_at_r(neighbors, np.array([1, 2]), np.array([2, 0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="max"):
        map_at_r(neighbors, np.array([1, 2]), np.array([3, 0]))
    with pytest.raises(ValueError, match="all R are 0"):
        map_at_r(neighbors, np.array([1, 2]), np.array([0, 0]))


def test_one_nn_error():
    assert one_nn_error(np.array([[1], [2], [3], [3]]), np.array([1, 2, 2, 3])) == pytest.approx(
        0.25
    )


def test_verification_accuracy_best_threshold_and_ties():
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    same = np.array([True, True, False, True, False])
    result = verification_accuracy(d, same)
    assert result.accuracy == pytest.approx(0.8)
    assert result.threshold == pytest.approx(0.25)  # first best cut, midpoint of 0.2 and 0.3
    # tied distances cannot be split: both pairs at 0.2 go together
    tied = verification_accuracy(np.array([0.1, 0.2, 0.2]), np.array([True, True, False]))
    assert tied.accuracy == pytest.approx(2 / 3)


def test_verification_accuracy_balanced_and_extremes():
    d = np.array([0.1, 0.2, 0.3, 0.4])
    same = np.array([True, False, False, False])
    assert verification_accuracy(d, same, balanced=True) == (
        pytest.approx(1.0),
        pytest.approx(0.15),
    )
    everything = verification_accuracy(np.array([0.1, 0.2]), np.array([True, True]))
    assert everything.accuracy == 1.0 and everything.threshold == pytest.approx(0.2)
    nothing = verification_accuracy(np.array([0.1, 0.2]), np.array([False, False]))
    assert nothing.accuracy == 1.0 and nothing.threshold < 0.1
    with pytest.raises(ValueError, match="both"):
        verification_accuracy(np.array([0.1]), np.array([True]), balanced=True)


def test_knn_brute_force_matches_naive_loops():
    rng = np.random.default_rng(0)
    refs = rng.normal(size=(30, 4))
    queries = rng.normal(size=(7, 4))
    ids, dists = knn_brute_force(queries, refs, 5, chunk_size=3)
    for q in range(7):
        naive = sorted((math.dist(queries[q], refs[i]), i) for i in range(30))[:5]
        assert ids[q].tolist() == [i for _, i in naive]
        assert np.allclose(dists[q], [d for d, _ in naive], atol=1e-5)
    assert ids.dtype == np.int64 and dists.dtype == np.float32


def test_knn_brute_force_exclude_self_and_ties():
    points = np.array([[0.0], [0.0], [1.0]])
    ids, dists = knn_brute_force(points, points, 2, exclude_self=True)
    assert ids.tolist() == [[1, 2], [0, 2], [0, 1]]
    assert dists[0, 0] == 0.0
    with pytest.raises(ValueError, match="k must be between 1 and 2"):
        knn_brute_force(points, points, 3, exclude_self=True)
    with pytest.raises(ValueError, match="NaN"):
        knn_brute_force(np.array([[np.nan]]), points, 1)


def test_drop_self():
    ids = np.array([[3, 0, 1], [2, 1, 0], [1, 2, 0]])
    assert drop_self(ids, np.array([0, 5, 1])).tolist() == [[3, 1], [2, 1], [2, 0]]


def test_relevant_counts():
    assert relevant_counts([1, 2, 7], [1, 1, 2, 3]).tolist() == [2, 1, 0]
    assert relevant_counts([1, 1, 2], [1, 1, 2], exclude_self=True).tolist() == [1, 1, 0]


def test_pair_distances_enumerates_unordered_pairs():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    d, same = pair_distances(x, [0, 0, 1])
    assert np.allclose(d, [5.0, 1.0, math.sqrt(9 + 9)])
    assert same.tolist() == [True, False, False]


def test_retrieval_metrics_perfect_and_random_clusters():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(5), 4)
    tight = np.eye(5)[labels] * 10 + rng.normal(scale=0.01, size=(20, 5))
    perfect = retrieval_metrics(tight, labels)
    assert perfect["recall@1"] == 1.0 and perfect["map@r"] == pytest.approx(1.0)
    assert perfect["one_nn_error"] == 0.0 and perfect["verification_accuracy"] == 1.0
    noise = retrieval_metrics(rng.normal(size=(20, 5)), labels)
    assert noise["map@r"] < 0.6


def test_retrieval_metrics_with_given_neighbors_matches_brute_force():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 3))
    labels = np.arange(12) % 3
    ids, _ = knn_brute_force(x, x, 6, exclude_self=True)
    assert retrieval_metrics(x, labels, neighbor_ids=ids) == retrieval_metrics(x, labels)
    with pytest.raises(ValueError, match="neighbor_ids must have shape"):
        retrieval_metrics(x, labels, neighbor_ids=ids[:, :2])


def test_verification_matches_exhaustive_threshold_search():
    rng = np.random.default_rng(3)
    d = rng.random(40).round(1)
    same = rng.random(40) < 0.4
    best = max(np.mean((d <= t) == same) for t in itertools.chain([-1.0], np.unique(d)))
    assert verification_accuracy(d, same).accuracy == pytest.approx(best)


# --------------------------------------------------------------------------------------------------
# k-NN classification


def test_knn_vote_majority_and_ties():
    labels = np.array([1, 2, 2, 3, 1])
    ids = np.array(
        [
            [0, 1, 2],  # 1, 2, 2 -> 2 by majority
            [3, 0, 1],  # 3, 1, 2 -> three-way tie -> nearest (3)
            [1, 0, 4],  # 2, 1, 1 -> 1 by majority
            [0, 1, -1],  # 1, 2, padding -> tie -> nearest (1)
            [-1, -1, -1],  # nothing found
        ]
    )
    predictions, valid = knn_vote(ids, labels)
    assert valid.tolist() == [True, True, True, True, False]
    assert predictions[:4].tolist() == [2, 3, 1, 1]


def test_knn_vote_one_neighbor_and_text_labels():
    labels = np.array(["a", "b", "c"])
    predictions, valid = knn_vote(np.array([[2], [0], [-1]]), labels)
    assert valid.tolist() == [True, True, False]
    assert predictions[:2].tolist() == ["c", "a"]


def test_knn_vote_rejects_bad_ids():
    with pytest.raises(ValueError, match="out of range"):
        knn_vote(np.array([[5]]), np.array([1, 2]))
    with pytest.raises(ValueError, match="2-D"):
        knn_vote(np.array([0, 1]), np.array([1, 2]))


def test_knn_error_counts_missing_neighbors_as_wrong():
    train = np.array([1, 2, 2, 3])
    ids = np.array([[0, 1, 2], [3, 3, 0], [-1, -1, -1], [1, 2, 0]])
    # votes: 2, 3, none, 2 against truth 2, 3, 3, 1: two errors of four (one of them: no neighbor)
    assert knn_error(ids, train, np.array([2, 3, 3, 1])) == pytest.approx(0.5)
    # k = 1 is the 1-NN error of the first column
    first = ids[[0, 1, 3], :1]
    assert knn_error(first, train, np.array([1, 3, 1])) == one_nn_error(
        train[first], np.array([1, 3, 1])
    )


def test_knn_error_compares_int_and_text_labels_as_text():
    assert knn_error(np.array([[0], [1]]), np.array([1, 2]), np.array(["1", "1"])) == 0.5


def test_knn_error_rejects_bad_shapes():
    with pytest.raises(ValueError, match="query_labels must have shape"):
        knn_error(np.array([[0], [1]]), np.array([1, 2]), np.array([1]))
    with pytest.raises(ValueError, match="at least one query"):
        knn_error(np.empty((0, 1), np.int64), np.array([1, 2]), np.array([]))


# --------------------------------------------------------------------------------------------------
# Leave-one-out neighbors through an Index


def test_leave_one_out_neighbors_match_brute_force():
    pytest.importorskip("pyembed._nswg")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    expected, _ = knn_brute_force(x, x, 5, exclude_self=True)
    got = leave_one_out_neighbors(x, 5)
    assert got.dtype == np.int64 and got.shape == (40, 5)
    np.testing.assert_array_equal(got, expected)
    for graph in ("hnsw", "nsw"):
        walked = leave_one_out_neighbors(x, 5, exact=False, ef=64, graph=graph, n_threads=1)
        assert not (walked == np.arange(40)[:, None]).any()  # never the row itself
        recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(walked, expected, strict=True)])
        assert recall >= 0.95, f"{graph}: leave-one-out recall@5 {recall:.3f} against exact"


def test_leave_one_out_neighbors_rejects_bad_depth():
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="depth must be between 1 and n - 1 = 2"):
        leave_one_out_neighbors(x, 3)
    with pytest.raises(ValueError, match="2-D"):
        leave_one_out_neighbors(np.zeros(3), 1)


def test_labels_of_counts_a_missing_neighbor_as_a_miss():
    from pyembed.metrics import labels_of, one_nn_error

    labels = np.array(["a", "b", "c"])
    ids = np.array([[2, 0], [-1, -1], [1, -1]])
    got = labels_of(ids, labels)
    assert got.tolist() == [["c", "a"], [None, None], ["b", None]]
    # Indexing labels[-1] would have given "c", a hit for the second query.
    assert one_nn_error(got, np.array(["c", "c", "b"])) == pytest.approx(1 / 3)
