"""Euclidean k-NN: pyembed against hnswlib, faiss (IndexHNSWFlat) and usearch, in one run.

Datasets (fixed seeds, generated here): clustered-128 (100,000 x 128 Gaussian mixture, 1,000
queries from the same mixture) and random-32 (100,000 x 32 uniform, 1,000 queries). Exact ground
truth by brute force (numpy, float64). For every library: build time with 1 and 2 threads, index
memory (resident-set growth of one build in a fresh process), and a sweep of its search effort
(ef) timed single-thread one query per call, single-thread as one batch call, and as one batch
call with 2 threads. Two tables give queries/second at recall@10 0.90, 0.95 and 0.99 with the
ratio to hnswlib measured in the same run: the fastest measured sweep point reaching the target,
and the value interpolated at exactly the target (the sweep is coarse, so the first can favour
whichever library's sweep point happens to land just above the target).

The libraries are interleaved so a slow spell of a shared machine hits them alike: the builds
take turns (one 1-thread build each, then --build-repeat rounds of 2-thread builds, keeping each
library's fastest), and at each effort setting every library is timed once per round, for
--repeat rounds, keeping each one's best round.

pyembed runs three ways: "pyembed" is the index with HNSW-style layers (Index(graph="hnsw"),
entry="hierarchy"), "pyembed-sq8" the same index searched with quantized=True (the walk compares
8-bit codes, the final candidates are re-ranked by float distances), "pyembed-nsw" the flat
navigable small world graph (entry "pivots" unless --nsw-entry says otherwise; "random" is the
classic NSW search with restarts). "faiss-sq8" is faiss's IndexHNSWSQ (8-bit scalar quantizer, no
re-ranking), the peer closest to pyembed-sq8.

    python benchmarks/ann.py                    # full run (about ten minutes)
    python benchmarks/ann.py --n 20000 --quick  # smoke run
    python benchmarks/ann.py --plot out/        # also write recall-vs-QPS PNGs (matplotlib)
    python benchmarks/ann.py --report run.json  # tables again from a run saved with --json
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pyembed.metrics import qps_at_recall, qps_interpolated

K = 10
TARGETS = (0.90, 0.95, 0.99)
QPS_KEYS = ("qps_per_query", "qps_batch_1t", "qps_batch_2t")
EFS = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def clustered(n: int, nq: int, dim: int = 128, centers: int = 100, seed: int = 1):
    """Gaussian mixture: ``centers`` means ~ N(0, 1), points = mean + N(0, 0.35^2) noise."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(centers, dim)).astype(np.float32)

    def draw(m: int) -> np.ndarray:
        c = rng.integers(0, centers, size=m)
        return (means[c] + 0.35 * rng.normal(size=(m, dim))).astype(np.float32)

    return draw(n), draw(nq)


def uniform(n: int, nq: int, dim: int = 32, seed: int = 2):
    rng = np.random.default_rng(seed)
    return rng.random((n, dim), dtype=np.float32), rng.random((nq, dim), dtype=np.float32)


def ground_truth(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(queries), k), dtype=np.int64)
    d2 = (data.astype(np.float64) ** 2).sum(1)
    for s in range(0, len(queries), 100):
        q = queries[s : s + 100].astype(np.float64)
        dist = d2[None, :] - 2 * q @ data.T.astype(np.float64) + (q**2).sum(1)[:, None]
        part = np.argpartition(dist, k, axis=1)[:, :k]
        order = np.take_along_axis(dist, part, 1).argsort(1)
        out[s : s + 100] = np.take_along_axis(part, order, 1)
    return out


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of process ``pid`` (default: this one) in bytes (Linux /proc)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Lib:
    """One library's adapter: build(data, threads) -> handle; search(handle, q, ef, threads)."""

    name: str
    build: Callable[[np.ndarray, int], object]
    set_ef: Callable[[object, int], None]
    search: Callable[[object, np.ndarray, int], np.ndarray]
    results: dict = field(default_factory=dict)


