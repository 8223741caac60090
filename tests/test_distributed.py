"""Sharded indexes on the local backend (threads, no Ray): routing, merging, exact and graph
oracles against one index, adds in every input form, save/load and bad input. The Ray backend
runs the same code paths on a real local cluster in ``test_distributed_ray.py``."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pyembed import Index, IndexFormatError
from pyembed.distributed import (
    ShardedIndex,
    ShardedSearchResult,
    ShardUnavailableError,
    merge,
    shard_of,
)
from pyembed.index import COUNTERS


def _splitmix64(i: int) -> int:
    """Steele, Lea & Flood's splitmix64 finalizer in plain Python integers (the reference)."""
    m = 2**64 - 1
    z = (i + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def test_routing_is_the_documented_hash_and_balanced():
    ids = np.array([0, 1, 2, 3, 12345, 2**40 + 7, 2**63 - 1], dtype=np.int64)
    for n in (1, 2, 3, 7):
        np.testing.assert_array_equal(shard_of(ids, n), [_splitmix64(int(i)) % n for i in ids])
    counts = np.bincount(shard_of(np.arange(100_000), 4), minlength=4)
    assert counts.min() > 24_000, counts


def test_merge_orders_by_distance_then_id_and_pads():
    c = len(COUNTERS)
    a = (np.array([[5, 9]]), np.array([[1.0, 2.0]], np.float32), np.ones((c, 1), np.int64))
    b = (np.array([[3, -1]]), np.array([[2.0, np.inf]], np.float32), np.ones((c, 1), np.int64))
    ids, dist, counters = merge([a, b], 3, 1, c)
    np.testing.assert_array_equal(ids, [[5, 3, 9]])  # the tie at 2.0 goes to the smaller id
    np.testing.assert_array_equal(dist, np.array([[1.0, 2.0, 2.0]], np.float32))
    assert (counters == 2).all()
    ids, dist, _ = merge([b], 4, 1, c)
    np.testing.assert_array_equal(ids, [[3, -1, -1, -1]])
    assert np.isinf(dist[0, 1:]).all()
    ids, _, counters = merge([], 2, 3, c)
    assert ids.shape == (3, 2) and (ids == -1).all() and counters.shape == (c, 3)


@pytest.mark.parametrize("n_shards", [1, 2, 3, 5])
@pytest.mark.parametrize("metric", ["euclidean", "dtw"])
def test_sharded_exact_equals_one_index(walks, metric, n_shards):
    data, queries = walks
    band = 4 if metric == "dtw" else None
    one = Index(40, metric, band=band)
    one.add(data)
    want = one.search(queries, 7, exact=True)
    with ShardedIndex(40, metric, band=band, n_shards=n_shards) as sharded:
        sharded.add(data)
        assert sum(sharded.shard_sizes) == len(data) == len(sharded)
        got = sharded.search(queries, 7, exact=True)
        assert isinstance(got, ShardedSearchResult) and got.missing_shards == ()
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_array_equal(got.distances, want.distances)
        # Every row is considered by exactly one shard: the work adds up to one scan.
        assert ((got.distance_calls + got.lb_pruned) == len(data)).all()


def test_shared_bound_changes_no_answer_and_saves_full_dtws(walks):
    data, queries = walks
    with ShardedIndex(40, "dtw", band=4, n_shards=4) as sharded:
        sharded.add(data)
        shared = sharded.search(queries, 3, exact=True)  # the default for exact DTW
        alone = sharded.search(queries, 3, exact=True, share_bound=False)
        np.testing.assert_array_equal(shared.ids, alone.ids)
        np.testing.assert_array_equal(shared.distances, alone.distances)
        assert shared.distance_calls.sum() < alone.distance_calls.sum(), (
            shared.distance_calls.sum(),
            alone.distance_calls.sum(),
        )
        with pytest.raises(ValueError, match="share_bound needs exact=True"):
            sharded.search(queries, 3, share_bound=True)


def test_sharded_graph_search_reaches_the_single_index_recall(uniform32):
    data, queries = uniform32
    truth = Index(32)
    truth.add(data)
    exact = truth.search(queries, 10, exact=True).ids

    def recall(ids: np.ndarray) -> float:
        return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)]))

    for ef in (10, 32):
        single = recall(truth.search(queries, 10, ef=ef).ids)
        with ShardedIndex(32, n_shards=3) as sharded:
            sharded.add(data)
            got = recall(sharded.search(queries, 10, ef=ef).ids)
        assert got >= single - 0.005, f"ef={ef}: sharded recall {got:.3f} vs one index {single:.3f}"


