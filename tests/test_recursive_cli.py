"""`pyembed train ucr --model recursive-ae|neural-grammar` end to end on bundled GunPoint: the run
directory holds what eval and query read, its embeddings are the saved model's, trees.json holds
each series' parse, eval's 1-NN error equals one computed here, and options that do not apply
are refused (CPU, a few seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from pyembed.cli import main  # noqa: E402
from pyembed.datasets.ucr import load_pair  # noqa: E402
from pyembed.nn.recursive import MergeTree, NeuralGrammar, RecursiveAutoencoder  # noqa: E402
from pyembed.train import embed, series_tensor  # noqa: E402
from pyembed.train.run_dir import load_model, load_run  # noqa: E402


def _train(tmp_path, model: str, *extra: str):
    run_dir = tmp_path / model
    args = ["train", "ucr", "GunPoint", "--model", model, "--run-dir", str(run_dir)]
    args += ["--epochs", "2", "--n-batches", "3", "--no-progress", "--format", "json", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return run_dir, json.loads(result.output)


@pytest.mark.parametrize(
    ("model", "cls"), [("recursive-ae", RecursiveAutoencoder), ("neural-grammar", NeuralGrammar)]
)
def test_train_writes_a_run_that_eval_and_query_read(tmp_path, model, cls):
    run_dir, summary = _train(tmp_path, model, "--frame-width", "10", "--pool", "root")
    assert summary["model"] == model and summary["frame_width"] == 10
    assert summary["embedding_dim"] == 10 and summary["epochs"] == 2
    run = load_run(run_dir)
    network = load_model(run)
    assert isinstance(network, cls) and network.pool == "root"
    train, test = load_pair("GunPoint", znorm=True)
    series = np.concatenate([train.X, test.X]).astype(np.float32)
    # the saved embeddings are the saved model's (the model round-trips through the checkpoint)
    np.testing.assert_allclose(
        run.arrays["embeddings"], embed(network, series_tensor(series)), rtol=1e-5, atol=1e-6
    )
    # eval's 1-NN error of the learned embedding, recomputed by brute force
    e = run.arrays["embeddings"]
    e_train, e_test = e[: train.n].astype(np.float64), e[train.n :].astype(np.float64)
    nearest = ((e_test[:, None, :] - e_train[None]) ** 2).sum(axis=2).argmin(axis=1)
    labels = run.arrays["labels"]
    want = float(np.mean(labels[:50][nearest] != labels[50:]))
    result = CliRunner().invoke(main, ["eval", str(run_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]
    learned = next(r for r in rows if r["method"] == "learned")
    assert learned["one_nn_error"] == pytest.approx(want, abs=1e-12)
    # trees.json: one tree per series, the model's greedy parse
    trees = json.loads((run_dir / "trees.json").read_text())
    assert trees["frame_width"] == 10 and len(trees["series"]) == series.shape[0]
    with torch.no_grad():
        parse = network.parse_series(torch.from_numpy(series[:3]))
    for i in range(3):
        saved = MergeTree.from_dict(trees["series"][i])
        assert saved.n_leaves == 15
        assert saved.children.tolist() == parse.tree(i).children.tolist()
    # a query of TEST series finds the TRAIN rows nearest to their embeddings
    queries = tmp_path / "q.tsv"
    np.savetxt(queries, np.c_[test.y[:4].astype(float), test.X[:4]], delimiter="\t")
    found = CliRunner().invoke(
        main, ["query", str(run_dir), str(queries), "-k", "1", "--format", "json"]
    )
    assert found.exit_code == 0, found.output
    ids = [r["id"] for r in json.loads(found.output)["results"]]
    assert ids == nearest[:4].tolist()


def test_grammar_summary_reports_its_merge_accuracy_and_default_frame_width(tmp_path):
    _, summary = _train(tmp_path, "neural-grammar")
    assert summary["frame_width"] == 150 // 16  # default_frame_width(150)
    assert 0.0 <= summary["merge_accuracy"] <= 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "recursive-ae", "--loss", "center"], "--loss: does not apply to --model"),
        (["--model", "neural-grammar", "--growth-rate", "4"], "--growth-rate: does not apply"),
        (["--model", "recursive-ae", "--noise-std", "0.1"], "--noise-std: does not apply"),
        (["--model", "recursive-ae", "--resume"], "--resume"),
        (["--model", "recursive-ae", "--frame-width", "151"], "at most the series length 150"),
        (["--pool", "root"], "--pool: applies to --model recursive-ae or neural-grammar only"),
        (["--frame-width", "8"], "--frame-width: applies to --model recursive-ae"),
    ],
)
def test_options_that_do_not_apply_are_refused(tmp_path, args, message):
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["train", "ucr", "GunPoint", "--run-dir", str(run_dir), "--epochs", "1", *args]
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_faces_refuse_the_series_models(tmp_path, face_arrays):
    images, labels = face_arrays
    path = tmp_path / "faces.npz"
    np.savez(path, images=images[:20], labels=labels[:20].astype(np.int16))
    result = CliRunner().invoke(
        main,
        ["train", "faces", "--data", str(path), "--run-dir", str(tmp_path / "r")]
        + ["--model", "neural-grammar"],
    )
    assert result.exit_code == 2
    assert "is a model of series" in result.output
