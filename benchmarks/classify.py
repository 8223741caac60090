"""k-NN DTW classification: pyembed's estimator against aeon's and tslearn's, same data, same run.

Measures, per data set and DTW setting, the wall-clock time of fit + predict of three
scikit-learn-style classifiers, their accuracy, and how often pyembed's predictions equal each
peer's (with the reason for every difference):

- **pyembed**: ``pyembed.classify.KNeighborsTimeSeriesClassifier(distance="dtw",
  distance_params={"window": w}, n_neighbors=k, search=..., n_jobs=threads)``;
- **aeon** 1.6: ``aeon.classification.distance_based.KNeighborsTimeSeriesClassifier(
  distance="dtw", distance_params={"window": w}, n_neighbors=k, n_jobs=threads)``;
- **tslearn** 0.10: ``tslearn.neighbors.KNeighborsTimeSeriesClassifier(metric="dtw",
  metric_params={"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": r},
  n_neighbors=k, n_jobs=threads)``.

Data: the bundled UCR sets (``pyembed.datasets.ucr.load_pair(name, znorm=True)``: every series
z-normalized, float32, widened to float64) and three sets shipped with aeon, as stored:
BasicMotions (6 channels, length 100), JapaneseVowels (12 channels, lengths 7-29) and
PickupGestureWiimoteZ (1 channel, lengths 29-361). Settings: ``full`` (aeon's default, no
window) and ``0.1`` (``window=0.1``); k = 1 unless ``--k`` says otherwise. Run from an
environment with pyembed, aeon and tslearn installed (``pip install -e ".[bench]"``)::

    python benchmarks/classify.py                     # every data set, full and 0.1, 5 repeats
    python benchmarks/classify.py --datasets GunPoint,BasicMotions --settings 0.1 --repeat 1
    python benchmarks/classify.py --plot benchmarks/results/issue12/classify.png

The table goes to stdout (progress to stderr) and, with ``--out-dir`` (default
``benchmarks/results/issue12``), to ``classify.md``, with every number in ``classify.json``.

What is compared, so the numbers can be read fairly:

- **Time** is one fit + predict of a fresh estimator on the whole test set (``perf_counter``),
  the median of ``--repeat`` runs. The runs are interleaved: each repeat runs every
  estimator in turn (aeon, tslearn, pyembed, and the peers' ``n_jobs=1`` runs below), the
  order rotated by one every repeat, so a slow spell of this shared machine hits all alike. For pyembed the time includes converting X to float32,
  creating the index and adding the series (and building the graph with ``--search graph``);
  for aeon, its input checks and the distances computed by predict; for tslearn, its input
  conversion and the test x train distance matrix computed by predict.
- **JIT warm-up excluded.** aeon's and tslearn's DTW are numba functions compiled on first use
  (aeon caches them on disk, tslearn compiles them in every process). Before timing a data
  set and setting, each library runs one untimed fit + predict on a small subset of the same
  data with the same parameters, which compiles the same specializations; pyembed runs one too.
- **Threads.** ``--threads`` (default 2) is passed as ``n_jobs`` to all three; that is the
  headline comparison (``aeon/pye``, ``tsl/pye``). pyembed searches all test series in one
  batch on that many threads. aeon sets numba's thread count, but its k-NN classifier
  computes the distances of one test series per call and parallelizes over the test series
  of that call (one), so it never does useful work on more than one core. With ``n_jobs > 1``
  every one of those calls opens and joins an OpenMP parallel region whose idle worker
  spins: on an idle machine that costs nothing but CPU, but when the other core is busy (a
  shared machine) each join can wait for a scheduler time slice, about 13 ms a test series
  in one smoke run (aeon 16x slower than with ``n_jobs=1`` on GunPoint). tslearn runs one
  joblib task per (test, train) pair on a thread pool, whose dispatch costs more than it
  gains on these sizes (slower than ``n_jobs=1`` too). So each peer is also timed with
  ``n_jobs=1`` in the same interleaved runs (``aeon1_s``, ``tsl1_s``; ``--no-serial-peers``
  turns this off), and ``best_*/pye`` compares pyembed with the peer's faster
  configuration: the conservative figure. The JSON records each estimator's CPU seconds per wall second (``parallelism``),
  which shows how many cores each one actually used.
- **Windows.** aeon's ``window=w`` is a Sakoe-Chiba radius of ``int(w * length)`` samples;
  pyembed's is the same (``band_``), and tslearn gets that radius as ``sakoe_chiba_radius``.
  For unequal lengths aeon and pyembed both give each pair ``int(w * shorter length)`` along
  the interpolated diagonal, as aeon's ``create_bounding_matrix`` defines it; but aeon's
  ``dtw_distance`` (which its k-NN uses) computes that band with ``create_band_bounds``, which
  in a few rows is one column off its own matrix (9 cells of a 267 x 201 matrix at 0.1), so
  a few distances differ slightly. tslearn widens the straight band by the length difference
  (row i allows columns ``i - r`` to ``i + (m - n) + r``, ``r`` from the shortest training
  series here). Their neighbors can then differ, and such
  differences are counted as "band", not as errors. tslearn's banded DTW still visits every
  cell of the length x length matrix (a mask test per cell) and allocates the mask and the
  cost matrix per pair, so a window saves it less time than the band's width suggests.
- **Units.** aeon's "dtw" is the minimal sum of squared differences along the warping path;
  pyembed's and tslearn's are its square root. The neighbors are the same.
- **Input.** All three get the same float64 values: aeon and pyembed as ``(n, channels,
  length)`` arrays or lists of ``(channels, length_i)`` arrays (pyembed converts to float32
  itself, inside the timing); tslearn in its own ``(n, length, channels)`` layout, NaN-padded
  to the longest series by its ``to_time_series_dataset`` for unequal lengths (it drops the
  NaNs again per pair), prepared once outside the timing.
- **Differences.** For every test series where pyembed's prediction differs from a peer's, the
  script finds both neighbor sets (``kneighbors`` of both estimators) and recomputes the
  peer's distances to both sets in float64 with the peer's own DTW
  (``aeon.distances.dtw_distance``, ``tslearn.metrics.dtw``). *tie*: the sorted distances
  agree within 1e-6 relative (another neighbor at the same distance); *float32*: within 1e-4
  (pyembed computes in float32, so a near tie can go the other way); *band*: unequal lengths
  with a window (the rules above differ); *vote*: the same neighbors but another vote;
  *other*: anything else (a real discrepancy: worth a look).
- tslearn is skipped on a data set and setting when it fails, or when it is estimated (from
  a timed run on the warm-up subset) or measured to take more than ``--tslearn-limit`` seconds
  (default 60) per fit + predict; the table says why.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

LIBRARIES = ("aeon", "tslearn", "pyembed")
AEON_SETS = ("BasicMotions", "JapaneseVowels", "PickupGestureWiimoteZ")
DEFAULT_SETTINGS = "full,0.1"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "issue12"
TIE_RTOL = 1e-6
FLOAT32_RTOL = 1e-4
KINDS = ("tie", "float32", "band", "vote", "other")


@dataclass
class Dataset:
    """One data set in aeon's forms: ``(n, channels, length)`` float64 arrays, or lists of
    ``(channels, length_i)`` float64 arrays for unequal lengths."""

    name: str
    source: str
    X_train: Any
    y_train: NDArray[Any]
    X_test: Any
    y_test: NDArray[Any]

    @property
    def equal_length(self) -> bool:
        return isinstance(self.X_train, np.ndarray) and isinstance(self.X_test, np.ndarray)

    @property
    def channels(self) -> int:
        return int(self.X_train[0].shape[0])

    def lengths(self) -> tuple[int, int]:
        sizes = [x.shape[-1] for x in (*self.X_train, *self.X_test)]
        return min(sizes), max(sizes)

    def lengths_label(self) -> str:
        lo, hi = self.lengths()
        return str(lo) if lo == hi else f"{lo}-{hi}"

    def shortest_train(self) -> int:
        return min(x.shape[-1] for x in self.X_train)


@dataclass(frozen=True)
class Setting:
    """A DTW setting: ``window`` None for full DTW, else aeon's window fraction."""

    window: float | None

    @property
    def label(self) -> str:
        return "full" if self.window is None else f"window={self.window:g}"

    def radius(self, data: Dataset) -> int | None:
        """The Sakoe-Chiba radius in samples of pyembed's index (and tslearn's band)."""
        if self.window is None or self.window == 1.0:
            return None
        return int(self.window * data.shortest_train())


