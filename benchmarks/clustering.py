"""The clustering recipe (``pyembed train ucr NAME --loss clustering``) on the bundled UCR sets.

Issue 17, part 4. For every bundled UCR data set and seed, the script trains the recipe through the
CLI exactly as a user would (the 1-D DenseNet embedding plus a linear cluster head of K outputs,
trained on TRAIN with the entropy clustering loss of Jensen et al., ICASSP 2020; labels unused,
batches drawn at random; K = the number of TRAIN classes, the one fact about the labels it is
given), evaluates the run directory with ``pyembed eval RUN_DIR``, and prints per data set:

- the 1-NN TEST error of the learned embedding against the TRAIN embeddings (``pyembed eval``'s
  ``learned`` row), next to 1-NN with Euclidean distance on the raw z-normalised series (exact
  search through :class:`pyembed.Index`) and exact full DTW (``pyembed eval``'s ``dtw-full`` row);
- the purity and normalised mutual information (NMI, arithmetic mean of the two entropies, as
  scikit-learn's default) of the cluster head's arg-max assignment of the TEST series against the
  true TEST classes, and how many of the K clusters it uses on TEST;
- as references for those two numbers: k-means (K clusters, k-means++ with 10 starts, fit on the
  z-normalised TRAIN series, TEST assigned to the nearest centroid), and the purity of putting
  every series in one cluster (the majority-class share; its NMI is 0).

Usage::

    python benchmarks/clustering.py                   # 4 sets x 3 seeds, about 6 minutes, 1 thread
    python benchmarks/clustering.py --ucr Coffee --seeds 0 --epochs 5
    python benchmarks/clustering.py --out benchmarks/results/issue17/clustering.md
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BUNDLED = ("ArrowHead", "Coffee", "GunPoint", "ItalyPowerDemand")

#: the network and batches of benchmarks/train.py's UCR runs (32-d embedding, 10 batches/epoch)
TRAIN_ARGS = [
    "--embedding-dim", "32", "--growth-rate", "12", "--block-sizes", "2,2,2",
    "--n-identities", "8", "--n-per-identity", "8", "--n-batches", "10",
    "--threads", "1", "--no-progress",
]  # fmt: skip


def purity(assigned: np.ndarray, truth: np.ndarray) -> float:
    """Share of items whose cluster's majority class is their class."""
    total = 0
    for cluster in np.unique(assigned):
        total += int(np.bincount(truth[assigned == cluster]).max())
    return total / truth.size


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(assigned: np.ndarray, truth: np.ndarray) -> float:
    """Normalised mutual information ``I(U; V) / ((H(U) + H(V)) / 2)`` (nats cancel).

    Two single-cluster labelings count as identical (1.0); one single-cluster labeling against
    any other gives 0.0 (scikit-learn's conventions).
    """
    _, u = np.unique(assigned, return_inverse=True)
    _, v = np.unique(truth, return_inverse=True)
    joint = np.zeros((u.max() + 1, v.max() + 1))
    np.add.at(joint, (u, v), 1.0)
    h_u, h_v = _entropy(joint.sum(axis=1)), _entropy(joint.sum(axis=0))
    if h_u == 0.0 and h_v == 0.0:
        return 1.0
    mutual = h_u + h_v - _entropy(joint.ravel())
    return max(0.0, mutual) / (0.5 * (h_u + h_v))


