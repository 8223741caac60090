"""The image-statistics baseline: hand-checked features, the logistic fit's optimality, round trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyembed.train.image_stats import (
    FEATURE_NAMES,
    N_BANDS,
    N_BINS,
    SPECTRUM_EPS,
    StatsLogistic,
    band_edges,
    image_statistics,
)

HIST = slice(0, N_BINS)
BANDS = slice(N_BINS, N_BINS + N_BANDS)
MEAN, STD, GRADIENT, LAPLACIAN = (FEATURE_NAMES.index(k) for k in FEATURE_NAMES[-4:])


def smooth_noise(rng: np.random.Generator, n: int, side: int = 32) -> np.ndarray:
    """Live-like images: low-pass noise around mid-gray, in [0, 1]."""
    x = rng.normal(size=(n, side, side))
    for axis in (1, 2):
        x = (x + np.roll(x, 1, axis=axis) + np.roll(x, -1, axis=axis)) / 3
    return np.clip(0.5 + 0.15 * x, 0.0, 1.0)


def test_feature_layout():
    assert len(FEATURE_NAMES) == 48 == N_BINS + N_BANDS + 4
    assert FEATURE_NAMES[-4:] == ("mean", "std", "gradient_mean", "laplacian_var")
    features = image_statistics(np.random.default_rng(0).random((3, 16, 20)))
    assert features.shape == (3, 48) and features.dtype == np.float64


def test_histogram_sums_to_one_and_uint8_is_scaled():
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, size=(5, 24, 24), dtype=np.uint8)
    features = image_statistics(raw)
    np.testing.assert_allclose(features[:, HIST].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(features, image_statistics(raw / 255.0))
    # bins [i/32, (i+1)/32), 1.0 in the last bin: 0, 0.5, 1, 1 -> bins 0, 16, 31, 31
    image = np.array([[0.0, 0.5, 1.0], [1.0, 0.0, 0.5], [0.5, 1.0, 0.0]])
    hist = image_statistics(image[None])[0, HIST]
    expected = np.zeros(N_BINS)
    expected[[0, 16, 31]] = 3 / 9
    np.testing.assert_allclose(hist, expected, atol=1e-15)


@pytest.mark.parametrize("cycles", [2, 4, 9, 16, 24])
def test_spectrum_bands_find_a_sinusoid(cycles):
    side = 64
    frequency = cycles / side  # cycles per pixel, on the FFT grid
    _, x = np.mgrid[:side, :side]
    image = 0.5 + 0.3 * np.sin(2 * np.pi * frequency * x)
    bands = image_statistics(image[None])[0, BANDS]
    edges = band_edges(side, side)
    expected = int(np.searchsorted(edges, frequency, side="right") - 1)
    assert int(np.argmax(bands)) == expected
    assert bands[expected] == pytest.approx(0.0, abs=1e-9)  # all the energy: log(1)
    others = np.delete(bands, expected)
    np.testing.assert_allclose(others, np.log(SPECTRUM_EPS), atol=1e-6)


def test_band_edges_are_log_spaced_and_cover_the_spectrum():
    edges = band_edges(64, 64)
    assert edges.shape == (N_BANDS + 1,)
    assert edges[0] == pytest.approx(1 / 64) and edges[-1] == pytest.approx(np.sqrt(0.5))
    np.testing.assert_allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]))
    # every non-zero frequency is in a band: band fractions of a noise image sum to 1
    noise = np.random.default_rng(2).random((2, 31, 17))
    fractions = np.exp(image_statistics(noise)[:, BANDS]) - SPECTRUM_EPS
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, atol=1e-9)


def test_spectrum_ignores_brightness_and_contrast():
    rng = np.random.default_rng(3)
    image = smooth_noise(rng, 2)
    bands = image_statistics(image)[:, BANDS]
    np.testing.assert_allclose(image_statistics(0.2 + 0.5 * image)[:, BANDS], bands, atol=1e-9)


def test_constant_and_ramp_images():
    constant = np.full((1, 10, 12), 0.4)
    features = image_statistics(constant)[0]
    assert features[MEAN] == pytest.approx(0.4)
    assert features[STD] == pytest.approx(0.0, abs=1e-15)  # the mean of 0.4s rounds
    assert features[GRADIENT] == 0.0
    assert features[LAPLACIAN] == 0.0
    np.testing.assert_array_equal(features[BANDS], np.log(SPECTRUM_EPS))
    # a horizontal ramp of slope 0.05 per pixel: gradient 0.05 everywhere, Laplacian 0
    ramp = np.tile(0.05 * np.arange(12), (10, 1))[None]
    features = image_statistics(ramp)[0]
    assert features[GRADIENT] == pytest.approx(0.05, abs=1e-12)
    assert features[LAPLACIAN] == pytest.approx(0.0, abs=1e-24)
    # one bright pixel: 4-neighbour Laplacian values -4a at it and a at its 4 neighbors
    spike = np.zeros((1, 9, 9))
    spike[0, 4, 4] = 0.5
    lap = np.zeros((7, 7))
    lap[3, 3] = -2.0
    lap[[2, 4, 3, 3], [3, 3, 2, 4]] = 0.5
    assert image_statistics(spike)[0, LAPLACIAN] == pytest.approx(lap.var(), abs=1e-15)


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        (np.zeros((4, 4)), ValueError, r"images must be 3-D"),
        (np.zeros((0, 8, 8)), ValueError, r"images must be 3-D \(n >= 1"),
        (np.zeros((1, 2, 8)), ValueError, r"height >= 3"),
        (np.full((1, 4, 4), 1.5), ValueError, r"float images must lie in \[0, 1\]"),
        (np.full((1, 4, 4), -0.1), ValueError, r"float images must lie in \[0, 1\]"),
        (np.full((1, 4, 4), np.nan), ValueError, r"images contains NaN or inf"),
        (np.zeros((1, 4, 4), dtype=np.int64), TypeError, r"float in \[0, 1\] or uint8"),
        (np.zeros((1, 4, 4), dtype=bool), TypeError, r"float in \[0, 1\] or uint8"),
    ],
)
def test_image_statistics_bad_input(images, error, match):
    with pytest.raises(error, match=match):
        image_statistics(images)


def separable_toy(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Attacks are live-like images with a moire stripe at 0.3125 cycles/pixel."""
    rng = np.random.default_rng(seed)
    live = smooth_noise(rng, 60)
    attack = smooth_noise(rng, 60)
    y, x = np.mgrid[:32, :32]
    # on the FFT grid: (fy, fx) = (6, 8) / 32, radius 10 / 32 = 0.3125 cycles/pixel
    stripe = 0.06 * np.cos(2 * np.pi * (8 * x + 6 * y) / 32)
    attack = np.clip(attack + stripe, 0.0, 1.0)
    images = np.concatenate([live, attack])
    is_attack = np.r_[np.zeros(60, bool), np.ones(60, bool)]
    return images, is_attack


