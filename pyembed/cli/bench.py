"""``pyembed bench``: benchmarks on public data sets.

``pyembed bench ucr`` runs k-NN classification on UCR archive data sets with pyembed's index
(exact brute force with lower-bound pruning, or a graph search) and prints, per data set, the test
error next to the archive's published error together with the work done: full distance
computations (also as a share of brute force, ``n_test * n_train``), lower-bound prunes, early
abandons, build and query time.

The command only wires things together: the band and published-error policy lives in
:mod:`pyembed.datasets.ucr`, the vote in :mod:`pyembed.metrics`, the output in
:mod:`pyembed.cli.output`. Only click and the index defaults are imported at module level, so
``pyembed --help`` stays instant; numpy, the readers and the index are imported when the command
runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pyembed.cli import output
from pyembed.cli._common import (
    GuardedGroup,
    build_options,
    debug_option,
    ef_option,
    graph_option,
    k_option,
    one_line,
    restarts_option,
    search_option,
    seed_option,
    stderr_is_terminal,
    threads_option,
)

if TYPE_CHECKING:
    from pyembed.datasets.ucr import PublishedRow, UCRSplit

__all__ = ["ARCHIVE_COLUMNS", "ARCHIVE_METHODS", "COLUMNS", "bench", "ucr"]

# Queries go to the index in chunks of this many rows, so the progress bar moves on long runs. The
# chunking is the same whether or not a bar is shown, so output never depends on the terminal.
QUERY_CHUNK = 512

_DATASET_FIELDS = ("name", "n_train", "n_test", "length", "channels", "dependence")
COLUMNS = (
    *_DATASET_FIELDS,
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
    "channels": "ch",
    "dependence": "dtw_form",
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


ARCHIVE_METHODS = ("euclidean", "dtw_learned", "dtw_full")
"""The archive's three published 1-NN columns, in its order: Euclidean, DTW with the window
learned on the training set, full-window DTW."""

# Each column's fields: those of a one-metric row after the data set's own, but the rate.
_METHOD_FIELDS = tuple(c for c in COLUMNS[len(_DATASET_FIELDS) :] if c != "queries_per_second")
ARCHIVE_COLUMNS = _DATASET_FIELDS + tuple(
    f"{method}_{field}" for method in ARCHIVE_METHODS for field in _METHOD_FIELDS
)
"""Per-data-set fields of the default run (all three columns; json and csv)."""

_ARCHIVE_TABLE = _DATASET_FIELDS + tuple(
    f"{method}_{field}"
    for method in ARCHIVE_METHODS
    for field in (("band",) if method == "dtw_learned" else ())
    + ("error", "published_error", "difference", "distance_calls_pct", "seconds")
)
_SHORT = {"euclidean": "ed", "dtw_learned": "dtw", "dtw_full": "full"}
_ARCHIVE_HEADERS = {
    **{field: _TABLE_HEADERS[field] for field in _DATASET_FIELDS},
    **{
        f"{method}_{field}": f"{_SHORT[method]}:{short}"
        for method in ARCHIVE_METHODS
        for field, short in (
            ("band", "w"),
            ("error", "err"),
            ("published_error", "pub"),
            ("difference", "diff"),
            ("distance_calls_pct", "%brute"),
            ("seconds", "s"),
        )
    },
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
    metric: str | None  # None: the archive's three columns
    band: str | int | None
    band_pct: float | None
    search: str
    graph: str
    ef: int | None
    restarts: int | None
    max_degree: int
    ef_construction: int
    k: int
    seed: int
    znorm: bool
    threads: int | None
    dependence: str = "both"

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric or "euclidean+dtw",
            "band": self.band_label(),
            "dependence": self.dependence,
            "search": self.search,
            "graph": self.graph,
            "ef": self.ef,
            "restarts": self.restarts,
            "max_degree": self.max_degree,
            "ef_construction": self.ef_construction,
            "k": self.k,
            "seed": self.seed,
            "znorm": self.znorm,
            "threads": self.threads,
        }

    def band_label(self) -> str | int | None:
        if self.metric is None:
            return "learned+full"
        if self.metric == "euclidean":
            return None
        if self.band_pct is not None:
            return f"{self.band_pct:g}%"
        return "learned" if self.band is None else self.band


@dataclass
class _Job:
    name: str
    train: UCRSplit
    test: UCRSplit
    band: int | None  # DTW radius in samples (the learned one in the archive's three columns);
    # None = full DTW (and unused for Euclidean)
    published: PublishedRow | None
    # Series of their own lengths: a percentage window becomes aeon's per-pair window (a
    # fraction of the shorter series of each pair) instead of one radius.
    window: float | None = None


@click.group(name="bench", cls=GuardedGroup)
def bench() -> None:
    """Benchmarks on public data sets (results to stdout, progress to stderr)."""


@bench.command(name="ucr")
@click.argument("names", nargs=-1, metavar="[NAMES]...")
@click.option(
    "--metric",
    type=click.Choice(("euclidean", "dtw")),
    default=None,
    help="Run one distance only: Euclidean, or DTW with --band / --band-pct. Default: the "
    "archive's three published columns side by side (Euclidean, DTW at the learned window, "
    "full-window DTW).",
)
@click.option(
    "--band",
    type=BandParam(),
    default=None,
    help="DTW Sakoe-Chiba radius: 'learned' (the archive's learned window; the default), 'full' "
    "(unconstrained), or a radius in samples (0 <= band <= length). Implies --metric dtw.",
)
@click.option(
    "--band-pct",
    type=click.FloatRange(0.0, 100.0),
    default=None,
    help="DTW radius as a percentage of the series length, rounded half away from zero "
    "(the archive's convention). Exclusive with --band. Implies --metric dtw.",
)
@search_option(default="exact")
@graph_option
@ef_option
@restarts_option
@build_options
@k_option(
    default=1,
    help="Neighbors that vote (majority; a tie goes to the label of the nearest tied neighbor). "
    "The published errors are for k=1.",
)
@seed_option(help="Seed of the graph build.")
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
    help="Do not z-normalize each series (each channel of each series; the UCR archive's "
    "published errors are for z-normalized series, UEA results are usually quoted without).",
)
@click.option(
    "--dependence",
    type=click.Choice(("dependent", "independent", "both")),
    default="both",
    show_default=True,
    help="Multichannel (UEA) data sets: DTW warping all channels along one path (dependent, "
    "DTW_D), each channel on its own (independent, DTW_I), or both, one row each. One-channel "
    "sets get one row: the two are the same distance.",
)
@threads_option(help="Threads for build and search; default: all cores.")
@output.output_options
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
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also draw our errors against the published ones and the work per data set to this "
    "image file (.png, .svg, .pdf; needs matplotlib, the bench extra).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr; default: only when stderr is a terminal.",
)
@debug_option
def ucr(
    names: tuple[str, ...],
    metric: str | None,
    band: str | int | None,
    band_pct: float | None,
    search: str,
    graph: str,
    ef: int | None,
    restarts: int | None,
    max_degree: int,
    ef_construction: int,
    k: int,
    seed: int,
    data_dir: Path | None,
    no_znorm: bool,
    dependence: str,
    threads: int | None,
    output_format: str,
    out: Path | None,
    json_path: Path | None,
    csv_path: Path | None,
    plot_path: Path | None,
    progress: bool | None,
) -> None:
    """k-NN classification on UCR archive data sets, next to the archive's published errors.

    NAMES are data set names (default: every bundled data set, or every data set in --data-dir).
    Errors are fractions of the test set misclassified; 'published' is the archive's 1-NN error for
    the same metric and band (Euclidean, DTW with the learned window, or full DTW), shown when k=1.
    By default each data set gets all three, side by side, each with its work (full distance
    computations as a share of brute force) and time; --metric runs one of them.
    """
    if metric == "euclidean" and (band is not None or band_pct is not None):
        raise click.UsageError("--band and --band-pct apply only to --metric dtw")
    if metric is None and (band is not None or band_pct is not None):
        metric = "dtw"
    if band is not None and band_pct is not None:
        raise click.UsageError("give either --band or --band-pct, not both")
    if search == "exact" and (ef is not None or restarts is not None):
        raise click.UsageError("--ef and --restarts apply only to --search graph")
    settings = _Settings(
        metric=metric,
        band=band,
        band_pct=band_pct,
        search=search,
        graph=graph,
        ef=ef,
        restarts=restarts,
        max_degree=max_degree,
        ef_construction=ef_construction,
        k=k,
        seed=seed,
        znorm=not no_znorm,
        threads=threads,
        dependence=dependence,
    )
    jobs, skipped = _prepare(names, data_dir, settings)
    show = progress if progress is not None else stderr_is_terminal()
    results = _run(jobs, settings, show_progress=show)
    _emit(results, skipped, settings, output_format, out, json_path, csv_path)
    if plot_path is not None:
        _plot(results, settings, plot_path)


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
    dtw = settings.metric != "euclidean"  # DTW alone, or the three columns
    jobs: list[_Job] = []
    skipped: list[dict[str, str]] = []
    for name in dict.fromkeys(resolved):  # each data set once, in the order given
        try:
            train, test = datasets.load_pair(name, data_dir, znorm=settings.znorm)
            published = table.get(name)
            if (
                published is None
                and dtw
                and datasets.wants_learned_band(settings.band, settings.band_pct)
            ):
                message = f"the archive publishes no learned window for {name!r}; " + (
                    "give --band or --band-pct"
                    if settings.metric
                    else "give --metric with --band or --band-pct"
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
        band, window = None, None
        if not train.equal_length:
            if settings.metric == "euclidean":
                message = (
                    f"{name} has series of {int(train.lengths.min())} to "
                    f"{int(train.lengths.max())} samples; Euclidean needs one length"
                )
                if names_given:
                    raise click.BadParameter(message, param_hint="--metric")
                skipped.append({"name": name, "reason": message})
                click.echo(f"skipping {name}: {message}", err=True)
                continue
            if dtw:
                band, window = _variable_band(settings, published, name)
            # The archive's figures for its variable-length sets are for its own padded copies.
            published = None
        elif dtw:
            try:
                band = datasets.resolve_band(
                    train.length,
                    band=settings.band,
                    band_pct=settings.band_pct,
                    published=published,
                    name=name,
                )
            except ValueError as exc:
                raise click.BadParameter(one_line(exc), param_hint="--band") from None
        jobs.append(
            _Job(name=name, train=train, test=test, band=band, published=published, window=window)
        )
    if not jobs:
        raise click.ClickException(
            f"no data set in {where} could be run; first problem: {skipped[0]['reason']}"
        )
    return jobs, skipped


def _variable_band(
    settings: _Settings, published: PublishedRow | None, name: str
) -> tuple[int | None, float | None]:
    """(band, window) of DTW on a data set of series of their own lengths: a radius in samples
    as given, full DTW, or a percentage (given, or the archive's learned one) as aeon's window,
    a fraction of the shorter series of each pair."""
    from pyembed.datasets import ucr as datasets

    pct: float | None = settings.band_pct
    if pct is None and datasets.wants_learned_band(settings.band, None):
        if published is None:
            raise click.BadParameter(
                f"the archive publishes no learned window for {name!r}", param_hint="--band"
            )
        pct = float(published.dtw_learned_window_pct)
    if pct is not None:
        return None, pct / 100.0
    if settings.band == datasets.FULL:
        return None, None
    if isinstance(settings.band, int) and settings.band >= 0:
        return settings.band, None
    raise click.BadParameter(f"invalid band {settings.band!r}", param_hint="--band")


def _methods(job: _Job, settings: _Settings) -> list[tuple[str, str, int | None]]:
    """(column, metric, band) of each run a job makes: one, or the archive's three (no
    Euclidean column for series of their own lengths: it is left empty)."""
    if settings.metric is not None:
        return [(settings.metric, settings.metric, job.band)]
    return [
        ("euclidean", "euclidean", None),
        ("dtw_learned", "dtw", job.band),
        ("dtw_full", "dtw", None),
    ]


def _forms(job: _Job, settings: _Settings) -> list[str | None]:
    """The DTW forms a job runs, one result row each: both for multichannel sets (unless
    --dependence picks one), None (no form to speak of) for one channel or Euclidean alone."""
    if job.train.channels == 1 or settings.metric == "euclidean":
        return [None]
    if settings.dependence == "both":
        return ["dependent", "independent"]
    return [settings.dependence]


def _run(jobs: list[_Job], settings: _Settings, *, show_progress: bool) -> list[dict[str, Any]]:
    total = sum(
        len(_methods(job, settings)) * len(_forms(job, settings)) * (job.train.n + job.test.n)
        for job in jobs
    )
    results = []
    with output.progress_bar(total, show_progress, "bench ucr") as advance:
        for job in jobs:
            euclidean: dict[str, Any] | None = None
            for form in _forms(job, settings):
                runs = {}
                for column, metric, band in _methods(job, settings):
                    if metric == "euclidean" and euclidean is not None:
                        runs[column] = {**euclidean, "dependence": form}  # the same run
                        continue
                    runs[column] = _run_one(job, settings, metric, band, form, advance)
                    if metric == "euclidean":
                        euclidean = runs[column]
                if settings.metric is not None:
                    results.append(runs[settings.metric])
                    continue
                row: dict[str, Any] = {key: runs["dtw_full"][key] for key in _DATASET_FIELDS}
                for column, fields in runs.items():
                    for field in _METHOD_FIELDS:
                        row[f"{column}_{field}"] = fields[field]
                results.append(row)
    return results


def _run_one(
    job: _Job,
    settings: _Settings,
    metric: str,
    band: int | None,
    dependence: str | None,
    advance: Any,
) -> dict[str, Any]:
    """One k-NN classification of a job's test set with one metric, band and DTW form; its
    result row. Euclidean on series of their own lengths is not defined: an empty row."""
    import numpy as np

    from pyembed import Index
    from pyembed.metrics import knn_error

    train = job.train
    variable = not train.equal_length
    if variable and metric == "euclidean":
        advance(train.n + job.test.n)
        return _empty_row(job, dependence)

    built = 0

    def on_build(done: int, _total: int) -> None:
        nonlocal built
        advance(max(0, done - built))
        built = max(built, done)

    start = time.perf_counter()
    dtw = metric == "dtw"
    index = Index(
        None if variable else train.length,
        metric,  # type: ignore[arg-type]
        band=band if dtw else None,
        window=job.window if dtw and variable and band is None else None,
        channels=train.channels,
        dependence=dependence if dtw else None,  # type: ignore[arg-type]
        graph=settings.graph,  # type: ignore[arg-type]
        max_degree=settings.max_degree,
        ef_construction=settings.ef_construction,
        seed=settings.seed,
    )
    index.add(job.train.X)
    if settings.search != "exact":
        # Exact search needs no graph; a graph search would build it on first use.
        index.build(n_threads=settings.threads, progress=on_build)
    build_seconds = time.perf_counter() - start
    advance(max(0, job.train.n - built))

    ids, calls, pruned, abandoned = [], 0, 0, 0
    query_seconds = 0.0
    for lo in range(0, job.test.n, QUERY_CHUNK):
        chunk = job.test.X[lo : lo + QUERY_CHUNK]
        start = time.perf_counter()
        found = index.search(
            chunk,
            k=settings.k,
            ef=settings.ef,
            restarts=settings.restarts,
            exact=settings.search == "exact",
            n_threads=settings.threads,
        )
        query_seconds += time.perf_counter() - start
        ids.append(found.ids)
        calls += int(np.sum(found.distance_calls))
        pruned += int(np.sum(found.lb_pruned))
        abandoned += int(np.sum(found.abandoned))
        advance(len(chunk))
    neighbor_ids = np.concatenate(ids) if ids else np.empty((0, settings.k), np.int64)
    error = knn_error(neighbor_ids, job.train.y, job.test.y)
    row = _result_row(
        job, settings, metric, band, error, calls, pruned, abandoned, build_seconds, query_seconds
    )
    row["dependence"] = dependence if dtw else None
    if dtw and variable and band is None and job.window is not None:
        row["band"] = f"{100 * job.window:g}%"  # aeon's window, per pair
    return row


def _empty_row(job: _Job, dependence: str | None) -> dict[str, Any]:
    """The row of a run that cannot be made (Euclidean between series of other lengths)."""
    return {
        **_dataset_fields(job, dependence),
        **{field: None for field in COLUMNS[len(_DATASET_FIELDS) :]},
    }


def _dataset_fields(job: _Job, dependence: str | None) -> dict[str, Any]:
    """The data set's own fields of a result row; a variable length shows as "min-max"."""
    lengths = job.train.lengths
    length: int | str = (
        job.train.length if job.train.equal_length else f"{int(lengths.min())}-{int(lengths.max())}"
    )
    return {
        "name": job.name,
        "n_train": job.train.n,
        "n_test": job.test.n,
        "length": length,
        "channels": job.train.channels,
        "dependence": dependence,
    }