def kmeans(
    train: np.ndarray, test: np.ndarray, k: int, seed: int, n_starts: int = 10
) -> np.ndarray:
    """Lloyd's k-means with k-means++ starts fit on ``train``; ``test``'s nearest centroids."""
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for _ in range(n_starts):
        centers = train[[rng.integers(train.shape[0])]]
        while centers.shape[0] < k:
            d2 = ((train[:, None, :] - centers[None]) ** 2).sum(-1).min(1)
            centers = np.vstack([centers, train[rng.choice(train.shape[0], p=d2 / d2.sum())]])
        for _ in range(100):
            assigned = ((train[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)
            moved = np.stack(
                [train[assigned == c].mean(0) if (assigned == c).any() else centers[c]
                 for c in range(k)]
            )  # fmt: skip
            if np.allclose(moved, centers):
                break
            centers = moved
        inertia = ((train - centers[assigned]) ** 2).sum()
        if inertia < best_inertia:
            best, best_inertia = centers, inertia
    assert best is not None
    return ((test[:, None, :] - best[None]) ** 2).sum(-1).argmin(1)


def _invoke(args: list[str]) -> str:
    from click.testing import CliRunner

    from pyembed.cli import main

    result = CliRunner().invoke(main, args)
    if result.exit_code != 0:
        raise SystemExit(f"pyembed {' '.join(args)} failed:\n{result.output}")
    return result.stdout


def run_one(name: str, seed: int, epochs: int, gamma: float, work: Path) -> dict[str, Any]:
    """Train, evaluate and score one (data set, seed)."""
    import torch

    from pyembed import Index
    from pyembed.datasets.ucr import load_pair
    from pyembed.metrics import knn_error
    from pyembed.train import build_objective, load_checkpoint

    train, test = load_pair(name, znorm=True)
    _, codes = np.unique(np.concatenate([train.y, test.y]).astype(str), return_inverse=True)
    y_train, y_test = codes[: train.n], codes[train.n :]
    k = int(np.unique(y_train).size)
    run_dir = work / f"{name}-seed{seed}"
    start = time.perf_counter()
    summary = json.loads(
        _invoke(
            [
                "train",
                "ucr",
                name,
                "--run-dir",
                str(run_dir),
                "--loss",
                "clustering",
                "--n-clusters",
                str(k),
                "--clustering-gamma",
                str(gamma),
                "--epochs",
                str(epochs),
                "--seed",
                str(seed),
                *TRAIN_ARGS,
                "--format",
                "json",
            ]
        )  # fmt: skip
    )
    train_seconds = time.perf_counter() - start
    rows = {
        row["method"]: row
        for row in json.loads(
            _invoke(["eval", str(run_dir), "--threads", "1", "--format", "json"])
        )["results"]
    }

    index = Index(train.X.shape[1], "euclidean")
    index.add(np.ascontiguousarray(train.X, dtype=np.float32))
    found = index.search(np.ascontiguousarray(test.X, dtype=np.float32), k=1, exact=True)
    euclidean = knn_error(found.ids, y_train, y_test)

    state = load_checkpoint(run_dir / "model.pt")
    objective = state["metadata"]["objective"]
    head, _ = build_objective(
        "clustering",
        embedding_dim=32,
        n_classes=k,
        n_clusters=objective["n_clusters"],
        clustering_gamma=objective["clustering_gamma"],
    )
    head.load_state_dict(state["loss"])
    with np.load(run_dir / "embeddings.npz") as arrays:
        test_embeddings = arrays["embeddings"][arrays["is_test"]]
    assigned = head.assign(torch.from_numpy(test_embeddings)).numpy()
    means = kmeans(train.X.astype(np.float64), test.X.astype(np.float64), k, seed)
    row = {
        "data": name,
        "seed": seed,
        "k": k,
        "n_train": train.n,
        "n_test": test.n,
        "learned_1nn": rows["learned"]["one_nn_error"],
        "euclidean_1nn": euclidean,
        "dtw_full_1nn": rows["dtw-full"]["one_nn_error"],
        "head_purity": purity(assigned, y_test),
        "head_nmi": nmi(assigned, y_test),
        "head_clusters_used": int(np.unique(assigned).size),
        "kmeans_purity": purity(means, y_test),
        "kmeans_nmi": nmi(means, y_test),
        "majority_purity": float(np.bincount(y_test).max() / y_test.size),
        "final_loss": summary["final_loss"],
        "train_seconds": train_seconds,
    }
    try:  # cross-check the NMI above where scikit-learn is installed
        from sklearn.metrics import normalized_mutual_info_score
    except ImportError:
        pass
    else:
        for ours, labels in (("head_nmi", assigned), ("kmeans_nmi", means)):
            theirs = float(normalized_mutual_info_score(y_test, labels))
            if abs(theirs - row[ours]) > 1e-9:
                raise SystemExit(f"{name}: {ours} {row[ours]} but scikit-learn says {theirs}")
    return row


COLUMNS = [
    ("data", "data"),
    ("seed", "seed"),
    ("k", "K"),
    ("learned_1nn", "learned 1-NN err"),
    ("euclidean_1nn", "Euclidean 1-NN err"),
    ("dtw_full_1nn", "full-DTW 1-NN err"),
    ("head_purity", "head purity"),
    ("head_nmi", "head NMI"),
    ("head_clusters_used", "clusters used"),
    ("kmeans_purity", "k-means purity"),
    ("kmeans_nmi", "k-means NMI"),
    ("majority_purity", "one-cluster purity"),
    ("train_seconds", "train s"),
]


def _cell(value: Any, key: str) -> str:
    if key == "train_seconds":
        return f"{value:.1f}"
    if key == "head_clusters_used" and isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def render(rows: list[dict[str, Any]], settings: str) -> str:
    """A markdown table of every row, then the per-data-set means over seeds."""
    lines = [
        "# The clustering recipe on the bundled UCR sets (benchmarks/clustering.py)",
        "",
        settings,
        "",
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "|".join("---" if key == "data" else "---:" for key, _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[key], key) for key, _ in COLUMNS) + " |")
    lines += ["", "Means over the seeds:", ""]
    numeric = [key for key, _ in COLUMNS if key not in ("data", "seed", "k")]
    lines.append("| data | " + " | ".join(t for key, t in COLUMNS if key in numeric) + " |")
    lines.append("|---|" + "|".join("---:" for _ in numeric) + "|")
    for name in dict.fromkeys(row["data"] for row in rows):
        mine = [row for row in rows if row["data"] == name]
        means = [float(np.mean([row[key] for row in mine])) for key in numeric]
        lines.append(
            f"| {name} | "
            + " | ".join(_cell(m, key) for m, key in zip(means, numeric, strict=True))
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ucr", nargs="*", default=list(BUNDLED), help="Bundled UCR data sets.")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--gamma", type=float, default=1.0, help="--clustering-gamma.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the table here.")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.ucr:
            for seed in args.seeds:
                row = run_one(name, seed, args.epochs, args.gamma, Path(work))
                rows.append(row)
                print(
                    f"{name} seed {seed}: learned 1-NN {row['learned_1nn']:.4f}, Euclidean "
                    f"{row['euclidean_1nn']:.4f}, head purity {row['head_purity']:.4f} NMI "
                    f"{row['head_nmi']:.4f} ({row['train_seconds']:.0f} s)",
                    file=sys.stderr,
                )
    settings = (
        f"`pyembed train ucr NAME --loss clustering --n-clusters K --clustering-gamma "
        f"{args.gamma:g} --epochs {args.epochs} --seed SEED {' '.join(TRAIN_ARGS)}` "
        "(K = number of TRAIN classes; z-normalised series; the default augmentation), then "
        "`pyembed eval RUN_DIR`. Errors and purity/NMI are on TEST; the cluster head and k-means "
        "see only TRAIN series during fitting, and no labels. torch 1 thread; total "
        f"{time.perf_counter() - start:.0f} s."
    )
    text = render(rows, settings)
    sys.stdout.write(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
