"""Synthetic presentation attacks, the spoof sample set and the zero-shot folds (numpy only, fast).

Faces are the first Olivetti images (the bundled copy, ``face_arrays`` in conftest.py) or small
seeded synthetic arrays; every random choice has a fixed seed."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

from pyembed.datasets.spoof import (
    ATTACKS,
    Fold,
    SpoofSet,
    attack,
    jitter,
    make_spoof_set,
    to_size,
    zero_shot_folds,
)

SEEDS = range(6)
PARTIAL_MASKS = ("replay", "paper_mask", "partial", "mask3d")
"""Attacks whose mask may leave pixels live; outside the mask the input must be unchanged."""


@pytest.fixture(scope="module")
def faces(face_arrays):
    """The first 12 Olivetti faces (people 0 and 1) at 64x64, float32 in [0, 1]."""
    images, _ = face_arrays
    return to_size(images[:12])


@pytest.fixture(scope="module")
def donor(face_arrays):
    """A face of another person (Olivetti person 7)."""
    images, labels = face_arrays
    return to_size(images[np.flatnonzero(labels == 7)[:1]])[0]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _power(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """AC power spectrum and the radial, row and column frequency (cycles/px) of every bin."""
    x = image.astype(np.float64) - image.mean()
    power = np.abs(np.fft.fft2(x)) ** 2
    fy, fx = np.meshgrid(
        np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]), indexing="ij"
    )
    return power, np.hypot(fy, fx), fy, fx


def _box(mask: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _is_rectangle(mask: np.ndarray) -> bool:
    """The mask is 1 on exactly one axis-aligned rectangle and 0 elsewhere."""
    if not mask.any():
        return False
    rect = np.zeros_like(mask)
    rect[_box(mask)] = 1.0
    return bool(np.array_equal(mask, rect))


def _synthetic_faces(n_ids: int, per_id: int, size: int = 16, seed: int = 0):
    """Smooth random 'faces' (uint8) with identity labels: cheap inputs for the set and folds."""
    rng = np.random.default_rng(seed)
    base = rng.random((n_ids * per_id, size // 4, size // 4))
    images = np.kron(base, np.ones((4, 4)))
    return (images * 255).astype(np.uint8), np.repeat(np.arange(n_ids), per_id)


# --- to_size ------------------------------------------------------------------------------------


def test_to_size_scales_uint8_and_keeps_same_size_floats():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    out = to_size(images, size=2)
    assert out.dtype == np.float32 and out.shape == (1, 2, 2)
    assert np.allclose(out, images / 255.0)
    floats = np.random.default_rng(0).random((3, 16, 16))
    assert np.array_equal(to_size(floats, size=16), floats.astype(np.float32))


def test_to_size_upsamples_bilinearly():
    ramp = np.tile(np.linspace(0.0, 1.0, 32), (32, 1))[None]
    out = to_size(ramp, size=64)
    assert out.shape == (1, 64, 64) and out.min() >= 0.0 and out.max() <= 1.0
    # a linear ramp stays linear between the clamped edge pixels, and constant down each column
    inner = out[0, 0, 2:-2]
    assert np.allclose(np.diff(inner), np.diff(inner).mean(), atol=1e-5)
    assert np.allclose(out[0], out[0, :1], atol=1e-6)
    assert np.allclose(to_size(np.full((2, 32, 32), 0.25), 64), 0.25)
    # 64 -> 32 is 2x2 averaging
    image = np.random.default_rng(1).random((1, 64, 64))
    pooled = image.reshape(1, 32, 2, 32, 2).mean(axis=(2, 4))
    assert np.allclose(to_size(image, 32), pooled, atol=1e-6)


@pytest.mark.parametrize(
    ("images", "size", "error", "message"),
    [
        (np.zeros((4, 8), np.uint8), 8, ValueError, r"images must have shape \(n, h, w\)"),
        (np.zeros((0, 8, 8), np.uint8), 8, ValueError, "non-empty"),
        (np.zeros((2, 8, 8), bool), 8, TypeError, "uint8 or floating point.*bool"),
        (np.zeros((2, 8, 8), np.int64), 8, TypeError, "uint8 or floating point.*int64"),
        (np.zeros((2, 8, 8), complex), 8, TypeError, "uint8 or floating point"),
        (np.full((2, 8, 8), 1.5), 8, ValueError, r"must lie in \[0, 1\]"),
        (np.full((2, 8, 8), np.nan), 8, ValueError, "NaN"),
        (np.zeros((2, 8, 8), np.uint8), 0, ValueError, "size must be >= 1"),
        (np.zeros((2, 8, 8), np.uint8), 8.0, TypeError, "size must be an integer"),
    ],
)
def test_to_size_rejects_bad_input(images, size, error, message):
    with pytest.raises(error, match=message):
        to_size(images, size)


# --- attack: shapes, masks, changes -----------------------------------------------------------


@pytest.mark.parametrize("kind", ATTACKS)
def test_attack_output_and_mask_contract(kind, faces, donor):
    for seed in SEEDS:
        image = faces[seed]
        before = image.copy()
        spoof, mask = attack(image, kind, _rng(seed), donor=donor)
        assert np.array_equal(image, before), "the input was modified"
        assert spoof.shape == image.shape and mask.shape == image.shape
        assert spoof.dtype == np.float32 and mask.dtype == np.float32
        assert spoof.min() >= 0.0 and spoof.max() <= 1.0
        assert set(np.unique(mask)) <= {0.0, 1.0}
        inside = mask > 0
        assert inside.mean() > 0.1, f"{kind}: mask covers only {inside.mean():.2f} of the frame"
        change = np.abs(spoof - image)
        assert change[inside].mean() > 0.01, f"{kind} seed {seed}: {change[inside].mean():.4f}"
        if kind in PARTIAL_MASKS:
            assert np.array_equal(spoof[~inside], image[~inside]), f"{kind} changed live pixels"


@pytest.mark.parametrize("kind", ["print", "recapture"])
def test_full_frame_attacks_have_full_masks(kind, faces):
    for seed in SEEDS:
        _, mask = attack(faces[seed], kind, _rng(seed))
        assert np.all(mask == 1.0)


def test_attack_is_deterministic_in_its_rng(faces, donor):
    for kind in ATTACKS:
        a = attack(faces[0], kind, _rng(5), donor=donor)
        b = attack(faces[0], kind, _rng(5), donor=donor)
        c = attack(faces[0], kind, _rng(6), donor=donor)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert not np.array_equal(a[0], c[0]), kind


def test_replay_mask_is_a_screen_rectangle(faces):
    full = inset = 0
    for seed in range(12):
        image = faces[seed % len(faces)]
        spoof, mask = attack(image, "replay", _rng(seed))
        assert _is_rectangle(mask)
        assert mask.mean() >= 0.55, "the screen covers most of the frame"
        if mask.all():
            full += 1
        else:
            inset += 1
            assert np.array_equal(spoof[mask == 0], image[mask == 0])
    assert full and inset, (full, inset)


def test_paper_mask_has_eye_and_mouth_holes_inside_an_ellipse(faces):
    h = w = 64
    for seed in SEEDS:
        image = faces[seed]
        spoof, mask = attack(image, "paper_mask", _rng(seed))
        # the nominal hole centres lie in every random draw's holes: live pixels there
        for row, col in [(0.29, 0.28), (0.29, 0.72), (0.74, 0.5)]:
            y, x = round(row * h), round(col * w)
            assert mask[y, x] == 0.0 and spoof[y, x] == image[y, x], (seed, row, col)
        # paper on the forehead, cheeks and chin; the corners are outside the ellipse
        for row, col in [(0.12, 0.5), (0.55, 0.25), (0.55, 0.75), (0.5, 0.5), (0.9, 0.5)]:
            assert mask[round(row * h), round(col * w)] == 1.0, (seed, row, col)
        for y, x in [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)]:
            assert mask[y, x] == 0.0
        # three holes: the zero pixels enclosed by paper form three 4-connected components
        holes = (mask == 0) & _enclosed(mask == 1)
        assert _n_components(holes) == 3, seed


def _enclosed(paper: np.ndarray) -> np.ndarray:
    """Pixels with paper somewhere to the left, right, above and below (inside its outline)."""
    left = np.maximum.accumulate(paper, axis=1)
    right = np.maximum.accumulate(paper[:, ::-1], axis=1)[:, ::-1]
    up = np.maximum.accumulate(paper, axis=0)
    down = np.maximum.accumulate(paper[::-1], axis=0)[::-1]
    return left & right & up & down


def _n_components(mask: np.ndarray) -> int:
    """Number of 4-connected components (flood fill; test-sized masks only)."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        seen[start] = True
        while stack:
            y, x = stack.pop()
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1]:
                    if mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
    return count


