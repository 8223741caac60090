"""The Deep Tree Network's zero-shot anti-spoofing table on Olivetti and Extended Yale B.

For each face set (``shared/data/faces``), attacks are synthesised at 64x64 over the real faces
(:mod:`pyembed.datasets.spoof`: print, replay, paper mask, partial occlusion, recapture,
3D-mask-like), and every attack type is held out in turn (identity-disjoint, threshold fixed on
validation identities). The DTN, a plain CNN of the same units and a logistic regression on image
statistics are trained on the same folds (:func:`pyembed.train.dtn.run_protocol`, the code of
``pyembed train dtn``). Printed: AUC, EER, APCER, BPCER and ACER (%) per unseen attack and as
mean +- std, the look-up of unseen attacks among the known ones, and per-leaf counts.

These are synthetic attacks: an internal benchmark, not comparable to SiW-M numbers.

Usage::

    python benchmarks/dtn.py                                   # both sets, about 30 min, 2 cores
    python benchmarks/dtn.py --faces olivetti --steps 200      # quicker
    python benchmarks/dtn.py --out-dir benchmarks/results/issue14
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

FACES_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"


def _plot(documents: dict[str, dict[str, Any]], path: Path) -> None:
    """ACER per unseen attack and method, one panel per face set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from pyembed.train.dtn import METHODS

    fig, axes = plt.subplots(1, len(documents), figsize=(7 * len(documents), 4), squeeze=False)
    for ax, (name, doc) in zip(axes[0], documents.items(), strict=True):
        folds = [f["held_out"] for f in doc["folds"]]
        x = np.arange(len(folds))
        width = 0.8 / len(METHODS)
        for i, method in enumerate(METHODS):
            acer = [100 * f["methods"][method]["acer"] for f in doc["folds"]]
            ax.bar(x + i * width - 0.4 + width / 2, acer, width, label=method)
        ax.set_xticks(x, folds, rotation=20)
        ax.set_ylabel("ACER on the unseen attack (%)")
        ax.set_title(f"{name}: leave one attack out")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", nargs="+", default=["olivetti", "yaleb32"])
    parser.add_argument("--faces-dir", type=Path, default=FACES_DIR)
    parser.add_argument("--steps", type=int, default=None, help="default: DTNConfig's")
    parser.add_argument("--warmup-steps", type=int, default=None)
    parser.add_argument("--alternate", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cnn-width", type=int, default=None, help="default: DTNConfig's")
    parser.add_argument("--attacks", default=None, help="comma-separated folds; default all")
    parser.add_argument("--out-dir", type=Path, default=None, help="write md, json and png here")
    parser.add_argument(
        "--run-root",
        type=Path,
        default=None,
        help="keep the run directories here (default: a temporary folder)",
    )
    args = parser.parse_args()

    import tempfile

    import torch

    from pyembed.cli.train_dtn import render_dtn_report
    from pyembed.train.dtn import DTNConfig, run_protocol

    overrides: dict[str, Any] = {"seed": args.seed, "alternate": args.alternate}
    if args.steps is not None:
        overrides["steps"] = args.steps
        overrides["warmup_steps"] = min(args.steps, DTNConfig().warmup_steps)
    if args.warmup_steps is not None:
        overrides["warmup_steps"] = args.warmup_steps
    if args.cnn_width is not None:
        overrides["cnn_width"] = args.cnn_width
    config = DTNConfig(**overrides)
    attacks = tuple(args.attacks.split(",")) if args.attacks else None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {config}", flush=True)
    documents: dict[str, dict[str, Any]] = {}
    texts = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.run_root or Path(tmp)
        for name in args.faces:
            started = time.perf_counter()
            doc = run_protocol(
                args.faces_dir / f"{name}.npz",
                root / name,
                config,
                attacks=attacks,
                progress=True,
            )
            documents[name] = doc
            text = render_dtn_report(doc, "table")
            leaves = "\n".join(
                f"  -{f['held_out']}: train spoof leaves {f['train_spoof_leaves']}, "
                f"params dtn {f['parameters']['dtn']} cnn {f['parameters']['cnn']}, "
                f"{f['seconds']:.0f} s"
                for f in doc["folds"]
            )
            text = f"## {name} ({time.perf_counter() - started:.0f} s)\n\n{text}\n{leaves}\n"
            texts.append(text)
            print(text, flush=True)
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        header = (
            "# benchmarks/dtn.py\n\n"
            f"Command: `python benchmarks/dtn.py {' '.join(sys.argv[1:])}`\n\n"
            f"Config: `{json.dumps(config.to_dict())}`\n\n"
        )
        body = "\n".join(f"```\n{t}```\n" for t in texts)
        (args.out_dir / "dtn.md").write_text(header + body, encoding="utf-8")
        (args.out_dir / "dtn.json").write_text(
            json.dumps(documents, indent=1, default=str) + "\n", encoding="utf-8"
        )
        _plot(documents, args.out_dir / "dtn_acer.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
