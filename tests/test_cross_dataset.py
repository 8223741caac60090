"""A faces run applied to another face file: `pyembed eval RUN --data OTHER.npz`, `pyembed query
RUN INPUTS --gallery-data OTHER.npz`, and `pyembed.datasets.faces.resize_faces`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pyembed.datasets.faces import resize_faces

TINY = [
    "--epochs", "2", "--growth-rate", "4", "--block-sizes", "1,1", "--embedding-dim", "8",
    "--n-identities", "3", "--n-per-identity", "3", "--n-batches", "2", "--threads", "1",
    "--no-progress", "--seed", "0",
]  # fmt: skip


def _faces(seed: int, n_ids: int, per_id: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic faces: one random base image per identity plus per-image noise (uint8)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_ids, dtype=np.int16), per_id)
    base = rng.integers(0, 200, size=(n_ids, side, side))
    noise = rng.integers(0, 40, size=(labels.size, side, side))
    return np.clip(base[labels] + noise, 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``train`` (6 ids x 6, 16x16), ``other`` (4 new ids x 5, 16x16, labels 10..13) and
    ``other32`` (``other`` with every pixel doubled to 2 x 2: 32x32)."""
    folder = tmp_path_factory.mktemp("faces")
    images, labels = _faces(0, 6, 6, 16)
    np.savez(folder / "train.npz", images=images, labels=labels)
    other, other_labels = _faces(1, 4, 5, 16)
    other_labels = (other_labels + 10).astype(np.int16)
    np.savez(folder / "other.npz", images=other, labels=other_labels)
    doubled = other.repeat(2, axis=1).repeat(2, axis=2)
    np.savez(folder / "other32.npz", images=doubled, labels=other_labels)
    return {name: folder / f"{name}.npz" for name in ("train", "other", "other32")}


