"""A picture of the synthetic presentation attacks: faces by row, live and each attack by column,
and the spoof masks of the first face below (:mod:`pyembed.datasets.spoof`).

Usage::

    python benchmarks/dtn_attacks.py --data ../shared/data/faces/olivetti.npz \\
        --out benchmarks/results/issue14/attacks.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


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
    data = make_spoof_set(faces.images, faces.labels, seed=args.seed)
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
