"""``pyembed train dtn``: the Deep Tree Network's zero-shot anti-spoofing protocol on a face file.

Only click is imported at module level; torch and the protocol (:mod:`pyembed.train.dtn`) are
imported when the command runs. ``pyembed eval RUN_DIR`` re-scores the saved models
(:func:`render_dtn_report` prints both commands' tables).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pyembed.cli import output
from pyembed.cli._common import GuardedCommand, debug_option, stderr_is_terminal, threads_option

__all__ = ["dtn", "render_dtn_report"]


def render_dtn_report(document: dict[str, Any], output_format: str) -> str:
    """The metric table (each method on each unseen attack, mean +- std) and the look-up table
    (where each unseen attack lands among the known ones), as text in ``output_format``."""
    from pyembed.train.dtn import lookup_rows, summary_rows

    if output_format == "json":
        return output.render_json(document)
    rows = summary_rows(document)
    lookup = lookup_rows(document)
    data = Path(document["data"]["path"]).name
    first = output.render(
        output_format,
        rows,
        list(rows[0]),
        title=f"DTN zero-shot anti-spoofing on {data}: leave one attack out, identity-disjoint "
        "(metrics in %, threshold fixed on validation data)",
        document=None,
    )
    second = output.render(
        output_format,
        lookup,
        list(lookup[0]),
        title="DTN features in an index: 1-NN attack type on seen attacks (validation "
        "identities) and the nearest known attack of each unseen one",
        document=None,
    )
    return first.rstrip("\n") + "\n\n" + second


def _parse_attacks(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    if not parts:
        raise click.BadParameter("expected comma-separated attack names", param_hint="--attacks")
    return parts


@click.command("dtn", cls=GuardedCommand)
@click.option(
    "--data",
    "data_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Face .npz file (images uint8 N x H x W, labels); attacks are synthesised at 64x64.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for run.json and folds/<attack>.pt.",
)
@click.option(
    "--attacks",
    default=None,
    help="Run only these folds (unseen attacks), comma-separated; default every attack: "
    "print, replay, paper_mask, partial, recapture, mask3d.",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=600,
    show_default=True,
    help="Optimiser steps per model and fold.",
)
@click.option(
    "--warmup-steps",
    type=click.IntRange(min=0),
    default=150,
    show_default=True,
    help="Supervised-only steps before the route and unique losses join.",
)
@click.option(
    "--alternate",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="0: train everything jointly after the warm-up; k: the paper's alternation, "
    "k steps of routing units only, then k steps of the rest.",
)
@click.option(
    "--width",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Channels of every CRU.",
)
@click.option(
    "--depth",
    type=click.IntRange(1, 5),
    default=3,
    show_default=True,
    help="Routing levels (2**depth leaves).",
)
@click.option(
    "--cnn-width",
    type=click.IntRange(min=1),
    default=None,
    help="Channels of the CNN baseline's units; default --width (the units of one tree path, "
    "the DTN's compute per sample). 52 gives 801,201 parameters, about the DTN's 836,536 at "
    "width 16.",
)
@click.option("--batch-size", type=click.IntRange(min=3), default=32, show_default=True)
@click.option(
    "--spoof-fraction",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.75,
    show_default=True,
    help="Share of spoof samples per batch.",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0.0, min_open=True),
    default=1e-3,
    show_default=True,
    help="Adam learning rate (beta1 0.5).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(min=0.0),
    default=1e-3,
    show_default=True,
    help="Route loss: exp(-alpha v'Cv).",
)
@click.option(
    "--beta",
    type=click.FloatRange(min=0.0),
    default=1e-2,
    show_default=True,
    help="Route loss: + beta tr(C).",
)
@click.option("--route-weight", type=click.FloatRange(min=0.0), default=2.0, show_default=True)
@click.option("--unique-weight", type=click.FloatRange(min=0.0), default=0.001, show_default=True)
@click.option("--map-weight", type=click.FloatRange(min=0.0), default=1.0, show_default=True)
@click.option("--class-weight", type=click.FloatRange(min=0.0), default=0.001, show_default=True)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seeds the attacks, the identity split, the weights and the batches.",
)
@threads_option(help="torch threads; default torch's.")
@click.option("--overwrite", is_flag=True, help="Replace a run already in --run-dir.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars on stderr (default: when stderr is a terminal).",
)
@output.output_options
@debug_option
def dtn(
    data_path: Path,
    run_dir: Path,
    attacks: str | None,
    steps: int,
    warmup_steps: int,
    alternate: int,
    width: int,
    depth: int,
    cnn_width: int | None,
    batch_size: int,
    spoof_fraction: float,
    lr: float,
    alpha: float,
    beta: float,
    route_weight: float,
    unique_weight: float,
    map_weight: float,
    class_weight: float,
    seed: int,
    threads: int | None,
    overwrite: bool,
    progress: bool | None,
    output_format: str,
    out: Path | None,
) -> None:
    """Deep Tree Network, zero-shot: for each attack type in turn, train on live faces and the
    other attacks (training identities), fix thresholds on validation identities, and test on
    live faces and the unseen attack (test identities).

    Attacks are synthesised over the real faces of --data (print, replay, paper mask, partial
    occlusion, recapture, 3D-mask-like), each with a per-pixel spoof mask. Beside the DTN two
    baselines are trained on the same folds: a plain CNN of the same units and a logistic
    regression on image statistics. Prints AUC, EER, APCER, BPCER and ACER (ISO/IEC 30107-3) per
    unseen attack and as mean +- std. Re-score with `pyembed eval RUN_DIR`.
    """
    if warmup_steps > steps:
        raise click.BadParameter(f"must be at most --steps={steps}", param_hint="--warmup-steps")
    run_file = run_dir / "run.json"
    if run_file.exists() and not overwrite:
        raise click.ClickException(f"{str(run_file)!r} exists; pass --overwrite to start over")
    import torch

    from pyembed.train.dtn import DTNConfig, run_protocol

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        config = DTNConfig(
            width=width,
            depth=depth,
            cnn_width=cnn_width,
            steps=steps,
            warmup_steps=warmup_steps,
            alternate=alternate,
            batch_size=batch_size,
            spoof_fraction=spoof_fraction,
            lr=lr,
            alpha=alpha,
            beta=beta,
            route_weight=route_weight,
            unique_weight=unique_weight,
            map_weight=map_weight,
            class_weight=class_weight,
            seed=seed,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    show = stderr_is_terminal() if progress is None else progress
    document = run_protocol(
        data_path, run_dir, config, attacks=_parse_attacks(attacks), progress=show
    )
    output.emit(render_dtn_report(document, output_format), out)
