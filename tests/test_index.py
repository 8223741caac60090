"""Index API: oracles against numpy brute force, bad input, round trips, concurrency."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from pyembed import Index, IndexFormatError, SearchResult
from pyembed.index import COUNTERS


def brute_force(data: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    d = np.sqrt(((queries[:, None, :].astype(np.float64) - data[None, :, :]) ** 2).sum(-1))
    order = np.lexsort((np.broadcast_to(np.arange(len(data)), d.shape), d), axis=1)[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


def recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(got, truth, strict=True)]))


@pytest.fixture(scope="module")
def built(uniform32):
    data, _ = uniform32
    index = Index(32)
    index.add(data)
    return index


def test_exact_search_matches_numpy(uniform32, built):
    data, queries = uniform32
    res = built.search(queries[:50], k=10, exact=True)
    ids, dists = brute_force(data, queries[:50], 10)
    np.testing.assert_array_equal(res.ids, ids)
    np.testing.assert_allclose(res.distances, dists, rtol=1e-5)
    assert res.ids.dtype == np.int64 and res.distances.dtype == np.float32
    assert (res.distance_calls == len(data)).all()


def test_search_result_is_immutable_and_round_trips(uniform32, built):
    _, queries = uniform32
    res = built.search(queries[:3], k=4)
    assert isinstance(res, SearchResult)
    with pytest.raises(AttributeError):
        res.ids = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del res.distances
    counters = ["distance_calls", "lb_pruned", "lb_kim_pruned", "lb_keogh_pruned"]
    counters += ["lb_keogh_rev_pruned", "abandoned", "visited", "lb_keogh_skipped"]
    counters += ["euclidean_calls"]
    assert list(COUNTERS) == counters  # the core's order
    assert res.counters.shape == (len(counters), 3)
    for row, name in enumerate(counters):
        v = getattr(res, name)
        assert v.shape == (3,) and v.dtype == np.int64, name
        assert np.shares_memory(v, res.counters), f"{name} is a view of the block"
        np.testing.assert_array_equal(v, res.counters[row])
    assert (res.distance_calls > 0).all() and (res.lb_pruned == 0).all()  # Euclidean: no bounds
    back = pickle.loads(pickle.dumps(res))
    for name in ["ids", "distances", *counters]:
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert repr(res).startswith("SearchResult(ids=array([[") and "visited=array(" in repr(res)


def test_graph_recall_at_default_settings(uniform32, built):
    _, queries = uniform32
    exact = built.search(queries, k=10, exact=True)
    r = recall(built.search(queries, k=10).ids, exact.ids)
    assert r >= 0.95, f"recall@10 at default settings = {r:.4f}, want >= 0.95"


def test_recall_does_not_fall_with_effort(uniform32, built):
    _, queries = uniform32
    exact = built.search(queries, k=10, exact=True).ids
    by_ef = [recall(built.search(queries, k=10, ef=ef).ids, exact) for ef in (10, 20, 40, 80, 160)]
    assert all(b >= a for a, b in zip(by_ef, by_ef[1:], strict=False)), f"recall by ef: {by_ef}"
    by_restarts = [
        recall(built.search(queries, k=10, ef=10, restarts=r).ids, exact) for r in (1, 2, 4, 8)
    ]
    assert all(b >= a for a, b in zip(by_restarts, by_restarts[1:], strict=False)), by_restarts
    assert by_ef[-1] > by_ef[0] and by_restarts[-1] > by_restarts[0]


def test_enough_restarts_give_exact_answer():
    rng = np.random.default_rng(3)
    data = rng.random((500, 8), dtype=np.float32)
    queries = rng.random((30, 8), dtype=np.float32)
    index = Index(8)
    index.add(data)
    got = index.search(queries, k=5, ef=16, restarts=64)
    exact = index.search(queries, k=5, exact=True)
    np.testing.assert_array_equal(got.ids, exact.ids)


def test_dtw_exact_matches_naive_python(walks, naive_dtw):
    data, queries = walks
    data, queries = data[:60, :16], queries[:5, :16]
    for band in (0, 2, None):
        index = Index(16, "dtw", band=band)
        index.add(data)
        res = index.search(queries, k=3, exact=True)
        b = 15 if band is None else band
        for qi, q in enumerate(queries):
            d = np.array([naive_dtw(q, x, b) for x in data])
            order = np.lexsort((np.arange(len(d)), d))[:3]
            np.testing.assert_array_equal(res.ids[qi], order)
            np.testing.assert_allclose(res.distances[qi], d[order], rtol=1e-4)


def test_dtw_band_zero_equals_euclidean(walks):
    data, queries = walks
    e, d = Index(40), Index(40, "dtw", band=0)
    e.add(data)
    d.add(data)
    a, b = e.search(queries, 5, exact=True), d.search(queries, 5, exact=True)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_allclose(a.distances, b.distances, rtol=1e-5)


def test_dtw_pruning_never_changes_answers(walks, naive_dtw):
    # Bounds and early abandoning skip work but never change an answer: every reported distance
    # is the plain DTW of the reported series, and exact search equals the pure-Python oracle.
    data, queries = walks
    index = Index(40, "dtw", band=4)
    index.add(data)
    for exact in (False, True):
        r = index.search(queries, 5, ef=16, restarts=2, exact=exact)
        assert (r.lb_pruned + r.abandoned).sum() > 0
        for qi in range(3):
            for id_, d in zip(r.ids[qi], r.distances[qi], strict=True):
                assert d == pytest.approx(naive_dtw(queries[qi], data[id_], 4), rel=1e-4)
    exact = index.search(queries[:3], 1, exact=True)
    for qi in range(3):
        best = min(naive_dtw(queries[qi], row, 4) for row in data)
        assert exact.distances[qi, 0] == pytest.approx(best, rel=1e-4)
    graph = index.search(queries, 5, ef=400)
    exact = index.search(queries, 5, exact=True)
    np.testing.assert_array_equal(graph.ids, exact.ids)


def test_max_distance_keeps_the_exact_rows_within_it(walks):
    # The exact answer cut at each query's limit, one limit for all queries or one each: a row
    # at the limit is kept, and a float64 limit just below a row's float32 distance drops it.
    # DTW scans fewer rows from a limit.
    data, queries = walks
    index = Index(40, "dtw", band=4)
    index.add(data)
    everything = index.search(queries, len(index), exact=True)
    plain = index.search(queries, 5, exact=True)
    third = everything.distances[:, 2].astype(np.float64)
    for limits, inside in ((third, 3), (third + 1e-12, 3), (third - 1e-12, 2)):
        limited = index.search(queries, 5, exact=True, max_distance=limits)
        for qi in range(len(queries)):
            keep = everything.distances[qi].astype(np.float64) <= limits[qi]
            want = everything.ids[qi][keep][:5]
            assert len(want) >= inside
            np.testing.assert_array_equal(limited.ids[qi, : len(want)], want)
            assert (limited.ids[qi, len(want) :] == -1).all()
            assert np.isinf(limited.distances[qi, len(want) :]).all()
        assert limited.distance_calls.sum() < plain.distance_calls.sum()
    # One number is rounded like an array of them; a huge one is no limit (no overflow warning).
    one_row = Index(2)
    one_row.add([[0.7, 0.0]])
    d = float(one_row.search([0.0, 0.0], 1, exact=True).distances[0, 0])
    below = float(np.nextafter(np.float32(d), np.float32(0))) + 1e-9  # between two float32
    for limit in (below, [below]):
        assert one_row.search([0.0, 0.0], 1, exact=True, max_distance=limit).ids[0, 0] == -1
    assert one_row.search([0.0, 0.0], 1, exact=True, max_distance=1e300).ids[0, 0] == 0
    one = index.search(queries, 5, exact=True, max_distance=float(everything.distances.max()))
    np.testing.assert_array_equal(one.ids, plain.ids)
    none = index.search(queries, 5, exact=True, max_distance=np.inf)
    np.testing.assert_array_equal(none.distances, plain.distances)


def test_inputs_that_work(built, uniform32):
    data, queries = uniform32
    ref = built.search(queries[:4], k=3)
    for variant in (
        queries[:4].astype(np.float64),
        np.asfortranarray(queries[:4]),
        np.repeat(queries[:4], 2, axis=0)[::2],  # strided view, not contiguous
        queries[:4].tolist(),
    ):
        np.testing.assert_array_equal(built.search(variant, k=3).ids, ref.ids)
    one = built.search(queries[0], k=3)
    assert one.ids.shape == (1, 3)
    np.testing.assert_array_equal(one.ids[0], ref.ids[0])
    empty = built.search(np.empty((0, 32), dtype=np.float32), k=3)
    assert empty.ids.shape == (0, 3) and empty.distances.shape == (0, 3)
    sliced = np.ascontiguousarray(np.hstack([queries[:4], queries[:4]]))[:, ::2]
    assert built.search(sliced, k=1).ids.shape == (4, 1)
    ints = Index(3)
    ints.add(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32), ids=np.array([7, 9], dtype=np.uint8))
    assert ints.search([4, 5, 6], k=1).ids.tolist() == [[9]]
    assert 7 in ints and 8 not in ints and "x" not in ints and 2**70 not in ints and -1 not in ints
    np.testing.assert_array_equal(ints.get_vectors([9]), [[4, 5, 6]])


@pytest.mark.parametrize("graph", ["nsw", "hnsw"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_every_stored_vector_is_found_after_orphans_are_linked(graph, n_threads):
    # Narrow clusters, small degree cap: the diversity rule leaves nodes no search reaches (such a
    # vector is never found by searching for it); add links them back.
    rng = np.random.default_rng(5)
    means = rng.normal(size=(30, 64))
    data = (means[rng.integers(0, 30, 3000)] + 0.35 * rng.normal(size=(3000, 64))).astype(
        np.float32
    )
    ix = Index(64, max_degree=8, graph=graph)
    ix.add(data)
    assert ix.pending == len(data) and ix.last_build == {}
    built = ix.build(n_threads=n_threads)
    assert built == ix.last_build and ix.pending == 0
    assert built["repair_passes"] == 1 and built["orphans_linked"] > 0, built
    assert built["distance_calls"] > len(data)
    indeg = np.zeros(len(ix), np.int64)
    for i in range(len(ix)):
        np.add.at(indeg, ix.neighbors(i), 1)
    assert (indeg == 0).sum() <= 1, np.flatnonzero(indeg == 0)  # at most the search root
    assert ix.link_orphans() == 0  # nothing left
    # With a beam as large as the index the search covers every node reachable from its
    # entry; every stored vector is then its own nearest neighbour.
    got = ix.search(data, 1, ef=len(ix), n_threads=2).ids[:, 0]
    assert (got == np.arange(len(ix))).all(), np.flatnonzero(got != np.arange(len(ix)))


def test_fewer_than_k_reachable_is_padded():
    index = Index(2, max_degree=2)
    index.add([[0, 0], [1, 1], [5, 5]])
    res = index.search([[0, 0]], k=3, ef=1)
    assert res.ids.shape == (1, 3)
    valid = res.ids[0] >= 0
    assert np.isinf(res.distances[0][~valid]).all()
    assert (res.ids[0][~valid] == -1).all()


BAD_INPUTS = [
    # (callable on a dim-4 index holding 3 rows, exception, message regex)
    (lambda ix: ix.search(np.zeros((2, 2, 4))), ValueError, "1-D .* or 2-D, got a 3-D"),
    (
        lambda ix: ix.search(np.zeros((2, 5))),
        ValueError,
        "queries has 5 columns but the index has dim=4",
    ),
    (
        lambda ix: ix.add(np.zeros((2, 3))),
        ValueError,
        "vectors has 3 columns but the index has dim=4",
    ),
    (
        lambda ix: ix.search(np.zeros((3, 2))),
        ValueError,
        "queries has 2 columns but the index has dim=4",
    ),
    (lambda ix: ix.search([[0, np.nan, 0, 0]]), ValueError, r"non-finite .* row 0, column 1"),
    (
        lambda ix: ix.add([[0, 0, 0, 0], [0, 0, np.inf, 0]]),
        ValueError,
        r"non-finite .* row 1, column 2",
    ),
    (lambda ix: ix.search(np.full((1, 4), 1e300)), ValueError, "non-finite"),
    (lambda ix: ix.search(np.ones((1, 4), dtype=bool)), TypeError, "dtype bool"),
    (lambda ix: ix.search(np.ones((1, 4), dtype=complex)), TypeError, "dtype complex"),
    (lambda ix: ix.search(np.array([[object()] * 4])), TypeError, "dtype object"),
    (lambda ix: ix.search([["a", "b", "c", "d"]]), TypeError, "dtype <U1"),
    (
        lambda ix: ix.search(np.zeros(4), k=0),
        ValueError,
        r"k must be between 1 and len\(index\)=3, got 0",
    ),
    (
        lambda ix: ix.search(np.zeros(4), k=-1),
        ValueError,
        "k must be a non-negative integer, got -1",
    ),
    (lambda ix: ix.search(np.zeros(4), k=2**70), ValueError, "k must be at most 1844674407"),
    (lambda ix: ix.neighbors(2**70), ValueError, "id must be at most 9223372036854775807"),
    (lambda ix: Index(0, "dtw", band=1), ValueError, "dim must be between 1 and 16777216, got 0"),
    (
        lambda ix: ix.search(np.zeros(4), k=4),
        ValueError,
        r"k must be between 1 and len\(index\)=3, got 4",
    ),
    (lambda ix: ix.search(np.zeros(4), k=2.5), TypeError, "k must be an integer"),
    (lambda ix: ix.search(np.zeros(4), k=1, ef=0), ValueError, "ef must be at least 1"),
    (lambda ix: ix.search(np.zeros(4), k=1, restarts=0), ValueError, "restarts must be at least 1"),
    (
        lambda ix: ix.search(np.zeros(4), k=1, n_threads=0),
        ValueError,
        "n_threads must be at least 1",
    ),
    (lambda ix: ix.search(np.zeros(4), k=1, entry="hub"), ValueError, "entry must be 'random'"),
    (lambda ix: ix.search(np.zeros(4), k=1, entry="auto"), ValueError, "entry must be 'random'"),
    (
        lambda ix: ix.search(np.zeros(4), k=1, quantized=True),
        ValueError,
        "turn them on with set_codes first",
    ),
    (
        lambda ix: Index(4, graph="nsw").search(np.zeros(4), entry="hierarchy"),
        ValueError,
        "the index is empty",
    ),
    (
        lambda ix: ix.search(np.zeros(4), k=1, entry="euclidean"),
        ValueError,
        "entry 'euclidean' needs a DTW index of series of one length",
    ),
    (lambda ix: Index(4, graph="flat"), ValueError, "graph must be 'hnsw' or 'nsw'"),
    (lambda ix: Index(4, hierarchy=True), TypeError, "unexpected keyword argument 'hierarchy'"),
    (lambda ix: ix.add(np.zeros((1, 4)), ids=[0]), ValueError, "duplicate id 0"),
    (lambda ix: ix.add(np.zeros((2, 4)), ids=[8, 8]), ValueError, "duplicate id 8"),
    (lambda ix: ix.add(np.zeros((1, 4)), ids=[-3]), ValueError, "non-negative, got -3"),
    (
        lambda ix: ix.add(np.zeros((2, 4)), ids=[5]),
        ValueError,
        "ids has 1 entries but vectors has 2",
    ),
    (lambda ix: ix.add(np.zeros((1, 4)), ids=[1.5]), TypeError, "ids must be integers"),
    (lambda ix: ix.get_vectors([42]), KeyError, "id 42 is not in the index"),
    (lambda ix: Index(0), ValueError, "dim must be between 1 and 16777216, got 0"),
    (
        lambda ix: Index(4, "manhattan"),
        ValueError,
        "metric must be 'euclidean', 'cosine', 'ip' or 'dtw'",
    ),
    (lambda ix: Index(4, band=2), ValueError, "band is only meaningful with metric='dtw'"),
    (lambda ix: Index(4, "dtw", band=-1), ValueError, "band must be a non-negative integer"),
    (lambda ix: Index(4, "dtw", band=5), ValueError, "band must be between 0 and dim=4"),
    (lambda ix: Index(4, max_degree=1), ValueError, "max_degree must be between 2 and 4096, got 1"),
    (lambda ix: Index(4).search(np.zeros(4)), ValueError, "the index is empty"),
    (
        lambda ix: ix.search(np.zeros(4), k=1, max_distance=1.0),
        ValueError,
        r"max_distance limits the exact search only \(give exact=True\)",
    ),
    (
        lambda ix: ix.search(np.zeros(4), k=1, exact=True, max_distance=-0.5),
        ValueError,
        "max_distance must be >= 0 .* got -0.5 at query 0",
    ),
    (
        lambda ix: ix.search(np.zeros((2, 4)), k=1, exact=True, max_distance=[1.0, np.nan]),
        ValueError,
        "max_distance must be >= 0 .* got NaN at query 1",
    ),
    (
        lambda ix: ix.search(np.zeros((2, 4)), k=1, exact=True, max_distance=[1.0]),
        ValueError,
        r"max_distance needs one value per query \(2\), got 1",
    ),
    (
        lambda ix: ix.search(np.zeros(4), k=1, exact=True, max_distance=[[1.0]]),
        ValueError,
        "max_distance must be a number or 1-D, got a 2-D array",
    ),
    (
        lambda ix: ix.search(np.zeros(4), k=1, exact=True, max_distance="1"),
        TypeError,
        "max_distance must be a real number",
    ),
]


@pytest.mark.parametrize("call,exc,pattern", BAD_INPUTS)
def test_bad_input_battery(call, exc, pattern):
    index = Index(4)
    index.add(np.eye(4)[:3])
    with pytest.raises(exc, match=pattern):
        call(index)
    assert len(index) == 3, "a failed call must not change the index"


def test_save_load_info_pickle(tmp_path, uniform32, built):
    _, queries = uniform32
    path = tmp_path / "idx.nswg"
    built.save(path)
    info = Index.info(path)
    assert info["dim"] == 32 and info["n"] == len(built) and info["metric"] == "euclidean"
    assert info["version"] == 2 and info["max_degree"] == 32  # layers by default: format 2
    assert info["pending"] == 0
    flat = Index(32, graph="nsw")
    flat.add(queries)
    flat.save(tmp_path / "flat.nswg")
    # Stored, not yet built: format 3, every row pending; built, the flat graph's format 1.
    assert (Index.info(tmp_path / "flat.nswg")["version"], flat.pending) == (3, len(queries))
    assert Index.info(tmp_path / "flat.nswg")["pending"] == len(queries)
    pending = Index.load(tmp_path / "flat.nswg")
    assert (pending.pending, pending.graph) == (len(queries), "nsw")
    flat.build(n_threads=1)
    flat.save(tmp_path / "flat.nswg")
    info = Index.info(tmp_path / "flat.nswg")
    assert (info["version"], info["pending"]) == (1, 0)
    pending.build(n_threads=1)
    assert pickle.dumps(pending) == pickle.dumps(flat), "building after a load changed the graph"
    back = Index.load(str(path))
    a, b = built.search(queries, 5), back.search(queries, 5)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.distances, b.distances)
    c = pickle.loads(pickle.dumps(built)).search(queries, 5)
    np.testing.assert_array_equal(a.ids, c.ids)


def test_dtw_round_trip_keeps_band(tmp_path, walks):
    data, queries = walks
    index = Index(40, "dtw", band=3, seed=5)
    index.add(data, ids=np.arange(1000, 1400))
    index.save(tmp_path / "d.nswg")
    back = Index.load(tmp_path / "d.nswg")
    assert (back.metric, back.band, back.build_params["seed"]) == ("dtw", 3, 5)
    np.testing.assert_array_equal(back.ids, np.arange(1000, 1400))
    np.testing.assert_array_equal(index.search(queries, 3).ids, back.search(queries, 3).ids)


def test_corrupt_truncated_future_files(tmp_path):
    index = Index(4)
    index.add(np.arange(40, dtype=np.float32).reshape(10, 4))
    good = tmp_path / "good.nswg"
    index.save(good)
    raw = good.read_bytes()
    cases = {
        "truncated": raw[: len(raw) // 2],
        "corrupt": raw[:100] + bytes([raw[100] ^ 0xFF]) + raw[101:],
        "future": raw[:8] + (7).to_bytes(4, "little") + raw[12:],
        "garbage": b"hello world, not an index",
    }
    for name, blob in cases.items():
        p = tmp_path / f"{name}.nswg"
        p.write_bytes(blob)
        pattern = "format version 7" if name == "future" else "not a valid nswg index file"
        with pytest.raises(IndexFormatError, match=pattern):
            Index.load(p)
    assert issubclass(IndexFormatError, ValueError)
    with pytest.raises(FileNotFoundError):
        Index.load(tmp_path / "missing.nswg")
    with pytest.raises(IsADirectoryError):
        Index.load(tmp_path)


def test_chunked_add_progress_and_reproducibility(uniform32):
    data, queries = uniform32
    calls: list[tuple[int, int]] = []
    a = Index(32, seed=1)
    a.add(data)
    a.build(n_threads=1, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (10_000, 10_000) and len(calls) >= 2
    b = Index(32, seed=1)
    for chunk in np.array_split(data, 7):
        b.add(chunk)
        b.build(n_threads=1)
    assert pickle.dumps(a) == pickle.dumps(b), "chunking changed the graph"


@pytest.mark.timeout(60)
def test_progress_callback_can_stop_a_build_but_not_reenter_the_index(uniform32):
    data, _ = uniform32
    index = Index(32)
    seen: list[str] = []

    other = Index(32)
    other.add(data[:10])

    def reenter(done: int, total: int) -> None:
        assert len(other) == 10  # another index is free to use
        try:
            len(index)  # would wait forever for the lock the build holds
        except ValueError as e:
            seen.append(str(e))

    index.add(data[:9000])
    index.build(progress=reenter)
    assert len(index) == 9000 and seen and "cannot use the index being built" in seen[0]
    assert index.last_build["repair_passes"] == 1

    class Stop(Exception):
        pass

    def stop_after_first(done: int, total: int) -> None:
        raise Stop(f"{done} of {total}")

    index.add(data[:9000], ids=np.arange(10_000, 19_000))
    with pytest.raises(Stop, match="8192 of 9000"):
        index.build(progress=stop_after_first)
    # Every row stays stored, the first piece linked (as after Ctrl-C); the index is usable.
    assert len(index) == 18_000 and index.pending == 9000 - 8192
    assert 10_000 + 8191 in index and 10_000 + 8192 in index
    assert index.search(data[:5], 1, exact=True).ids.shape == (5, 1)
    assert index.pending == 9000 - 8192, "an exact search builds nothing"
    index.link_orphans()
    assert index.search(data[:5], 1).ids.shape == (5, 1)
    assert index.pending == 0, "a graph search builds what is pending"


def test_threads_give_serial_answers(uniform32, built):
    _, queries = uniform32
    serial = built.search(queries, 10, n_threads=1)
    batch = built.search(queries, 10)
    np.testing.assert_array_equal(serial.ids, batch.ids)
    results: dict[int, np.ndarray] = {}

    def work(t: int) -> None:
        results[t] = np.vstack([built.search(q, 10).ids for q in queries[t::8]])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for t in range(8):
        np.testing.assert_array_equal(results[t], serial.ids[t::8])


@pytest.mark.timeout(120)
def test_add_while_searching(uniform32):
    data, queries = uniform32
    index = Index(32)
    index.add(data[:2000])
    stop = threading.Event()
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            while not stop.is_set():
                index.search(queries[:20], 5)
        except BaseException as e:  # noqa: BLE001 - recorded and re-checked below
            errors.append(e)

    t = threading.Thread(target=searcher)
    t.start()
    for chunk in np.array_split(data[2000:6000], 8):
        index.add(chunk)
    stop.set()
    t.join(timeout=60)
    assert not errors and len(index) == 6000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.timeout(120)
def test_search_in_forked_child(uniform32, built):
    _, queries = uniform32
    expected = built.search(queries, 5).ids  # starts the thread pool in the parent
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not hang on the parent's pool
        try:
            ok = np.array_equal(built.search(queries, 5).ids, expected)
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.waitpid(pid, 0)
    assert got == b"1"


def test_pivot_entry_matches_exact_and_rejects_unknown_modes(uniform32, built):
    data, queries = uniform32
    exact = built.search(queries[:50], k=10, exact=True)
    wide = built.search(queries[:50], k=10, ef=len(data), entry="pivots")
    np.testing.assert_array_equal(wide.ids, exact.ids)
    np.testing.assert_allclose(wide.distances, exact.distances, rtol=1e-5)
    truth = built.search(queries, k=10, exact=True).ids
    r = recall(built.search(queries, k=10, entry="pivots").ids, truth)
    assert r >= 0.95, f"pivot-entry recall@10 at default ef = {r:.4f}"
    one = built.search(queries[0], k=10, entry="pivots", n_threads=1)
    np.testing.assert_array_equal(
        one.ids[0], built.search(queries[:1], k=10, entry="pivots").ids[0]
    )
    with pytest.raises(ValueError, match="entry"):
        built.search(queries[:1], k=10, entry="hub")


# The contract every search mode keeps: with a beam as large as the index, the graph search
# returns exactly the exact search's answer. One row per (graph, entry, quantized, metric).
MODES = [
    (graph, entry, quantized, metric)
    for metric in ("euclidean", "dtw")
    for graph in ("hnsw", "nsw")
    for entry in (None, "random", "pivots", "hierarchy", "euclidean")
    for quantized in (False, True)
    if not (entry in ("hierarchy", "euclidean") and graph == "nsw")
    and not (quantized and metric == "dtw")
    and not (entry == "euclidean" and metric != "dtw")
]


@pytest.fixture(scope="module")
def mode_indexes():
    rng = np.random.default_rng(5)
    walk_data = np.cumsum(rng.normal(size=(400, 24)), axis=1).astype(np.float32)
    queries = walk_data[:12] + np.float32(0.1)
    built = {}
    for metric in ("euclidean", "dtw"):
        for graph in ("hnsw", "nsw"):
            ix = Index(24, metric, band=3 if metric == "dtw" else None, graph=graph)
            ix.add(walk_data)
            if metric == "euclidean":
                ix.set_codes(True)
            built[graph, metric] = ix
    return built, queries


@pytest.mark.parametrize("graph,entry,quantized,metric", MODES)
def test_every_mode_with_a_full_beam_equals_exact(mode_indexes, graph, entry, quantized, metric):
    built, queries = mode_indexes
    ix = built[graph, metric]
    assert ix.graph == graph and ix.build_params["graph"] == graph
    got = ix.search(queries, k=5, ef=len(ix), entry=entry, quantized=quantized)
    want = ix.search(queries, k=5, exact=True)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.distances, want.distances, rtol=1e-5)
    assert (got.visited >= len(ix)).all()  # a full beam considers every node
    if not quantized:  # every float distance is a visit (a quantized walk also re-ranks)
        assert (got.visited >= got.distance_calls).all()


def test_default_graph_is_hnsw_and_reaches_recall(uniform32, built):
    data, queries = uniform32
    assert built.graph == "hnsw" and built.build_params["graph"] == "hnsw"
    truth = built.search(queries, k=10, exact=True).ids
    r = recall(built.search(queries, k=10).ids, truth)
    assert r >= 0.95, f"recall@10 at the defaults = {r:.4f}"
    same = built.search(queries, k=10, entry="hierarchy")
    np.testing.assert_array_equal(same.ids, built.search(queries, k=10).ids)
    nsw = Index(32, graph="nsw")
    nsw.add(data[:500])
    with pytest.raises(ValueError, match="'hierarchy' needs an index built with graph='hnsw'"):
        nsw.search(queries[:2], 3, entry="hierarchy")
    # The flat graph's own entry is random.
    np.testing.assert_array_equal(
        nsw.search(queries, 5).ids, nsw.search(queries, 5, entry="random").ids
    )


def test_layered_save_load_round_trip(tmp_path, uniform32, built):
    _, queries = uniform32
    path = tmp_path / "hier.nswg"
    built.save(path)
    info = Index.info(path)
    assert info["version"] == 2 and info["graph"] == "hnsw"
    back = Index.load(path)
    assert back.build_params == built.build_params
    a = built.search(queries, 5)
    b = back.search(queries, 5)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.distances, b.distances)
    c = pickle.loads(pickle.dumps(built)).search(queries, 5)
    np.testing.assert_array_equal(a.ids, c.ids)


def test_quantized_search_recall_and_codes_follow_adds_and_loads(tmp_path, uniform32):
    data, queries = uniform32
    ix = Index(data.shape[1])
    ix.add(data[:5000])
    truth = ix.search(queries, 10, exact=True).ids

    def recall(res):
        return np.mean([len(set(a) & set(b)) / 10 for a, b in zip(res.ids, truth, strict=True)])

    r_float = recall(ix.search(queries, 10, ef=32))
    ix.set_codes(True)
    r_codes = recall(ix.search(queries, 10, ef=32, quantized=True))
    assert abs(r_codes - r_float) <= 0.01, (r_codes, r_float)
    # Rows added later (some outside the first ranges) are coded too: each is found.
    extra = data[5000:5200] * 1.5 - 0.25
    ids = ix.add(extra)
    got = ix.search(extra, 1, ef=64, quantized=True).ids[:, 0]
    assert np.mean(got == ids) >= 0.99
    # Codes are not saved: a loaded index has none until asked, then answers the same.
    path = tmp_path / "ix.nswg"
    ix.save(path)
    again = Index.load(path)
    assert not again.has_codes
    again.set_codes(True)
    a = ix.search(queries, 10, ef=32, quantized=True, n_threads=1)
    b = again.search(queries, 10, ef=32, quantized=True, n_threads=1)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.distances, b.distances)


def test_quantized_search_needs_euclidean(walks):
    data, queries = walks
    ix = Index(data.shape[1], metric="dtw", band=2)
    ix.add(data[:50])
    with pytest.raises(ValueError, match="quantized"):
        ix.search(queries[:2], 3, quantized=True)
    ix.search(queries[:2], 3, quantized=True, exact=True)  # exact search ignores it


def test_codes_are_made_on_demand_and_can_be_dropped(uniform32):
    data, queries = uniform32
    ix = Index(data.shape[1])
    ix.add(data[:500])
    assert not ix.has_codes
    with pytest.raises(ValueError, match="turn them on with set_codes first"):
        ix.search(queries[:3], 3, quantized=True)
    assert not ix.has_codes  # a search never changes the index
    ix.set_codes(True)
    ix.search(queries[:3], 3, quantized=True)
    assert ix.has_codes
    ix.set_codes(False)
    assert not ix.has_codes
    ix.set_codes(True)
    assert ix.has_codes
    dtw = Index(8, metric="dtw", band=1)
    with pytest.raises(ValueError, match="quantized"):
        dtw.set_codes(True)


FIXTURES = Path(__file__).resolve().parents[1] / "nswg-rs" / "tests" / "data"


@pytest.mark.parametrize("metric", ["euclidean", "dtw"])
@pytest.mark.parametrize("graph", ["nsw", "hnsw"])
def test_files_of_release_0_1_0_load_and_rebuild_identically(metric, graph):
    # Index files written by pyembed 0.1.0 (before the core was split) keep loading with the exact
    # answers that release wrote next to them, and the same data and parameters build the same
    # bytes today (n_threads=1 is the bit-reproducible mode).
    name = f"v0.1.0-{metric}-{'layered' if graph == 'hnsw' else 'flat'}"
    back = Index.load(FIXTURES / f"{name}.nswg")
    assert back.graph == graph and back.metric == metric
    lines = [
        line
        for line in (FIXTURES / f"{name}.expected.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    k, dim, nq = map(int, lines[0].split())
    queries = np.array([line.split() for line in lines[1 : 1 + nq]], dtype=np.float32)
    pairs = [[p.split(":") for p in line.split()] for line in lines[1 + nq :]]
    want_ids = np.array([[int(i) for i, _ in row] for row in pairs])
    want_d = np.array([[float(d) for _, d in row] for row in pairs], dtype=np.float32)
    got = back.search(queries, k, exact=True)
    np.testing.assert_array_equal(got.ids, want_ids)
    np.testing.assert_array_equal(got.distances, want_d)
    rng = np.random.default_rng(2026)
    walks = np.cumsum(rng.normal(size=(120, dim)), axis=1).astype(np.float32)
    again = Index(
        dim, metric, band=3 if metric == "dtw" else None, max_degree=8, graph=graph, seed=7
    )
    again.add(walks, ids=np.arange(1000, 1120))
    again.build(n_threads=1)
    assert pickle.dumps(again) == pickle.dumps(back)


def test_default_ids_never_reuse_a_stored_id(tmp_path):
    # Found by the Rust property tests: default ids were len(index)..., so after ids=[1] an add
    # without ids gave 1 again (stored twice; the saved file did not load).
    ix = Index(1)
    ix.add(np.zeros((1, 1)), ids=[1])
    np.testing.assert_array_equal(ix.add(np.ones((2, 1))), [2, 3])
    ix.add(np.ones((1, 1)), ids=[10])
    np.testing.assert_array_equal(ix.add(np.ones((1, 1))), [11])
    ix.save(tmp_path / "i.nswg")
    again = Index.load(tmp_path / "i.nswg")
    np.testing.assert_array_equal(again.ids, [1, 2, 3, 10, 11])
    np.testing.assert_array_equal(again.add(np.ones((1, 1))), [12])
    top = Index(1)
    top.add(np.zeros((1, 1)), ids=[2**63 - 2])
    np.testing.assert_array_equal(top.add(np.ones((1, 1))), [2**63 - 1])
    with pytest.raises(ValueError, match="ids cannot be assigned"):
        top.add(np.ones((1, 1)))
    assert len(top) == 2


def test_the_graph_is_built_when_a_graph_search_first_needs_it(walks):
    data, queries = walks
    lazy = Index(40, "dtw", band=3)
    for part in np.array_split(data, 3):
        lazy.add(part)
    assert lazy.pending == len(data) and lazy.last_build == {}
    # Exact search works on the stored rows alone and builds nothing.
    exact = lazy.search(queries, 3, exact=True)
    assert lazy.pending == len(data) and lazy.last_build == {}
    # A bad argument is refused before any build.
    with pytest.raises(ValueError, match="k must be between"):
        lazy.search(queries, 0)
    assert lazy.pending == len(data)
    # The first graph search links everything first, with its threads.
    graph = lazy.search(queries, 3, ef=len(data), n_threads=1)
    assert lazy.pending == 0 and lazy.last_build["distance_calls"] > len(data)
    np.testing.assert_array_equal(graph.ids, exact.ids)
    eager = Index(40, "dtw", band=3)
    eager.add(data)
    eager.build(n_threads=1)
    assert pickle.dumps(lazy) == pickle.dumps(eager), "the lazy graph differs from the eager one"
    # A later add leaves the new rows pending until the next graph search (or build).
    lazy.add(queries[:5])
    assert lazy.pending == 5 and lazy.neighbors(len(data)).size == 0
    assert lazy.search(queries[:5], 1).ids[:, 0].tolist() == list(range(len(data), len(data) + 5))
    assert lazy.pending == 0 and lazy.last_build["distance_calls"] > 0
    assert lazy.build() == {"distance_calls": 0, "repair_passes": 0, "orphans_linked": 0}


@pytest.mark.parametrize("exact", [False, True])
def test_pruning_changes_no_answer(walks, exact):
    data, queries = walks
    index = Index(40, "dtw", band=4)
    index.add(data)
    on = index.search(queries, 5, exact=exact, n_threads=1)
    off = index.search(queries, 5, exact=exact, n_threads=1, prune=False)
    np.testing.assert_array_equal(on.ids, off.ids)
    np.testing.assert_array_equal(on.distances, off.distances)
    assert (off.lb_pruned == 0).all() and (off.abandoned == 0).all()
    np.testing.assert_array_equal(off.distance_calls, off.visited)
    assert on.distance_calls.sum() < off.distance_calls.sum()


def test_add_with_the_old_build_arguments_still_builds_with_a_warning(walks):
    data, _ = walks
    calls: list[tuple[int, int]] = []
    old = Index(40, "dtw", band=3)
    with pytest.warns(DeprecationWarning, match="call build"):
        old.add(data, n_threads=1, progress=lambda done, total: calls.append((done, total)))
    assert old.pending == 0 and calls[-1] == (len(data), len(data))
    new = Index(40, "dtw", band=3)
    new.add(data)
    new.build(n_threads=1)
    assert pickle.dumps(old) == pickle.dumps(new)
    refused = Index(4)
    with pytest.raises(ValueError, match="n_threads must be at most 1024"):
        refused.add(np.zeros((2, 4)), n_threads=5000)
    assert len(refused) == 0, "a refused add stores nothing"