def test_partial_pastes_a_rectangle_of_the_donor(faces, donor):
    bands = set()
    for seed in range(10):
        image = faces[seed % len(faces)]
        spoof, mask = attack(image, "partial", _rng(seed), donor=donor)
        assert _is_rectangle(mask) and 0.15 < mask.mean() < 0.5
        assert np.array_equal(spoof[mask == 0], image[mask == 0])
        box = _box(mask)
        patch = spoof[box][1:-1, 1:-1].ravel()  # without the dark edge
        from_donor = np.corrcoef(patch, donor[box][1:-1, 1:-1].ravel())[0, 1]
        from_face = np.corrcoef(patch, image[box][1:-1, 1:-1].ravel())[0, 1]
        assert from_donor > from_face, (seed, from_donor, from_face)
        bands.add("eyes" if box[0].start < 0.3 * 64 else "lower")
    assert bands == {"eyes", "lower"}


def test_mask3d_smooths_and_adds_highlights_inside_the_ellipse(faces):
    def roughness(x, where):
        lap = 4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]
        return np.abs(lap)[where[1:-1, 1:-1]].mean()

    for seed in SEEDS:
        image = faces[seed]
        spoof, mask = attack(image, "mask3d", _rng(seed))
        inside = mask > 0
        assert mask[32, 32] == 1.0 and mask[0, 0] == 0.0 and mask[63, 63] == 0.0
        core = inside & np.roll(inside, 2, 0) & np.roll(inside, -2, 0)  # away from the rim
        assert roughness(spoof, core) < 0.8 * roughness(image, core), seed
        assert (spoof - image)[inside].max() > 0.1, "no specular highlight"


