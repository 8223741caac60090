"""A picture of the synthetic presentation attacks: faces by row, live and each attack by column,
and the spoof masks of the first face below (:mod:`pyembed.datasets.spoof`).

Also printed: the time to make the whole set, and per attack how well single global image
statistics (mean, standard deviation, share of spectral power above 0.25 cycles/px) separate it
from the live samples (AUC, 0.5 = no cue; values far from 0.5 either way are shortcut cues).

Usage::

    python benchmarks/dtn_attacks.py --data ../shared/data/faces/olivetti.npz \\
        --out benchmarks/results/issue14/attacks.png
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count 1/2), by ranks."""
    scores = np.concatenate([positive, negative])
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # average ranks of ties
    n_pos = positive.size
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * negative.size))


def _statistics(images: np.ndarray) -> dict[str, np.ndarray]:
    """Global statistics per image: mean, standard deviation, high-frequency power share."""
    centred = images - images.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(centred)) ** 2
    fy, fx = np.meshgrid(
        np.fft.fftfreq(images.shape[1]), np.fft.fftfreq(images.shape[2]), indexing="ij"
    )
    high = np.hypot(fy, fx) > 0.25
    return {
        "mean": images.mean(axis=(1, 2)),
        "std": images.std(axis=(1, 2)),
        "hf": power[:, high].sum(axis=1) / (power.sum(axis=(1, 2)) + 1e-12),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="face .npz")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--faces", type=int, default=4, help="rows (faces of distinct people)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pyembed.datasets.faces import load_faces
    from pyembed.datasets.spoof import make_spoof_set

    faces = load_faces(args.data)
    _, first = np.unique(faces.labels, return_index=True)
    rows = np.sort(first)[: args.faces]
    # keep every face (donors of the partial attack come from all identities) but show `rows`
    start = time.perf_counter()
    data = make_spoof_set(faces.images, faces.labels, seed=args.seed)
    seconds = time.perf_counter() - start
    print(f"{faces.name}: {data.n} samples of {faces.n} faces in {seconds:.1f} s")
    stats = _statistics(data.images)
    live = ~data.is_spoof
    print(f"{'attack':<11} {'mean':>6} {'AUC':>5} {'std':>6} {'AUC':>5} {'hf':>6} {'AUC':>5}")
    for code, name in enumerate(("live", *data.attack_names), start=-1):
        of_kind = data.attack == code
        cells = []
        for key in ("mean", "std", "hf"):
            auc = _auc(stats[key][of_kind], stats[key][live]) if code >= 0 else 0.5
            cells.append(f"{stats[key][of_kind].mean():6.3f} {auc:5.2f}")
        print(f"{name:<11} {' '.join(cells)}")
    per = 1 + len(data.attack_names)
    names = ("live", *data.attack_names)
    fig, axes = plt.subplots(len(rows) + 1, per, figsize=(1.6 * per, 1.7 * (len(rows) + 1)))
    for r, face in enumerate(rows):
        for c in range(per):
            ax = axes[r, c]
            ax.imshow(data.images[face * per + c], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[c], fontsize=9)
    for c in range(per):
        ax = axes[-1, c]
        ax.imshow(data.masks[rows[0] * per + c], cmap="magma", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1, 0].set_ylabel("mask", fontsize=9)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
