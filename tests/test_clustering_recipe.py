"""The clustering recipe (issue 17, part 4): ClusterHeadLoss, build_objective("clustering"), the
label-free batches and ``pyembed train ucr NAME --loss clustering`` end to end with
``pyembed eval``.

The loss is the entropy clustering loss of Jensen et al. (ICASSP 2020; ``shared/seeds/
003_3042a7c4522cd3ea.txt``, lines 7-8 and 16-22): ``mean_i H(p_i) - gamma * H(mean_i p_i)``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pyembed.losses.clustering import ClusterHeadLoss  # noqa: E402
from pyembed.train import build_objective  # noqa: E402
from pyembed.train.recipes import label_free_groups  # noqa: E402


def _identity_head(gamma):
    loss = ClusterHeadLoss(2, 2, gamma=gamma).double()
    with torch.no_grad():
        loss.head.weight.copy_(torch.eye(2, dtype=torch.float64))
        loss.head.bias.zero_()
    return loss


# -- ClusterHeadLoss -----------------------------------------------------------------------------


def test_cluster_head_loss_hand_value():
    # head = identity, embeddings (ln 3, 0) and (0, ln 3): p_1 = (3/4, 1/4), p_2 = (1/4, 3/4)
    # H(p_i) = -(3/4 ln 3/4 + 1/4 ln 1/4) = ln 4 - (3/4) ln 3 for both;
    # mean p = (1/2, 1/2), H = ln 2
    # gamma = 2: L = ln 4 - (3/4) ln 3 - 2 ln 2 = -(3/4) ln 3 = -0.82395922...
    loss = _identity_head(2.0)
    x = torch.tensor([[math.log(3.0), 0.0], [0.0, math.log(3.0)]], dtype=torch.float64)
    value = loss(x)
    assert value.item() == pytest.approx(-0.75 * math.log(3.0), abs=1e-12)
    assert loss.last_stats["sample_entropy"] == pytest.approx(math.log(4) - 0.75 * math.log(3))
    assert loss.last_stats["batch_entropy"] == pytest.approx(math.log(2))
    assert loss.last_stats["clusters_used"] == 2.0
    assert loss.assign(x).tolist() == [0, 1]
    # one cluster for both samples: (ln 3, 0) twice gives H(p_i) as above and mean p = p_1, so
    # L = (ln 4 - (3/4) ln 3) * (1 - gamma) = -(ln 4 - (3/4) ln 3) at gamma 2; one cluster used
    same = loss(x[[0, 0]])
    assert same.item() == pytest.approx(-(math.log(4) - 0.75 * math.log(3)), abs=1e-12)
    assert loss.last_stats["clusters_used"] == 1.0


def test_cluster_head_loss_ignores_labels_and_trains_the_head():
    loss = _identity_head(1.0)
    x = torch.tensor([[0.3, -0.2], [1.0, 0.5], [-0.4, 0.9]], dtype=torch.float64)
    a = loss(x, torch.tensor([0, 0, 0])).item()
    b = loss(x, torch.tensor([2, 1, 0])).item()
    assert a == b == loss(x).item()
    assert {name for name, _ in loss.named_parameters()} == {"head.weight", "head.bias"}
    x.requires_grad_(True)
    loss(x).backward()
    assert loss.head.weight.grad is not None and x.grad is not None
    assert torch.autograd.gradcheck(lambda e: loss(e), (x,))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dim": 0, "n_clusters": 2}, "dim must be >= 1, got 0"),
        ({"dim": 2, "n_clusters": 1}, "n_clusters must be >= 2, got 1"),
        (
            {"dim": 2, "n_clusters": 2, "gamma": -0.5},
            "gamma must be a finite number >= 0, got -0.5",
        ),
        ({"dim": 2, "n_clusters": 2, "gamma": float("inf")}, "gamma must be a finite number"),
    ],
)
def test_cluster_head_loss_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClusterHeadLoss(**kwargs)


def test_cluster_head_loss_bad_inputs():
    loss = ClusterHeadLoss(3, 2)
    with pytest.raises(ValueError, match=r"embeddings must have shape \(n, 3\), got \(2, 4\)"):
        loss(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="indices must be None"):
        loss(torch.zeros(2, 3), None, object())  # type: ignore[arg-type]


def test_build_objective_clustering():
    loss, miner = build_objective(
        "clustering", embedding_dim=5, n_classes=3, n_clusters=4, clustering_gamma=0.5
    )
    assert miner is None and isinstance(loss, ClusterHeadLoss)
    assert (loss.dim, loss.n_clusters, loss.gamma) == (5, 4, 0.5)
    with pytest.raises(ValueError, match="n_clusters is required"):
        build_objective("clustering", embedding_dim=5, n_classes=3)
    with pytest.raises(ValueError, match="uses no miner"):
        build_objective("clustering", embedding_dim=5, n_classes=3, n_clusters=2, miner="hard")


# -- label-free batches ----------------------------------------------------------------------------


def test_label_free_groups_sizes_and_seed():
    # 28 rows, K = 4, P = 8: min(8, 28 // 4) = 7 groups of exactly 4 rows
    groups = label_free_groups(28, 4, 8, seed=0)
    assert groups.dtype == torch.int64 and np.bincount(groups.numpy()).tolist() == [4] * 7
    # 10 rows, K = 4: max(2, min(8, 10 // 4)) = 2 groups of 5
    assert np.bincount(label_free_groups(10, 4, 8, seed=0).numpy()).tolist() == [5, 5]
    # 100 rows, K = 4, P = 8: 8 groups, sizes 13 (4 of them) and 12 (the other 4)
    assert sorted(np.bincount(label_free_groups(100, 4, 8, seed=0).numpy())) == [12] * 4 + [13] * 4
    assert torch.equal(label_free_groups(28, 4, 8, seed=3), label_free_groups(28, 4, 8, seed=3))
    assert not torch.equal(label_free_groups(28, 4, 8, seed=3), label_free_groups(28, 4, 8, seed=4))
    with pytest.raises(ValueError, match="n must be >= 4"):
        label_free_groups(3, 2, 2, seed=0)
    with pytest.raises(ValueError, match="n_per_group and n_groups must be >= 2"):
        label_free_groups(10, 1, 2, seed=0)


# -- the CLI -------------------------------------------------------------------------------------

TINY = [
    "--epochs", "2", "--growth-rate", "4", "--block-sizes", "1", "--embedding-dim", "4",
    "--n-identities", "2", "--n-per-identity", "3", "--n-batches", "2", "--threads", "1",
    "--no-progress",
]  # fmt: skip


def _invoke(*args):
    from click.testing import CliRunner

    from pyembed.cli import main

    return CliRunner().invoke(main, list(args))


def _write_toy(root, labels, seed=0):
    """An archive-like Toy/Toy_TRAIN.tsv + Toy_TEST.tsv: 12 + 6 series of length 16, 2 shapes."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, 16)
    shapes = np.stack([np.sin(t), np.sign(np.sin(t))])
    truth = np.array([0, 1] * 9)
    series = shapes[truth] + 0.1 * rng.standard_normal((18, 16))
    folder = root / "Toy"
    folder.mkdir(parents=True)
    for split, rows, names in (
        ("TRAIN", slice(0, 12), labels),
        ("TEST", slice(12, 18), truth[12:] + 1),
    ):
        lines = [
            "\t".join([str(name), *(f"{v:.6f}" for v in x)])
            for name, x in zip(names, series[rows], strict=True)
        ]
        (folder / f"Toy_{split}.tsv").write_text("\n".join(lines) + "\n")
    return root