# --- attack: physical traces ---------------------------------------------------------------------


def test_print_halftone_puts_energy_at_the_dot_pitch():
    flat = np.full((64, 64), 0.5, np.float32)
    for seed in SEEDS:
        spoof, _ = attack(flat, "print", _rng(seed))
        power, radius, _, _ = _power(spoof)
        peak = radius.flat[np.argmax(power)]
        # the screen's fundamental: pitch 2-4 px is 0.25-0.5 cycles/px (plus rotation binning)
        assert 0.22 <= peak <= 0.55, (seed, peak)
        assert power[radius >= 0.2].sum() > 0.8 * power.sum(), seed


def test_print_adds_high_frequency_energy_to_faces(faces):
    ratios = []
    for seed in SEEDS:
        spoof, _ = attack(faces[seed], "print", _rng(seed))
        high = _power(spoof)[1] >= 0.2
        ratios.append(_power(spoof)[0][high].sum() / _power(faces[seed])[0][high].sum())
    assert np.mean(ratios) > 2.0, ratios


def test_print_tone_compression_shrinks_the_dynamic_range():
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (64, 1))
    for seed in SEEDS:
        spoof, _ = attack(ramp, "print", _rng(seed))
        low, high = np.percentile(spoof, [2, 98])
        assert low > 0.03 and high < 0.97, (seed, low, high)
        assert high - low < 0.9, (seed, low, high)
        # darker midtones (gamma > 1): the middle columns print darker than they are
        assert spoof[:, 28:36].mean() < ramp[:, 28:36].mean() - 0.05


