"""A shortcut-cue baseline for presentation attack detection: image statistics and a logistic model.

This module owns :func:`image_statistics` (a fixed, hand-made feature vector per grayscale
image: intensity histogram, radial spectrum, mean, contrast and sharpness) and
:class:`StatsLogistic` (L2-regularised logistic regression on those features). When such a
trivial model separates synthetic attacks from live images, the attacks carry a global cue (a
tone curve, a halftone or moire frequency, blur) that a deep model can use as a shortcut;
:meth:`StatsLogistic.coefficients` names the cue. Numpy only: the module imports neither torch
nor scikit-learn nor scipy.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FEATURE_NAMES",
    "N_BANDS",
    "N_BINS",
    "StatsLogistic",
    "band_edges",
    "image_statistics",
]

N_BINS = 32
"""Intensity histogram bins, of width 1/32 over [0, 1]."""
N_BANDS = 12
"""Radial frequency bands of the power spectrum."""
SPECTRUM_EPS = 1e-10
"""Added to each band's energy fraction before the log (a band without energy gives ``log(1e-10)
= -23.03``, e.g. every band of a constant image)."""
_CHUNK = 256  # images per FFT block: bounds the complex128 temporary at 256 * H * W * 16 bytes

FEATURE_NAMES: tuple[str, ...] = (
    *(f"hist_{i:02d}" for i in range(N_BINS)),
    *(f"band_{i:02d}" for i in range(N_BANDS)),
    "mean",
    "std",
    "gradient_mean",
    "laplacian_var",
)
"""Names of the ``F = 32 + 12 + 4 = 48`` columns of :func:`image_statistics`, in order."""


def _as_images(images: ArrayLike) -> NDArray[np.float64]:
    x = np.asarray(images)
    if x.dtype == np.uint8:
        x = x.astype(np.float64) / 255.0
    elif x.dtype.kind == "f":
        x = x.astype(np.float64, copy=False)
    else:
        raise TypeError(f"images must be float in [0, 1] or uint8, got dtype {x.dtype}")
    if x.ndim != 3 or x.shape[0] == 0 or x.shape[1] < 3 or x.shape[2] < 3:
        raise ValueError(f"images must be 3-D (n >= 1, height >= 3, width >= 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("images contains NaN or inf")
    if x.min() < 0.0 or x.max() > 1.0:
        raise ValueError(
            f"float images must lie in [0, 1], got values in [{x.min():.4g}, {x.max():.4g}]"
        )
    return x


def band_edges(height: int, width: int) -> NDArray[np.float64]:
    """Edges of the radial frequency bands of :func:`image_statistics`, in cycles per pixel.

    ``N_BANDS + 1`` log-spaced edges from the lowest non-zero frequency ``1 / max(height,
    width)`` to the corner frequency ``sqrt(fy_max**2 + fx_max**2)`` (``sqrt(0.5)`` for even
    sizes). Band ``b`` holds the frequencies ``r`` with ``edges[b] <= r < edges[b + 1]``, the
    last band also ``r = edges[-1]``; the zero frequency (the mean) is in no band. On small
    images the lowest bands can hold no frequency at all (their feature is then ``log(1e-10)``).

    Parameters
    ----------
    height, width : int
        Image size in pixels, each ``>= 3``.

    Returns
    -------
    ndarray of float64, shape (N_BANDS + 1,)
    """
    if height < 3 or width < 3:
        raise ValueError(f"height and width must be >= 3, got {height} and {width}")
    top = float(np.hypot(np.abs(np.fft.fftfreq(height)).max(), np.abs(np.fft.fftfreq(width)).max()))
    return np.geomspace(1.0 / max(height, width), top, N_BANDS + 1)


def _band_index(height: int, width: int) -> NDArray[np.int64]:
    """Band of every (unshifted) FFT coefficient, ``-1`` for the zero frequency, shape (h, w)."""
    edges = band_edges(height, width)
    radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :])
    band = np.searchsorted(edges, radius, side="right") - 1
    band = np.minimum(band, N_BANDS - 1)  # the corner frequency itself belongs to the last band
    band[radius < edges[0] * (1 - 1e-9)] = -1
    return band.astype(np.int64)


def image_statistics(images: ArrayLike) -> NDArray[np.float64]:
    """Global statistics of grayscale images: the features of :class:`StatsLogistic`.

    Columns (``F = 48``, named by :data:`FEATURE_NAMES`):

    - ``hist_00`` .. ``hist_31`` (32): intensity histogram, the fraction of pixels in each bin
      ``[i/32, (i+1)/32)`` (the last bin includes 1.0); the block sums to 1.
    - ``band_00`` .. ``band_11`` (12): ``log(E_b / E + 1e-10)``, where ``E_b`` is the energy
      ``|FFT|^2`` of the mean-subtracted image in radial frequency band ``b`` (see
      :func:`band_edges`, log-spaced in cycles/pixel, low to high) and ``E`` the energy over all
      non-zero frequencies. Removing the mean and dividing by ``E`` makes the block blind to
      brightness and contrast: it describes the spectrum's shape only (a halftone or moire
      frequency, blur). The band fractions sum to 1 when ``E > 0`` (every non-zero frequency lies
      in a band); a constant image gives ``log(1e-10)`` in every band.
    - ``mean``, ``std``: of the pixel intensities (population standard deviation).
    - ``gradient_mean``: mean gradient magnitude ``sqrt(gy^2 + gx^2)``, with ``np.gradient``'s
      central differences (one-sided at the border), in intensity per pixel.
    - ``laplacian_var``: variance of the 4-neighbour Laplacian ``x[i-1,j] + x[i+1,j] + x[i,j-1] +
      x[i,j+1] - 4 x[i,j]`` over the interior pixels (no padding); a classic sharpness measure.

    Parameters
    ----------
    images : array-like, shape (n, height, width)
        Grayscale images, float in ``[0, 1]`` or uint8 (scaled by 1/255); ``height, width >= 3``.

    Returns
    -------
    ndarray of float64, shape (n, 48)

    Raises
    ------
    TypeError
        If the dtype is neither floating point nor uint8.
    ValueError
        If the shape is not ``(n >= 1, >= 3, >= 3)``, or a value is NaN, inf or outside ``[0, 1]``.
    """
    x = _as_images(images)
    n, height, width = x.shape
    flat = x.reshape(n, -1)
    out = np.empty((n, len(FEATURE_NAMES)), dtype=np.float64)

    bins = np.minimum((flat * N_BINS).astype(np.int64), N_BINS - 1)
    offsets = (np.arange(n, dtype=np.int64) * N_BINS)[:, None]
    counts = np.bincount((bins + offsets).ravel(), minlength=n * N_BINS).reshape(n, N_BINS)
    out[:, :N_BINS] = counts / flat.shape[1]

    band = _band_index(height, width).ravel()
    in_band = band >= 0
    for start in range(0, n, _CHUNK):
        block = x[start : start + _CHUNK]
        centred = block - block.mean(axis=(1, 2), keepdims=True)
        power = (np.abs(np.fft.fft2(centred)) ** 2).reshape(block.shape[0], -1)
        total = power[:, in_band].sum(axis=1)
        energy = np.zeros((block.shape[0], N_BANDS))
        for b in range(N_BANDS):
            energy[:, b] = power[:, band == b].sum(axis=1)
        fraction = np.divide(
            energy, total[:, None], out=np.zeros_like(energy), where=total[:, None] > 0
        )
        out[start : start + block.shape[0], N_BINS : N_BINS + N_BANDS] = np.log(
            fraction + SPECTRUM_EPS
        )

    gy, gx = np.gradient(x, axis=(1, 2))
    laplacian = (
        x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:] - 4.0 * x[:, 1:-1, 1:-1]
    )
    k = N_BINS + N_BANDS
    out[:, k] = flat.mean(axis=1)
    out[:, k + 1] = flat.std(axis=1)
    out[:, k + 2] = np.hypot(gy, gx).reshape(n, -1).mean(axis=1)
    out[:, k + 3] = laplacian.reshape(n, -1).var(axis=1)
    return out


def _check_labels(is_attack: ArrayLike, n: int) -> NDArray[np.float64]:
    y = np.asarray(is_attack)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"is_attack must be bool or 0/1 numbers, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"is_attack must have shape ({n},) (one label per image), got {y.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("is_attack must hold only 0/1 (or True/False)")
    n_attack = int(np.sum(y == 1))
    if n_attack == 0 or n_attack == n:
        raise ValueError(
            f"need both attack and live images to fit, got {n_attack} attack and "
            f"{n - n_attack} live"
        )
    return (y == 1).astype(np.float64)


class StatsLogistic:
    """L2-regularised logistic regression on :func:`image_statistics`, fit by Newton's method.

    The features are standardised with the training mean and standard deviation (a feature
    constant on the training set gets scale 1, so it stays 0 and its weight is 0). With
    standardised features ``z_i``, labels ``y_i`` in {0, 1} and ``p_i = sigmoid(w . z_i + b)``,
    :meth:`fit` minimises the penalised negative log-likelihood

        ``J(w, b) = -sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)] + (l2 / 2) |w|^2``

    (a sum over images, so ``l2`` is scikit-learn's ``1 / C``; the intercept ``b`` is not
    penalised) by Newton steps (iteratively reweighted least squares) with backtracking, until
    the gradient ``Z^T (p - y) + l2 [w, 0]`` has every entry ``<= tol * n`` in absolute value
    (``n`` images: a sum of ``n`` terms cannot be resolved much below ``n`` times the rounding
    of one, so an absolute threshold would fail on large sets for rounding alone).
    ``J`` is strictly convex for ``l2 > 0`` and both classes present, so the optimum is unique
    and exists even on separable data.

    Parameters
    ----------
    l2 : float, default 1.0
        Penalty on the squared weights, ``> 0``.
    max_iter : int, default 100
        Newton steps at most; a fit that has not converged by then warns (RuntimeWarning).
    tol : float, default 1e-8
        Convergence threshold on the gradient's largest absolute entry divided by the number of
        images (log-likelihood units per image and standard deviation of a feature).

    Attributes
    ----------
    weights : ndarray of float64, shape (48,)
        Weight per standardised feature (log-odds per standard deviation); None before fitting.
    intercept : float
        Log-odds of an attack for an image with the training-mean features.
    feature_mean, feature_scale : ndarray of float64, shape (48,)
        The standardisation, ``z = (features - feature_mean) / feature_scale``.
    image_shape : tuple of int
        ``(height, width)`` of the training images; :meth:`score` requires the same size (the
        spectrum bands depend on it).
    n_iter : int
        Newton steps taken by the last fit; ``converged`` says whether it met ``tol``.
    """

    def __init__(self, l2: float = 1.0, max_iter: int = 100, tol: float = 1e-8) -> None:
        if not (np.isfinite(l2) and l2 > 0):
            raise ValueError(f"l2 must be a finite number > 0, got {l2}")
        if int(max_iter) != max_iter or max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {max_iter}")
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be a finite number > 0, got {tol}")
        self.l2 = float(l2)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.weights: NDArray[np.float64] | None = None
        self.intercept = 0.0
        self.feature_mean: NDArray[np.float64] | None = None
        self.feature_scale: NDArray[np.float64] | None = None
        self.image_shape: tuple[int, int] | None = None
        self.n_iter = 0
        self.converged = False

    def fit(self, images: ArrayLike, is_attack: ArrayLike) -> StatsLogistic:
        """Fit the model to labelled images.

        Parameters
        ----------
        images : array-like, shape (n, height, width)
            As :func:`image_statistics`.
        is_attack : array-like of bool or 0/1, shape (n,)
            True for attack images, False for live ones; both classes must occur.

        Returns
        -------
        StatsLogistic
            ``self``, fitted.

        Raises
        ------
        TypeError, ValueError
            As :func:`image_statistics`; ValueError also if ``is_attack`` does not have one 0/1
            label per image or holds one class only.
        """
        x = _as_images(images)
        y = _check_labels(is_attack, x.shape[0])
        features = image_statistics(x)
        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        scale[scale <= 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
        z = np.hstack([(features - mean) / scale, np.ones((x.shape[0], 1))])
        penalty = np.full(z.shape[1], self.l2)
        penalty[-1] = 0.0  # the intercept is not penalised

        def objective(theta: NDArray[np.float64]) -> float:
            eta = z @ theta
            return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * penalty @ theta**2)

        def gradient_at(theta: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.asarray(z.T @ (_sigmoid(z @ theta) - y) + penalty * theta)

        threshold = self.tol * x.shape[0]
        theta = np.zeros(z.shape[1])
        value = objective(theta)
        self.n_iter = 0
        for _ in range(self.max_iter):
            gradient = gradient_at(theta)
            if np.max(np.abs(gradient)) <= threshold:
                break
            p = _sigmoid(z @ theta)
            hessian = (z * (p * (1.0 - p))[:, None]).T @ z + np.diag(penalty)
            step = np.linalg.solve(hessian, gradient)
            decrease = float(gradient @ step)  # > 0: the Hessian is positive definite
            t = 1.0
            # backtracking (Armijo): a full Newton step can overshoot far from the optimum
            while objective(theta - t * step) > value - 1e-4 * t * decrease and t > 1e-10:
                t *= 0.5
            candidate = theta - t * step
            new_value = objective(candidate)
            if new_value >= value:
                break  # stalled at rounding level; converged below says whether tol was met
            theta, value = candidate, new_value
            self.n_iter += 1
        gradient = gradient_at(theta)
        self.converged = bool(np.max(np.abs(gradient)) <= threshold)
        if not self.converged:
            warnings.warn(
                f"StatsLogistic did not converge in {self.n_iter} Newton steps (largest "
                f"gradient entry per image {np.max(np.abs(gradient)) / x.shape[0]:.3g} > "
                f"tol={self.tol:g})",
                RuntimeWarning,
                stacklevel=2,
            )
        self.weights = theta[:-1].copy()
        self.intercept = float(theta[-1])
        self.feature_mean = mean
        self.feature_scale = scale
        self.image_shape = (int(x.shape[1]), int(x.shape[2]))
        return self

    def _fitted(
        self,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple[int, int]]:
        if (
            self.weights is None
            or self.feature_mean is None
            or self.feature_scale is None
            or self.image_shape is None
        ):
            raise RuntimeError("StatsLogistic is not fitted: call fit() or from_state() first")
        return self.weights, self.feature_mean, self.feature_scale, self.image_shape

    def decision_function(self, images: ArrayLike) -> NDArray[np.float64]:
        """Log-odds of an attack, ``w . z + b``, per image.

        Parameters
        ----------
        images : array-like, shape (n, height, width)
            As :func:`image_statistics`, of the training image size.

        Returns
        -------
        ndarray of float64, shape (n,)

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        ValueError
            As :func:`image_statistics`, or if the image size differs from the training size.
        """
        weights, mean, scale, shape = self._fitted()
        x = _as_images(images)
        if x.shape[1:] != shape:
            raise ValueError(
                f"images must be {shape[0]}x{shape[1]} like the training images, got "
                f"{x.shape[1]}x{x.shape[2]}"
            )
        return np.asarray(((image_statistics(x) - mean) / scale) @ weights + self.intercept)

    def score(self, images: ArrayLike) -> NDArray[np.float64]:
        """Probability of an attack per image (higher = more likely an attack).

        Parameters
        ----------
        images : array-like, shape (n, height, width)
            As :func:`image_statistics`, of the training image size.

        Returns
        -------
        ndarray of float64, shape (n,)
            ``sigmoid(decision_function(images))``, in ``[0, 1]``.

        Raises
        ------
        RuntimeError, ValueError
            As :meth:`decision_function`.
        """
        return _sigmoid(self.decision_function(images))

    def coefficients(self) -> dict[str, float]:
        """Weight of each named feature, largest absolute weight first.

        Weights are in log-odds per training standard deviation of the feature, so they compare
        across features: the first entries name the cue the model relies on.

        Returns
        -------
        dict of str to float
            Keys from :data:`FEATURE_NAMES`.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        """
        weights = self._fitted()[0]
        order = np.argsort(-np.abs(weights), kind="stable")
        return {FEATURE_NAMES[i]: float(weights[i]) for i in order.tolist()}

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """The fitted model as plain numeric numpy arrays (for ``np.savez`` or ``torch.from_numpy``).

        Returns
        -------
        dict of str to ndarray
            ``weights`` (48,), ``feature_mean`` (48,), ``feature_scale`` (48,) and 0-d
            ``intercept``, ``l2``, ``tol`` (float64); ``image_shape`` (2,) and 0-d ``max_iter``
            (int64).

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        """
        weights, mean, scale, shape = self._fitted()
        return {
            "weights": weights.copy(),
            "intercept": np.array(self.intercept, dtype=np.float64),
            "feature_mean": mean.copy(),
            "feature_scale": scale.copy(),
            "image_shape": np.array(shape, dtype=np.int64),
            "l2": np.array(self.l2, dtype=np.float64),
            "max_iter": np.array(self.max_iter, dtype=np.int64),
            "tol": np.array(self.tol, dtype=np.float64),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, ArrayLike]) -> StatsLogistic:
        """A fitted model from :meth:`state_dict` (or the ``np.load`` of its ``.npz``).

        Parameters
        ----------
        state : mapping of str to array-like
            The arrays of :meth:`state_dict`.

        Returns
        -------
        StatsLogistic
            Scores exactly as the model that was saved.

        Raises
        ------
        ValueError
            If a key is missing or an array has the wrong shape or non-finite values.
        """
        keys = (
            "weights",
            "intercept",
            "feature_mean",
            "feature_scale",
            "image_shape",
            "l2",
            "max_iter",
            "tol",
        )
        missing = [k for k in keys if k not in state]
        if missing:
            raise ValueError(f"state is missing {', '.join(missing)}")
        model = cls(
            l2=float(np.asarray(state["l2"])),
            max_iter=int(np.asarray(state["max_iter"])),
            tol=float(np.asarray(state["tol"])),
        )
        n_features = len(FEATURE_NAMES)
        vectors = {}
        for key in ("weights", "feature_mean", "feature_scale"):
            v = np.asarray(state[key], dtype=np.float64)
            if v.shape != (n_features,) or not np.all(np.isfinite(v)):
                raise ValueError(
                    f"state[{key!r}] must be {n_features} finite numbers, got {v.shape}"
                )
            vectors[key] = v.copy()
        shape = np.asarray(state["image_shape"])
        if shape.shape != (2,) or shape.dtype.kind not in "iu" or int(shape.min()) < 3:
            raise ValueError(f"state['image_shape'] must be 2 integers >= 3, got {shape}")
        intercept = float(np.asarray(state["intercept"]))
        if not np.isfinite(intercept):
            raise ValueError("state['intercept'] is NaN or inf")
        model.weights = vectors["weights"]
        model.feature_mean = vectors["feature_mean"]
        model.feature_scale = vectors["feature_scale"]
        model.intercept = intercept
        model.image_shape = (int(shape[0]), int(shape[1]))
        model.converged = True
        return model


def _sigmoid(eta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``1 / (1 + exp(-eta))`` without overflow for large ``|eta|``."""
    e = np.exp(-np.abs(eta))
    return np.asarray(np.where(eta >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))