def test_cli_clustering_runs_end_to_end_and_eval_reads_the_run(tmp_path):
    pytest.importorskip("pyembed._nswg")
    from pyembed.train import load_checkpoint
    from pyembed.train.run_dir import load_run

    run_dir = tmp_path / "clu"
    args = ["train", "ucr", "Coffee", "--run-dir", str(run_dir), *TINY]
    trained = _invoke(*args, "--loss", "clustering", "--n-clusters", "3", "--format", "json")
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert summary["loss"] == "clustering" and summary["epochs"] == 2
    info = json.loads((run_dir / "run.json").read_text())
    assert info["objective"] == {
        "loss": "clustering",
        "miner": None,
        "margin": None,
        "center_weight": 0.5,
        "center_alpha": 0.9,
        "center_update": "mean",
        "n_clusters": 3,
        "clustering_gamma": 1.0,
    }
    assert {"sample_entropy", "batch_entropy", "clusters_used"} <= set(info["history"][-1])
    assert info["model"]["kwargs"]["normalize"] is True
    # the checkpoint holds the cluster head, which rebuilds from the objective
    state = load_checkpoint(run_dir / "model.pt")
    assert state["loss"]["head.weight"].shape == (3, 4)
    head, _ = build_objective(
        "clustering", embedding_dim=4, n_classes=2, n_clusters=3, clustering_gamma=1.0
    )
    head.load_state_dict(state["loss"])
    run = load_run(run_dir)
    assigned = head.assign(torch.from_numpy(run.arrays["embeddings"]))
    assert assigned.shape == (56,) and set(assigned.tolist()) <= {0, 1, 2}

    evaluated = _invoke("eval", str(run_dir), "--format", "json")
    assert evaluated.exit_code == 0, evaluated.output
    rows = {row["method"]: row for row in json.loads(evaluated.stdout)["results"]}
    assert set(rows) == {"learned", "dtw-full"}
    assert rows["learned"]["n_queries"] == 28 and rows["learned"]["dim"] == 4
    assert 0.0 <= rows["learned"]["one_nn_error"] <= 1.0
    assert rows["dtw-full"]["one_nn_error"] == 0.0  # the archive's full-DTW error on Coffee

    more = [a if a != "2" or i != TINY.index("--epochs") + 1 else "3" for i, a in enumerate(TINY)]
    base = ["train", "ucr", "Coffee", "--run-dir", str(run_dir)]
    resumed = _invoke(*base, *more, "--loss", "clustering", "--n-clusters", "3", "--resume")
    assert resumed.exit_code == 0, resumed.output
    changed = _invoke(
        *base, *more, "--loss", "clustering", "--n-clusters", "3", "--clustering-gamma", "2",
        "--resume",
    )  # fmt: skip
    assert changed.exit_code == 1 and "objective differs" in changed.output
    assert "'clustering_gamma': 1.0" in changed.output