def test_replay_moire_is_a_spectral_line_near_its_frequency():
    flat = np.full((64, 64), 0.5, np.float32)
    for seed in SEEDS:
        spoof, mask = attack(flat, "replay", _rng(seed))
        rows, cols = _box(mask)
        crop = spoof[rows.start + 2 : rows.stop - 2, cols.start + 2 : cols.stop - 2]  # no bezel
        power, radius, fy, fx = _power(crop)
        band = (radius >= 0.28) & (radius <= 0.5)
        # off the axes, so not the subpixel grid's lines
        oblique = band & (np.abs(fy) > 1.5 / crop.shape[0]) & (np.abs(fx) > 1.5 / crop.shape[1])
        assert power[oblique].max() > 1000 * np.median(power[band]), seed
        assert 0.28 <= radius[oblique][np.argmax(power[oblique])] <= 0.5


def test_recapture_leaves_8x8_block_edges(faces):
    def block_ratio(x):
        dx, dy = np.abs(np.diff(x, axis=1)), np.abs(np.diff(x, axis=0))
        edge = np.arange(63) % 8 == 7
        across = dx[:, edge].mean() + dy[edge, :].mean()
        within = dx[:, ~edge].mean() + dy[~edge, :].mean()
        return across / within

    for seed in SEEDS:
        spoof, _ = attack(faces[seed], "recapture", _rng(seed))
        assert block_ratio(spoof) > 1.4, seed
        assert block_ratio(faces[seed]) < 1.25, "control: live faces have no block grid"


# --- attack and jitter: bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "makeup"}, ValueError, "kind must be one of.*'print'.*'mask3d'"),
        ({"kind": "partial"}, ValueError, "needs a donor"),
        (
            {"kind": "partial", "donor": np.zeros((32, 32), np.float32)},
            ValueError,
            "donor must have",
        ),
        ({"kind": "paper_mask", "donor": np.zeros((64, 64), np.uint8)}, TypeError, "donor must be"),
        (
            {"kind": "print", "image": np.zeros((64, 64), np.uint8)},
            TypeError,
            "image must be a float",
        ),
        ({"kind": "print", "image": np.zeros((2, 64, 64), np.float32)}, ValueError, r"\(H, W\)"),
        (
            {"kind": "print", "image": np.full((8, 8), 2.0)},
            ValueError,
            r"image must lie in \[0, 1\]",
        ),
        ({"kind": "print", "image": [[0.5]]}, TypeError, "image must be a numpy array"),
        ({"kind": "print", "rng": 3}, TypeError, "rng must be a numpy.random.Generator"),
    ],
)
def test_attack_rejects_bad_input(kwargs, error, message):
    args = {"image": np.full((64, 64), 0.5, np.float32), "rng": _rng(0), **kwargs}
    with pytest.raises(error, match=message):
        attack(args.pop("image"), args.pop("kind"), args.pop("rng"), **args)


def test_jitter_is_a_bounded_nuisance():
    image = np.tile(np.linspace(0.2, 0.8, 32, dtype=np.float32), (32, 1))
    before = image.copy()
    shifts, noisy, blurred = [], 0, 0
    for seed in range(40):
        out = jitter(image, _rng(seed))
        assert out.dtype == np.float32 and out.shape == image.shape
        assert out.min() >= 0.0 and out.max() <= 1.0
        shifts.append(out.mean() - image.mean())
        residual = (
            out[:, 1:-1] - (out[:, :-2] + out[:, 2:]) / 2
        )  # the ramp's second difference is 0
        noisy += residual.std() > 0.01
        blurred += abs(out[:, 0].mean() - out[:, 1].mean()) < 0.6 * (image[0, 1] - image[0, 0])
    assert np.array_equal(image, before)
    assert max(np.abs(shifts)) < 0.1 and np.std(shifts) > 0.02
    assert 5 < noisy < 40 and 5 < blurred < 35, (noisy, blurred)
    with pytest.raises(TypeError, match="rng must be"):
        jitter(image, 0)


