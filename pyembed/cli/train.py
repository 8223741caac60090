"""``pyembed train faces|ucr``: fit an embedding network and write a run directory.

A run directory holds the checkpoint, the embeddings of every item, an index over them and a
human-readable ``run.json``; :mod:`pyembed.train.run_dir` owns that layout, and
:mod:`pyembed.train.data` loads the data of each recipe. ``pyembed eval`` (:mod:`pyembed.cli.eval`)
and ``pyembed query`` (:mod:`pyembed.cli.query`) read the run back.

Only click and the index defaults are imported at module level, so ``pyembed --help`` stays
instant and torch-free; torch, the readers and the index are imported when a command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pyembed.cli import output
from pyembed.cli._common import (
    Decorator,
    GuardedGroup,
    debug_option,
    given_by_user,
    graph_option,
    one_line,
    seed_option,
    threads_option,
)
from pyembed.cli.train_recursive import RECURSIVE_MODELS

if TYPE_CHECKING:
    from pyembed.train.data import TrainingData

__all__ = ["TrainingArgs", "train"]

# The DCNet operator names of pyembed.nn.dcnet.operator (Magnitude, Angular, Weighting), spelled
# with hyphens; repeated here so that --help needs no torch (a test checks they agree).
_DCNET_MAGNITUDES = ("sphere", "ball", "tanh", "linear", "seg", "log", "mix")
_DCNET_ANGULARS = ("linear", "cosine", "sigmoid", "square-cosine")
_DCNET_WEIGHTINGS = ("none", "linear", "nonlinear-joint", "nonlinear-separate")
# --model dcnet: the decoupled version of the network each data kind trains.
_DCNET_CLASSES = {
    "DenseNetEmbedding": "DecoupledDenseNetEmbedding",
    "TimeSeriesEmbedding": "DecoupledTimeSeriesEmbedding",
}


def _parse_blocks(value: str) -> tuple[int, ...]:
    try:
        blocks = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated positive integers, got {value!r}"
        ) from None
    if not blocks or any(b < 1 for b in blocks):
        raise click.BadParameter(f"expected comma-separated positive integers, got {value!r}")
    return blocks


def _training_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options every ``train`` command takes (the fields of :class:`TrainingArgs`)."""
    options: list[Decorator] = [
        click.option(
            "--run-dir",
            "run_dir",
            type=click.Path(file_okay=False, path_type=Path),
            required=True,
            help="Directory for model.pt, embeddings.npz, index.nswg and run.json.",
        ),
        click.option(
            "--loss",
            "loss_name",
            type=click.Choice(["triplet", "contrastive", "center", "clustering"]),
            default="triplet",
            show_default=True,
            help="triplet (+ miner), contrastive (pairs), center (softmax + lambda x center) or "
            "clustering (unsupervised: a linear cluster head of --n-clusters outputs trained with "
            "the entropy clustering loss, mean sample entropy - gamma x entropy of the batch "
            "mean; labels unused, batches drawn at random).",
        ),
        click.option(
            "--miner",
            type=click.Choice(["all", "hard", "semihard"]),
            default=None,
            help="Tuple mining: triplet default hard; contrastive default all (all or hard).",
        ),
        click.option(
            "--margin",
            type=click.FloatRange(min=0.0, min_open=True),
            default=None,
            help="Loss margin in L2 units (triplet 0.2, contrastive 1.0).",
        ),
        click.option(
            "--center-weight",
            type=click.FloatRange(min=0.0),
            default=0.5,
            show_default=True,
            help="Lambda of the center loss.",
        ),
        click.option(
            "--center-alpha",
            type=click.FloatRange(0.0, 1.0, max_open=True),
            default=None,
            help="Center loss: moving-average coefficient in [0, 1), the fraction of a center "
            "kept per update.  [default: 0.9]",
        ),
        click.option(
            "--center-update",
            type=click.Choice(["mean", "per-sample"]),
            default=None,
            help="Center loss: mean moves a class's center once, by (1 - alpha) of its offset to "
            "the batch mean; per-sample adds one (1 - alpha) increment per sample (the seed's "
            "Theano rule), so a class seen K times moves K x (1 - alpha) of its offset and "
            "overshoots when K > 1 / (1 - alpha), K being --n-per-identity.  [default: mean]",
        ),
        click.option(
            "--n-clusters",
            type=click.IntRange(min=2),
            default=None,
            help="Clustering loss: number of clusters (required with --loss clustering).",
        ),
        click.option(
            "--clustering-gamma",
            type=click.FloatRange(min=0.0),
            default=None,
            help="Clustering loss: weight of the batch-mean entropy.  [default: 1.0]",
        ),
        click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True),
        click.option("--embedding-dim", type=click.IntRange(min=1), default=64, show_default=True),
        click.option(
            "--growth-rate",
            type=click.IntRange(min=1),
            default=12,
            show_default=True,
            help="DenseNet k.",
        ),
        click.option(
            "--block-sizes",
            default="3,3,3",
            show_default=True,
            help="Dense units per block, comma-separated.",
        ),
        click.option(
            "--compression",
            type=click.FloatRange(0.0, 1.0, min_open=True),
            default=0.5,
            show_default=True,
            help="DenseNet theta of the transitions.",
        ),
        click.option(
            "--model",
            type=click.Choice(["densenet", "dcnet", "recursive-ae", "neural-grammar"]),
            default="densenet",
            show_default=True,
            help="densenet: the DenseNet embedding (2-D for faces, 1-D for ucr); dcnet: the same "
            "layout with decoupled convolutions h(||x||) x g(theta) (DCNet, Liu et al. 2018; "
            "--magnitude, --angular, --weighting, --weighted-gradients, --batch-norm, "
            "--weight-projection); ucr only: recursive-ae, neural-grammar, the recursive models "
            "over frames, trained without labels (--frame-width, --pool).",
        ),
        click.option(
            "--magnitude",
            type=click.Choice(list(_DCNET_MAGNITUDES)),
            default=None,
            help="dcnet: magnitude function h of the patch norm ||x|| (operator radius 1, in "
            "units of ||x||).  [default: tanh]",
        ),
        click.option(
            "--angular",
            type=click.Choice(list(_DCNET_ANGULARS)),
            default=None,
            help="dcnet: angular activation g of the angle between kernel and patch.  "
            "[default: cosine]",
        ),
        click.option(
            "--weighting",
            type=click.Choice(list(_DCNET_WEIGHTINGS)),
            default=None,
            help="dcnet: weighted decoupled operator: linear multiplies by ||w||; nonlinear-joint "
            "uses h(||w|| ||x||) (the paper's Eq. 15); nonlinear-separate multiplies by "
            "tanh(||w||) (Eq. 16).  [default: none]",
        ),
        click.option(
            "--weighted-gradients/--no-weighted-gradients",
            default=None,
            help="dcnet: scale each kernel's gradient by its norm ||w|| (the paper's weighted "
            "gradients; the forward pass is unchanged; Adam, which this trainer uses, largely "
            "cancels a per-kernel gradient scale).  [default: off]",
        ),
        click.option(
            "--batch-norm/--no-batch-norm",
            default=None,
            help="dcnet: keep the batch normalisations (--no-batch-norm removes all).  "
            "[default: on]",
        ),
        click.option(
            "--weight-projection",
            "weight_projection",
            metavar="NORM",
            type=click.FloatRange(min=0.0, min_open=True),
            default=None,
            help="dcnet: after every optimiser step set every decoupled kernel to w <- NORM x "
            "w / ||w|| (the paper uses 1).  [default: off]",
        ),
        click.option(
            "--normalize/--no-normalize",
            default=None,
            help="Unit-length embeddings (default: off for center, on for the others).",
        ),
        click.option(
            "--n-identities",
            type=click.IntRange(min=2),
            default=8,
            show_default=True,
            help="P of P x K.",
        ),
        click.option(
            "--n-per-identity",
            type=click.IntRange(min=2),
            default=4,
            show_default=True,
            help="K of P x K.",
        ),
        click.option(
            "--n-batches",
            type=click.IntRange(min=1),
            default=None,
            help="Batches per epoch (default: one pass).",
        ),
        click.option(
            "--max-lr",
            type=click.FloatRange(min=0.0, min_open=True),
            default=3e-3,
            show_default=True,
        ),
        click.option(
            "--weight-decay", type=click.FloatRange(min=0.0), default=0.0, show_default=True
        ),
        seed_option(help="Seeds weights, batches, augmentation, split and the index build."),
        threads_option(help="Torch CPU threads (default: torch's)."),
        graph_option,
        click.option(
            "--checkpoint-every",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Epochs.",
        ),
        click.option(
            "--resume", is_flag=True, default=False, help="Continue from RUN_DIR/model.pt."
        ),
        click.option(
            "--overwrite",
            is_flag=True,
            default=False,
            help="Start over even if RUN_DIR/model.pt exists.",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Progress on stderr (default: bar on a terminal, else a line per epoch).",
        ),
    ]
    for decorate in reversed([*options, output.output_options, debug_option]):
        f = decorate(f)
    return f


