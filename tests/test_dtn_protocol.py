"""The DTN protocol end to end on a tiny face file: `pyembed train dtn` writes a run directory,
`pyembed eval` re-scores the saved models to the same numbers, and the training history shows the
per-leaf counts (CPU, a few seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from pyembed.cli import main  # noqa: E402
from pyembed.datasets.spoof import make_spoof_set  # noqa: E402
from pyembed.train.dtn import DTNConfig, evaluate_run, run_protocol, train_dtn  # noqa: E402

TINY = {
    "width": 4,
    "depth": 2,
    "leaf_hidden": 8,
    "steps": 6,
    "warmup_steps": 2,
    "batch_size": 12,
    "log_every": 3,
}


@pytest.fixture(scope="module")
def tiny_faces(tmp_path_factory, face_arrays):
    """8 Olivetti identities, 3 images each, as a face .npz."""
    images, labels = face_arrays
    keep = np.concatenate([np.flatnonzero(labels == i)[:3] for i in range(8)])
    path = tmp_path_factory.mktemp("faces") / "tiny.npz"
    np.savez(path, images=images[keep], labels=labels[keep].astype(np.int16))
    return path


def test_train_history_counts_every_spoof_sample_at_one_leaf(face_arrays):
    images, labels = face_arrays
    data = make_spoof_set(images[:12], labels[:12], size=32, seed=1)
    config = DTNConfig(**TINY)
    model, history = train_dtn(data, np.arange(data.n), config)
    assert [h["step"] for h in history] == [3, 6]
    for record in history:
        assert len(record["leaf_spoof_counts"]) == 4
        assert sum(record["leaf_spoof_counts"]) == 3 * config.n_spoof
        assert all(np.isfinite(record[k]) for k in ("total", "map", "cls", "route", "unique"))
    assert not model.training


def test_alternating_schedule_freezes_one_group_per_phase(face_arrays):
    images, labels = face_arrays
    data = make_spoof_set(images[:12], labels[:12], size=32, seed=1)
    base = {**TINY, "steps": 3, "warmup_steps": 2, "alternate": 1}
    config = DTNConfig(**base)
    torch.manual_seed(config.seed)
    before = config.build_dtn(32).state_dict()
    model, _ = train_dtn(data, np.arange(data.n), DTNConfig(**{**base, "steps": 2}))
    after_warmup = model.state_dict()
    model3, _ = train_dtn(data, np.arange(data.n), config)
    after = model3.state_dict()
    v = "trus.0.v"
    # the warm-up never moves a routing vector; the first alternating step (phase 0) does
    assert torch.equal(before[v], after_warmup[v])
    assert not torch.equal(after_warmup[v], after[v])
    # ... and leaves the rest as the warm-up left it
    stem = "stem.0.weight"
    assert torch.equal(after_warmup[stem], after[stem])


def test_cli_train_then_eval_gives_the_same_table(tiny_faces, tmp_path):
    run_dir = tmp_path / "run"
    args = [
        "train",
        "dtn",
        "--data",
        str(tiny_faces),
        "--run-dir",
        str(run_dir),
        "--attacks",
        "print,partial",
        "--steps",
        "6",
        "--warmup-steps",
        "2",
        "--width",
        "4",
        "--depth",
        "2",
        "--batch-size",
        "12",
        "--format",
        "json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    trained = json.loads(result.output)
    assert [f["held_out"] for f in trained["folds"]] == ["print", "partial"]
    for name in ("print", "partial"):
        assert (run_dir / "folds" / f"{name}.pt").is_file()
    evaluated = CliRunner().invoke(main, ["eval", str(run_dir), "--format", "json"])
    assert evaluated.exit_code == 0, evaluated.output
    again = json.loads(evaluated.output)
    for a, b in zip(trained["folds"], again["folds"], strict=True):
        for method, values in a["methods"].items():
            for key, value in values.items():
                assert b["methods"][method][key] == pytest.approx(value, abs=1e-9), (method, key)
        assert a["unseen_nearest_known"] == b["unseen_nearest_known"]
        assert a["seen_attack_1nn_accuracy"] == b["seen_attack_1nn_accuracy"]
        # the unseen attack lands only among the attacks seen in training
        assert a["held_out"] not in a["unseen_nearest_known"]
        assert sum(a["unseen_nearest_known"].values()) == pytest.approx(1.0)
    table = CliRunner().invoke(main, ["eval", str(run_dir)])
    assert table.exit_code == 0, table.output
    for word in ("dtn-map", "cnn", "stats-logreg", "mean +- std", "APCER".lower()):
        assert word in table.output
    # a second train into the same directory is refused without --overwrite
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and "--overwrite" in refused.output


def test_protocol_metrics_are_fractions_and_folds_identity_disjoint(tiny_faces, tmp_path):
    config = DTNConfig(**TINY)
    doc = run_protocol(tiny_faces, tmp_path / "r", config, attacks=("replay",))
    (fold,) = doc["folds"]
    for values in fold["methods"].values():
        for key in ("auc", "eer", "apcer", "bpcer", "acer"):
            assert 0.0 <= values[key] <= 1.0
        assert values["acer"] == pytest.approx((values["apcer"] + values["bpcer"]) / 2)
    again = evaluate_run(tmp_path / "r")["folds"][0]["methods"]
    for method, values in fold["methods"].items():
        for key, value in values.items():
            assert again[method][key] == pytest.approx(value, abs=1e-9), (method, key)


def test_cli_rejects_bad_options(tiny_faces, tmp_path):
    base = ["train", "dtn", "--data", str(tiny_faces), "--run-dir", str(tmp_path / "x")]
    result = CliRunner().invoke(main, [*base, "--steps", "3", "--warmup-steps", "5"])
    assert result.exit_code == 2 and "--warmup-steps" in result.output
    result = CliRunner().invoke(
        main,
        [
            *base,
            "--attacks",
            "print,laser",
            "--steps",
            "2",
            "--warmup-steps",
            "1",
            "--width",
            "2",
            "--depth",
            "1",
        ],
    )
    assert result.exit_code == 1 and "laser" in result.output
    result = CliRunner().invoke(main, [*base, "--batch-size", "3", "--spoof-fraction", "0.9"])
    assert result.exit_code == 2 and "spoof" in result.output
