"""Exact 1-NN DTW on the bundled UCR data sets: pyembed against dtaidistance's C implementation.

Run from an environment where pyembed is installed (``pip install -e ".[bench]"``)::

    python benchmarks/ucr.py                 # every bundled data set, bands learned / 10 % / full
    python benchmarks/ucr.py GunPoint --repeat 3 --bands full

For each data set and band, both libraries classify every test series by its nearest training
series (z-normalized, float32 data; dtaidistance gets the same values as float64), once on one
thread and once on two. The table shows wall-clock seconds, the speedup (dtaidistance seconds /
pyembed seconds: above 1 means pyembed is faster) and whether the two give the same 1-NN
predictions and 1-NN distances.

What is compared, so the numbers can be read fairly:

- **pyembed**: ``Index(length, "dtw", band=r)``, ``add(train)`` then
  ``search(test, k=1, exact=True)``: brute force with LB_Kim / LB_Keogh pruning and early
  abandoning. ``add`` only stores the series and their envelopes (the graph is built when a graph
  search first needs it, so an exact search never pays for one); the speedup is computed on
  index creation + add + search, and the search-only time is shown too.
- **dtaidistance**: ``dtw.distance_matrix_fast`` over the test x train block, the C implementation
  (OpenMP for two threads), then the row-wise argmin. dtaidistance has no 1-NN search with lower
  bounds; its own pruning (``use_pruning=True``: each pair abandons once it exceeds that pair's
  Euclidean distance) is timed as well, and the speedup uses the faster of its two runs that found
  the right neighbors (the pruned run can fail at band 0, see the footnote it prints).
- **Band mapping**: dtaidistance's ``window`` allows cells with ``|i - j| < window`` (its
  documentation), so a Sakoe-Chiba radius of ``r`` samples is ``window = r + 1``, and ``window = 0``
  means no band. Both return the square root of the summed squared differences along the path.
  The script checks this on every run: the 1-NN distances of the two libraries must agree.
- **Band 0** is the Euclidean distance (the warping path can only be the diagonal). The archive's
  learned window is 0 % for all four bundled data sets, so the "learned" rows measure a trivial
  case; the 10 % and full-DTW rows are the ones that exercise DTW.
- Threads: pyembed takes ``n_threads``; dtaidistance's OpenMP pool size comes from
  ``OMP_NUM_THREADS``, which this script sets to 2 before importing it (single-thread runs use
  ``parallel=False``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# OpenMP reads this once, when dtaidistance's parallel module is loaded.
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from pyembed.metrics import knn_error  # noqa: E402

THREADS = (1, 2)
DEFAULT_BANDS = ("learned", "10%", "full")


@dataclass
class Run:
    seconds: float
    nearest: NDArray[np.int64]
    distances: NDArray[np.float64]


def best_of_interleaved(repeat: int, *works: Callable[[], Run]) -> list[Run]:
    """Runs every work ``repeat`` times, alternating between them (so a slow spell of this shared
    machine hits all of them alike); returns each one's fastest run."""
    runs: list[list[Run]] = [[] for _ in works]
    for _ in range(repeat):
        for mine, work in zip(runs, works, strict=True):
            mine.append(work())
    return [min(r, key=lambda run: run.seconds) for r in runs]


def pyembed_1nn(
    X_train: NDArray[np.float32],
    X_test: NDArray[np.float32],
    band: int | None,
    n_threads: int,
) -> tuple[Run, float]:
    """Returns the run (seconds = add + search) and the search-only seconds."""
    from pyembed import Index

    start = time.perf_counter()
    index = Index(X_train.shape[1], "dtw", band=band)
    index.add(X_train)  # stores only: an exact search builds no graph
    added = time.perf_counter()
    result = index.search(X_test, k=1, exact=True, n_threads=n_threads)
    end = time.perf_counter()
    run = Run(
        seconds=end - start,
        nearest=result.ids[:, 0].astype(np.int64),
        distances=result.distances[:, 0].astype(np.float64),
    )
    return run, end - added


def dtaidistance_1nn(
    X_train: NDArray[np.float64],
    X_test: NDArray[np.float64],
    band: int | None,
    n_threads: int,
    use_pruning: bool,
) -> Run:
    from dtaidistance import dtw

    n_test = X_test.shape[0]
    series = np.ascontiguousarray(np.concatenate([X_test, X_train]), dtype=np.float64)
    window = 0 if band is None else band + 1
    start = time.perf_counter()
    matrix = dtw.distance_matrix_fast(
        series,
        block=((0, n_test), (n_test, series.shape[0])),
        window=window,
        parallel=n_threads > 1,
        use_pruning=use_pruning,
    )
    block = np.asarray(matrix)[:n_test, n_test:]
    nearest = np.argmin(block, axis=1)  # first minimum: the archive's tie rule
    end = time.perf_counter()
    distances = block[np.arange(n_test), nearest]
    return Run(seconds=end - start, nearest=nearest.astype(np.int64), distances=distances)


