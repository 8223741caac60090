"""DTW lookup at scale: pyembed's DTW graph against its own exact search and two baselines.

Data (fixed seeds, generated here): z-normalised random walks (cumulative sums of N(0, 1)) of
length 256, float32, as the data-series literature (MESSI, the Hydra study) uses. Queries: half
fresh walks (the hard case: no stored series is near), half stored series perturbed by a local
time warp (a smooth bump of up to 8 samples in the time axis) and N(0, 0.1^2) noise, then
z-normalised again. Ground truth: pyembed's exact search (LB_Kim / LB_Keogh pruning and early
abandoning; exact). k = 1 and 10; recall@k is the share of the true k nearest found.

Per band (default 26 and 13 samples, 10 % and 5 % of the length):

- **exact**: ``search(exact=True)``, batch on the threads given; timed before and after the graph
  sweep, the faster of the two kept (so a slow spell of the shared machine does not flatter the
  graph);
- **pyembed graph**: ``Index(256, "dtw", band=b)``, ``build()`` timed with its memory (resident-set
  growth of the build, per series), then a sweep of ``ef``: recall, queries/second (one batch
  call), and the work per query (full DTWs started, bound prunes, early abandons, nodes visited,
  Euclidean distances of the walk to the DTW walk's start); each point is measured with the
  default entry (``"pyembed"``, ``entry="euclidean"``) and, interleaved, with the DTW descent
  through the layers (``"pyembed-hierarchy"``, ``entry="hierarchy"``);
- **two-stage**: pyembed's Euclidean graph on the same series, its top C (``ef = max(64, C)``)
  re-ranked by exact DTW (a small pyembed DTW index of the C candidates per query, pruned exact
  search; queries spread over the threads); C swept;
- **usearch** (``--usearch``): usearch's HNSW with a numba ``@cfunc`` banded DTW as its metric
  (``CompiledMetric``; the callback sees only the two vectors, so it cannot abandon against the
  search's threshold), ``connectivity=16``, ``expansion_add=64``; ``expansion_search`` swept. Its
  build is slow (about 85 s for 5,000 series), so ``--usearch-n`` caps the series it gets (the
  table says how many; a smaller index is an easier one, which favours it).

The summary gives, for recall@1 >= 0.95 and recall@10 >= 0.95, the fastest sweep point of each
method that reaches the target and its ratio to exact search, and pyembed's ratio to the best
baseline. Run::

    python benchmarks/dtw_scale.py --n 100000 --json out.json
    python benchmarks/dtw_scale.py --n 10000 --usearch --bands 26   # all peers, smaller
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

LENGTH = 256
EFS = (4, 6, 8, 12, 16, 20, 24, 32, 48, 64, 96, 128, 192)
CANDIDATES = (10, 20, 50, 100, 200, 400, 800)
USEARCH_EFS = (16, 32, 64, 128, 256, 512)
TARGET = 0.95


def znorm(x: NDArray[np.float64]) -> NDArray[np.float32]:
    """Each row minus its mean, divided by its standard deviation."""
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    return ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def walks(n: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """``n`` z-normalised random walks of LENGTH samples."""
    out = np.empty((n, LENGTH), np.float32)
    for lo in range(0, n, 50_000):
        hi = min(n, lo + 50_000)
        out[lo:hi] = znorm(np.cumsum(rng.standard_normal((hi - lo, LENGTH)), axis=1))
    return out


def warped(x: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Each row with a local time warp (a Gaussian bump of up to 8 samples in the time axis at a
    random place), N(0, 0.1^2) noise, z-normalised again."""
    t = np.arange(LENGTH, dtype=np.float64)
    out = np.empty(x.shape, np.float64)
    for i, row in enumerate(x):
        centre = rng.uniform(0.2, 0.8) * LENGTH
        width = rng.uniform(10, 30)
        shift = rng.uniform(-8, 8)
        where = np.clip(t + shift * np.exp(-(((t - centre) / width) ** 2)), 0, LENGTH - 1)
        out[i] = np.interp(where, t, row) + rng.normal(0, 0.1, LENGTH)
    return znorm(out)


