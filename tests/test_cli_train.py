"""`pyembed train faces|ucr`, `pyembed eval` and `pyembed query` through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("pyembed._nswg")

from click.testing import CliRunner  # noqa: E402

from pyembed.cli import main  # noqa: E402

TINY = [
    "--epochs", "2", "--growth-rate", "4", "--block-sizes", "1,1", "--embedding-dim", "8",
    "--n-identities", "3", "--n-per-identity", "3", "--n-batches", "2", "--threads", "2",
    "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def face_run(face_file, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "faces"
    args = [
        "train",
        "faces",
        "--data",
        str(face_file),
        "--run-dir",
        str(run_dir),
        "--test-identities",
        "2",
    ]
    result = CliRunner().invoke(main, [*args, *TINY, "--format", "json"])
    assert result.exit_code == 0, result.output
    return run_dir, json.loads(result.stdout)


def test_importing_the_cli_does_not_import_torch():
    code = "import sys, pyembed.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_train_faces_writes_the_run_directory(face_run):
    run_dir, summary = face_run
    assert {p.name for p in run_dir.iterdir()} == {
        "model.pt",
        "embeddings.npz",
        "index.nswg",
        "run.json",
    }
    assert (
        summary["epochs"] == 2
        and summary["test_identities"] == 2
        and summary["train_identities"] == 4
    )
    with np.load(run_dir / "embeddings.npz") as arrays:
        assert arrays["embeddings"].shape == (36, 8) and arrays["is_test"].sum() == 12
        assert np.array_equal(arrays["index_rows"], np.arange(36))
    from pyembed import Index

    assert len(Index.load(run_dir / "index.nswg")) == 36
    info = json.loads((run_dir / "run.json").read_text())
    assert info["kind"] == "faces" and len(info["history"]) == 2


def test_eval_faces_reports_learned_and_eigenfaces(face_run):
    run_dir, _ = face_run
    result = CliRunner().invoke(
        main, ["eval", str(run_dir), "--format", "json", "--pca-components", "5"]
    )
    assert result.exit_code == 0, result.output
    rows = {row["method"]: row for row in json.loads(result.stdout)["results"]}
    assert set(rows) == {"learned", "eigenfaces-5"}
    for row in rows.values():
        assert (
            row["n_queries"] == 12 and 0.0 <= row["recall@1"] <= 1.0 and 0.0 <= row["map@r"] <= 1.0
        )
    table = CliRunner().invoke(main, ["eval", str(run_dir)])
    assert table.exit_code == 0 and table.stdout.startswith(
        "# pyembed eval: toy, 2 held-out identities"
    )


def test_query_finds_each_indexed_image_first(face_run, face_file, tmp_path):
    run_dir, _ = face_run
    with np.load(face_file) as data:
        np.savez(tmp_path / "q.npz", images=data["images"][[0, 7, 30]])
    result = CliRunner().invoke(
        main,
        [
            "query",
            str(run_dir),
            str(tmp_path / "q.npz"),
            "-k",
            "3",
            "--search",
            "exact",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "query,rank,id,label,distance" and len(lines) == 1 + 9
    firsts = [line.split(",") for line in lines[1:] if line.split(",")[1] == "1"]
    assert [int(f[2]) for f in firsts] == [0, 7, 30]
    assert all(float(f[4]) < 1e-3 for f in firsts)


def test_query_graph_search_and_long_k(face_run, face_file, tmp_path):
    run_dir, _ = face_run
    with np.load(face_file) as data:
        np.savez(tmp_path / "q.npz", images=data["images"][[3]])
    result = CliRunner().invoke(
        main,
        [
            "query",
            str(run_dir),
            str(tmp_path / "q.npz"),
            "--k",
            "2",
            "--ef",
            "8",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [row["rank"] for row in rows] == [1, 2] and rows[0]["id"] == 3


def test_eval_faces_graph_search(face_run):
    run_dir, _ = face_run
    result = CliRunner().invoke(
        main,
        ["eval", str(run_dir), "--search", "graph", "--graph", "nsw", "--ef", "16",
         "--pca-components", "5", "--threads", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith("leave-one-out, nsw graph search")


def test_train_graph_option_builds_that_index(face_file, tmp_path):
    from pyembed import Index

    run_dir = tmp_path / "nsw"
    args = ["train", "faces", "--data", str(face_file), "--run-dir", str(run_dir)]
    result = CliRunner().invoke(
        main, [*args, "--test-identities", "2", *TINY, "--graph", "nsw", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert Index.load(run_dir / "index.nswg").graph == "nsw"
    assert json.loads((run_dir / "run.json").read_text())["index"] == {"graph": "nsw", "seed": 3}


def test_query_rejects_wrong_image_size(face_run, tmp_path):
    run_dir, _ = face_run
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 8, 8), np.uint8))
    result = CliRunner().invoke(main, ["query", str(run_dir), str(tmp_path / "bad.npz")])
    assert result.exit_code == 1 and "shape (n, 16, 16)" in result.output


def test_existing_run_needs_resume_and_resume_continues(face_file, tmp_path):
    run_dir = tmp_path / "r"
    args = [
        "train",
        "faces",
        "--data",
        str(face_file),
        "--run-dir",
        str(run_dir),
        "--test-identities",
        "2",
        *TINY,
    ]
    assert CliRunner().invoke(main, args).exit_code == 0
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "--resume" in again.output
    more = [a if a != "2" or i != TINY.index("--epochs") + 1 else "3" for i, a in enumerate(TINY)]
    base = [
        "train",
        "faces",
        "--data",
        str(face_file),
        "--run-dir",
        str(run_dir),
        "--test-identities",
        "2",
    ]
    resumed = CliRunner().invoke(main, [*base, *more, "--resume", "--format", "json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["epochs"] == 3
    changed = CliRunner().invoke(main, [*base, *more, "--resume", "--loss", "contrastive"])
    assert changed.exit_code == 1 and "objective differs" in changed.output


def test_train_ucr_eval_and_query_on_bundled_data(tmp_path):
    run_dir = tmp_path / "ucr"
    args = ["train", "ucr", "ItalyPowerDemand", "--run-dir", str(run_dir), *TINY]
    result = CliRunner().invoke(main, [*args, "--n-identities", "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["train_series"] == 67 and summary["length"] == 24
    evaluated = CliRunner().invoke(main, ["eval", str(run_dir), "--format", "json"])
    assert evaluated.exit_code == 0, evaluated.output
    rows = {row["method"]: row for row in json.loads(evaluated.stdout)["results"]}
    assert set(rows) == {"learned", "dtw-full"}
    assert rows["dtw-full"]["one_nn_error"] == pytest.approx(
        0.0496, abs=1e-3
    )  # the archive's full DTW
    test_file = (
        resources.files("pyembed")
        / "data"
        / "ucr"
        / "ItalyPowerDemand"
        / "ItalyPowerDemand_TEST.ts"
    )
    with resources.as_file(test_file) as path:
        queried = CliRunner().invoke(
            main, ["query", str(run_dir), str(path), "-k", "1", "--format", "json"]
        )
    assert queried.exit_code == 0, queried.output
    assert len(json.loads(queried.stdout)["results"]) == 1029


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["train", "faces", "--run-dir", "x"], 2, "Missing option '--data'"),
        (
            ["train", "ucr", "Nope", "--run-dir", "{tmp}/u", "--no-progress"],
            1,
            "unknown UCR data set",
        ),
        (
            ["train", "faces", "--data", "{face}", "--run-dir", "{tmp}/f", "--block-sizes", "3,x"],
            2,
            "comma-separated",
        ),
        (
            [
                "train",
                "faces",
                "--data",
                "{face}",
                "--run-dir",
                "{tmp}/f",
                "--loss",
                "center",
                "--miner",
                "hard",
            ],
            2,
            "no miner",
        ),
        (["eval", "{tmp}"], 1, "not a run directory"),
        # spellings removed in 0.2: the error names the new one
        (["eval", "{tmp}", "--search", "nsw"], 2, "'nsw' is not one of 'graph', 'exact'"),
        (["eval", "{tmp}", "--ef", "8"], 2, "--ef applies only to --search graph"),
        (
            ["query", "{tmp}", "{face}", "--exact"],
            2,
            "No such option '--exact'. Did you mean '--search'?",
        ),
        (["query", "{tmp}", "{face}", "--search", "exact", "--ef", "3"], 2, "--ef applies only"),
        (
            ["train", "faces", "--data", "{face}", "--run-dir", "{tmp}/f", "--graph", "flat"],
            2,
            "'flat' is not one of 'hnsw', 'nsw'",
        ),
    ],
)
def test_user_errors_are_one_line(args, code, message, face_file, tmp_path):
    filled = [a.format(tmp=tmp_path, face=face_file) for a in args]
    result = CliRunner().invoke(main, filled)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_face_file_is_a_click_error(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"nope")
    result = CliRunner().invoke(
        main,
        ["train", "faces", "--data", str(tmp_path / "bad.npz"), "--run-dir", str(tmp_path / "r")],
    )
    assert result.exit_code == 1 and "not a readable .npz archive" in result.output


# --------------------------------------------------------------------------------------------------
# The run directory layout (pyembed.train.run_dir)


def test_prepare_run_dir(tmp_path):
    from pyembed.train.run_dir import MODEL_FILE, prepare_run_dir

    run_dir = tmp_path / "new" / "run"
    assert prepare_run_dir(run_dir, resume=False, overwrite=False) == run_dir / MODEL_FILE
    assert run_dir.is_dir()
    with pytest.raises(FileNotFoundError) as missing:
        prepare_run_dir(run_dir, resume=True, overwrite=False)
    assert missing.value.filename == str(run_dir / MODEL_FILE)
    (run_dir / MODEL_FILE).write_bytes(b"")
    with pytest.raises(FileExistsError) as exists:
        prepare_run_dir(run_dir, resume=False, overwrite=False)
    assert exists.value.filename == str(run_dir / MODEL_FILE)
    assert prepare_run_dir(run_dir, resume=True, overwrite=False) == run_dir / MODEL_FILE
    assert prepare_run_dir(run_dir, resume=False, overwrite=True) == run_dir / MODEL_FILE
    with pytest.raises(ValueError, match="exclude each other"):
        prepare_run_dir(run_dir, resume=True, overwrite=True)


def test_load_run_reads_back_what_training_wrote(face_run, tmp_path):
    from pyembed.train.run_dir import load_index, load_run

    run_dir, _ = face_run
    run = load_run(run_dir)
    assert run.kind == "faces" and run.path == run_dir
    assert set(run.arrays) == {"embeddings", "labels", "label_names", "is_test", "index_rows"}
    assert "model" in run.state and run.metadata["model"]["class"] == "DenseNetEmbedding"
    assert len(load_index(run_dir)) == run.arrays["embeddings"].shape[0]
    with pytest.raises(FileNotFoundError, match="model.pt is missing"):
        load_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="has no index file"):
        load_index(tmp_path)
