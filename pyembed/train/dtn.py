"""The zero-shot anti-spoofing protocol: train the Deep Tree Network and two baselines on each
leave-one-attack-out fold, fix thresholds on validation data, and evaluate on the unseen attack.

One run directory holds (see :data:`RUN_FILE` and :func:`fold_path`):

- ``run.json``: the settings (:class:`DTNConfig`), the data file and its generator seed, the
  identity split, and per fold the training history, thresholds and test metrics;
- ``folds/<attack>.pt``: per fold the DTN's and the CNN's state dicts and the statistics
  baseline's arrays (a checkpoint written atomically; loads with ``weights_only=True``).

:func:`evaluate_run` rebuilds the synthetic data from the face file and seed, reloads every fold's
models and scores the test rows again: ``pyembed eval`` reports what the saved models do, not
what training remembered.

Scores are "higher = more likely an attack". Methods:

- ``dtn-map``: the mean of the spoof map at the leaf a sample reaches (the primary DTN score);
- ``dtn-class``: ``sigmoid`` of that leaf's class logit;
- ``dtn-fused``: their mean (the paper's fusion is not given; this one is documented);
- ``cnn``: :class:`~pyembed.nn.dtn.SpoofCNN`, the same units in a line (one tree path),
  trained with binary cross-entropy on the same batches;
- ``stats-logreg``: :class:`~pyembed.train.image_stats.StatsLogistic` on histogram and FFT
  statistics, which exposes shortcut cues of the synthetic attacks.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor

from pyembed.datasets.spoof import Fold, SpoofSet, make_spoof_set, zero_shot_folds
from pyembed.losses.dtn import DTNLoss
from pyembed.nn.dtn import DeepTreeNetwork, SpoofCNN, leaf_features
from pyembed.train.checkpoint import load_checkpoint, save_checkpoint
from pyembed.train.image_stats import StatsLogistic
from pyembed.train.progress import ProgressBar

__all__ = [
    "METHODS",
    "RUN_FILE",
    "DTNConfig",
    "FoldScores",
    "evaluate_run",
    "fold_path",
    "load_spoof_data",
    "lookup_rows",
    "read_run",
    "run_protocol",
    "score_fold",
    "summary_rows",
    "train_cnn",
    "train_dtn",
]

RUN_FILE = "run.json"
"""Settings, split and per-fold results of a DTN run."""
KIND = "dtn"
"""``run.json["kind"]`` of a DTN run directory."""
METHODS = ("dtn-map", "dtn-class", "dtn-fused", "cnn", "stats-logreg")
"""The scored methods, in report order."""
METRICS = ("auc", "eer", "apcer", "bpcer", "acer")
"""The per-fold metrics (all fractions in [0, 1])."""


@dataclass(frozen=True)
class DTNConfig:
    """Settings of a DTN protocol run (model sizes, training schedule, loss weights, seeds).

    Attributes
    ----------
    width, depth, n_pool, tru_side, leaf_hidden, momentum
        :class:`~pyembed.nn.dtn.DeepTreeNetwork` sizes.
    steps : int
        Optimiser steps per model and fold.
    warmup_steps : int
        Supervised-only steps (map and class losses) before the route and unique losses join.
    alternate : int
        0: after the warm-up every step trains all parameters on all losses (the authors' code).
        k > 0: the paper's alternation: k steps update only the TRUs, then k steps only the rest.
    batch_size : int
    spoof_fraction : float
        Share of spoof samples in each batch (spoof-heavy, so deep nodes see several).
    lr, beta1 : float
        Adam's learning rate and beta1 (the authors' code: 1e-3 and 0.5).
    class_weight, map_weight, route_weight, unique_weight, alpha, beta : float
        :class:`~pyembed.losses.dtn.DTNLoss` weights.
    cnn_width : int or None
        Width of the CNN baseline; None means ``width`` (the compute of one tree path).
    stats_l2 : float
        L2 penalty of the statistics baseline.
    leaf_weight : float
        Weight of the one-hot leaf in the index features (:func:`pyembed.nn.dtn.leaf_features`).
    test_fraction, validation_fraction : float
        Identity split of :func:`pyembed.datasets.spoof.zero_shot_folds`.
    seed : int
        Seeds the data generator, the split, the weights and the batches.
    log_every : int
        Steps between history records.
    """

    width: int = 16
    depth: int = 3
    n_pool: int = 2
    tru_side: int = 4
    leaf_hidden: int = 64
    momentum: float = 0.05
    steps: int = 600
    warmup_steps: int = 150
    alternate: int = 0
    batch_size: int = 32
    spoof_fraction: float = 0.75
    lr: float = 1e-3
    beta1: float = 0.5
    class_weight: float = 0.001
    map_weight: float = 1.0
    route_weight: float = 2.0
    unique_weight: float = 0.001
    alpha: float = 1e-3
    beta: float = 1e-2
    cnn_width: int | None = None
    stats_l2: float = 1.0
    leaf_weight: float = 1.0
    test_fraction: float = 0.3
    validation_fraction: float = 0.2
    seed: int = 0
    log_every: int = 50

    def __post_init__(self) -> None:
        for name in ("width", "depth", "steps", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must be in 0..steps={self.steps}")
        if self.alternate < 0:
            raise ValueError(f"alternate must be >= 0, got {self.alternate}")
        if not 0.0 < self.spoof_fraction < 1.0:
            raise ValueError(f"spoof_fraction must be in (0, 1), got {self.spoof_fraction}")
        n_spoof = round(self.batch_size * self.spoof_fraction)
        if n_spoof < 2 or n_spoof >= self.batch_size:
            raise ValueError(
                f"batch_size={self.batch_size} x spoof_fraction={self.spoof_fraction} must give "
                "at least 2 spoof and 1 live sample per batch"
            )

    @property
    def n_spoof(self) -> int:
        """Spoof samples per batch."""
        return round(self.batch_size * self.spoof_fraction)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (for ``run.json`` and checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DTNConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown DTNConfig fields: {', '.join(unknown)}")
        return cls(**values)

    def build_dtn(self, image_side: int) -> DeepTreeNetwork:
        """A fresh DTN for square images of side ``image_side`` (pixels)."""
        return DeepTreeNetwork(
            image_side=image_side,
            width=self.width,
            depth=self.depth,
            n_pool=self.n_pool,
            tru_side=self.tru_side,
            leaf_hidden=self.leaf_hidden,
            momentum=self.momentum,
        )

    def build_cnn(self, image_side: int) -> SpoofCNN:
        """A fresh CNN baseline with the same units as one tree path."""
        return SpoofCNN(
            image_side=image_side,
            width=self.cnn_width or self.width,
            n_levels=self.depth,
            n_pool=self.n_pool,
            hidden=self.leaf_hidden,
        )


def load_spoof_data(path: str | Path, *, size: int = 64, seed: int = 0) -> SpoofSet:
    """Read a face ``.npz`` and synthesise its live and attack samples (deterministic in ``seed``)."""
    from pyembed.datasets.faces import load_faces

    faces = load_faces(path)
    return make_spoof_set(faces.images, faces.labels, size=size, seed=seed)


def _batches(
    data: SpoofSet, rows: NDArray[np.int64], config: DTNConfig, salt: int
) -> Callable[[int], NDArray[np.int64]]:
    """``batch(step)``: the rows of one spoof-heavy batch, drawn with replacement per class."""
    spoof = rows[data.is_spoof[rows]]
    live = rows[~data.is_spoof[rows]]
    if spoof.size < 2 or live.size < 1:
        raise ValueError(
            f"training rows need >= 2 spoof and >= 1 live samples, got {spoof.size} and {live.size}"
        )
    n_spoof = config.n_spoof

    def batch(step: int) -> NDArray[np.int64]:
        rng = np.random.default_rng([config.seed, salt, step])
        return np.concatenate(
            [
                rng.choice(live, config.batch_size - n_spoof, replace=live.size < 4 * n_spoof),
                rng.choice(spoof, n_spoof, replace=spoof.size < 4 * n_spoof),
            ]
        )

    return batch


def _images(data: SpoofSet, rows: NDArray[np.int64]) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(data.images[rows], dtype=np.float32)).unsqueeze(1)


def _map_targets(data: SpoofSet, rows: NDArray[np.int64], side: int) -> Tensor:
    """Spoof masks area-averaged to ``side x side`` (zeros for live rows)."""
    masks = torch.from_numpy(np.ascontiguousarray(data.masks[rows], dtype=np.float32))
    return F.adaptive_avg_pool2d(masks.unsqueeze(1), side).squeeze(1)


def train_dtn(
    data: SpoofSet,
    rows: NDArray[np.int64],
    config: DTNConfig,
    *,
    progress: bool = False,
    label: str = "dtn",
) -> tuple[DeepTreeNetwork, list[dict[str, Any]]]:
    """Train a DTN on ``data[rows]``: the supervised warm-up, then all losses.

    Returns the model (in ``eval()`` mode) and the history: every ``log_every`` steps the mean of
    each loss term over those steps and the spoof samples routed to each leaf (a leaf stuck at
    zero is route collapse).
    """
    torch.manual_seed(config.seed)
    model = config.build_dtn(data.images.shape[1])
    loss_fn = DTNLoss(
        class_weight=config.class_weight,
        map_weight=config.map_weight,
        route_weight=config.route_weight,
        unique_weight=config.unique_weight,
        alpha=config.alpha,
        beta=config.beta,
    )
    betas = (config.beta1, 0.999)
    routing, rest = model.routing_parameters(), model.other_parameters()
    opt_routing = torch.optim.Adam(routing, lr=config.lr, betas=betas)
    opt_rest = torch.optim.Adam(rest, lr=config.lr, betas=betas)
    batch = _batches(data, rows, config, salt=1)
    history: list[dict[str, Any]] = []
    sums: dict[str, float] = {}
    counts = torch.zeros(model.n_leaves, dtype=torch.long)
    bar = ProgressBar(config.steps, label, enabled=progress)
    model.train()
    for step in range(config.steps):
        picked = batch(step)
        images = _images(data, picked)
        is_spoof = torch.from_numpy(data.is_spoof[picked])
        targets = _map_targets(data, picked, model.map_side)
        unsupervised = step >= config.warmup_steps
        out = model(images, is_spoof)
        parts = loss_fn(out, targets, is_spoof, unsupervised=unsupervised)
        opt_routing.zero_grad(set_to_none=True)
        opt_rest.zero_grad(set_to_none=True)
        parts.total.backward()
        if unsupervised and config.alternate:
            phase = ((step - config.warmup_steps) // config.alternate) % 2
            (opt_routing if phase == 0 else opt_rest).step()
        else:
            opt_rest.step()
            if unsupervised:
                opt_routing.step()
        for name in ("total", "map", "cls", "route", "unique"):
            sums[name] = sums.get(name, 0.0) + float(getattr(parts, name).detach())
        counts += parts.leaf_spoof_counts
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            n = (step % config.log_every) + 1
            record: dict[str, Any] = {"step": step + 1, **{k: v / n for k, v in sums.items()}}
            record["leaf_spoof_counts"] = counts.tolist()
            history.append(record)
            sums, counts = {}, torch.zeros(model.n_leaves, dtype=torch.long)
            bar.update(0, f"loss {record['total']:.4f} leaves {record['leaf_spoof_counts']}")
        bar.update(1)
    bar.close()
    model.eval()
    return model, history


def train_cnn(
    data: SpoofSet,
    rows: NDArray[np.int64],
    config: DTNConfig,
    *,
    progress: bool = False,
    label: str = "cnn",
) -> tuple[SpoofCNN, list[dict[str, Any]]]:
    """Train the CNN baseline with binary cross-entropy on the same kind of batches as the DTN."""
    torch.manual_seed(config.seed)
    model = config.build_cnn(data.images.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    batch = _batches(data, rows, config, salt=2)
    history: list[dict[str, Any]] = []
    total = 0.0
    bar = ProgressBar(config.steps, label, enabled=progress)
    model.train()
    for step in range(config.steps):
        picked = batch(step)
        logits = model(_images(data, picked))
        labels = torch.from_numpy(data.is_spoof[picked]).to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach())
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            n = (step % config.log_every) + 1
            history.append({"step": step + 1, "bce": total / n})
            bar.update(0, f"bce {total / n:.4f}")
            total = 0.0
        bar.update(1)
    bar.close()
    model.eval()
    return model, history


@dataclass(frozen=True)
class FoldScores:
    """Scores of every method on one set of rows, plus the DTN's leaves and index features.

    Attributes
    ----------
    scores : dict of str to ndarray of float64, shape (n,)
        One array per name in :data:`METHODS`.
    leaf : ndarray of int64, shape (n,)
        The DTN leaf each row reached.
    features : ndarray of float32, shape (n, n_leaves + dim)
        :func:`pyembed.nn.dtn.leaf_features` of each row.
    """

    scores: dict[str, NDArray[np.float64]]
    leaf: NDArray[np.int64]
    features: NDArray[np.float32]


@torch.no_grad()
def score_fold(
    data: SpoofSet,
    rows: NDArray[np.int64],
    dtn: DeepTreeNetwork,
    cnn: SpoofCNN,
    stats: StatsLogistic,
    *,
    leaf_weight: float = 1.0,
    batch_size: int = 256,
) -> FoldScores:
    """Score ``data[rows]`` with every method (hard routing for the DTN), in batches."""
    dtn.eval()
    cnn.eval()
    parts: dict[str, list[NDArray[np.float64]]] = {m: [] for m in METHODS}
    leaves, features = [], []
    for start in range(0, rows.size, batch_size):
        chunk = rows[start : start + batch_size]
        images = _images(data, chunk)
        result = dtn.infer(images)
        parts["dtn-map"].append(result.map_score.double().numpy())
        parts["dtn-class"].append(result.class_score.double().numpy())
        parts["dtn-fused"].append(result.fused_score.double().numpy())
        parts["cnn"].append(torch.sigmoid(cnn(images)).double().numpy())
        leaves.append(result.leaf.numpy())
        features.append(leaf_features(result, dtn.n_leaves, leaf_weight).numpy())
    parts["stats-logreg"].append(stats.score(data.images[rows]))
    empty = np.zeros(0)
    return FoldScores(
        {m: np.concatenate(v) if v else empty for m, v in parts.items()},
        np.concatenate(leaves).astype(np.int64) if leaves else np.zeros(0, np.int64),
        np.concatenate(features).astype(np.float32)
        if features
        else np.zeros((0, dtn.n_leaves + dtn.feature_dim), np.float32),
    )


def fold_path(run_dir: str | Path, held_out: str) -> Path:
    """The checkpoint of the fold whose unseen attack is ``held_out``."""
    return Path(run_dir) / "folds" / f"{held_out}.pt"


def _fold_results(
    data: SpoofSet,
    fold: Fold,
    validation: FoldScores,
    test: FoldScores,
    train_spoof: FoldScores,
    train_spoof_rows: NDArray[np.int64],
) -> dict[str, Any]:
    """Thresholds from validation, test metrics, and the nearest known attack of each spoof."""
    from pyembed.index import Index
    from pyembed.metrics import pad_report, validation_threshold

    names = np.array(data.attack_names)
    val_attack = data.is_spoof[fold.validation]
    test_attack = data.is_spoof[fold.test]
    methods: dict[str, Any] = {}
    for m in METHODS:
        threshold = validation_threshold(validation.scores[m], val_attack)
        report = pad_report(test.scores[m], test_attack, threshold)
        methods[m] = {
            "threshold": float(threshold),
            **{k: float(getattr(report, k)) for k in METRICS},
        }
    # Look-up among known attacks: the DTN features of the training spoof samples in an index.
    index = Index(train_spoof.features.shape[1], "euclidean")
    index.add(train_spoof.features, ids=np.arange(train_spoof_rows.size, dtype=np.int64))
    known = names[data.attack[train_spoof_rows]]
    val_spoof = np.flatnonzero(val_attack)
    found = index.search(validation.features[val_spoof], k=1, exact=True).ids[:, 0]
    seen_accuracy = float(np.mean(known[found] == names[data.attack[fold.validation[val_spoof]]]))
    test_spoof = np.flatnonzero(test_attack)
    nearest = index.search(test.features[test_spoof], k=1, exact=True).ids[:, 0]
    nearest_counts = Counter(known[nearest].tolist())
    leaf_counts = Counter(test.leaf[test_spoof].tolist())
    return {
        "held_out": fold.held_out,
        "n_train": int(fold.train.size),
        "n_validation": int(fold.validation.size),
        "n_test": int(fold.test.size),
        "methods": methods,
        "seen_attack_1nn_accuracy": seen_accuracy,
        "unseen_nearest_known": {
            k: v / max(1, test_spoof.size) for k, v in sorted(nearest_counts.items())
        },
        "unseen_leaves": {str(k): int(v) for k, v in sorted(leaf_counts.items())},
        "train_spoof_leaves": {
            str(k): int(v) for k, v in sorted(Counter(train_spoof.leaf.tolist()).items())
        },
    }


def _evaluate_fold(
    data: SpoofSet,
    fold: Fold,
    dtn: DeepTreeNetwork,
    cnn: SpoofCNN,
    stats: StatsLogistic,
    config: DTNConfig,
) -> dict[str, Any]:
    train_spoof_rows = fold.train[data.is_spoof[fold.train]]
    weight = config.leaf_weight
    validation = score_fold(data, fold.validation, dtn, cnn, stats, leaf_weight=weight)
    test = score_fold(data, fold.test, dtn, cnn, stats, leaf_weight=weight)
    train_spoof = score_fold(data, train_spoof_rows, dtn, cnn, stats, leaf_weight=weight)
    return _fold_results(data, fold, validation, test, train_spoof, train_spoof_rows)


def run_protocol(
    data_path: str | Path,
    run_dir: str | Path,
    config: DTNConfig,
    *,
    attacks: tuple[str, ...] | None = None,
    progress: bool = False,
    data: SpoofSet | None = None,
) -> dict[str, Any]:
    """Train and evaluate every leave-one-attack-out fold; write the run directory.

    Parameters
    ----------
    data_path : path-like
        A face ``.npz`` (the layout of :func:`pyembed.datasets.faces.load_faces`).
    run_dir : path-like
        Created if needed; ``run.json`` and ``folds/*.pt`` are written there.
    config : DTNConfig
    attacks : tuple of str, optional
        Only these folds (unseen attacks); default all.
    progress : bool
        Progress bars and per-fold lines on stderr.
    data : SpoofSet, optional
        The synthetic set of ``data_path`` if already made (it must be
        ``load_spoof_data(data_path, seed=config.seed)``).

    Returns
    -------
    dict
        The ``run.json`` document.
    """
    started = time.perf_counter()
    torch_threads = torch.get_num_threads()
    data = data if data is not None else load_spoof_data(data_path, seed=config.seed)
    folds = zero_shot_folds(
        data,
        test_fraction=config.test_fraction,
        validation_fraction=config.validation_fraction,
        seed=config.seed,
    )
    if attacks is not None:
        unknown = sorted(set(attacks) - set(data.attack_names))
        if unknown:
            raise ValueError(f"unknown attacks {unknown}; known: {list(data.attack_names)}")
        folds = [f for f in folds if f.held_out in attacks]
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "kind": KIND,
        "data": {"path": str(Path(data_path).resolve()), "n_samples": data.n},
        "attack_names": list(data.attack_names),
        "config": config.to_dict(),
        "torch_threads": torch_threads,
        "folds": [],
    }
    for fold in folds:
        fold_start = time.perf_counter()
        dtn, dtn_history = train_dtn(
            data, fold.train, config, progress=progress, label=f"dtn  -{fold.held_out}"
        )
        cnn, cnn_history = train_cnn(
            data, fold.train, config, progress=progress, label=f"cnn  -{fold.held_out}"
        )
        stats = StatsLogistic(l2=config.stats_l2).fit(
            data.images[fold.train], data.is_spoof[fold.train]
        )
        save_checkpoint(
            {
                "held_out": fold.held_out,
                "config": config.to_dict(),
                "dtn": dtn.state_dict(),
                "cnn": cnn.state_dict(),
                "stats": {
                    k: torch.from_numpy(np.asarray(v)) for k, v in stats.state_dict().items()
                },
            },
            fold_path(folder, fold.held_out),
        )
        results = _evaluate_fold(data, fold, dtn, cnn, stats, config)
        results["seconds"] = time.perf_counter() - fold_start
        results["dtn_history"] = dtn_history
        results["cnn_history"] = cnn_history
        results["parameters"] = {
            "dtn": sum(p.numel() for p in dtn.parameters()),
            "cnn": sum(p.numel() for p in cnn.parameters()),
        }
        document["folds"].append(results)
        if progress:
            line = ", ".join(
                f"{m} acer {results['methods'][m]['acer']:.3f}" for m in ("dtn-map", "cnn")
            )
            print(f"fold -{fold.held_out}: {line} ({results['seconds']:.0f} s)", flush=True)
        _write_json(folder / RUN_FILE, document)
    document["seconds"] = time.perf_counter() - started
    _write_json(folder / RUN_FILE, document)
    return document


def _write_json(path: Path, document: dict[str, Any]) -> None:
    from pyembed._atomic import atomic_writer

    with atomic_writer(path) as handle:
        handle.write((json.dumps(document, indent=2, default=str) + "\n").encode("utf-8"))


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """``run.json`` of a DTN run directory, checked to be one.

    Raises
    ------
    FileNotFoundError
        If there is no ``run.json``.
    ValueError
        If it is not a DTN run (``kind`` is not ``"dtn"``) or not valid JSON.
    """
    path = Path(run_dir) / RUN_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise ValueError(f"{path}: not a DTN run directory")
    return document


def evaluate_run(run_dir: str | Path, *, data_path: str | Path | None = None) -> dict[str, Any]:
    """Re-score every fold of a DTN run from its saved models and the regenerated data.

    Parameters
    ----------
    run_dir : path-like
    data_path : path-like, optional
        The face file, if it moved since training (default: the path in ``run.json``).

    Returns
    -------
    dict
        ``run.json``'s document with each fold's ``methods``, look-up and leaf results recomputed.
    """
    document = read_run(run_dir)
    config = DTNConfig.from_dict(document["config"])
    path = data_path if data_path is not None else document["data"]["path"]
    data = load_spoof_data(path, seed=config.seed)
    if data.n != document["data"]["n_samples"]:
        raise ValueError(
            f"{path} no longer matches the run ({data.n} samples, run: "
            f"{document['data']['n_samples']})"
        )
    folds = {
        f.held_out: f
        for f in zero_shot_folds(
            data,
            test_fraction=config.test_fraction,
            validation_fraction=config.validation_fraction,
            seed=config.seed,
        )
    }
    side = data.images.shape[1]
    for saved in document["folds"]:
        state = load_checkpoint(fold_path(run_dir, saved["held_out"]))
        dtn = config.build_dtn(side)
        dtn.load_state_dict(state["dtn"])
        cnn = config.build_cnn(side)
        cnn.load_state_dict(state["cnn"])
        stats = StatsLogistic.from_state({k: v.numpy() for k, v in state["stats"].items()})
        saved.update(_evaluate_fold(data, folds[saved["held_out"]], dtn, cnn, stats, config))
    return document


def summary_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows: each method on each unseen attack, then mean and std over the folds.

    Metrics are in percent (AUC, EER, APCER, BPCER, ACER), the threshold as a score.
    """
    rows: list[dict[str, Any]] = []
    for method in METHODS:
        values: dict[str, list[float]] = {k: [] for k in METRICS}
        for fold in document["folds"]:
            result = fold["methods"][method]
            rows.append(
                {
                    "method": method,
                    "unseen": fold["held_out"],
                    **{k: 100.0 * result[k] for k in METRICS},
                    "threshold": result["threshold"],
                }
            )
            for k in METRICS:
                values[k].append(100.0 * result[k])
        if len(document["folds"]) > 1:
            rows.append(
                {
                    "method": method,
                    "unseen": "mean +- std",
                    **{k: f"{np.mean(v):.1f} +- {np.std(v):.1f}" for k, v in values.items()},
                    "threshold": None,
                }
            )
    return rows


def lookup_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per fold: 1-NN attack-type accuracy on seen attacks, and where the unseen attack lands
    (the most frequent nearest known attack and its share, and the leaves it reaches)."""
    rows = []
    for fold in document["folds"]:
        nearest = fold["unseen_nearest_known"]
        top = max(nearest, key=nearest.get) if nearest else None
        rows.append(
            {
                "unseen": fold["held_out"],
                "seen_1nn_accuracy": fold["seen_attack_1nn_accuracy"],
                "nearest_known": top,
                "share": nearest.get(top, 0.0) if top else None,
                "nearest_all": " ".join(f"{k}:{v:.2f}" for k, v in nearest.items()),
                "unseen_leaves": " ".join(f"{k}:{v}" for k, v in fold["unseen_leaves"].items()),
            }
        )
    return rows
