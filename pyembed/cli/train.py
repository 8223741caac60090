"""``pyembed train faces|ucr``, ``pyembed eval``, ``pyembed query``: learned embeddings end to end.

``train`` fits an embedding network and writes a *run directory*:

- ``model.pt``: the training checkpoint (model, loss, optimizer and schedule states, config) plus
  the metadata needed to rebuild the network and its inputs;
- ``embeddings.npz``: ``embeddings`` ``(n, dim)`` float32 for every item of the data set, ``labels``
  (int64 codes), ``label_names`` (the original labels as strings), ``is_test`` (bool: held-out
  identity for faces, TEST split for UCR) and ``index_rows`` (the rows stored in the index);
- ``index.nswg``: a saved :class:`pyembed.Index` over ``embeddings[index_rows]``, whose ids are the
  row numbers into ``embeddings.npz``;
- ``run.json``: settings, split and per-epoch history, human-readable.

``eval`` prints the learned embedding's metrics next to a baseline on the same split (PCA eigenfaces
for faces, exact DTW 1-NN for UCR); ``query`` embeds new inputs and looks them up in the saved
index.

Only click is imported at module level, so ``pyembed --help`` stays instant and torch-free; torch,
numpy, the readers and the index are imported when a command runs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pyembed.cli._common import one_line, run_guarded

__all__ = ["eval_cmd", "query", "train"]

MODEL_FILE = "model.pt"
EMBEDDINGS_FILE = "embeddings.npz"
INDEX_FILE = "index.nswg"
RUN_FILE = "run.json"
FORMATS = ("table", "json", "csv")


# --------------------------------------------------------------------------------------------------
# Shared helpers


def _import_index():
    try:
        from pyembed import Index
    except ImportError as exc:
        raise click.ClickException(
            f"the pyembed index is not available ({one_line(exc)})"
        ) from None
    return Index


def _set_threads(threads: int | None) -> None:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def _render(
    rows: list[dict[str, Any]], columns: Sequence[str], fmt: str, title: str, extra: dict[str, Any]
) -> str:
    if fmt == "json":
        return json.dumps({**extra, "results": rows}, indent=2, default=str) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore"
        )
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if row.get(key) is None else row.get(key) for key in columns})
        return buffer.getvalue()
    body = [[_cell(row.get(key)) for key in columns] for row in rows]
    header = list(columns)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(columns))]
    lines = [f"# {title}"] if title else []
    for line in [header, *body]:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None


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


def _format_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--debug", is_flag=True, default=False, help="Show tracebacks of errors.")(f)
    f = click.option(
        "--out",
        "out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the output here.",
    )(f)
    f = click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output.",
    )(f)
    return f


def _training_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
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
            type=click.Choice(["triplet", "contrastive", "center"]),
            default="triplet",
            show_default=True,
            help="triplet (+ miner), contrastive (pairs) or center (softmax + lambda x center).",
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
            "--normalize/--no-normalize",
            default=None,
            help="Unit-length embeddings (default: on for triplet/contrastive, off for center).",
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
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seeds weights, batches, augmentation, split.",
        ),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            default=None,
            help="Torch CPU threads (default: torch's).",
        ),
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
    for option in reversed(options):
        f = option(f)
    return _format_options(f)


def _normalize_default(loss_name: str, normalize: bool | None) -> bool:
    return normalize if normalize is not None else loss_name != "center"


# --------------------------------------------------------------------------------------------------
# train


@click.group()
def train() -> None:
    """Train an embedding network and write a run directory (model, embeddings, index)."""


def _prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> Path:
    checkpoint = run_dir / MODEL_FILE
    if resume and overwrite:
        raise click.UsageError("give either --resume or --overwrite, not both")
    if resume and not checkpoint.exists():
        raise click.ClickException(f"--resume: no checkpoint at {str(checkpoint)!r}")
    if checkpoint.exists() and not (resume or overwrite):
        raise click.ClickException(
            f"{str(checkpoint)!r} exists; pass --resume to continue it or --overwrite to start over"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    return checkpoint


def _fit(
    *,
    model_spec: dict[str, Any],
    objective: dict[str, Any],
    inputs: Any,
    labels: Any,
    n_classes: int,
    config: Any,
    augment: Any,
    metadata: dict[str, Any],
    checkpoint: Path,
    resume: bool,
    progress: bool | None,
) -> tuple[Any, Any]:
    """Build model, loss and trainer; resume if asked; train; return (model, trainer)."""
    import torch

    from pyembed.train import Trainer, build_model, build_objective, load_checkpoint

    if resume:
        saved = load_checkpoint(checkpoint).get("metadata", {})
        for key in ("kind", "model", "objective", "data", "split"):
            if saved.get(key) != metadata.get(key):
                raise click.ClickException(
                    f"--resume: the checkpoint's {key} differs from this command's "
                    f"({saved.get(key)!r} != {metadata.get(key)!r})"
                )
    torch.manual_seed(config.seed)
    model = build_model(model_spec)
    loss, miner = build_objective(
        objective["loss"],
        embedding_dim=model_spec["kwargs"]["embedding_dim"],
        n_classes=n_classes,
        margin=objective["margin"],
        miner=objective["miner"],
        center_weight=objective["center_weight"],
    )
    trainer = Trainer(
        model, loss, inputs, labels, config, miner=miner, augment=augment, metadata=metadata
    )
    if resume:
        trainer.load_checkpoint(checkpoint)
    # progress=None: per-epoch lines when stderr is not a terminal (the bar redraws only on a
    # terminal)
    trainer.fit(checkpoint_path=checkpoint, progress=progress is not False)
    return model, trainer


def _write_outputs(
    run_dir: Path,
    embeddings: Any,
    labels: Any,
    label_names: Any,
    is_test: Any,
    index_rows: Any,
    run_info: dict[str, Any],
    seed: int,
) -> None:
    import numpy as np

    Index = _import_index()
    np.savez(
        run_dir / EMBEDDINGS_FILE,
        embeddings=embeddings,
        labels=labels,
        label_names=np.asarray(label_names, dtype=str),
        is_test=is_test,
        index_rows=index_rows,
    )
    index = Index(embeddings.shape[1], "euclidean", seed=seed)
    # One thread: the saved graph is then a function of the seed and the embeddings alone, so a
    # rerun with the same seed writes the same index file (a parallel build may link differently).
    index.add(embeddings[index_rows], ids=index_rows, n_threads=1)
    index.save(run_dir / INDEX_FILE)
    (run_dir / RUN_FILE).write_text(
        json.dumps(run_info, indent=2, default=str) + "\n", encoding="utf-8"
    )


def _train_summary(run_dir: Path, trainer: Any, extra: dict[str, Any]) -> dict[str, Any]:
    history = trainer.history
    return {
        "run_dir": str(run_dir),
        "epochs": len(history),
        "final_loss": history[-1]["loss"] if history else None,
        "seconds_per_epoch": trainer.mean_seconds_per_epoch(),
        **extra,
    }


def _emit_summary(summary: dict[str, Any], fmt: str, out: Path | None) -> None:
    rows = [{"key": key, "value": value} for key, value in summary.items()]
    if fmt == "json":
        text = json.dumps(summary, indent=2, default=str) + "\n"
    elif fmt == "csv":
        text = _render([summary], list(summary), "csv", "", {})
    else:
        text = _render(rows, ["key", "value"], "table", "", {})
    _emit(text, out)


@dataclass(frozen=True)
class TrainingArgs:
    """The options that :func:`_training_options` adds, as click passes them to a command."""

    run_dir: Path
    loss_name: str
    miner: str | None
    margin: float | None
    center_weight: float
    epochs: int
    embedding_dim: int
    growth_rate: int
    block_sizes: str
    compression: float
    normalize: bool | None
    n_identities: int
    n_per_identity: int
    n_batches: int | None
    max_lr: float
    weight_decay: float
    seed: int
    threads: int | None
    checkpoint_every: int
    resume: bool
    overwrite: bool
    progress: bool | None
    output_format: str
    out: Path | None
    debug: bool


@dataclass(frozen=True)
class TrainingData:
    """The data-specific part of a ``train`` command, as its loader returns it.

    ``inputs`` holds every item (the rows of ``embeddings.npz``); ``train_inputs`` and
    ``train_labels`` (codes ``0..n_classes-1``) are what the network is fitted on.
    """

    kind: str
    model_class: str
    model_kwargs: dict[str, Any]
    data: dict[str, Any]
    split: dict[str, Any] | None
    inputs: Any
    train_inputs: Any
    train_labels: Any
    n_classes: int
    augment: Any
    labels: Any
    label_names: Any
    is_test: Any
    index_rows: Any
    summary: dict[str, Any]


def _run_training(args: TrainingArgs, load: Callable[[TrainingArgs], TrainingData]) -> None:
    """Check the objective, then load, fit, write the run directory and print the summary."""
    blocks = _parse_blocks(args.block_sizes)
    if args.loss_name == "contrastive" and args.miner == "semihard":
        raise click.BadParameter(
            "contrastive pairs support --miner all or hard", param_hint="--miner"
        )
    if args.loss_name == "center" and args.miner is not None:
        raise click.BadParameter("the center loss uses no miner", param_hint="--miner")

    def body() -> None:
        from pyembed.train import TrainConfig, embed

        _set_threads(args.threads)
        checkpoint = _prepare_run_dir(args.run_dir, args.resume, args.overwrite)
        data = load(args)
        model_spec = {
            "class": data.model_class,
            "kwargs": {
                "in_channels": 1,
                "embedding_dim": args.embedding_dim,
                "growth_rate": args.growth_rate,
                "block_sizes": list(blocks),
                "compression": args.compression,
                **data.model_kwargs,
                "normalize": _normalize_default(args.loss_name, args.normalize),
            },
        }
        objective = {
            "loss": args.loss_name,
            "miner": args.miner,
            "margin": args.margin,
            "center_weight": args.center_weight,
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
        )
        model, trainer = _fit(
            model_spec=model_spec,
            objective=objective,
            inputs=data.train_inputs,
            labels=data.train_labels,
            n_classes=data.n_classes,
            config=config,
            augment=data.augment,
            metadata=metadata,
            checkpoint=checkpoint,
            resume=args.resume,
            progress=args.progress,
        )
        embeddings = embed(model, data.inputs)
        run_info = {**metadata, "config": config.to_dict(), "history": trainer.history}
        _write_outputs(
            args.run_dir,
            embeddings,
            data.labels,
            data.label_names,
            data.is_test,
            data.index_rows,
            run_info,
            args.seed,
        )
        summary = _train_summary(args.run_dir, trainer, {**data.summary, "loss": args.loss_name})
        _emit_summary(summary, args.output_format, args.out)

    run_guarded(args.debug, body)


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
    """

    def load(args: TrainingArgs) -> TrainingData:
        import numpy as np
        import torch

        from pyembed.datasets.faces import identity_split, load_faces
        from pyembed.train import ImageAugment, image_tensor

        data = load_faces(data_path)
        split = identity_split(
            data.labels,
            test_fraction=test_fraction,
            n_test_identities=test_identities,
            seed=args.seed,
        )
        inputs = image_tensor(data.images)
        codes = np.unique(data.labels[split.train], return_inverse=True)[1]
        is_test = np.zeros(data.n, dtype=bool)
        is_test[split.test] = True
        return TrainingData(
            kind="faces",
            model_class="DenseNetEmbedding",
            model_kwargs={"stem_stride": stem_stride},
            data={
                "path": str(data_path.resolve()),
                "name": data.name,
                "image_shape": list(data.images.shape[1:]),
            },
            split={
                "seed": args.seed,
                "test_fraction": test_fraction,
                "test_identities": split.test_identities.tolist(),
            },
            inputs=inputs,
            train_inputs=inputs[torch.from_numpy(split.train)],
            train_labels=torch.from_numpy(codes),
            n_classes=len(split.train_identities),
            augment=ImageAugment(flip=flip, max_shift=max_shift),
            labels=data.labels,
            label_names=data.labels.astype(str),
            is_test=is_test,
            index_rows=np.arange(data.n, dtype=np.int64),
            summary={
                "data": data.name,
                "train_images": int(split.train.size),
                "train_identities": int(split.train_identities.size),
                "test_images": int(split.test.size),
                "test_identities": int(split.test_identities.size),
            },
        )

    _run_training(TrainingArgs(**training), load)


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
    help="Augmentation: amplitude +-.",
)
@click.option(
    "--noise-std",
    type=click.FloatRange(min=0.0),
    default=0.05,
    show_default=True,
    help="Augmentation jitter.",
)
@_training_options
def ucr(
    name: str,
    data_dir: Path | None,
    no_znorm: bool,
    max_shift_pct: float,
    scale: float,
    noise_std: float,
    **training: Any,
) -> None:
    """Train a 1-D DenseNet embedding on the TRAIN split of UCR data set NAME.

    Writes RUN_DIR/model.pt, embeddings.npz (TRAIN then TEST rows), index.nswg (TRAIN rows only, for
    1-NN classification) and run.json. Evaluate with `pyembed eval RUN_DIR`. UCR training sets are
    small: one pass is a few batches, so raise --n-batches (benchmarks/train.py uses 10 batches of
    8 series per class).
    """

    def load(args: TrainingArgs) -> TrainingData:
        import numpy as np
        import torch

        from pyembed.train import SeriesAugment, series_tensor

        train_split, test_split = _load_ucr_pair(name, data_dir, znorm=not no_znorm)
        series = np.concatenate([train_split.X, test_split.X]).astype(np.float32)
        names, codes = np.unique(
            np.concatenate([train_split.y, test_split.y]).astype(str), return_inverse=True
        )
        n_train = train_split.X.shape[0]
        train_codes = np.unique(codes[:n_train], return_inverse=True)[1]
        length = series.shape[1]
        inputs = series_tensor(series)
        return TrainingData(
            kind="ucr",
            model_class="TimeSeriesEmbedding",
            model_kwargs={},
            data={
                "name": train_split.name,
                "data_dir": None if data_dir is None else str(data_dir.resolve()),
                "znorm": not no_znorm,
                "length": length,
            },
            split=None,
            inputs=inputs,
            train_inputs=inputs[:n_train],
            train_labels=torch.from_numpy(train_codes),
            n_classes=int(train_codes.max()) + 1,
            augment=SeriesAugment(
                max_shift=round(max_shift_pct / 100 * length), scale=scale, noise_std=noise_std
            ),
            labels=codes.astype(np.int64),
            label_names=names[codes],
            is_test=np.arange(series.shape[0]) >= n_train,
            index_rows=np.arange(n_train, dtype=np.int64),
            summary={
                "data": train_split.name,
                "train_series": n_train,
                "test_series": int(test_split.X.shape[0]),
                "length": length,
                "classes": int(names.size),
            },
        )

    _run_training(TrainingArgs(**training), load)