def parse_settings(text: str) -> list[Setting]:
    settings = []
    for part in text.split(","):
        part = part.strip()
        if part == "full":
            settings.append(Setting(None))
            continue
        try:
            window = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"a setting is 'full' or a window fraction in (0, 1], got {part!r}"
            ) from None
        if not 0.0 < window <= 1.0:
            raise argparse.ArgumentTypeError(f"a window must be in (0, 1], got {window}")
        settings.append(Setting(None if window == 1.0 else window))
    return settings


def load_dataset(name: str) -> Dataset:
    """A bundled UCR set (z-normalized) or one of aeon's shipped sets (as stored)."""
    if name in AEON_SETS:
        from aeon.datasets import load_basic_motions, load_classification, load_japanese_vowels

        loaders: dict[str, Callable[[str], tuple[Any, Any]]] = {
            "BasicMotions": lambda split: load_basic_motions(split=split),
            "JapaneseVowels": lambda split: load_japanese_vowels(split=split),
            "PickupGestureWiimoteZ": lambda split: load_classification(name, split=split),
        }
        parts = []
        for split in ("train", "test"):
            X, y = loaders[name](split)
            if isinstance(X, np.ndarray):
                X = np.ascontiguousarray(X, dtype=np.float64)
            else:
                X = [np.ascontiguousarray(x, dtype=np.float64) for x in X]
            parts += [X, np.asarray(y)]
        return Dataset(name, "aeon, as stored", *parts)
    from pyembed.datasets.ucr import load_pair

    train, test = load_pair(name, znorm=True)

    def as_aeon(X: Any) -> Any:
        if isinstance(X, np.ndarray):
            X = X.astype(np.float64)
            return X[:, np.newaxis, :] if X.ndim == 2 else X
        return [np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1]) for x in X]

    return Dataset(
        name, "UCR bundled, z-normalized", as_aeon(train.X), train.y, as_aeon(test.X), test.y
    )