# --- make_spoof_set ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def olivetti8(face_arrays):
    """8 Olivetti faces: people 0-3, two photos each."""
    images, labels = face_arrays
    keep = np.concatenate([np.flatnonzero(labels == i)[:2] for i in range(4)])
    return images[keep], labels[keep]


@pytest.fixture(scope="module")
def spoof8(olivetti8):
    return make_spoof_set(*olivetti8, seed=3)


def test_make_spoof_set_row_layout(spoof8, olivetti8):
    images, labels = olivetti8
    data, per = spoof8, 1 + len(ATTACKS)
    assert data.attack_names == ATTACKS and data.n == 8 * per
    assert data.images.shape == (data.n, 64, 64) and data.masks.shape == (data.n, 64, 64)
    assert data.images.dtype == np.float32 and data.masks.dtype == np.float32
    assert data.attack.dtype == np.int8 and data.identity.dtype == np.int64
    assert data.source.dtype == np.int64
    assert np.array_equal(data.attack, np.tile(np.arange(-1, len(ATTACKS)), 8))
    assert np.array_equal(data.source, np.repeat(np.arange(8), per))
    assert np.array_equal(data.identity, np.repeat(labels, per))
    assert np.array_equal(data.is_spoof, data.attack >= 0)
    assert not data.masks[~data.is_spoof].any()
    assert all(data.masks[i].any() for i in np.flatnonzero(data.is_spoof))
    assert data.images.min() >= 0.0 and data.images.max() <= 1.0


def test_make_spoof_set_samples_are_jittered_attacks_with_per_sample_generators(spoof8, olivetti8):
    """Live and spoof rows go through the same jitter, each drawn from its own generator."""
    images, labels = olivetti8
    faces = to_size(images)
    per = 1 + len(ATTACKS)
    for row in (0, 5):
        live = jitter(faces[row], np.random.default_rng([3, row, 0]))
        assert np.array_equal(spoof8.images[row * per], live)
        for k, kind in enumerate(ATTACKS):
            if kind == "partial":
                continue  # its donor is drawn first; checked in the subset test
            rng = np.random.default_rng([3, row, k + 1])
            spoof, mask = attack(faces[row], kind, rng)
            assert np.array_equal(spoof8.images[row * per + 1 + k], jitter(spoof, rng)), kind
            assert np.array_equal(spoof8.masks[row * per + 1 + k], mask), kind


def test_make_spoof_set_is_deterministic_in_the_seed(spoof8, olivetti8):
    again = make_spoof_set(*olivetti8, seed=3)
    for field in ("images", "masks", "attack", "identity", "source"):
        assert getattr(again, field).tobytes() == getattr(spoof8, field).tobytes(), field
    other = make_spoof_set(*olivetti8, seed=4)
    assert np.array_equal(other.masks[:1], spoof8.masks[:1])  # live masks are zero either way
    for k in range(1 + len(ATTACKS)):
        assert not np.array_equal(other.images[k], spoof8.images[k]), k


def test_subsets_of_faces_and_attacks_reproduce_the_same_samples(spoof8, olivetti8):
    images, labels = olivetti8
    per = 1 + len(ATTACKS)
    rows = np.array([1, 4, 6])
    part = make_spoof_set(images[rows], labels[rows], seed=3, source_rows=rows)
    assert np.array_equal(part.source, np.repeat(rows, per))
    same = spoof8.subset(np.concatenate([np.arange(r * per, (r + 1) * per) for r in rows]))
    partial = part.attack == ATTACKS.index("partial")
    assert np.array_equal(part.images[~partial], same.images[~partial])
    assert np.array_equal(part.masks, same.masks)  # the partial patch does not depend on the donor
    assert np.array_equal(part.identity, same.identity)
    # restricting the attacks keeps each sample
    few = make_spoof_set(images, labels, attacks=("recapture", "print"), seed=3)
    assert few.attack_names == ("recapture", "print") and few.n == 8 * 3
    for i in range(8):
        assert np.array_equal(few.images[3 * i], spoof8.images[per * i])
        assert np.array_equal(few.images[3 * i + 1], spoof8.images[per * i + 1 + 4])
        assert np.array_equal(few.images[3 * i + 2], spoof8.images[per * i + 1])


