"""``pyembed bench``: benchmarks on public data sets.

``pyembed bench ucr`` runs k-NN classification on UCR archive data sets with pyembed's index
(exact brute force with lower-bound pruning, or the NSW graph) and prints, per data set, the test
error next to the archive's published error together with the work done: full distance
computations (also as a share of brute force, ``n_test * n_train``), lower-bound prunes, early
abandons, build and query time.

Only click is imported at module level, so ``pyembed --help`` stays instant; numpy, the readers and
the index are imported when the command runs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pyembed.cli._common import one_line, run_guarded, stderr_is_terminal

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from pyembed.datasets.ucr import PublishedRow, UCRSplit

__all__ = ["bench", "knn_vote", "ucr"]

# Queries go to the index in chunks of this many rows, so the progress bar moves on long runs. The
# chunking is the same whether or not a bar is shown, so output never depends on the terminal.
QUERY_CHUNK = 512

COLUMNS = (
    "name",
    "n_train",
    "n_test",
    "length",
    "band",
    "error",
    "published_error",
    "difference",
    "distance_calls",
    "distance_calls_pct",
    "lb_pruned",
    "abandoned",
    "build_seconds",
    "query_seconds",
    "queries_per_second",
)
"""Per-data-set result fields, in output order (json, csv and, with short headers, the table)."""

_TABLE_HEADERS = {
    "name": "name",
    "n_train": "n_train",
    "n_test": "n_test",
    "length": "length",
    "band": "band",
    "error": "error",
    "published_error": "published",
    "difference": "diff",
    "distance_calls": "dist_calls",
    "distance_calls_pct": "%brute",
    "lb_pruned": "lb_pruned",
    "abandoned": "abandoned",
    "build_seconds": "build_s",
    "query_seconds": "query_s",
    "queries_per_second": "queries/s",
}


class BandParam(click.ParamType):
    """``--band``: ``learned``, ``full`` or a non-negative number of samples."""

    name = "learned|full|SAMPLES"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            samples = value
        else:
            text = str(value).strip().lower()
            if text in ("learned", "full"):
                return text
            try:
                samples = int(text)
            except ValueError:
                self.fail(
                    f"expected 'learned', 'full' or a number of samples, got {value!r}", param, ctx
                )
        if samples < 0:
            self.fail(
                f"the band is a radius in samples and must be >= 0, got {samples}", param, ctx
            )
        return samples


@dataclass(frozen=True)
class _Settings:
    metric: str
    band: str | int | None
    band_pct: float | None
    search: str
    ef: int | None
    restarts: int | None
    max_degree: int
    ef_construction: int
    k: int
    seed: int
    znorm: bool
    n_threads: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "band": self.band_label(),
            "search": self.search,
            "ef": self.ef,
            "restarts": self.restarts,
            "max_degree": self.max_degree,
            "ef_construction": self.ef_construction,
            "k": self.k,
            "seed": self.seed,
            "znorm": self.znorm,
            "n_threads": self.n_threads,
        }

    def band_label(self) -> str | int | None:
        if self.metric == "ed":
            return None
        if self.band_pct is not None:
            return f"{self.band_pct:g}%"
        return "learned" if self.band is None else self.band


@dataclass
class _Job:
    name: str
    train: UCRSplit
    test: UCRSplit
    band: int | None  # DTW radius in samples; None = full DTW (and unused for ED)
    published: PublishedRow | None


@click.group(name="bench")
def bench() -> None:
    """Benchmarks on public data sets (results to stdout, progress to stderr)."""


@bench.command(name="ucr")
@click.argument("names", nargs=-1, metavar="[NAMES]...")
@click.option(
    "--metric",
    type=click.Choice(["ed", "dtw"]),
    default="dtw",
    show_default=True,
    help="Euclidean distance (ed) or dynamic time warping (dtw).",
)
@click.option(
    "--band",
    type=BandParam(),
    default=None,
    help="DTW Sakoe-Chiba radius: 'learned' (the archive's learned window; the default), 'full' "
    "(unconstrained), or a radius in samples (0 <= band <= length).",
)
@click.option(
    "--band-pct",
    type=click.FloatRange(0.0, 100.0),
    default=None,
    help="DTW radius as a percentage of the series length, rounded half away from zero "
    "(the archive's convention). Exclusive with --band.",
)
@click.option(
    "--search",
    type=click.Choice(["exact", "nsw"]),
    default="exact",
    show_default=True,
    help="exact: brute force with lower-bound pruning; nsw: the navigable-small-world graph.",
)
@click.option(
    "--ef", type=click.IntRange(min=1), default=None, help="nsw: candidate beam width (ef)."
)
@click.option(
    "--restarts",
    type=click.IntRange(min=1),
    default=None,
    help="nsw: greedy searches per query, merged (the first from the layers, the rest from random nodes).",
)
@click.option(
    "--max-degree",
    type=click.IntRange(min=2),
    default=32,
    show_default=True,
    help="Graph build: neighbors kept per node (M).",
)
@click.option(
    "--ef-construction",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Graph build: candidate beam width while inserting.",
)
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Neighbors that vote (majority; a tie goes to the label of the nearest tied neighbor). "
    "The published errors are for k=1.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the graph build.")
@click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory laid out like the archive (<Name>/<Name>_TRAIN.tsv|.txt|.ts); default: the "
    "data sets bundled with pyembed.",
)
@click.option(
    "--no-znorm",
    is_flag=True,
    default=False,
    help="Do not z-normalize each series (the published errors are for z-normalized series).",
)
@click.option(
    "--n-threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads for build and search; default: all cores.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the output to this file instead of stdout.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the results as JSON to this file.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the results as CSV to this file.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr; default: only when stderr is a terminal.",
)
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks of errors.")
def ucr(
    names: tuple[str, ...],
    metric: str,
    band: str | int | None,
    band_pct: float | None,
    search: str,
    ef: int | None,
    restarts: int | None,
    max_degree: int,
    ef_construction: int,
    k: int,
    seed: int,
    data_dir: Path | None,
    no_znorm: bool,
    n_threads: int | None,
    output_format: str,
    out: Path | None,
    json_path: Path | None,
    csv_path: Path | None,
    progress: bool | None,
    debug: bool,
) -> None:
    """k-NN classification on UCR archive data sets, next to the archive's published errors.

    NAMES are data set names (default: every bundled data set, or every data set in --data-dir).
    Errors are fractions of the test set misclassified; 'published' is the archive's 1-NN error for
    the same metric and band (ED, DTW with the learned window, or full DTW), shown when k=1.
    """
    if metric == "ed" and (band is not None or band_pct is not None):
        raise click.UsageError("--band and --band-pct apply only to --metric dtw")
    if band is not None and band_pct is not None:
        raise click.UsageError("give either --band or --band-pct, not both")
    if search == "exact" and (ef is not None or restarts is not None):
        raise click.UsageError("--ef and --restarts apply only to --search nsw")
    settings = _Settings(
        metric=metric,
        band=band,
        band_pct=band_pct,
        search=search,
        ef=ef,
        restarts=restarts,
        max_degree=max_degree,
        ef_construction=ef_construction,
        k=k,
        seed=seed,
        znorm=not no_znorm,
        n_threads=n_threads,
    )

    def body() -> None:
        jobs, skipped = _prepare(names, data_dir, settings)
        show = progress if progress is not None else stderr_is_terminal()
        results = _run(jobs, settings, show_progress=show)
        _emit(results, skipped, settings, output_format, out, json_path, csv_path)

    run_guarded(debug, body)


# --------------------------------------------------------------------------------------------------
# The steps of `bench ucr`


def _prepare(
    names: Sequence[str], data_dir: Path | None, settings: _Settings
) -> tuple[list[_Job], list[dict[str, str]]]:
    """Resolve names, load every data set and check the band and k before any long work starts.

    With NAMES given, any problem is an error. Without them (every data set of a directory), a data
    set that cannot be read or has no published learned window is skipped with a note on stderr;
    the skipped ones are returned next to the jobs.
    """
    from pyembed.datasets import ucr as datasets

    available = datasets.list_datasets(data_dir)
    where = "the bundled data" if data_dir is None else f"{str(data_dir)!r}"
    names_given = bool(names)
    if not names:
        if not available:
            raise click.ClickException(f"no data sets found in {where}")
        names = available
    lowered = {name.lower(): name for name in available}
    resolved = []
    for name in names:
        match = name if name in available else lowered.get(name.lower())
        if match is None:
            listing = ", ".join(available) if available else "none"
            raise click.BadParameter(
                f"unknown data set {name!r} in {where}; available: {listing}",
                param_hint="NAMES",
            )
        resolved.append(match)
    table = datasets.published_table()
    jobs: list[_Job] = []
    skipped: list[dict[str, str]] = []
    for name in dict.fromkeys(resolved):  # each data set once, in the order given
        try:
            train = datasets.load_ucr(name, "TRAIN", data_dir)
            test = datasets.load_ucr(name, "TEST", data_dir)
            if train.length != test.length:
                raise ValueError(
                    f"{name}: train series have {train.length} samples but test series have "
                    f"{test.length}; both splits must have the same length"
                )
            published = table.get(name)
            if published is None and _wants_learned_band(settings):
                message = (
                    f"the archive publishes no learned window for {name!r}; "
                    "give --band or --band-pct"
                )
                if names_given:
                    raise click.BadParameter(message, param_hint="--band")
                raise ValueError(message)
        except (ValueError, OSError) as exc:
            if names_given:
                raise
            # Running a whole directory: report what cannot be read (variable-length data sets,
            # say) and go on with the rest.
            reason = one_line(exc)
            skipped.append({"name": name, "reason": reason})
            click.echo(f"skipping {name}: {reason}", err=True)
            continue
        if settings.k > train.n:
            raise click.BadParameter(
                f"k={settings.k} is larger than the {train.n} training series of {name}",
                param_hint="--k",
            )
        band = _resolve_band(name, train.length, settings, published)
        jobs.append(_Job(name=name, train=train, test=test, band=band, published=published))
    if not jobs:
        raise click.ClickException(
            f"no data set in {where} could be run; first problem: {skipped[0]['reason']}"
        )
    return jobs, skipped


def _wants_learned_band(settings: _Settings) -> bool:
    return (
        settings.metric == "dtw"
        and settings.band_pct is None
        and settings.band in (None, "learned")
    )


def _resolve_band(
    name: str, length: int, settings: _Settings, published: PublishedRow | None
) -> int | None:
    from pyembed.datasets.ucr import band_from_pct

    if settings.metric == "ed":
        return None
    if settings.band_pct is not None:
        return band_from_pct(settings.band_pct, length)
    if settings.band == "full":
        return None
    if settings.band is None or settings.band == "learned":
        if published is None:
            raise click.BadParameter(
                f"the archive publishes no learned window for {name!r}; give --band or --band-pct",
                param_hint="--band",
            )
        return band_from_pct(published.dtw_learned_window_pct, length)
    band = int(settings.band)
    if band > length:
        raise click.BadParameter(
            f"band {band} is larger than the series length {length} of {name}", param_hint="--band"
        )
    return band


def _run(jobs: list[_Job], settings: _Settings, *, show_progress: bool) -> list[dict[str, Any]]:
    import numpy as np

    from pyembed import Index
    from pyembed.datasets.ucr import znormalize

    total = sum(job.train.n + job.test.n for job in jobs)
    results = []
    with _progress_bar(total, show_progress) as advance:
        for job in jobs:
            if settings.znorm:
                X_train, X_test = znormalize(job.train.X), znormalize(job.test.X)
            else:
                X_train, X_test = job.train.X, job.test.X
            built = 0

            def on_build(done: int, _total: int) -> None:
                nonlocal built
                advance(max(0, done - built))
                built = max(built, done)

            start = time.perf_counter()
            if settings.metric == "dtw":
                index = Index(
                    job.train.length,
                    "dtw",
                    band=job.band,
                    max_degree=settings.max_degree,
                    ef_construction=settings.ef_construction,
                    seed=settings.seed,
                )
            else:
                index = Index(
                    job.train.length,
                    "euclidean",
                    max_degree=settings.max_degree,
                    ef_construction=settings.ef_construction,
                    seed=settings.seed,
                )
            index.add(X_train, n_threads=settings.n_threads, progress=on_build)
            build_seconds = time.perf_counter() - start
            advance(max(0, job.train.n - built))

            ids, calls, pruned, abandoned = [], 0, 0, 0
            query_seconds = 0.0
            for lo in range(0, job.test.n, QUERY_CHUNK):
                chunk = X_test[lo : lo + QUERY_CHUNK]
                start = time.perf_counter()
                found = index.search(
                    chunk,
                    k=settings.k,
                    ef=settings.ef,
                    restarts=settings.restarts,
                    exact=settings.search == "exact",
                    n_threads=settings.n_threads,
                )
                query_seconds += time.perf_counter() - start
                ids.append(found.ids)
                calls += int(np.sum(found.distance_calls))
                pruned += int(np.sum(found.lb_pruned))
                abandoned += int(np.sum(found.abandoned))
                advance(chunk.shape[0])
            neighbor_ids = np.concatenate(ids) if ids else np.empty((0, settings.k), np.int64)
            predictions, valid = knn_vote(neighbor_ids, job.train.y)
            error = float(np.mean(~valid | ~_same_labels(predictions, job.test.y)))
            results.append(
                _result_row(
                    job, settings, error, calls, pruned, abandoned, build_seconds, query_seconds
                )
            )
    return results


def _result_row(
    job: _Job,
    settings: _Settings,
    error: float,
    calls: int,
    pruned: int,
    abandoned: int,
    build_seconds: float,
    query_seconds: float,
) -> dict[str, Any]:
    published = _published_error(job, settings)
    brute_force = job.test.n * job.train.n
    return {
        "name": job.name,
        "n_train": job.train.n,
        "n_test": job.test.n,
        "length": job.train.length,
        "band": job.band if settings.metric == "dtw" else None,
        "error": error,
        "published_error": published,
        "difference": None if published is None else error - published,
        "distance_calls": calls,
        "distance_calls_pct": 100.0 * calls / brute_force if brute_force else 0.0,
        "lb_pruned": pruned,
        "abandoned": abandoned,
        "build_seconds": build_seconds,
        "query_seconds": query_seconds,
        "queries_per_second": job.test.n / query_seconds if query_seconds > 0 else None,
    }


def _published_error(job: _Job, settings: _Settings) -> float | None:
    """The archive's 1-NN error for this metric and band, if it publishes one (and k = 1)."""
    from pyembed.datasets.ucr import band_from_pct

    row = job.published
    if row is None or settings.k != 1:
        return None
    if settings.metric == "ed":
        return row.ed_error
    length = job.train.length
    if job.band is None or job.band >= length - 1:  # a radius of length-1 already allows every path
        return row.dtw_full_error
    if job.band == band_from_pct(row.dtw_learned_window_pct, length):
        return row.dtw_learned_error
    if job.band == 0:  # DTW with radius 0 is the Euclidean distance
        return row.ed_error
    return None


