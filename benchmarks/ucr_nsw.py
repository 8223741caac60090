"""Graph search with DTW on UCR data: work and error against exact search, in one run.

For each data set and band, exact 1-NN (brute force with LB_Kim / LB_Keogh pruning and early
abandoning) is the reference. The graph (``--graph``: HNSW layers by default, or the flat NSW
graph) is then searched over a sweep of (ef, restarts); for each setting the table gives the 1-NN
error, its difference from exact, and the full DTW computations as a percentage of brute force
(n_test x n_train). The issue-3 target is <= 25% of brute force with error within 0.01 of exact;
the last lines name the cheapest setting meeting it per data set.

    python benchmarks/ucr_nsw.py                       # bundled data, learned band and 10% band
    python benchmarks/ucr_nsw.py --data-dir DIR NAME   # any archive data set
    python benchmarks/ucr_nsw.py --graph nsw           # the flat graph with random restarts
"""

from __future__ import annotations

import argparse

from pyembed import Index
from pyembed.datasets.ucr import list_datasets, load_pair, published_table, resolve_band
from pyembed.index import DEFAULT_GRAPH, DEFAULT_SEED
from pyembed.metrics import knn_error

SWEEP = [(1, 1), (2, 1), (1, 2), (4, 1), (2, 2), (8, 1), (4, 2), (16, 1)]


def search_error(index: Index, x_test, y_train, y_test, **kw) -> tuple[float, int, int]:
    """1-NN error of one search setting, with its full DTW computations and lower-bound prunes."""
    res = index.search(x_test, k=1, **kw)
    return (
        knn_error(res.ids, y_train, y_test),
        int(res.distance_calls.sum()),
        int(res.lb_pruned.sum()),
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("names", nargs="*")
    p.add_argument("--data-dir")
    p.add_argument("--band-pcts", nargs="+", default=["learned", "10"])
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--graph", choices=["hnsw", "nsw"], default=DEFAULT_GRAPH)
    args = p.parse_args()
    names = args.names or list_datasets(args.data_dir)
    table = published_table()
    print(
        "| data set | band | search | ef | restarts | error | diff vs exact | full DTW (% brute) | LB prunes |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    best: list[str] = []
    for name in names:
        tr, te = load_pair(name, args.data_dir, znorm=True)
        x_tr, x_te = tr.X, te.X
        length = x_tr.shape[1]
        brute = len(x_tr) * len(x_te)
        for spec in args.band_pcts:
            if spec == "learned":
                band = resolve_band(length, published=table.get(name), name=name)
            else:
                band = resolve_band(length, band_pct=float(spec))
            index = Index(length, "dtw", band=band, seed=args.seed, graph=args.graph)
            index.add(x_tr)
            index.build(n_threads=1)
            err0, calls0, lb0 = search_error(index, x_te, tr.y, te.y, exact=True)
            label = f"{band} ({spec}{'' if spec == 'learned' else '%'})"
            print(
                f"| {name} | {label} | exact | | | {err0:.4f} | | {100 * calls0 / brute:.1f} | {lb0} |"
            )
            ok = []
            for ef, restarts in SWEEP:
                err, calls, lb = search_error(index, x_te, tr.y, te.y, ef=ef, restarts=restarts)
                share = 100 * calls / brute
                print(
                    f"| {name} | {label} | {args.graph} | {ef} | {restarts} | {err:.4f} | {err - err0:+.4f} |"
                    f" {share:.1f} | {lb} |"
                )
                if share <= 25 and abs(err - err0) <= 0.01:
                    ok.append((share, ef, restarts, err - err0))
            if ok:
                share, ef, restarts, diff = min(ok)
                best.append(
                    f"{name} band {label}: target met at ef={ef}, restarts={restarts}: "
                    f"{share:.1f}% of brute force, error {diff:+.4f} vs exact"
                )
            else:
                best.append(f"{name} band {label}: target NOT met by any setting of the sweep")
    print()
    for line in best:
        print(line)


if __name__ == "__main__":
    main()