def test_every_input_form_routes_ids_by_the_hash(walks):
    data, _ = walks
    sharded = ShardedIndex(40, n_shards=3)
    first = sharded.add(data[:100])
    np.testing.assert_array_equal(first, np.arange(100))
    given = sharded.add(data[100:150], ids=np.arange(1000, 1050))
    batches = sharded.add(iter([data[150:200], data[200:260]]))
    np.testing.assert_array_equal(batches, np.arange(1050, 1160))  # after the largest id so far
    pairs = sharded.add(
        [(data[260:300], np.arange(5000, 5040)), (data[300:310], np.arange(7, 17) + 9000)]
    )
    np.testing.assert_array_equal(pairs[:3], [5000, 5001, 5002])
    seen: list[int] = []
    sizes = sharded.shard_sizes
    for number, shard in enumerate(sharded.actors):
        ids = shard.index.ids
        assert (shard_of(ids, 3) == number).all()
        assert len(ids) == sizes[number]
        seen += ids.tolist()
    assert sorted(seen) == sorted(np.concatenate([first, given, batches, pairs]).tolist())
    # Each row is stored under its global id, with its own vector.
    res = sharded.search(data[120:125], 1, exact=True)
    np.testing.assert_array_equal(res.ids[:, 0], np.arange(1020, 1025))
    np.testing.assert_array_equal(
        sharded.actors[int(shard_of([1020], 3)[0])].index.get_vectors([1020])[0], data[120]
    )


BAD_ADDS = [
    (lambda s, d: s.add(d[:3, :5]), ValueError, "vectors has 5 columns but the index has dim=40"),
    (
        lambda s, d: s.add(np.where(np.arange(40) == 3, np.nan, d[:2])),
        ValueError,
        "non-finite value at row 0, column 3",
    ),
    (lambda s, d: s.add(d[:2], ids=[1, 1]), ValueError, "duplicate id 1 in ids"),
    (lambda s, d: s.add(d[:2], ids=[999, 4]), ValueError, "duplicate id 4: it is already stored"),
    (lambda s, d: s.add(d[:2], ids=[-5, 1000]), ValueError, "non-negative, got -5"),
    (lambda s, d: s.add(d[:2], ids=[1000]), ValueError, "ids has 1 entries but vectors has 2 rows"),
    (lambda s, d: s.add(d[:2].astype(bool)), TypeError, "dtype bool"),
    (
        lambda s, d: s.add(d[:2], n_threads=5000),
        ValueError,
        "n_threads must be at most 1024, got 5000",
    ),
    (lambda s, d: s.add(d[:2], n_threads=0), ValueError, "n_threads must be at least 1"),
    (lambda s, d: s.search(d[:1], timeout="1"), TypeError, "timeout must be a number of seconds"),
    (lambda s, d: s.search(d[:1], timeout=-1), ValueError, "timeout must be >= 0 seconds"),
    (lambda s, d: shard_of([1], 0), ValueError, "n_shards must be at least 1, got 0"),
    (lambda s, d: s.add(iter([d[:2]]), ids=[1, 2]), ValueError, "ids goes with an array"),
    (
        lambda s, d: s.add(d[:2], column="x"),
        ValueError,
        "column and id_column are for a Ray Dataset",
    ),
    (
        lambda s, d: s.search(d[:1, :3]),
        ValueError,
        "queries has 3 columns but the index has dim=40",
    ),
    (
        lambda s, d: s.search(d[:1], k=0),
        ValueError,
        r"k must be between 1 and len\(index\)=10, got 0",
    ),
    (
        lambda s, d: s.search(d[:1], k=11),
        ValueError,
        r"k must be between 1 and len\(index\)=10, got 11",
    ),
    (lambda s, d: s.search(d[:1], k=1, ef=0), ValueError, "ef must be at least 1"),
    (lambda s, d: s.save(), ValueError, "save needs a directory"),
    (lambda s, d: ShardedIndex(40, n_shards=0), ValueError, "n_shards must be at least 1, got 0"),
    (
        lambda s, d: ShardedIndex(40, n_shards=2, backend="dask"),
        ValueError,
        "backend must be 'local' or 'ray'",
    ),
    (
        lambda s, d: ShardedIndex(40, n_shards=2, ray_options={}),
        ValueError,
        "ray_options needs backend='ray'",
    ),
    (
        lambda s, d: ShardedIndex(40, "dtw", band=41, n_shards=2),
        ValueError,
        "band must be between 0 and dim=40",
    ),
    (lambda s, d: ShardedIndex(40, n_shards=2.5), TypeError, "n_shards must be an integer"),
    (lambda s, d: ShardedIndex(40, n_shards=2).search(d[:1]), ValueError, "the index is empty"),
]


