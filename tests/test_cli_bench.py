"""`pyembed bench ucr` driven through click's CliRunner on the bundled data."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from pyembed import Index
from pyembed.cli.bench import ARCHIVE_COLUMNS, ARCHIVE_METHODS, COLUMNS, bench
from pyembed.datasets import list_bundled, load_ucr, published_table
from pyembed.index import (
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_GRAPH,
    DEFAULT_MAX_DEGREE,
    DEFAULT_SEED,
)

TOLERANCE = 0.5e-4  # published errors have 4 decimals


def run(*args: str) -> Result:
    return CliRunner().invoke(bench, ["ucr", *args])


def assert_clean_failure(result: Result, exit_code: int, message: str) -> None:
    """A user error: the expected exit code, the message on stderr, no traceback."""
    assert result.exit_code == exit_code, result.output
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def json_results(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"settings", "results", "skipped"}
    return list(document["results"])


# --------------------------------------------------------------------------------------------------
# Output formats


def test_table_default_shows_the_archive_three_columns_side_by_side() -> None:
    result = run()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# pyembed bench ucr: metric=euclidean+dtw band=learned+full")
    header = lines[1].split()
    assert header[:4] == ["name", "n_train", "n_test", "length"]
    for method in ("ed", "dtw", "full"):
        for column in ("err", "pub", "diff", "%brute", "s"):
            assert f"{method}:{column}" in header
    assert "dtw:w" in header
    rows = {line.split()[0]: line.split() for line in lines[2:] if not line.startswith("#")}
    assert sorted(rows) == list_bundled()
    for name, cells in rows.items():
        row = dict(zip(header, cells, strict=True))
        published = published_table()[name]
        assert row["dtw:w"] == "0"  # the learned window is 0 % for all four
        for method, figure in (
            ("ed", published.ed_error),
            ("dtw", published.dtw_learned_error),
            ("full", published.dtw_full_error),
        ):
            assert row[f"{method}:pub"] == f"{figure:.4f}"
            assert row[f"{method}:err"] == row[f"{method}:pub"], (name, method)
    assert lines[-1].startswith("# ed: Euclidean; dtw: DTW at the archive's learned window")


def test_json_default_reproduces_all_three_published_columns_and_counts_work() -> None:
    results = json_results(run("--format", "json"))
    assert [r["name"] for r in results] == list_bundled()
    for r in results:
        assert set(r) == set(ARCHIVE_COLUMNS)
        published = published_table()[str(r["name"])]
        brute_force = int(r["n_test"]) * int(r["n_train"])  # type: ignore[call-overload]
        for method, figure in zip(
            ARCHIVE_METHODS,
            (published.ed_error, published.dtw_learned_error, published.dtw_full_error),
            strict=True,
        ):
            assert r[f"{method}_published_error"] == figure
            assert abs(float(r[f"{method}_error"]) - figure) <= TOLERANCE  # type: ignore[arg-type]
            calls = int(r[f"{method}_distance_calls"])  # type: ignore[call-overload]
            pruned = int(r[f"{method}_lb_pruned"])  # type: ignore[call-overload]
            # Exact search computes or prunes every candidate exactly once.
            assert calls + pruned == brute_force
        assert r["euclidean_band"] is None and r["dtw_full_band"] is None
        assert r["dtw_learned_band"] == 0
        # Full-window DTW does real work, and the bounds spare part of it.
        assert int(r["dtw_full_lb_pruned"]) + int(r["dtw_full_abandoned"]) > 0  # type: ignore[call-overload]


def test_csv_default_carries_the_same_rows() -> None:
    result = run("--format", "csv", "Coffee", "GunPoint")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["name"] for row in rows] == ["Coffee", "GunPoint"]
    assert list(rows[0])[: len(ARCHIVE_COLUMNS)] == list(ARCHIVE_COLUMNS)
    assert rows[0]["metric"] == "euclidean+dtw"
    assert float(rows[1]["dtw_full_error"]) == pytest.approx(0.0933, abs=TOLERANCE)


def test_plot_draws_errors_and_work(tmp_path: Path) -> None:
    for args in ((), ("--metric", "dtw", "--band", "full")):
        path = tmp_path / f"plot{len(args)}.png"
        result = run(*args, "--plot", str(path), "Coffee", "GunPoint")
        assert result.exit_code == 0, result.output
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    result = run("--plot", str(tmp_path / "missing" / "p.png"), "Coffee")
    assert_clean_failure_keeps_stdout(result, "cannot write --plot")


def assert_clean_failure_keeps_stdout(result: Result, message: str) -> None:
    """A failure after the results were printed: exit 1, one message, no traceback."""
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_json_one_metric_reproduces_published_errors_and_counts_work() -> None:
    results = json_results(run("--metric", "dtw", "--format", "json"))
    assert [r["name"] for r in results] == list_bundled()
    for r in results:
        assert set(r) == set(COLUMNS)
        published = published_table()[str(r["name"])].dtw_learned_error
        assert r["published_error"] == published
        assert abs(float(r["error"]) - published) <= TOLERANCE  # type: ignore[arg-type]
        brute_force = int(r["n_test"]) * int(r["n_train"])  # type: ignore[call-overload]
        calls, pruned = int(r["distance_calls"]), int(r["lb_pruned"])  # type: ignore[call-overload]
        # Exact search computes or prunes every candidate exactly once.
        assert calls + pruned == brute_force
        assert r["distance_calls_pct"] == pytest.approx(100.0 * calls / brute_force)
        assert float(r["query_seconds"]) >= 0.0  # type: ignore[arg-type]


def test_json_ed_and_full_band() -> None:
    ed = json_results(run("--metric", "euclidean", "--format", "json", "GunPoint"))
    assert ed[0]["band"] is None
    assert ed[0]["published_error"] == published_table()["GunPoint"].ed_error
    full = json_results(run("--band", "full", "--format", "json", "ItalyPowerDemand"))
    assert full[0]["band"] is None
    assert full[0]["published_error"] == published_table()["ItalyPowerDemand"].dtw_full_error
    assert abs(float(full[0]["error"]) - 0.0496) <= TOLERANCE  # type: ignore[arg-type]


def test_band_in_samples_and_percent() -> None:
    by_samples = json_results(run("--band", "15", "--format", "json", "GunPoint"))
    by_percent = json_results(run("--band-pct", "10", "--format", "json", "GunPoint"))
    assert by_samples[0]["band"] == by_percent[0]["band"] == 15
    assert by_samples[0]["error"] == by_percent[0]["error"]
    assert by_samples[0]["published_error"] is None  # the archive publishes no 10 % figure
    assert by_samples[0]["difference"] is None


def test_csv_output() -> None:
    result = run("--metric", "dtw", "--format", "csv", "Coffee", "GunPoint")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["name"] for row in rows] == ["Coffee", "GunPoint"]
    assert list(rows[0])[: len(COLUMNS)] == list(COLUMNS)
    assert rows[0]["metric"] == "dtw" and rows[0]["search"] == "exact" and rows[0]["k"] == "1"
    assert rows[0]["graph"] == DEFAULT_GRAPH
    assert float(rows[1]["error"]) == pytest.approx(0.0867, abs=TOLERANCE)


def test_out_json_and_csv_files(tmp_path: Path) -> None:
    out, json_path, csv_path = tmp_path / "t.txt", tmp_path / "r.json", tmp_path / "r.csv"
    result = run("Coffee", "--out", str(out), "--json", str(json_path), "--csv", str(csv_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "Coffee" in out.read_text()
    assert json.loads(json_path.read_text())["results"][0]["name"] == "Coffee"
    assert next(csv.DictReader(io.StringIO(csv_path.read_text())))["name"] == "Coffee"


def test_json_path_keeps_table_on_stdout(tmp_path: Path) -> None:
    json_path = tmp_path / "r.json"
    result = run("Coffee", "--metric", "dtw", "--json", str(json_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# pyembed bench ucr")
    assert json.loads(json_path.read_text())["settings"]["metric"] == "dtw"


def test_progress_goes_to_stderr() -> None:
    result = run("--progress", "--format", "json", "Coffee")
    assert result.exit_code == 0, result.output
    assert "bench ucr" in result.stderr
    json.loads(result.stdout)  # stdout holds only the results


def test_k_nn_vote_and_graph_search() -> None:
    knn = json_results(run("--metric", "dtw", "--k", "3", "--format", "json", "ItalyPowerDemand"))
    assert knn[0]["published_error"] is None  # the archive publishes 1-NN only
    short = json_results(run("--metric", "dtw", "-k", "3", "--format", "json", "ItalyPowerDemand"))
    assert short[0]["error"] == knn[0]["error"]  # -k is --k
    for graph in ("hnsw", "nsw"):
        result = run(
            "--metric", "dtw", "--search", "graph", "--graph", graph, "--ef", "32",
            "--restarts", "2", "--format", "json", "GunPoint",
        )  # fmt: skip
        assert json.loads(result.stdout)["settings"]["graph"] == graph
        found = json_results(result)
        assert 0.0 <= float(found[0]["error"]) <= 1.0  # type: ignore[arg-type]
        # On 50 series a graph search can exceed brute force a little: the descent through the
        # layers and the base walk each keep their own visited set (band 0 prunes nothing).
        assert 0.0 < float(found[0]["distance_calls_pct"]) <= 110.0  # type: ignore[arg-type]


def test_defaults_come_from_the_index() -> None:
    settings = json.loads(run("--format", "json", "Coffee").stdout)["settings"]
    assert settings["graph"] == DEFAULT_GRAPH
    assert settings["max_degree"] == DEFAULT_MAX_DEGREE
    assert settings["ef_construction"] == DEFAULT_EF_CONSTRUCTION
    assert settings["seed"] == DEFAULT_SEED
    assert settings["ef"] is None and settings["restarts"] is None  # the index's, at search time


def test_single_thread_and_no_znorm() -> None:
    results = json_results(
        run("--metric", "dtw", "--threads", "1", "--no-znorm", "--format", "json", "GunPoint")
    )
    # GunPoint ships normalized, so skipping normalization changes nothing.
    assert abs(float(results[0]["error"]) - 0.0867) <= TOLERANCE  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# --data-dir


def _write_tsv(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "\t".join([str(label), *(repr(float(v)) for v in row)])
        for label, row in zip(y, X, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def test_data_dir_tsv_tree_matches_bundled(tmp_path: Path) -> None:
    for split in ("TRAIN", "TEST"):
        data = load_ucr("GunPoint", split)
        _write_tsv(tmp_path / "GunPoint" / f"GunPoint_{split}.tsv", data.X, data.y)
    from_dir = json_results(run("--data-dir", str(tmp_path), "--metric", "dtw", "--format", "json"))
    bundled = json_results(run("--metric", "dtw", "--format", "json", "GunPoint"))
    assert [r["name"] for r in from_dir] == ["GunPoint"]
    assert from_dir[0]["error"] == bundled[0]["error"]
    assert from_dir[0]["published_error"] == bundled[0]["published_error"]


def test_data_dir_unpublished_dataset_needs_a_band(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for split, n in (("TRAIN", 10), ("TEST", 6)):
        _write_tsv(
            tmp_path / "Toy" / f"Toy_{split}.tsv", rng.normal(size=(n, 12)), np.arange(n) % 2
        )
    result = run("--data-dir", str(tmp_path), "Toy")
    assert_clean_failure(result, 2, "no learned window for 'Toy'")
    result = run("--data-dir", str(tmp_path))  # every data set of the directory: all skipped
    assert_clean_failure(result, 1, "no data set in")
    results = json_results(run("--data-dir", str(tmp_path), "--band", "2", "--format", "json"))
    assert results[0]["published_error"] is None
    assert results[0]["n_train"] == 10 and results[0]["length"] == 12


def test_data_dir_bad_file_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "Bad"
    folder.mkdir()
    (folder / "Bad_TRAIN.tsv").write_text("1\t1.0\t2.0\n2\t1.0\n")
    (folder / "Bad_TEST.tsv").write_text("1\t1.0\t2.0\n")
    result = run("--data-dir", str(tmp_path), "--band", "1", "Bad")
    assert_clean_failure(result, 1, "Bad_TRAIN.tsv: ragged file")
    assert len(result.stderr.strip().splitlines()) == 1
    with_debug = run("--data-dir", str(tmp_path), "--band", "1", "--debug", "Bad")
    assert isinstance(with_debug.exception, ValueError)


def test_data_dir_without_names_skips_unreadable_sets(tmp_path: Path) -> None:
    (tmp_path / "Bad").mkdir()
    (tmp_path / "Bad" / "Bad_TRAIN.tsv").write_text("1\t1.0\t2.0\n2\t1.0\tNaN\t3.0\n")
    (tmp_path / "Bad" / "Bad_TEST.tsv").write_text("1\t1.0\t2.0\n")
    data = load_ucr("Coffee", "TRAIN")
    for split in ("TRAIN", "TEST"):
        _write_tsv(tmp_path / "Coffee" / f"Coffee_{split}.tsv", data.X, data.y)
    result = run("--data-dir", str(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "skipping Bad: " in result.stderr and "ragged file" in result.stderr
    document = json.loads(result.stdout)
    assert [r["name"] for r in document["results"]] == ["Coffee"]
    assert [s["name"] for s in document["skipped"]] == ["Bad"]


def test_data_dir_nan_and_empty(tmp_path: Path) -> None:
    (tmp_path / "Gap").mkdir()
    (tmp_path / "Gap" / "Gap_TRAIN.tsv").write_text("1\t1.0\tNaN\t2.0\n")
    (tmp_path / "Gap" / "Gap_TEST.tsv").write_text("1\t1.0\t2.0\t3.0\n")
    assert_clean_failure(run("--data-dir", str(tmp_path), "--band", "1", "Gap"), 1, "missing value")
    (tmp_path / "Gap" / "Gap_TRAIN.tsv").write_text("")
    assert_clean_failure(run("--data-dir", str(tmp_path), "--band", "1", "Gap"), 1, "no series")


# --------------------------------------------------------------------------------------------------
# Bad input: a one-line error and a non-zero exit, never a traceback


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["NoSuchSet"], 2, "unknown data set 'NoSuchSet'"),
        (["GunPoint", "NoSuchSet"], 2, "available: ArrowHead, Coffee, GunPoint, ItalyPowerDemand"),
        (["--band", "-1"], 2, "must be >= 0"),
        (["--band", "151", "GunPoint"], 2, "band 151 is larger than the series length 150"),
        (["--band", "wide"], 2, "expected 'learned', 'full' or a number of samples"),
        (["--band-pct", "101"], 2, "--band-pct"),
        (["--band", "3", "--band-pct", "5"], 2, "either --band or --band-pct"),
        (["--metric", "euclidean", "--band", "3"], 2, "apply only to --metric dtw"),
        (["--ef", "10"], 2, "apply only to --search graph"),
        (["--k", "0"], 2, "--k"),
        (["--k", "40", "ArrowHead"], 2, "k=40 is larger than the 36 training series"),
        (["--metric", "cosine"], 2, "--metric"),
        (["--data-dir", "/no/such/dir"], 2, "--data-dir"),
        (["--graph", "flat"], 2, "'flat' is not one of 'hnsw', 'nsw'"),
        # spellings removed in 0.2: the error names the new one
        (["--metric", "ed"], 2, "'ed' is not one of 'euclidean', 'dtw'"),
        (["--search", "nsw"], 2, "'nsw' is not one of 'graph', 'exact'"),
        (["--n-threads", "1"], 2, "No such option '--n-threads'. Did you mean '--threads'?"),
    ],
)
def test_bad_input(args: list[str], exit_code: int, message: str) -> None:
    assert_clean_failure(run(*args), exit_code, message)


def test_unwritable_out(tmp_path: Path) -> None:
    result = run("Coffee", "--out", str(tmp_path / "no" / "such" / "dir" / "out.txt"))
    assert_clean_failure(result, 1, "cannot write")


def test_exact_search_builds_no_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    # `bench ucr --search exact` (the default) stores the training series and scans them: a
    # build would raise here.
    from pyembed import Index

    def no_build(self: Index, **_: object) -> dict[str, int]:
        raise AssertionError("an exact bench built a graph")

    monkeypatch.setattr(Index, "build", no_build)
    results = json_results(run("--format", "json", "--band-pct", "10", "GunPoint"))
    assert results[0]["error"] is not None
    with pytest.raises(AssertionError, match="built a graph"):
        Index(4).build()


def _write_ts(path: Path, series: list[np.ndarray], labels: list[str]) -> None:
    """A .ts file of multichannel series (channels, length_i), aeon's format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = series[0].shape[0]
    equal = len({s.shape[1] for s in series}) == 1
    head = [
        f"@problemName {path.parent.name}",
        "@timeStamps false",
        "@missing false",
        f"@univariate {'true' if channels == 1 else 'false'}",
        f"@dimensions {channels}",
        f"@equalLength {'true' if equal else 'false'}",
        f"@classLabel true {' '.join(sorted(set(labels)))}",
        "@data",
    ]
    body = [
        ":".join(",".join(repr(float(v)) for v in channel) for channel in s) + f":{label}"
        for s, label in zip(series, labels, strict=True)
    ]
    path.write_text("\n".join(head + body) + "\n")


