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
from ann import clustered, ground_truth  # noqa: E402  (benchmarks are scripts, not a package)

K = 10


def recall(ids: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true k nearest found."""
    hits = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ids, truth, strict=True)]
    return float(np.mean(hits)) / truth.shape[1]


def rss_of(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


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
        default=[10, 16, 24, 32, 48, 64, 96, 128],
        help="search ef sweep",
    )
    ap.add_argument("--repeat", type=int, default=3, help="interleaved timing rounds")
    ap.add_argument("--latency-queries", type=int, default=200, help="one-query calls timed")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from pyembed import Index, __version__
    from pyembed.distributed import ShardedIndex, merge
    from pyembed.index import COUNTERS
    from pyembed.metrics import qps_interpolated

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    print(f"pyembed {__version__}, ray {ray.__version__}, {os.cpu_count()} cores", file=sys.stderr)
    data, queries = clustered(args.n, args.nq)
    print(f"clustered-128: {args.n} x 128, {args.nq} queries; ground truth ...", file=sys.stderr)
    truth = ground_truth(data, queries, K)

    configs: dict[str, object] = {}
    builds: dict[str, float] = {}
    memory: dict[str, int] = {}
    before = rss_of(os.getpid())
    started = time.perf_counter()
    plain = Index(128)
    plain.add(data)
    builds["index"] = time.perf_counter() - started
    memory["index"] = rss_of(os.getpid()) - before
    configs["index"] = plain
    print(f"index: built in {builds['index']:.1f} s", file=sys.stderr)
    for n in args.shards:
        name = f"ray x{n}"
        started = time.perf_counter()
        sharded = ShardedIndex(128, n_shards=n, backend="ray")
        sharded.add(data)
        builds[name] = time.perf_counter() - started
        pids = [ray.get(a.pid.remote()) for a in sharded.actors]
        memory[name] = sum(rss_of(p) for p in pids)
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

    print(f"\n## Sharded search, clustered-128, {args.n:,} x 128, {args.nq:,} queries, k={K}")
    print(
        f"{os.cpu_count()} cores, one machine; best of {args.repeat} interleaved rounds; ratios to the plain index.\n"
    )
    print(
        "| config | build s | build ratio | shard RSS MiB | "
        + " | ".join(f"ef={ef} recall / QPS (ratio)" for ef in args.efs)
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(args.efs))
    for name in names:
        cells = []
        for ef in args.efs:
            qps = args.nq / best[name, ef]
            ratio = best["index", ef] / best[name, ef]
            cells.append(f"{recalls[name, ef]:.3f} / {qps:,.0f} ({ratio:.2f}x)")
        mem = memory[name] / 2**20
        print(
            f"| {name} | {builds[name]:.1f} | {builds[name] / builds['index']:.2f}x | {mem:,.0f} | "
            + " | ".join(cells)
            + " |"
        )
    print("\n### Queries/second at equal recall@10 (interpolated on each sweep)\n")
    targets = (0.95, 0.99)
    print("| config | " + " | ".join(f"QPS at {t} (ratio)" for t in targets) + " |")
    print("|---|" + "---|" * len(targets))
    at: dict[tuple[str, float], float | None] = {}
    for name in names:
        sweep = [{"recall": recalls[name, ef], "qps": args.nq / best[name, ef]} for ef in args.efs]
        for t in targets:
            at[name, t] = qps_interpolated(sweep, t, "qps")
    for name in names:
        cells = []
        for t in targets:
            v, base = at[name, t], at["index", t]
            cells.append(
                "not reached"
                if v is None
                else f"{v:,.0f}" + ("" if base is None else f" ({v / base:.2f}x)")
            )
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n### Where a batch goes (ef={ef_mid})\n")
    print(
        "| config | slowest shard alone s | sum of shards alone s | batch wall s | merge us/query |"
    )
    print("|---|---|---|---|---|")
    for name, o in overhead.items():
        print(
            f"| {name} | {o['slowest_shard_s']:.3f} | {o['sum_of_shards_s']:.3f} | "
            f"{o['batch_wall_s']:.3f} | {o['merge_us_per_query']:.1f} |"
        )
    print(f"\n### One query per call (ef={ef_mid}), {len(lat['index'])} queries\n")
    print("| config | p50 ms | p95 ms |")
    print("|---|---|---|")
    for name in names:
        ms = np.array(lat[name]) * 1e3
        print(f"| {name} | {statistics.median(ms):.3f} | {np.percentile(ms, 95):.3f} |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "n": args.n,
                    "nq": args.nq,
                    "builds_s": builds,
                    "memory_bytes": memory,
                    "batch_s": {f"{n}|{ef}": v for (n, ef), v in best.items()},
                    "recall": {f"{n}|{ef}": v for (n, ef), v in recalls.items()},
                    "overhead": overhead,
                    "latency_s": lat,
                },
                indent=1,
            )
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