def knn_vote(
    neighbor_ids: NDArray[np.int64], train_labels: NDArray[Any]
) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """Majority vote of the k nearest neighbors; a tie goes to the nearest tied neighbor's label.

    Parameters
    ----------
    neighbor_ids : numpy.ndarray, shape (n, k), int64
        Row indices into ``train_labels``, nearest first, as returned by ``Index.search`` (ids are
        the train row numbers). ``-1`` marks "no neighbor" and does not vote.
    train_labels : numpy.ndarray, shape (n_train,)
        Labels of the training series.

    Returns
    -------
    predictions : numpy.ndarray, shape (n,)
        The predicted label per query, same dtype as ``train_labels``; arbitrary where ``valid`` is
        False.
    valid : numpy.ndarray, shape (n,), bool
        False for queries without any neighbor (count them as errors).
    """
    import numpy as np

    ids = np.asarray(neighbor_ids, dtype=np.int64)
    labels = np.asarray(train_labels)
    if ids.ndim != 2:
        raise ValueError(f"neighbor_ids must be 2-D (n, k), got {ids.ndim} dimensions")
    if ids.size and int(ids.max()) >= labels.shape[0]:
        raise ValueError(
            f"neighbor id {int(ids.max())} is out of range for {labels.shape[0]} training labels"
        )
    n = ids.shape[0]
    valid: NDArray[np.bool_] = np.asarray((ids >= 0).any(axis=1), dtype=bool)
    predictions = np.empty(n, dtype=labels.dtype)
    if labels.shape[0] == 0:
        return predictions, valid
    if ids.shape[1] == 1:
        first = ids[:, 0]
        predictions[:] = labels[np.where(first >= 0, first, 0)]
        return predictions, valid
    for row in range(n):
        votes: dict[Any, int] = {}
        nearest: dict[Any, int] = {}
        for rank, neighbor in enumerate(ids[row].tolist()):
            if neighbor < 0:
                continue
            label = labels[neighbor].item()
            votes[label] = votes.get(label, 0) + 1
            nearest.setdefault(label, rank)
        if votes:
            predictions[row] = max(votes, key=lambda label: (votes[label], -nearest[label]))
        else:
            predictions[row] = labels[0]
    return predictions, valid