def test_partial_donors_are_other_identities(olivetti8):
    images, labels = olivetti8
    data = make_spoof_set(images, labels, attacks=("partial",), seed=0)
    faces = to_size(images)
    for i in range(8):
        patch = data.masks[2 * i + 1] > 0
        # the donor is the one face of another identity whose pixels explain the patch best
        spoof = data.images[2 * i + 1][patch]
        best = int(np.argmax([np.corrcoef(spoof, f[patch])[0, 1] for f in faces]))
        assert labels[best] != labels[i], (i, best)


def test_make_spoof_set_progress(olivetti8, capsys, monkeypatch):
    images, labels = olivetti8
    monkeypatch.delitem(sys.modules, "pyembed.train.progress", raising=False)
    make_spoof_set(images[:3], labels[:3], attacks=("print",), progress=True)
    assert capsys.readouterr().err == ""
    calls = []

    class FakeBar:
        def __init__(self, total, description):
            calls.append(("init", total, description))

        def update(self):
            calls.append("update")

        def close(self):
            calls.append("close")

    fake = types.ModuleType("pyembed.train.progress")
    fake.ProgressBar = FakeBar
    monkeypatch.setitem(sys.modules, "pyembed.train.progress", fake)
    make_spoof_set(images[:3], labels[:3], attacks=("print",), progress=True)
    assert calls == [("init", 3, "spoof set"), "update", "update", "update", "close"]
    calls.clear()
    make_spoof_set(images[:3], labels[:3], attacks=("print",), progress=False)
    assert calls == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"identities": np.zeros(6, np.int64)}, ValueError, "at least 2 distinct"),
        ({"identities": np.arange(5)}, ValueError, r"identities must have shape \(6,\)"),
        ({"identities": np.arange(6.0)}, TypeError, "identities must be integers"),
        ({"attacks": ("print", "makeup")}, ValueError, r"unknown attacks \['makeup'\]"),
        ({"attacks": ("print", "print")}, ValueError, "distinct"),
        ({"attacks": "print"}, TypeError, "not the string"),
        ({"size": 8}, ValueError, "size must be >= 16"),
        ({"size": 16.0}, TypeError, "size must be an integer"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"source_rows": np.array([0, 1, 2, 3, 4, 4])}, ValueError, "distinct and non-negative"),
        ({"source_rows": np.arange(5)}, ValueError, r"source_rows must have shape \(6,\)"),
        ({"images": np.zeros((6, 16), np.uint8)}, ValueError, r"images must have shape"),
        ({"images": np.full((6, 16, 16), 300.0)}, ValueError, r"\[0, 1\]"),
    ],
)
def test_make_spoof_set_rejects_bad_input(kwargs, error, message):
    images, labels = _synthetic_faces(3, 2)
    args = {"images": images, "identities": labels, **kwargs}
    with pytest.raises(error, match=message):
        make_spoof_set(args.pop("images"), args.pop("identities"), **args)


def test_spoof_set_subset(spoof8):
    rows = np.array([9, 0, 9])
    part = spoof8.subset(rows)
    assert part.n == 3 and part.attack_names == spoof8.attack_names
    assert np.array_equal(part.images, spoof8.images[rows])
    assert np.array_equal(part.attack, spoof8.attack[rows])
    picked = spoof8.subset(spoof8.is_spoof)
    assert picked.n == int(spoof8.is_spoof.sum()) and picked.is_spoof.all()
    assert spoof8.subset(np.array([], dtype=np.int64)).n == 0
    with pytest.raises(ValueError, match="rows must lie in"):
        spoof8.subset([spoof8.n])
    with pytest.raises(ValueError, match="boolean rows must have length"):
        spoof8.subset(np.ones(3, bool))
    with pytest.raises(TypeError, match="integer or boolean"):
        spoof8.subset([0.5])