def rss_bytes() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def recall(found: NDArray[np.int64], truth: NDArray[np.int64], k: int) -> float:
    """Share of the true ``k`` nearest (first k columns of ``truth``) among ``found[:, :k]``."""
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth, strict=True))
    return hits / (k * len(truth))


def work(result: Any) -> dict[str, float]:
    """Mean counters per query of a pyembed search."""
    return {
        "full_dtw": float(np.mean(result.distance_calls)),
        "lb_pruned": float(np.mean(result.lb_pruned)),
        "abandoned": float(np.mean(result.abandoned)),
        "visited": float(np.mean(result.visited)),
        "euclidean": float(np.mean(result.euclidean_calls)),
    }


def sweep_point(
    method: str,
    k: int,
    param: str,
    found: NDArray[np.int64],
    truth: NDArray[np.int64],
    seconds: float,
    counters: dict[str, float | None],
) -> dict[str, Any]:
    """One point of a sweep (recall@k of ``found`` against ``truth``, queries/second, the work
    per query, None where a method does not count it), reported on stderr as it is measured."""
    row = {
        "method": method,
        "k": k,
        "param": param,
        "recall": recall(found, truth, k),
        "qps": len(truth) / seconds,
        **{key: None for key in ("full_dtw", "lb_pruned", "abandoned", "visited", "euclidean")},
        **counters,
    }
    dtws = "" if row["full_dtw"] is None else f", {row['full_dtw']:.0f} DTWs"
    print(
        f"  {method} k={k} {param}: recall {row['recall']:.3f}, {row['qps']:.0f} q/s{dtws}",
        file=sys.stderr,
    )
    return row


def exact_run(index: Any, queries: NDArray[np.float32], threads: int, k: int) -> tuple[float, Any]:
    """Seconds and result of the exact batch for ``k`` neighbours."""
    start = time.perf_counter()
    result = index.search(queries, k, exact=True, n_threads=threads)
    return time.perf_counter() - start, result


def pyembed_sweep(
    index: Any, queries: NDArray[np.float32], truth: NDArray[np.int64], threads: int
) -> list[dict[str, Any]]:
    """The ef sweep of the graph search with its default entry (``"pyembed"``: the Euclidean walk
    to the DTW walk's start) and, interleaved point by point in alternating order, the same
    searches entered by the DTW descent through the layers (``"pyembed-hierarchy"``)."""
    rows = []
    entries = [("pyembed", None), ("pyembed-hierarchy", "hierarchy")]
    for k in (1, 10):
        for i, ef in enumerate(EFS):
            if ef < k:
                continue
            for method, entry in entries if i % 2 == 0 else entries[::-1]:
                start = time.perf_counter()
                result = index.search(queries, k, ef=ef, n_threads=threads, entry=entry)
                seconds = time.perf_counter() - start
                counters = work(result)
                rows.append(
                    sweep_point(method, k, f"ef={ef}", result.ids, truth, seconds, counters)
                )
    rows.sort(key=lambda r: r["method"] != "pyembed")
    return rows


def two_stage(
    data: NDArray[np.float32],
    queries: NDArray[np.float32],
    truth: NDArray[np.int64],
    band: int,
    threads: int,
) -> tuple[list[dict[str, Any]], float]:
    """A Euclidean graph's top C re-ranked by exact DTW; returns the sweep and the build seconds."""
    from pyembed import Index

    start = time.perf_counter()
    euclid = Index(LENGTH)
    euclid.add(data)
    euclid.build(n_threads=threads)
    build_seconds = time.perf_counter() - start
    rows = []
    for k in (1, 10):
        for c in CANDIDATES:
            if c < k:
                continue

            def rerank(
                i: int, cands: NDArray[np.int64], k: int = k
            ) -> tuple[NDArray[np.int64], int]:
                small = Index(LENGTH, "dtw", band=band)
                small.add(data[cands], ids=cands)
                found = small.search(queries[i], k, exact=True, n_threads=1)
                return found.ids[0], int(found.distance_calls[0])

            start = time.perf_counter()
            first = euclid.search(queries, c, ef=max(64, c), n_threads=threads)
            with ThreadPoolExecutor(threads) as pool:
                answers = list(pool.map(rerank, range(len(queries)), first.ids))
            seconds = time.perf_counter() - start
            found = np.stack([a[0] for a in answers])
            counters = {"full_dtw": float(np.mean([a[1] for a in answers])), "visited": float(c)}
            rows.append(sweep_point("two-stage", k, f"C={c}", found, truth, seconds, counters))
    return rows, build_seconds