def _normalize_default(loss_name: str, normalize: bool | None) -> bool:
    return normalize if normalize is not None else loss_name != "center"


@dataclass(frozen=True)
class TrainingArgs:
    """The options that :func:`_training_options` adds, as click passes them to a command."""

    run_dir: Path
    loss_name: str
    miner: str | None
    margin: float | None
    center_weight: float
    center_alpha: float | None
    center_update: str | None
    n_clusters: int | None
    clustering_gamma: float | None
    epochs: int
    embedding_dim: int
    growth_rate: int
    block_sizes: str
    compression: float
    model: str
    magnitude: str | None
    angular: str | None
    weighting: str | None
    weighted_gradients: bool | None
    batch_norm: bool | None
    weight_projection: float | None
    normalize: bool | None
    n_identities: int
    n_per_identity: int
    n_batches: int | None
    max_lr: float
    weight_decay: float
    seed: int
    threads: int | None
    graph: str
    checkpoint_every: int
    resume: bool
    overwrite: bool
    progress: bool | None
    output_format: str
    out: Path | None


@click.group(cls=GuardedGroup)
def train() -> None:
    """Train an embedding network and write a run directory (model, embeddings, index)."""


def _prepare_checkpoint(args: TrainingArgs) -> Path:
    """The checkpoint path of the run, with the CLI's words for a run that exists or does not."""
    from pyembed.train.run_dir import prepare_run_dir

    if args.resume and args.overwrite:
        raise click.UsageError("give either --resume or --overwrite, not both")
    try:
        return prepare_run_dir(args.run_dir, resume=args.resume, overwrite=args.overwrite)
    except FileExistsError as exc:
        raise click.ClickException(
            f"{exc.filename!r} exists; pass --resume to continue it or --overwrite to start over"
        ) from None
    except FileNotFoundError as exc:
        raise click.ClickException(f"--resume: no checkpoint at {exc.filename!r}") from None


