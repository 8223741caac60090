"""Moving-average class centers (issue 17, part 3): the batch-mean rule and the seed's per-sample
rule, with repeated labels, first sightings, the overshoot of the per-sample rule and the plumbing
through CenterLoss, SoftmaxCenterLoss, build_objective and ``pyembed train --center-*``.

Every expected number below is worked out by hand in the comment next to it. The seed's rule
(``shared/seeds/001_6d8c36f8c93992de.txt``, lines 63-65) is ``diff = (alpha - 1) * (center[labels]
- features)`` added with ``inc_subtensor``: one increment per sample, all computed from the same old
center, summed for repeated labels.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from pyembed.losses import CenterLoss, SoftmaxCenterLoss  # noqa: E402
from pyembed.nn import ClassCenters  # noqa: E402
from pyembed.train import build_objective  # noqa: E402


def _centers(update, alpha, start):
    """ClassCenters whose class-c center is ``start[c]`` (set by a first sighting of one sample)."""
    centers = ClassCenters(len(start), len(start[0]), alpha=alpha, update=update).double()
    centers.update(torch.tensor(start, dtype=torch.float64), torch.arange(len(start)))
    assert centers.centers.tolist() == start
    return centers


# -- the two rules against hand-computed values --------------------------------------------------


def test_mean_rule_moves_a_repeated_class_once_towards_its_batch_mean():
    # alpha = 0.75; class 0 at (1, 2) sees (3, 2) and (1, 6): mean (2, 4)
    # c_new = 0.75 * (1, 2) + 0.25 * (2, 4) = (0.75 + 0.5, 1.5 + 1.0) = (1.25, 2.5)
    # class 1 at (0, 10) sees (0, 8) once: 0.75 * 10 + 0.25 * 8 = 9.5
    centers = _centers("mean", 0.75, [[1.0, 2.0], [0.0, 10.0]])
    batch = torch.tensor([[3.0, 2.0], [0.0, 8.0], [1.0, 6.0]], dtype=torch.float64)
    centers.update(batch, torch.tensor([0, 1, 0]))
    assert centers.centers.tolist() == [[1.25, 2.5], [0.0, 9.5]]


def test_per_sample_rule_adds_one_increment_per_sample_as_the_seed_does():
    # alpha = 0.75; class 0 at (1, 2) sees (3, 2) and (1, 6). Seed increments, each from the OLD
    # center: (0.75 - 1) * ((1, 2) - (3, 2)) = -0.25 * (-2, 0) = (0.5, 0)
    #          (0.75 - 1) * ((1, 2) - (1, 6)) = -0.25 * (0, -4) = (0, 1)
    # summed: (1, 2) + (0.5, 1) = (1.5, 3.0), i.e. 2 * 0.25 = 0.5 of the offset (1, 2) to the mean.
    # class 1 (seen once) moves as under the mean rule: 10 + (-0.25) * (10 - 8) = 9.5
    centers = _centers("per_sample", 0.75, [[1.0, 2.0], [0.0, 10.0]])
    batch = torch.tensor([[3.0, 2.0], [0.0, 8.0], [1.0, 6.0]], dtype=torch.float64)
    centers.update(batch, torch.tensor([0, 1, 0]))
    assert centers.centers.tolist() == [[1.5, 3.0], [0.0, 9.5]]


def test_the_two_rules_differ_by_the_repeat_count():
    # alpha = 0.5, class 0 at 0 sees 2, 4, 6 (K = 3, mean 4)
    # mean rule:       0.5 * 0 + 0.5 * 4 = 2
    # per-sample rule: 0 - 0.5 * ((0 - 2) + (0 - 4) + (0 - 6)) = 0.5 * 12 = 6 (past the mean 4)
    batch = torch.tensor([[2.0], [4.0], [6.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0])
    mean, per_sample = _centers("mean", 0.5, [[0.0]]), _centers("per_sample", 0.5, [[0.0]])
    mean.update(batch, labels)
    per_sample.update(batch, labels)
    assert mean.centers.item() == 2.0 and per_sample.centers.item() == 6.0


def test_per_sample_rule_lands_on_the_mean_at_k_equal_one_over_one_minus_alpha():
    # alpha = 0.9, K = 10 copies of 1 around a center at 0: 0 - 0.1 * 10 * (0 - 1) = 1, the mean
    # exactly (0.1 * 10 is 1 up to rounding); one more copy (K = 11) goes to 1.1, past it.
    ten = _centers("per_sample", 0.9, [[0.0]])
    ten.update(torch.ones(10, 1, dtype=torch.float64), torch.zeros(10, dtype=torch.long))
    assert ten.centers.item() == pytest.approx(1.0, abs=1e-12)
    eleven = _centers("per_sample", 0.9, [[0.0]])
    eleven.update(torch.ones(11, 1, dtype=torch.float64), torch.zeros(11, dtype=torch.long))
    assert eleven.centers.item() == pytest.approx(1.1, abs=1e-12)


# -- the instability ----------------------------------------------------------------------------


def test_per_sample_rule_oscillates_and_diverges_when_k_exceeds_one_over_one_minus_alpha():
    # alpha = 0.5, K = 6 > 1 / (1 - 0.5) = 2: every update multiplies the offset c - m by
    # 1 - K * (1 - alpha) = 1 - 3 = -2. Center at 0, batches of six 1s (m = 1):
    #   c1 = 0 - 3 * (0 - 1) = 3;  c2 = 3 - 3 * (3 - 1) = -3;  c3 = -3 - 3 * (-3 - 1) = 9;
    #   c4 = 9 - 3 * (9 - 1) = -15  (offsets 2, -4, 8, -16: oscillating and growing).
    # The mean rule on the same batches: c <- 0.5 c + 0.5: 0.5, 0.75, 0.875, 0.9375.
    batch, labels = torch.ones(6, 1, dtype=torch.float64), torch.zeros(6, dtype=torch.long)
    per_sample, mean = _centers("per_sample", 0.5, [[0.0]]), _centers("mean", 0.5, [[0.0]])
    seen_per_sample, seen_mean = [], []
    for _ in range(4):
        per_sample.update(batch, labels)
        mean.update(batch, labels)
        seen_per_sample.append(per_sample.centers.item())
        seen_mean.append(mean.centers.item())
    assert seen_per_sample == [3.0, -3.0, 9.0, -15.0]
    assert seen_mean == [0.5, 0.75, 0.875, 0.9375]


def test_per_sample_rule_overshoots_but_settles_when_k_times_one_minus_alpha_is_below_two():
    # alpha = 0.9 (the default), K = 15: factor 1 - 15 * 0.1 = -0.5 per update. Center at 0,
    # batches of fifteen 1s: c1 = 1.5, c2 = 1.5 - 1.5 * 0.5 = 0.75, c3 = 0.75 + 1.5 * 0.25 = 1.125
    centers = _centers("per_sample", 0.9, [[0.0]])
    seen = []
    for _ in range(3):
        centers.update(torch.ones(15, 1, dtype=torch.float64), torch.zeros(15, dtype=torch.long))
        seen.append(centers.centers.item())
    assert seen == pytest.approx([1.5, 0.75, 1.125], abs=1e-12)


def test_center_loss_per_sample_rule_grows_the_loss_of_a_repeated_class():
    # CenterLoss, alpha = 0.5, one 1-D class, batches of six samples (loss is measured against the
    # center before this batch's update; 0.5 * (x - c)^2 per sample, mean over the batch):
    #   batch of six 0s: first sighting, center = 0, loss 0
    #   six 1s, c = 0: loss 0.5 * 1 = 0.5, then c = 3 (per-sample) or 0.5 (mean)
    #   six 1s: per-sample 0.5 * (1 - 3)^2 = 2, c = -3; mean 0.5 * 0.5^2 = 0.125, c = 0.75
    #   six 1s: per-sample 0.5 * (1 + 3)^2 = 8;          mean 0.5 * 0.25^2 = 0.03125
    labels = torch.zeros(6, dtype=torch.long)
    batches = [torch.zeros(6, 1)] + [torch.ones(6, 1)] * 3
    values = {}
    for update in ("per_sample", "mean"):
        loss = CenterLoss(1, 1, alpha=0.5, update=update)
        values[update] = [float(loss(x.double(), labels)) for x in batches]
    assert values["per_sample"] == [0.0, 0.5, 2.0, 8.0]
    assert values["mean"] == [0.0, 0.5, 0.125, 0.03125]


# -- first sightings -----------------------------------------------------------------------------


@pytest.mark.parametrize("update", ["mean", "per_sample"])
def test_first_sighting_starts_at_the_batch_mean_under_both_rules(update):
    # class 0 first seen as 2, 4, 6 (mean 4): center 4 under both rules (the seed would move a
    # random Glorot start c0 to c0 - 3 * (1 - alpha) * (c0 - 4) instead); class 1, already at 10,
    # sees 0 once in the same update: 0.5 * 10 + 0.5 * 0 = 5 under both rules (K = 1).
    centers = ClassCenters(2, 1, alpha=0.5, update=update).double()
    centers.update(torch.tensor([[10.0]], dtype=torch.float64), torch.tensor([1]))
    batch = torch.tensor([[2.0], [0.0], [4.0], [6.0]], dtype=torch.float64)
    centers.update(batch, torch.tensor([0, 1, 0, 0]))
    assert centers.centers.tolist() == [[4.0], [5.0]]
    assert centers.seen.tolist() == [True, True]


@pytest.mark.parametrize("update", ["mean", "per_sample"])
def test_center_loss_first_sighting_measures_against_the_batch_mean(update):
    # samples 1 and 3 of class 0, first seen: center 2, loss 0.5 * (1 + 1) / 2 = 0.5, and the center
    # is not moved a second time by the same batch
    loss = CenterLoss(2, 1, alpha=0.5, update=update)
    value = loss(torch.tensor([[1.0], [3.0]], dtype=torch.float64), torch.tensor([0, 0]))
    assert float(value) == 0.5
    assert loss.centers.centers.tolist() == [[2.0], [0.0]]


# -- options, state and plumbing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"update": "sample"}, "update must be 'mean' or 'per_sample', got 'sample'"),
        ({"update": "per-sample"}, "update must be 'mean' or 'per_sample'"),
        ({"alpha": 1.0}, r"alpha must be in \[0, 1\), got 1.0"),
        ({"alpha": float("nan")}, r"alpha must be in \[0, 1\)"),
    ],
)
def test_bad_center_options_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClassCenters(2, 2, **kwargs)
    with pytest.raises(ValueError, match=message):
        CenterLoss(2, 2, **kwargs)


def test_state_dict_is_the_same_under_both_rules_and_loads_across_them():
    per_sample = CenterLoss(3, 2, alpha=0.5, update="per_sample")
    per_sample(torch.tensor([[1.0, 1.0], [3.0, 1.0], [0.0, 4.0]]), torch.tensor([0, 0, 2]))
    per_sample(torch.tensor([[5.0, 1.0], [5.0, 1.0]]), torch.tensor([0, 0]))
    # class 0: first center (2, 1); then 2 - 0.5 * ((2 - 5) + (2 - 5)) = 5, y stays 1
    assert per_sample.centers.centers.tolist() == [[5.0, 1.0], [0.0, 0.0], [0.0, 4.0]]
    state = per_sample.state_dict()
    assert set(state) == {"centers.centers", "centers.seen", "centers.thresholds"}
    mean = CenterLoss(3, 2)  # what an old checkpoint was written from
    assert set(mean.state_dict()) == set(state)
    mean.load_state_dict(state)
    assert mean.centers.centers.tolist() == [[5.0, 1.0], [0.0, 0.0], [0.0, 4.0]]
    assert mean.centers.seen.tolist() == [True, False, True]
    restored = CenterLoss(3, 2, alpha=0.5, update="per_sample")
    restored.load_state_dict(CenterLoss(3, 2).state_dict())  # an old, untrained state
    assert restored.centers.update_rule == "per_sample" and not restored.centers.seen.any()


def test_softmax_center_loss_and_build_objective_pass_the_rule_and_alpha():
    direct = SoftmaxCenterLoss(2, 3, alpha=0.25, center_update="per_sample")
    assert (direct.centers.alpha, direct.centers.update_rule) == (0.25, "per_sample")
    built, miner = build_objective(
        "center", embedding_dim=2, n_classes=3, alpha=0.25, center_update="per_sample"
    )
    assert miner is None and isinstance(built, SoftmaxCenterLoss)
    assert (built.centers.alpha, built.centers.update_rule) == (0.25, "per_sample")
    default, _ = build_objective("center", embedding_dim=2, n_classes=3)
    assert (default.centers.alpha, default.centers.update_rule) == (0.9, "mean")
    # the rule acts inside the combined loss: class 0 first seen at 0, then 1 and 1 with
    # alpha 0.25: 0 - 0.75 * ((0 - 1) + (0 - 1)) = 1.5 (the mean rule would give 0.75)
    built(torch.zeros(1, 2), torch.tensor([0]))
    built(torch.ones(2, 2), torch.tensor([0, 0]))
    assert built.centers.centers[0].tolist() == [1.5, 1.5]
    with pytest.raises(ValueError, match="update must be 'mean' or 'per_sample'"):
        build_objective("center", embedding_dim=2, n_classes=3, center_update="both")  # type: ignore[arg-type]


def test_complete_objective_fills_only_missing_keys():
    from pyembed.train.recipes import OBJECTIVE_DEFAULTS, complete_objective

    old = {"loss": "center", "miner": None, "margin": None, "center_weight": 0.5}
    assert complete_objective(old) == {
        **old,
        "center_alpha": 0.9,
        "center_update": "mean",
        "n_clusters": None,
        "clustering_gamma": None,
    }
    assert complete_objective({"center_alpha": 0.5})["center_alpha"] == 0.5
    assert set(OBJECTIVE_DEFAULTS) == {
        "center_alpha",
        "center_update",
        "n_clusters",
        "clustering_gamma",
    }


# -- the CLI -------------------------------------------------------------------------------------

TINY = [
    "--epochs", "1", "--growth-rate", "4", "--block-sizes", "1", "--embedding-dim", "4",
    "--n-identities", "2", "--n-per-identity", "3", "--n-batches", "2", "--threads", "1",
    "--no-progress",
]  # fmt: skip


def _train(run_dir, *extra):
    from click.testing import CliRunner

    from pyembed.cli import main

    args = ["train", "ucr", "Coffee", "--run-dir", str(run_dir), *TINY, *extra]
    return CliRunner().invoke(main, args)


def test_cli_center_alpha_and_update_are_stored_and_checked_on_resume(tmp_path):
    pytest.importorskip("pyembed._nswg")
    from pyembed.train import load_checkpoint

    run_dir = tmp_path / "run"
    center = ["--loss", "center", "--center-alpha", "0.8", "--center-update", "per-sample"]
    result = _train(run_dir, *center)
    assert result.exit_code == 0, result.output
    saved = load_checkpoint(run_dir / "model.pt")["metadata"]["objective"]
    assert (saved["center_alpha"], saved["center_update"]) == (0.8, "per_sample")
    assert saved["n_clusters"] is None and saved["clustering_gamma"] is None
    assert json.loads((run_dir / "run.json").read_text())["objective"] == saved
    again = _train(run_dir, *center, "--epochs", "2", "--resume")
    assert again.exit_code == 0, again.output
    other_alpha = _train(run_dir, "--loss", "center", "--center-update", "per-sample", "--resume")
    assert other_alpha.exit_code == 1 and "objective differs" in other_alpha.output
    assert "'center_alpha': 0.8" in other_alpha.output
    other_rule = _train(run_dir, "--loss", "center", "--center-alpha", "0.8", "--resume")
    assert other_rule.exit_code == 1 and "'center_update': 'per_sample'" in other_rule.output


def test_cli_resumes_and_evaluates_a_run_written_before_the_new_keys(tmp_path):
    pytest.importorskip("pyembed._nswg")
    from click.testing import CliRunner

    from pyembed.cli import main
    from pyembed.train import load_checkpoint, save_checkpoint

    run_dir = tmp_path / "old"
    assert _train(run_dir, "--loss", "center").exit_code == 0
    # make it look like a run of the previous release: no center_alpha/center_update/n_clusters/
    # clustering_gamma in the checkpoint or in run.json
    state = load_checkpoint(run_dir / "model.pt")
    new_keys = ("center_alpha", "center_update", "n_clusters", "clustering_gamma")
    for key in new_keys:
        del state["metadata"]["objective"][key]
    assert state["metadata"]["objective"] == {
        "loss": "center",
        "miner": None,
        "margin": None,
        "center_weight": 0.5,
    }
    save_checkpoint(state, run_dir / "model.pt")
    info = json.loads((run_dir / "run.json").read_text())
    for key in new_keys:
        del info["objective"][key]
    (run_dir / "run.json").write_text(json.dumps(info))
    evaluated = CliRunner().invoke(main, ["eval", str(run_dir), "--format", "json"])
    assert evaluated.exit_code == 0, evaluated.output
    resumed = _train(run_dir, "--loss", "center", "--epochs", "2", "--resume", "--format", "json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["epochs"] == 2
    # the defaults are what the old run meant: another alpha is a different objective
    changed = _train(run_dir, "--loss", "center", "--center-alpha", "0.5", "--epochs", "3",
                     "--resume")  # fmt: skip
    assert changed.exit_code == 1 and "objective differs" in changed.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--center-alpha", "0.5"], "Invalid value for --center-alpha: applies only to --loss center"),
        (["--center-update", "per-sample"], "--center-update: applies only to --loss center"),
        (["--loss", "center", "--center-alpha", "1"], "'--center-alpha': 1.0 is not in the range 0.0<=x<1.0"),
        (["--loss", "center", "--center-alpha", "nan"], "--center-alpha: must be a finite number, got nan"),
        (["--loss", "center", "--center-update", "per_sample"], "'per_sample' is not one of 'mean', 'per-sample'"),
        (["--center-weight", "0.1"], "--center-weight: applies only to --loss center"),
        (["--loss", "center", "--margin", "0.3"], "--margin: applies only to --loss triplet or contrastive"),
    ],
)  # fmt: skip
def test_cli_bad_center_options_are_usage_errors(extra, message, tmp_path):
    result = _train(tmp_path / "r", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()  # rejected before anything is written