def make_libs(args) -> list[Lib]:
    libs = []
    from pyembed import Index

    # Release 0.1.0 spelled the graph kind hierarchy=True/False; accept both, so one script
    # compares two installed versions (the before/after runs of a refactor).
    graph_kw = "graph" in inspect.signature(Index).parameters

    def pyembed_lib(name: str, graph: str, entry: str, quantized: bool = False) -> Lib:
        state: dict = {}

        def build(data, threads):
            kind = {"graph": graph} if graph_kw else {"hierarchy": graph == "hnsw"}
            ix = Index(
                data.shape[1],
                max_degree=args.max_degree,
                ef_construction=args.ef_construction,
                **kind,
            )
            ix.add(data)
            ix.build(n_threads=threads)
            if quantized:  # encoding the rows is part of the build
                ix.set_codes(True)
            return ix

        def set_ef(ix, ef):
            state["ef"] = ef

        def search(ix, q, threads):
            return ix.search(
                q, K, ef=state["ef"], n_threads=threads, entry=entry, quantized=quantized
            ).ids

        return Lib(name, build, set_ef, search)

    libs.append(pyembed_lib("pyembed", "hnsw", "hierarchy"))
    libs.append(pyembed_lib("pyembed-sq8", "hnsw", "hierarchy", quantized=True))
    libs.append(pyembed_lib("pyembed-nsw", "nsw", args.nsw_entry))
    try:
        import hnswlib

        def h_build(data, threads):
            ix = hnswlib.Index(space="l2", dim=data.shape[1])
            ix.init_index(max_elements=len(data), M=16, ef_construction=200, random_seed=100)
            ix.add_items(data, np.arange(len(data)), num_threads=threads)
            return ix

        def h_search(ix, q, threads):
            return ix.knn_query(q, k=K, num_threads=threads)[0]

        libs.append(Lib("hnswlib", h_build, lambda ix, ef: ix.set_ef(ef), h_search))
    except ImportError:
        print("hnswlib not installed: skipped", file=sys.stderr)
    try:
        import faiss

        def f_build(data, threads):
            faiss.omp_set_num_threads(threads)
            ix = faiss.IndexHNSWFlat(data.shape[1], 16)
            ix.hnsw.efConstruction = 200
            ix.add(data)
            return ix

        def f_set_ef(ix, ef):
            ix.hnsw.efSearch = ef

        def f_search(ix, q, threads):
            faiss.omp_set_num_threads(threads)
            return ix.search(q.reshape(-1, q.shape[-1]), K)[1]

        libs.append(Lib("faiss", f_build, f_set_ef, f_search))

        def fsq_build(data, threads):
            faiss.omp_set_num_threads(threads)
            ix = faiss.IndexHNSWSQ(data.shape[1], faiss.ScalarQuantizer.QT_8bit, 16)
            ix.hnsw.efConstruction = 200
            ix.train(data)
            ix.add(data)
            return ix

        libs.append(Lib("faiss-sq8", fsq_build, f_set_ef, f_search))
    except ImportError:
        print("faiss-cpu not installed: skipped", file=sys.stderr)
    try:
        from usearch.index import Index as UIndex

        def u_build(data, threads):
            ix = UIndex(
                ndim=data.shape[1], metric="l2sq", dtype="f32", connectivity=16, expansion_add=200
            )
            ix.add(np.arange(len(data)), data, threads=threads)
            return ix

        def u_set_ef(ix, ef):
            ix.expansion_search = ef

        def u_search(ix, q, threads):
            m = ix.search(q, K, threads=threads)
            keys = m.keys
            return keys.reshape(-1, K) if keys.ndim == 2 or q.ndim == 2 else keys.reshape(1, -1)

        libs.append(Lib("usearch", u_build, u_set_ef, u_search))
    except ImportError:
        print("usearch not installed: skipped", file=sys.stderr)
    return [lib for lib in libs if lib.name in args.libs]