def measure(
    y_train: NDArray[Any],
    y_test: NDArray[Any],
    X_train: NDArray[np.float32],
    X_test: NDArray[np.float32],
    band: int | None,
    n_threads: int,
    repeat: int,
) -> tuple[tuple[str, ...], bool]:
    """Times both libraries on one data set, band and thread count; returns cells and agreement."""
    X_train64, X_test64 = X_train.astype(np.float64), X_test.astype(np.float64)
    search_seconds: list[float] = []

    def ours() -> Run:
        run, seconds = pyembed_1nn(X_train, X_test, band, n_threads)
        search_seconds.append(seconds)
        return run

    mine, plain, pruned = best_of_interleaved(
        repeat,
        ours,
        lambda: dtaidistance_1nn(X_train64, X_test64, band, n_threads, use_pruning=False),
        lambda: dtaidistance_1nn(X_train64, X_test64, band, n_threads, use_pruning=True),
    )
    same_predictions = bool(np.array_equal(y_train[mine.nearest], y_train[plain.nearest]))
    same_distances = bool(np.allclose(mine.distances, plain.distances, rtol=1e-4, atol=1e-4))
    agree = same_predictions and same_distances
    # dtaidistance's pruning can turn a pair whose DTW equals its Euclidean bound into +inf
    # (rounding), which gives wrong neighbors at band 0; such a run does not count as a time.
    pruned_ok = bool(np.array_equal(y_train[pruned.nearest], y_train[plain.nearest]))
    best_dtai = min(plain.seconds, pruned.seconds) if pruned_ok else plain.seconds
    error = knn_error(mine.nearest[:, None], y_train, y_test)
    cells = (
        f"{mine.seconds:.4f}",
        f"{min(search_seconds):.4f}",
        f"{plain.seconds:.4f}",
        f"{pruned.seconds:.4f}" + ("" if pruned_ok else "*"),
        f"{best_dtai / mine.seconds:.2f}x",
        f"{best_dtai / min(search_seconds):.2f}x",
        "yes" if agree else ("labels only" if same_predictions else "NO"),
        f"{error:.4f}",
    )
    return cells, agree


def resolve_band(spec: str, name: str, length: int) -> tuple[str, int | None]:
    """The label and the radius in samples of a --bands entry ("learned", "full", "P%", samples)."""
    from pyembed.datasets import published_table
    from pyembed.datasets import resolve_band as band_in_samples

    if spec == "learned":
        published = published_table()[name]
        band = band_in_samples(length, published=published, name=name)
        return f"learned {published.dtw_learned_window_pct}%={band}", band
    if spec == "full":
        return "full", None
    if spec.endswith("%"):
        band = band_in_samples(length, band_pct=float(spec[:-1]))
        return f"{spec}={band}", band
    return spec, band_in_samples(length, band=int(spec), name=name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="bundled data sets (default: all)")
    parser.add_argument(
        "--bands",
        nargs="+",
        default=list(DEFAULT_BANDS),
        help="'learned', 'full', 'P%%' or a radius in samples (default: learned 10%% full)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the best is shown")
    args = parser.parse_args(argv)

    import dtaidistance
    from dtaidistance import dtw

    import pyembed
    from pyembed.datasets import list_bundled, load_pair

    if not dtw.try_import_c(verbose=False):
        print("dtaidistance's C library is not available; nothing to compare", file=sys.stderr)
        return 1
    names = args.names or list_bundled()
    print(
        f"pyembed {pyembed.__version__} vs dtaidistance {dtaidistance.__version__} (C, OpenMP "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}); {os.cpu_count()} CPUs; "
        f"best of {args.repeat}"
    )
    print(
        "exact 1-NN DTW, z-normalized float32 series; band = Sakoe-Chiba radius in samples "
        "(dtaidistance window = band + 1); speedup = dtaidistance s / pyembed s (add+search)"
    )
    header = (
        "dataset",
        "n_train",
        "n_test",
        "length",
        "band",
        "threads",
        "pyembed_s",
        "search_s",
        "dtai_s",
        "dtai_prune_s",
        "speedup",
        "search_speedup",
        "same_1nn",
        "error",
    )
    rows: list[tuple[Any, ...]] = []
    all_agree = True
    trivial = False
    for name in names:
        train, test = load_pair(name, znorm=True)
        X_train, X_test = train.X, test.X
        for spec in args.bands:
            label, band = resolve_band(spec, name, train.length)
            trivial |= band == 0
            for n_threads in THREADS:
                row, agree = measure(train.y, test.y, X_train, X_test, band, n_threads, args.repeat)
                all_agree &= agree
                rows.append((name, train.n, test.n, train.length, label, n_threads, *row))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    speedup_at = header.index("speedup")
    for row in [header, *rows]:
        cells = [
            str(cell).ljust(width) if i in (0, 4) else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
    for n_threads in THREADS:
        ratios = [float(row[speedup_at][:-1]) for row in rows if row[5] == n_threads]
        if ratios:
            geomean = float(np.exp(np.mean(np.log(ratios))))
            print(
                f"{n_threads} thread(s): speedup (index creation + add + search) geometric mean "
                f"{geomean:.1f}x over {len(ratios)} data set x band cells, smallest "
                f"{min(ratios):.1f}x"
            )
    if any(str(row[header.index("dtai_prune_s")]).endswith("*") for row in rows):
        print(
            "*: dtaidistance with use_pruning=True returned wrong neighbors (pairs whose DTW "
            "equals the Euclidean bound became +inf); that run is left out of the speedup."
        )
    if trivial:
        print(
            "note: band 0 (every 'learned' row here) is the Euclidean distance: a trivial DTW case "
            "that measures little more than memory bandwidth; read the 10% and full rows for DTW."
        )
    if not all_agree:
        print("MISMATCH: the two libraries disagree on some 1-NN results (see same_1nn)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