def test_logistic_separates_a_toy_problem_at_its_optimum():
    images, is_attack = separable_toy()
    model = StatsLogistic(l2=1.0).fit(images, is_attack)
    assert model.converged and 1 <= model.n_iter < 100
    p = model.score(images)
    assert p.shape == (120,) and np.all((p >= 0) & (p <= 1))
    assert np.mean((p >= 0.5) == is_attack) == 1.0
    # gradient of the penalised log-likelihood, computed here from the fitted state
    assert model.weights is not None and model.feature_mean is not None
    assert model.feature_scale is not None
    z = (image_statistics(images) - model.feature_mean) / model.feature_scale
    residual = p - is_attack
    gradient_w = z.T @ residual + model.l2 * model.weights
    gradient_b = residual.sum()
    assert np.max(np.abs(gradient_w)) < 1e-6
    assert abs(gradient_b) < 1e-6
    # the cue is named: the band holding 0.3125 cycles/pixel has the largest weight, positive
    band = int(np.searchsorted(band_edges(32, 32), 0.3125, side="right") - 1)
    name, weight = next(iter(model.coefficients().items()))
    assert (name, weight > 0) == (f"band_{band:02d}", True)


def test_logistic_matches_scikit_learn():
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    images, is_attack = separable_toy(seed=5)
    model = StatsLogistic(l2=2.0).fit(images, is_attack)
    assert model.feature_mean is not None and model.feature_scale is not None
    z = (image_statistics(images) - model.feature_mean) / model.feature_scale
    reference = sklearn_linear.LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(
        z, is_attack
    )
    np.testing.assert_allclose(model.weights, reference.coef_[0], atol=1e-5)
    assert model.intercept == pytest.approx(reference.intercept_[0], abs=1e-5)


