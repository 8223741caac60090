"""``pyembed train ucr NAME --model recursive-ae|neural-grammar``: the recursive models.

The recursive autoencoder and the neural grammar (:mod:`pyembed.nn.recursive`) train on the TRAIN
series without their labels (:func:`pyembed.train.recursive.fit_recursive`), then embed TRAIN and
TEST into the same run-directory layout as the DenseNet (``pyembed eval`` and ``pyembed query``
read it back), plus ``trees.json``: every series' greedy merge tree.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from pyembed.cli._common import given_by_user

if TYPE_CHECKING:
    from pyembed.cli.train import TrainingArgs
    from pyembed.train.data import TrainingData

__all__ = ["RECURSIVE_MODELS", "TREES_FILE", "run_recursive"]

RECURSIVE_MODELS: dict[str, str] = {
    "recursive-ae": "RecursiveAutoencoder",
    "neural-grammar": "NeuralGrammar",
}
"""``--model`` names of the recursive models and their classes in :mod:`pyembed.nn.recursive`."""

TREES_FILE = "trees.json"

# Options of `train ucr` the recursive models have no use for (they are unsupervised and have
# their own layout), by click parameter name -> option as the user types it.
_UNUSED = {
    "loss_name": "--loss",
    "miner": "--miner",
    "margin": "--margin",
    "center_weight": "--center-weight",
    "center_alpha": "--center-alpha",
    "center_update": "--center-update",
    "n_clusters": "--n-clusters",
    "clustering_gamma": "--clustering-gamma",
    "embedding_dim": "--embedding-dim",
    "growth_rate": "--growth-rate",
    "block_sizes": "--block-sizes",
    "compression": "--compression",
    "magnitude": "--magnitude",
    "angular": "--angular",
    "weighting": "--weighting",
    "weighted_gradients": "--weighted-gradients",
    "batch_norm": "--batch-norm",
    "weight_projection": "--weight-projection",
    "weight_decay": "--weight-decay",
    "max_shift_pct": "--max-shift-pct",
    "scale": "--scale",
    "noise_std": "--noise-std",
}


def _check_options(model: str, args: TrainingArgs) -> None:
    """Refuse options given on the command line that a recursive model would ignore."""
    for name, option in _UNUSED.items():
        if given_by_user(name):
            raise click.BadParameter(
                f"does not apply to --model {model} (trained without labels on its own "
                "objective; see `pyembed train ucr --help`)",
                param_hint=option,
            )
    if args.resume:
        raise click.BadParameter(
            f"--model {model} trains in one go (a few seconds per epoch); start over with "
            "--overwrite",
            param_hint="--resume",
        )


def run_recursive(
    args: TrainingArgs,
    data: TrainingData,
    *,
    model: str,
    frame_width: int | None,
    pool: str,
    hidden: int,
    max_segments: int,
) -> None:
    """Train a recursive model on ``data``'s TRAIN series and write the run directory.

    Parameters
    ----------
    args : TrainingArgs
        The shared ``train`` options: ``--epochs``, ``--n-batches`` (batches per epoch; default
        one pass), ``--n-identities`` x ``--n-per-identity`` (the batch size), ``--max-lr``
        (Adam's constant learning rate; default 1e-3 for these models), ``--seed``,
        ``--normalize``, ``--graph`` and the run-directory and output options.
    data : TrainingData
        From :func:`pyembed.train.data.ucr_training_data`.
    model : {"recursive-ae", "neural-grammar"}
    frame_width : int or None
        Samples per frame; None: :func:`pyembed.nn.recursive.default_frame_width`.
    pool : {"root", "mean"}
    hidden : int
        The grammar's projection size.
    max_segments : int
        The grammar's splices have 2 to this many segments.
    """
    _check_options(model, args)
    import torch

    from pyembed.cli.train import (
        _emit_summary,
        _prepare_checkpoint,
        _write_run,
    )
    from pyembed.nn.recursive import GreedyMerger, default_frame_width
    from pyembed.train.checkpoint import save_checkpoint
    from pyembed.train.recipes import build_model
    from pyembed.train.recursive import RecursiveConfig, fit_recursive

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    length = int(data.data["length"])
    width = default_frame_width(length) if frame_width is None else frame_width
    if width > length:
        raise click.BadParameter(
            f"must be at most the series length {length}, got {width}", param_hint="--frame-width"
        )
    checkpoint = _prepare_checkpoint(args)
    kwargs: dict[str, Any] = {"frame_width": width, "in_channels": 1, "pool": pool}
    if model == "neural-grammar":
        kwargs["hidden"] = hidden
    kwargs["normalize"] = bool(args.normalize)  # off unless --normalize
    spec = {"class": RECURSIVE_MODELS[model], "kwargs": kwargs}
    try:
        config = RecursiveConfig(
            epochs=args.epochs,
            batches_per_epoch=args.n_batches,
            batch_size=args.n_identities * args.n_per_identity,
            lr=args.max_lr if given_by_user("max_lr") else RecursiveConfig().lr,
            max_segments=max_segments,
            seed=args.seed,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    objective = {
        "loss": "reconstruction" if model == "recursive-ae" else "merge-correctness",
        "recursive": config.to_dict(),
    }
    metadata = {"kind": data.kind, "model": spec, "objective": objective, "data": data.data}
    torch.manual_seed(args.seed)
    network = build_model(spec)
    assert isinstance(network, GreedyMerger)
    try:
        history = fit_recursive(
            network, data.train_inputs, config, progress=args.progress is not False
        )
    except ValueError as exc:
        raise click.UsageError(f"--model {model}: {exc}") from None
    save_checkpoint(
        {
            "config": config.to_dict(),
            "metadata": metadata,
            "model": network.state_dict(),
            "epoch": config.epochs,
            "history": history,
        },
        checkpoint,
    )
    _write_run(args, data, network, metadata, config.to_dict(), history)
    trees = []
    with torch.no_grad():
        for start in range(0, data.inputs.shape[0], 256):
            parse = network.parse_series(data.inputs[start : start + 256])
            trees += [parse.tree(i).to_dict() for i in range(parse.scores.shape[0])]
    (args.run_dir / TREES_FILE).write_text(
        json.dumps({"frame_width": width, "series": trees}) + "\n", encoding="utf-8"
    )
    last = history[-1] if history else {}
    summary = {
        "run_dir": str(args.run_dir),
        "model": model,
        "frame_width": width,
        "embedding_dim": network.embedding_dim,
        "epochs": len(history),
        "final_loss": last.get("loss"),
        "seconds_per_epoch": sum(r["seconds"] for r in history) / max(1, len(history)),
        **({"merge_accuracy": last["merge_accuracy"]} if "merge_accuracy" in last else {}),
        **data.summary,
    }
    _emit_summary(summary, args.output_format, args.out)
