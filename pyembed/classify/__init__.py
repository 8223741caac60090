"""scikit-learn-style k-nearest-neighbor estimators of time series over :class:`pyembed.Index`.

:class:`KNeighborsTimeSeriesClassifier` and :class:`KNeighborsTimeSeriesRegressor` take aeon's
parameter names (``distance``, ``distance_params={"window": ...}``, ``n_neighbors``,
``weights``) and give aeon 1.6's predictions for its ``"dtw"`` and ``"euclidean"`` distances,
searching exactly (the default) or through the index's graph. Importing this module imports
scikit-learn (the ``classify`` extra); ``import pyembed`` does not.
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "pyembed.classify needs scikit-learn: pip install 'pyembed[classify]'"
    ) from error

from pyembed.classify._neighbors import (
    KNeighborsTimeSeriesClassifier,
    KNeighborsTimeSeriesRegressor,
    expected_failed_checks,
)

__all__ = [
    "KNeighborsTimeSeriesClassifier",
    "KNeighborsTimeSeriesRegressor",
    "expected_failed_checks",
]
