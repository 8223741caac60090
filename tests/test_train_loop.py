"""Training loop pieces: schedule, P x K sampler, augmentation, trainer, checkpoints and resume."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pyembed.losses import ContrastiveLoss, SoftmaxCenterLoss, TripletLoss  # noqa: E402
from pyembed.miners import PairMiner, TripletMiner  # noqa: E402
from pyembed.nn import DenseNetEmbedding, TimeSeriesEmbedding  # noqa: E402
from pyembed.train import (  # noqa: E402
    ImageAugment,
    OneCycleSchedule,
    PKSampler,
    ProgressBar,
    SeriesAugment,
    TrainConfig,
    Trainer,
    embed,
    load_checkpoint,
    save_checkpoint,
)

torch.set_num_threads(2)


def _adam():
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0, betas=(0.9, 0.99))


# -- schedule ------------------------------------------------------------------------------------


def test_one_cycle_lr_rises_while_beta1_falls_then_back():
    opt = _adam()
    schedule = OneCycleSchedule(opt, 0.01, 100, pct_start=0.3, div_factor=10, final_div_factor=1000)
    lrs, betas = [], []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        betas.append(opt.param_groups[0]["betas"][0])
        schedule.step()
    lrs.append(opt.param_groups[0]["lr"])
    betas.append(opt.param_groups[0]["betas"][0])
    assert lrs[0] == pytest.approx(0.001) and betas[0] == pytest.approx(0.95)
    assert lrs[30] == pytest.approx(0.01) and betas[30] == pytest.approx(0.85)
    assert lrs[100] == pytest.approx(1e-5) and betas[100] == pytest.approx(0.95)
    assert np.all(np.diff(lrs[:31]) > 0) and np.all(np.diff(betas[:31]) < 0)
    assert np.all(np.diff(lrs[30:]) < 0) and np.all(np.diff(betas[30:]) > 0)
    assert opt.param_groups[0]["betas"][1] == 0.99  # beta2 untouched


def test_one_cycle_state_round_trip_and_checks():
    opt = _adam()
    schedule = OneCycleSchedule(opt, 0.01, 50)
    for _ in range(7):
        schedule.step()
    other_opt = _adam()
    other = OneCycleSchedule(other_opt, 0.5, 3)
    other.load_state_dict(schedule.state_dict())
    assert other.step_count == 7 and other_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="total_steps"):
        OneCycleSchedule(opt, 0.01, 0)
    with pytest.raises(ValueError, match="betas"):
        OneCycleSchedule(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), 0.01, 10)


# -- sampler -------------------------------------------------------------------------------------


def test_pk_sampler_batches_have_p_labels_times_k():
    labels = np.repeat(np.arange(10), 6)
    sampler = PKSampler(labels, 4, 3, seed=1)
    assert len(sampler) == 60 // 12 and sampler.batch_size == 12
    for rows in sampler:
        values, counts = np.unique(labels[rows], return_counts=True)
        assert values.size == 4 and np.all(counts == 3)
        assert np.unique(rows).size == 12  # without replacement when a label has enough rows


def test_pk_sampler_is_seeded_per_epoch():
    labels = np.repeat(np.arange(10), 6)
    a, b = PKSampler(labels, 4, 3, seed=1), PKSampler(labels, 4, 3, seed=1)
    b.set_epoch(0)
    assert [r.tolist() for r in a] == [r.tolist() for r in b]
    b.set_epoch(1)
    assert [r.tolist() for r in a] != [r.tolist() for r in b]


def test_pk_sampler_small_labels_singletons_and_errors():
    labels = np.array([0, 0, 1, 1, 1, 2])  # label 2 has one row: never drawn
    sampler = PKSampler(labels, 5, 4, n_batches=3)
    assert sampler.n_identities == 2
    for rows in sampler:
        assert set(labels[rows]) == {0, 1} and rows.size == 8  # label 0 drawn with replacement
    with pytest.raises(ValueError, match="at least 2 labels"):
        PKSampler(np.array([0, 0, 1]), 2, 2)
    with pytest.raises(ValueError, match="n_per_identity"):
        PKSampler(labels, 2, 1)


# -- augmentation, progress, config --------------------------------------------------------------


def test_augmentations_keep_shape_and_follow_the_generator():
    images = torch.arange(2 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6)
    aug = ImageAugment(flip=True, max_shift=2)
    first = aug(images, torch.Generator().manual_seed(0))
    assert first.shape == images.shape
    assert torch.equal(first, aug(images, torch.Generator().manual_seed(0)))
    assert aug(images[:, 0], torch.Generator().manual_seed(0)).shape == (2, 6, 6)
    series = torch.randn(3, 20)
    out = SeriesAugment(max_shift=3, scale=0.2, noise_std=0.1)(
        series, torch.Generator().manual_seed(0)
    )
    assert out.shape == series.shape and not torch.equal(out, series)
    assert torch.equal(SeriesAugment()(series, torch.Generator()), series)


def test_progress_bar_writes_one_line_when_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(3, "epoch 1/1", stream=stream)
    for _ in range(3):
        bar.update(1, "loss=0.5")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("epoch 1/1 [") and "3/3" in lines[0]
    silent = io.StringIO()
    ProgressBar(3, stream=silent, enabled=False).close()
    assert silent.getvalue() == ""


def test_train_config_round_trip_and_checks():
    config = TrainConfig(epochs=3, seed=5, weight_projection=1.0)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown TrainConfig fields: colour"):
        TrainConfig.from_dict({"colour": 1})
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


# -- trainer -------------------------------------------------------------------------------------


def _clusters(n_classes=6, per_class=8, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(n_classes, dim, generator=g) * 2
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    x = centers[labels] + 0.8 * torch.randn(labels.numel(), dim, generator=g)
    return x, labels


def _mlp(seed=0, dim=8, out=4):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(dim, 32), torch.nn.ReLU(), torch.nn.Linear(32, out))


@pytest.mark.parametrize(
    "setup",
    [
        lambda: (TripletLoss(margin=0.5), TripletMiner("hard", margin=0.5)),
        lambda: (TripletLoss(margin=0.5, reduction="mean_nonzero"), TripletMiner("all")),
        lambda: (ContrastiveLoss(margin=2.0), PairMiner("all")),
        lambda: (SoftmaxCenterLoss(4, 6, center_weight=0.1), None),
    ],
    ids=["triplet-hard", "triplet-all", "contrastive", "center"],
)
def test_training_lowers_the_loss(setup):
    x, labels = _clusters()
    loss, miner = setup()
    config = TrainConfig(
        epochs=8, n_identities=4, n_per_identity=4, n_batches=6, max_lr=1e-2, seed=0
    )
    trainer = Trainer(_mlp(), loss, x, labels, config, miner=miner)
    full = TripletLoss(margin=0.5)
    before = full(trainer.model(x).detach(), labels).item()
    history = trainer.fit(progress=False)
    after = full(trainer.model(x).detach(), labels).item()
    assert len(history) == 8 and all(np.isfinite(r["loss"]) for r in history)
    assert history[-1]["loss"] < history[0]["loss"]
    assert after < before


def test_densenet_and_timeseries_steps_lower_the_loss():
    torch.manual_seed(0)
    images = torch.rand(16, 1, 12, 12)
    labels = torch.arange(4).repeat_interleave(4)
    images += labels[:, None, None, None] * 0.5  # separable classes
    model = DenseNetEmbedding(embedding_dim=8, growth_rate=4, block_sizes=(1, 1), stem_stride=2)
    config = TrainConfig(epochs=6, n_identities=4, n_per_identity=4, n_batches=2, max_lr=1e-2)
    history = Trainer(model, TripletLoss(margin=0.5), images, labels, config).fit(progress=False)
    assert history[-1]["loss"] < history[0]["loss"]
    series = torch.randn(16, 1, 16) + labels[:, None, None].float()
    model = TimeSeriesEmbedding(embedding_dim=8, growth_rate=4, block_sizes=(1, 1))
    history = Trainer(
        model, ContrastiveLoss(), series, labels, config, augment=SeriesAugment(noise_std=0.01)
    ).fit(progress=False)
    assert history[-1]["loss"] < history[0]["loss"]


def _trainer(seed=0, epochs=3):
    x, labels = _clusters(seed=1)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 4)
    )
    torch.manual_seed(seed)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    config = TrainConfig(
        epochs=epochs, n_identities=3, n_per_identity=4, n_batches=4, max_lr=5e-3, seed=7
    )
    aug = SeriesAugment(scale=0.1, noise_std=0.05)
    return Trainer(
        model, SoftmaxCenterLoss(4, 6), x, labels, config, augment=aug, metadata={"name": "toy"}
    )


def test_resume_from_checkpoint_reproduces_uninterrupted_training(tmp_path):
    straight = _trainer()
    straight.fit(progress=False)
    interrupted = _trainer()
    interrupted.fit(progress=False, n_epochs=1, checkpoint_path=tmp_path / "ckpt.pt")
    resumed = _trainer(seed=123)  # different initial weights: everything must come from the file
    resumed.load_checkpoint(tmp_path / "ckpt.pt")
    assert resumed.epoch == 1 and len(resumed.history) == 1 and resumed.metadata == {"name": "toy"}
    resumed.fit(progress=False)
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value.float(), resumed.model.state_dict()[key].float(), atol=1e-6), (
            key
        )
    assert torch.allclose(straight.loss.centers.centers, resumed.loss.centers.centers, atol=1e-6)
    assert [r["loss"] for r in straight.history] == pytest.approx(
        [r["loss"] for r in resumed.history], rel=1e-5
    )


def test_checkpoint_contents_and_config_mismatch(tmp_path):
    trainer = _trainer(epochs=1)
    trainer.fit(progress=False, checkpoint_path=tmp_path / "c.pt")
    state = load_checkpoint(tmp_path / "c.pt")
    assert {
        "model",
        "loss",
        "optimizer",
        "schedule",
        "config",
        "epoch",
        "generator",
        "history",
    } <= set(state)
    assert state["config"]["seed"] == 7 and state["epoch"] == 1
    other = _trainer()  # epochs=3: extending a run is allowed
    other.load_checkpoint(tmp_path / "c.pt")
    x, labels = _clusters(seed=1)
    changed = Trainer(
        torch.nn.Linear(8, 4),
        SoftmaxCenterLoss(4, 6),
        x,
        labels,
        TrainConfig(epochs=1, n_batches=4),
    )
    with pytest.raises(ValueError, match="different settings"):
        changed.load_checkpoint(tmp_path / "c.pt")


def test_load_checkpoint_rejects_foreign_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable pyembed checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a pyembed training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    save_checkpoint({"x": torch.zeros(1)}, tmp_path / "sub" / "ok.pt")
    assert torch.equal(load_checkpoint(tmp_path / "sub" / "ok.pt")["x"], torch.zeros(1))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["ok.pt"]  # no temporary left behind


def _kernel_norms_seen_by_each_step(weight_projection):
    """The decoupled layer's kernel norms at the start of every training forward pass, and after
    the last step (2 epochs x 3 batches)."""
    from pyembed.nn import DecoupledLinear

    x, labels = _clusters()
    torch.manual_seed(0)
    model = torch.nn.Sequential(DecoupledLinear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    seen = []
    model[0].register_forward_pre_hook(
        lambda layer, _inputs: seen.append(layer.weight.detach().norm(dim=1).clone())
    )
    config = TrainConfig(
        epochs=2,
        n_identities=3,
        n_per_identity=4,
        n_batches=3,
        max_lr=3e-2,
        weight_projection=weight_projection,
    )
    Trainer(model, TripletLoss(), x, labels, config).fit(progress=False)
    return seen, model[0].weight.detach().norm(dim=1)


def test_weight_projection_option_projects_after_every_step():
    seen, final = _kernel_norms_seen_by_each_step(2.0)
    assert len(seen) == 6
    twos = torch.full((16,), 2.0)
    # the initial kernels (Kaiming-uniform, norm about 0.58) are not projected before step 1
    assert not torch.allclose(seen[0], twos, atol=0.5)
    for step, norms in enumerate(seen[1:], start=1):  # every later step starts from norm 2
        assert torch.allclose(norms, twos, atol=1e-5), f"step {step}: {norms}"
    assert torch.allclose(final, twos, atol=1e-5)
    # without projection the steps move the norms, so the assertions above can fail
    free, free_final = _kernel_norms_seen_by_each_step(None)
    assert all(
        not torch.allclose(a, b, atol=1e-4) for a, b in zip(free[:-1], free[1:], strict=True)
    )
    assert not torch.allclose(free_final, twos, atol=0.5)


def test_embed_batches_and_restores_mode():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    model.train()
    x = torch.randn(10, 3)
    out = embed(model, x, batch_size=4)
    assert out.shape == (10, 2) and out.dtype == np.float32 and model.training
    model.eval()
    assert np.allclose(out, model(x).detach().numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        embed(model, x, batch_size=0)


def test_trainer_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels must have shape"):
        Trainer(
            torch.nn.Linear(2, 2), TripletLoss(), torch.zeros(4, 2), torch.zeros(3), TrainConfig()
        )