def _fit(
    *,
    model_spec: dict[str, Any],
    objective: dict[str, Any],
    data: TrainingData,
    config: Any,
    metadata: dict[str, Any],
    checkpoint: Path,
    resume: bool,
    progress: bool | None,
) -> tuple[Any, Any]:
    """Build model, loss and trainer; resume if asked; train; return (model, trainer)."""
    import torch

    from pyembed.train import Trainer, build_model, build_objective, load_checkpoint
    from pyembed.train.recipes import complete_objective, label_free_groups

    if resume:
        saved = load_checkpoint(checkpoint).get("metadata")
        saved = saved if isinstance(saved, dict) else {}
        if isinstance(saved.get("objective"), dict):  # runs older than --center-alpha & co.
            saved = {**saved, "objective": complete_objective(saved["objective"])}
        for key in ("kind", "model", "objective", "data", "split"):
            if saved.get(key) != metadata.get(key):
                raise click.ClickException(
                    f"{checkpoint}: --resume: the checkpoint's {key} differs from this command's "
                    f"({saved.get(key)!r} != {metadata.get(key)!r})"
                )
    torch.manual_seed(config.seed)
    model = build_model(model_spec)
    loss, miner = build_objective(
        objective["loss"],
        embedding_dim=model_spec["kwargs"]["embedding_dim"],
        n_classes=data.n_classes,
        margin=objective["margin"],
        miner=objective["miner"],
        center_weight=objective["center_weight"],
        alpha=objective["center_alpha"],
        center_update=objective["center_update"],
        n_clusters=objective["n_clusters"],
        clustering_gamma=objective["clustering_gamma"] or 1.0,
    )
    batch_labels = data.train_labels
    if objective["loss"] == "clustering":  # unsupervised: batches must not follow the classes
        batch_labels = label_free_groups(
            len(data.train_labels),
            config.n_per_identity,
            config.n_identities,
            seed=config.seed,
        )
    trainer = Trainer(
        model,
        loss,
        data.train_inputs,
        batch_labels,
        config,
        miner=miner,
        augment=data.augment,
        metadata=metadata,
    )
    if resume:
        try:
            trainer.load_checkpoint(checkpoint)
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:  # a state that does not fit
            missing = isinstance(exc, KeyError)
            reason = f"it has no {exc.args[0]!r} entry" if missing else one_line(exc)
            raise click.ClickException(
                f"{checkpoint}: --resume: cannot restore the training state ({reason})"
            ) from exc
    # progress=None: per-epoch lines when stderr is not a terminal (the bar redraws only on a
    # terminal)
    trainer.fit(checkpoint_path=checkpoint, progress=progress is not False)
    return model, trainer