def _result_row(
    job: _Job,
    settings: _Settings,
    metric: str,
    band: int | None,
    error: float,
    calls: int,
    pruned: int,
    abandoned: int,
    build_seconds: float,
    query_seconds: float,
) -> dict[str, Any]:
    from pyembed.datasets.ucr import published_error

    published = (
        None
        if job.published is None
        else published_error(
            job.published, metric=metric, band=band, length=job.train.length, k=settings.k
        )
    )
    brute_force = job.test.n * job.train.n
    return {
        **_dataset_fields(job, None),
        "band": band if metric == "dtw" else None,
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


# --------------------------------------------------------------------------------------------------
# Output

_CSV_SETTINGS = ("metric", "search", "graph", "k", "znorm")
"""Settings repeated on every CSV line, after :data:`COLUMNS`."""


def _emit(
    results: list[dict[str, Any]],
    skipped: list[dict[str, str]],
    settings: _Settings,
    output_format: str,
    out: Path | None,
    json_path: Path | None,
    csv_path: Path | None,
) -> None:
    renderers = {
        "table": lambda: _render_table(results, settings),
        "json": lambda: _render_json(results, skipped, settings),
        "csv": lambda: _render_csv(results, settings),
    }
    text = renderers[output_format]()
    if json_path is not None:
        output.write_text(json_path, _render_json(results, skipped, settings))
    if csv_path is not None:
        output.write_text(csv_path, _render_csv(results, settings))
    output.emit(text, out)


def _render_json(
    results: list[dict[str, Any]], skipped: list[dict[str, str]], settings: _Settings
) -> str:
    return output.render_json(
        {"settings": settings.as_dict(), "results": results, "skipped": skipped}
    )


def _render_csv(results: list[dict[str, Any]], settings: _Settings) -> str:
    described = settings.as_dict()
    rows = [{**row, **{key: described[key] for key in _CSV_SETTINGS}} for row in results]
    columns = COLUMNS if settings.metric is not None else ARCHIVE_COLUMNS
    return output.render_csv(rows, [*columns, *_CSV_SETTINGS])


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "full" if key.endswith("band") and not key.startswith("euclidean") else "-"
    if key.endswith(("error", "published_error")):
        return f"{value:.4f}"
    if key.endswith("difference"):
        return f"{value:+.4f}" if abs(value) >= 0.00005 else "+0.0000"  # never "-0.0000"
    if key.endswith("distance_calls_pct"):
        return f"{value:.1f}"
    if key.endswith("seconds"):
        return f"{value:.3f}"
    if key == "queries_per_second":
        return f"{value:.0f}"
    return str(value)


def _render_table(results: list[dict[str, Any]], settings: _Settings) -> str:
    described = settings.as_dict()
    if settings.metric is None:
        rows = [
            {
                **row,
                **{
                    f"{m}_seconds": None
                    if row[f"{m}_build_seconds"] is None
                    else row[f"{m}_build_seconds"] + row[f"{m}_query_seconds"]
                    for m in ARCHIVE_METHODS
                },
            }
            for row in results
        ]
        columns, headers = _ARCHIVE_TABLE, _ARCHIVE_HEADERS
    elif settings.metric == "euclidean":
        described["band"] = "-"
        rows = [{**row, "band": "-"} for row in results]
        columns, headers = COLUMNS, _TABLE_HEADERS
    else:
        rows = results
        columns, headers = COLUMNS, _TABLE_HEADERS
    if all(row.get("channels", 1) == 1 for row in rows):
        # One channel everywhere: no DTW form to tell apart.
        columns = tuple(c for c in columns if c not in ("channels", "dependence"))
    knobs = " ".join(
        f"{key}={value}"
        for key, value in described.items()
        if value is not None and key != "threads"
    )
    table = output.render_table(
        rows,
        columns,
        title=f"pyembed bench ucr: {knobs}",
        headers=headers,
        format_cell=_cell,
    )
    if settings.metric is None:
        table += (
            "# ed: Euclidean; dtw: DTW at the archive's learned window (w: its radius in "
            "samples); full: full-window DTW. err: our 1-NN error; pub: the archive's; "
            "%brute: full distance computations as a share of brute force; s: seconds "
            "(index + search)\n"
        )
    return table


def _plot(results: list[dict[str, Any]], settings: _Settings, path: Path) -> None:
    """Our errors against the published ones (left) and the work per data set (right)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise click.ClickException(
            "--plot needs matplotlib: pip install 'pyembed[bench]'"
        ) from None
    import numpy as np

    if settings.metric is None:
        series = {
            label: [
                (
                    row["name"],
                    row[f"{m}_error"],
                    row[f"{m}_published_error"],
                    row[f"{m}_distance_calls_pct"],
                )
                for row in results
            ]
            for m, label in zip(
                ARCHIVE_METHODS,
                ("Euclidean", "DTW, learned window", "DTW, full window"),
                strict=True,
            )
        }
    else:
        label = "Euclidean" if settings.metric == "euclidean" else f"DTW ({settings.band_label()})"
        series = {
            label: [
                (row["name"], row["error"], row["published_error"], row["distance_calls_pct"])
                for row in results
            ]
        }
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    top = 0.0
    # Distinct markers, so coinciding points (band 0 is Euclidean) stay visible.
    styles = [
        {"marker": "o", "s": 90, "facecolors": "none", "edgecolors": "C0"},
        {"marker": "x", "s": 50, "color": "C1"},
        {"marker": "^", "s": 40, "color": "C2"},
    ]
    for (label, points), style in zip(series.items(), styles, strict=False):
        xs = [p[2] for p in points if p[2] is not None and p[1] is not None]
        ys = [p[1] for p in points if p[2] is not None and p[1] is not None]
        left.scatter(xs, ys, label=label, **style)
        top = max([top, *xs, *ys])
    top = max(top * 1.1, 0.05)
    left.plot(
        [0, top], [0, top], color="grey", linewidth=1, linestyle="--", label="ours = published"
    )
    left.set_xlim(0, top)
    left.set_ylim(0, top)
    left.set_xlabel("published 1-NN test error (UCR archive)")
    left.set_ylabel(f"our {settings.k}-NN test error")
    left.set_title("Errors against the archive's")
    left.legend(fontsize=8)
    form = {"dependent": " (D)", "independent": " (I)"}
    names = [row["name"] + form.get(row.get("dependence") or "", "") for row in results]
    x = np.arange(len(names))
    width = 0.8 / len(series)
    for i, (label, points) in enumerate(series.items()):
        work = [0.0 if p[3] is None else p[3] for p in points]  # no run: no bar
        right.bar(x + i * width - 0.4 + width / 2, work, width, label=label)
    right.set_xticks(x)
    right.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    right.set_ylabel("full distance computations, % of brute force")
    right.set_title(f"Work ({settings.search} search)")
    right.set_ylim(0, 125)
    right.legend(fontsize=8, loc="upper center", ncol=len(series))
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot write --plot {str(path)!r}: {one_line(exc)}") from None
    finally:
        plt.close(fig)
