"""DCNet ablations (Liu et al., CVPR 2018) on Extended Yale B as a closed-set face classifier.

Each person's images are split at random into train and test halves (every identity is in both:
closed set). The network is the trunk of :class:`pyembed.nn.DecoupledDenseNetEmbedding` (the
``--model dcnet`` network of ``pyembed train faces``; ``decoupled=False`` for the CNN baseline),
with its last map average-pooled to a 4x4 grid and a linear head of 38 class logits on it: global
pooling discards the layout that tells lit faces apart, and without batch normalisation the
globally pooled networks stayed at chance for the whole budget. Images are standardised per image
(zero mean, unit standard deviation). Training: softmax cross-entropy and SGD with momentum, as in
the paper, for a few epochs (three rows repeat the optimisation tricks with Adam, the optimiser of
``pyembed train``). Test accuracy is reported as mean +- std over seeds (seed ``s`` draws the
split, the initial weights, the batches and the augmentation). The rows reproduce the directions
of the seed's ablations:

- Table 2 (no batch normalisation): the CNN baseline against TanhConv, LinearConv and SegConv
  with cosine activation; square cosine without BN (the paper: LinearConv and SegConv do not
  converge, TanhConv does but is worse than with cosine).
- Table 4 (with BN): square cosine with BN against cosine; every decoupled operator against the
  CNN.
- Table 1 (optimisation): standard gradients against weight projection (``w <- w / ||w||`` after
  every step) and weighted gradients, and the weighted operators (linear, Eq. 15, Eq. 16).

A run whose loss becomes NaN or infinite is "N/C" (not converged) and scores chance accuracy; a
run whose last-epoch training loss is still above 0.95 log(38) (no progress from chance) is N/C
too, with its measured accuracy. The comparisons at the end are paired (the same seeds, hence the
same splits).

Usage::

    python benchmarks/dcnet.py                                  # 3 seeds, about 20 min, 1 thread
    python benchmarks/dcnet.py --seeds 0 --epochs 4              # a quick look
    python benchmarks/dcnet.py --out-dir benchmarks/results/issue17
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "yaleb32.npz"


@dataclass(frozen=True)
class Setting:
    """One row: network arguments (beyond the shared sizes) and training tricks."""

    name: str
    group: str
    kwargs: dict[str, Any]
    projection: bool = False
    seed_table: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _settings() -> list[Setting]:
    no_bn = {"batch_norm": False}
    rows = [
        Setting("cnn", "no BN", {"decoupled": False, **no_bn}, seed_table="T2 CNN 35.30"),
        Setting("tanh+cos", "no BN", {"magnitude": "tanh", **no_bn}, seed_table="T2 31.88"),
        Setting("linear+cos", "no BN", {"magnitude": "linear", **no_bn}, seed_table="T2 31.76"),
        Setting("seg+cos", "no BN", {"magnitude": "seg", **no_bn}, seed_table="T2 30.34"),
        Setting(
            "tanh+sqcos",
            "no BN",
            {"magnitude": "tanh", "angular": "square_cosine", **no_bn},
            seed_table="T2 34.26",
        ),
        Setting(
            "linear+sqcos",
            "no BN",
            {"magnitude": "linear", "angular": "square_cosine", **no_bn},
            seed_table="T2 N/C",
        ),
        Setting("cnn", "BN", {"decoupled": False}, seed_table="T4 ResNet 26.69"),
        Setting("tanh+cos", "BN", {"magnitude": "tanh"}, seed_table="T4 21.17; T1 std 23.09"),
        Setting("linear+cos", "BN", {"magnitude": "linear"}, seed_table="T4 22.17"),
        Setting(
            "tanh+sqcos",
            "BN",
            {"magnitude": "tanh", "angular": "square_cosine"},
            seed_table="T4 24.77",
        ),
        Setting(
            "linear+sqcos",
            "BN",
            {"magnitude": "linear", "angular": "square_cosine"},
            seed_table="T4 21.31",
        ),
        Setting(
            "tanh+cos projection",
            "BN, optimisation",
            {"magnitude": "tanh"},
            projection=True,
            seed_table="T1 21.17",
        ),
        Setting(
            "tanh+cos weighted gradients",
            "BN, optimisation",
            {"magnitude": "tanh", "weighted_gradients": True},
            seed_table="T1 21.45",
        ),
        Setting(
            "tanh+cos linear weighting",
            "BN, optimisation",
            {"magnitude": "tanh", "weighting": "linear"},
            seed_table="T1 22.95",
        ),
        Setting(
            "tanh+cos Eq. 15",
            "BN, optimisation",
            {"magnitude": "tanh", "weighting": "nonlinear_joint"},
            seed_table="T1 23.03",
        ),
        Setting(
            "tanh+cos Eq. 16",
            "BN, optimisation",
            {"magnitude": "tanh", "weighting": "nonlinear_separate"},
            seed_table="T1 23.38",
        ),
        Setting(
            "tanh+cos Adam",
            "BN, Adam",
            {"magnitude": "tanh"},
            extra={"optimizer": "adam"},
            seed_table="-",
        ),
        Setting(
            "tanh+cos Adam projection",
            "BN, Adam",
            {"magnitude": "tanh"},
            projection=True,
            extra={"optimizer": "adam"},
            seed_table="-",
        ),
        Setting(
            "tanh+cos Adam weighted gradients",
            "BN, Adam",
            {"magnitude": "tanh", "weighted_gradients": True},
            extra={"optimizer": "adam"},
            seed_table="-",
        ),
    ]
    return rows


def _key(setting: Setting) -> str:
    return f"{setting.name} [{setting.group}]"


# The seed's claims, each as (description, better row, worse row): "better" should have the
# higher test accuracy if the claim carries over.
CLAIMS: list[tuple[str, str, str]] = [
    ("T2: TanhConv+cos beats the CNN without BN", "tanh+cos [no BN]", "cnn [no BN]"),
    ("T2: LinearConv+cos beats the CNN without BN", "linear+cos [no BN]", "cnn [no BN]"),
    ("T2: SegConv+cos beats the CNN without BN", "seg+cos [no BN]", "cnn [no BN]"),
    ("T2: without BN, TanhConv cos beats sq. cos", "tanh+cos [no BN]", "tanh+sqcos [no BN]"),
    (
        "T2: without BN, LinearConv sq. cos fails (N/C)",
        "linear+cos [no BN]",
        "linear+sqcos [no BN]",
    ),
    ("T4: with BN, LinearConv sq. cos trains", "linear+sqcos [BN]", "linear+sqcos [no BN]"),
    ("T4: with BN, LinearConv sq. cos >= cos", "linear+sqcos [BN]", "linear+cos [BN]"),
    ("T4: with BN, TanhConv cos beats sq. cos", "tanh+cos [BN]", "tanh+sqcos [BN]"),
    ("T4: with BN, TanhConv+cos beats the CNN", "tanh+cos [BN]", "cnn [BN]"),
    ("T4: with BN, LinearConv+cos beats the CNN", "linear+cos [BN]", "cnn [BN]"),
    (
        "T1: weight projection beats standard gradients",
        "tanh+cos projection [BN, optimisation]",
        "tanh+cos [BN]",
    ),
    (
        "T1: weighted gradients beat standard gradients",
        "tanh+cos weighted gradients [BN, optimisation]",
        "tanh+cos [BN]",
    ),
    (
        "T1: linear weighting: no clear gain",
        "tanh+cos linear weighting [BN, optimisation]",
        "tanh+cos [BN]",
    ),
    (
        "T1: Eq. 15 weighting: no clear gain",
        "tanh+cos Eq. 15 [BN, optimisation]",
        "tanh+cos [BN]",
    ),
    (
        "T1: Eq. 16 weighting: no clear gain",
        "tanh+cos Eq. 16 [BN, optimisation]",
        "tanh+cos [BN]",
    ),
    (
        "ours: with Adam, weighted gradients: no clear gain (Adam cancels the scale)",
        "tanh+cos Adam weighted gradients [BN, Adam]",
        "tanh+cos Adam [BN, Adam]",
    ),
    (
        "ours: with Adam, weight projection beats standard gradients",
        "tanh+cos Adam projection [BN, Adam]",
        "tanh+cos Adam [BN, Adam]",
    ),
]


def _split(labels: Any, train_fraction: float, seed: int) -> tuple[Any, Any]:
    """Row indices: per identity, a random ``train_fraction`` of its images to train on."""
    import numpy as np

    rng = np.random.default_rng(seed)
    train, test = [], []
    for identity in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == identity))
        cut = int(round(train_fraction * rows.size))
        train.append(rows[:cut])
        test.append(rows[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _run(setting: Setting, data: Any, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train one row with one seed; test accuracy and how training went."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from pyembed.nn import DecoupledDenseNetEmbedding, project_weights_
    from pyembed.train import ImageAugment, image_tensor

    started = time.perf_counter()
    train_rows, test_rows = _split(data.labels, args.train_fraction, seed)
    codes = np.unique(data.labels, return_inverse=True)[1]
    n_classes = int(codes.max()) + 1
    images = image_tensor(data.images)
    if args.standardize:  # per image: zero mean, unit standard deviation over its pixels
        flat = images.flatten(1)
        images = ((flat - flat.mean(1, keepdim=True)) / (flat.std(1, keepdim=True) + 1e-6)).view_as(
            images
        )
    labels = torch.from_numpy(codes.astype(np.int64))
    x_train, y_train = images[train_rows], labels[train_rows]
    torch.manual_seed(seed)
    model = DecoupledDenseNetEmbedding(
        1,
        n_classes,
        growth_rate=args.growth_rate,
        block_sizes=tuple(args.block_sizes),
        stem_stride=2,
        **setting.kwargs,
    )
    if args.pool_size > 1:  # keep a coarse spatial map: a linear head on the flattened grid
        channels = model.head.in_features
        model.pool = torch.nn.AdaptiveAvgPool2d(args.pool_size)
        model.head = torch.nn.Linear(channels * args.pool_size**2, n_classes)
    optimizer_name = setting.extra.get("optimizer", args.optimizer)
    if optimizer_name == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay
        )
    else:
        optimizer = torch.optim.Adam(
            model.parameters(), lr=args.adam_lr, weight_decay=args.weight_decay
        )
    steps_per_epoch = math.ceil(len(train_rows) / args.batch_size)
    total = args.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total))
    )
    augment = ImageAugment(flip=True, max_shift=2)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    converged = True
    model.train()
    for _epoch in range(args.epochs):
        order = torch.randperm(len(train_rows), generator=generator)
        epoch_loss = 0.0
        for start in range(0, len(order), args.batch_size):
            rows = order[start : start + args.batch_size]
            logits = model(augment(x_train[rows], generator))
            loss = F.cross_entropy(logits, y_train[rows])
            if not torch.isfinite(loss):
                converged = False
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if setting.projection:
                project_weights_(model, 1.0)
            epoch_loss += float(loss.detach()) * len(rows)
        if not converged:
            break
        losses.append(epoch_loss / len(order))
    accuracy = 1.0 / n_classes  # a diverged run scores chance
    if converged:
        model.eval()
        with torch.no_grad():
            predicted = torch.cat(
                [
                    model(images[test_rows[i : i + 512]]).argmax(dim=1)
                    for i in range(0, len(test_rows), 512)
                ]
            )
        accuracy = float((predicted == labels[test_rows]).float().mean())
        # no progress from chance (log n_classes) counts as not converged too
        if not losses or losses[-1] >= 0.95 * math.log(n_classes):
            converged = False
    return {
        "seed": seed,
        "accuracy": accuracy,
        "converged": converged,
        "losses": losses,
        "n_train": int(len(train_rows)),
        "n_test": int(len(test_rows)),
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": time.perf_counter() - started,
    }


def _mean_std(values: list[float]) -> tuple[float, float]:
    import numpy as np

    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def _claims(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Paired differences (better - worse, accuracy points) per claim, and a verdict."""
    rows = []
    for text, better, worse in CLAIMS:
        if better not in results or worse not in results:
            continue
        a = {r["seed"]: r for r in results[better]}
        b = {r["seed"]: r for r in results[worse]}
        seeds = sorted(set(a) & set(b))
        diffs = [100 * (a[s]["accuracy"] - b[s]["accuracy"]) for s in seeds]
        mean, std = _mean_std(diffs)
        agree = sum(d > 0 for d in diffs)
        if "no clear gain" in text:
            verdict = "holds" if abs(mean) <= max(2 * std, 1.0) or mean < 0 else "does not hold"
        elif "fails (N/C)" in text:
            failed = sum(not b[s]["converged"] for s in seeds)
            verdict = f"{'holds' if failed == len(seeds) else 'does not hold'} (N/C {failed}/{len(seeds)})"
        elif agree == len(seeds) and mean > 0:
            verdict = f"holds ({agree}/{len(seeds)} seeds)"
        elif agree == 0 and mean < 0:
            verdict = f"reversed ({len(seeds)}/{len(seeds)} seeds)"
        else:
            verdict = f"mixed ({agree}/{len(seeds)} seeds)"
        rows.append({"claim": text, "diff": mean, "std": std, "verdict": verdict})
    return rows


