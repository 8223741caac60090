"""`pyembed train faces|ucr --model dcnet`, and `pyembed eval` / `query` of the runs."""

from __future__ import annotations

import json
from typing import get_args

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pyembed._nswg")

from click.testing import CliRunner  # noqa: E402

from pyembed.cli import main  # noqa: E402

TINY = [
    "--epochs", "2", "--growth-rate", "4", "--block-sizes", "1,1", "--embedding-dim", "8",
    "--n-identities", "3", "--n-per-identity", "3", "--n-batches", "2", "--threads", "2",
    "--no-progress",
]  # fmt: skip


def _faces(face_file, run_dir, *extra):
    args = ["train", "faces", "--data", str(face_file), "--run-dir", str(run_dir)]
    return CliRunner().invoke(main, [*args, "--test-identities", "2", *TINY, *extra])


DCNET = [
    "--model", "dcnet", "--magnitude", "linear", "--angular", "square-cosine",
    "--weighting", "nonlinear-joint", "--weighted-gradients", "--no-batch-norm",
    "--weight-projection", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def dcnet_run(face_file, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "dcnet"
    result = _faces(face_file, run_dir, *DCNET, "--format", "json")
    assert result.exit_code == 0, result.output
    return run_dir


def test_dcnet_run_stores_its_model_spec_and_projection(dcnet_run):
    info = json.loads((dcnet_run / "run.json").read_text())
    assert info["model"] == {
        "class": "DecoupledDenseNetEmbedding",
        "kwargs": {
            "in_channels": 1,
            "embedding_dim": 8,
            "growth_rate": 4,
            "block_sizes": [1, 1],
            "compression": 0.5,
            "stem_stride": 2,
            "normalize": True,
            "magnitude": "linear",
            "angular": "square_cosine",
            "weighting": "nonlinear_joint",
            "weighted_gradients": True,
            "batch_norm": False,
        },
    }
    assert info["config"]["weight_projection"] == 2.0


def test_dcnet_checkpoint_rebuilds_with_projected_kernels(dcnet_run):
    from pyembed.nn import DecoupledConv2d, DecoupledDenseNetEmbedding
    from pyembed.train.run_dir import load_model, load_run

    model = load_model(load_run(dcnet_run))
    assert isinstance(model, DecoupledDenseNetEmbedding)
    convs = [m for m in model.modules() if isinstance(m, DecoupledConv2d)]
    assert len(convs) == 1 + 2 * 2 + 1
    for conv in convs:  # projected after the last step, to --weight-projection 2
        norms = conv.weight.detach().flatten(1).norm(dim=1)
        assert torch.allclose(norms, torch.full_like(norms, 2.0), atol=1e-5)
    assert {c.operator.magnitude_kind for c in convs} == {"linear"}
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_dcnet_run_evaluates_and_queries(dcnet_run, face_file, tmp_path):
    evaluated = CliRunner().invoke(
        main, ["eval", str(dcnet_run), "--format", "json", "--pca-components", "5"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    rows = {row["method"]: row for row in json.loads(evaluated.stdout)["results"]}
    assert rows["learned"]["n_queries"] == 12
    with np.load(face_file) as data:
        np.savez(tmp_path / "q.npz", images=data["images"][[0, 7, 30]])
    queried = CliRunner().invoke(
        main,
        ["query", str(dcnet_run), str(tmp_path / "q.npz"), "-k", "1", "--search", "exact"]
        + ["--format", "json"],
    )
    assert queried.exit_code == 0, queried.output
    results = json.loads(queried.stdout)["results"]
    # the rebuilt DCNet embeds the indexed images where training put them: each finds itself
    assert [r["id"] for r in results] == [0, 7, 30]
    assert all(r["distance"] < 1e-4 for r in results)


def test_default_model_spec_is_the_old_densenet_one(face_file, tmp_path):
    result = _faces(face_file, tmp_path / "d")
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "d" / "run.json").read_text())
    assert info["model"]["class"] == "DenseNetEmbedding"
    assert set(info["model"]["kwargs"]) == {
        "in_channels",
        "embedding_dim",
        "growth_rate",
        "block_sizes",
        "compression",
        "stem_stride",
        "normalize",
    }
    assert info["config"]["weight_projection"] is None


def test_dcnet_defaults_and_resume_checks_the_operator(face_file, tmp_path):
    run_dir = tmp_path / "r"
    assert _faces(face_file, run_dir, "--model", "dcnet").exit_code == 0
    info = json.loads((run_dir / "run.json").read_text())
    kwargs = info["model"]["kwargs"]
    assert (kwargs["magnitude"], kwargs["angular"], kwargs["weighting"]) == (
        "tanh",
        "cosine",
        "none",
    )
    assert kwargs["weighted_gradients"] is False and kwargs["batch_norm"] is True
    changed = _faces(face_file, run_dir, "--model", "dcnet", "--magnitude", "ball", "--resume")
    assert changed.exit_code == 1 and "model differs" in changed.output


def test_train_ucr_dcnet(tmp_path):
    run_dir = tmp_path / "ucr"
    args = ["train", "ucr", "ItalyPowerDemand", "--run-dir", str(run_dir), *TINY]
    result = CliRunner().invoke(
        main,
        [*args, "--n-identities", "2", "--model", "dcnet", "--angular", "sigmoid"]
        + ["--weight-projection", "1", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    info = json.loads((run_dir / "run.json").read_text())
    assert info["model"]["class"] == "DecoupledTimeSeriesEmbedding"
    assert info["model"]["kwargs"]["angular"] == "sigmoid"
    evaluated = CliRunner().invoke(main, ["eval", str(run_dir), "--format", "json"])
    assert evaluated.exit_code == 0, evaluated.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--magnitude", "tanh"], "--magnitude: applies only to --model dcnet"),
        (["--weight-projection", "1"], "--weight-projection: applies only to --model dcnet"),
        (["--no-batch-norm"], "--batch-norm: applies only to --model dcnet"),
        (["--weighted-gradients"], "--weighted-gradients: applies only to --model dcnet"),
        (["--model", "dcnet", "--weight-projection", "0"], "0.0 is not in the range x>0.0"),
        (["--model", "dcnet", "--magnitude", "cube"], "'cube' is not one of"),
        (["--model", "resnet"], "'resnet' is not one of 'densenet', 'dcnet'"),
    ],
)
def test_dcnet_option_errors(extra, message, face_file, tmp_path):
    result = _faces(face_file, tmp_path / "e", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "e" / "model.pt").exists()


def test_cli_operator_names_are_the_library_ones():
    import importlib

    cli_train = importlib.import_module("pyembed.cli.train")  # the attribute is the click group
    from pyembed.nn.dcnet.operator import Angular, Magnitude, Weighting

    for cli_names, literal in (
        (cli_train._DCNET_MAGNITUDES, Magnitude),
        (cli_train._DCNET_ANGULARS, Angular),
        (cli_train._DCNET_WEIGHTINGS, Weighting),
    ):
        assert tuple(name.replace("-", "_") for name in cli_names) == get_args(literal)
    from pyembed.train.recipes import _MODELS

    assert set(cli_train._DCNET_CLASSES) | set(cli_train._DCNET_CLASSES.values()) <= set(_MODELS)
