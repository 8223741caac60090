"""Sharded indexes on a real local Ray cluster (``ray.init(num_cpus=2)``, one per module):
oracles against one index, Ray Datasets, save/load, and faults (an actor killed mid-query, a
shard gone for good, a restart that lost rows)."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from pyembed import Index
from pyembed.distributed import ShardedIndex, ShardUnavailableError, shard_of

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install '.[ray]')")

pytestmark = [
    pytest.mark.timeout(600),
    # Ray Data warns about its own deprecated settings on every start; not ours to fix.
    pytest.mark.filterwarnings(r"ignore::DeprecationWarning:ray(\..*)?"),
]


@pytest.fixture(scope="module", autouse=True)
def cluster():
    before = os.environ.get("RAY_USAGE_STATS_ENABLED")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # no usage statistics leave the machine
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()
    if before is None:
        del os.environ["RAY_USAGE_STATS_ENABLED"]
    else:
        os.environ["RAY_USAGE_STATS_ENABLED"] = before


@pytest.fixture(scope="module")
def series() -> tuple[np.ndarray, np.ndarray]:
    """3,000 random walks of length 128 and 400 queries (z-normalised), seeded."""
    rng = np.random.default_rng(16)
    x = np.cumsum(rng.normal(size=(3400, 128)), axis=1)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    x = x.astype(np.float32)
    return x[:3000], x[3000:]


def test_ray_exact_equals_one_index_and_graph_keeps_recall(series):
    data, queries = series
    one = Index(128, "dtw", band=12)
    one.add(data)
    want = one.search(queries, 5, exact=True)
    with ShardedIndex(128, "dtw", band=12, n_shards=3, backend="ray") as sharded:
        sharded.add(data)
        assert len(sharded.actors) == 3 and sharded.backend == "ray"
        got = sharded.search(queries, 5, exact=True)
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_array_equal(got.distances, want.distances)
        single = one.search(queries, 5, ef=16).ids
        graph = sharded.search(queries, 5, ef=16).ids

        def recall(ids: np.ndarray) -> float:
            return float(
                np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids, want.ids, strict=True)])
            )

        assert recall(graph) >= recall(single) - 0.005, (recall(graph), recall(single))
        np.testing.assert_array_equal(sharded.get_vectors([17, 5, 2999]), data[[17, 5, 2999]])
        assert 2999 in sharded and 3000 not in sharded
        # Each actor holds exactly the rows its ids route to.
        for number, actor in enumerate(sharded.actors):
            assert ray.get(actor.size.remote()) == sharded.shard_sizes[number]


def test_ray_dataset_feeds_the_build(series):
    data, queries = series
    one = Index(128)
    one.add(data[:1000])
    want = one.search(queries[:20], 3, exact=True)
    with ShardedIndex(128, n_shards=2, backend="ray") as sharded:
        ids = sharded.add(ray.data.from_numpy(data[:1000]), batch_size=300)
        np.testing.assert_array_equal(np.sort(ids), np.arange(1000))
        np.testing.assert_array_equal(sharded.search(queries[:20], 3, exact=True).ids, want.ids)
    items = [{"vec": data[i], "key": 10_000 + i} for i in range(200)]
    with ShardedIndex(128, n_shards=2, backend="ray") as sharded:
        ids = sharded.add(ray.data.from_items(items), column="vec", id_column="key")
        np.testing.assert_array_equal(np.sort(ids), 10_000 + np.arange(200))
        hit = sharded.search(data[:5], 1, exact=True).ids[:, 0]
        np.testing.assert_array_equal(hit, 10_000 + np.arange(5))
        with pytest.raises(ValueError, match="name the vectors' one with column="):
            sharded.add(ray.data.from_items(items))


def test_ray_save_load_round_trip(tmp_path, series):
    data, queries = series
    with ShardedIndex(128, "dtw", band=6, n_shards=2, backend="ray") as sharded:
        sharded.add(data[:800])
        sharded.save(tmp_path)
        want = sharded.search(queries[:30], 4, exact=True)
    for backend in ("ray", "local"):
        with ShardedIndex.load(tmp_path, backend=backend) as back:
            got = back.search(queries[:30], 4, exact=True)
            np.testing.assert_array_equal(got.ids, want.ids)
            np.testing.assert_array_equal(got.distances, want.distances)


def test_actor_killed_mid_query_is_restarted_from_its_file_and_the_query_retried(tmp_path, series):
    data, queries = series
    one = Index(128, "dtw", band=12)
    one.add(data)
    many = np.concatenate([queries] * 3)  # a query batch that keeps every shard busy for a while
    want = one.search(many, 3, exact=True)
    sharded = ShardedIndex(128, "dtw", band=12, n_shards=2, backend="ray", directory=tmp_path)
    try:
        sharded.add(data)
        sharded.save()
        started = time.monotonic()
        sharded.search(many, 3, exact=True, share_bound=False)
        took = time.monotonic() - started
        victim = ray.get(sharded.actors[1].pid.remote())
        timer = threading.Timer(0.3 * took, os.kill, (victim, signal.SIGKILL))
        started = time.monotonic()
        timer.start()
        got = sharded.search(many, 3, exact=True, share_bound=False)
        retried = time.monotonic() - started
        timer.join()
        after = ray.get(sharded.actors[1].pid.remote())
        served = ray.get(sharded.actors[1].served.remote())
        print(
            f"search {took:.2f} s; with shard 1's worker (pid {victim}) SIGKILLed at "
            f"{0.3 * took:.2f} s: {retried:.2f} s, answered by pid {after} "
            f"(searches it has served: {served}), "
            f"answer equal to one index's exact search: {np.array_equal(got.ids, want.ids)}"
        )
        assert after != victim, "the actor was not restarted"
        # The restarted process answered exactly one search: the retried one (a kill after the
        # search had finished would leave it at 0).
        assert served == 1, served
        assert got.missing_shards == ()
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_array_equal(got.distances, want.distances)
    finally:
        sharded.close()


def _wait_until_dead(actor, timeout: float = 60.0) -> None:
    """Return once ``actor`` no longer answers (Ray reports it dead)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get(actor.size.remote(), timeout=10)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.1)
    raise AssertionError("the killed actor still answers")