def _emit_summary(summary: dict[str, Any], output_format: str, out: Path | None) -> None:
    if output_format == "json":
        text = output.render_json(summary)
    elif output_format == "csv":
        text = output.render_csv([summary], list(summary))
    else:
        rows = [{"key": key, "value": value} for key, value in summary.items()]
        text = output.render_table(rows, ["key", "value"])
    output.emit(text, out)


def _objective(args: TrainingArgs) -> dict[str, Any]:
    """``metadata["objective"]`` of the command, its loss options checked against --loss.

    Options of one loss given with another are usage errors. Unset options are stored with their
    defaults (``OBJECTIVE_DEFAULTS`` of :mod:`pyembed.train.recipes`, repeated here so that the
    check runs before torch is imported), so ``--resume`` compares like with like.
    """
    import math

    for option, value, loss in (
        ("--center-alpha", args.center_alpha, "center"),
        ("--center-update", args.center_update, "center"),
        ("--n-clusters", args.n_clusters, "clustering"),
        ("--clustering-gamma", args.clustering_gamma, "clustering"),
    ):
        if value is not None and args.loss_name != loss:
            raise click.BadParameter(f"applies only to --loss {loss}", param_hint=option)
    if args.margin is not None and args.loss_name not in ("triplet", "contrastive"):
        raise click.BadParameter(
            "applies only to --loss triplet or contrastive", param_hint="--margin"
        )
    if given_by_user("center_weight") and args.loss_name != "center":
        raise click.BadParameter("applies only to --loss center", param_hint="--center-weight")
    clustering = args.loss_name == "clustering"
    if clustering:
        if args.miner is not None:
            raise click.BadParameter("the clustering loss uses no miner", param_hint="--miner")
        if args.n_clusters is None:
            raise click.UsageError("--loss clustering needs --n-clusters")
    gamma = 1.0 if args.clustering_gamma is None else args.clustering_gamma
    alpha = 0.9 if args.center_alpha is None else args.center_alpha
    for option, number in (("--clustering-gamma", gamma), ("--center-alpha", alpha)):
        if not math.isfinite(number):
            raise click.BadParameter(f"must be a finite number, got {number}", param_hint=option)
    return {
        "loss": args.loss_name,
        "miner": args.miner,
        "margin": args.margin,
        "center_weight": args.center_weight,
        "center_alpha": alpha,
        "center_update": (args.center_update or "mean").replace("-", "_"),
        "n_clusters": args.n_clusters if clustering else None,
        "clustering_gamma": gamma if clustering else None,
    }


def _dcnet_kwargs(args: TrainingArgs) -> dict[str, Any]:
    """The operator entries of a ``--model dcnet`` spec (empty for other models, whose specs are
    as they were before DCNet, so their runs still resume); DCNet options with another model are
    usage errors."""
    given = {
        "--magnitude": args.magnitude,
        "--angular": args.angular,
        "--weighting": args.weighting,
        "--weighted-gradients": args.weighted_gradients,
        "--batch-norm": args.batch_norm,
        "--weight-projection": args.weight_projection,
    }
    if args.model != "dcnet":
        for option, value in given.items():
            if value is not None:
                raise click.BadParameter(
                    f"applies only to --model dcnet, not {args.model}", param_hint=option
                )
        return {}
    return {
        "magnitude": args.magnitude or "tanh",
        "angular": (args.angular or "cosine").replace("-", "_"),
        "weighting": (args.weighting or "none").replace("-", "_"),
        "weighted_gradients": bool(args.weighted_gradients),
        "batch_norm": args.batch_norm is not False,
    }


def _write_run(
    args: TrainingArgs,
    data: TrainingData,
    model: Any,
    metadata: dict[str, Any],
    config: dict[str, Any],
    history: list[dict[str, float]],
) -> None:
    """Embed every item of ``data`` with the trained ``model`` and write the run directory
    (embeddings, index and run.json with the metadata, index settings, config and history)."""
    from pyembed.train import embed
    from pyembed.train.run_dir import save_run

    save_run(
        args.run_dir,
        embeddings=embed(model, data.inputs),
        labels=data.labels,
        label_names=data.label_names,
        is_test=data.is_test,
        index_rows=data.index_rows,
        run_info={
            **metadata,
            "index": {"graph": args.graph, "seed": args.seed},
            "config": config,
            "history": history,
        },
        seed=args.seed,
        graph=args.graph,
    )


