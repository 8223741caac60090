"""Multichannel and variable-length series in :class:`pyembed.Index`: exact and graph search
against a naive numpy DTW, the shapes taken and returned, persistence, and errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pyembed import Index


def _dtw_sq(a: np.ndarray, b: np.ndarray, mask: np.ndarray, independent: bool) -> float:
    """Naive DTW in float64 of (channels, n) and (channels, m) series over an allowed-cell mask."""
    if independent:
        return sum(_dtw_sq(a[c : c + 1], b[c : c + 1], mask, False) for c in range(len(a)))
    n, m = a.shape[1], b.shape[1]
    cost = ((a[:, :, None].astype(np.float64) - b[:, None, :]) ** 2).sum(axis=0)
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(n):
        for j in range(m):
            if mask[i, j]:
                d[i + 1, j + 1] = cost[i, j] + min(d[i, j], d[i, j + 1], d[i + 1, j])
    return float(d[n, m])


def _mask(n: int, m: int, band: int) -> np.ndarray:
    """Allowed cells: ``|i - j| <= band`` for equal lengths, else aeon's sloped window
    (``create_bounding_matrix``, transcribed), ``band`` its thickness."""
    if n == m:
        i, j = np.indices((n, m))
        return np.abs(i - j) <= band
    if band >= max(n, m):
        return np.ones((n, m), bool)
    if n > m:
        return _mask(m, n, band).T
    mat = np.zeros((n, m), bool)
    size = max(n, m) + 1
    for step in range(size):
        x = int((step / size) * n)
        y = int((step / size) * m)
        mat[max(0, x - band) : min(n, x + band + 1), y] = True
    return mat


def _walks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(size=shape).cumsum(axis=-1).astype(np.float32)


@pytest.mark.parametrize("dependence", ["dependent", "independent"])
def test_multichannel_search_equals_naive_dtw(dependence):
    rng = np.random.default_rng(0)
    X, Q = _walks(rng, (60, 3, 16)), _walks(rng, (5, 3, 16))
    index = Index(16, "dtw", band=2, channels=3, dependence=dependence)
    index.add(X)
    assert (index.dim, index.channels, index.dependence) == (16, 3, dependence)
    mask = _mask(16, 16, 2)
    for k in (1, 4):
        exact = index.search(Q, k, exact=True)
        graph = index.search(Q, k, ef=60)
        np.testing.assert_array_equal(graph.ids, exact.ids)
        for q, ids, dists in zip(Q, exact.ids, exact.distances, strict=True):
            want = np.array([_dtw_sq(q, x, mask, dependence == "independent") for x in X])
            order = np.lexsort((np.arange(len(X)), want))[:k]
            np.testing.assert_array_equal(ids, order)
            np.testing.assert_allclose(dists**2, want[order], rtol=1e-4)
    assert exact.lb_pruned.sum() + exact.abandoned.sum() > 0
    np.testing.assert_array_equal(index.get_vectors([3, 0]), X[[3, 0]])
    one = index.search(Q[0], 2, exact=True)  # one (channels, length) series
    np.testing.assert_array_equal(one.ids, exact.ids[:1, :2])


def test_euclidean_over_channels_is_the_flat_distance():
    rng = np.random.default_rng(1)
    X, Q = _walks(rng, (40, 2, 10)), _walks(rng, (3, 2, 10))
    index = Index(10, "euclidean", channels=2)
    index.add(X)
    found = index.search(Q, 3, exact=True)
    flat = np.linalg.norm(Q.reshape(3, 1, -1) - X.reshape(1, 40, -1), axis=2)
    np.testing.assert_array_equal(found.ids, np.argsort(flat, axis=1, kind="stable")[:, :3])


@pytest.mark.parametrize("window", [None, 0.1, 0.3])
def test_variable_length_search_equals_naive_sloped_dtw(window):
    rng = np.random.default_rng(2)
    X = [_walks(rng, (2, int(rng.integers(4, 25)))) for _ in range(50)]
    Q = [_walks(rng, (2, int(rng.integers(4, 25)))) for _ in range(4)]
    band = None if window is not None else 3
    index = Index(None, "dtw", band=band, window=window, channels=2)
    index.add(X)
    assert index.variable_length and index.window == window
    exact = index.search(Q, 3, exact=True)
    assert (exact.lb_keogh_skipped > 0).all()
    graph = index.search(Q, 3, ef=50)
    np.testing.assert_array_equal(graph.ids, exact.ids)
    for q, ids, dists in zip(Q, exact.ids, exact.distances, strict=True):
        want = []
        for x in X:
            n, m = q.shape[1], x.shape[1]
            b = int(window * min(n, m)) if window is not None else 3
            want.append(_dtw_sq(q, x, _mask(n, m, b), False))
        want_arr = np.array(want)
        order = np.lexsort((np.arange(len(X)), want_arr))[:3]
        np.testing.assert_array_equal(ids, order)
        np.testing.assert_allclose(dists**2, want_arr[order], rtol=1e-4)
    got = index.get_series([7, 2])
    assert [g.shape for g in got] == [X[7].shape, X[2].shape]
    np.testing.assert_array_equal(got[0], X[7])
    np.testing.assert_array_equal(index.lengths([7, 2]), [X[7].shape[1], X[2].shape[1]])


def test_series_indexes_survive_pickle_and_save(tmp_path):
    rng = np.random.default_rng(3)
    X = [_walks(rng, (1, int(rng.integers(3, 12)))) for _ in range(30)]
    for index in (
        Index(None, "dtw", window=0.2),
        Index(12, "dtw", band=2, channels=3, dependence="independent"),
    ):
        data = X if index.variable_length else _walks(rng, (30, 3, 12))
        index.add(data)
        queries = data[:3]
        path = tmp_path / "series.idx"
        index.save(path)
        info = Index.info(path)
        assert info["version"] == 4 and info["channels"] == index.channels
        assert info["dim"] == (0 if index.variable_length else 12) == index.dim
        assert info["pending"] == 30
        for back in (Index.load(path), pickle.loads(pickle.dumps(index))):
            assert repr(back) == repr(index) and back.window == index.window
            np.testing.assert_array_equal(back.search(queries, 3).ids, index.search(queries, 3).ids)


def test_series_input_errors_name_the_argument():
    multi = Index(8, "dtw", channels=2)
    with pytest.raises(ValueError, match=r"vectors has 3 channels .* channels=2"):
        multi.add(np.zeros((4, 3, 8)))
    with pytest.raises(ValueError, match=r"length 9 .* dim=8"):
        multi.add(np.zeros((4, 2, 9)))
    with pytest.raises(ValueError, match="dependence is only meaningful with metric='dtw'"):
        Index(8, "euclidean", channels=2, dependence="independent")
    with pytest.raises(ValueError, match="dependence must be 'dependent' or 'independent'"):
        Index(8, "dtw", dependence="both")  # type: ignore[arg-type]
    var = Index(None, "dtw", channels=2)
    with pytest.raises(ValueError, match=r"vectors\[1\] must have shape \(channels=2, length\)"):
        var.add([np.zeros((2, 5)), np.zeros((3, 5))])
    with pytest.raises(ValueError, match=r"vectors\[0\] is empty"):
        var.add([np.zeros((2, 0))])
    with pytest.raises(
        ValueError, match=r"vectors\[1\] contains a non-finite .* channel 0, time step 1"
    ):
        var.add([np.zeros((2, 3)), np.array([[0.0, np.nan], [1.0, 2.0]])])
    bad = np.zeros((2, 2, 8))
    bad[1, 1, 5] = np.inf
    with pytest.raises(ValueError, match="at series 1, channel 1, time step 5"):
        multi.add(bad)
    assert len(var) == 0
    var.add([np.zeros((2, 5))])
    with pytest.raises(ValueError, match="use get_series"):
        var.get_vectors([0])
    with pytest.raises(ValueError, match="metric='dtw'"):
        Index(None, "euclidean")
    with pytest.raises(ValueError, match="band .* or window .*, not both"):
        Index(None, "dtw", band=2, window=0.1)
    with pytest.raises(ValueError, match="window must be a fraction between 0 and 1"):
        Index(None, "dtw", window=1.5)
    # A window on one length is the band int(window * dim), as aeon computes it.
    assert Index(100, "dtw", window=0.29).band == 28
    assert Index(100, "dtw", window=1.0).band == 99
