"""Face .npz reader, identity-disjoint splits and the eigenfaces baseline (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from pyembed.datasets.faces import Eigenfaces, identity_split, load_faces


def _write(path, images, labels):
    np.savez(path, images=images, labels=labels)
    return path


def _faces(n_ids=6, per_id=5, size=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_ids * per_id, size, size), dtype=np.uint8)
    labels = np.repeat(np.arange(n_ids, dtype=np.int16), per_id)
    return images, labels


def test_load_faces_reads_images_and_labels(tmp_path):
    images, labels = _faces()
    data = load_faces(_write(tmp_path / "toy.npz", images, labels))
    assert data.name == "toy" and data.n == 30 and data.n_identities == 6
    assert data.images.dtype == np.uint8 and np.array_equal(data.images, images)
    assert data.labels.dtype == np.int64 and np.array_equal(data.labels, labels)


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((4, 8, 8), np.float32), np.zeros(4, np.int16), "images must be uint8"),
        (np.zeros((4, 8), np.uint8), np.zeros(4, np.int16), r"shape \(N, H, W\)"),
        (np.zeros((4, 8, 8), np.uint8), np.zeros(3, np.int16), "4 rows but labels has 3"),
        (np.zeros((4, 8, 8), np.uint8), np.zeros(4, np.float32), "integer"),
    ],
)
def test_load_faces_rejects_bad_arrays(tmp_path, images, labels, message):
    with pytest.raises(ValueError, match=message):
        load_faces(_write(tmp_path / "bad.npz", images, labels))


def test_load_faces_missing_key_missing_file_and_not_npz(tmp_path):
    np.savez(tmp_path / "nokey.npz", images=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="lacks array"):
        load_faces(tmp_path / "nokey.npz")
    with pytest.raises(FileNotFoundError):
        load_faces(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_faces(tmp_path / "junk.npz")


def test_identity_split_is_disjoint_complete_and_seeded():
    _, labels = _faces(n_ids=8)
    split = identity_split(labels, test_fraction=0.25, seed=3)
    assert split.test_identities.size == 2 and split.train_identities.size == 6
    assert not set(labels[split.train]) & set(labels[split.test])
    assert np.array_equal(
        np.sort(np.concatenate([split.train, split.test])), np.arange(labels.size)
    )
    again = identity_split(labels, test_fraction=0.25, seed=3)
    assert np.array_equal(again.test, split.test)
    other = [identity_split(labels, seed=s).test_identities.tolist() for s in range(5)]
    assert len({tuple(t) for t in other}) > 1


def test_identity_split_exact_count_and_errors():
    _, labels = _faces(n_ids=5)
    assert identity_split(labels, n_test_identities=3).test_identities.size == 3
    with pytest.raises(ValueError, match="between 1 and 3"):
        identity_split(labels, n_test_identities=4)
    with pytest.raises(ValueError, match="at least 3 identities"):
        identity_split([0, 0, 1, 1])
    with pytest.raises(ValueError, match="test_fraction"):
        identity_split(labels, test_fraction=1.0)


def test_eigenfaces_projects_and_orders_components():
    images, _ = _faces(n_ids=4, per_id=5, size=6)
    model = Eigenfaces(n_components=5).fit(images)
    z = model.transform(images)
    assert z.shape == (20, 5) and z.dtype == np.float32
    variances = z.var(axis=0)
    assert np.all(np.diff(variances) <= 1e-6)  # leading components carry the most variance
    full = Eigenfaces(n_components=100).fit(images)  # capped at the rank
    assert full.transform(images[:2]).shape == (2, 20)
    # distances in the full PCA space equal pixel distances (scaled to [0, 1])
    x = images.reshape(20, -1) / 255.0
    zf = full.transform(images)
    assert np.isclose(np.linalg.norm(zf[0] - zf[1]), np.linalg.norm(x[0] - x[1]), rtol=1e-4)
    with pytest.raises(ValueError, match="25 pixels but the model was fit on 36"):
        model.transform(np.zeros((1, 5, 5), np.uint8))
    with pytest.raises(ValueError, match="call fit"):
        Eigenfaces().transform(images)