@pytest.mark.parametrize("call,exc,pattern", BAD_ADDS)
def test_bad_input_changes_nothing(walks, call, exc, pattern):
    data, _ = walks
    sharded = ShardedIndex(40, n_shards=3)
    sharded.add(data[:10])
    before = [s.index.ids.tolist() for s in sharded.actors]
    with pytest.raises(exc, match=pattern):
        call(sharded, data)
    assert [s.index.ids.tolist() for s in sharded.actors] == before
    assert len(sharded) == 10
    assert sharded.search(data[:1], 1, exact=True).missing_shards == ()
    assert sharded.add(data[:1])[0] == 10  # the next default id did not move


def test_get_vectors_and_contains_find_rows_in_their_shards(walks):
    data, _ = walks
    sharded = ShardedIndex(40, n_shards=3)
    sharded.add(data[:50], ids=np.arange(50) * 7)
    np.testing.assert_array_equal(sharded.get_vectors([14, 0, 343]), data[[2, 0, 49]])
    assert 343 in sharded and 344 not in sharded and -1 not in sharded and "a" not in sharded
    with pytest.raises(KeyError, match="id 3 is not in the index"):
        sharded.get_vectors([0, 3])


def test_a_shard_smaller_than_k_is_padded_by_the_others(walks):
    data, queries = walks
    sharded = ShardedIndex(40, n_shards=4)
    sharded.add(data[:6])  # some shards hold one or two rows
    assert min(sharded.shard_sizes) < 5
    one = Index(40)
    one.add(data[:6])
    got = sharded.search(queries, 6, exact=True)
    np.testing.assert_array_equal(got.ids, one.search(queries, 6, exact=True).ids)