def usearch_numba(
    data: NDArray[np.float32],
    queries: NDArray[np.float32],
    truth: NDArray[np.int64],
    band: int,
    threads: int,
) -> tuple[list[dict[str, Any]], float]:
    """usearch HNSW with a numba banded-DTW metric on ``data`` (possibly a prefix of the set)."""
    from numba import carray, cfunc, types
    from usearch.index import CompiledMetric, Index, MetricKind, MetricSignature

    length = LENGTH
    signature = types.float32(types.CPointer(types.float32), types.CPointer(types.float32))

    @cfunc(signature)
    def banded_dtw(a_ptr, b_ptr):  # type: ignore[no-untyped-def]
        a = carray(a_ptr, length)
        b = carray(b_ptr, length)
        inf = np.float32(np.inf)
        prev = np.full(length + 1, inf, dtype=np.float32)
        cur = np.full(length + 1, inf, dtype=np.float32)
        prev[0] = 0.0
        for i in range(1, length + 1):
            cur[:] = inf
            lo = max(1, i - band)
            hi = min(length, i + band)
            for j in range(lo, hi + 1):
                d = a[i - 1] - b[j - 1]
                best = prev[j - 1]
                if prev[j] < best:
                    best = prev[j]
                if cur[j - 1] < best:
                    best = cur[j - 1]
                cur[j] = d * d + best
            prev, cur = cur, prev
        return np.sqrt(prev[length])

    metric = CompiledMetric(
        pointer=banded_dtw.address, kind=MetricKind.Unknown, signature=MetricSignature.ArrayArray
    )
    index = Index(ndim=length, metric=metric, dtype="f32", connectivity=16, expansion_add=64)
    start = time.perf_counter()
    index.add(np.arange(len(data)), data, threads=threads)
    build_seconds = time.perf_counter() - start
    rows = []
    for k in (1, 10):
        for ef in USEARCH_EFS:
            index.expansion_search = ef
            start = time.perf_counter()
            matches = index.search(queries, k, threads=threads)
            seconds = time.perf_counter() - start
            keys = np.asarray(matches.keys).reshape(len(queries), k)
            rows.append(
                sweep_point(f"usearch (n={len(data):,})", k, f"ef={ef}", keys, truth, seconds, {})
            )
    return rows, build_seconds


def is_baseline(method: str) -> bool:
    """Whether rows of ``method`` are a peer's (two-stage, usearch), not pyembed's graph."""
    return method.startswith(("two-stage", "usearch"))