def _invoke(args: list[str]):
    from click.testing import CliRunner

    from pyembed.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def face_run(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    run_dir = tmp_path_factory.mktemp("run") / "faces"
    args = ["train", "faces", "--data", files["train"], "--run-dir", run_dir]
    result = _invoke([*args, "--test-identities", "2", *TINY])
    assert result.exit_code == 0, result.output
    return run_dir


def _embedded(run_dir: Path, images: np.ndarray) -> np.ndarray:
    """The run's model applied to ``images`` directly (no CLI)."""
    from pyembed.train import embed, image_tensor
    from pyembed.train.run_dir import load_model, load_run

    return embed(load_model(load_run(run_dir)), image_tensor(images))


def _eval_rows(result) -> dict[str, dict]:
    assert result.exit_code == 0, result.output
    return {row["method"]: row for row in json.loads(result.stdout)["results"]}


# --------------------------------------------------------------------------------------------------
# resize_faces


def test_resize_halving_is_the_rounded_mean_of_each_block():
    images, _ = _faces(2, 3, 2, 8)
    blocks = images.reshape(6, 4, 2, 4, 2).astype(np.int64).sum(axis=(2, 4))
    assert np.array_equal(resize_faces(images, (4, 4)), (blocks + 2) // 4)  # halves round up


def test_resize_enlarging_is_bilinear_between_pixel_centres():
    images, _ = _faces(3, 2, 1, 5)
    out = resize_faces(images, (10, 10))

    def axis_weights(n_in: int, n_out: int) -> np.ndarray:
        w = np.zeros((n_out, n_in))
        for j in range(n_out):
            centre = (j + 0.5) * n_in / n_out
            for i in range(n_in):
                w[j, i] = max(0.0, 1.0 - abs(i + 0.5 - centre))
            w[j] /= w[j].sum()
        return w

    w = axis_weights(5, 10)
    for image, got in zip(images, out, strict=True):
        expected = np.empty((10, 10))
        for r in range(10):
            for c in range(10):
                expected[r, c] = sum(
                    w[r, i] * w[c, j] * float(image[i, j]) for i in range(5) for j in range(5)
                )
        assert np.array_equal(got, np.floor(expected + 0.5).astype(np.uint8))


def test_resize_crops_the_centre_to_the_target_aspect_ratio():
    images = np.zeros((1, 4, 8), dtype=np.uint8)
    images[0, :, 2:6] = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    images[0, :, :2] = images[0, :, 6:] = 255  # outside the centred 4 x 4 box
    assert np.array_equal(resize_faces(images, (4, 4)), images[:, :, 2:6])
    assert np.array_equal(resize_faces(images, (2, 2))[0], [[25, 45], [105, 125]])


def test_resize_same_shape_is_a_copy_and_bad_input_is_named():
    images, _ = _faces(4, 2, 2, 6)
    same = resize_faces(images, (6, 6))
    assert np.array_equal(same, images) and not np.shares_memory(same, images)
    with pytest.raises(ValueError, match=r"images must be uint8 .* got float64"):
        resize_faces(images.astype(np.float64), (3, 3))
    with pytest.raises(ValueError, match=r"shape must be two positive sizes, got \(0, 3\)"):
        resize_faces(images, (0, 3))


def test_resize_agrees_with_the_pillow_path_on_whole_ratios():
    pytest.importorskip("PIL")
    from pyembed.datasets.images import face_crop

    images, _ = _faces(5, 2, 2, 32)
    for shape in ((16, 16), (64, 64)):
        ours = resize_faces(images, shape).astype(np.int64)
        pillow = np.stack([face_crop(image, shape) for image in images]).astype(np.int64)
        # Pillow rounds after each axis, resize_faces once: at most one grey level apart
        assert np.abs(ours - pillow).max() <= 1, shape


# --------------------------------------------------------------------------------------------------
# eval --data


def test_eval_data_equals_the_metrics_computed_directly(face_run, files):
    from pyembed.datasets.faces import Eigenfaces, load_faces
    from pyembed.metrics import retrieval_metrics
    from pyembed.train.run_dir import load_run

    result = _eval(face_run, files["other"])
    rows = _eval_rows(result)
    assert list(rows) == ["learned", "eigenfaces-100", "pixels"]
    other = load_faces(files["other"])
    train = load_faces(files["train"])
    is_test = load_run(face_run).arrays["is_test"]
    expected_vectors = {
        "learned": _embedded(face_run, other.images),
        "eigenfaces-100": Eigenfaces(100).fit(train.images[~is_test]).transform(other.images),
        "pixels": other.images.reshape(other.n, -1) / 255.0,
    }
    for method, vectors in expected_vectors.items():
        expected = retrieval_metrics(vectors, other.labels, ks=(1, 5))  # brute force, no index
        row = rows[method]
        assert row["n_queries"] == 20 and row["dim"] == vectors.shape[1], method
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, rel=1e-5, abs=1e-6), (method, key)
        # Recall@1 once more by hand: the nearest other image (float64 L2) has the same label
        d = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
        np.fill_diagonal(d, np.inf)
        hits = other.labels[d.argmin(axis=1)] == other.labels
        assert row["recall@1"] == pytest.approx(hits.mean()), method
    # eigenfaces fit on the 24 training images only (36 with the held-out ones): 24 components
    assert rows["eigenfaces-100"]["dim"] == 24 and rows["learned"]["dim"] == 8
    assert rows["pixels"]["dim"] == 256


def _eval(run_dir: Path, data: Path, *extra: str):
    return _invoke(["eval", run_dir, "--data", data, "--format", "json", *extra])


def test_eval_data_table_names_both_sets(face_run, files):
    result = _invoke(["eval", face_run, "--data", files["other"], "--pca-components", "5"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first == (
        "# pyembed eval: model trained on train, on other (4 identities never trained on, 20 "
        "images), leave-one-out, exact search"
    )
    assert {"learned", "eigenfaces-5", "pixels"} <= set(result.stdout.split())


def test_eval_data_resizes_only_when_asked(face_run, files):
    refused = _eval(face_run, files["other32"])
    assert refused.exit_code == 1
    assert "other32.npz: images are 32 x 32 pixels but the run's model takes 16 x 16" in (
        refused.output
    )
    assert "--resize" in refused.output
    resized = _eval(face_run, files["other32"], "--resize")
    document = json.loads(resized.stdout)
    assert document["resized_from"] == [32, 32]
    # every pixel of other32 is a 2 x 2 block of other's: area averaging gives other back exactly
    assert _eval_rows(resized) == _eval_rows(_eval(face_run, files["other"]))


def test_eval_data_graph_search(face_run, files):
    result = _invoke(
        ["eval", face_run, "--data", files["other"], "--search", "graph", "--ef", "32",
         "--threads", "1", "--format", "json"]
    )  # fmt: skip
    exact = _eval_rows(_eval(face_run, files["other"]))
    # ef 32 >= the 20 images: the graph search is exhaustive and finds the exact neighbors
    assert _eval_rows(result) == exact


# --------------------------------------------------------------------------------------------------
# query --gallery-data


def _query(run_dir: Path, inputs: Path, *extra: str):
    return _invoke(["query", run_dir, inputs, "--format", "json", *extra])


def test_query_gallery_data_returns_rows_of_the_gallery_file(face_run, files, tmp_path):
    from pyembed.datasets.faces import load_faces

    other = load_faces(files["other"])
    picked = [0, 7, 19]
    np.savez(tmp_path / "q.npz", images=other.images[picked])
    result = _query(
        face_run, tmp_path / "q.npz", "--gallery-data", files["other"], "-k", "3",
        "--search", "exact",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    gallery = _embedded(face_run, other.images)
    queries = _embedded(face_run, other.images[picked])
    d = np.linalg.norm(queries[:, None, :].astype(np.float64) - gallery[None, :, :], axis=2)
    expected_ids = np.argsort(d, axis=1, kind="stable")[:, :3]
    got_ids = np.array([row["id"] for row in rows]).reshape(3, 3)
    assert np.array_equal(got_ids, expected_ids)
    assert got_ids[:, 0].tolist() == picked  # each gallery image finds itself first
    for row in rows:
        assert row["label"] == str(other.labels[row["id"]])  # the gallery file's labels (10..13)
        assert row["distance"] == pytest.approx(d[row["query"], row["id"]], abs=1e-5)
    table = _invoke(["query", face_run, tmp_path / "q.npz", "--gallery-data", files["other"]])
    assert table.stdout.splitlines()[0].endswith(f"3 input(s) against 20 items of {files['other']}")


def test_query_gallery_data_resize_applies_to_gallery_and_inputs(face_run, files, tmp_path):
    with np.load(files["other32"]) as data:
        np.savez(tmp_path / "q32.npz", images=data["images"][[4, 11]])
    args = ["--gallery-data", files["other32"], "-k", "2", "--search", "exact"]
    refused = _query(face_run, tmp_path / "q32.npz", *args)
    assert refused.exit_code == 1 and "q32.npz" in refused.output and "--resize" in refused.output
    result = _query(face_run, tmp_path / "q32.npz", *args, "--resize")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [row["id"] for row in rows if row["rank"] == 1] == [4, 11]
    with np.load(files["other"]) as data:
        np.savez(tmp_path / "q16.npz", images=data["images"][[4, 11]])
    same = _query(face_run, tmp_path / "q16.npz", "--gallery-data", files["other"], "-k", "2",
                  "--search", "exact")  # fmt: skip
    assert json.loads(same.stdout)["results"] == rows


# --------------------------------------------------------------------------------------------------
# errors


@pytest.fixture(scope="module")
def ucr_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    run_dir = tmp_path_factory.mktemp("ucr") / "run"
    result = _invoke(["train", "ucr", "ItalyPowerDemand", "--run-dir", run_dir, *TINY])
    assert result.exit_code == 0, result.output
    return run_dir


def test_eval_data_on_a_ucr_or_dtn_run_is_a_usage_error(ucr_run, files, tmp_path):
    result = _eval(ucr_run, files["other"])
    assert result.exit_code == 2
    assert "--data applies only to faces runs; RUN_DIR is a ucr run" in result.output
    dtn = tmp_path / "dtn"
    dtn.mkdir()
    (dtn / "run.json").write_text(json.dumps({"kind": "dtn"}))
    result = _eval(dtn, files["other"])
    assert result.exit_code == 2 and "RUN_DIR is a dtn run" in result.output


def test_query_gallery_data_on_a_ucr_run_is_a_usage_error(ucr_run, files, tmp_path):
    np.save(tmp_path / "s.npy", np.zeros((1, 24), dtype=np.float32))
    result = _query(ucr_run, tmp_path / "s.npy", "--gallery-data", files["other"])
    assert result.exit_code == 2
    assert "--gallery-data applies only to faces runs; RUN_DIR is a ucr run" in result.output


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


BAD_FILES = [
    # (name, writer, expected exit code, message fragment)
    ("missing", lambda p: p, 2, "does not exist"),
    ("garbage", lambda p: p.write_bytes(b"not a zip archive at all") and p, 1, "garbage.npz"),
    ("float images", lambda p: _npz(p, images=np.zeros((4, 16, 16)), labels=np.arange(4)), 1,
     "images must be uint8 with shape (N, H, W), got float64"),
    ("2-D images", lambda p: _npz(p, images=np.zeros((4, 256), np.uint8), labels=np.arange(4)), 1,
     "images must be uint8 with shape (N, H, W), got uint8 (4, 256)"),
    ("no labels", lambda p: _npz(p, images=np.zeros((4, 16, 16), np.uint8)), 1, "labels"),
    ("labels too short",
     lambda p: _npz(p, images=np.zeros((4, 16, 16), np.uint8), labels=np.arange(3)), 1,
     "images has 4 rows but labels has 3"),
    ("one identity",
     lambda p: _npz(p, images=np.zeros((4, 16, 16), np.uint8), labels=np.zeros(4, np.int64)), 1,
     "needs at least 2 identities and one with 2 or more images; the file has 4 images of 1"),
    ("one image per identity",
     lambda p: _npz(p, images=np.zeros((3, 16, 16), np.uint8), labels=np.arange(3)), 1,
     "the file has 3 images of 3 identities"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "write", "code", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_eval_data_bad_files(face_run, tmp_path, name, write, code, message):
    path = tmp_path / f"{name.replace(' ', '_')}.npz"
    write(path)
    result = _eval(face_run, path)
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split()), result.output
    if code == 1:  # one line, no traceback
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_eval_data_refuses_the_runs_own_file_and_resize_alone(face_run, files):
    result = _eval(face_run, files["train"])
    assert result.exit_code == 2 and "is the file the run was trained on" in result.output
    result = _invoke(["eval", face_run, "--resize"])
    assert result.exit_code == 2 and "--resize applies only with --data" in result.output


def test_eval_data_needs_the_runs_training_file(face_run, files, tmp_path):
    from pyembed.train.checkpoint import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    shutil.copytree(face_run, run)
    state = load_checkpoint(run / "model.pt")
    state["metadata"]["data"]["path"] = str(tmp_path / "moved.npz")
    save_checkpoint(state, run / "model.pt")
    result = _eval(run, files["other"])
    assert result.exit_code == 1
    assert "the run's training data (for the eigenfaces baseline)" in result.output
    assert "moved.npz" in result.output


def test_query_gallery_option_errors(face_run, files, tmp_path):
    with np.load(files["other"]) as data:
        np.savez(tmp_path / "q.npz", images=data["images"][:1])
    both = _query(face_run, tmp_path / "q.npz", "--gallery", "--gallery-data", files["other"])
    assert both.exit_code == 2 and "either --gallery or --gallery-data" in both.output
    too_many = _query(face_run, tmp_path / "q.npz", "--gallery-data", files["other"], "-k", "21")
    assert too_many.exit_code == 2 and "the index holds 20 items" in too_many.output
    missing = _query(face_run, tmp_path / "q.npz", "--gallery-data", tmp_path / "absent.npz")
    assert missing.exit_code == 2 and "absent.npz" in missing.output
    bad = _npz(tmp_path / "bad.npz", images=np.zeros((2, 16, 16)), labels=np.arange(2))
    bad_result = _query(face_run, tmp_path / "q.npz", "--gallery-data", bad)
    assert bad_result.exit_code == 1 and "bad.npz: images must be uint8" in bad_result.output