def _load_ucr_pair(name: str, data_dir: Path | None, *, znorm: bool) -> tuple[Any, Any]:
    from dataclasses import replace

    from pyembed.datasets.ucr import load_ucr, znormalize

    train_split = load_ucr(name, "TRAIN", data_dir)
    test_split = load_ucr(name, "TEST", data_dir)
    if train_split.X.shape[1] != test_split.X.shape[1]:
        raise ValueError(
            f"{name}: TRAIN series have length {train_split.X.shape[1]} but TEST series "
            f"{test_split.X.shape[1]}"
        )
    if znorm:
        train_split = replace(train_split, X=znormalize(train_split.X))
        test_split = replace(test_split, X=znormalize(test_split.X))
    return train_split, test_split


# --------------------------------------------------------------------------------------------------
# Loading a run


def _load_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Return (checkpoint state, metadata, arrays of embeddings.npz)."""
    import numpy as np

    from pyembed.train import load_checkpoint

    for file in (MODEL_FILE, EMBEDDINGS_FILE):
        if not (run_dir / file).exists():
            raise click.ClickException(
                f"{str(run_dir)!r} is not a run directory: {file} is missing"
            )
    state = load_checkpoint(run_dir / MODEL_FILE)
    metadata = state.get("metadata", {})
    if metadata.get("kind") not in ("faces", "ucr"):
        raise click.ClickException(f"{str(run_dir / MODEL_FILE)!r} has no faces/ucr run metadata")
    with np.load(run_dir / EMBEDDINGS_FILE, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    return state, metadata, arrays


def _leave_one_out_neighbors(
    vectors: Any, depth: int, exact: bool, ef: int | None, seed: int
) -> Any:
    """Neighbor row numbers ``(n, depth)`` of every vector among the others, through an Index."""
    import numpy as np

    from pyembed.metrics import drop_self

    Index = _import_index()
    n = vectors.shape[0]
    index = Index(vectors.shape[1], "euclidean", seed=seed)
    index.add(vectors, ids=np.arange(n, dtype=np.int64))
    found = index.search(vectors, k=min(depth + 1, n), exact=exact, ef=None if exact else ef)
    return drop_self(found.ids, np.arange(n))


# --------------------------------------------------------------------------------------------------
# eval


@click.command("eval")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--pca-components",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Eigenfaces kept (faces).",
)
@click.option(
    "--band",
    type=click.IntRange(min=0),
    default=None,
    help="DTW baseline Sakoe-Chiba radius in samples (ucr; default: full DTW).",
)
@click.option(
    "--search",
    type=click.Choice(["exact", "nsw"]),
    default="exact",
    show_default=True,
    help="Neighbors by exact brute force or by the NSW graph.",
)
@click.option(
    "--ef", type=click.IntRange(min=1), default=None, help="Graph beam size (--search nsw)."
)
@_format_options
def eval_cmd(
    run_dir: Path,
    pca_components: int,
    band: int | None,
    search: str,
    ef: int | None,
    output_format: str,
    out: Path | None,
    debug: bool,
) -> None:
    """Metrics of a trained run beside a baseline on the same split.

    Faces: leave-one-out retrieval among the held-out identities' images (Recall@1, Recall@5, MAP@R,
    1-NN error, balanced verification accuracy) for the learned embedding and PCA eigenfaces fit on
    the training identities. UCR: TEST series against the TRAIN series (1-NN error, MAP@R) for the
    learned embedding and for exact DTW on the series themselves.
    """
    if ef is not None and search != "nsw":
        raise click.UsageError("--ef applies only to --search nsw")

    def body() -> None:
        _state, metadata, arrays = _load_run(run_dir)
        if metadata["kind"] == "faces":
            rows, title = _eval_faces(metadata, arrays, pca_components, search == "exact", ef)
        else:
            rows, title = _eval_ucr(metadata, arrays, band, search == "exact", ef)
        columns = list(rows[0])
        _emit(
            _render(
                rows,
                columns,
                output_format,
                title,
                {"run_dir": str(run_dir), "kind": metadata["kind"]},
            ),
            out,
        )

    run_guarded(debug, body)


def _eval_faces(
    metadata: dict[str, Any],
    arrays: dict[str, Any],
    pca_components: int,
    exact: bool,
    ef: int | None,
) -> tuple[list[dict[str, Any]], str]:
    import numpy as np

    from pyembed.datasets.faces import Eigenfaces, load_faces
    from pyembed.metrics import relevant_counts, retrieval_metrics

    data = load_faces(metadata["data"]["path"])
    is_test = arrays["is_test"]
    if data.n != is_test.size or not np.array_equal(data.labels, arrays["labels"]):
        raise click.ClickException(
            f"{metadata['data']['path']!r} no longer matches the run's embeddings"
        )
    labels = data.labels[is_test]
    depth = max(5, int(relevant_counts(labels, labels, exclude_self=True).max()))
    baseline = Eigenfaces(pca_components).fit(data.images[~is_test])
    candidates = {
        "learned": arrays["embeddings"][is_test],
        f"eigenfaces-{pca_components}": baseline.transform(data.images[is_test]),
    }
    rows = []
    for method, vectors in candidates.items():
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        neighbors = _leave_one_out_neighbors(vectors, depth, exact, ef, seed=0)
        ks = tuple(k for k in (1, 5) if k < labels.size)
        metrics = retrieval_metrics(vectors, labels, ks=ks, neighbor_ids=neighbors)
        rows.append(
            {
                "method": method,
                "dim": int(vectors.shape[1]),
                "n_queries": int(labels.size),
                **metrics,
            }
        )
    n_ids = np.unique(labels).size
    title = (
        f"pyembed eval: {metadata['data']['name']}, {n_ids} held-out identities, {labels.size} "
        "images, "
        f"leave-one-out, {'exact' if exact else 'nsw'} search"
    )
    return rows, title


def _eval_ucr(
    metadata: dict[str, Any], arrays: dict[str, Any], band: int | None, exact: bool, ef: int | None
) -> tuple[list[dict[str, Any]], str]:
    import time

    import numpy as np

    from pyembed.metrics import map_at_r, one_nn_error, relevant_counts

    Index = _import_index()
    info = metadata["data"]
    data_dir = None if info.get("data_dir") is None else Path(info["data_dir"])
    train_split, test_split = _load_ucr_pair(info["name"], data_dir, znorm=info["znorm"])
    is_test = arrays["is_test"]
    labels = arrays["labels"]
    n_train = int((~is_test).sum())
    if n_train != train_split.X.shape[0] or int(is_test.sum()) != test_split.X.shape[0]:
        raise click.ClickException(f"the {info['name']} files no longer match the run's embeddings")
    train_labels, test_labels = labels[~is_test], labels[is_test]
    r = relevant_counts(test_labels, train_labels)
    depth = max(1, int(r.max()))
    length = train_split.X.shape[1]
    if band is not None and band > length:
        raise click.BadParameter(f"must be at most the series length {length}", param_hint="--band")
    setups = {
        "learned": (
            "euclidean",
            None,
            arrays["embeddings"][~is_test],
            arrays["embeddings"][is_test],
        ),
        "dtw-full" if band is None else f"dtw-band{band}": (
            "dtw",
            band,
            train_split.X,
            test_split.X,
        ),
    }
    rows = []
    for method, (metric, method_band, train_x, test_x) in setups.items():
        train_x = np.ascontiguousarray(train_x, dtype=np.float32)
        test_x = np.ascontiguousarray(test_x, dtype=np.float32)
        index = (
            Index(train_x.shape[1], metric, band=method_band)
            if metric == "dtw"
            else Index(train_x.shape[1])
        )
        index.add(train_x, ids=np.arange(n_train, dtype=np.int64))
        start = time.perf_counter()
        found = index.search(test_x, k=depth, exact=exact, ef=None if exact else ef)
        seconds = time.perf_counter() - start
        neighbor_labels = train_labels[found.ids]
        rows.append(
            {
                "method": method,
                "dim": int(train_x.shape[1]),
                "n_queries": int(test_x.shape[0]),
                "one_nn_error": one_nn_error(neighbor_labels, test_labels),
                "map@r": map_at_r(neighbor_labels, test_labels, r),
                "distance_calls": int(found.distance_calls.sum()),
                "query_seconds": seconds,
            }
        )
    title = (
        f"pyembed eval: UCR {info['name']}, {test_labels.size} TEST series against {n_train} "
        "TRAIN, "
        f"{'exact' if exact else 'nsw'} search"
    )
    return rows, title


# --------------------------------------------------------------------------------------------------
# query


@click.command("query")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument(
    "inputs_path", metavar="INPUTS", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="Neighbors per input."
)
@click.option(
    "--key",
    default=None,
    help="Array of an .npz INPUTS (default: images for faces, series for ucr, else the only one).",
)
@click.option(
    "--exact", is_flag=True, default=False, help="Brute-force search instead of the graph."
)
@click.option("--ef", type=click.IntRange(min=1), default=None, help="Graph beam size.")
@_format_options
def query(
    run_dir: Path,
    inputs_path: Path,
    k: int,
    key: str | None,
    exact: bool,
    ef: int | None,
    output_format: str,
    out: Path | None,
    debug: bool,
) -> None:
    """Embed INPUTS with a trained run's model and look up their nearest items in its index.

    INPUTS: faces, an .npz with uint8 `images` (n x H x W) or an .npy array; UCR, an .npz/.npy of
    series (n x length) or a UCR file (.ts, .txt, .tsv), z-normalised like the training data. Prints
    one row per (input, rank): the neighbor's id (row of embeddings.npz), label and L2 distance.
    """
    if exact and ef is not None:
        raise click.UsageError("--ef applies only to graph search (without --exact)")

    def body() -> None:
        import numpy as np

        from pyembed.train import build_model, embed, image_tensor, series_tensor

        Index = _import_index()
        state, metadata, arrays = _load_run(run_dir)
        raw = _read_inputs(inputs_path, key, metadata)
        model = build_model(metadata["model"])
        model.load_state_dict(state["model"])
        if metadata["kind"] == "faces":
            expected = tuple(metadata["data"]["image_shape"])
            if raw.ndim != 3 or raw.dtype != np.uint8 or raw.shape[1:] != expected:
                raise click.ClickException(
                    f"face inputs must be uint8 of shape (n, {expected[0]}, {expected[1]}), got "
                    f"{raw.dtype} {raw.shape}"
                )
            inputs = image_tensor(raw)
        else:
            length = int(metadata["data"]["length"])
            if raw.ndim != 2 or raw.shape[1] != length:
                raise click.ClickException(
                    f"series inputs must have shape (n, {length}), got {raw.shape}"
                )
            if metadata["data"]["znorm"]:
                from pyembed.datasets.ucr import znormalize

                raw = znormalize(raw)
            inputs = series_tensor(raw)
        vectors = embed(model, inputs)
        if not (run_dir / INDEX_FILE).exists():
            raise click.ClickException(f"{str(run_dir / INDEX_FILE)!r} is missing")
        index = Index.load(run_dir / INDEX_FILE)
        if k > len(index):
            raise click.BadParameter(f"the index holds {len(index)} items", param_hint="-k")
        found = index.search(vectors, k=k, exact=exact, ef=ef)
        names = arrays["label_names"]
        rows = [
            {
                "query": q,
                "rank": rank + 1,
                "id": int(found.ids[q, rank]),
                "label": str(names[found.ids[q, rank]]) if found.ids[q, rank] >= 0 else None,
                "distance": float(found.distances[q, rank]),
            }
            for q in range(found.ids.shape[0])
            for rank in range(k)
        ]
        title = f"pyembed query: {inputs.shape[0]} input(s) against {len(index)} items of {run_dir}"
        _emit(
            _render(rows, ["query", "rank", "id", "label", "distance"], output_format, title, {}),
            out,
        )

    run_guarded(debug, body)


def _read_inputs(path: Path, key: str | None, metadata: dict[str, Any]) -> Any:
    import numpy as np

    suffix = path.suffix.lower()
    if suffix in (".ts", ".txt", ".tsv", ".csv"):
        if metadata["kind"] != "ucr":
            raise click.ClickException(f"{path.name}: UCR text files are inputs for ucr runs only")
        from pyembed.datasets import ucr as readers

        reader = {".ts": readers.read_ts, ".tsv": readers.read_tsv}.get(suffix, readers.read_txt)
        return reader(path).X
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix != ".npz":
        raise click.ClickException(f"{path.name}: expected .npz, .npy or a UCR .ts/.txt/.tsv file")
    with np.load(path, allow_pickle=False) as archive:
        files = list(archive.files)
        if key is None:
            preferred = "images" if metadata["kind"] == "faces" else "series"
            if preferred in files:
                key = preferred
            elif len(files) == 1:
                key = files[0]
            else:
                raise click.ClickException(
                    f"{path.name} holds {', '.join(files)}; choose one with --key (default: "
                    f"{preferred})"
                )
        if key not in files:
            raise click.ClickException(
                f"{path.name} has no array {key!r}; it has {', '.join(files)}"
            )
        return archive[key]