def test_save_load_round_trip_and_generations(tmp_path, walks):
    data, queries = walks
    folder = tmp_path / "shards"
    sharded = ShardedIndex(40, "dtw", band=3, n_shards=3, directory=folder, seed=11)
    sharded.add(data[:300])
    sharded.save()
    first = sorted(os.listdir(folder))
    assert first == ["manifest.json"] + [f"shard-{i:04d}.g1.nswg" for i in range(3)]
    sharded.add(data[300:])
    sharded.save()
    assert sorted(os.listdir(folder)) == ["manifest.json"] + [
        f"shard-{i:04d}.g2.nswg" for i in range(3)
    ]
    m = json.loads((folder / "manifest.json").read_text())
    assert (
        m["generation"] == 2 and m["next_id"] == 400 and sum(s["len"] for s in m["shards"]) == 400
    )
    back = ShardedIndex.load(folder)
    assert (back.dim, back.metric, back.band, back.n_shards, back.shard_sizes) == (
        40,
        "dtw",
        3,
        3,
        sharded.shard_sizes,
    )
    for exact in (True, False):
        a, b = sharded.search(queries, 5, exact=exact), back.search(queries, 5, exact=exact)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.distances, b.distances)
    assert back.add(data[:1])[0] == 400  # ids go on after the saved ones
    assert Index.load(folder / m["shards"][1]["file"]).build_params["seed"] == 12  # seed + shard
    with pytest.raises(ValueError, match="already holds a sharded index"):
        ShardedIndex(40, n_shards=2, directory=folder)


def test_load_errors_name_the_file(tmp_path, walks):
    data, _ = walks
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        ShardedIndex.load(tmp_path)
    sharded = ShardedIndex(40, n_shards=2)
    sharded.add(data[:50])
    sharded.save(tmp_path / "a")
    manifest = tmp_path / "a" / "manifest.json"
    good = manifest.read_text()
    m = json.loads(good)
    cases = [
        ("{not json", "not a sharded-index manifest"),
        (json.dumps({**m, "format": "other"}), "format is not 'pyembed-sharded'"),
        (json.dumps({**m, "version": 99}), "manifest version 99; this build reads up to 1"),
        (json.dumps({**m, "n_shards": 3}), "lists 2 shards but n_shards is 3"),
        (
            json.dumps({**m, "shards": [{"file": "../x", "len": 1}, m["shards"][1]]}),
            "entry of shard 0 is malformed",
        ),
        (
            json.dumps({**m, "shards": [{**m["shards"][0], "len": 7}, m["shards"][1]]}),
            "holds .* rows, the manifest says 7",
        ),
    ]
    for text, pattern in cases:
        manifest.write_text(text)
        with pytest.raises(IndexFormatError, match=pattern):
            ShardedIndex.load(tmp_path / "a")
    manifest.write_text(json.dumps({**m, "version": 99}))
    with pytest.raises(IndexFormatError, match="manifest version 99"):
        sharded.save(tmp_path / "a")  # a newer build's folder is not overwritten
    assert json.loads(manifest.read_text())["version"] == 99
    manifest.write_text(good)
    os.remove(tmp_path / "a" / m["shards"][1]["file"])
    with pytest.raises(FileNotFoundError, match="shard file named by the manifest is missing"):
        ShardedIndex.load(tmp_path / "a")


def test_a_save_killed_before_the_manifest_leaves_the_previous_save(tmp_path, walks, monkeypatch):
    # The shard files of the new generation are written, then the manifest write fails: the
    # folder still opens as the previous save.
    from pyembed.distributed import manifest as manifest_module

    data, queries = walks
    sharded = ShardedIndex(40, n_shards=2, directory=tmp_path)
    sharded.add(data[:200])
    sharded.save()
    want = sharded.search(queries, 3, exact=True).ids
    sharded.add(data[200:])

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(manifest_module, "write", fail)
    with pytest.raises(OSError, match="No space left"):
        sharded.save()
    back = ShardedIndex.load(tmp_path)
    assert len(back) == 200
    np.testing.assert_array_equal(back.search(queries, 3, exact=True).ids, want)


def test_a_shard_past_the_timeout_is_unavailable(walks):
    data, queries = walks
    many = np.concatenate([queries] * 20)
    with ShardedIndex(40, "dtw", band=8, n_shards=2) as sharded:
        sharded.add(np.concatenate([data] * 5))
        with pytest.raises(
            ShardUnavailableError, match=r"2 shard\(s\) did not answer .*TimeoutError"
        ):
            sharded.search(many, 5, exact=True, share_bound=False, timeout=1e-9)
        late = sharded.search(
            many, 5, exact=True, share_bound=False, timeout=1e-9, allow_partial=True
        )
        assert late.missing_shards == (0, 1) and (late.ids == -1).all()
        on_time = sharded.search(many, 5, exact=True)  # queued behind the late calls, no timeout
        assert on_time.missing_shards == () and (on_time.ids >= 0).all()