def tslearn_layout(X: Any) -> NDArray[np.float64]:
    """``X`` in tslearn's ``(n, length, channels)`` layout, NaN-padded for unequal lengths."""
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(X.transpose(0, 2, 1))
    from tslearn.utils import to_time_series_dataset

    return to_time_series_dataset([x.T for x in X])


def take(X: Any, idx: NDArray[np.int64]) -> Any:
    return X[idx] if isinstance(X, np.ndarray) else [X[i] for i in idx]


# -- the three estimators ---------------------------------------------------------------------
def make_estimator(
    lib: str, setting: Setting, radius: int | None, args: argparse.Namespace, n_jobs: int
) -> Any:
    if lib == "aeon":
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

        params = None if setting.window is None else {"window": setting.window}
        return KNeighborsTimeSeriesClassifier(
            distance="dtw", distance_params=params, n_neighbors=args.k, n_jobs=n_jobs
        )
    if lib == "tslearn":
        from tslearn.neighbors import KNeighborsTimeSeriesClassifier

        metric_params = (
            None
            if radius is None
            else {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": radius}
        )
        return KNeighborsTimeSeriesClassifier(
            n_neighbors=args.k, metric="dtw", metric_params=metric_params, n_jobs=n_jobs
        )
    from pyembed.classify import KNeighborsTimeSeriesClassifier

    params = None if setting.window is None else {"window": setting.window}
    return KNeighborsTimeSeriesClassifier(
        distance="dtw",
        distance_params=params,
        n_neighbors=args.k,
        search=args.search,
        ef=args.ef,
        n_jobs=n_jobs,
    )


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    estimator: Any
    predictions: NDArray[Any]


def fit_predict(make: Callable[[], Any], X_train: Any, y_train: Any, X_test: Any) -> Run:
    """One timed fit + predict of a fresh estimator (wall and process CPU seconds)."""
    gc.collect()
    estimator = make()
    wall, cpu = time.perf_counter(), time.process_time()
    estimator.fit(X_train, y_train)
    predictions = np.asarray(estimator.predict(X_test))
    return Run(time.perf_counter() - wall, time.process_time() - cpu, estimator, predictions)


def warmup_subset(
    y: NDArray[Any], n_test: int, k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Training positions of a small subset with every class (aeon fits a one-class set
    without computing anything) and at least ``k`` series, and the first few test positions."""
    _, first = np.unique(y, return_index=True)
    train = np.union1d(first, np.arange(min(len(y), max(8, k))))
    return train.astype(np.int64), np.arange(min(n_test, 4), dtype=np.int64)


# -- differences ------------------------------------------------------------------------------
def diagnose(
    ours: NDArray[Any],
    theirs: NDArray[Any],
    our_ids: NDArray[np.int64],
    their_ids: NDArray[np.int64],
    distance: Callable[[int, int], float],
    queries: NDArray[np.int64],
    band_rules_differ: bool,
) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Kind of every prediction difference (see the module docstring): the peer's float64
    distances (``distance(query, train)``) to its own neighbors and to pyembed's."""
    kinds: Counter[str] = Counter()
    cases = []
    for row, q in enumerate(queries):
        mine = sorted(distance(int(q), int(j)) for j in our_ids[row])
        peer = sorted(distance(int(q), int(j)) for j in their_ids[row])
        if set(our_ids[row].tolist()) == set(their_ids[row].tolist()):
            kind = "vote"
        elif np.allclose(mine, peer, rtol=TIE_RTOL, atol=1e-12):
            kind = "tie"
        elif np.allclose(mine, peer, rtol=FLOAT32_RTOL, atol=1e-9):
            kind = "float32"
        elif band_rules_differ:
            kind = "band"
        else:
            kind = "other"
        kinds[kind] += 1
        cases.append(
            {
                "test_position": int(q),
                "kind": kind,
                "pyembed_prediction": ours[q].item(),
                "peer_prediction": theirs[q].item(),
                "pyembed_neighbors": our_ids[row].tolist(),
                "peer_neighbors": their_ids[row].tolist(),
                "peer_distance_to_pyembed_neighbors": mine,
                "peer_distance_to_peer_neighbors": peer,
            }
        )
    return kinds, cases


def compare(
    lib: str,
    key: str,
    runs: dict[str, Run],
    data: Dataset,
    setting: Setting,
    radius: int | None,
    tsl_train: Any,
    tsl_test: Any,
) -> dict[str, Any]:
    """Agreement of pyembed's predictions with those of ``runs[key]`` (a ``lib`` estimator)
    and the kind of each difference."""
    ours, theirs = runs["pyembed"].predictions, runs[key].predictions
    differ = np.flatnonzero(ours != theirs)
    result: dict[str, Any] = {"agreement": float(np.mean(ours == theirs))}
    if differ.size == 0:
        result.update(kinds=dict.fromkeys(KINDS, 0), cases=[])
        return result
    our_ids = runs["pyembed"].estimator.kneighbors(take(data.X_test, differ))[1]
    if lib == "aeon":
        from aeon.distances import dtw_distance

        their_ids = runs[key].estimator.kneighbors(take(data.X_test, differ))[1]

        def distance(q: int, j: int) -> float:
            return float(dtw_distance(data.X_test[q], data.X_train[j], window=setting.window))

        band_rules_differ = setting.window is not None and not data.equal_length
    else:
        from tslearn.metrics import dtw

        their_ids = runs[key].estimator.kneighbors(tsl_test[differ])[1]
        options = (
            {}
            if radius is None
            else {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": radius}
        )

        def distance(q: int, j: int) -> float:
            return float(dtw(tsl_test[q], tsl_train[j], **options))

        band_rules_differ = radius is not None and not data.equal_length
    kinds, cases = diagnose(ours, theirs, our_ids, their_ids, distance, differ, band_rules_differ)
    result.update(kinds={kind: kinds[kind] for kind in KINDS}, cases=cases)
    return result


# -- one data set and setting -----------------------------------------------------------------
def contenders(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """``(key, library, n_jobs)`` of every estimator timed: the three with ``--threads``, and
    aeon's and tslearn's with n_jobs=1 too (keys "aeon-1", "tslearn-1") unless turned off."""
    serial = args.serial_peers and args.threads > 1
    found = []
    for lib in LIBRARIES:
        found.append((lib, lib, args.threads))
        if serial and lib != "pyembed":
            found.append((f"{lib}-1", lib, 1))
    return [c for c in found if not (c[1] == "tslearn" and args.skip_tslearn)]


def measure(data: Dataset, setting: Setting, args: argparse.Namespace) -> dict[str, Any]:
    radius = setting.radius(data)
    todo = contenders(args)
    tsl_train = tsl_test = None
    if not args.skip_tslearn:
        tsl_train, tsl_test = tslearn_layout(data.X_train), tslearn_layout(data.X_test)
    notes: dict[str, str] = {}
    if args.skip_tslearn:
        notes["tslearn"] = "skipped (--skip-tslearn)"

    def work(lib: str, n_jobs: int, train_idx: Any = None, test_idx: Any = None) -> Run:
        X_train, X_test = (tsl_train, tsl_test) if lib == "tslearn" else (data.X_train, data.X_test)
        y_train = data.y_train
        if train_idx is not None:
            X_train, y_train = take(X_train, train_idx), y_train[train_idx]
            X_test = take(X_test, test_idx)
        return fit_predict(
            lambda: make_estimator(lib, setting, radius, args, n_jobs), X_train, y_train, X_test
        )

    # Untimed warm-up on a subset (numba compiles), then tslearn's cost estimated from a
    # second, compiled, run on it.
    sub_train, sub_test = warmup_subset(data.y_train, len(data.y_test), args.k)
    for item in list(todo):
        key, lib, n_jobs = item
        try:
            work(lib, n_jobs, sub_train, sub_test)
            if lib == "tslearn":
                again = work(lib, n_jobs, sub_train, sub_test)
                pairs = len(data.y_train) * len(data.y_test)
                estimate = again.seconds * pairs / (len(sub_train) * len(sub_test))
                if estimate > args.tslearn_limit:
                    notes[key] = (
                        f"skipped: estimated {estimate:.0f} s per fit+predict from a subset "
                        f"(> {args.tslearn_limit:g} s)"
                    )
                    todo.remove(item)
        except Exception as error:  # a peer that cannot run this input is recorded, not fatal
            if lib == "pyembed":
                raise
            notes[key] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
            todo.remove(item)

    runs: dict[str, list[Run]] = {key: [] for key, _, _ in todo}
    for r in range(args.repeat):
        order = todo[r % len(todo) :] + todo[: r % len(todo)]
        done = []
        for key, lib, n_jobs in order:
            if key in notes:  # tslearn measured too slow: one run is enough
                continue
            run = work(lib, n_jobs)
            runs[key].append(run)
            done.append(f"{key} {run.seconds:.3f} s")
            if lib == "tslearn" and run.seconds > args.tslearn_limit:
                notes[key] = (
                    f"measured {run.seconds:.0f} s per fit+predict (> {args.tslearn_limit:g} s); "
                    "run once"
                )
        print(f"  repeat {r + 1}/{args.repeat}: {', '.join(done)}", file=sys.stderr)
    last = {key: rs[-1] for key, rs in runs.items()}
    seconds = {key: statistics.median(run.seconds for run in rs) for key, rs in runs.items()}
    parallelism = {
        key: statistics.median(run.cpu_seconds / run.seconds for run in rs)
        for key, rs in runs.items()
    }
    for key in last:
        base = key.removesuffix("-1")
        if key != base and base in last:
            if not np.array_equal(last[key].predictions, last[base].predictions):
                notes[key] = f"predicts differently from {base} with n_jobs={args.threads}"
    # Compared with the n_jobs=threads run, or the n_jobs=1 run where only that one ran.
    versus = {}
    for lib in ("aeon", "tslearn"):
        key = lib if lib in last else f"{lib}-1"
        if key in last:
            versus[lib] = compare(lib, key, last, data, setting, radius, tsl_train, tsl_test)
    for lib, res in versus.items():
        if res["kinds"].get("other"):
            print(
                f"  WARNING: {res['kinds']['other']} difference(s) from {lib} not explained by "
                "ties, float32 rounding or band rules (see the JSON)",
                file=sys.stderr,
            )
    ratio = {key: seconds[key] / seconds["pyembed"] for key in seconds if key != "pyembed"}
    best = {}
    for lib in ("aeon", "tslearn"):
        mine = {key: ratio[key] for key in ratio if key.removesuffix("-1") == lib}
        if mine:
            fastest = min(mine, key=mine.__getitem__)
            best[lib] = {
                "ratio": mine[fastest],
                "n_jobs": 1 if fastest.endswith("-1") else args.threads,
            }
    return {
        "dataset": data.name,
        "source": data.source,
        "channels": data.channels,
        "lengths": data.lengths_label(),
        "equal_length": data.equal_length,
        "n_train": len(data.y_train),
        "n_test": len(data.y_test),
        "setting": setting.label,
        "window": setting.window,
        "radius": radius,
        "k": args.k,
        "n_jobs": {key: n_jobs for key, _, n_jobs in contenders(args)},
        "accuracy": {
            key: float(np.mean(run.predictions == data.y_test)) for key, run in last.items()
        },
        "seconds": seconds,
        "runs_seconds": {key: [run.seconds for run in rs] for key, rs in runs.items()},
        "parallelism": parallelism,
        "ratio": ratio,
        "best_ratio": best,
        "versus": versus,
        "notes": notes,
    }


# -- report -----------------------------------------------------------------------------------
HEADER = (
    "dataset",
    "ch",
    "length",
    "n_train",
    "n_test",
    "setting",
    "acc_aeon",
    "acc_tsl",
    "acc_pye",
    "=aeon",
    "ties",
    "other",
    "=tsl",
    "aeon_s",
    "aeon1_s",
    "tsl_s",
    "tsl1_s",
    "pye_s",
    "aeon/pye",
    "best_aeon/pye",
    "tsl/pye",
    "best_tsl/pye",
)


def cells(row: dict[str, Any], marks: dict[str, str]) -> tuple[str, ...]:
    acc, secs, ratio, vs = row["accuracy"], row["seconds"], row["ratio"], row["versus"]
    notes = row["notes"]

    def get(table: dict[str, Any], key: str, fmt: str, suffix: str = "") -> str:
        mark = marks.get(notes.get(key, ""), "")
        if key in table and table[key] is not None:
            return format(table[key], fmt) + suffix + mark
        return "n/a" + mark if mark else "-"

    def best(lib: str) -> str:
        found = row["best_ratio"].get(lib)
        if found is None:
            return "-"
        return f"{found['ratio']:.1f}x (n_jobs={found['n_jobs']})"

    aeon_kinds = vs.get("aeon", {}).get("kinds", {})
    if row["radius"] is None:
        setting = row["setting"]
    elif row["equal_length"]:
        setting = row["setting"] + f" (r={row['radius']})"
    else:
        # aeon and pyembed: int(window * shorter length) per pair; tslearn: this radius.
        setting = row["setting"] + f" (per pair; tslearn r={row['radius']})"
    agreement = {lib: res["agreement"] for lib, res in vs.items()}
    return (
        row["dataset"],
        str(row["channels"]),
        row["lengths"],
        str(row["n_train"]),
        str(row["n_test"]),
        setting,
        get(acc, "aeon", ".4f"),
        get(acc, "tslearn", ".4f"),
        get(acc, "pyembed", ".4f"),
        get(agreement, "aeon", ".4f"),
        str(aeon_kinds.get("tie", 0)) if "aeon" in vs else "-",
        str(sum(n for kind, n in aeon_kinds.items() if kind != "tie")) if "aeon" in vs else "-",
        get(agreement, "tslearn", ".4f"),
        get(secs, "aeon", ".3f"),
        get(secs, "aeon-1", ".3f"),
        get(secs, "tslearn", ".3f"),
        get(secs, "tslearn-1", ".3f"),
        get(secs, "pyembed", ".3f"),
        get(ratio, "aeon", ".1f", "x"),
        best("aeon"),
        get(ratio, "tslearn", ".1f", "x"),
        best("tslearn"),
    )


def geomean(values: list[float]) -> float:
    return float(math.exp(statistics.fmean(math.log(v) for v in values)))


def ratio_summary(rows: list[dict[str, Any]], label: str, ratio_of: Callable[[Any], Any]) -> str:
    """Geometric mean and minimum of one ratio over the rows that have it."""
    measured = [(ratio_of(row), row) for row in rows if ratio_of(row) is not None]
    if not measured:
        return f"{label}: not measured"
    ratios = [ratio for ratio, _ in measured]
    low, low_row = min(measured, key=lambda item: item[0])
    return (
        f"{label}: geometric mean {geomean(ratios):.1f}x over {len(ratios)} data set x setting "
        f"cells, minimum {low:.1f}x ({low_row['dataset']} {low_row['setting']})"
    )


def report(rows: list[dict[str, Any]], meta: dict[str, Any]) -> tuple[str, str]:
    """The plain-text table (stdout) and the markdown document."""
    reasons = sorted({note for row in rows for note in row["notes"].values()})
    marks = {reason: "*" * (i + 1) for i, reason in enumerate(reasons)}
    body = [cells(row, marks) for row in rows]
    widths = [max(len(r[i]) for r in [HEADER, *body]) for i in range(len(HEADER))]
    text_lines = [
        "  ".join(
            c.ljust(w) if i in (0, 5) else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [HEADER, *body]
    ]
    md_lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" if i in (0, 5) else "---:" for i in range(len(HEADER))) + "|",
        *("| " + " | ".join(r) + " |" for r in body),
    ]
    threads = meta["threads"]
    summary = [
        ratio_summary(
            rows, f"aeon (n_jobs={threads}) / pyembed time", lambda r: r["ratio"].get("aeon")
        ),
        ratio_summary(
            rows,
            "best aeon configuration / pyembed time",
            lambda r: r["best_ratio"].get("aeon", {}).get("ratio"),
        ),
        ratio_summary(
            rows, f"tslearn (n_jobs={threads}) / pyembed time", lambda r: r["ratio"].get("tslearn")
        ),
        ratio_summary(
            rows,
            "best tslearn configuration / pyembed time",
            lambda r: r["best_ratio"].get("tslearn", {}).get("ratio"),
        ),
    ]
    kinds: Counter[str] = Counter()
    for row in rows:
        for lib, res in row["versus"].items():
            kinds.update({f"{lib} {kind}": n for kind, n in res["kinds"].items() if n})
    explained = (
        "differences of pyembed's predictions from the peers', by kind: "
        + (", ".join(f"{key} {n}" for key, n in sorted(kinds.items())) or "none")
        + " (tie: another neighbor at an equal distance; float32: within 1e-4 relative; "
        "band: unequal lengths, where the libraries' window rules differ; vote: same "
        "neighbors; other: unexplained)"
    )
    keys = [key for key, _, _ in meta["contenders"]]
    parallel = ", ".join(
        f"{key} {statistics.median(row['parallelism'][key] for row in rows if key in row['parallelism']):.2f}"
        for key in keys
        if any(key in row["parallelism"] for row in rows)
    )
    footnotes = [
        f"{mark} {', '.join(sorted({k for r in rows for k, n in r['notes'].items() if n == reason}))} "
        f"{reason}: "
        + ", ".join(f"{r['dataset']} {r['setting']}" for r in rows if reason in r["notes"].values())
        for reason, mark in marks.items()
    ]
    header = [
        f"k-NN DTW classification (k={meta['k']}), fit + predict wall seconds, median of "
        f"{meta['repeat']} interleaved runs (order rotated) after one untimed warm-up of each "
        "estimator on a subset (numba JIT compile excluded); pyembed "
        f"search={meta['search']}, n_jobs={threads} (index creation included)",
        f"versions: {meta['versions_line']}; {meta['cpus']} CPUs",
        f"aeon_s, tsl_s: n_jobs={threads}; aeon1_s, tsl1_s: the same with n_jobs=1; best_*: "
        "the faster of the two. =aeon, =tsl: share of test series where pyembed predicts the "
        "same class as aeon, tslearn (n_jobs=threads runs); ties/other: differences from aeon "
        "that are/are not another neighbor at an equal distance; ratio = peer seconds / "
        "pyembed seconds (above 1: pyembed is faster)",
    ]
    notes = [
        *summary,
        explained,
        f"median CPU seconds per wall second (cores used): {parallel}",
        *footnotes,
    ]
    text = "\n".join([*header, "", *text_lines, "", *notes])
    md = "\n".join(
        [
            f"# classify: pyembed vs aeon vs tslearn, k-NN DTW ({meta['date']})",
            "",
            *(f"{line}  " for line in header),
            "",
            *md_lines,
            "",
            *(f"- {line}" for line in notes),
            "",
            f"Command: `{meta['command']}`",
            "",
        ]
    )
    return text, md


def plot(rows: list[dict[str, Any]], path: str, threads: int) -> None:
    """Bars of the peer / pyembed time ratios per data set and setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [
        ("aeon", f"aeon (n_jobs={threads})"),
        ("aeon-1", "aeon (n_jobs=1)"),
        ("tslearn", f"tslearn (n_jobs={threads})"),
        ("tslearn-1", "tslearn (n_jobs=1)"),
    ]
    bars = [(key, label) for key, label in bars if any(key in row["ratio"] for row in rows)]
    labels = [f"{row['dataset']}\n{row['setting']}" for row in rows]
    x = np.arange(len(rows))
    width = 0.8 / max(1, len(bars))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(rows) + 2), 4.5))
    for i, (key, label) in enumerate(bars):
        values = [row["ratio"].get(key, np.nan) for row in rows]
        ax.bar(x + (i - (len(bars) - 1) / 2) * width, values, width=width, label=label)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("peer seconds / pyembed seconds (log)")
    ax.set_title(
        f"k-NN DTW fit + predict, peer time / pyembed time\n(pyembed n_jobs={threads}; above 1: "
        "pyembed faster)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def versions() -> dict[str, str]:
    import aeon
    import numba
    import sklearn

    import pyembed

    found = {
        "pyembed": pyembed.__version__,
        "aeon": aeon.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    try:
        import tslearn

        found["tslearn"] = tslearn.__version__
    except ImportError:
        pass
    return found


def main(argv: list[str] | None = None) -> int:
    from pyembed.datasets.ucr import list_bundled

    all_sets = [*list_bundled(), *AEON_SETS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        default=",".join(all_sets),
        help=f"comma-separated names (default: all: {', '.join(all_sets)})",
    )
    parser.add_argument(
        "--settings",
        type=parse_settings,
        default=parse_settings(DEFAULT_SETTINGS),
        help="comma-separated: 'full' and/or window fractions (default: full,0.1)",
    )
    parser.add_argument("--k", type=int, default=1, help="neighbors that vote (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="n_jobs of all three (default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the median is shown")
    parser.add_argument("--search", choices=("exact", "graph"), default="exact")
    parser.add_argument("--ef", type=int, default=None, help="pyembed's ef with --search graph")
    parser.add_argument("--skip-tslearn", action="store_true")
    parser.add_argument(
        "--no-serial-peers",
        dest="serial_peers",
        action="store_false",
        help="do not also time aeon and tslearn with n_jobs=1",
    )
    parser.add_argument(
        "--tslearn-limit",
        type=float,
        default=60.0,
        help="skip tslearn where one fit+predict takes longer (seconds, default 60)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT,
        help="where classify.json and classify.md go (default benchmarks/results/issue12)",
    )
    parser.add_argument("--plot", default=None, metavar="FILE", help="bar chart of the ratios")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in names if name not in all_sets]
    if unknown:
        parser.error(f"unknown data sets {unknown}; known: {', '.join(all_sets)}")
    if args.k < 1 or args.threads < 1 or args.repeat < 1:
        parser.error("--k, --threads and --repeat must be at least 1")
    if not args.skip_tslearn:
        # tslearn warns on import that h5py (for saving models) is missing; irrelevant here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="h5py not installed")
            import tslearn.neighbors  # noqa: F401

    found = versions()
    meta = {
        "date": date.today().isoformat(),
        "command": "python benchmarks/classify.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "k": args.k,
        "threads": args.threads,
        "repeat": args.repeat,
        "search": args.search,
        "ef": args.ef,
        "tslearn_limit_seconds": args.tslearn_limit,
        "contenders": contenders(args),
        "cpus": os.cpu_count(),
        "versions": found,
        "versions_line": ", ".join(f"{lib} {v}" for lib, v in found.items()),
    }
    rows = []
    for name in names:
        data = load_dataset(name)
        for setting in args.settings:
            print(f"{name} {setting.label}", file=sys.stderr)
            rows.append(measure(data, setting, args))
    text, md = report(rows, meta)
    print(text)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "classify.md").write_text(md)
    with open(args.out_dir / "classify.json", "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"wrote {args.out_dir / 'classify.md'} and classify.json", file=sys.stderr)
    if args.plot:
        plot(rows, args.plot, args.threads)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