def _plot(settings: list[Setting], results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [_key(s) for s in settings if _key(s) in results]
    means = [100 * np.mean([r["accuracy"] for r in results[k]]) for k in keys]
    stds = [100 * np.std([r["accuracy"] for r in results[k]], ddof=1) for k in keys]
    colours = {
        "no BN": "tab:orange",
        "BN": "tab:blue",
        "BN, optimisation": "tab:green",
        "BN, Adam": "tab:purple",
    }
    groups = {_key(s): s.group for s in settings}
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.bar(range(len(keys)), means, yerr=stds, color=[colours[groups[k]] for k in keys], capsize=3)
    ax.set_xticks(range(len(keys)), [k.replace(" [", "\n[") for k in keys], rotation=70, fontsize=7)
    ax.set_ylabel("test accuracy % (mean +- std)")
    ax.set_title("DCNet ablations on Extended Yale B (closed set, per-identity split)")
    ax.grid(axis="y", alpha=0.3)
    lo = max(0.0, min(m - s for m, s in zip(means, stds, strict=True)) - 5)
    ax.set_ylim(lo, 100)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FACES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1, help="SGD peak learning rate (cosine)")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    parser.add_argument("--adam-lr", type=float, default=3e-3, help="Adam peak learning rate")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--train-fraction", type=float, default=0.5)
    parser.add_argument("--growth-rate", type=int, default=8)
    parser.add_argument("--block-sizes", type=int, nargs="+", default=[2, 2])
    parser.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scale each image to zero mean and unit std over its pixels (--no-standardize: "
        "pixels in [0, 1] as stored)",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=4,
        help="average-pool the last map to this grid before the linear head (1: global pooling)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None, help="row names to run (default all)")
    parser.add_argument("--out-dir", type=Path, default=None, help="write md, json and png here")
    args = parser.parse_args()

    import torch

    from pyembed.datasets.faces import load_faces

    torch.set_num_threads(args.threads)
    data = load_faces(args.data)
    settings = [s for s in _settings() if args.only is None or s.name in args.only]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {data.name}: "
        f"{data.n} images {data.images.shape[1:]}, {data.n_identities} identities; "
        f"{vars(args)}",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {}
    for setting in settings:
        for seed in args.seeds:
            record = _run(setting, data, seed, args)
            results.setdefault(_key(setting), []).append(record)
            print(
                f"{_key(setting):48s} seed {seed}: acc {100 * record['accuracy']:5.1f}% "
                f"{'' if record['converged'] else 'N/C '}"
                f"loss {record['losses'][-1] if record['losses'] else float('nan'):.3f} "
                f"({record['seconds']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.perf_counter() - started

    first = next(iter(results.values()))[0]
    lines = [
        "# DCNet ablations on Extended Yale B (benchmarks/dcnet.py)",
        "",
        f"Command: `python benchmarks/dcnet.py {' '.join(sys.argv[1:])}`; torch "
        f"{torch.__version__}, {args.threads} thread(s), {elapsed / 60:.1f} min in all.",
        "",
        f"Data: {data.name}, {data.n} images {data.images.shape[1]}x{data.images.shape[2]}, "
        f"{data.n_identities} identities; each identity's images split at random "
        f"{args.train_fraction:.0%} train / rest test ({first['n_train']} / {first['n_test']} "
        f"images), a new split per seed (seeds {args.seeds}). Network: DenseNet, growth "
        f"{args.growth_rate}, blocks {args.block_sizes}, stem stride 2, linear head of "
        f"{data.n_identities} logits ({first['parameters']} parameters for the first row). "
        f"Last map pooled to {args.pool_size}x{args.pool_size}, then the linear head. Images "
        f"{'standardised per image' if args.standardize else 'in [0, 1] as stored'}. "
        f"Training: cross-entropy, SGD momentum 0.9, lr {args.lr} with cosine decay (Adam rows: "
        f"lr {args.adam_lr}, same decay), weight decay {args.weight_decay}, batch "
        f"{args.batch_size}, {args.epochs} epochs, flips and shifts of up to 2 pixels. "
        "Projection: every decoupled kernel w <- w / ||w|| after every step. N/C: the loss "
        "became non-finite (accuracy = chance), or the last epoch's training loss is above "
        "0.95 log(38) (no progress from chance).",
        "",
        "| row | group | seed's table (error %) | test accuracy % (mean +- std) | per seed | "
        "N/C | final train loss | s/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for setting in settings:
        runs = results[_key(setting)]
        mean, std = _mean_std([100 * r["accuracy"] for r in runs])
        per_seed = ", ".join(f"{100 * r['accuracy']:.1f}" for r in runs)
        failed = sum(not r["converged"] for r in runs)
        final = [r["losses"][-1] for r in runs if r["losses"] and math.isfinite(r["losses"][-1])]
        loss = f"{sum(final) / len(final):.3f}" if final else "-"
        seconds = sum(r["seconds"] for r in runs) / len(runs)
        lines.append(
            f"| {setting.name} | {setting.group} | {setting.seed_table} | {mean:.1f} +- {std:.1f} "
            f"| {per_seed} | {failed}/{len(runs)} | {loss} | {seconds:.0f} |"
        )
    lines += [
        "",
        "Seed's claims, as paired differences (first row minus second, accuracy points, mean +- "
        "std over seeds):",
        "",
        "| claim | difference | verdict |",
        "|---|---|---|",
    ]
    for claim in _claims(results):
        lines.append(
            f"| {claim['claim']} | {claim['diff']:+.1f} +- {claim['std']:.1f} | "
            f"{claim['verdict']} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "dcnet.md").write_text(text, encoding="utf-8")
        (args.out_dir / "dcnet.json").write_text(
            json.dumps({"args": vars(args), "results": results}, indent=1, default=str) + "\n",
            encoding="utf-8",
        )
        _plot(settings, results, args.out_dir / "dcnet.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