def best_at(rows: list[dict[str, Any]], method: str, k: int) -> dict[str, Any] | None:
    """The fastest sweep point of ``method`` (or of ``method (...)``) at recall@k >= TARGET."""
    ok = [
        r
        for r in rows
        if (r["method"] == method or r["method"].startswith(method + " ("))
        and r["k"] == k
        and r["recall"] >= TARGET
    ]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def at_equal_recall(
    rows: list[dict[str, Any]], k: int
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each baseline sweep point at ``k`` with pyembed's fastest point of at least its recall
    (``None`` when pyembed's sweep has none). Baseline points below the lowest recall of
    pyembed's sweep are left out: pyembed has no point near them to compare with."""
    ours = [r for r in rows if r["method"] == "pyembed" and r["k"] == k]
    lowest = min((r["recall"] for r in ours), default=1.0)
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for b in rows:
        if b["k"] != k or not is_baseline(b["method"]) or b["recall"] < lowest:
            continue
        better = [r for r in ours if r["recall"] >= b["recall"]]
        pairs.append((b, max(better, key=lambda r: r["qps"]) if better else None))
    return pairs


def run_band(
    args: argparse.Namespace, data: NDArray[np.float32], queries: NDArray[np.float32], band: int
) -> dict[str, Any]:
    from pyembed import Index

    threads = args.threads
    print(f"band {band}: exact ground truth", file=sys.stderr)
    index = Index(LENGTH, "dtw", band=band)
    index.add(data)
    first = {k: exact_run(index, queries, threads, k) for k in (1, 10)}
    truth = first[10][1].ids
    assert np.array_equal(first[1][1].ids[:, 0], truth[:, 0]), "k=1 and k=10 disagree"
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    built = index.build(n_threads=threads)
    build_seconds = time.perf_counter() - start
    build_rss = rss_bytes() - before
    print(f"  build {build_seconds:.1f} s, {build_rss / len(data):.0f} B/series", file=sys.stderr)
    rows = pyembed_sweep(index, queries, truth, threads)
    exact_rows = {}
    exact_seconds = {}
    for k in (1, 10):
        seconds, again = exact_run(index, queries, threads, k)
        assert np.array_equal(again.ids, first[k][1].ids), "exact search is not deterministic"
        exact_seconds[k] = [first[k][0], seconds]
        exact_rows[k] = {
            "method": "exact",
            "k": k,
            "param": "",
            "recall": 1.0,
            "qps": len(queries) / min(first[k][0], seconds),
            **work(first[k][1]),
        }
    baseline_rows, euclid_build = two_stage(data, queries, truth, band, threads)
    rows += baseline_rows
    usearch_build = None
    if args.usearch:
        m = min(len(data), args.usearch_n)
        if m < len(data):
            # A prefix of the data: its own exact truth.
            sub = Index(LENGTH, "dtw", band=band)
            sub.add(data[:m])
            sub_truth = sub.search(queries, 10, exact=True, n_threads=threads).ids
        else:
            sub_truth = truth
        u_rows, usearch_build = usearch_numba(data[:m], queries, sub_truth, band, threads)
        rows += u_rows
    return {
        "band": band,
        "exact": exact_rows,
        "exact_seconds": exact_seconds,
        "build_seconds": build_seconds,
        "build_distance_calls": built["distance_calls"],
        "build_rss_bytes_per_series": build_rss / len(data),
        "euclidean_build_seconds": euclid_build,
        "usearch_build_seconds": usearch_build,
        "rows": rows,
    }


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"# dtw_scale: {args.n:,} z-normalised random walks of length {LENGTH}, "
        f"{args.queries} queries (half fresh, half warped stored series), {args.threads} threads",
        "",
    ]
    for res in results:
        exact = res["exact"]
        lines += [f"## band {res['band']}", ""]
        for k, ex in exact.items():
            lines.append(
                f"exact k={k}: {ex['qps']:.1f} queries/s (best of two runs: "
                f"{', '.join(f'{s:.2f}' for s in res['exact_seconds'][k])} s), per query "
                f"{ex['full_dtw']:.0f} full DTWs started ({100 * ex['full_dtw'] / args.n:.2f} % of "
                f"the series), {ex['lb_pruned']:.0f} rejected by a bound, {ex['abandoned']:.0f} "
                "abandoned"
            )
        lines += [
            f"pyembed build: {res['build_seconds']:.1f} s on {args.threads} threads, "
            f"{res['build_distance_calls'] / args.n:.0f} DTWs per series, memory "
            f"{res['build_rss_bytes_per_series']:.0f} B/series for the graph (the series "
            f"themselves and their envelopes: {3 * 4 * LENGTH} B/series)",
            f"two-stage Euclidean graph build: {res['euclidean_build_seconds']:.1f} s"
            + (
                f"; usearch build: {res['usearch_build_seconds']:.1f} s"
                if res["usearch_build_seconds"] is not None
                else ""
            ),
            "",
            "| method | k | setting | recall@k | queries/s | x exact (same k) | full DTWs | bound prunes | abandoned | visited | Euclidean |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]

        def fmt(v: Any) -> str:
            return "-" if v is None else f"{v:.0f}"

        for r in [exact[1], exact[10], *res["rows"]]:
            lines.append(
                f"| {r['method']} | {r['k']} | {r['param']} | {r['recall']:.3f} | {r['qps']:.0f} | "
                f"{r['qps'] / exact[r['k']]['qps']:.1f} | {fmt(r['full_dtw'])} | {fmt(r['lb_pruned'])} | "
                f"{fmt(r['abandoned'])} | {fmt(r['visited'])} | {fmt(r.get('euclidean'))} |"
            )
        lines += ["", f"At recall@k >= {TARGET}:", ""]
        for k, want in ((1, 20.0), (10, 10.0)):
            ours = best_at(res["rows"], "pyembed", k)
            peers = [
                p
                for p in (best_at(res["rows"], "two-stage", k), best_at(res["rows"], "usearch", k))
                if p
            ]
            best_peer = max(peers, key=lambda r: r["qps"]) if peers else None
            if ours is None:
                lines.append(f"- k={k}: pyembed reaches no recall of {TARGET} in the sweep")
                continue
            ratio = ours["qps"] / exact[k]["qps"]
            verdict = "met" if ratio >= want else "NOT met"
            peer = (
                f"; best baseline {best_peer['method']} {best_peer['param']} "
                f"{best_peer['qps']:.0f} q/s, pyembed {ours['qps'] / best_peer['qps']:.1f}x it"
                if best_peer
                else "; no baseline reaches it"
            )
            descent = best_at(res["rows"], "pyembed-hierarchy", k)
            entered = (
                f"; entered by the DTW descent instead: {descent['param']} recall "
                f"{descent['recall']:.3f}, {descent['qps'] / exact[k]['qps']:.1f}x exact"
                if descent
                else ""
            )
            lines.append(
                f"- k={k}: pyembed {ours['param']} recall {ours['recall']:.3f}, {ours['qps']:.0f} q/s"
                f" = {ratio:.1f}x exact (target {want:.0f}x: {verdict}){peer}{entered}"
            )
        lines += [
            "",
            "Against the baselines at equal recall (each baseline point of at least the lowest recall in pyembed's sweep against pyembed's fastest point of at least its recall; target 2x):",
            "",
        ]
        for k in (1, 10):
            pairs = [(b, o) for b, o in at_equal_recall(res["rows"], k) if o is not None]
            if not pairs:
                lines.append(f"- k={k}: no baseline point reaches the recall of pyembed's sweep")
                continue
            b, o = min(pairs, key=lambda p: p[1]["qps"] / p[0]["qps"])
            ratio = o["qps"] / b["qps"]
            lines.append(
                f"- k={k}: smallest ratio {ratio:.2f}x ({'met' if ratio >= 2.0 else 'NOT met'}): "
                f"{b['method']} {b['param']} recall {b['recall']:.3f} at {b['qps']:.0f} q/s against "
                f"pyembed {o['param']} recall {o['recall']:.3f} at {o['qps']:.0f} q/s"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="stored series")
    parser.add_argument("--queries", type=int, default=1000, help="queries (half fresh)")
    parser.add_argument("--bands", type=int, nargs="+", default=[26, 13], help="radii in samples")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--usearch", action="store_true", help="also run usearch + numba DTW")
    parser.add_argument("--usearch-n", type=int, default=10_000, help="series usearch gets")
    parser.add_argument("--json", type=str, default=None, help="write every number here")
    parser.add_argument("--out", type=str, default=None, help="write the tables here too")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(19)
    data = walks(args.n, rng)
    fresh = walks(args.queries - args.queries // 2, rng)
    picks = rng.choice(args.n, size=args.queries // 2, replace=False)
    queries = np.ascontiguousarray(np.vstack([fresh, warped(data[picks], rng)]))
    results = [run_band(args, data, queries, band) for band in args.bands]
    text = report(results, args)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
