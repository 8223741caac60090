"""``pyembed query RUN_DIR INPUTS``: embed new inputs with a trained run and look them up.

INPUTS are read here (``.npz``/``.npy`` arrays, or UCR files through
:func:`pyembed.datasets.ucr.read_file`), embedded by the run's network and searched in the run's
saved index (:mod:`pyembed.train.run_dir`), in the served gallery (``--gallery``) or, for faces
runs, in a gallery the model embeds from another face file (``--gallery-data OTHER.npz``). Only
click and the index defaults are imported at
module level; torch, numpy and the index are imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pyembed.cli import output
from pyembed.cli._common import (
    GuardedCommand,
    crop_option,
    debug_option,
    ef_option,
    k_option,
    search_option,
    threads_option,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from torch import nn

    from pyembed.index import Index
    from pyembed.train.run_dir import Run

__all__ = ["query"]

_UCR_SUFFIXES = (".ts", ".txt", ".tsv", ".csv")


@click.command("query", cls=GuardedCommand)
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument(
    "inputs_paths",
    metavar="INPUTS...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@k_option(default=5, help="Neighbors per input.")
@click.option(
    "--key",
    default=None,
    help="Array of an .npz INPUTS (default: images for faces, series for ucr, else the only one).",
)
@crop_option(default=1.0, help="Image INPUTS: the centre crop (pyembed.datasets.images).")
@click.option(
    "--gallery",
    is_flag=True,
    help="Faces: search the served gallery (RUN_DIR/gallery: the run's faces plus the people "
    "enrolled through pyembed serve) instead of the run's index.",
)
@click.option(
    "--gallery-data",
    "gallery_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Faces: embed the images of this face .npz (uint8 images N x H x W, labels) with the "
    "run's model and search them instead of the run's index; ids are its row numbers.",
)
@click.option(
    "--resize",
    is_flag=True,
    default=False,
    help="Faces: centre-crop and resize .npz/.npy INPUTS and --gallery-data images of another "
    "size to the model's input (area averaging when shrinking, bilinear when enlarging).",
)
@search_option(default="graph")
@ef_option
@threads_option(help="Threads for embedding (torch) and search; default: torch's and all cores.")
@output.output_options
@debug_option
def query(
    run_dir: Path,
    inputs_paths: tuple[Path, ...],
    k: int,
    key: str | None,
    crop: float,
    gallery: bool,
    gallery_path: Path | None,
    resize: bool,
    search: str,
    ef: int | None,
    threads: int | None,
    output_format: str,
    out: Path | None,
) -> None:
    """Embed INPUTS with a trained run's model and look up their nearest items in its index.

    INPUTS: faces, an .npz with uint8 `images` (n x H x W), an .npy array, or one or more image
    files (PNG, JPEG, ...: grayscale, centre crop --crop, resized to the model's input, as
    `pyembed serve` does); UCR, an .npz/.npy of series (n x length) or a UCR file (.ts, .txt, .tsv,
    .csv), z-normalised like the training data. Prints one row per (input, rank): the neighbor's
    id (row of embeddings.npz), label and L2 distance; image files are numbered in the order given.

    --gallery-data OTHER.npz (faces): the run's model embeds OTHER's images and the inputs are
    looked up among them instead (id: row of OTHER, label: its label), e.g. people the model never
    saw. Face arrays of another size than the model's input (INPUTS or OTHER) are an error unless
    --resize is given; image files are always resized.
    """
    if search == "exact" and ef is not None:
        raise click.UsageError("--ef applies only to --search graph")
    if gallery and gallery_path is not None:
        raise click.UsageError("give either --gallery or --gallery-data, not both")
    from pyembed.datasets.images import IMAGE_SUFFIXES

    images = [p for p in inputs_paths if p.suffix.lower() in IMAGE_SUFFIXES]
    if len(inputs_paths) > 1 and len(images) != len(inputs_paths):
        raise click.UsageError("several INPUTS must all be image files; give one array file")
    if crop != 1.0 and not images:
        raise click.UsageError("--crop applies only to image INPUTS")
    if resize and images and gallery_path is None:
        raise click.UsageError(
            "--resize applies to .npz/.npy INPUTS and --gallery-data; image files are always "
            "resized"
        )

    import torch

    from pyembed.train import embed, image_tensor, series_tensor
    from pyembed.train.run_dir import INDEX_FILE, load_index, load_model, load_run

    if threads is not None:
        torch.set_num_threads(threads)
    run = load_run(run_dir)
    metadata = run.metadata
    if run.kind != "faces":
        for given, name in ((gallery_path is not None, "--gallery-data"), (resize, "--resize")):
            if given:
                raise click.UsageError(f"{name} applies only to faces runs; RUN_DIR is a ucr run")
    if images:
        if run.kind != "faces":
            raise click.ClickException(f"{images[0]}: image files are inputs for faces runs only")
        from pyembed.datasets.images import read_face_images

        raw: Any = read_face_images(images, metadata["data"]["image_shape"], crop)
    else:
        inputs_path = inputs_paths[0]
        raw = _checked_inputs(
            _read_inputs(inputs_path, key, run.kind),
            inputs_path,
            run.kind,
            metadata["data"],
            resize=resize,
        )
    model = load_model(run)
    if run.kind == "faces":
        inputs = image_tensor(raw)
    else:
        if metadata["data"]["znorm"]:
            from pyembed.datasets.ucr import znormalize

            raw = znormalize(raw)
        inputs = series_tensor(raw)
    vectors = embed(model, inputs)
    names = run.arrays["label_names"]
    searched = str(run_dir)
    if gallery_path is not None:
        index, gallery_labels = _file_gallery(
            run, model, gallery_path, resize=resize, exact=search == "exact"
        )
        searched = str(gallery_path)

        def label(id: int) -> str | None:
            return str(gallery_labels[id])

    elif gallery:
        if run.kind != "faces":
            raise click.UsageError("--gallery applies only to faces runs")
        from pyembed.serve.gallery import read_gallery

        index, gallery_names = read_gallery(run_dir)

        def label(id: int) -> str | None:
            return gallery_names.get(id)

        if index.dim != vectors.shape[1]:
            raise click.ClickException(
                f"{run_dir}/gallery: dim {index.dim} is not the model's {vectors.shape[1]}"
            )
    else:
        index = load_index(run_dir)
        ids = index.ids
        if index.dim != vectors.shape[1] or (ids.size and int(ids.max()) >= names.shape[0]):
            raise click.ClickException(
                f"{run_dir / INDEX_FILE}: the index (dim {index.dim}, {len(index)} items) does "
                f"not belong to this run's model and embeddings.npz (dim {vectors.shape[1]}, "
                f"{names.shape[0]} items)"
            )

        def label(id: int) -> str | None:
            return str(names[id])

    if k > len(index):
        raise click.BadParameter(f"the index holds {len(index)} items", param_hint="--k")
    found = index.search(vectors, k=k, exact=search == "exact", ef=ef, n_threads=threads)
    rows = [
        {
            "query": q,
            "rank": rank + 1,
            "id": int(found.ids[q, rank]),
            "label": label(int(found.ids[q, rank])) if found.ids[q, rank] >= 0 else None,
            "distance": float(found.distances[q, rank]),
        }
        for q in range(found.ids.shape[0])
        for rank in range(k)
    ]
    title = f"pyembed query: {inputs.shape[0]} input(s) against {len(index)} items of {searched}"
    text = output.render(
        output_format, rows, ["query", "rank", "id", "label", "distance"], title=title
    )
    output.emit(text, out)


def _read_inputs(path: Path, key: str | None, kind: str) -> Any:
    """The input array of ``path``: a UCR file's series, an ``.npy`` array or one ``.npz`` array.

    Files are read by :mod:`pyembed.datasets.npz` (never unpickled); problems raise a
    ``ValueError``, ``OSError`` or ``click.ClickException`` naming the file.
    """
    from pyembed.datasets.npz import list_npz, read_npy, read_npz

    suffix = path.suffix.lower()
    if suffix in _UCR_SUFFIXES:
        if kind != "ucr":
            raise click.ClickException(f"{path}: UCR text files are inputs for ucr runs only")
        from pyembed.datasets.ucr import read_file

        split = read_file(path)
        if split.channels != 1 or not split.equal_length:
            raise click.ClickException(
                f"{path}: ucr runs embed one-channel series of one length; this file holds "
                f"{split.channels} channel(s) and lengths {int(split.lengths.min())} to "
                f"{int(split.lengths.max())}"
            )
        return split.X
    if suffix == ".npy":
        return read_npy(path)
    if suffix != ".npz":
        raise click.ClickException(
            f"{path}: expected .npz, .npy or a UCR file ({', '.join(_UCR_SUFFIXES)})"
        )
    files = list_npz(path)
    if key is None:
        preferred = "images" if kind == "faces" else "series"
        if preferred in files:
            key = preferred
        elif len(files) == 1:
            key = files[0]
        else:
            raise click.ClickException(
                f"{path} holds {', '.join(files) or 'no arrays'}; choose one with --key "
                f"(default: {preferred})"
            )
    if key not in files:
        raise click.ClickException(
            f"{path} has no array {key!r}; it has {', '.join(files) or 'none'}"
        )
    return read_npz(path, [key])[key]


def _file_gallery(
    run: Run, model: nn.Module, path: Path, *, resize: bool, exact: bool
) -> tuple[Index, NDArray[np.int64]]:
    """The index over the model's embeddings of the face file ``path`` (ids: its row numbers,
    built on one thread with the index's default seed, so the graph is reproducible), and the
    file's labels."""
    import numpy as np

    from pyembed import Index
    from pyembed.train import embed, image_tensor
    from pyembed.train.run_dir import model_face_data

    data, _ = model_face_data(run, path, resize=resize)
    if data.n == 0:
        raise click.ClickException(f"{path}: the gallery file holds no images")
    vectors = embed(model, image_tensor(data.images))
    index = Index(vectors.shape[1], "euclidean")
    index.add(vectors, ids=np.arange(data.n, dtype=np.int64))
    if not exact:
        index.build(n_threads=1)
    return index, data.labels


