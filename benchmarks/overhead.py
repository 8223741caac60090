"""Per-call overhead of a single-vector search, above the Rust search time (issue 4 target: < 5 us).

The Rust search time per query is taken from one batch call over the same queries on one thread
(the core does the same work per query; the call costs are amortised). The per-call time is one
``Index.search`` call per query from Python; the native binding called directly is shown too, so
the split between the binding and the Python wrapper is visible. Best of several rounds.

    python benchmarks/overhead.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pyembed import Index


def best_per_query(fn, n_queries: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best / n_queries * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--ef", type=int, default=16)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    data = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    queries = rng.normal(size=(args.queries, args.dim)).astype(np.float32)
    index = Index(args.dim)
    index.add(data)
    native = index._native
    ef, nq = args.ef, len(queries)
    rows = [queries[i] for i in range(nq)]
    batch = best_per_query(lambda: index.search(queries, 10, ef=ef, n_threads=1), nq, args.rounds)
    direct = best_per_query(
        lambda: [native.search(q[None], 10, ef, 1, False, 1, True, "random") for q in rows],
        nq,
        args.rounds,
    )
    per_call = best_per_query(
        lambda: [index.search(q, 10, ef=ef, n_threads=1) for q in rows], nq, args.rounds
    )
    print(f"index: {args.n} x {args.dim}, ef={ef}, {nq} queries, best of {args.rounds} rounds")
    print(f"Rust search time per query (batch call, 1 thread): {batch:7.2f} us")
    print(
        f"native binding, one call per query:               {direct:7.2f} us (+{direct - batch:.2f})"
    )
    print(
        f"pyembed.Index.search, one call per query:         {per_call:7.2f} us (+{per_call - batch:.2f})"
    )
    verdict = "met" if per_call - batch < 5 else "NOT met"
    print(
        f"per-call overhead above the Rust search: {per_call - batch:.2f} us (target < 5 us: {verdict})"
    )


if __name__ == "__main__":
    main()