def test_cli_clustering_never_reads_the_training_labels(tmp_path):
    """Relabelling TRAIN at random leaves every trained weight and embedding unchanged (with the
    real labels steering the P x K batches this fails: batches would follow the classes)."""
    pytest.importorskip("pyembed._nswg")
    truth = np.array([0, 1] * 6) + 1
    scrambled = np.random.default_rng(5).permutation(np.array([1, 2, 3] * 4))
    results = []
    for name, labels in (("truth", truth), ("scrambled", scrambled)):
        root = _write_toy(tmp_path / name, labels)
        run_dir = tmp_path / f"run-{name}"
        result = _invoke(
            "train", "ucr", "Toy", "--data-dir", str(root), "--run-dir", str(run_dir), *TINY,
            "--loss", "clustering", "--n-clusters", "2", "--no-znorm",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        with np.load(run_dir / "embeddings.npz") as arrays:
            results.append((arrays["embeddings"].copy(), arrays["labels"].copy()))
    (truth_embeddings, truth_codes), (scrambled_embeddings, scrambled_codes) = results
    assert not np.array_equal(truth_codes[:12], scrambled_codes[:12])  # the labels did differ
    assert np.array_equal(truth_embeddings, scrambled_embeddings)


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--loss", "clustering"], 2, "--loss clustering needs --n-clusters"),
        (["--n-clusters", "3"], 2, "Invalid value for --n-clusters: applies only to --loss clustering"),
        (["--clustering-gamma", "0.5"], 2, "--clustering-gamma: applies only to --loss clustering"),
        (["--loss", "clustering", "--n-clusters", "1"], 2, "'--n-clusters': 1 is not in the range x>=2"),
        (["--loss", "clustering", "--n-clusters", "2", "--clustering-gamma", "-1"], 2,
         "'--clustering-gamma': -1.0 is not in the range x>=0.0"),
        (["--loss", "clustering", "--n-clusters", "2", "--clustering-gamma", "inf"], 2,
         "--clustering-gamma: must be a finite number, got inf"),
        (["--loss", "clustering", "--n-clusters", "2", "--miner", "hard"], 2,
         "--miner: the clustering loss uses no miner"),
        (["--loss", "clustering", "--n-clusters", "2", "--center-alpha", "0.5"], 2,
         "--center-alpha: applies only to --loss center"),
    ],
)  # fmt: skip
def test_cli_bad_clustering_options_are_click_errors(extra, code, message, tmp_path):
    result = _invoke("train", "ucr", "Coffee", "--run-dir", str(tmp_path / "r"), *extra)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_train_help_documents_the_clustering_recipe():
    result = _invoke("train", "ucr", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "clustering (unsupervised" in text and "--n-clusters" in text
    assert "--center-alpha" in text and "per-sample" in text