def _checked_inputs(
    raw: Any, path: Path, kind: str, data: dict[str, Any], *, resize: bool = False
) -> Any:
    """``raw`` checked against the run's inputs: uint8 images of the trained size (faces; any
    size with ``resize``, converted by :func:`pyembed.datasets.faces.resize_faces`), or finite
    real series of the trained length (ucr); a mismatch names the file."""
    import numpy as np

    if kind == "faces":
        expected = tuple(data["image_shape"])
        if raw.ndim == 3 and raw.dtype == np.uint8 and 0 not in raw.shape[1:] and resize:
            from pyembed.datasets.faces import resize_faces

            return resize_faces(raw, expected)
        if raw.ndim != 3 or raw.dtype != np.uint8 or raw.shape[1:] != expected:
            hint = (
                " (another size with --resize)" if raw.ndim == 3 and raw.dtype == np.uint8 else ""
            )
            raise click.ClickException(
                f"{path}: face inputs must be uint8 of shape (n, {expected[0]}, {expected[1]})"
                f"{hint}, got {raw.dtype} {raw.shape}"
            )
        return raw
    length = int(data["length"])
    if raw.ndim != 2 or raw.shape[1] != length or raw.dtype.kind not in "iuf":
        raise click.ClickException(
            f"{path}: series inputs must be real numbers of shape (n, {length}), got "
            f"{raw.dtype} {raw.shape}"
        )
    with np.errstate(over="ignore"):  # beyond the float32 range: reported below as not finite
        series = raw.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(series).all(axis=1))
    if bad.size:
        raise click.ClickException(
            f"{path}: series {int(bad[0])} is not finite in float32 (NaN, inf or beyond 3.4e38)"
        )
    return series