def _run_training(args: TrainingArgs, load: Callable[[TrainingArgs], TrainingData]) -> None:
    """Check the objective, then load, fit, write the run directory and print the summary."""
    blocks = _parse_blocks(args.block_sizes)
    dcnet_kwargs = _dcnet_kwargs(args)
    if args.loss_name == "contrastive" and args.miner == "semihard":
        raise click.BadParameter(
            "contrastive pairs support --miner all or hard", param_hint="--miner"
        )
    if args.loss_name == "center" and args.miner is not None:
        raise click.BadParameter("the center loss uses no miner", param_hint="--miner")
    objective = _objective(args)

    import torch

    from pyembed.train import TrainConfig

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    checkpoint = _prepare_checkpoint(args)
    data = load(args)
    model_spec = {
        "class": _DCNET_CLASSES[data.model_class] if args.model == "dcnet" else data.model_class,
        "kwargs": {
            "in_channels": 1,
            "embedding_dim": args.embedding_dim,
            "growth_rate": args.growth_rate,
            "block_sizes": list(blocks),
            "compression": args.compression,
            **data.model_kwargs,
            "normalize": _normalize_default(args.loss_name, args.normalize),
            **dcnet_kwargs,
        },
    }
    metadata = {
        "kind": data.kind,
        "model": model_spec,
        "objective": objective,
        "data": data.data,
    }
    if data.split is not None:
        metadata["split"] = data.split
    config = TrainConfig(
        epochs=args.epochs,
        n_identities=args.n_identities,
        n_per_identity=args.n_per_identity,
        n_batches=args.n_batches,
        max_lr=args.max_lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        weight_projection=args.weight_projection,
    )
    model, trainer = _fit(
        model_spec=model_spec,
        objective=objective,
        data=data,
        config=config,
        metadata=metadata,
        checkpoint=checkpoint,
        resume=args.resume,
        progress=args.progress,
    )
    _write_run(args, data, model, metadata, config.to_dict(), trainer.history)
    history = trainer.history
    summary = {
        "run_dir": str(args.run_dir),
        "epochs": len(history),
        "final_loss": history[-1]["loss"] if history else None,
        "seconds_per_epoch": trainer.mean_seconds_per_epoch(),
        **data.summary,
        "loss": args.loss_name,
    }
    _emit_summary(summary, args.output_format, args.out)


@train.command("faces")
@click.option(
    "--data",
    "data_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Face .npz file with images (uint8, N x H x W) and labels.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.25,
    show_default=True,
    help="Fraction of identities held out (never trained on).",
)
@click.option(
    "--test-identities", type=click.IntRange(min=1), default=None, help="Exact number held out."
)
@click.option(
    "--stem-stride",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="First conv stride.",
)
@click.option(
    "--max-shift",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Augmentation shift, pixels.",
)
@click.option(
    "--flip/--no-flip", default=True, show_default=True, help="Random left-right mirroring."
)
@_training_options
def faces(
    data_path: Path,
    test_fraction: float,
    test_identities: int | None,
    stem_stride: int,
    max_shift: int,
    flip: bool,
    **training: Any,
) -> None:
    """Train a siamese DenseNet face embedding on identities of --data, holding some identities out.

    Writes RUN_DIR/model.pt, embeddings.npz (every image), index.nswg (every image; ids are rows of
    embeddings.npz) and run.json, then prints a summary. Evaluate with `pyembed eval RUN_DIR`.
    `--model dcnet` trains the same DenseNet with decoupled convolutions.
    """

    def load(args: TrainingArgs) -> TrainingData:
        from pyembed.train.data import faces_training_data

        return faces_training_data(
            data_path,
            test_fraction=test_fraction,
            test_identities=test_identities,
            seed=args.seed,
            stem_stride=stem_stride,
            flip=flip,
            max_shift=max_shift,
        )

    args = TrainingArgs(**training)
    if args.model in RECURSIVE_MODELS:
        raise click.BadParameter(
            f"{args.model} is a model of series (pyembed train ucr); faces train densenet or dcnet",
            param_hint="--model",
        )
    _run_training(args, load)