def test_a_shard_gone_for_good_raises_or_is_named_in_a_partial_answer(series):
    data, queries = series
    with ShardedIndex(128, n_shards=3, backend="ray") as sharded:
        ids = sharded.add(data[:900])
        ray.kill(sharded.actors[2], no_restart=True)
        _wait_until_dead(sharded.actors[2])  # ray.kill only asks; a call sent at once may still run
        with pytest.raises(
            ShardUnavailableError, match=r"1 shard\(s\) did not answer \(shard 2: "
        ) as err:
            sharded.search(queries[:10], 5, exact=True)
        assert err.value.shards == (2,)
        got = sharded.search(queries[:10], 5, exact=True, allow_partial=True)
        assert got.missing_shards == (2,)
        keep = shard_of(ids, 3) != 2
        rest = Index(128)
        rest.add(data[:900][keep], ids=ids[keep])
        np.testing.assert_array_equal(got.ids, rest.search(queries[:10], 5, exact=True).ids)


def test_a_restart_that_lost_rows_is_reported_not_answered(series):
    data, queries = series
    with ShardedIndex(128, n_shards=2, backend="ray") as sharded:  # no directory: nothing to reload
        sharded.add(data[:500])
        os.kill(ray.get(sharded.actors[0].pid.remote()), signal.SIGKILL)
        with pytest.raises(
            ShardUnavailableError, match="shard 0: it holds 0 rows but .* were added"
        ):
            sharded.search(queries[:5], 3)
        partial = sharded.search(queries[:5], 3, allow_partial=True)
        assert partial.missing_shards == (0,)


def test_an_actor_killed_after_an_unsaved_add_is_reported_as_lost_rows(tmp_path, series):
    # An add completes, the actor dies, the next add is retried on the restarted actor, which
    # reloaded the last save (800 rows): the rows of the completed add are lost, and that shows
    # as a row count the driver did not expect, for the add and for every later search.
    data, _ = series
    sharded = ShardedIndex(128, n_shards=2, backend="ray", directory=tmp_path)
    try:
        sharded.add(data[:800])
        sharded.save()
        sharded.add(data[800:1600])
        victim = ray.get(sharded.actors[0].pid.remote())
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(
            ShardUnavailableError, match="shard 0: it holds .* rows but .* were added"
        ):
            sharded.add(data[1600:2400])
        assert ray.get(sharded.actors[0].pid.remote()) != victim
        with pytest.raises(ShardUnavailableError, match="reloaded the last save in"):
            sharded.search(data[:2], 1)
        assert sharded.search(data[:2], 1, allow_partial=True).missing_shards == (0,)
    finally:
        sharded.close()