def test_logistic_refuses_bad_labels_and_parameters():
    images, is_attack = separable_toy()
    with pytest.raises(ValueError, match=r"need both attack and live images to fit, got 0 attack"):
        StatsLogistic().fit(images, np.zeros(120, bool))
    with pytest.raises(ValueError, match=r"got 120 attack and 0 live"):
        StatsLogistic().fit(images, np.ones(120))
    with pytest.raises(ValueError, match=r"is_attack must have shape \(120,\) \(one label per"):
        StatsLogistic().fit(images, is_attack[:-1])
    with pytest.raises(ValueError, match=r"is_attack must hold only 0/1"):
        StatsLogistic().fit(images, np.where(is_attack, 2, 0))
    with pytest.raises(TypeError, match=r"is_attack must be bool or 0/1"):
        StatsLogistic().fit(images, np.where(is_attack, "spoof", "live"))
    with pytest.raises(ValueError, match=r"l2 must be a finite number > 0"):
        StatsLogistic(l2=0.0)
    with pytest.raises(ValueError, match=r"max_iter must be an integer >= 1"):
        StatsLogistic(max_iter=0)
    with pytest.raises(ValueError, match=r"tol must be a finite number > 0"):
        StatsLogistic(tol=-1.0)
    with pytest.raises(RuntimeError, match=r"not fitted"):
        StatsLogistic().score(images)
    model = StatsLogistic().fit(images, is_attack)
    with pytest.raises(
        ValueError, match=r"images must be 32x32 like the training images, got 16x16"
    ):
        model.score(images[:, :16, :16])


def test_logistic_warns_when_not_converged():
    images, is_attack = separable_toy()
    with pytest.warns(RuntimeWarning, match=r"did not converge in 1 Newton steps"):
        model = StatsLogistic(max_iter=1).fit(images, is_attack)
    assert not model.converged


def test_state_round_trip_through_npz(tmp_path: Path):
    images, is_attack = separable_toy()
    model = StatsLogistic(l2=0.5).fit(images, is_attack)
    state = model.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype.kind in "if" for v in state.values())
    np.savez(tmp_path / "stats.npz", **state)
    with np.load(tmp_path / "stats.npz") as saved:
        restored = StatsLogistic.from_state(saved)
    np.testing.assert_array_equal(restored.score(images), model.score(images))
    assert restored.coefficients() == model.coefficients()
    assert (restored.l2, restored.max_iter, restored.tol) == (0.5, 100, 1e-8)
    with pytest.raises(ValueError, match=r"state is missing weights"):
        StatsLogistic.from_state({k: v for k, v in state.items() if k != "weights"})
    with pytest.raises(ValueError, match=r"state\['feature_scale'\] must be 48 finite numbers"):
        StatsLogistic.from_state({**state, "feature_scale": np.ones(3)})
    with pytest.raises(RuntimeError, match=r"not fitted"):
        StatsLogistic().state_dict()


def test_module_imports_without_torch():
    # The module file itself must need numpy only (the pyembed.train package imports torch, so
    # load the file by path with torch made unimportable).
    path = Path(__file__).parents[1] / "pyembed" / "train" / "image_stats.py"
    code = f"""
import importlib.util, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "sklearn", "scipy"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
spec = importlib.util.spec_from_file_location("image_stats", {str(path)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import numpy as np
x = np.random.default_rng(0).random((4, 8, 8))
module.StatsLogistic().fit(x, [0, 1, 0, 1]).score(x)
assert not any(m.split(".")[0] in ("torch", "sklearn", "scipy") for m in sys.modules)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