def memory_in_fresh_process(lib_name: str, dataset: str, args) -> float:
    """Resident-set growth (MiB) of building one index in a fresh interpreter.

    Measured in-process, the allocator reuses memory freed by earlier builds and the growth reads
    as zero; a fresh process sees only this index (plus the library's own allocations).
    """
    cmd = [
        sys.executable, os.path.abspath(__file__), "--memory-probe", lib_name,
        "--datasets", dataset, "--n", str(args.n), "--nq", "1",
        "--max-degree", str(args.max_degree), "--ef-construction", str(args.ef_construction),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def recall_at_k(got: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(
        len(set(a[a >= 0].tolist()) & set(b.tolist())) for a, b in zip(got, truth, strict=True)
    )
    return hits / truth.size


def time_searches(lib: Lib, handle, queries: np.ndarray, best: dict) -> tuple:
    """One round of the three timings of one library at its current effort; keeps the best q/s
    in ``best`` and returns the results of the per-query and the batch form."""
    t = time.perf_counter()
    got = np.vstack([lib.search(handle, q, 1) for q in queries])
    best["qps_per_query"] = max(best["qps_per_query"], len(queries) / (time.perf_counter() - t))
    t = time.perf_counter()
    batch = lib.search(handle, queries, 1)
    best["qps_batch_1t"] = max(best["qps_batch_1t"], len(queries) / (time.perf_counter() - t))
    t = time.perf_counter()
    lib.search(handle, queries, 2)
    best["qps_batch_2t"] = max(best["qps_batch_2t"], len(queries) / (time.perf_counter() - t))
    return got, batch


def run_dataset(name: str, data, queries, truth, libs: list[Lib], args) -> dict:
    out: dict = {lib.name: {"build_s": {}, "sweep": []} for lib in libs}
    handles: dict = {}
    # Builds take turns: every library with 1 thread (discarded), then --build-repeat rounds of
    # every library with 2 threads (the last kept), each library keeping its fastest build.
    for threads, rounds in ((1, 1), (2, args.build_repeat)):
        for _ in range(rounds):
            for lib in libs:
                handles.pop(lib.name, None)
                gc.collect()
                t = time.perf_counter()
                handle = lib.build(data, threads)
                took = time.perf_counter() - t
                best = out[lib.name]["build_s"].get(threads, float("inf"))
                out[lib.name]["build_s"][threads] = min(best, took)
                print(f"  {name:14s} {lib.name:11s} build {threads} thread(s): {took:.2f} s",
                      file=sys.stderr)  # fmt: skip
                if threads == 2:
                    handles[lib.name] = handle
                del handle
                gc.collect()
    for lib in libs:
        out[lib.name]["memory_mb"] = memory_in_fresh_process(lib.name, name, args)
    active = list(libs)
    for ef in args.efs:
        if ef < K or not active:
            continue
        best = {lib.name: dict.fromkeys(QPS_KEYS, 0.0) for lib in active}
        results: dict = {}
        for lib in active:
            lib.set_ef(handles[lib.name], ef)
            lib.search(handles[lib.name], queries[:10], 1)  # warm-up
        # Rounds interleave the libraries: a background hiccup hits one round of one library.
        for _ in range(args.repeat):
            for lib in active:
                lib.set_ef(handles[lib.name], ef)
                results[lib.name] = time_searches(lib, handles[lib.name], queries, best[lib.name])
        done = []
        for lib in active:
            got, batch = results[lib.name]
            rec = recall_at_k(np.asarray(batch), truth)
            row = {"ef": ef, "recall": rec, "recall_per_query": recall_at_k(got, truth)}
            row.update(best[lib.name])
            out[lib.name]["sweep"].append(row)
            print(
                f"  {name:14s} {lib.name:11s} ef={ef:4d} recall={rec:.4f} per-query "
                f"{row['qps_per_query']:8.0f} q/s  batch-1t {row['qps_batch_1t']:8.0f}  "
                f"batch-2t {row['qps_batch_2t']:8.0f}",
                file=sys.stderr,
            )
            if rec >= 0.999:
                done.append(lib)
        active = [lib for lib in active if lib not in done]
    handles.clear()
    gc.collect()
    return out


MODES = (
    ("qps_per_query", "1 thread, per query"),
    ("qps_batch_1t", "1 thread, batch"),
    ("qps_batch_2t", "2 threads, batch"),
)


def qps_table(res: dict, pick: Callable[[list[dict], float, str], float | None]) -> None:
    base = res.get("hnswlib")
    header = "| library | mode | " + " | ".join(f"recall {t:.2f}" for t in TARGETS) + " |"
    print(header)
    print("|" + "---|" * (2 + len(TARGETS)))
    for lib in res:
        for key, label in MODES:
            cells = []
            for t in TARGETS:
                v = pick(res[lib]["sweep"], t, key)
                b = pick(base["sweep"], t, key) if base else None
                if v is None:
                    cells.append("not reached" if pick is qps_at_recall else "not bracketed")
                else:
                    ratio = f" ({v / b:.2f}x)" if b else ""
                    cells.append(f"{v:,.0f}{ratio}")
            print(f"| {lib} | {label} | " + " | ".join(cells) + " |")


def build_seconds(r: dict, threads: int) -> float:
    """Build time in seconds with ``threads`` threads (JSON turns the int keys into strings)."""
    return r["build_s"][threads] if threads in r["build_s"] else r["build_s"][str(threads)]


def report(name: str, res: dict) -> None:
    libs = list(res)
    base = res.get("hnswlib")
    print(
        f"\n## {name}: queries/second at recall@{K} >= target, fastest measured sweep point "
        "(ratio to hnswlib in brackets)\n"
    )
    qps_table(res, qps_at_recall)
    print(
        f"\n## {name}: queries/second at recall@{K} = target, interpolated between the two "
        "measured sweep points around it (log q/s linear in recall)\n"
    )
    qps_table(res, qps_interpolated)
    print("\n| library | build 1 thread (s) | build 2 threads (s) | memory (MiB) |")
    print("|---|---|---|---|")
    for lib in libs:
        r = res[lib]
        b1, b2 = build_seconds(r, 1), build_seconds(r, 2)
        base2 = build_seconds(base, 2) if base else None
        rb = f" ({b2 / base2:.2f}x)" if base2 else ""
        rm = (
            f" ({r['memory_mb'] / base['memory_mb']:.2f}x)"
            if base and base["memory_mb"] > 0
            else ""
        )
        print(f"| {lib} | {b1:.2f} | {b2:.2f}{rb} | {r['memory_mb']:.1f}{rm} |")


def plot(name: str, res: dict, folder: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 5))
    for lib, r in res.items():
        ax.plot(
            [s["recall"] for s in r["sweep"]],
            [s["qps_per_query"] for s in r["sweep"]],
            "o-",
            label=lib,
        )
    ax.set_xlabel(f"recall@{K}")
    ax.set_ylabel("queries/second (1 thread, one query per call)")
    ax.set_yscale("log")
    ax.set_title(name)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = os.path.join(folder, f"ann_{name}.png")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"wrote {path}", file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=100_000, help="database size (default 100,000)")
    p.add_argument("--nq", type=int, default=1000, help="queries (default 1,000)")
    p.add_argument("--datasets", nargs="+", default=["clustered-128", "random-32"])
    p.add_argument(
        "--libs",
        nargs="+",
        default=[
            "pyembed",
            "pyembed-sq8",
            "pyembed-nsw",
            "hnswlib",
            "faiss",
            "faiss-sq8",
            "usearch",
        ],
    )
    p.add_argument(
        "--max-degree", type=int, default=32, help="pyembed max_degree (default 32 = 2*M)"
    )
    p.add_argument("--ef-construction", type=int, default=200, help="pyembed ef_construction")
    p.add_argument(
        "--nsw-entry",
        default="pivots",
        choices=["random", "pivots"],
        help="search entry of pyembed-nsw (default pivots; random = classic NSW restarts)",
    )
    p.add_argument("--quick", action="store_true", help="fewer effort settings")
    p.add_argument(
        "--repeat", type=int, default=3, help="timings per setting; the best is kept (default 3)"
    )
    p.add_argument(
        "--build-repeat",
        type=int,
        default=3,
        help="2-thread builds per library, interleaved; the fastest is reported (default 3)",
    )
    p.add_argument("--plot", metavar="DIR", help="write recall-vs-QPS PNGs into DIR")
    p.add_argument("--json", metavar="PATH", help="write all measurements as JSON")
    p.add_argument(
        "--report",
        metavar="PATH",
        help="print the tables (and --plot the PNGs) from a JSON written by --json; no measuring",
    )
    p.add_argument("--memory-probe", metavar="LIB", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        for name, res in saved.items():
            report(name, res)
            if args.plot:
                plot(name, res, args.plot)
        return
    if args.memory_probe:
        args.libs = [args.memory_probe]
        (lib,) = make_libs(args)
        data, _ = {"clustered-128": clustered, "random-32": uniform}[args.datasets[0]](args.n, 1)
        gc.collect()
        before = rss_bytes()
        handle = lib.build(data, 2)
        print((rss_bytes() - before) / 2**20)
        del handle
        return
    args.efs = (10, 32, 64, 128, 256) if args.quick else EFS
    print(
        f"pyembed: max_degree={args.max_degree} ef_construction={args.ef_construction}; "
        "pyembed = graph='hnsw' entry=hierarchy; pyembed-sq8 = the same, quantized=True; "
        f"pyembed-nsw = flat, entry={args.nsw_entry}; "
        f"best of {args.repeat} interleaved rounds"
    )
    libs = make_libs(args)
    gens = {"clustered-128": clustered, "random-32": uniform}
    everything = {}
    for name in args.datasets:
        data, queries = gens[name](args.n, args.nq)
        truth = ground_truth(data, queries, K)
        print(
            f"# {name}: {data.shape[0]:,} x {data.shape[1]}, {len(queries)} queries",
            file=sys.stderr,
        )
        res = run_dataset(name, data, queries, truth, libs, args)
        report(name, res)
        everything[name] = res
        if args.plot:
            plot(name, res, args.plot)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