@train.command("ucr")
@click.argument("name")
@click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Archive-like directory (<Name>/<Name>_TRAIN.*); default: the data bundled with pyembed.",
)
@click.option(
    "--no-znorm",
    is_flag=True,
    default=False,
    help="Use the series as stored (default: z-normalise each).",
)
@click.option(
    "--max-shift-pct",
    type=click.FloatRange(min=0.0),
    default=5.0,
    show_default=True,
    help="Augmentation: random time shift up to this % of the length.",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0.0),
    default=0.1,
    show_default=True,
    help="Augmentation: random amplitude factor in 1 +- SCALE.",
)
@click.option(
    "--noise-std",
    type=click.FloatRange(min=0.0),
    default=0.05,
    show_default=True,
    help="Augmentation: standard deviation of the added noise (series units).",
)
@click.option(
    "--frame-width",
    type=click.IntRange(min=1),
    default=None,
    help="recursive-ae, neural-grammar: samples per frame (a leaf).  [default: max(2, length // "
    "16)]",
)
@click.option(
    "--pool",
    type=click.Choice(["root", "mean"]),
    default="mean",
    show_default=True,
    help="recursive-ae, neural-grammar: the embedding is the root's vector or the mean of the "
    "merge nodes' vectors.",
)
@click.option(
    "--grammar-hidden",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="neural-grammar: size of the left and right projections.",
)
@click.option(
    "--max-segments",
    type=click.IntRange(min=2),
    default=4,
    show_default=True,
    help="neural-grammar: most pieces in a training splice.",
)
@_training_options
def ucr(
    name: str,
    data_dir: Path | None,
    no_znorm: bool,
    max_shift_pct: float,
    scale: float,
    noise_std: float,
    frame_width: int | None,
    pool: str,
    grammar_hidden: int,
    max_segments: int,
    **training: Any,
) -> None:
    """Train a 1-D DenseNet embedding on the TRAIN split of UCR data set NAME.

    Writes RUN_DIR/model.pt, embeddings.npz (TRAIN then TEST rows), index.nswg (TRAIN rows only, for
    1-NN classification) and run.json. Evaluate with `pyembed eval RUN_DIR`. UCR training sets are
    small: one pass is a few batches, so raise --n-batches (benchmarks/train.py uses 10 batches of
    8 series per class). `--model dcnet` trains the same network with decoupled convolutions.

    `--loss clustering --n-clusters K` trains without labels: a linear head of K outputs over the
    embedding, with the entropy clustering loss (Jensen et al. 2020; --clustering-gamma weighs the
    batch-mean entropy); batches are random rows (--n-identities groups of --n-per-identity rows
    of a random partition, not classes). The cluster head is saved in model.pt; `pyembed eval`
    reports the 1-NN error of the embedding as for any run (benchmarks/clustering.py adds the
    head's purity and NMI).

    `--model recursive-ae|neural-grammar` trains a recursive model over frames of --frame-width
    samples without the labels: the autoencoder on the summed reconstruction errors of its greedy
    merge tree, the grammar on merge correctness in splices of TRAIN series (2 to
    --max-segments pieces of different series). The embedding (--pool root|mean) has as many
    entries as a frame has samples; RUN_DIR/trees.json holds every series' merge tree. They use
    --epochs, --n-batches, --n-identities x --n-per-identity (the batch size), --max-lr (constant;
    default 1e-3 for them) and --seed; the DenseNet, loss and augmentation options do not apply.
    """

    def load(args: TrainingArgs) -> TrainingData:
        from pyembed.train.data import ucr_training_data

        return ucr_training_data(
            name,
            data_dir,
            znorm=not no_znorm,
            max_shift_pct=max_shift_pct,
            scale=scale,
            noise_std=noise_std,
        )

    args = TrainingArgs(**training)
    if args.model in RECURSIVE_MODELS:
        from pyembed.cli.train_recursive import run_recursive

        run_recursive(
            args,
            load(args),
            model=args.model,
            frame_width=frame_width,
            pool=pool,
            hidden=grammar_hidden,
            max_segments=max_segments,
        )
        return
    for option, name_ in (
        ("--frame-width", "frame_width"),
        ("--pool", "pool"),
        ("--grammar-hidden", "grammar_hidden"),
        ("--max-segments", "max_segments"),
    ):
        if given_by_user(name_):
            raise click.BadParameter(
                "applies to --model recursive-ae or neural-grammar only", param_hint=option
            )
    _run_training(args, load)
