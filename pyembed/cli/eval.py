"""``pyembed eval RUN_DIR``: a trained run's metrics beside a baseline on the same split.

Faces: leave-one-out retrieval among the held-out identities' images, for the learned embedding
and PCA eigenfaces fit on the training identities; with ``--data OTHER.npz``, the same among the
images of another face file (people the model never saw), for the learned embedding, the
eigenfaces fit on the run's training images and the raw pixels. UCR: TEST series against the TRAIN series, for
the learned embedding and for DTW on the series themselves. DTN runs: the saved models of every
fold re-score the regenerated test faces (:func:`pyembed.train.dtn.evaluate_run`). The metrics are those of
:mod:`pyembed.metrics`; the run directory is read through :mod:`pyembed.train.run_dir`.

Only click and the index defaults are imported at module level; torch, numpy and the index are
imported when the command runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pyembed.cli import output
from pyembed.cli._common import (
    GuardedCommand,
    debug_option,
    ef_option,
    graph_option,
    one_line,
    search_option,
    threads_option,
)

if TYPE_CHECKING:
    from pyembed.train.run_dir import Run

__all__ = ["eval_cmd"]


@click.command("eval", cls=GuardedCommand)
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--pca-components",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Eigenfaces kept (faces).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Faces: evaluate on another face .npz (uint8 images N x H x W, labels) instead of the "
    "run's held-out identities.",
)
@click.option(
    "--resize",
    is_flag=True,
    default=False,
    help="With --data: centre-crop and resize images of another size to the model's input "
    "(area averaging when shrinking, bilinear when enlarging).",
)
@click.option(
    "--band",
    type=click.IntRange(min=0),
    default=None,
    help="DTW baseline Sakoe-Chiba radius in samples (ucr; default: full DTW).",
)
@search_option(default="exact")
@graph_option
@ef_option
@threads_option(
    help="Threads for the index builds and searches (and, with --data, for embedding); default: "
    "all cores (torch's default for embedding)."
)
@output.output_options
@debug_option
def eval_cmd(
    run_dir: Path,
    pca_components: int,
    data_path: Path | None,
    resize: bool,
    band: int | None,
    search: str,
    graph: str,
    ef: int | None,
    threads: int | None,
    output_format: str,
    out: Path | None,
) -> None:
    """Metrics of a trained run beside a baseline on the same split.

    Faces: leave-one-out retrieval among the held-out identities' images (Recall@1, Recall@5, MAP@R,
    1-NN error, balanced verification accuracy) for the learned embedding and PCA eigenfaces fit on
    the training identities. Faces with --data OTHER.npz: the same, leave-one-out among all images
    of OTHER (identities the model never saw), for the learned embedding, eigenfaces fit on the
    run's training images (from the run's recorded data file) and raw pixels (grey levels / 255);
    images of another size than the model's input are an error unless --resize is given. UCR: TEST series against the TRAIN series (1-NN error, MAP@R) for the
    learned embedding and for exact DTW on the series themselves. Distances are L2 (the learned
    embeddings, eigenfaces) or DTW (the series). DTN runs (`pyembed train dtn`): every fold's saved
    models re-score the regenerated test faces (AUC, EER, APCER, BPCER, ACER beside the baselines);
    the search options do not apply.
    """
    if ef is not None and search != "graph":
        raise click.UsageError("--ef applies only to --search graph")
    if resize and data_path is None:
        raise click.UsageError("--resize applies only with --data")
    searching = _Search(exact=search == "exact", graph=graph, ef=ef, threads=threads)

    if _is_dtn_run(run_dir):
        if data_path is not None:
            raise click.UsageError(
                "--data applies only to faces runs; RUN_DIR is a dtn run (pyembed train dtn)"
            )
        _eval_dtn(run_dir, output_format, out)
        return

    from pyembed.train.run_dir import load_run

    run = load_run(run_dir)
    document: dict[str, Any] = {"run_dir": str(run_dir), "kind": run.kind}
    if data_path is not None:
        if run.kind != "faces":
            raise click.UsageError(
                f"--data applies only to faces runs; RUN_DIR is a {run.kind} run"
            )
        rows, title, resized_from = _eval_faces_on(
            run, data_path, pca_components, resize, searching
        )
        document["data"] = str(data_path)
        document["resized_from"] = None if resized_from is None else list(resized_from)
    elif run.kind == "faces":
        rows, title = _eval_faces(run, pca_components, searching)
    else:
        rows, title = _eval_ucr(run, band, searching)
    text = output.render(output_format, rows, list(rows[0]), title=title, document=document)
    output.emit(text, out)


def _is_dtn_run(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a ``pyembed train dtn`` run (its run.json says kind "dtn")."""
    import json

    try:
        document = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("kind") == "dtn"


def _eval_dtn(run_dir: Path, output_format: str, out: Path | None) -> None:
    """Re-score a DTN run's saved models on its regenerated test folds and print the tables."""
    from pyembed.cli.train_dtn import render_dtn_report
    from pyembed.train.dtn import evaluate_run

    output.emit(render_dtn_report(evaluate_run(run_dir), output_format), out)


@dataclass(frozen=True)
class _Search:
    """How eval builds and searches its indexes."""

    exact: bool
    graph: str
    ef: int | None
    threads: int | None

    @property
    def label(self) -> str:
        return "exact" if self.exact else f"{self.graph} graph"


