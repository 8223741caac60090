"""The newer index features against peers, in one run: metrics, filters, deletes, ranges, memory.

Data: clustered-128 from ``benchmarks/ann.py`` (100,000 x 128 Gaussian mixture, 1,000 queries
from the same mixture, fixed seed; ``--n`` and ``--nq`` change the sizes), k = 10, recall@10
against exact answers computed here with numpy (float64, in chunks of 100 queries). Every search
timing is one batch call with all queries on 1 thread (pyembed ``n_threads=1``, hnswlib
``num_threads=1``, faiss ``omp_set_num_threads(1)``, usearch ``threads=1``); builds use
``--threads`` threads (default 2). At every effort setting each library is timed once per
round, the libraries taking turns, for ``--repeat`` rounds (default 3), and each keeps its best
round; ratios are always against the peer measured in the same run. pyembed uses its default
build parameters (``Index(128, metric)``); hnswlib M=16, ef_construction=200 (as ann.py);
faiss ``IndexHNSWFlat(d, 32)`` with efConstruction=200; usearch connectivity=16,
expansion_add=200 (as ann.py).

1. metrics: cosine and inner product. Three cases: "cosine" and "ip" on data normalised to unit
   length, and "ip" on the raw data. pyembed ``Index(128, metric)``, pyembed-sq8 (the same index
   after ``set_codes(True)``, searched with ``quantized=True``), hnswlib (space "cosine"/"ip"),
   faiss ``IndexHNSWFlat(d, 32, METRIC_INNER_PRODUCT)`` (cosine on the normalised data),
   usearch (metric "cos"/"ip"). Build time, and queries/second at recall@10 0.95: interpolated
   in the ef sweep, and the fastest sweep point reaching it; ratio to hnswlib. Truth: largest
   cosine, largest inner product. ::

       python benchmarks/ann_features.py --tables metrics

2. filter: filtered search by selectivity. A Euclidean pyembed index and faiss ``IndexHNSWFlat``
   on the data; the allowed rows are a random subset (fixed seed) of 100% ... 0.1% of the ids.
   pyembed searches with one reusable ``index.filter(allowed)``, faiss with
   ``SearchParametersHNSW(sel=IDSelectorBatch(allowed), efSearch=ef)``; truth is the exact
   k-NN among the allowed rows. Per selectivity: each library's fastest sweep point reaching
   recall 0.95 (or its best recall), and the interpolated queries/second ratio at 0.95. pyembed
   documents that it scans the allowed rows exactly when they are at most
   ``4000 + 80 * max(ef, k)``; the table shows the allowed count and the mean distance calls. ::

       python benchmarks/ann_features.py --tables filter

3. deletes: build pyembed on the data, remove a random 30% (``--delete-fraction``; timed), add
   as many new vectors from the same mixture with new ids (timed, including ``build()``), then
   recall@10 at ef 16, 32, 64, 128 against exact truth on the final data, beside a fresh pyembed
   build of the same final data and ids (target: within 0.01 at the same ef). The table gives
   pyembed's pending rows after the removal: all of them when it dropped the graph instead of
   repairing it (the next build then relinks every row). hnswlib with ``mark_deleted`` (one
   Python call per id) and ``add_items(replace_deleted=True)`` on the same sequence, and fresh,
   for context. ::

       python benchmarks/ann_features.py --tables deletes
       python benchmarks/ann_features.py --tables deletes --delete-fraction 0.04

4. range: range search on the Euclidean pyembed index, radius = median over queries of the
   10th-nearest distance (about 10 hits per query) and of the 50th-nearest. Exact mode against
   graph mode at ef 64 and 128: mean hits per query, recall of the graph mode (share of the exact
   hits it finds), queries/second. The exact mode is checked against numpy brute force on the
   first 50 queries. faiss ``IndexFlatL2.range_search`` (exact; radius squared, faiss's units)
   and ``IndexHNSWFlat.range_search`` for comparison. ::

       python benchmarks/ann_features.py --tables range

5. memory: ``Index.memory_usage()`` against the growth of the resident set that making the index
   causes, measured in a fresh process (data generated and resident before the first reading):
   the built Euclidean index, the same with 8-bit codes, and the index after the deletes-and-adds
   sequence of table 3 (target: within 10%). Also the peak growth (VmHWM), and the growth after
   glibc's ``malloc_trim(0)`` has returned memory freed while making the index (temporary
   copies), which shows what the index itself still holds. ::

       python benchmarks/ann_features.py --tables memory

All five tables (tens of minutes at the default size, not yet timed; run it alone on the machine):

    python benchmarks/ann_features.py --json benchmarks/results/ann_features.json
    python benchmarks/ann_features.py --n 5000 --nq 200 --quick    # smoke run, under a minute
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from ann import clustered, ground_truth, recall_at_k, rss_bytes  # noqa: E402
from save_load_memory import reset_peak, status  # noqa: E402

from pyembed import Index  # noqa: E402
from pyembed.index import DEFAULT_EF, DEFAULT_EF_CONSTRUCTION, DEFAULT_MAX_DEGREE  # noqa: E402
from pyembed.metrics import qps_at_recall, qps_interpolated  # noqa: E402

K = 10
TARGET = 0.95
EFS = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
EFS_QUICK = (10, 32, 64, 128, 256)
FILTER_EFS = (10, 16, 32, 64, 128, 256, 512)
FILTER_EFS_QUICK = (10, 32, 128, 512)
FRACTIONS = (1.0, 0.5, 0.1, 0.05, 0.02, 0.01, 0.005, 0.001)
DELETE_EFS = (16, 32, 64, 128)
RANGE_EFS = (64, 128)
DELETE_FRACTION = 0.3
TABLES = ("metrics", "filter", "deletes", "range", "memory")
HNSWLIB_M, HNSWLIB_EF_CONSTRUCTION = 16, 200  # as benchmarks/ann.py
FAISS_M, FAISS_EF_CONSTRUCTION = 32, 200
USEARCH_CONNECTIVITY, USEARCH_EXPANSION_ADD = 16, 200  # as benchmarks/ann.py
SEED_FILTER, SEED_DELETE, SEED_NEW = 3, 4, 5


def log(msg: str) -> None:
    """Progress line on stderr (tables go to stdout)."""
    print(msg, file=sys.stderr, flush=True)


def mixture(m: int, draw_seed: int, dim: int = 128, centers: int = 100, seed: int = 1):
    """``m`` more points of ann.py's ``clustered`` mixture (its means, a new noise stream)."""
    means = np.random.default_rng(seed).normal(size=(centers, dim)).astype(np.float32)
    rng = np.random.default_rng(draw_seed)
    c = rng.integers(0, centers, size=m)
    return (means[c] + 0.35 * rng.normal(size=(m, dim))).astype(np.float32)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length (float32)."""
    return (x / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)).astype(np.float32)


def top_by_score(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` largest inner products per query (float64, chunked), best first."""
    out = np.empty((len(queries), k), dtype=np.int64)
    x = data.astype(np.float64)
    for s in range(0, len(queries), 100):
        neg = -(queries[s : s + 100].astype(np.float64) @ x.T)
        part = np.argpartition(neg, k, axis=1)[:, :k]
        order = np.take_along_axis(neg, part, 1).argsort(1, kind="stable")
        out[s : s + 100] = np.take_along_axis(part, order, 1)
    return out