def test_a_shard_that_refuses_its_part_leaves_consistent_sizes(walks, monkeypatch):
    # An error raised inside a shard after the driver's checks (here: out of memory) leaves the
    # other shards' rows added; the sizes are taken from the shards again, so searches go on.
    data, queries = walks
    sharded = ShardedIndex(40, n_shards=3)
    sharded.add(data[:30])

    def refuse(*args: object, **kwargs: object) -> None:
        raise MemoryError("no room")

    monkeypatch.setattr(sharded.actors[1].index, "add", refuse)
    with pytest.raises(MemoryError, match="no room"):
        sharded.add(data[30:90])
    assert sharded.shard_sizes == tuple(len(s.index) for s in sharded.actors)
    got = sharded.search(queries, 3, exact=True)
    assert got.missing_shards == () and (got.ids >= 0).all()


def test_equal_reported_distances_merge_like_one_index():
    # Squared distances 25.0 and 25.000002 both report 5.0: one index and the shards keep the
    # smaller id, and a top 1 is the start of the top 2 (ids 3 and 2 route to different shards).
    rows = np.array([[3.0, 4.0], [3.0000002, 4.0]], np.float32)
    ids = np.array([3, 2])
    assert shard_of(ids, 2).tolist() in ([0, 1], [1, 0])
    one = Index(2)
    one.add(rows, ids=ids)
    sharded = ShardedIndex(2, n_shards=2)
    sharded.add(rows, ids=ids)
    for k in (1, 2):
        want = one.search([0.0, 0.0], k, exact=True)
        got = sharded.search([0.0, 0.0], k, exact=True)
        assert want.ids[0].tolist() == [2, 3][:k]
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_array_equal(got.distances, want.distances)


def test_adds_and_searches_from_threads(walks):
    # Two threads adding with default ids and two searching: every id once, the sizes the
    # shards hold, and no search mistakes a growing shard for one that lost rows.
    import threading

    data, queries = walks
    sharded = ShardedIndex(40, n_shards=3)
    sharded.add(data[:50])
    errors: list[BaseException] = []
    got: list[np.ndarray] = []
    stop = threading.Event()

    def adder() -> None:
        try:
            for _ in range(15):
                got.append(sharded.add(data[:20]))
        except BaseException as e:  # reported below
            errors.append(e)

    def searcher() -> None:
        try:
            while not stop.is_set():
                r = sharded.search(queries[:4], 3, exact=True)
                assert r.missing_shards == () and (r.ids >= 0).all()
        except BaseException as e:
            errors.append(e)

    adders = [threading.Thread(target=adder) for _ in range(2)]
    searchers = [threading.Thread(target=searcher) for _ in range(2)]
    for t in adders + searchers:
        t.start()
    for t in adders:
        t.join(timeout=120)
    stop.set()
    for t in searchers:
        t.join(timeout=120)
    assert not errors, errors
    all_ids = np.concatenate(got)
    assert len(np.unique(all_ids)) == len(all_ids) == 600
    assert len(sharded) == 650 == sum(len(s.index) for s in sharded.actors)


def test_array_likes_are_one_batch(walks):
    data, _ = walks

    class Frame:  # what a DataFrame or a tensor offers: __array__ and iteration over rows
        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

        def __iter__(self):
            return iter(self.a)

    sharded = ShardedIndex(40, n_shards=2)
    ids = sharded.add(Frame(data[:30]), ids=np.arange(30) + 100)
    np.testing.assert_array_equal(ids, np.arange(30) + 100)
    assert len(sharded) == 30
