"""Index features: cosine and inner-product metrics, filtered search, range search, removal,
upserts (``add(replace=True)``) and ``memory_usage``, each against an exact oracle (numpy brute
force in float64, or the index's own exact scan where the distance code itself is the subject)."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pyembed import Index
from pyembed.index import Filter, RangeResult

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FINITE = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)


# -- oracles ----------------------------------------------------------------------------------
def distances(data: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """The (n_queries, n_data) distance matrix in float64, in the index's true units."""
    x = data.astype(np.float64)
    q = queries.astype(np.float64)
    if metric == "euclidean":
        return np.sqrt(np.maximum(((q[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0.0))
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        return 1.0 - q @ x.T
    if metric == "ip":
        return 1.0 - q @ x.T
    raise AssertionError(metric)


def knn(d: np.ndarray, k: int, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest of each row of ``d`` (ties by id), as (ids, distances); ``ids`` maps
    columns to user ids (default: the column numbers)."""
    ids = np.arange(d.shape[1]) if ids is None else np.asarray(ids)
    order = np.lexsort((np.broadcast_to(ids, d.shape), d), axis=1)[:, :k]
    return ids[order], np.take_along_axis(d, order, axis=1)


def named(err: BaseException) -> set[int]:
    """The numbers an error message names."""
    return {int(n) for n in re.findall(r"\d+", str(err))}


def recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(got, truth, strict=True)]))


def clustered(sizes: tuple[int, ...], dim: int, seed: int, centers: int = 40) -> list[np.ndarray]:
    """Seeded Gaussian clusters (unit noise around centres of spread 4), float32: one array
    per size, all drawn around the same centres (a database, its queries, ...)."""
    rng = np.random.default_rng(seed)
    c = rng.normal(scale=4.0, size=(centers, dim))
    n = sum(sizes)
    rows = (c[rng.integers(centers, size=n)] + rng.normal(size=(n, dim))).astype(np.float32)
    return np.split(rows, np.cumsum(sizes)[:-1])


def same_result(a, b) -> None:
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.distances, b.distances)


@pytest.fixture(scope="module")
def gauss() -> tuple[np.ndarray, np.ndarray]:
    """2,000 seeded standard normal 24-d vectors (continuous: no ties) and 100 queries."""
    rng = np.random.default_rng(20260301)
    return (
        rng.normal(size=(2000, 24)).astype(np.float32),
        rng.normal(size=(100, 24)).astype(np.float32),
    )


@pytest.fixture(scope="module")
def by_metric(gauss) -> dict[str, Index]:
    """One index per vector metric over ``gauss``, built."""
    data, _ = gauss
    out = {}
    for metric in ("euclidean", "cosine", "ip"):
        ix = Index(data.shape[1], metric)
        ix.add(data)
        ix.build()
        out[metric] = ix
    return out


# -- 1. cosine and inner product --------------------------------------------------------------
@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_exact_search_equals_numpy_brute_force(gauss, by_metric, metric):
    data, queries = gauss
    ix = by_metric[metric]
    assert ix.metric == metric
    got = ix.search(queries, 10, exact=True)
    want_ids, want_d = knn(distances(data, queries, metric), 10)
    np.testing.assert_array_equal(got.ids, want_ids)
    np.testing.assert_allclose(got.distances, want_d, rtol=0, atol=1e-5)
    assert (np.diff(got.distances, axis=1) >= 0).all()


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_graph_recall_at_default_ef(gauss, by_metric, metric):
    data, queries = gauss
    truth, _ = knn(distances(data, queries, metric), 10)
    res = by_metric[metric].search(queries, 10)
    r = recall(res.ids, truth)
    assert r >= 0.95, f"{metric}: recall@10 at the default ef = {r:.4f}, want >= 0.95"
    # The distances a graph search reports are the true ones of the ids it returns.
    d = distances(data, queries, metric)
    np.testing.assert_allclose(res.distances, np.take_along_axis(d, res.ids, 1), atol=1e-5)


def test_cosine_stores_unit_vectors(gauss, by_metric):
    data, _ = gauss
    ids = np.array([0, 7, 1999, 500])
    got = by_metric["cosine"].get_vectors(ids).astype(np.float64)
    want = data[ids] / np.linalg.norm(data[ids].astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    # ip and euclidean store the rows as given.
    np.testing.assert_array_equal(by_metric["ip"].get_vectors(ids), data[ids])
    # A scaled copy of a row is the same direction: distance 0 to that row under cosine.
    res = by_metric["cosine"].search(data[:5] * 37.5, 1, exact=True)
    np.testing.assert_array_equal(res.ids[:, 0], np.arange(5))
    np.testing.assert_allclose(res.distances[:, 0], 0.0, atol=1e-6)


def test_cosine_rejects_zero_vectors_and_band(gauss):
    data, queries = gauss
    ix = Index(24, "cosine")
    rows = data[:5].copy()
    rows[3] = 0.0
    with pytest.raises(ValueError, match="row 3.*zero vector"):
        ix.add(rows)
    assert len(ix) == 0, "a refused add stores nothing"
    ix.add(data[:50])
    with pytest.raises(ValueError, match="row 3.*zero vector"):
        ix.add(rows, ids=np.arange(100, 105))
    assert len(ix) == 50 and 100 not in ix
    q = queries[:4].copy()
    q[2] = 0.0
    for exact in (False, True):
        with pytest.raises(ValueError, match="queries row 2.*zero vector"):
            ix.search(q, 3, exact=exact)
    with pytest.raises(ValueError, match="band"):
        Index(24, "cosine", band=2)
    with pytest.raises(ValueError, match="band"):
        Index(24, "ip", band=0)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_quantized_search_keeps_recall_and_exact_distances(gauss, metric):
    data, queries = gauss
    ix = Index(24, metric)
    ix.add(data)
    ix.set_codes(True)
    assert ix.has_codes
    d = distances(data, queries, metric)
    truth, _ = knn(d, 10)
    plain = ix.search(queries, 10, ef=32)
    coded = ix.search(queries, 10, ef=32, quantized=True)
    r_plain, r_coded = recall(plain.ids, truth), recall(coded.ids, truth)
    assert r_coded >= r_plain - 0.02, f"{metric}: quantized {r_coded:.3f} vs float {r_plain:.3f}"
    assert r_coded >= 0.9, f"{metric}: quantized recall@10 = {r_coded:.3f}"
    # Re-ranking by float32 distances: the reported distances are the exact ones.
    np.testing.assert_allclose(coded.distances, np.take_along_axis(d, coded.ids, 1), atol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_save_load_pickle_and_info_keep_the_metric(tmp_path, gauss, by_metric, metric):
    _, queries = gauss
    ix = by_metric[metric]
    path = tmp_path / f"{metric}.nswg"
    ix.save(path)
    info = Index.info(path)
    assert info["metric"] == metric and info["n"] == len(ix) and info["dim"] == 24
    back = Index.load(path)
    copy = pickle.loads(pickle.dumps(ix))
    for other in (back, copy):
        assert other.metric == metric and len(other) == len(ix)
        for exact in (False, True):
            same_result(other.search(queries, 10, exact=exact), ix.search(queries, 10, exact=exact))
        np.testing.assert_array_equal(other.get_vectors([3, 9]), ix.get_vectors([3, 9]))


def test_ip_distances_can_be_negative_and_max_distance_too():
    rng = np.random.default_rng(11)
    data = (rng.normal(size=(400, 16)) * 5).astype(np.float32)  # large norms
    queries = (rng.normal(size=(20, 16)) * 5).astype(np.float32)
    ix = Index(16, "ip")
    ix.add(data)
    d = distances(data, queries, "ip")
    got = ix.search(queries, 5, exact=True)
    want_ids, want_d = knn(d, 5)
    np.testing.assert_array_equal(got.ids, want_ids)
    np.testing.assert_allclose(got.distances, want_d, rtol=1e-5, atol=1e-4)
    assert (got.distances < -50).all(), "large norms give very negative ip distances"
    # A vector need not be its own nearest neighbour: its distance to itself is 1 - |x|^2.
    own = ix.search(data[:50], 1, exact=True)
    assert (own.ids[:, 0] != np.arange(50)).any()
    # A negative max_distance is a valid limit for ip: exactly the rows at or below it.
    limit = float(np.quantile(d, 15 / len(data)))  # about 15 rows per query, below -100
    assert limit < -100 and np.abs(d - limit).min() > 1e-3, "precondition: a clear limit"
    res = ix.search(queries, 30, exact=True, max_distance=limit)
    for row in range(len(queries)):
        inside = np.flatnonzero(d[row] <= limit)
        n_in = min(len(inside), 30)
        want_ids, _ = knn(d[row : row + 1, inside], n_in, inside)
        np.testing.assert_array_equal(res.ids[row, :n_in], want_ids[0])
        assert (res.ids[row, n_in:] == -1).all() and np.isinf(res.distances[row, n_in:]).all()
    assert (res.ids == -1).any() and (res.ids != -1).any(), "the limit must cut some rows"
    with pytest.raises(ValueError):
        ix.search(queries, 3, max_distance=limit)  # graph search takes no limit


# -- 2. filtered search -----------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_filtered_exact_search_equals_restricted_brute_force(gauss, by_metric, metric):
    data, queries = gauss
    ix = by_metric[metric]
    allowed = np.random.default_rng(3).choice(len(data), 300, replace=False)
    got = ix.search(queries, 10, exact=True, filter=allowed)
    d = distances(data[allowed], queries, metric)
    want_ids, want_d = knn(d, 10, allowed)
    np.testing.assert_array_equal(got.ids, want_ids)
    np.testing.assert_allclose(got.distances, want_d, atol=1e-5)
    assert (got.distance_calls == len(allowed)).all(), "an exact search scans the allowed rows"


@pytest.mark.parametrize("graph", ["hnsw", "nsw"])
@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.01])
def test_filtered_graph_search_with_a_full_beam_equals_exact(gauss, graph, fraction):
    data, queries = gauss
    ix = Index(24, graph=graph)
    ix.add(data)
    allowed = np.random.default_rng(int(fraction * 100)).choice(
        len(data), int(fraction * len(data)), replace=False
    )
    oracle = ix.search(queries, 10, exact=True, filter=allowed)
    got = ix.search(queries, 10, ef=len(ix), filter=allowed)
    for row in range(len(queries)):
        np.testing.assert_array_equal(got.ids[row], oracle.ids[row], err_msg=f"query {row}")
    np.testing.assert_array_equal(got.distances, oracle.distances)
    assert np.isin(got.ids, allowed).all()


@pytest.mark.parametrize("graph", ["hnsw", "nsw"])
def test_filtered_graph_walk_keeps_recall(graph):
    # Large enough that the filters below are walked, not scanned (the index scans the allowed
    # rows when they are at most 4000 + 80 * max(ef, k), so every search above with
    # ef >= len(index) was a scan; the core's own tests check the walk with a full beam).
    rng = np.random.default_rng(5)
    data = rng.normal(size=(30_000, 16)).astype(np.float32)
    queries = rng.normal(size=(100, 16)).astype(np.float32)
    ix = Index(16, graph=graph)
    ix.add(data)
    for fraction in (0.6, 0.35):
        allowed = np.random.default_rng(1).choice(len(data), int(fraction * len(data)), False)
        oracle = ix.search(queries, 10, exact=True, filter=allowed)
        got = ix.search(queries, 10, ef=64, filter=allowed)
        assert got.distance_calls.mean() < len(allowed), "precondition: a walk, not a scan"
        assert np.isin(got.ids, allowed).all()
        r = recall(got.ids, oracle.ids)
        assert r >= 0.95, f"{graph}: filtered ({fraction:.0%}) recall@10 at ef=64 = {r:.4f}"
        d = distances(data, queries, "euclidean")
        np.testing.assert_allclose(got.distances, np.take_along_axis(d, got.ids, 1), rtol=1e-5)


def test_mask_filter_and_reusable_filter_equal_the_id_filter(gauss, by_metric):
    data, queries = gauss
    ix = by_metric["euclidean"]
    allowed = np.random.default_rng(4).choice(len(data), 200, replace=False)
    mask = np.isin(ix.ids, allowed)
    reusable = ix.filter(allowed)
    assert isinstance(reusable, Filter)
    for exact in (False, True):
        by_ids = ix.search(queries, 10, exact=exact, filter=allowed)
        assert np.isin(by_ids.ids, allowed).all()
        same_result(ix.search(queries, 10, exact=exact, filter=mask), by_ids)
        same_result(ix.search(queries, 10, exact=exact, filter=reusable), by_ids)
        same_result(ix.search(queries, 10, exact=exact, filter=reusable), by_ids)  # reusable
    same_result(ix.search(queries, 10, exact=True, filter=ix.filter(mask)), by_ids)
    with pytest.raises(ValueError):
        ix.search(queries, 3, filter=mask[:-1])
    with pytest.raises(ValueError):
        ix.filter(np.ones(len(ix) + 1, bool))


def test_filter_goes_stale_after_an_add_or_a_remove(gauss):
    data, queries = gauss
    ix = Index(24)
    ix.add(data[:300])
    f = ix.filter(np.arange(0, 300, 3))
    ix.search(queries, 5, filter=f)
    ix.add(data[300:301])
    for exact in (False, True):
        with pytest.raises(ValueError, match="filter"):
            ix.search(queries, 5, exact=exact, filter=f)
    with pytest.raises(ValueError, match="filter"):
        ix.range_search(queries, 5.0, exact=True, filter=f)
    g = ix.filter(np.arange(0, 300, 3))
    want = ix.search(queries, 5, exact=True, filter=g)
    ix.remove([299])
    with pytest.raises(ValueError, match="filter"):
        ix.search(queries, 5, exact=True, filter=g)
    # Made again, it works and answers as the ids do.
    same_result(ix.search(queries, 5, exact=True, filter=ix.filter(np.arange(0, 300, 3))), want)


def test_unknown_filter_ids_are_a_key_error_naming_them(gauss, by_metric):
    _, queries = gauss
    ix = by_metric["euclidean"]
    for call in (
        lambda: ix.search(queries, 3, filter=[1, 2, 77777]),
        lambda: ix.search(queries, 3, exact=True, filter=[77777, 5, 88888]),
        lambda: ix.filter([5, 77777, 88888]),
        lambda: ix.range_search(queries, 1.0, exact=True, filter=[88888]),
    ):
        with pytest.raises(KeyError) as err:
            call()
        assert "88888" in str(err.value) or "77777" in str(err.value), str(err.value)
    with pytest.raises(KeyError) as err:
        ix.filter([5, 77777, 88888])
    assert named(err.value) == {77777, 88888}, str(err.value)  # all unknown ones, no stored one


def test_filter_with_fewer_rows_than_k_pads_and_repeats_count_once(gauss, by_metric):
    data, queries = gauss
    ix = by_metric["euclidean"]
    allowed = [17, 3, 17, 900, 3, 3]
    for exact in (False, True):
        res = ix.search(queries[:6], 5, exact=exact, filter=allowed)
        d = distances(data[[3, 17, 900]], queries[:6], "euclidean")
        want_ids, want_d = knn(d, 3, np.array([3, 17, 900]))
        np.testing.assert_array_equal(res.ids[:, :3], want_ids)
        np.testing.assert_allclose(res.distances[:, :3], want_d, rtol=1e-5)
        assert (res.ids[:, 3:] == -1).all() and np.isposinf(res.distances[:, 3:]).all()
    # The mask of the same set is the same filter.
    mask = np.isin(ix.ids, allowed)
    same_result(ix.search(queries[:6], 5, exact=True, filter=mask), res)


def test_filter_works_for_dtw(walks, naive_dtw):
    data, queries = walks
    data, queries = data[:300, :20], queries[:8, :20]
    ix = Index(20, "dtw", band=3)
    ix.add(data)
    allowed = np.random.default_rng(8).choice(len(data), 60, replace=False)
    full = ix.search(queries, len(ix), exact=True)  # every distance, by the same DTW code
    exact = ix.search(queries, 5, exact=True, filter=allowed)
    graph = ix.search(queries, 5, ef=len(ix), filter=allowed)
    for row in range(len(queries)):
        keep = np.isin(full.ids[row], allowed)
        np.testing.assert_array_equal(exact.ids[row], full.ids[row][keep][:5])
        np.testing.assert_array_equal(exact.distances[row], full.distances[row][keep][:5])
        np.testing.assert_array_equal(graph.ids[row], exact.ids[row])
        for j in (0, 4):  # and the DTW itself against the textbook recurrence
            want = naive_dtw(queries[row], data[exact.ids[row, j]], 3)
            assert abs(exact.distances[row, j] - want) <= 1e-4 * max(1.0, want)


@SETTINGS
@given(
    st.integers(2, 30).flatmap(
        lambda n: st.tuples(
            arrays(np.float32, (n, 4), elements=FINITE),
            st.lists(st.integers(0, n - 1), min_size=1, max_size=2 * n),
            st.integers(1, n),
        )
    ),
    arrays(np.float32, (3, 4), elements=FINITE),
)
def test_filtered_exact_search_property(case, queries):
    data, allowed, k = case
    ix = Index(4, graph="nsw")
    ix.add(data)
    res = ix.search(queries, k, exact=True, filter=allowed)
    keep = np.unique(allowed)
    d = distances(data[keep], queries, "euclidean")
    n = min(k, len(keep))
    _, want_d = knn(d, n, keep)
    np.testing.assert_allclose(res.distances[:, :n], want_d, rtol=1e-4, atol=1e-3)
    assert np.isin(res.ids[:, :n], keep).all()
    assert (res.ids[:, n:] == -1).all() and np.isposinf(res.distances[:, n:]).all()
    for row in res.ids[:, :n]:
        assert len(set(row.tolist())) == n


# -- 3. range search --------------------------------------------------------------------------
@SETTINGS
@given(
    st.integers(1, 30).flatmap(lambda n: arrays(np.float32, (n, 3), elements=FINITE)),
    arrays(np.float32, (3, 3), elements=FINITE),
    st.sampled_from(["euclidean", "cosine", "ip"]),
    st.floats(0, 1, allow_nan=False),
)
def test_exact_range_search_is_the_thresholded_full_scan(data, queries, metric, quantile):
    # The same distance code as an exact k-NN of every row: the answer is that scan cut at the
    # radius, bit for bit (a radius of one of the distances keeps that distance).
    if metric == "cosine":
        assume(np.linalg.norm(data, axis=1).min() > 1e-3)
        assume(np.linalg.norm(queries, axis=1).min() > 1e-3)
    ix = Index(3, metric, graph="nsw")
    ix.add(data)
    full = ix.search(queries, len(ix), exact=True)
    radius = float(np.float32(np.quantile(full.distances, quantile)))  # exact in float32
    if metric != "ip":
        radius = max(radius, 0.0)
    res = ix.range_search(queries, radius, exact=True)
    assert len(res) == len(queries) and res.offsets.shape == (len(queries) + 1,)
    for row in range(len(queries)):
        keep = full.distances[row] <= np.float32(radius)
        ids, dist = res[row]
        np.testing.assert_array_equal(ids, full.ids[row][keep])
        np.testing.assert_array_equal(dist, full.distances[row][keep])


def check_range(res: RangeResult, d: np.ndarray, radius: float, atol: float) -> None:
    """``res`` holds the columns of ``d`` (float64, columns = ids) within ``radius``: every one
    below ``radius - atol``, none above ``radius + atol`` (float32 rounding decides the few in
    between), with their distances, ascending by distance, ties by id."""
    assert isinstance(res, RangeResult) and len(res) == len(d)
    assert res.offsets.shape == (len(d) + 1,) and res.offsets[0] == 0
    assert res.offsets[-1] == len(res.ids) == len(res.distances)
    assert (np.diff(res.offsets) >= 0).all()
    for row in range(len(d)):
        ids, dist = res[row]
        must = set(np.flatnonzero(d[row] <= radius - atol).tolist())
        may = set(np.flatnonzero(d[row] <= radius + atol).tolist())
        got = ids.tolist()
        assert len(set(got)) == len(got), f"query {row}: an id twice"
        assert must <= set(got) <= may, (
            f"query {row}: missing {sorted(must - set(got))}, extra {sorted(set(got) - may)}"
        )
        np.testing.assert_allclose(dist, d[row, ids], rtol=1e-5, atol=atol)
        assert (dist <= np.float32(radius)).all()
        assert (np.lexsort((ids, dist)) == np.arange(len(ids))).all(), f"query {row}: order"


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_exact_range_search_equals_brute_force(gauss, by_metric, metric):
    data, queries = gauss
    d = distances(data, queries, metric)
    radius = float(np.quantile(d, 0.01))  # about 20 hits per query
    res = by_metric[metric].range_search(queries, radius, exact=True)
    check_range(res, d, radius, atol=1e-5)
    assert res.offsets[-1] > 10 * len(queries), "a radius with hits"


def test_exact_range_search_for_dtw_equals_the_thresholded_full_scan(walks, naive_dtw):
    data, queries = walks
    ix = Index(40, "dtw", band=4)
    ix.add(data)
    full = ix.search(queries, len(ix), exact=True)
    radius = float(np.median(full.distances[:, 15]))
    res = ix.range_search(queries, radius, exact=True)
    assert len(res) == len(queries)
    for row in range(len(queries)):
        ids, dist = res[row]
        keep = full.distances[row] <= radius
        np.testing.assert_array_equal(ids, full.ids[row][keep], err_msg=f"query {row}")
        np.testing.assert_array_equal(dist, full.distances[row][keep])
    # The numbers themselves against the textbook recurrence, on a few hits.
    for row in range(3):
        ids, dist = res[row]
        for i, dd in zip(ids[:3], dist[:3], strict=False):
            want = naive_dtw(queries[row], data[i], 4)
            assert abs(dd - want) <= 1e-4 * max(1.0, want)
    assert len(np.unique(np.diff(res.offsets))) > 1, "the hits per query vary"


def test_range_search_with_a_filter_is_the_restricted_answer(gauss, by_metric):
    data, queries = gauss
    ix = by_metric["euclidean"]
    allowed = np.random.default_rng(6).choice(len(data), 500, replace=False)
    d = distances(data, queries, "euclidean")
    radius = float(np.quantile(d, 0.02))
    res = ix.range_search(queries, radius, exact=True, filter=allowed)
    restricted = np.full_like(d, np.inf)
    restricted[:, allowed] = d[:, allowed]
    check_range(res, restricted, radius, atol=1e-5)
    graph = ix.range_search(queries, radius, ef=len(ix), filter=allowed)
    assert set(graph.ids.tolist()) <= set(allowed.tolist())


def test_graph_range_search_is_a_subset_that_finds_almost_everything():
    data, queries = clustered((3000, 100), 16, seed=21)
    ix = Index(16)
    ix.add(data)
    exact_knn = ix.search(queries, 30, exact=True)
    radius = float(np.median(exact_knn.distances[:, 29]))
    exact = ix.range_search(queries, radius, exact=True)
    hits = np.diff(exact.offsets)
    assert 10 <= hits.mean() <= 50, f"precondition: {hits.mean():.1f} hits per query"
    graph = ix.range_search(queries, radius)
    found = total = 0
    for row in range(len(queries)):
        g_ids, g_d = graph[row]
        e_ids, e_d = exact[row]
        assert set(g_ids.tolist()) <= set(e_ids.tolist()), f"query {row}: ids outside the radius"
        assert (g_d <= radius).all() and (np.diff(g_d) >= 0).all()
        # Whatever the graph finds has the exact distance.
        lookup = dict(zip(e_ids.tolist(), e_d.tolist(), strict=True))
        np.testing.assert_array_equal(g_d, np.array([lookup[i] for i in g_ids], np.float32))
        found += len(g_ids)
        total += len(e_ids)
    assert found >= 0.95 * total, f"graph range search found {found} of {total}"


def test_range_search_radius_checks_and_result_access(gauss, by_metric, walks):
    data, queries = gauss
    for metric in ("euclidean", "cosine"):
        for exact in (False, True):
            with pytest.raises(ValueError, match="radius"):
                by_metric[metric].range_search(queries[:2], -0.1, exact=exact)
    dtw = Index(40, "dtw", band=2)
    dtw.add(walks[0][:50])
    with pytest.raises(ValueError, match="radius"):
        dtw.range_search(walks[1][:2], -1.0, exact=True)
    for metric in ("euclidean", "cosine", "ip"):
        with pytest.raises(ValueError, match="nan"):
            by_metric[metric].range_search(queries[:2], float("nan"), exact=True)
    with pytest.raises(TypeError):
        by_metric["euclidean"].range_search(queries[:2], "1.0")  # type: ignore[arg-type]
    # ip takes a negative radius: exactly the rows at or below it.
    ip = by_metric["ip"]
    d = distances(data, queries, "ip")
    radius = -4.0
    res = ip.range_search(queries, radius, exact=True)
    check_range(res, d, radius, atol=1e-5)
    assert (res.distances < 0).all() and len(res.ids) > 0
    # Zero-hit queries: a radius of 0 around far-away points.
    far = queries[:3] + 100.0
    none = by_metric["euclidean"].range_search(far, 0.5, exact=True)
    assert len(none) == 3 and none.offsets.tolist() == [0, 0, 0, 0]
    for i in range(3):
        ids, dist = none[i]
        assert ids.shape == (0,) and dist.shape == (0,)
    mixed = by_metric["euclidean"].range_search(np.vstack([far[:1], data[:1]]), 0.5, exact=True)
    assert mixed[0][0].size == 0 and mixed[1][0][0] == 0 and mixed[-1][0][0] == 0
    with pytest.raises(IndexError):
        mixed[2]
    with pytest.raises(IndexError):
        mixed[-3]
    assert mixed.ids.dtype == np.int64 and mixed.distances.dtype == np.float32
    assert mixed.offsets.dtype == np.int64 and mixed.distance_calls.shape == (2,)


# -- 4. remove --------------------------------------------------------------------------------
def test_removing_unknown_ids_is_a_key_error_and_changes_nothing(gauss):
    data, queries = gauss
    ix = Index(24)
    ix.add(data[:500])
    before = ix.search(queries, 10)
    before_exact = ix.search(queries, 10, exact=True)
    with pytest.raises(KeyError) as err:
        ix.remove([4, 5000, 6000, 7])
    assert named(err.value) == {5000, 6000}, str(err.value)
    with pytest.raises(KeyError, match="77777"):
        ix.remove([77777])
    assert len(ix) == 500 and 4 in ix and 7 in ix
    np.testing.assert_array_equal(ix.ids, np.arange(500))
    same_result(ix.search(queries, 10), before)
    same_result(ix.search(queries, 10, exact=True), before_exact)


@pytest.mark.parametrize("graph", ["hnsw", "nsw"])
def test_removed_ids_are_never_returned_and_exact_is_the_remaining_brute_force(gauss, graph):
    data, queries = gauss
    data = data[:1500]
    ix = Index(24, graph=graph)
    ix.add(data)
    ix.build()
    rng = np.random.default_rng(9)
    removed = rng.choice(len(data), 400, replace=False)
    counters = ix.remove(np.concatenate([removed, removed[:10]]))  # repeats count once
    assert isinstance(counters, dict)
    keep = np.setdiff1d(np.arange(len(data)), removed)
    assert len(ix) == len(keep)
    np.testing.assert_array_equal(np.sort(ix.ids), keep)
    assert not any(int(i) in ix for i in removed) and all(int(i) in ix for i in keep[:50])
    with pytest.raises(KeyError):
        ix.get_vectors(removed[:1])
    probes = np.vstack([data[removed], queries])  # the removed vectors themselves, and others
    for kwargs in ({"exact": True}, {}, {"ef": 16}, {"ef": len(data)}):
        res = ix.search(probes, 10, **kwargs)
        assert not np.isin(res.ids, removed).any(), f"a removed id returned with {kwargs}"
        assert (res.ids >= 0).all()
    exact = ix.search(probes, 10, exact=True)
    want_ids, want_d = knn(distances(data[keep], probes, "euclidean"), 10, keep)
    np.testing.assert_array_equal(exact.ids, want_ids)
    np.testing.assert_allclose(exact.distances, want_d, rtol=1e-5)
    full = ix.search(probes, 10, ef=len(data))
    np.testing.assert_array_equal(full.ids, exact.ids)
    r = recall(ix.search(probes, 10).ids, exact.ids)
    assert r >= 0.95, f"{graph}: recall@10 after removing 400 of 1500 = {r:.3f}"
    # Range search forgets them too.
    radius = float(np.median(exact.distances[:, -1]))
    for exact_mode in (True, False):
        rr = ix.range_search(probes, radius, exact=exact_mode)
        assert not np.isin(rr.ids, removed).any()


def test_a_later_add_reuses_the_slots_and_removed_ids_can_come_back(gauss):
    data, queries = gauss
    ix = Index(24)
    ix.add(data[:600])
    ix.build()
    removed = np.arange(100, 200)
    vacated = set(np.flatnonzero(np.isin(ix.ids, removed)).tolist())
    ix.remove(removed)
    assert len(ix) == 500
    new_ids = ix.add(data[600:700])
    np.testing.assert_array_equal(new_ids, np.arange(600, 700))  # after the largest id so far
    assert len(ix) == 600
    assert set(np.flatnonzero(np.isin(ix.ids, new_ids)).tolist()) == vacated, "slots reused"
    # A removed id can be stored again, with any vector.
    ix.add(data[700:702], ids=[150, 100])
    assert len(ix) == 602 and 150 in ix and 100 in ix and 101 not in ix
    np.testing.assert_array_equal(ix.get_vectors([150, 100]), data[700:702])
    res = ix.search(data[700:702], 1)
    np.testing.assert_array_equal(res.ids[:, 0], [150, 100])
    np.testing.assert_array_equal(res.distances[:, 0], [0.0, 0.0])
    stored = np.concatenate([np.arange(100), np.arange(200, 700), [150, 100]])
    d_rows = np.concatenate([data[:100], data[200:700], data[700:702]])
    want_ids, _ = knn(distances(d_rows, queries, "euclidean"), 10, stored)
    np.testing.assert_array_equal(ix.search(queries, 10, exact=True).ids, want_ids)


@pytest.mark.parametrize("graph", ["hnsw", "nsw"])
def test_recall_after_removing_30_percent_and_refilling_matches_a_fresh_build(graph):
    data, extra, queries = clustered((3000, 900, 200), 32, seed=31)
    ix = Index(32, graph=graph)
    ix.add(data)
    ix.build()
    removed = np.random.default_rng(34).choice(len(data), 900, replace=False)
    ix.remove(removed)
    ix.add(extra)
    ix.build()
    assert len(ix) == 3000
    keep = np.setdiff1d(np.arange(3000), removed)
    final_ids = np.concatenate([keep, np.arange(3000, 3900)])
    final = np.concatenate([data[keep], extra])
    fresh = Index(32, graph=graph)
    fresh.add(final, ids=final_ids)
    truth, _ = knn(distances(final, queries, "euclidean"), 10, final_ids)
    np.testing.assert_array_equal(ix.search(queries, 10, exact=True).ids, truth)
    for ef in (64, 16):  # the small beam shows a damaged graph that ef=64 would hide
        r_repaired = recall(ix.search(queries, 10, ef=ef).ids, truth)
        r_fresh = recall(fresh.search(queries, 10, ef=ef).ids, truth)
        assert r_repaired >= r_fresh - 0.03, (
            f"{graph}, ef={ef}: recall@10 after remove+add {r_repaired:.4f} vs fresh {r_fresh:.4f}"
        )
        assert r_fresh >= 0.9, f"precondition: fresh recall {r_fresh:.4f} at ef={ef}"
    # Every stored vector (kept or refilled) is still reachable: searching for it finds it.
    own_repaired = np.mean(ix.search(final, 1, ef=64).ids[:, 0] == final_ids)
    own_fresh = np.mean(fresh.search(final, 1, ef=64).ids[:, 0] == final_ids)
    assert own_repaired >= min(own_fresh, 0.999) - 0.002, (own_repaired, own_fresh)


@pytest.mark.parametrize("graph", ["hnsw", "nsw"])
def test_removing_everything_then_adding_works(gauss, graph):
    data, queries = gauss
    ix = Index(24, graph=graph)
    ix.add(data[:200])
    ix.build()
    ix.remove(np.arange(200))
    assert len(ix) == 0 and ix.ids.size == 0
    with pytest.raises(ValueError):
        ix.search(queries[:2], 1)
    new_ids = ix.add(data[200:500])
    assert len(ix) == 300 and not np.isin(new_ids, np.arange(200)).any()
    exact = ix.search(queries, 5, exact=True)
    want_ids, _ = knn(distances(data[200:500], queries, "euclidean"), 5, new_ids)
    np.testing.assert_array_equal(exact.ids, want_ids)
    np.testing.assert_array_equal(ix.search(queries, 5, ef=300).ids, exact.ids)
    assert recall(ix.search(queries, 5).ids, exact.ids) >= 0.95


@pytest.mark.parametrize("search_before_save", [True, False])
def test_save_load_and_pickle_after_removals(tmp_path, gauss, search_before_save):
    data, queries = gauss
    ix = Index(24)
    ix.add(data[:800])
    ix.build()
    ix.remove(np.arange(0, 800, 4))
    ix.add(data[800:900])  # refills slots; not built unless searched
    if search_before_save:
        ix.search(queries[:1], 1)
        assert ix.pending == 0
    else:
        assert ix.pending > 0
    path = tmp_path / "removed.nswg"
    ix.save(path)
    assert len(ix) == 700
    pending, saved = ix.pending, pickle.dumps(ix)
    for back in (Index.load(path), pickle.loads(saved)):
        assert len(back) == len(ix) and back.pending == pending
        assert pickle.dumps(back) == saved, "the same bytes as the index that was saved"
        np.testing.assert_array_equal(back.ids, ix.ids)
        np.testing.assert_array_equal(back.get_vectors(ix.ids), ix.get_vectors(ix.ids))
        same_result(back.search(queries, 10, exact=True), ix.search(queries, 10, exact=True))
        # Both build the pending rows the same way (n_threads=1 is bit-reproducible).
        same_result(back.search(queries, 10, n_threads=1), ix.search(queries, 10, n_threads=1))
        assert not np.isin(back.search(queries, 10).ids, np.arange(0, 800, 4)).any()
    # The loaded index goes on removing and adding.
    back = Index.load(path)
    back.remove([1, 2])
    back.add(data[:2], ids=[0, 4])
    assert len(back) == 700 and 1 not in back and 0 in back


@pytest.mark.parametrize("removed", [20, 200])  # repaired in place; graph dropped (over 5%)
def test_info_counts_the_stored_rows_after_removals(tmp_path, gauss, removed):
    data, _ = gauss
    ix = Index(24)
    ix.add(data[:800])
    ix.build()
    ix.remove(np.arange(0, 4 * removed, 4))
    ix.add(data[800:810])  # 10 rows into freed slots, not yet linked
    path = tmp_path / "removed.nswg"
    ix.save(path)
    info = Index.info(path)
    pending = 10 if removed == 20 else 810 - removed  # a dropped graph: every row pending
    assert (info["n"], info["pending"]) == (len(ix), ix.pending) == (810 - removed, pending)


def test_remove_is_refused_on_series_of_their_own_lengths():
    ix = Index(None, "dtw")
    ix.add([np.arange(5.0), np.arange(7.0), np.arange(3.0)])
    with pytest.raises(ValueError, match="own lengths"):
        ix.remove([0])
    assert len(ix) == 3


# -- 5. add(replace=True) ---------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_replace_updates_stored_ids_and_adds_new_ones(gauss, metric):
    data, queries = gauss
    ix = Index(24, metric)
    ix.add(data[:500])
    ix.build()
    fresh_rows = data[1000:1004]
    returned = ix.add(fresh_rows, ids=[10, 20, 9000, 30], replace=True)
    np.testing.assert_array_equal(returned, [10, 20, 9000, 30])
    assert len(ix) == 501 and 9000 in ix
    want = fresh_rows.astype(np.float64)
    if metric == "cosine":
        want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(ix.get_vectors([10, 20, 9000, 30]), want, atol=1e-6)
    for exact in (True, False):
        res = ix.search(fresh_rows, 1, exact=exact)
        np.testing.assert_array_equal(res.ids[:, 0], [10, 20, 9000, 30])
        np.testing.assert_allclose(res.distances[:, 0], 0.0, atol=1e-6)
        # The old vectors of 10, 20, 30 are gone: nothing at distance 0 of them now.
        old = ix.search(data[[10, 20, 30]], 1, exact=exact)
        assert (old.distances[:, 0] > 1e-3).all()
    stored = np.concatenate([np.arange(500), [9000]])
    rows = np.concatenate([data[:500], data[1002:1003]])
    rows[[10, 20, 30]] = fresh_rows[[0, 1, 3]]
    want_ids, want_d = knn(distances(rows, queries, metric), 10, stored)
    exact = ix.search(queries, 10, exact=True)
    np.testing.assert_array_equal(exact.ids, want_ids)
    np.testing.assert_allclose(exact.distances, want_d, rtol=1e-5, atol=1e-5)
    assert recall(ix.search(queries, 10).ids, want_ids) >= 0.95


def test_replace_argument_errors_change_nothing(gauss):
    data, _ = gauss
    ix = Index(24)
    ix.add(data[:50])
    with pytest.raises(ValueError, match="duplicate id 7"):
        ix.add(data[50:52], ids=[7, 7], replace=True)
    with pytest.raises(ValueError, match="duplicate id 60"):
        ix.add(data[50:52], ids=[60, 60], replace=True)
    with pytest.raises(ValueError, match="replace"):
        ix.add(data[50:52], replace=True)
    with pytest.raises(ValueError, match="duplicate id 3"):
        ix.add(data[50:51], ids=[3])  # without replace an existing id is still an error
    with pytest.raises(ValueError, match="duplicate id 3"):
        ix.add(data[50:52], ids=[100, 3])
    assert len(ix) == 50 and 60 not in ix and 100 not in ix
    np.testing.assert_array_equal(ix.get_vectors([3, 7]), data[[3, 7]])
    np.testing.assert_array_equal(ix.ids, np.arange(50))
    var = Index(None, "dtw")
    var.add([np.arange(4.0)], ids=[0])
    with pytest.raises(ValueError):
        var.add([np.arange(5.0)], ids=[0], replace=True)


# -- 6. memory_usage --------------------------------------------------------------------------
def test_memory_usage_counts_the_vectors_and_grows_with_them(gauss):
    data, _ = gauss
    ix = Index(24)
    ix.add(data[:1000])
    ix.build()
    used = ix.memory_usage()
    assert type(used) is int and used > 1000 * 24 * 4
    ix.add(data[1000:2000])
    stored = ix.memory_usage()
    assert stored >= used + 1000 * 24 * 4, (used, stored)
    ix.build()
    built = ix.memory_usage()
    assert built > stored, "the graph over the new rows takes memory"
    ix.set_codes(True)
    assert ix.memory_usage() >= built + 2000 * 24, "codes are one byte per coordinate"