def truth_among(data: np.ndarray, queries: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """Exact Euclidean k-NN of each query among the rows ``allowed`` (ids = row numbers); fewer
    than ``k`` columns when fewer rows are allowed."""
    sub = data[allowed]
    if len(sub) > k:
        return allowed[ground_truth(sub, queries, k)]
    d = ((queries.astype(np.float64)[:, None, :] - sub.astype(np.float64)[None]) ** 2).sum(2)
    return allowed[np.argsort(d, axis=1, kind="stable")]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """``fn()``'s result and its wall time in seconds."""
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def versions() -> dict[str, str]:
    """Installed versions of pyembed and its peers."""
    out = {}
    for name in ("pyembed", "hnswlib", "faiss-cpu", "usearch", "numpy"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def sweep_interleaved(
    libs: dict, efs, queries, truth, repeat: int, stop_at: float | None = 0.999
) -> dict:
    """Sweep ``ef`` over ``libs`` (name -> (set_ef, search)), libraries interleaved per round,
    best round kept; a library stops once its recall reaches ``stop_at`` (None: never).
    Returns name -> sweep."""
    out: dict = {name: [] for name in libs}
    active = list(libs)
    for ef in efs:
        if ef < K or not active:
            continue
        best = dict.fromkeys(active, 0.0)
        got: dict = {}
        for name in active:
            libs[name][0](ef)
            libs[name][1](queries[:10])  # warm-up
        for _ in range(repeat):
            for name in active:
                libs[name][0](ef)
                got[name], took = timed(lambda name=name: libs[name][1](queries))
                best[name] = max(best[name], len(queries) / took)
        done = []
        for name in active:
            ids = got[name]
            calls = None
            if isinstance(ids, tuple):  # (ids, mean distance calls)
                ids, calls = ids
            rec = recall_at_k(np.asarray(ids), truth)
            row = {"ef": ef, "recall": rec, "qps": best[name]}
            if calls is not None:
                row["distance_calls"] = calls
            out[name].append(row)
            log(f"    {name:12s} ef={ef:4d} recall={rec:.4f} {best[name]:9.0f} q/s")
            if stop_at is not None and rec >= stop_at:
                done.append(name)
        active = [name for name in active if name not in done]
    return out


def fmt_qps(v: float | None, base: float | None, missing: str) -> str:
    """Queries/second with the ratio to ``base`` in brackets, or ``missing``."""
    if v is None:
        return missing
    return f"{v:,.0f} ({v / base:.2f}x)" if base else f"{v:,.0f}"


def fastest_reaching(sweep: list[dict], target: float) -> dict | None:
    """The sweep point with the most queries/second among those reaching ``target``."""
    ok = [row for row in sweep if row["recall"] >= target]
    return max(ok, key=lambda row: row["qps"]) if ok else None


# -- 1. cosine and inner product ----------------------------------------------------------------


def metric_libs(metric: str, threads: int) -> dict:
    """Builders for table 1: name -> build(data) -> (handle, set_ef, search)."""
    libs: dict = {}

    def pyembed_build(data):
        ix = Index(data.shape[1], metric)
        ix.add(data)
        ix.build(n_threads=threads)
        state = {"ef": DEFAULT_EF}
        return (
            ix,
            lambda ef: state.update(ef=ef),
            lambda q: ix.search(q, K, ef=state["ef"], n_threads=1).ids,
        )

    libs["pyembed"] = pyembed_build
    libs["pyembed-sq8"] = None  # the pyembed index plus codes (see run_metrics)
    try:
        import hnswlib

        def h_build(data):
            ix = hnswlib.Index(space=metric, dim=data.shape[1])
            ix.init_index(
                max_elements=len(data),
                M=HNSWLIB_M,
                ef_construction=HNSWLIB_EF_CONSTRUCTION,
                random_seed=100,
            )
            ix.add_items(data, np.arange(len(data)), num_threads=threads)
            ix.set_num_threads(1)
            return ix, ix.set_ef, lambda q: ix.knn_query(q, k=K, num_threads=1)[0]

        libs["hnswlib"] = h_build
    except ImportError:
        log("hnswlib not installed: skipped")
    try:
        import faiss

        def f_build(data):
            faiss.omp_set_num_threads(threads)
            ix = faiss.IndexHNSWFlat(data.shape[1], FAISS_M, faiss.METRIC_INNER_PRODUCT)
            ix.hnsw.efConstruction = FAISS_EF_CONSTRUCTION
            ix.add(data)
            faiss.omp_set_num_threads(1)

            def set_ef(ef):
                ix.hnsw.efSearch = ef

            def search(q):
                faiss.omp_set_num_threads(1)
                return ix.search(q, K)[1]

            return ix, set_ef, search

        libs["faiss"] = f_build
    except ImportError:
        log("faiss-cpu not installed: skipped")
    try:
        from usearch.index import Index as UIndex

        def u_build(data):
            ix = UIndex(
                ndim=data.shape[1],
                metric={"cosine": "cos", "ip": "ip"}[metric],
                dtype="f32",
                connectivity=USEARCH_CONNECTIVITY,
                expansion_add=USEARCH_EXPANSION_ADD,
            )
            ix.add(np.arange(len(data)), data, threads=threads)

            def set_ef(ef):
                ix.expansion_search = ef

            def search(q):
                return ix.search(q, K, threads=1).keys.astype(np.int64).reshape(-1, K)

            return ix, set_ef, search

        libs["usearch"] = u_build
    except ImportError:
        log("usearch not installed: skipped")
    return libs


def with_codes(ix: Index) -> tuple:
    """``ix`` after ``set_codes(True)``, with the set_ef and search of pyembed-sq8."""
    ix.set_codes(True)
    state = {"ef": DEFAULT_EF}

    def search(q):
        return ix.search(q, K, ef=state["ef"], n_threads=1, quantized=True).ids

    return ix, lambda ef: state.update(ef=ef), search


def run_metrics(data, queries, args) -> dict:
    """Table 1: build times and ef sweeps for cosine / ip on normalised and raw data."""
    cases = (
        ("cosine, unit-length data", "cosine", True),
        ("ip, unit-length data", "ip", True),
        ("ip, raw data", "ip", False),
    )
    res: dict = {}
    for label, metric, normalise in cases:
        x, q = (unit(data), unit(queries)) if normalise else (data, queries)
        truth = top_by_score(unit(x) if metric == "cosine" else x, q, K)
        log(f"  {label}")
        builders = metric_libs(metric, args.threads)
        handles: dict = {}
        build_s: dict = {}
        for _ in range(args.build_repeat):  # builds take turns
            for name, build in builders.items():
                if build is None:
                    continue
                handles.pop(name, None)
                gc.collect()
                handle, took = timed(lambda build=build, x=x: build(x))
                build_s[name] = min(build_s.get(name, float("inf")), took)
                handles[name] = handle
                log(f"    {name:12s} build {args.threads} threads: {took:.2f} s")
        handles["pyembed-sq8"], took = timed(partial(with_codes, handles["pyembed"][0]))
        build_s["pyembed-sq8"] = build_s["pyembed"] + took
        order = [name for name in builders if name in handles]
        libs = {name: handles[name][1:] for name in order}
        sweeps = sweep_interleaved(libs, args.efs, q, truth, args.repeat)
        res[label] = {
            "metric": metric,
            "normalised": normalise,
            "libs": {name: {"build_s": build_s[name], "sweep": sweeps[name]} for name in order},
        }
        handles.clear()
        del libs
        gc.collect()
    return res


def report_metrics(res: dict, args) -> None:
    """Print table 1."""
    print(
        f"\n## 1. Cosine and inner product: queries/second at recall@{K} = {TARGET} "
        f"(1 thread, one batch call), build with {args.threads} threads\n"
        f"Same run, interleaved, best of {args.repeat} rounds; ratios (in brackets) against "
        "hnswlib measured in this run. 'interpolated' = log q/s linear in recall between the "
        "two sweep points around the target; 'fastest >= target' = the best sweep point at or "
        "above it (ef shown). pyembed-sq8 build = pyembed build + set_codes(True).\n"
    )
    print(
        "| case | library | build (s) | q/s at 0.95, interpolated | q/s, fastest >= 0.95 "
        "(ef, recall) | best recall |"
    )
    print("|---|---|---|---|---|---|")
    for label, case in res.items():
        libs = case["libs"]
        base = libs.get("hnswlib")
        bi = qps_interpolated(base["sweep"], TARGET, "qps") if base else None
        bs = qps_at_recall(base["sweep"], TARGET, "qps") if base else None
        bb = base["build_s"] if base else None
        for name, r in libs.items():
            vi = qps_interpolated(r["sweep"], TARGET, "qps")
            vs = fastest_reaching(r["sweep"], TARGET)
            step = "not reached"
            if vs is not None:
                step = f"{fmt_qps(vs['qps'], bs, '')} (ef {vs['ef']}, {vs['recall']:.3f})"
            build = f"{r['build_s']:.2f}" + (f" ({r['build_s'] / bb:.2f}x)" if bb else "")
            top = max(row["recall"] for row in r["sweep"])
            print(
                f"| {label} | {name} | {build} | {fmt_qps(vi, bi, 'not bracketed')} | "
                f"{step} | {top:.4f} |"
            )


# -- 2. filtered search -------------------------------------------------------------------------


def euclidean_pyembed(data: np.ndarray, threads: int) -> Index:
    """A Euclidean pyembed index with default parameters over ``data`` (ids = row numbers)."""
    ix = Index(data.shape[1])
    ix.add(data)
    ix.build(n_threads=threads)
    return ix


def faiss_hnsw_l2(data: np.ndarray, threads: int):
    """faiss IndexHNSWFlat (L2, M=32, efConstruction=200) over ``data``."""
    import faiss

    faiss.omp_set_num_threads(threads)
    ix = faiss.IndexHNSWFlat(data.shape[1], FAISS_M)
    ix.hnsw.efConstruction = FAISS_EF_CONSTRUCTION
    ix.add(data)
    faiss.omp_set_num_threads(1)
    return ix


def run_filter(data, queries, truth_all, shared: dict, args) -> dict:
    """Table 2: pyembed filtered search against faiss with an IDSelectorBatch, per selectivity."""
    import faiss

    ix, fx = shared["pyembed"], shared["faiss"]
    n = len(data)
    perm = np.random.default_rng(SEED_FILTER).permutation(n)
    res: dict = {}
    for frac in FRACTIONS:
        m = max(1, round(frac * n))
        allowed = np.sort(perm[:m]).astype(np.int64)
        truth = truth_all if m == n else truth_among(data, queries, allowed, K)
        flt, t_pyembed = timed(lambda allowed=allowed: ix.filter(allowed))
        sel, t_faiss = timed(lambda allowed=allowed: faiss.IDSelectorBatch(allowed))
        log(f"  allowed {frac:.1%} = {m:,} rows")
        state = {"ef": DEFAULT_EF}

        def p_search(q, flt=flt, state=state):
            r = ix.search(q, K, ef=state["ef"], n_threads=1, filter=flt)
            return r.ids, float(r.distance_calls.mean())

        def f_search(q, sel=sel, state=state):
            faiss.omp_set_num_threads(1)
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=state["ef"])
            return fx.search(q, K, params=params)[1]

        def set_ef(ef, state=state):
            state["ef"] = ef

        libs = {"pyembed": (set_ef, p_search), "faiss": (set_ef, f_search)}
        sweeps = sweep_interleaved(libs, args.filter_efs, queries, truth, args.repeat)
        res[f"{frac:g}"] = {
            "fraction": frac,
            "allowed": m,
            "filter_build_s": {"pyembed": t_pyembed, "faiss": t_faiss},
            "sweep": sweeps,
        }
        del flt, sel
    return res


def report_filter(res: dict, n: int, args) -> None:
    """Print table 2."""
    print(
        f"\n## 2. Filtered search by selectivity: Euclidean, {n:,} x 128, k={K}, 1 thread, one "
        f"batch call\nSame run, interleaved, best of {args.repeat} rounds; the ratio is "
        f"pyembed / faiss queries/second at recall {TARGET} (interpolated), both measured in this "
        "run. 'fastest >= 0.95' = the fastest sweep point reaching it (or 'never', with the best "
        "recall seen). pyembed's documented rule: exact scan of the allowed rows when allowed <= "
        "4000 + 80 * max(ef, k); 'calls' = its mean distance calls per query at "
        "that point.\n"
    )
    print(
        "| allowed | rows | pyembed fastest >= 0.95: ef, recall, q/s, calls | faiss fastest >= "
        "0.95: ef, recall, q/s | pyembed / faiss at 0.95 |"
    )
    print("|---|---|---|---|---|")
    for r in res.values():
        cells = []
        for name in ("pyembed", "faiss"):
            sweep = r["sweep"][name]
            p = fastest_reaching(sweep, TARGET)
            if p is None:
                best = max(sweep, key=lambda row: row["recall"])
                cells.append(f"never (best {best['recall']:.3f} at ef {best['ef']})")
            else:
                calls = f", {p['distance_calls']:,.0f}" if "distance_calls" in p else ""
                cells.append(f"ef {p['ef']}, {p['recall']:.3f}, {p['qps']:,.0f}{calls}")
        qp = qps_interpolated(r["sweep"]["pyembed"], TARGET, "qps")
        qf = qps_interpolated(r["sweep"]["faiss"], TARGET, "qps")
        if qp is not None and qf is not None:
            ratio = f"{qp / qf:.2f}x (interpolated)"
        else:
            # Outside a bracket (every point above 0.95, or none reaching it), fall back to the
            # fastest point reaching it, and say so.
            sp = qps_at_recall(r["sweep"]["pyembed"], TARGET, "qps")
            sf = qps_at_recall(r["sweep"]["faiss"], TARGET, "qps")
            if sp is not None and sf is not None:
                ratio = f"{sp / sf:.2f}x (fastest points; not bracketed)"
            elif sp is not None:
                ratio = "faiss never reaches 0.95"
            elif sf is not None:
                ratio = "pyembed never reaches 0.95"
            else:
                ratio = "neither reaches 0.95"
        print(f"| {r['fraction']:.1%} | {r['allowed']:,} | {cells[0]} | {cells[1]} | {ratio} |")


# -- 3. deletes -------------------------------------------------------------------------------


def churn_inputs(data: np.ndarray, fraction: float = DELETE_FRACTION):
    """The deletes-and-adds sequence: ids to remove (``fraction`` of them, fixed seed), new
    vectors from the same mixture and their new ids (after the largest)."""
    n = len(data)
    removed = np.sort(
        np.random.default_rng(SEED_DELETE).choice(n, size=round(fraction * n), replace=False)
    ).astype(np.int64)
    new = mixture(len(removed), SEED_NEW, dim=data.shape[1])
    new_ids = np.arange(n, n + len(removed), dtype=np.int64)
    return removed, new, new_ids


def churned_pyembed(data: np.ndarray, threads: int, removed, new, new_ids) -> tuple:
    """Build pyembed on ``data``, remove ``removed``, add ``new``; the index and the timings."""
    ix = euclidean_pyembed(data, threads)
    counters, t_remove = timed(lambda: ix.remove(removed, n_threads=threads))
    pending = ix.pending  # all rows when the removal dropped the graph instead of repairing it

    def add_and_build():
        ix.add(new, ids=new_ids)
        return ix.build(n_threads=threads)

    _, t_add = timed(add_and_build)
    return ix, {
        "remove_s": t_remove,
        "add_build_s": t_add,
        "remove_counters": counters,
        "pending_after_remove": pending,
    }


def run_deletes(data, queries, args) -> dict:
    """Table 3: recall after removing a share of the ids and adding as many, against a fresh
    build of the final data."""
    removed, new, new_ids = churn_inputs(data, args.delete_fraction)
    keep = np.setdiff1d(np.arange(len(data)), removed)
    final = np.vstack([data[keep], new])
    final_ids = np.concatenate([keep, new_ids]).astype(np.int64)
    truth = final_ids[ground_truth(final, queries, K)]
    log(f"  removing {len(removed):,}, adding {len(new):,}")
    churned, times = churned_pyembed(data, args.threads, removed, new, new_ids)
    assert len(churned) == len(final), (len(churned), len(final))
    fresh = Index(data.shape[1])
    fresh.add(final, ids=final_ids)
    _, t_fresh = timed(lambda: fresh.build(n_threads=args.threads))
    times["fresh_build_s"] = t_fresh
    libs: dict = {}
    state = {"ef": DEFAULT_EF}

    def set_ef(ef):
        state["ef"] = ef

    # Build order alone moves recall by about 0.02 on this data (see report_deletes): the fresh
    # build is also made in the churned index's slot order and in a random order.
    slot_ids = churned.ids
    same_order = Index(data.shape[1])
    same_order.add(churned.get_vectors(slot_ids), ids=slot_ids)
    same_order.build(n_threads=args.threads)
    perm = np.random.default_rng(SEED_DELETE + 1).permutation(len(final))
    shuffled = Index(data.shape[1])
    shuffled.add(final[perm], ids=final_ids[perm])
    shuffled.build(n_threads=args.threads)
    for name, ix in (
        ("pyembed churned", churned),
        ("pyembed fresh", fresh),
        ("pyembed fresh, slot order", same_order),
        ("pyembed fresh, shuffled", shuffled),
    ):
        libs[name] = (set_ef, lambda q, ix=ix: ix.search(q, K, ef=state["ef"], n_threads=1).ids)
    hnsw_times: dict = {}
    try:
        import hnswlib

        h = hnswlib.Index(space="l2", dim=data.shape[1])
        h.init_index(
            max_elements=len(data),
            M=HNSWLIB_M,
            ef_construction=HNSWLIB_EF_CONSTRUCTION,
            random_seed=100,
            allow_replace_deleted=True,
        )
        h.add_items(data, np.arange(len(data)), num_threads=args.threads)

        def mark():
            for i in removed.tolist():
                h.mark_deleted(i)

        _, hnsw_times["remove_s"] = timed(mark)
        _, hnsw_times["add_build_s"] = timed(
            lambda: h.add_items(new, new_ids, num_threads=args.threads, replace_deleted=True)
        )
        hf = hnswlib.Index(space="l2", dim=data.shape[1])
        hf.init_index(
            max_elements=len(final),
            M=HNSWLIB_M,
            ef_construction=HNSWLIB_EF_CONSTRUCTION,
            random_seed=100,
        )
        _, hnsw_times["fresh_build_s"] = timed(
            lambda: hf.add_items(final, final_ids, num_threads=args.threads)
        )
        for name, hx in (("hnswlib churned", h), ("hnswlib fresh", hf)):
            hx.set_num_threads(1)
            libs[name] = (
                lambda ef, hx=hx: hx.set_ef(ef),
                lambda q, hx=hx: hx.knn_query(q, k=K, num_threads=1)[0].astype(np.int64),
            )
    except ImportError:
        log("hnswlib not installed: skipped")
    sweeps = sweep_interleaved(libs, DELETE_EFS, queries, truth, args.repeat, stop_at=None)
    return {
        "removed": len(removed),
        "added": len(new),
        "pyembed_s": {k: times[k] for k in ("remove_s", "add_build_s", "fresh_build_s")},
        "pyembed_pending_after_remove": times["pending_after_remove"],
        "pyembed_remove_counters": {k: int(v) for k, v in times["remove_counters"].items()},
        "hnswlib_s": hnsw_times,
        "sweep": sweeps,
    }


def report_deletes(res: dict, n: int, args) -> None:
    """Print table 3."""
    pt, ht = res["pyembed_s"], res["hnswlib_s"]
    print(
        f"\n## 3. Deletes: {n:,} built, {res['removed']:,} removed (random, seed "
        f"{SEED_DELETE}), {res['added']:,} new added from the same mixture; recall@{K} on the "
        f"final data, 1 thread, one batch call\nSame run, interleaved, best of {args.repeat} "
        "rounds; 'diff' = churned - fresh at the same ef (target: |diff| <= 0.01); "
        "q/s ratio churned / fresh of the same library in this run.\n"
    )
    print(
        f"pyembed: remove {pt['remove_s']:.2f} s, add + build {pt['add_build_s']:.2f} s, fresh "
        f"build {pt['fresh_build_s']:.2f} s ({args.threads} threads); remove counters: "
        f"{res['pyembed_remove_counters']}; pending after the removal: "
        f"{res['pyembed_pending_after_remove']:,} of {n - res['removed']:,} rows"
        + (
            " (the removal dropped the graph; add + build relinked every row)"
            if res["pyembed_pending_after_remove"] == n - res["removed"]
            else " (graph repaired in place)"
        )
    )
    if ht:
        print(
            f"hnswlib: mark_deleted {ht['remove_s']:.2f} s, add_items(replace_deleted=True) "
            f"{ht['add_build_s']:.2f} s, fresh build {ht['fresh_build_s']:.2f} s\n"
        )
    print(
        "'fresh' is built on the final rows in the order kept rows, then new ones; 'fresh, slot "
        "order' in the churned index's slot order (new rows where removed ones were); 'fresh, "
        "shuffled' in a random order. On this data the build order alone moves recall by about "
        "0.02 (kept-then-new builds better than any interleaving), so the churned index is "
        "compared with all three.\n"
    )
    print(
        "| library | fresh build | ef | recall churned | recall fresh | diff | within 0.01 | "
        "q/s churned | q/s fresh |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for lib in ("pyembed", "hnswlib"):
        a = res["sweep"].get(f"{lib} churned")
        for ref in ("fresh", "fresh, slot order", "fresh, shuffled"):
            b = res["sweep"].get(f"{lib} {ref}")
            if not a or not b:
                continue
            fresh = {row["ef"]: row for row in b}
            for row in a:
                f = fresh.get(row["ef"])
                if f is None:
                    continue
                d = row["recall"] - f["recall"]
                print(
                    f"| {lib} | {ref} | {row['ef']} | {row['recall']:.4f} | {f['recall']:.4f} | "
                    f"{d:+.4f} | {'yes' if abs(d) <= 0.01 else 'NO'} | {row['qps']:,.0f} "
                    f"({row['qps'] / f['qps']:.2f}x) | {f['qps']:,.0f} |"
                )


# -- 4. range search --------------------------------------------------------------------------


def hit_sets(ids: np.ndarray, offsets: np.ndarray) -> list[set]:
    """Per-query sets of ids from flat ``ids`` and ``offsets`` (faiss's ``lims``)."""
    return [set(ids[offsets[i] : offsets[i + 1]].tolist()) for i in range(len(offsets) - 1)]


def found_share(got: list[set], exact: list[set]) -> float:
    """Share of the exact hits present in ``got`` (1.0 when there are none)."""
    total = sum(len(e) for e in exact)
    return sum(len(g & e) for g, e in zip(got, exact, strict=True)) / total if total else 1.0


def check_exact_range(data, queries, r, radius: float, n_check: int = 50) -> dict:
    """Compare pyembed's exact range search on the first ``n_check`` queries with numpy brute
    force (float64 distances). Hits that differ only because a distance lies within float32
    rounding of the radius are counted apart; any other difference fails the assert."""
    x = data.astype(np.float64)
    boundary = 0
    wrong = []
    worst_dist_err = 0.0
    for i in range(min(n_check, len(queries))):
        d = np.sqrt(((x - queries[i].astype(np.float64)) ** 2).sum(1))
        brute = set(np.flatnonzero(d <= radius).tolist())
        ids, dist = r[i]
        got = set(ids.tolist())
        if len(dist) > 1 and not np.all(np.diff(dist) >= 0):
            wrong.append((i, "distances not ascending"))
        if len(ids):
            worst_dist_err = max(worst_dist_err, float(np.abs(dist - d[ids]).max()))
        for j in got ^ brute:
            if abs(d[j] - radius) <= 1e-5 * max(radius, 1.0):
                boundary += 1
            else:
                side = "missing" if j in brute else "extra"
                wrong.append((i, f"id {j} {side}, distance {d[j]!r}, radius {radius!r}"))
    assert not wrong, f"exact range search differs from brute force: {wrong[:10]}"
    return {
        "queries": min(n_check, len(queries)),
        "boundary": boundary,
        "max_abs_err": worst_dist_err,
    }


def run_range(data, queries, shared: dict, args) -> dict:
    """Table 4: exact and graph range search against faiss flat and HNSW range search."""
    import faiss

    ix, fx = shared["pyembed"], shared["faiss"]
    near = ground_truth(data, queries, 50)
    dist = np.sqrt(
        ((data[near].astype(np.float64) - queries.astype(np.float64)[:, None, :]) ** 2).sum(2)
    )
    radii = {
        "median 10th-NN": float(np.median(dist[:, 9])),
        "median 50th-NN": float(np.median(dist[:, 49])),
    }
    flat = faiss.IndexFlatL2(data.shape[1])
    flat.add(data)
    res: dict = {}
    for label, radius in radii.items():
        log(f"  radius {label} = {radius:.4f}")
        exact = ix.range_search(queries, radius, exact=True, n_threads=1)
        check = check_exact_range(data, queries, exact, radius)
        exact_sets = hit_sets(exact.ids, exact.offsets)
        modes: dict = {
            "pyembed exact": lambda radius=radius: ix.range_search(
                queries, radius, exact=True, n_threads=1
            ),
        }
        for ef in RANGE_EFS:
            modes[f"pyembed graph ef={ef}"] = lambda ef=ef, radius=radius: ix.range_search(
                queries, radius, ef=ef, n_threads=1
            )

        def faiss_flat(radius=radius):
            faiss.omp_set_num_threads(1)
            return flat.range_search(queries, radius**2)

        modes["faiss IndexFlatL2"] = faiss_flat
        for ef in RANGE_EFS:

            def faiss_hnsw(ef=ef, radius=radius):
                faiss.omp_set_num_threads(1)
                return fx.range_search(
                    queries, radius**2, params=faiss.SearchParametersHNSW(efSearch=ef)
                )

            modes[f"faiss HNSW ef={ef}"] = faiss_hnsw
        best = dict.fromkeys(modes, 0.0)
        out: dict = {}
        for _ in range(args.repeat):  # the modes take turns
            for name, fn in modes.items():
                out[name], took = timed(fn)
                best[name] = max(best[name], len(queries) / took)
        rows = {}
        for name, got in out.items():
            if name.startswith("pyembed"):
                sets = hit_sets(got.ids, got.offsets)
            else:
                lims, _, ids = got
                sets = hit_sets(ids, lims)
            rows[name] = {
                "hits_per_query": sum(len(s) for s in sets) / len(sets),
                "recall_vs_exact": found_share(sets, exact_sets),
                "extra_vs_exact": sum(len(s - e) for s, e in zip(sets, exact_sets, strict=True)),
                "qps": best[name],
            }
            log(
                f"    {name:22s} hits/query {rows[name]['hits_per_query']:7.2f} recall "
                f"{rows[name]['recall_vs_exact']:.4f} {best[name]:9.0f} q/s"
            )
        res[label] = {"radius": radius, "check": check, "modes": rows}
    return res


def report_range(res: dict, n: int, args) -> None:
    """Print table 4."""
    print(
        f"\n## 4. Range search: Euclidean, {n:,} x 128, 1 thread, one batch call\nSame run, "
        f"interleaved, best of {args.repeat} rounds; 'recall' = share of pyembed's exact hits "
        "found, 'extra' = hits outside the exact set (faiss compares squared L2 with radius**2, "
        "so rounding at the boundary can differ); q/s ratio against faiss IndexFlatL2 (exact) "
        "in this run.\n"
    )
    for label, r in res.items():
        c = r["check"]
        print(
            f"radius = {label} = {r['radius']:.4f}; exact == brute force (first {c['queries']} "
            f"queries, numpy float64): yes ({c['boundary']} hits within float32 rounding of the "
            f"radius; max |distance error| {c['max_abs_err']:.2e})"
        )
    print("\n| radius | mode | hits/query | recall vs exact | extra | q/s |")
    print("|---|---|---|---|---|---|")
    for label, r in res.items():
        base = r["modes"]["faiss IndexFlatL2"]["qps"]
        for name, m in r["modes"].items():
            print(
                f"| {label} | {name} | {m['hits_per_query']:.2f} | {m['recall_vs_exact']:.4f} | "
                f"{m['extra_vs_exact']} | {fmt_qps(m['qps'], base, '')} |"
            )


# -- 5. memory ----------------------------------------------------------------------------------

MEMORY_CASES = {
    "built": "Euclidean index, built",
    "codes": "the same + set_codes(True)",
    "churned": "after the deletes and adds of table 3",
}


def malloc_trim() -> bool:
    """Ask glibc to return freed heap memory to the system; False where that is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def memory_probe(case: str, args) -> None:
    """In a fresh process: print memory_usage() and the RSS growth of making index ``case``.

    The data (and the deletes-and-adds inputs) are resident before the first reading, and the
    memory freed while generating them is returned to the system (``malloc_trim``). Besides
    the growth itself: the peak growth while making the index (VmHWM, reset at the first
    reading), and the growth after ``malloc_trim(0)``, which returns memory the index freed but
    glibc kept (temporary copies and buffers of the add and the build), so it shows what the
    index itself still holds.
    """
    data, _ = clustered(args.n, 1)
    removed, new, new_ids = (
        churn_inputs(data, args.delete_fraction) if case == "churned" else (None, None, None)
    )
    gc.collect()
    malloc_trim()  # the data's temporaries, so the trimmed reading below compares like with like
    start = rss_bytes()
    reset_peak()
    if case == "churned":
        ix, _ = churned_pyembed(data, args.threads, removed, new, new_ids)
    else:
        ix = euclidean_pyembed(data, args.threads)
        if case == "codes":
            ix.set_codes(True)
    gc.collect()
    end = rss_bytes()
    peak = status()["VmHWM"]
    trimmed = rss_bytes() if malloc_trim() else None
    out = {
        "memory_usage": ix.memory_usage(),
        "rss_growth": end - start,
        "peak_growth": peak - start,
        "rss_growth_trimmed": None if trimmed is None else trimmed - start,
        "len": len(ix),
    }
    print(json.dumps(out))


def run_memory(args) -> dict:
    """Table 5: memory_usage() against the RSS growth in a fresh process, per case."""
    res = {}
    for case in MEMORY_CASES:
        cmd = [
            sys.executable, os.path.abspath(__file__), "--memory-probe", case,
            "--n", str(args.n), "--threads", str(args.threads),
            "--delete-fraction", str(args.delete_fraction),
        ]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res[case] = json.loads(out.stdout.strip().splitlines()[-1])
        log(f"  {case}: {res[case]}")
    return res


def report_memory(res: dict, n: int) -> None:
    """Print table 5."""
    print(
        f"\n## 5. Memory: Index.memory_usage() against the resident-set growth of making the "
        f"index ({n:,} x 128, fresh process per row, data resident before the first reading)\n"
        "Same run; target: usage / growth within 10% of 1. 'RSS growth' = resident set after "
        "making the index minus before (the brief's measure); 'peak growth' = the highest "
        "resident set while making it (VmHWM) minus before; 'after malloc_trim' = the growth "
        "once glibc has returned the memory the index freed (temporary copies and buffers). "
        "The raw vectors alone are "
        f"{n * 128 * 4 / 2**20:.1f} MiB.\n"
    )
    print(
        "| index | len | memory_usage() (MiB) | RSS growth (MiB) | usage / growth | within 10% "
        "| peak growth (MiB) | growth after malloc_trim (MiB) | usage / that | within 10% |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case, r in res.items():
        cells = []
        for key in ("rss_growth", "rss_growth_trimmed"):
            if r[key] is None:
                cells.append("n/a | n/a | n/a")
                continue
            ratio = r["memory_usage"] / r[key] if r[key] > 0 else float("nan")
            ok = "yes" if abs(ratio - 1) <= 0.10 else "NO"
            cells.append(f"{r[key] / 2**20:.1f} | {ratio:.3f} | {ok}")
        print(
            f"| {MEMORY_CASES[case]} | {r['len']:,} | {r['memory_usage'] / 2**20:.1f} | "
            f"{cells[0]} | {r['peak_growth'] / 2**20:.1f} | {cells[1]} |"
        )


def main() -> None:
    """Parse the options, run the chosen tables and print them."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=100_000, help="database size (default 100,000)")
    p.add_argument("--nq", type=int, default=1000, help="queries (default 1,000)")
    p.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    p.add_argument("--threads", type=int, default=2, help="build threads (default 2)")
    p.add_argument("--quick", action="store_true", help="fewer effort settings, 1 round")
    p.add_argument(
        "--repeat", type=int, default=3, help="timed rounds per setting; best kept (default 3)"
    )
    p.add_argument(
        "--build-repeat",
        type=int,
        default=1,
        help="table 1: builds per library, interleaved; the fastest is reported (default 1)",
    )
    p.add_argument(
        "--delete-fraction",
        type=float,
        default=DELETE_FRACTION,
        help="tables 3 and 5: share of the ids removed, then added anew (default 0.3)",
    )
    p.add_argument("--json", metavar="PATH", help="write all measurements as JSON")
    p.add_argument("--memory-probe", choices=list(MEMORY_CASES), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe, args)
        return
    if args.quick:
        args.repeat = 1
    args.efs = EFS_QUICK if args.quick else EFS
    args.filter_efs = FILTER_EFS_QUICK if args.quick else FILTER_EFS
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:
        pass
    vers = versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    print(
        f"clustered-128: n={args.n:,}, {args.nq} queries, k={K}; pyembed defaults "
        f"max_degree={DEFAULT_MAX_DEGREE} ef_construction={DEFAULT_EF_CONSTRUCTION}; hnswlib "
        f"M={HNSWLIB_M} ef_construction={HNSWLIB_EF_CONSTRUCTION}; faiss HNSWFlat M={FAISS_M} "
        f"efConstruction={FAISS_EF_CONSTRUCTION}; usearch connectivity={USEARCH_CONNECTIVITY} "
        f"expansion_add={USEARCH_EXPANSION_ADD}; builds {args.threads} threads, searches 1 "
        f"thread; best of {args.repeat} interleaved rounds"
    )
    data, queries = clustered(args.n, args.nq)
    saved: dict = {"versions": vers, "n": args.n, "nq": args.nq, "repeat": args.repeat}
    started = time.perf_counter()
    if "metrics" in args.tables:
        log("# 1. cosine and inner product")
        saved["metrics"] = run_metrics(data, queries, args)
        report_metrics(saved["metrics"], args)
    shared: dict = {}
    if "filter" in args.tables or "range" in args.tables:
        log("# Euclidean pyembed and faiss HNSW for tables 2 and 4")
        shared["pyembed"], t_p = timed(lambda: euclidean_pyembed(data, args.threads))
        shared["faiss"], t_f = timed(lambda: faiss_hnsw_l2(data, args.threads))
        saved["euclidean_build_s"] = {"pyembed": t_p, "faiss": t_f}
    if "filter" in args.tables:
        log("# 2. filtered search")
        truth = ground_truth(data, queries, K)
        saved["filter"] = run_filter(data, queries, truth, shared, args)
        report_filter(saved["filter"], args.n, args)
    if "deletes" in args.tables:
        log("# 3. deletes")
        saved["deletes"] = run_deletes(data, queries, args)
        report_deletes(saved["deletes"], args.n, args)
    if "range" in args.tables:
        log("# 4. range search")
        saved["range"] = run_range(data, queries, shared, args)
        report_range(saved["range"], args.n, args)
    shared.clear()
    gc.collect()
    if "memory" in args.tables:
        log("# 5. memory")
        saved["memory"] = run_memory(args)
        report_memory(saved["memory"], args.n)
    saved["elapsed_s"] = time.perf_counter() - started
    print(f"\nelapsed: {saved['elapsed_s']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(saved, f, indent=1)


if __name__ == "__main__":
    main()