def _same_labels(a: NDArray[Any], b: NDArray[Any]) -> NDArray[np.bool_]:
    import numpy as np

    if a.dtype.kind != b.dtype.kind:  # e.g. int labels in one split, text in the other
        return np.asarray(a.astype(str) == b.astype(str))
    return np.asarray(a == b)


# --------------------------------------------------------------------------------------------------
# Output


def _emit(
    results: list[dict[str, Any]],
    skipped: list[dict[str, str]],
    settings: _Settings,
    output_format: str,
    out: Path | None,
    json_path: Path | None,
    csv_path: Path | None,
) -> None:
    renderers: dict[str, Callable[[list[dict[str, Any]], _Settings], str]] = {
        "table": _render_table,
        "json": lambda results, settings: _render_json(results, skipped, settings),
        "csv": _render_csv,
    }
    text = renderers[output_format](results, settings)
    if json_path is not None:
        _write(json_path, _render_json(results, skipped, settings))
    if csv_path is not None:
        _write(csv_path, _render_csv(results, settings))
    if out is not None:
        _write(out, text)
    else:
        click.echo(text, nl=False)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


def _render_json(
    results: list[dict[str, Any]], skipped: list[dict[str, str]], settings: _Settings
) -> str:
    document = {"settings": settings.as_dict(), "results": results, "skipped": skipped}
    return json.dumps(document, indent=2) + "\n"


