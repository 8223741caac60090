"""Sharded search on Ray: one pyembed index against 1, 2 and 4 shards on Ray actors, in one run.

Data: clustered-128 (``benchmarks/ann.py``'s Gaussian mixture; default 1,000,000 x 128 and 1,000
queries), exact ground truth by brute force (numpy, float64). For each configuration: build time
(one ``add`` of the whole array: routing, transfer through Ray's object store and the shards'
parallel builds), memory of the shard processes, recall@10 and queries/second of a batch search
of all queries for a sweep of ``ef``, and the per-query latency of one-query calls.

The configurations are timed interleaved (at each ``ef``, each configuration once per round, for
``--repeat`` rounds, keeping each one's best), so a slow spell of the shared machine hits them
alike; ratios are to the plain index measured in the same run.

Where a sharded batch goes: each shard's own search time (each actor called alone), their sum
(the work: on one machine the shards share its cores), the batch's wall time, and the driver's
time to merge the shards' top-k (``pyembed.distributed.merge``) per query. One-query calls show
the per-call cost of the round trip to the actors.

    python benchmarks/sharded.py                          # the full run (about 20 minutes)
    python benchmarks/sharded.py --n 100000 --repeat 1    # a quick run
    python benchmarks/sharded.py --json out.json          # also keep every number
    python benchmarks/sharded.py --report out.json --plot out.png   # tables and plot again
    python benchmarks/sharded.py --dtw                    # exact DTW: the shared bound's effect
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann import clustered, ground_truth, rss_bytes  # noqa: E402  (benchmarks are scripts, not a package)

K = 10


def recall(ids: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true k nearest found."""
    hits = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ids, truth, strict=True)]
    return float(np.mean(hits)) / truth.shape[1]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1_000_000, help="stored vectors")
    ap.add_argument("--nq", type=int, default=1_000, help="queries")
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4], help="shard counts")
    ap.add_argument(
        "--efs",
        type=int,
        nargs="+",
        default=[16, 32, 64, 128, 256, 512, 1024],
        help="search ef sweep",
    )
    ap.add_argument("--repeat", type=int, default=3, help="interleaved timing rounds")
    ap.add_argument("--latency-queries", type=int, default=200, help="one-query calls timed")
    ap.add_argument("--json", type=Path, help="write every number here")
    ap.add_argument("--plot", type=Path, help="draw recall against queries/second here (PNG)")
    ap.add_argument("--report", type=Path, help="print the tables of a run saved with --json")
    ap.add_argument(
        "--dtw",
        action="store_true",
        help="instead: exact DTW over shards with and without the shared bound (local backend)",
    )
    args = ap.parse_args()
    if args.dtw:
        dtw_bound(args.shards, args.repeat)
        return
    if args.report:
        res = json.loads(args.report.read_text())
        report(res)
        if args.plot:
            plot(res, args.plot)
        return

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from pyembed import Index, __version__
    from pyembed.distributed import ShardedIndex, merge
    from pyembed.index import COUNTERS

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    print(f"pyembed {__version__}, ray {ray.__version__}, {os.cpu_count()} cores", file=sys.stderr)
    data, queries = clustered(args.n, args.nq)
    print(f"clustered-128: {args.n} x 128, {args.nq} queries; ground truth ...", file=sys.stderr)
    truth = ground_truth(data, queries, K)

    configs: dict[str, object] = {}
    builds: dict[str, float] = {}
    memory: dict[str, int] = {}
    before = rss_bytes()
    started = time.perf_counter()
    plain = Index(128)
    plain.add(data)
    builds["index"] = time.perf_counter() - started
    memory["index"] = rss_bytes() - before
    configs["index"] = plain
    print(f"index: built in {builds['index']:.1f} s", file=sys.stderr)
    for n in args.shards:
        name = f"ray x{n}"
        started = time.perf_counter()
        sharded = ShardedIndex(128, n_shards=n, backend="ray")
        sharded.add(data)
        builds[name] = time.perf_counter() - started
        pids = [ray.get(a.pid.remote()) for a in sharded.actors]
        memory[name] = sum(rss_bytes(p) for p in pids)
        configs[name] = sharded
        print(
            f"{name}: built in {builds[name]:.1f} s, sizes {sharded.shard_sizes}", file=sys.stderr
        )

    names = list(configs)
    best: dict[tuple[str, int], float] = {}
    recalls: dict[tuple[str, int], float] = {}
    for ef in args.efs:
        for _ in range(args.repeat):
            for name in names:
                ix = configs[name]
                t = time.perf_counter()
                r = ix.search(queries, K, ef=ef)  # type: ignore[attr-defined]
                took = time.perf_counter() - t
                best[name, ef] = min(best.get((name, ef), np.inf), took)
                recalls[name, ef] = recall(r.ids, truth)
        print(f"ef={ef} timed", file=sys.stderr)

    # Where a sharded batch spends its time, at the middle ef: each shard alone, the merge.
    ef_mid = args.efs[len(args.efs) // 2]
    overhead: dict[str, dict[str, float]] = {}
    for name in names[1:]:
        sharded = configs[name]
        q_ref = ray.put(queries)
        solo = []
        parts = []
        for a in sharded.actors:  # type: ignore[attr-defined]
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                ans = ray.get(a.search.remote(q_ref, K, {"ef": ef_mid}))
                times.append(time.perf_counter() - t)
            solo.append(min(times))
            parts.append(ans[:3])
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            merge(parts, K, len(queries), len(COUNTERS))
            times.append(time.perf_counter() - t)
        merge_s = min(times)
        wall = best[name, ef_mid]
        overhead[name] = {
            "slowest_shard_s": max(solo),
            "sum_of_shards_s": sum(solo),
            "batch_wall_s": wall,
            "merge_us_per_query": merge_s / len(queries) * 1e6,
        }

    # Per-query latency: one query per call, interleaved across configurations.
    lat: dict[str, list[float]] = {name: [] for name in names}
    for i in range(min(args.latency_queries, len(queries))):
        for name in names:
            t = time.perf_counter()
            configs[name].search(queries[i], K, ef=ef_mid)  # type: ignore[attr-defined]
            lat[name].append(time.perf_counter() - t)

    res = {
        "n": args.n,
        "nq": args.nq,
        "cores": os.cpu_count(),
        "repeat": args.repeat,
        "efs": list(args.efs),
        "ef_mid": ef_mid,
        "names": names,
        "builds_s": builds,
        "memory_bytes": memory,
        "batch_s": {f"{n}|{ef}": v for (n, ef), v in best.items()},
        "recall": {f"{n}|{ef}": v for (n, ef), v in recalls.items()},
        "overhead": overhead,
        "latency_s": lat,
    }
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    ray.shutdown()
    report(res)
    if args.plot:
        plot(res, args.plot)


def dtw_bound(shard_counts: list[int], repeat: int) -> None:
    """Exact 1-NN and 10-NN DTW over 1, 2, 4 shards (local backend) with the largest shard's k-th
    distance passed to the others (``share_bound=True``, the default) and without: full DTWs per
    query and time, against one index. Z-normalised random walks, 20,000 x 256, band 26 (10%),
    200 queries (half fresh walks, half stored series plus noise)."""
    from pyembed import Index
    from pyembed.distributed import ShardedIndex

    rng = np.random.default_rng(19)
    walks = np.cumsum(rng.normal(size=(20_100, 256)), axis=1)
    walks = (walks - walks.mean(1, keepdims=True)) / walks.std(1, keepdims=True)
    data = walks[:20_000].astype(np.float32)
    near = data[rng.choice(20_000, 100, replace=False)] + rng.normal(scale=0.3, size=(100, 256))
    queries = np.concatenate([walks[20_000:], near]).astype(np.float32)
    one = Index(256, "dtw", band=26)
    one.add(data)
    sharded = {}
    for n in shard_counts:
        sharded[n] = ShardedIndex(256, "dtw", band=26, n_shards=n)
        sharded[n].add(data)
    print("## Exact DTW over shards: the shared bound\n")
    print(
        "Z-normalised random walks, 20,000 x 256, band 26; 200 queries; local backend, 2 threads "
        f"per shard; best of {repeat} interleaved rounds.\n"
    )
    print(
        "| k | config | full DTWs per query | lb-pruned per query | s per batch | answers equal one index |"
    )
    print("|---|---|---|---|---|---|")
    for k in (1, 10):
        rows = {}
        for _ in range(repeat):
            runs = [("one index", lambda k=k: one.search(queries, k, exact=True))]
            for n in shard_counts:
                for share in (True, False):
                    runs.append(
                        (
                            f"{n} shard{'s' if n > 1 else ''}, bound {'shared' if share else 'not shared'}",
                            lambda n=n, share=share, k=k: sharded[n].search(
                                queries, k, exact=True, share_bound=share
                            ),
                        )
                    )
            for name, run in runs:
                t = time.perf_counter()
                r = run()
                took = time.perf_counter() - t
                prev = rows.get(name)
                rows[name] = (r, took if prev is None else min(prev[1], took))
        truth = rows["one index"][0]
        for name, (r, took) in rows.items():
            same = np.array_equal(r.ids, truth.ids) and np.array_equal(r.distances, truth.distances)
            print(
                f"| {k} | {name} | {r.distance_calls.mean():,.0f} | {r.lb_pruned.mean():,.0f} | "
                f"{took:.2f} | {same} |"
            )


def report(res: dict) -> None:
    """Print the tables of one run (from :func:`main`, or a JSON file it wrote)."""
    from pyembed.metrics import qps_interpolated

    names, efs, nq = res["names"], res["efs"], res["nq"]

    def qps(name: str, ef: int) -> float:
        return nq / res["batch_s"][f"{name}|{ef}"]

    print(f"## Sharded search, clustered-128, {res['n']:,} x 128, {nq:,} queries, k={K}\n")
    print(
        f"{res['cores']} cores, one machine, Ray actors on it; best of {res['repeat']} interleaved "
        "rounds; ratios to the plain index in the same run.\n"
    )
    print("| config | build s | build ratio | RSS of the shard processes MiB |")
    print("|---|---|---|---|")
    for name in names:
        b = res["builds_s"][name]
        mem = res["memory_bytes"][name] / 2**20
        print(f"| {name} | {b:.1f} | {b / res['builds_s']['index']:.2f}x | {mem:,.0f} |")
    print("\n### Batch search of all queries (2 threads per shard), by ef\n")
    print("| ef | " + " | ".join(f"{n} recall@10 | {n} QPS (ratio)" for n in names) + " |")
    print("|---|" + "---|---|" * len(names))
    for ef in efs:
        cells = []
        for name in names:
            ratio = qps(name, ef) / qps("index", ef)
            cells.append(
                f"{res['recall'][f'{name}|{ef}']:.3f} | {qps(name, ef):,.0f} ({ratio:.2f}x)"
            )
        print(f"| {ef} | " + " | ".join(cells) + " |")
    print("\n### Queries/second at equal recall@10 (interpolated on each sweep)\n")
    targets = (0.90, 0.95, 0.99)
    print("| config | " + " | ".join(f"QPS at {t} (ratio)" for t in targets) + " |")
    print("|---|" + "---|" * len(targets))
    at = {}
    for name in names:
        sweep = [{"recall": res["recall"][f"{name}|{ef}"], "qps": qps(name, ef)} for ef in efs]
        for t in targets:
            at[name, t] = qps_interpolated(sweep, t, "qps")
    for name in names:
        cells = []
        for t in targets:
            v, base = at[name, t], at["index", t]
            if v is None:
                cells.append("not reached")
            else:
                cells.append(f"{v:,.0f}" + ("" if base is None else f" ({v / base:.2f}x)"))
        print(f"| {name} | " + " | ".join(cells) + " |")
    ef_mid = res["ef_mid"]
    print(f"\n### Where a batch goes (ef={ef_mid})\n")
    print(
        "| config | slowest shard alone s | sum of shards alone s | batch wall s | merge us/query |"
    )
    print("|---|---|---|---|---|")
    for name, o in res["overhead"].items():
        print(
            f"| {name} | {o['slowest_shard_s']:.3f} | {o['sum_of_shards_s']:.3f} | "
            f"{o['batch_wall_s']:.3f} | {o['merge_us_per_query']:.1f} |"
        )
    lat = res["latency_s"]
    print(f"\n### One query per call (ef={ef_mid}), {len(lat['index'])} queries\n")
    print("| config | p50 ms | p95 ms |")
    print("|---|---|---|")
    for name in names:
        ms = np.array(lat[name]) * 1e3
        print(f"| {name} | {statistics.median(ms):.3f} | {np.percentile(ms, 95):.3f} |")


def plot(res: dict, path: Path) -> None:
    """Recall@10 against queries/second per configuration (matplotlib, the bench extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name in res["names"]:
        xs = [res["recall"][f"{name}|{ef}"] for ef in res["efs"]]
        ys = [res["nq"] / res["batch_s"][f"{name}|{ef}"] for ef in res["efs"]]
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries / second (batch, log)")
    ax.set_title(f"clustered-128, {res['n']:,} vectors, {res['cores']} cores")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