def _oracle_error(train, test, **index_args) -> float:
    """1-NN error by the index's own exact search, built directly (no CLI)."""
    index = Index(None if not train.equal_length else train.length, "dtw", **index_args)
    index.add(train.X)
    found = index.search(test.X, 1, exact=True)
    return float(np.mean(np.asarray(train.y)[found.ids[:, 0]] != np.asarray(test.y)))


def test_data_dir_multivariate_and_variable_length_sets(tmp_path: Path) -> None:
    from pyembed.datasets.ucr import load_pair

    rng = np.random.default_rng(3)
    for split, n in (("TRAIN", 16), ("TEST", 12)):
        labels = [str(i % 2) for i in range(n)]
        multi = [rng.normal(size=(3, 20)).cumsum(axis=1) + 3 * (i % 2) for i in range(n)]
        ragged = [rng.normal(size=(1, int(rng.integers(8, 30)))).cumsum(axis=1) for _ in range(n)]
        _write_ts(tmp_path / "Multi" / f"Multi_{split}.ts", multi, labels)
        _write_ts(tmp_path / "Ragged" / f"Ragged_{split}.ts", ragged, labels)
    result = run(
        "--data-dir", str(tmp_path), "--metric", "dtw", "--band-pct", "10", "--format", "json"
    )
    rows = json_results(result)
    assert [(r["name"], r["dependence"]) for r in rows] == [
        ("Multi", "dependent"),
        ("Multi", "independent"),
        ("Ragged", None),
    ]
    multi_train, multi_test = load_pair("Multi", tmp_path, znorm=True)
    for row in rows[:2]:
        assert row["channels"] == 3 and row["length"] == 20 and row["band"] == 2
        want = _oracle_error(
            multi_train, multi_test, band=2, channels=3, dependence=row["dependence"]
        )
        assert row["error"] == pytest.approx(want)
    ragged_train, ragged_test = load_pair("Ragged", tmp_path, znorm=True)
    lengths = ragged_train.lengths
    assert rows[2]["length"] == f"{lengths.min()}-{lengths.max()}" and rows[2]["band"] == "10%"
    assert rows[2]["error"] == pytest.approx(_oracle_error(ragged_train, ragged_test, window=0.1))
    # One form asked for: one row; Euclidean skips the variable-length set with the reason.
    one = json_results(
        run(
            "--data-dir",
            str(tmp_path),
            "Multi",
            "--band",
            "full",
            "--dependence",
            "independent",
            "--format",
            "json",
        )
    )
    assert [(r["dependence"], r["band"]) for r in one] == [("independent", None)]
    ed = run("--data-dir", str(tmp_path), "--metric", "euclidean", "--format", "json")
    assert "skipping Ragged: Ragged has series of" in ed.stderr
    assert [r["name"] for r in json_results(ed)] == ["Multi"]
    table = run("--data-dir", str(tmp_path), "--metric", "dtw", "--band", "full")
    assert table.exit_code == 0 and "dtw_form" in table.stdout and "independent" in table.stdout
