"""Shared fixtures: seeded data sets (no network, no files outside tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def uniform32() -> tuple[np.ndarray, np.ndarray]:
    """10,000 seeded uniform 32-d vectors and 200 queries from the same distribution."""
    rng = np.random.default_rng(20261124)
    return (
        rng.random((10_000, 32), dtype=np.float32),
        rng.random((200, 32), dtype=np.float32),
    )


@pytest.fixture(scope="session")
def walks() -> tuple[np.ndarray, np.ndarray]:
    """Seeded random walks (time-series-like): 400 series and 30 queries of length 40."""
    rng = np.random.default_rng(7)
    return (
        np.cumsum(rng.normal(size=(400, 40)), axis=1).astype(np.float32),
        np.cumsum(rng.normal(size=(30, 40)), axis=1).astype(np.float32),
    )


def _naive_dtw(a: np.ndarray, b: np.ndarray, band: int) -> float:
    """Banded DTW by the textbook recurrence in float64: the oracle of the DTW tests."""
    n, m = len(a), len(b)
    table = np.full((n + 1, m + 1), np.inf)
    table[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - band), min(m, i + band) + 1):
            cost = (float(a[i - 1]) - float(b[j - 1])) ** 2
            table[i, j] = cost + min(table[i - 1, j], table[i, j - 1], table[i - 1, j - 1])
    return float(np.sqrt(table[n, m]))


@pytest.fixture(scope="session")
def naive_dtw():
    """The pure-Python DTW oracle, ``naive_dtw(a, b, band)`` (square root of the path sum)."""
    return _naive_dtw


FACES = Path(__file__).parent / "data" / "faces" / "olivetti.npz"
"""Olivetti faces (tests/data/faces/README.md)."""
STRANGERS = 36
"""People with labels >= this are never trained on nor in a served gallery."""


@pytest.fixture(scope="session")
def face_arrays():
    """Olivetti ``(images, labels)``."""
    with np.load(FACES) as data:
        return data["images"], data["labels"].astype(np.int64)


@pytest.fixture(scope="session")
def face_file(tmp_path_factory):
    """A toy face .npz: 6 identities x 6 images of 16x16, each a random base image plus noise
    (the tiny `pyembed train faces` runs of the CLI tests)."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6, dtype=np.int16), 6)
    base = rng.integers(0, 200, size=(6, 16, 16))
    images = np.clip(base[labels] + rng.integers(0, 40, size=(36, 16, 16)), 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("faces") / "toy.npz"
    np.savez(path, images=images, labels=labels)
    return path


@pytest.fixture(scope="session")
def served_run(face_arrays, tmp_path_factory):
    """A faces run trained on Olivetti people 0-35 (about 20 s on 2 cores): the run directory.

    Tests that change a gallery use :func:`fresh_run`."""
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from pyembed.cli import main

    images, labels = face_arrays
    folder = tmp_path_factory.mktemp("served")
    data = folder / "olivetti36.npz"
    keep = labels < STRANGERS
    np.savez(data, images=images[keep], labels=labels[keep].astype(np.int16))
    run_dir = folder / "run"
    args = ["train", "faces", "--data", str(data), "--run-dir", str(run_dir), "--epochs", "10"]
    args += ["--test-identities", "6", "--threads", "2", "--no-progress", "--seed", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return run_dir


@pytest.fixture
def fresh_run(served_run, tmp_path):
    """A copy of :func:`served_run` without any gallery, for a test that changes one."""
    import shutil

    target = tmp_path / "run"
    shutil.copytree(served_run, target, ignore=shutil.ignore_patterns("gallery"))
    return target