def _render_csv(results: list[dict[str, Any]], settings: _Settings) -> str:
    buffer = io.StringIO()
    extra = ("metric", "search", "k", "znorm")
    writer = csv.DictWriter(buffer, fieldnames=[*COLUMNS, *extra], lineterminator="\n")
    writer.writeheader()
    for row in results:
        writer.writerow(
            {
                **{key: "" if value is None else value for key, value in row.items()},
                "metric": settings.metric,
                "search": settings.search,
                "k": settings.k,
                "znorm": settings.znorm,
            }
        )
    return buffer.getvalue()


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "full" if key == "band" else "-"
    if key in ("error", "published_error"):
        return f"{value:.4f}"
    if key == "difference":
        return f"{value:+.4f}" if abs(value) >= 0.00005 else "+0.0000"  # never "-0.0000"
    if key == "distance_calls_pct":
        return f"{value:.1f}"
    if key in ("build_seconds", "query_seconds"):
        return f"{value:.3f}"
    if key == "queries_per_second":
        return f"{value:.0f}"
    return str(value)


def _render_table(results: list[dict[str, Any]], settings: _Settings) -> str:
    described = settings.as_dict()
    if settings.metric == "ed":
        described["band"] = "-"
    knobs = " ".join(
        f"{key}={value}"
        for key, value in described.items()
        if value is not None and key != "n_threads"
    )
    header = [_TABLE_HEADERS[key] for key in COLUMNS]
    body = [
        [
            "-" if key == "band" and settings.metric == "ed" else _cell(key, row[key])
            for key in COLUMNS
        ]
        for row in results
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(COLUMNS))]
    lines = [f"# pyembed bench ucr: {knobs}"]
    for line in [header, *body]:
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Progress and errors


@contextlib.contextmanager
def _progress_bar(total: int, show: bool) -> Iterator[Callable[[int], None]]:
    if not show:
        yield lambda _steps: None
        return
    with click.progressbar(length=total, label="bench ucr", file=sys.stderr) as bar:
        yield bar.update