def test_module_imports_numpy_only():
    code = (
        "import sys, pyembed.datasets.spoof\n"
        "print(sorted(m for m in ('torch', 'PIL', 'scipy', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- zero_shot_folds ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten_people():
    images, labels = _synthetic_faces(10, 2)
    return make_spoof_set(images, labels + 100, size=16, seed=0)


def test_zero_shot_folds_are_identity_disjoint_and_leave_one_attack_out(ten_people):
    data = ten_people
    folds = zero_shot_folds(data, test_fraction=0.3, validation_fraction=0.2, seed=0)
    assert [f.held_out for f in folds] == list(ATTACKS)
    assert all(isinstance(f, Fold) for f in folds)
    people = [
        set(np.unique(data.identity[getattr(folds[0], part)]))
        for part in ("train", "validation", "test")
    ]
    assert [len(p) for p in people] == [6, 1, 3]  # round(0.3 * 10) = 3, round(0.2 * 7) = 1
    assert (
        not (people[0] & people[1]) and not (people[0] & people[2]) and not (people[1] & people[2])
    )
    assert set().union(*people) == set(np.unique(data.identity))
    for index, fold in enumerate(folds):
        for part in ("train", "validation", "test"):
            rows = getattr(fold, part)
            assert rows.dtype == np.int64 and np.all(np.diff(rows) > 0)
            assert set(np.unique(data.identity[getattr(folds[0], part)])) == set(
                np.unique(data.identity[rows])
            ), "the identity split is the same in every fold"
        seen = set(range(len(ATTACKS))) - {index}
        assert set(data.attack[fold.test]) == {-1, index}
        assert set(data.attack[fold.train]) == {-1} | seen
        assert set(data.attack[fold.validation]) == {-1} | seen
        # every sample of the test people with the live or held-out label is there
        test_people = np.isin(data.identity, list(people[2]))
        expected = np.flatnonzero(test_people & ((data.attack == -1) | (data.attack == index)))
        assert np.array_equal(fold.test, expected)
        train_people = np.isin(data.identity, list(people[0]))
        assert np.array_equal(fold.train, np.flatnonzero(train_people & (data.attack != index)))


def test_zero_shot_folds_split_depends_on_the_seed(ten_people):
    test_people = {
        seed: tuple(np.unique(ten_people.identity[zero_shot_folds(ten_people, seed=seed)[0].test]))
        for seed in range(4)
    }
    assert test_people[0] == tuple(
        np.unique(ten_people.identity[zero_shot_folds(ten_people, seed=0)[0].test])
    )
    assert len(set(test_people.values())) > 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"test_fraction": 0.0}, ValueError, r"test_fraction must be in \(0, 1\)"),
        ({"test_fraction": 1.0}, ValueError, r"test_fraction must be in \(0, 1\)"),
        ({"validation_fraction": -0.1}, ValueError, r"validation_fraction must be in \(0, 1\)"),
        ({"validation_fraction": "0.2"}, TypeError, "validation_fraction must be a number"),
        ({"test_fraction": 0.9}, ValueError, "too few.*training 0"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
    ],
)
def test_zero_shot_folds_rejects_bad_arguments(ten_people, kwargs, error, message):
    with pytest.raises(error, match=message):
        zero_shot_folds(ten_people, **kwargs)


def test_zero_shot_folds_needs_enough_people_and_attacks():
    images, labels = _synthetic_faces(2, 2)
    two = make_spoof_set(images, labels, size=16)
    with pytest.raises(ValueError, match="2 identities are too few"):
        zero_shot_folds(two)
    images, labels = _synthetic_faces(6, 1)
    one_attack = make_spoof_set(images, labels, attacks=("print",), size=16)
    with pytest.raises(ValueError, match="at least 2 attack types"):
        zero_shot_folds(one_attack)
    with pytest.raises(TypeError, match="data must be a SpoofSet"):
        zero_shot_folds(one_attack.images)  # type: ignore[arg-type]
    assert isinstance(one_attack, SpoofSet)
