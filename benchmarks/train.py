"""Learned embeddings against classical baselines, searched with pyembed's index.

Faces (``shared/data/faces``: Olivetti 40 x 10 at 64x64, Extended Yale B 38 x ~64 at 32x32): an
identity-disjoint split holds out a quarter of the identities; the network trains on the rest and
never sees the held-out people. Every held-out image then queries all other held-out images
(leave-one-out) through an exact :class:`pyembed.Index` search; reported: Recall@1, Recall@5, MAP@R,
balanced verification accuracy over all held-out pairs, and training seconds per epoch, for the
triplet (batch-hard and semi-hard mining), contrastive and softmax + center-loss set-ups, next to
PCA eigenfaces fit on the training identities and raw pixels.

UCR (the data sets bundled with pyembed): a 1-D DenseNet trained on the TRAIN split embeds TRAIN and
TEST; reported is the 1-NN test error of the embedding next to 1-NN with Euclidean distance and with
exact full DTW on the z-normalised series (both through the index), and the archive's published
full-DTW error. Beside it, the two recursive models of ``pyembed.nn.recursive`` trained on the
TRAIN series without their labels (the autoencoder on its reconstruction errors, the grammar on
merge correctness in splices; frames of ``default_frame_width(length)`` samples, the embedding is
the mean of the merge nodes' vectors, as many entries as a frame has samples).

Transfer (``--transfer``, :func:`run_transfer`): a face model trained on every identity of Yale B
embeds Olivetti, people it never saw, and the reverse; leave-one-out retrieval on the other set for
the learned embedding, eigenfaces fit on the training set and raw pixels (``pyembed eval RUN
--data OTHER.npz --resize`` computes the same for a trained run).

Usage::

    python benchmarks/train.py                       # everything, about 20 minutes on 2 CPU cores
    python benchmarks/train.py --faces olivetti --ucr GunPoint --setups triplet-hard
    python benchmarks/train.py --out results.json    # also write every number as JSON
    python benchmarks/train.py --transfer --threads 1  # only the cross-dataset table (Yale B <-> Olivetti)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

FACES_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"

#: name -> (loss, miner)
SETUPS: dict[str, tuple[str, str | None]] = {
    "triplet-hard": ("triplet", "hard"),
    "triplet-semihard": ("triplet", "semihard"),
    "contrastive": ("contrastive", None),
    "center": ("center", None),
}

#: per face set: first-convolution stride (2 halves the images up front) and epochs
FACE_SETTINGS: dict[str, dict[str, int]] = {
    "olivetti": {"stem_stride": 2, "epochs": 30},
    "yaleb32": {"stem_stride": 2, "epochs": 15},
}


def _face_metrics(vectors: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from pyembed.metrics import leave_one_out_neighbors, relevant_counts, retrieval_metrics

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    depth = max(5, int(relevant_counts(labels, labels, exclude_self=True).max()))
    neighbors = leave_one_out_neighbors(vectors, min(depth, len(vectors) - 1))  # exact search
    return retrieval_metrics(vectors, labels, ks=(1, 5), neighbor_ids=neighbors)


def _train_face_model(
    setup: str,
    images: Any,
    codes: Any,
    *,
    stem_stride: int,
    epochs: int,
    seed: int,
) -> tuple[Any, Any, Any]:
    """Train the face DenseNet (64-d) of a set-up on ``images`` ``(n, 1, H, W)`` with identity
    ``codes`` ``0..C-1``: P x K = 8 x 4 batches, flips and 2-pixel shifts. Returns (model, loss,
    trainer)."""
    import torch

    from pyembed.train import ImageAugment, TrainConfig, Trainer, build_model, build_objective

    loss_name, miner = SETUPS[setup]
    torch.manual_seed(seed)
    model = build_model(
        {
            "class": "DenseNetEmbedding",
            "kwargs": {
                "embedding_dim": 64,
                "growth_rate": 12,
                "block_sizes": [3, 3, 3],
                "stem_stride": stem_stride,
                "normalize": loss_name != "center",
            },
        }
    )
    n_classes = int(codes.max()) + 1
    loss, mine = build_objective(loss_name, embedding_dim=64, n_classes=n_classes, miner=miner)
    config = TrainConfig(epochs=epochs, n_identities=8, n_per_identity=4, seed=seed)
    trainer = Trainer(
        model,
        loss,
        images,
        codes,
        config,
        miner=mine,
        augment=ImageAugment(flip=True, max_shift=2),
    )
    trainer.fit(progress=False)
    return model, loss, trainer


def run_faces(name: str, setups: list[str], seed: int, epochs: int | None) -> list[dict[str, Any]]:
    """All rows of one face set: baselines first, then every training set-up."""
    import torch

    from pyembed.datasets.faces import Eigenfaces, identity_split, load_faces
    from pyembed.train import (
        embed,
        image_tensor,
    )

    data = load_faces(FACES_DIR / f"{name}.npz")
    split = identity_split(data.labels, test_fraction=0.25, seed=seed)
    test_labels = data.labels[split.test]
    settings = FACE_SETTINGS.get(name, {"stem_stride": 1, "epochs": 20})
    n_epochs = epochs if epochs is not None else settings["epochs"]
    common = {
        "data": name,
        "train_identities": int(split.train_identities.size),
        "test_identities": int(split.test_identities.size),
        "test_images": int(split.test.size),
    }
    rows = []
    eigen = Eigenfaces(100).fit(data.images[split.train])
    baselines = {
        "eigenfaces-100": eigen.transform(data.images[split.test]),
        "pixels": data.images[split.test].reshape(split.test.size, -1) / 255.0,
    }
    for method, vectors in baselines.items():
        metrics = _face_metrics(vectors, test_labels)
        rows.append({**common, "method": method, "dim": vectors.shape[1], **metrics})
        _log(f"{name} {method}: recall@1 {metrics['recall@1']:.4f} map@r {metrics['map@r']:.4f}")
    inputs = image_tensor(data.images)
    train_codes = np.unique(data.labels[split.train], return_inverse=True)[1]
    for setup in setups:
        loss_name = SETUPS[setup][0]
        model, loss, trainer = _train_face_model(
            setup,
            inputs[torch.from_numpy(split.train)],
            torch.from_numpy(train_codes),
            stem_stride=settings["stem_stride"],
            epochs=n_epochs,
            seed=seed,
        )
        vectors = embed(model, inputs[torch.from_numpy(split.test)])
        metrics = _face_metrics(vectors, test_labels)
        if loss_name == "center":
            # open-set rejection: thresholds = 95th percentile of training distances to own center
            centers = loss.centers
            seen = torch.from_numpy(embed(model, inputs[torch.from_numpy(split.train)]))
            centers.fit_thresholds(seen, torch.from_numpy(train_codes), quantile=0.95)
            predicted, _ = centers.classify(torch.from_numpy(vectors))
            metrics["rejected_unseen"] = float((predicted == -1).double().mean())
        rows.append(
            {
                **common,
                "method": setup,
                "dim": 64,
                **metrics,
                "epochs": n_epochs,
                "seconds_per_epoch": trainer.mean_seconds_per_epoch(),
                "final_loss": trainer.history[-1]["loss"],
            }
        )
        _log(
            f"{name} {setup}: recall@1 {metrics['recall@1']:.4f} map@r {metrics['map@r']:.4f} "
            f"({trainer.mean_seconds_per_epoch():.1f} s/epoch)"
        )
    return rows


def run_ucr(name: str, seed: int, epochs: int) -> dict[str, Any]:
    """One UCR data set: learned-embedding 1-NN error beside Euclidean and exact full-DTW 1-NN."""
    import torch

    from pyembed import Index
    from pyembed.datasets.ucr import load_pair, published_table
    from pyembed.metrics import knn_error
    from pyembed.train import (
        SeriesAugment,
        TrainConfig,
        Trainer,
        build_model,
        build_objective,
        embed,
        series_tensor,
    )

    train, test = load_pair(name, znorm=True)
    _, codes = np.unique(np.concatenate([train.y, test.y]).astype(str), return_inverse=True)
    y_train, y_test = codes[: train.n], codes[train.n :]
    n_classes = int(np.unique(y_train).size)
    length = train.X.shape[1]
    torch.manual_seed(seed)
    model = build_model(
        {
            "class": "TimeSeriesEmbedding",
            "kwargs": {
                "embedding_dim": 32,
                "growth_rate": 12,
                "block_sizes": [2, 2, 2],
                "normalize": True,
            },
        }
    )
    loss, miner = build_objective(
        "triplet", embedding_dim=32, n_classes=n_classes, miner="semihard"
    )
    config = TrainConfig(
        epochs=epochs, n_identities=min(8, n_classes), n_per_identity=8, n_batches=10, seed=seed
    )
    augment = SeriesAugment(max_shift=round(0.05 * length), scale=0.1, noise_std=0.05)
    codes_train = np.unique(y_train, return_inverse=True)[1]
    trainer = Trainer(
        model,
        loss,
        series_tensor(train.X),
        torch.from_numpy(codes_train),
        config,
        miner=miner,
        augment=augment,
    )
    trainer.fit(progress=False)
    e_train = embed(model, series_tensor(train.X))
    e_test = embed(model, series_tensor(test.X))

    def nn_error(metric: str, reference: np.ndarray, queries: np.ndarray) -> tuple[float, float]:
        """Exact 1-NN error of ``queries`` against ``reference``, and the search seconds."""
        index = Index(reference.shape[1], metric)  # type: ignore[arg-type]
        index.add(np.ascontiguousarray(reference, dtype=np.float32))
        start = time.perf_counter()
        found = index.search(np.ascontiguousarray(queries, dtype=np.float32), k=1, exact=True)
        return knn_error(found.ids, y_train, y_test), time.perf_counter() - start

    learned, learned_s = nn_error("euclidean", e_train, e_test)
    euclid, _ = nn_error("euclidean", train.X, test.X)
    dtw, dtw_s = nn_error("dtw", train.X, test.X)
    published = published_table().get(name)
    row = {
        "data": name,
        "n_train": train.n,
        "n_test": test.n,
        "length": length,
        "learned_error": learned,
        "euclidean_error": euclid,
        "dtw_full_error": dtw,
        "published_dtw_full_error": None if published is None else published.dtw_full_error,
        "epochs": epochs,
        "seconds_per_epoch": trainer.mean_seconds_per_epoch(),
        "learned_query_seconds": learned_s,
        "dtw_query_seconds": dtw_s,
    }
    _log(f"UCR {name}: learned {learned:.4f} euclidean {euclid:.4f} dtw-full {dtw:.4f}")
    for model_name in RECURSIVE_MODELS:
        err, seconds = _recursive_error(model_name, train.X, test.X, y_train, y_test, seed, epochs)
        row[f"{model_name}_error"] = err
        row[f"{model_name}_seconds_per_epoch"] = seconds
        _log(f"UCR {name}: {model_name} {err:.4f} ({seconds:.2f} s/epoch)")
    return row


#: the recursive models of pyembed.nn.recursive, trained without labels (mean-pooled nodes)
RECURSIVE_MODELS = ("recursive_ae", "neural_grammar")


def _recursive_error(
    model_name: str,
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_train: np.ndarray,
    y_test: np.ndarray,
    seed: int,
    epochs: int,
) -> tuple[float, float]:
    """1-NN test error of a recursive model's embedding (trained on TRAIN, labels unused), and
    its training seconds per epoch (10 batches of 32 series or splices)."""
    import torch

    from pyembed import Index
    from pyembed.metrics import knn_error
    from pyembed.nn.recursive import NeuralGrammar, RecursiveAutoencoder, default_frame_width
    from pyembed.train import embed, series_tensor
    from pyembed.train.recursive import RecursiveConfig, fit_recursive

    width = default_frame_width(x_train.shape[1])
    torch.manual_seed(seed)
    model = RecursiveAutoencoder(width) if model_name == "recursive_ae" else NeuralGrammar(width)
    config = RecursiveConfig(epochs=epochs, batches_per_epoch=10, seed=seed)
    history = fit_recursive(model, series_tensor(x_train), config, progress=False)
    e_train = embed(model, series_tensor(x_train))
    e_test = embed(model, series_tensor(x_test))
    index = Index(e_train.shape[1])
    index.add(e_train)
    found = index.search(e_test, k=1, exact=True)
    return knn_error(found.ids, y_train, y_test), float(np.mean([r["seconds"] for r in history]))


#: (train on, test on) pairs of the transfer table
TRANSFER_PAIRS: tuple[tuple[str, str], ...] = (("yaleb32", "olivetti"), ("olivetti", "yaleb32"))


def run_transfer(setups: list[str], seed: int, epochs: int | None) -> list[dict[str, Any]]:
    """Cross-dataset rows: train on every identity of one face set, test on the other set.

    The model trains on all images of the first set (with the script's face settings for it) and
    embeds every image of the second, whose people it never saw, resized to the first set's image
    size by :func:`pyembed.datasets.faces.resize_faces` (Olivetti 64x64 -> 32x32 by 2 x 2 area
    averaging; Yale B 32x32 -> 64x64 bilinearly), as ``pyembed eval RUN --data OTHER.npz
    --resize`` does. Every test image then queries all other test images (leave-one-out, exact
    search). Beside each set-up: eigenfaces fit on the training set, raw pixels (grey levels /
    255, at the model's input size) and, as an unsupervised reference that uses the test images
    themselves (no labels), eigenfaces fit on the test set.
    """
    import torch

    from pyembed.datasets.faces import Eigenfaces, load_faces, resize_faces
    from pyembed.train import (
        embed,
        image_tensor,
    )

    rows: list[dict[str, Any]] = []
    for source_name, target_name in TRANSFER_PAIRS:
        source = load_faces(FACES_DIR / f"{source_name}.npz")
        target = load_faces(FACES_DIR / f"{target_name}.npz")
        shape = (int(source.images.shape[1]), int(source.images.shape[2]))
        test_images = resize_faces(target.images, shape)
        common = {
            "train": source_name,
            "test": target_name,
            "train_identities": source.n_identities,
            "test_identities": target.n_identities,
            "test_images": target.n,
            "input": f"{shape[0]}x{shape[1]}",
        }
        baselines = {
            "eigenfaces-100 (fit on train set)": Eigenfaces(100)
            .fit(source.images)
            .transform(test_images),
            "pixels": test_images.reshape(target.n, -1) / 255.0,
            "eigenfaces-100 (fit on test set, no labels)": Eigenfaces(100)
            .fit(test_images)
            .transform(test_images),
        }
        for method, vectors in baselines.items():
            metrics = _face_metrics(vectors, target.labels)
            rows.append({**common, "method": method, "dim": vectors.shape[1], **metrics})
            _log(
                f"{source_name} -> {target_name} {method}: recall@1 {metrics['recall@1']:.4f} "
                f"map@r {metrics['map@r']:.4f}"
            )
        settings = FACE_SETTINGS.get(source_name, {"stem_stride": 1, "epochs": 20})
        n_epochs = epochs if epochs is not None else settings["epochs"]
        inputs = image_tensor(source.images)
        codes = torch.from_numpy(np.unique(source.labels, return_inverse=True)[1])
        for setup in setups:
            model, _, trainer = _train_face_model(
                setup,
                inputs,
                codes,
                stem_stride=settings["stem_stride"],
                epochs=n_epochs,
                seed=seed,
            )
            metrics = _face_metrics(embed(model, image_tensor(test_images)), target.labels)
            rows.append(
                {
                    **common,
                    "method": f"{setup} (learned)",
                    "dim": 64,
                    **metrics,
                    "epochs": n_epochs,
                    "seconds_per_epoch": trainer.mean_seconds_per_epoch(),
                    "final_loss": trainer.history[-1]["loss"],
                }
            )
            _log(
                f"{source_name} -> {target_name} {setup}: recall@1 {metrics['recall@1']:.4f} "
                f"map@r {metrics['map@r']:.4f} ({trainer.mean_seconds_per_epoch():.1f} s/epoch)"
            )
    return rows


def _print_transfer(args: argparse.Namespace) -> int:
    """``--transfer``: run :func:`run_transfer`, print its table, write ``--out`` if given."""
    start = time.perf_counter()
    rows = run_transfer(args.transfer_setups, args.seed, args.face_epochs)
    total = time.perf_counter() - start
    print(
        f"# pyembed benchmarks/train.py --transfer (seed {args.seed}, {args.threads} threads, "
        f"{total:.0f} s)\n"
    )
    print(
        "## Faces across data sets: trained on every identity of one set, leave-one-out "
        "retrieval among all images of the other (exact index search)\n"
    )
    columns = [
        ("train", "train on"),
        ("test", "test on"),
        ("input", "input"),
        ("method", "method"),
        ("dim", "dim"),
        ("test_identities", "ids"),
        ("test_images", "images"),
        ("recall@1", "Recall@1"),
        ("recall@5", "Recall@5"),
        ("map@r", "MAP@R"),
        ("verification_accuracy", "verif. acc (bal.)"),
        ("seconds_per_epoch", "s/epoch"),
        ("epochs", "epochs"),
    ]
    print(_table(rows, columns))
    print(
        "\n'input': the model's input size; the test set's images are resized to it "
        "(pyembed.datasets.faces.resize_faces: centre crop to the aspect ratio, area averaging "
        "when shrinking, bilinear when enlarging), for every method. Eigenfaces fit on the test "
        "set use its images without labels (an unsupervised reference, not a transfer)."
    )
    if args.out is not None:
        payload = {"seed": args.seed, "threads": args.threads, "transfer": rows}
        args.out.write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
    return 0


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    def cell(key: str, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.1f}" if key == "seconds_per_epoch" else f"{value:.4f}"
        return str(value)

    lines = ["| " + " | ".join(title for _, title in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        cells = [cell(key, row.get(key)) for key, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", nargs="*", default=["olivetti", "yaleb32"], help="Face sets.")
    parser.add_argument("--setups", nargs="*", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument(
        "--face-epochs", type=int, default=None, help="Override the epochs per face set."
    )
    parser.add_argument(
        "--ucr", nargs="*", default=None, help="UCR data sets (default: all bundled)."
    )
    parser.add_argument("--ucr-epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="Torch CPU threads.")
    parser.add_argument(
        "--transfer",
        action="store_true",
        help="Only the cross-dataset table: train on Yale B, test on Olivetti, and the reverse.",
    )
    parser.add_argument(
        "--transfer-setups",
        nargs="*",
        default=["triplet-hard"],
        choices=list(SETUPS),
        help="Training set-ups of --transfer.",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="Also write all results as JSON here."
    )
    args = parser.parse_args(argv)

    import torch

    from pyembed.datasets.ucr import list_bundled

    torch.set_num_threads(args.threads)
    if args.transfer:
        return _print_transfer(args)
    start = time.perf_counter()
    face_rows: list[dict[str, Any]] = []
    for name in args.faces:
        face_rows += run_faces(name, args.setups, args.seed, args.face_epochs)
    ucr_names = list_bundled() if args.ucr is None else args.ucr
    ucr_rows = [run_ucr(name, args.seed, args.ucr_epochs) for name in ucr_names]
    total = time.perf_counter() - start

    print(
        f"# pyembed benchmarks/train.py (seed {args.seed}, {args.threads} threads, {total:.0f} s)\n"
    )
    if face_rows:
        print("## Faces: held-out identities, leave-one-out retrieval (exact index search)\n")
        print(
            _table(
                face_rows,
                [
                    ("data", "data"),
                    ("method", "method"),
                    ("dim", "dim"),
                    ("test_identities", "ids"),
                    ("test_images", "images"),
                    ("recall@1", "Recall@1"),
                    ("recall@5", "Recall@5"),
                    ("map@r", "MAP@R"),
                    ("verification_accuracy", "verif. acc (bal.)"),
                    ("rejected_unseen", "outsiders rejected"),
                    ("seconds_per_epoch", "s/epoch"),
                    ("epochs", "epochs"),
                ],
            )
        )
        print(
            "\n'outsiders rejected': center-loss set-up only; share of held-out-identity images "
            "whose distance to the nearest class center exceeds that class's threshold (95th "
            "percentile of the training images' distances to their own center)."
        )
        print()
    if ucr_rows:
        print("## UCR: 1-NN test error (z-normalised series)\n")
        print(
            _table(
                ucr_rows,
                [
                    ("data", "data"),
                    ("n_train", "train"),
                    ("n_test", "test"),
                    ("length", "length"),
                    ("learned_error", "learned"),
                    ("recursive_ae_error", "recursive AE"),
                    ("neural_grammar_error", "neural grammar"),
                    ("euclidean_error", "euclidean"),
                    ("dtw_full_error", "DTW full"),
                    ("published_dtw_full_error", "published DTW full"),
                    ("seconds_per_epoch", "s/epoch"),
                    ("epochs", "epochs"),
                ],
            )
        )
    if args.out is not None:
        payload = {"seed": args.seed, "threads": args.threads, "faces": face_rows, "ucr": ucr_rows}
        args.out.write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
