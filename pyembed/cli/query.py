"""``pyembed query RUN_DIR INPUTS``: embed new inputs with a trained run and look them up.

INPUTS are read here (``.npz``/``.npy`` arrays, or UCR files through
:func:`pyembed.datasets.ucr.read_file`), embedded by the run's network and searched in the run's
saved index (:mod:`pyembed.train.run_dir`). Only click and the index defaults are imported at
module level; torch, numpy and the index are imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pyembed.cli import output
from pyembed.cli._common import (
    debug_option,
    ef_option,
    k_option,
    run_guarded,
    search_option,
    threads_option,
)

__all__ = ["query"]

_UCR_SUFFIXES = (".ts", ".txt", ".tsv", ".csv")


@click.command("query")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument(
    "inputs_path", metavar="INPUTS", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@k_option(default=5, help="Neighbors per input.")
@click.option(
    "--key",
    default=None,
    help="Array of an .npz INPUTS (default: images for faces, series for ucr, else the only one).",
)
@search_option(default="graph")
@ef_option
@threads_option(help="Threads for embedding (torch) and search; default: torch's and all cores.")
@output.output_options
@debug_option
def query(
    run_dir: Path,
    inputs_path: Path,
    k: int,
    key: str | None,
    search: str,
    ef: int | None,
    threads: int | None,
    output_format: str,
    out: Path | None,
    debug: bool,
) -> None:
    """Embed INPUTS with a trained run's model and look up their nearest items in its index.

    INPUTS: faces, an .npz with uint8 `images` (n x H x W) or an .npy array; UCR, an .npz/.npy of
    series (n x length) or a UCR file (.ts, .txt, .tsv, .csv), z-normalised like the training data.
    Prints one row per (input, rank): the neighbor's id (row of embeddings.npz), label and L2
    distance.
    """
    if search == "exact" and ef is not None:
        raise click.UsageError("--ef applies only to --search graph")

    def body() -> None:
        import numpy as np
        import torch

        from pyembed.train import build_model, embed, image_tensor, series_tensor
        from pyembed.train.run_dir import load_index, load_run

        if threads is not None:
            torch.set_num_threads(threads)
        run = load_run(run_dir)
        metadata = run.metadata
        raw = _read_inputs(inputs_path, key, run.kind)
        model = build_model(metadata["model"])
        model.load_state_dict(run.state["model"])
        if run.kind == "faces":
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
        index = load_index(run_dir)
        if k > len(index):
            raise click.BadParameter(f"the index holds {len(index)} items", param_hint="--k")
        found = index.search(vectors, k=k, exact=search == "exact", ef=ef, n_threads=threads)
        names = run.arrays["label_names"]
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
        text = output.render(
            output_format, rows, ["query", "rank", "id", "label", "distance"], title=title
        )
        output.emit(text, out)

    run_guarded(debug, body)


def _read_inputs(path: Path, key: str | None, kind: str) -> Any:
    """The input array of ``path``: a UCR file's series, an ``.npy`` array or one ``.npz`` array."""
    import numpy as np

    suffix = path.suffix.lower()
    if suffix in _UCR_SUFFIXES:
        if kind != "ucr":
            raise click.ClickException(f"{path.name}: UCR text files are inputs for ucr runs only")
        from pyembed.datasets.ucr import read_file

        return read_file(path).X
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix != ".npz":
        raise click.ClickException(
            f"{path.name}: expected .npz, .npy or a UCR file ({', '.join(_UCR_SUFFIXES)})"
        )
    with np.load(path, allow_pickle=False) as archive:
        files = list(archive.files)
        if key is None:
            preferred = "images" if kind == "faces" else "series"
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