def _eval_faces(
    run: Run, pca_components: int, searching: _Search
) -> tuple[list[dict[str, Any]], str]:
    import numpy as np

    from pyembed.datasets.faces import Eigenfaces
    from pyembed.train.run_dir import run_face_data

    metadata, arrays = run.metadata, run.arrays
    try:
        data = run_face_data(run)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    is_test = arrays["is_test"]
    labels = data.labels[is_test]
    baseline = Eigenfaces(pca_components).fit(data.images[~is_test])
    candidates = {
        "learned": arrays["embeddings"][is_test],
        f"eigenfaces-{pca_components}": baseline.transform(data.images[is_test]),
    }
    rows = _leave_one_out_rows(candidates, labels, searching)
    n_ids = np.unique(labels).size
    title = (
        f"pyembed eval: {metadata['data']['name']}, {n_ids} held-out identities, {labels.size} "
        f"images, leave-one-out, {searching.label} search"
    )
    return rows, title


def _eval_faces_on(
    run: Run, data_path: Path, pca_components: int, resize: bool, searching: _Search
) -> tuple[list[dict[str, Any]], str, tuple[int, int] | None]:
    """Rows and title of ``eval --data``: leave-one-out among the images of ``data_path``, and
    the size the images had when they were resized (else None)."""
    import numpy as np
    import torch

    from pyembed.datasets.faces import Eigenfaces
    from pyembed.train import embed, image_tensor
    from pyembed.train.run_dir import load_model, model_face_data, run_face_data

    own_path = Path(run.metadata["data"]["path"])
    if own_path.exists() and own_path.resolve() == data_path.resolve():
        raise click.BadParameter(
            f"{data_path} is the file the run was trained on; without --data, pyembed eval "
            "scores its held-out identities",
            param_hint="--data",
        )
    other, resized_from = model_face_data(run, data_path, resize=resize)
    identities, counts = np.unique(other.labels, return_counts=True)
    if identities.size < 2 or counts.max() < 2:
        raise click.ClickException(
            f"{data_path}: leave-one-out retrieval needs at least 2 identities and one with 2 "
            f"or more images; the file has {other.n} images of {identities.size} identities"
        )
    try:
        training = run_face_data(run)
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"the run's training data (for the eigenfaces baseline): {one_line(exc)}"
        ) from None
    baseline = Eigenfaces(pca_components).fit(training.images[~run.arrays["is_test"]])
    if searching.threads is not None:
        torch.set_num_threads(searching.threads)
    candidates = {
        "learned": embed(load_model(run), image_tensor(other.images)),
        f"eigenfaces-{pca_components}": baseline.transform(other.images),
        "pixels": other.images.reshape(other.n, -1) / 255.0,
    }
    rows = _leave_one_out_rows(candidates, other.labels, searching)
    height, width = other.images.shape[1:]
    resized = (
        ""
        if resized_from is None
        else f", resized from {resized_from[0]}x{resized_from[1]} to {height}x{width}"
    )
    title = (
        f"pyembed eval: model trained on {run.metadata['data']['name']}, on {other.name} "
        f"({identities.size} identities never trained on, {other.n} images{resized}), "
        f"leave-one-out, {searching.label} search"
    )
    return rows, title, resized_from


def _leave_one_out_rows(
    candidates: dict[str, Any], labels: Any, searching: _Search
) -> list[dict[str, Any]]:
    """One row of leave-one-out retrieval metrics per ``method -> vectors (n, dim)`` (L2)."""
    import numpy as np

    from pyembed.metrics import leave_one_out_neighbors, relevant_counts, retrieval_metrics

    depth = max(5, int(relevant_counts(labels, labels, exclude_self=True).max()))
    depth = min(depth, labels.size - 1)
    rows = []
    for method, vectors in candidates.items():
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        neighbors = leave_one_out_neighbors(
            vectors,
            depth,
            exact=searching.exact,
            ef=searching.ef,
            graph=searching.graph,
            n_threads=searching.threads,
        )
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
    return rows


def _eval_ucr(run: Run, band: int | None, searching: _Search) -> tuple[list[dict[str, Any]], str]:
    import numpy as np

    from pyembed import Index
    from pyembed.datasets.ucr import load_pair
    from pyembed.metrics import labels_of, map_at_r, one_nn_error, relevant_counts

    info, arrays = run.metadata["data"], run.arrays
    data_dir = None if info.get("data_dir") is None else Path(info["data_dir"])
    train_split, test_split = load_pair(info["name"], data_dir, znorm=info["znorm"])
    is_test = arrays["is_test"]
    labels = arrays["labels"]
    n_train = int((~is_test).sum())
    if n_train != train_split.n or int(is_test.sum()) != test_split.n:
        where = "the bundled data" if data_dir is None else str(data_dir)
        raise click.ClickException(
            f"{info['name']} in {where}: the TRAIN/TEST files no longer match the run's embeddings"
        )
    train_labels, test_labels = labels[~is_test], labels[is_test]
    r = relevant_counts(test_labels, train_labels)
    depth = max(1, int(r.max()))
    length = train_split.length
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
        index = Index(train_x.shape[1], metric, band=method_band, graph=searching.graph)  # type: ignore[arg-type]
        index.add(train_x, ids=np.arange(n_train, dtype=np.int64))
        if not searching.exact:
            index.build(n_threads=searching.threads)  # not timed as search, as before
        start = time.perf_counter()
        found = index.search(
            test_x,
            k=depth,
            exact=searching.exact,
            ef=None if searching.exact else searching.ef,
            n_threads=searching.threads,
        )
        seconds = time.perf_counter() - start
        neighbor_labels = labels_of(found.ids, train_labels)
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
        f"TRAIN, {searching.label} search"
    )
    return rows, title
