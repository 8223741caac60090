"""k-nearest-neighbor estimators over :class:`pyembed.Index`, with aeon's parameter names.

The shared part (parameter checks, the index, :meth:`kneighbors`) lives in
:class:`_TimeSeriesNeighbors`; the classifier and the regressor add only their vote.
"""

from __future__ import annotations

import numbers
import operator
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from pyembed.classify._series import Collection, as_collection
from pyembed.index import Index, SearchResult

_DISTANCES = ("dtw", "euclidean")
_WEIGHTS = ("uniform", "distance")
_SEARCHES = ("exact", "graph")
_DEPENDENCES = ("dependent", "independent")
_DISTANCE_PARAMS = ("window", "band", "dependence")
#: Added to aeon's distance before inverting it for ``weights="distance"`` (aeon's epsilon).
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class _Settings:
    """The parameters, checked. The distance fields shape the index (fixed by :meth:`fit`); the
    others are read again by every prediction, as scikit-learn's own k-NN does."""

    metric: str
    window: float | None
    band: int | None
    dependence: str
    n_neighbors: int
    weights: str
    search: str
    ef: int | None
    n_threads: int | None


#: Containers that never carry feature names (scikit-learn's ``_get_feature_names`` is None for
#: them), so the check needs no dataframe detection (a third of a millisecond per call).
_NAMELESS = (np.ndarray, list, tuple)
#: Label dtypes that scikit-learn's ``check_classification_targets`` always accepts for a 1-D
#: array (integers, unsigned, bool and strings are "binary" or "multiclass").
_CLASS_KINDS = "iubUS"


def _check_feature_names(estimator: BaseEstimator, X: Any, *, reset: bool) -> None:
    """Set (``reset``) or check ``feature_names_in_`` from a DataFrame's column names, with
    scikit-learn's own messages and warnings."""
    if type(X) in _NAMELESS:
        # What scikit-learn does for input without names, without looking for a dataframe.
        if reset:
            if hasattr(estimator, "feature_names_in_"):
                delattr(estimator, "feature_names_in_")
            return
        if not hasattr(estimator, "feature_names_in_"):
            return
    try:  # scikit-learn >= 1.6: a function
        from sklearn.utils.validation import _check_feature_names as check
    except ImportError:  # pragma: no cover - scikit-learn 1.3 to 1.5: a BaseEstimator method
        estimator._check_feature_names(X, reset=reset)
    else:
        check(estimator, X, reset=reset)


def _check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int of at least ``minimum`` (TypeError for non-integers and bools)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices`` (ValueError naming them otherwise)."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def _threads(n_jobs: Any) -> int | None:
    """``n_jobs`` as the index's ``n_threads``: None or -1 = all cores (None), k > 0 = k threads,
    k < -1 = all cores but ``-k - 1`` (joblib's convention, at least 1); 0 is a ValueError."""
    if n_jobs is None:
        return None
    n = _check_int(n_jobs, "n_jobs", minimum=-(2**31))
    if n == 0:
        raise ValueError("n_jobs must not be 0: None or -1 use all cores, 1 the calling thread")
    if n == -1:
        return None
    if n > 0:
        return n
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) + 1 + n)


def _check_distance_params(metric: str, params: Any) -> tuple[float | None, int | None, str]:
    """``(window, band, dependence)`` from ``distance_params`` (see the class docstring)."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise TypeError(f"distance_params must be a dict or None, got {type(params).__name__}")
    unknown = sorted(str(key) for key in params if key not in _DISTANCE_PARAMS)
    if unknown:
        allowed = ", ".join(repr(k) for k in _DISTANCE_PARAMS)
        raise ValueError(f"distance_params has unknown keys {unknown}; allowed keys: {allowed}")
    window = params.get("window")
    band = params.get("band")
    if window is not None and band is not None:
        raise ValueError(
            "distance_params has both 'window' (a fraction of the series length) and 'band' "
            f"(a radius in samples): give one of them, got window={window!r}, band={band!r}"
        )
    if metric != "dtw" and (window is not None or band is not None):
        key = "window" if window is not None else "band"
        raise ValueError(
            f"distance_params[{key!r}] applies to distance='dtw' only, got distance={metric!r}"
        )
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, numbers.Real):
            raise TypeError(
                "distance_params['window'] must be a number in [0, 1] or None, got "
                f"{window!r} ({type(window).__name__})"
            )
        window = float(window)
        if not 0.0 <= window <= 1.0:
            raise ValueError(
                f"distance_params['window'] must be between 0 and 1 (a fraction of the series "
                f"length), got {window!r}"
            )
    if band is not None:
        band = _check_int(band, "distance_params['band']", minimum=0)
    dependence = _check_choice(
        params.get("dependence", "dependent"), "distance_params['dependence']", _DEPENDENCES
    )
    return window, band, dependence


def _radius(window: float | None, band: int | None, shortest: int) -> int | None:
    """The Sakoe-Chiba radius in samples (None = full DTW), aeon 1.6's rule for ``window``:
    ``thickness = int(window * shortest_length)``, with None and 1.0 meaning no window."""
    if band is not None:
        return band
    if window is None or window == 1.0:
        return None
    return int(window * shortest)


def _index_input(metric: str, series: Collection, fitted: Collection) -> Any:
    """``series`` in the layout that the index over ``fitted`` takes."""
    if fitted.array is None:
        return series.as_list()
    assert series.array is not None  # the queries were checked to have the training length
    if metric == "euclidean" or fitted.n_channels == 1:
        return series.array.reshape(series.n_cases, -1)
    return series.array


def _build_index(s: _Settings, train: Collection) -> tuple[Index, int | None]:
    """The index over the training series and its DTW radius in samples (``add`` only stores
    rows: no graph is built and no distance computed)."""
    lengths = train.lengths
    shortest = int(lengths.min())
    if s.metric == "euclidean":
        if train.array is None:
            raise ValueError(
                "distance='euclidean' needs series of one length, but X has series of "
                f"{shortest} to {int(lengths.max())} time points; use distance='dtw'"
            )
        # Euclidean over every channel and time point is the L2 distance of the flattened
        # series (the per-channel sums add up), so one plain index serves every channel count.
        index = Index(train.n_channels * shortest, "euclidean")
        index.add(_index_input(s.metric, train, train))
        return index, None
    options: dict[str, Any] = {}
    if train.array is None and s.band is None and s.window is not None:
        # Unequal lengths: each pair gets aeon's own band, int(window * the shorter length),
        # from the index itself (band_ is then None: no single radius applies).
        band = None
        options["window"] = float(s.window)
    else:
        band = _radius(s.window, s.band, shortest)
        if band is not None and train.array is not None and band > shortest:
            band = None  # a radius beyond the series length leaves every cell in the band
        options["band"] = band
    # channels and dependence are passed only when needed, so one-channel series of one
    # length use the plain (n, length) index.
    if train.array is None or train.n_channels > 1:
        options["channels"] = train.n_channels
    if train.n_channels > 1:
        options["dependence"] = s.dependence
    length: Any = None if train.array is None else shortest  # None: a variable-length index
    index = Index(length, "dtw", **options)
    index.add(_index_input(s.metric, train, train))
    return index, band


class _TimeSeriesNeighbors(BaseEstimator):
    """What the classifier and the regressor share: parameters, the index and the search."""

    def __init__(
        self,
        *,
        distance: str = "dtw",
        distance_params: dict[str, Any] | None = None,
        n_neighbors: int = 1,
        weights: str = "uniform",
        search: str = "exact",
        ef: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.distance = distance
        self.distance_params = distance_params
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.search = search
        self.ef = ef
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        # A graph built on several threads can differ from one fit to the next.
        tags.non_deterministic = self.search == "graph" and self.n_jobs != 1
        return tags

    # -- checks -------------------------------------------------------------------------------
    def _settings(self) -> _Settings:
        """The parameters, checked (by fit and by every prediction; never by __init__ or
        set_params)."""
        metric = _check_choice(self.distance, "distance", _DISTANCES)
        window, band, dependence = _check_distance_params(metric, self.distance_params)
        return _Settings(
            metric=metric,
            window=window,
            band=band,
            dependence=dependence,
            n_neighbors=_check_int(self.n_neighbors, "n_neighbors", minimum=1),
            weights=_check_choice(self.weights, "weights", _WEIGHTS),
            search=_check_choice(self.search, "search", _SEARCHES),
            ef=None if self.ef is None else _check_int(self.ef, "ef", minimum=1),
            n_threads=_threads(self.n_jobs),
        )

    def _fit_input(self, X: Any, y: Any) -> tuple[_Settings, Collection, NDArray[Any]]:
        """The checked parameters, ``X`` as a collection and ``y`` as a 1-D array of its
        length (sets ``feature_names_in_``, nothing else)."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        settings = self._settings()
        _check_feature_names(self, X, reset=True)
        train = as_collection(X, "X")
        if type(y) is np.ndarray and y.ndim == 1:
            y = np.ascontiguousarray(y)  # what column_or_1d returns for it
        else:
            y = column_or_1d(y, warn=True)
        if len(y) != train.n_cases:
            raise ValueError(
                f"X has {train.n_cases} series but y has {len(y)} values; they must match"
            )
        return settings, train, y

    def _store(self, settings: _Settings, train: Collection) -> None:
        """Build :attr:`index_` over ``train`` (storing rows only) and set the attributes that
        describe the training series; called once everything else was checked."""
        index, band = _build_index(settings, train)
        self._settings_ = settings
        self._fit_X = train
        self.index_, self.band_ = index, band
        self.n_samples_fit_ = train.n_cases
        self.n_channels_ = train.n_channels
        self.n_timepoints_ = train.n_timepoints
        if train.n_timepoints is not None:
            self.n_features_in_ = train.n_channels * train.n_timepoints
        elif hasattr(self, "n_features_in_"):
            del self.n_features_in_

    def _check_queries(self, X: Any) -> Collection:
        """``X`` checked against the training series (channels; length for a fixed length)."""
        check_is_fitted(self)
        _check_feature_names(self, X, reset=False)
        queries = as_collection(X, "X")
        name = type(self).__name__
        if queries.n_channels != self.n_channels_:
            raise ValueError(
                f"X has {queries.n_channels} channels, but {name} was fitted on series of "
                f"{self.n_channels_} channels"
            )
        fitted_length = self.n_timepoints_
        if fitted_length is not None and queries.n_timepoints != fitted_length:
            lengths = queries.lengths
            if queries.n_timepoints is None:
                got = f"series of {int(lengths.min())} to {int(lengths.max())} time points"
                raise ValueError(
                    f"X has {got}, but {name} was fitted on series of {fitted_length} time "
                    "points (an index of one length); fit on a list of unequal-length series "
                    "to search series of any length"
                )
            raise ValueError(
                f"X has {queries.n_channels * int(lengths[0])} features, but {name} is "
                f"expecting {self.n_features_in_} features as input (series of "
                f"{int(lengths[0])} time points; fitted on {fitted_length})"
            )
        return queries

    # -- search -------------------------------------------------------------------------------
    def _live_settings(self) -> _Settings:
        """The parameters now, checked; a ValueError if the distance changed since :meth:`fit`
        (the index was built for the old one)."""
        check_is_fitted(self)
        s, fitted = self._settings(), self._settings_
        now = (s.metric, s.window, s.band, s.dependence)
        then = (fitted.metric, fitted.window, fitted.band, fitted.dependence)
        if now != then:
            raise ValueError(
                "distance or distance_params changed since fit (the index was built for "
                f"distance={fitted.metric!r}, window={fitted.window!r}, band={fitted.band!r}, "
                f"dependence={fitted.dependence!r}); call fit again"
            )
        return s

    def _search(self, s: _Settings, queries: Collection, k: int) -> SearchResult:
        """The ``k`` nearest training series of every query, exact or through the graph."""
        data = _index_input(s.metric, queries, self._fit_X)
        if s.search == "exact":
            return self.index_.search(data, k, exact=True, n_threads=s.n_threads)
        found = self.index_.search(data, k, ef=s.ef, n_threads=s.n_threads)
        short = np.flatnonzero((found.ids < 0).any(axis=1))
        if short.size == 0:
            return found
        # The graph reached fewer than k series for these queries: answer them exactly.
        redo = self.index_.search(
            _index_input(s.metric, queries.take(short), self._fit_X),
            k,
            exact=True,
            n_threads=s.n_threads,
        )
        ids, distances = found.ids.copy(), found.distances.copy()
        ids[short], distances[short] = redo.ids, redo.distances
        counters = found.counters.copy()
        counters[:, short] += redo.counters
        return SearchResult(ids, distances, counters)

    def _neighbors(
        self, s: _Settings, X: Any, n_neighbors: Any
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Distances (float32, true units) and training positions of the neighbors."""
        n_fit = self.n_samples_fit_
        if n_neighbors is None:
            k = s.n_neighbors
        else:
            k = _check_int(n_neighbors, "n_neighbors", minimum=1)
        if X is not None:
            if k > n_fit:
                raise ValueError(
                    f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
                    f"n_samples_fit = {n_fit}"
                )
            found = self._search(s, self._check_queries(X), k)
            return found.distances, found.ids
        # X=None: every training series' neighbors, leaving out the series itself.
        if k >= n_fit:
            raise ValueError(
                "Expected n_neighbors < n_samples_fit when X is None (a training series is "
                f"not its own neighbor), but n_neighbors = {k}, n_samples_fit = {n_fit}"
            )
        found = self._search(s, self._fit_X, k + 1)
        keep = found.ids != np.arange(n_fit)[:, np.newaxis]
        # A row whose own id was crowded out by k + 1 ties of lower id drops its last one.
        keep[keep.all(axis=1), -1] = False
        return found.distances[keep].reshape(n_fit, k), found.ids[keep].reshape(n_fit, k)

    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None, return_distance: bool = True
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]] | NDArray[np.int64]:
        """Find the nearest training series of each series of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_channels, n_timepoints) or (n_queries, \
n_timepoints), or list of (n_channels, n_timepoints_i) arrays, optional
            The query series (same channels as the training series; for an estimator fitted
            on series of one length, that length). None: the neighbors of every training
            series, each series left out of its own list (by position, not by distance).
        n_neighbors : int, optional
            Neighbors per query (default: the ``n_neighbors`` parameter); at most the number
            of training series, or below it when ``X`` is None.
        return_distance : bool
            Whether to return the distances as well.

        Returns
        -------
        distances : ndarray of float64, shape (n_queries, n_neighbors)
            Only when ``return_distance``: distances in pyembed's true units, ascending per
            row: for DTW the square root of the minimal sum of squared differences along the
            warping path (aeon's "dtw" is that sum, not its root); for Euclidean the L2
            distance. Computed in float32 by the index, widened to float64.
        indices : ndarray of int64, shape (n_queries, n_neighbors)
            Positions of the neighbors in the training series; equal distances are ordered by
            position.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Called before :meth:`fit`.
        TypeError
            ``n_neighbors`` is not an integer, ``X`` is sparse or not numeric.
        ValueError
            ``n_neighbors`` out of range; ``X`` malformed (see :meth:`fit`), or with other
            channels (or another length) than the training series.
        """
        distances, ids = self._neighbors(self._live_settings(), X, n_neighbors)
        if return_distance:
            return distances.astype(np.float64), ids
        return ids

    def _votes(self, X: Any) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Training positions of the neighbors of ``X`` and the weight of each one's vote, both
        (n_queries, n_neighbors): 1 (uniform), or ``1 / (aeon_distance + eps)`` where aeon's
        DTW is our distance squared (the sum of squared differences) and aeon's Euclidean is
        our distance."""
        s = self._live_settings()
        distances, ids = self._neighbors(s, X, None)
        if s.weights == "uniform":
            return ids, np.ones(distances.shape, dtype=np.float64)
        d = distances.astype(np.float64)
        if s.metric == "dtw":
            d = d * d
        return ids, 1.0 / (d + _EPS)


_REFIT_CHECKS = (
    "check_fit_idempotent",
    "check_supervised_y_2d",
    "check_classifier_data_not_an_array",
    "check_regressor_data_not_an_array",
    "check_regressors_int",
)
_SCORE_CHECKS = ("check_classifiers_train", "check_regressors_train")


def expected_failed_checks(estimator: BaseEstimator) -> dict[str, str]:
    """The scikit-learn estimator checks that ``estimator``, as configured, may fail, with why.

    For ``sklearn.utils.estimator_checks.parametrize_with_checks(...,
    expected_failed_checks=expected_failed_checks)`` or ``check_estimator(...,
    expected_failed_checks=expected_failed_checks(est))``. With ``search="exact"`` (the default),
    or ``search="graph"`` with ``n_jobs=1`` and the default ``ef``, every check passes and the
    dict is empty. The others fail only on some runs, so mark them non-strict
    (``xfail_strict=False``).

    Parameters
    ----------
    estimator : KNeighborsTimeSeriesClassifier or KNeighborsTimeSeriesRegressor
        The configured estimator (fitted or not).

    Returns
    -------
    dict of str to str
        Check name to the reason it may fail.
    """
    failing: dict[str, str] = {}
    if getattr(estimator, "search", "exact") != "graph":
        return failing
    if getattr(estimator, "n_jobs", None) != 1:
        reason = (
            "compares the predictions of two separate fits: with search='graph' and n_jobs != 1 "
            "the graph is built on several threads and two builds can differ, so the "
            "approximate neighbors can differ (n_jobs=1 builds the same graph every time)"
        )
        failing.update(dict.fromkeys(_REFIT_CHECKS, reason))
    ef = getattr(estimator, "ef", None)
    if ef is not None:
        reason = (
            f"asserts a minimum score on random 10-d data: a graph search with ef={ef} is "
            "approximate and may miss the true neighbors (ef=None or search='exact' pass)"
        )
        failing.update(dict.fromkeys(_SCORE_CHECKS, reason))
    return failing


class KNeighborsTimeSeriesClassifier(ClassifierMixin, _TimeSeriesNeighbors):
    """k-nearest-neighbor classifier of time series with DTW or Euclidean distance.

    A scikit-learn classifier with aeon's parameter names and predictions
    (``aeon.classification.distance_based.KNeighborsTimeSeriesClassifier``), searching a
    :class:`pyembed.Index`: by default exactly (brute force with lower bounds and early
    abandoning, which never change the answer), or through the index's graph.

    Parameters
    ----------
    distance : {"dtw", "euclidean"}, default="dtw"
        Dynamic time warping with an optional Sakoe-Chiba window, or the Euclidean (L2)
        distance over every channel and time point.
    distance_params : dict or None, default=None
        Options of the distance, all optional (None is ``{}``):

        - ``"window"``: float in [0, 1] or None. DTW's Sakoe-Chiba window as a fraction of the
          series length, as in aeon: None or 1.0 is full DTW, otherwise the radius in samples
          is ``int(window * n_timepoints)`` (aeon 1.6's ``thickness = int(window *
          shortest_length)``; ``window=0`` is Euclidean). For unequal-length series every
          pair gets aeon's band, ``int(window * min(n, m))`` steps of the shorter series along
          the diagonal from the first to the last cell (the index's ``window``); ``band_`` is
          then None.
        - ``"band"``: int >= 0. The Sakoe-Chiba radius in samples directly (pyembed's
          ``band``); a radius above the series length is full DTW (``band_`` is then None).
          Giving both ``window`` and ``band`` is a ValueError.
        - ``"dependence"``: ``"dependent"`` (default) or ``"independent"``, for series of more
          than one channel. Dependent DTW warps all channels along one path, the cost of a cell
          being the squared difference summed over channels: what aeon's ``"dtw"`` computes on
          multivariate series. Independent DTW warps every channel on its own; pyembed's
          distance is then the square root of the summed per-channel path sums (aeon has no
          such distance; summing aeon's per-channel ``dtw`` gives its square). Either value is
          accepted for Euclidean, where both are the same distance.
    n_neighbors : int, default=1
        Neighbors that vote (``k``).
    weights : {"uniform", "distance"}, default="uniform"
        ``"uniform"``: every neighbor's vote counts 1. ``"distance"``: a neighbor's vote is
        ``1 / (d + eps)`` with ``eps = np.finfo(float).eps`` and ``d`` aeon's distance, which
        for DTW is the sum of squared differences, i.e. pyembed's DTW distance squared, and for
        Euclidean the L2 distance. This reproduces aeon's predictions (it differs from
        scikit-learn's ``KNeighborsClassifier``, which weights by 1 / L2 and gives a zero-distance
        neighbor all the weight).
    search : {"exact", "graph"}, default="exact"
        ``"exact"``: ``index.search(X, k, exact=True)``, no graph is ever built. ``"graph"``:
        approximate search through the index's navigable small world graph, built by the first
        prediction (``index.search(X, k, ef=ef)``); a query for which the graph reaches fewer
        than ``k`` series is answered exactly.
    ef : int or None, default=None
        Beam size of a graph search (None: the index's default, :data:`pyembed.index.DEFAULT_EF`;
        the search uses ``max(ef, k)``). Ignored when ``search="exact"``.
    n_jobs : int or None, default=None
        Threads of a search (and of the graph build): None or -1 use all cores (respecting
        ``RAYON_NUM_THREADS``), 1 the calling thread, k > 1 k threads, k < -1 all cores but
        ``-k - 1``. A graph built on several threads may differ between runs; ``n_jobs=1``
        builds the same graph every time. (aeon's default is 1.)

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted distinct labels of ``y``.
    n_samples_fit_ : int
        Number of training series.
    n_channels_ : int
        Channels of every training series.
    n_timepoints_ : int or None
        Length of the training series, or None when their lengths differ.
    n_features_in_ : int
        ``n_channels_ * n_timepoints_``: the columns of a 2-D ``X``. Not set when the training
        series differ in length.
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Column names of ``X``, when it was a DataFrame with string column names.
    band_ : int or None
        The Sakoe-Chiba radius of the index, in samples; None for full DTW and for Euclidean.
    index_ : pyembed.Index
        The index over the training series (ids are their positions in ``X``).

    Notes
    -----
    **Input.** As in aeon: a 3-D array ``(n_cases, n_channels, n_timepoints)``, a 2-D array
    ``(n_cases, n_timepoints)`` for one channel (so scikit-learn's features are time points),
    or a list of 2-D ``(n_channels, n_timepoints_i)`` arrays (a 1-D item is one channel). A list
    whose series all have one length is the same as the stacked 3-D array; series of different
    lengths go to pyembed's variable-length DTW index (Euclidean needs one length). Values are
    converted to float32 and must be finite; nothing is normalized, padded or truncated.
    After a fit on series of one length, ``X`` must have that length and the same channels.

    **Parameters after fit.** ``n_neighbors``, ``weights``, ``search``, ``ef`` and ``n_jobs``
    are read (and checked) again by every prediction, as in scikit-learn's own k-NN, so
    ``set_params`` on a fitted estimator takes effect at once; ``distance`` and
    ``distance_params`` shape the index, so changing them raises a ValueError until the next
    :meth:`fit`. A graph is built by the first prediction with ``search="graph"`` and kept.

    **Differences from aeon 1.6.**

    - Distances are computed in float32 (aeon: float64), so neighbors at nearly equal
      distances may be ordered differently.
    - Ties. pyembed orders equal distances by training position. aeon selects the ``k``
      smallest with ``np.argpartition`` and then sorts them by (distance, position): the same
      order, except that which of several series tied at the k-th distance make the cut is up
      to ``argpartition``. A tie between classes in the vote goes, in both, to the class that
      sorts first (``argmax`` over ``classes_``).
    - Unequal lengths. Both give a pair of series the window ``int(window * m)``, ``m`` the
      shorter length, along the interpolated diagonal of the unequal cost matrix, as aeon's
      ``create_bounding_matrix`` (and ``dtw_cost_matrix``) defines it. aeon 1.6's
      ``dtw_distance``, which its k-NN uses, computes that band with ``create_band_bounds``,
      which in a few rows is one column off its own matrix (where ``step / size * length``
      rounds just below an integer; 9 cells of a 267 x 201 matrix at window 0.1), so a few
      distances, and rarely a prediction, differ there.
    - ``n_jobs`` defaults to all cores (aeon: 1). Parameters are checked in :meth:`fit` (aeon
      checks ``weights`` in ``__init__``); callable ``distance`` and ``weights`` are not
      supported.

    **scikit-learn checks.** Every check of ``sklearn.utils.estimator_checks.check_estimator``
    (scikit-learn 1.9, legacy checks included) passes with ``search="exact"``, and with
    ``search="graph"`` when ``n_jobs=1`` and ``ef=None``. :func:`pyembed.classify.
    expected_failed_checks` names the ones other graph settings may fail, with the reason:

    - with ``n_jobs != 1``: ``check_fit_idempotent``, ``check_supervised_y_2d``,
      ``check_classifier_data_not_an_array`` (and the regressor's ``check_regressors_int``,
      ``check_regressor_data_not_an_array``), which compare the predictions of two fits: a
      graph built on several threads can differ between builds, so the approximate neighbors
      can too (the estimator's ``non_deterministic`` tag is then set);
    - with an explicit ``ef``: ``check_classifiers_train`` (``check_regressors_train``), which
      require a minimum score on random data that a narrow approximate search may miss.

    Examples
    --------
    >>> from pyembed.classify import KNeighborsTimeSeriesClassifier
    >>> from pyembed.datasets.ucr import load_pair
    >>> train, test = load_pair("GunPoint")
    >>> clf = KNeighborsTimeSeriesClassifier(distance_params={"window": 0.1})
    >>> clf.fit(train.X, train.y).band_
    15
    >>> round(clf.score(test.X, test.y), 3)
    0.94
    """

    def fit(self, X: Any, y: Any) -> KNeighborsTimeSeriesClassifier:
        """Store the training series in a new index (no distance is computed).

        Parameters
        ----------
        X : array-like of shape (n_cases, n_channels, n_timepoints) or (n_cases, \
n_timepoints), or list of (n_channels, n_timepoints_i) arrays
            The training series (see Notes); real numbers, finite after conversion to float32.
        y : array-like of shape (n_cases,)
            Class labels.

        Returns
        -------
        KNeighborsTimeSeriesClassifier
            The fitted estimator (``self``).

        Raises
        ------
        TypeError
            A parameter of the wrong type; ``X`` sparse, bool or not numeric.
        ValueError
            A parameter out of range or unknown (see Parameters); ``X`` with a wrong number of
            dimensions, no series, no time points, differing channel counts, NaN or infinity;
            ``y`` missing, of another length, not 1-D or not class labels; Euclidean distance
            on unequal-length series.
        """
        settings, train, y = self._fit_input(X, y)
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            what = "NaN" if np.isnan(y).any() else "infinity"
            raise ValueError(f"Input y contains {what}; class labels must be finite")
        if y.dtype.kind not in _CLASS_KINDS:
            check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        self._store(settings, train)
        self.classes_, self._y = classes, encoded
        return self

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Class probabilities: each class's share of the neighbors' votes.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_channels, n_timepoints) or (n_queries, \
n_timepoints), or list of (n_channels, n_timepoints_i) arrays
            Series to classify, like the training series (same channels and, for a fit on
            one length, the same length).

        Returns
        -------
        ndarray of float64, shape (n_queries, n_classes)
            Votes (see ``weights``) per class of :attr:`classes_`, divided by their total;
            each row sums to 1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Called before :meth:`fit`.
        ValueError
            ``X`` malformed, or with other channels or another length than in :meth:`fit`;
            ``n_neighbors`` above the number of training series.
        """
        ids, weights = self._votes(X)
        labels = self._y[ids]
        proba = np.zeros((ids.shape[0], len(self.classes_)), dtype=np.float64)
        rows = np.arange(ids.shape[0])
        for j in range(ids.shape[1]):  # neighbor by neighbor: aeon's order of additions
            proba[rows, labels[:, j]] += weights[:, j]
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> NDArray[Any]:
        """Class labels: the class with the most (weighted) neighbor votes.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_channels, n_timepoints) or (n_queries, \
n_timepoints), or list of (n_channels, n_timepoints_i) arrays
            Series to classify (as in :meth:`predict_proba`).

        Returns
        -------
        ndarray of shape (n_queries,)
            One label of :attr:`classes_` per series; a tie goes to the label that sorts first.

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError
            As :meth:`predict_proba`.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class KNeighborsTimeSeriesRegressor(RegressorMixin, _TimeSeriesNeighbors):
    """k-nearest-neighbor regressor of time series with DTW or Euclidean distance.

    A scikit-learn regressor with aeon's parameter names and predictions
    (``aeon.regression.distance_based.KNeighborsTimeSeriesRegressor``): the prediction is the
    (weighted) mean target of the nearest training series, found by a :class:`pyembed.Index`.

    Parameters
    ----------
    distance : {"dtw", "euclidean"}, default="dtw"
        As in :class:`KNeighborsTimeSeriesClassifier`.
    distance_params : dict or None, default=None
        ``{"window": fraction in [0, 1]}`` (radius ``int(window * n_timepoints)`` samples, aeon's
        rule; None or 1.0 is full DTW), or ``{"band": radius in samples}``, not both; and
        ``{"dependence": "dependent" | "independent"}`` for multivariate DTW. See
        :class:`KNeighborsTimeSeriesClassifier`.
    n_neighbors : int, default=1
        Neighbors averaged (``k``).
    weights : {"uniform", "distance"}, default="uniform"
        ``"uniform"``: the plain mean of the neighbors' targets. ``"distance"``: the mean
        weighted by ``1 / (d + eps)``, with ``d`` aeon's distance (pyembed's DTW distance
        squared; the L2 distance for Euclidean) and ``eps = np.finfo(float).eps``, as aeon does.
    search : {"exact", "graph"}, default="exact"
        Exact search (no graph is built) or graph search (``ef``); see the classifier.
    ef : int or None, default=None
        Beam size of a graph search; ignored when ``search="exact"``.
    n_jobs : int or None, default=None
        Search threads: None or -1 all cores, 1 the calling thread (see the classifier).

    Attributes
    ----------
    n_samples_fit_, n_channels_, n_timepoints_, n_features_in_, feature_names_in_, band_, index_
        As in :class:`KNeighborsTimeSeriesClassifier`.

    Notes
    -----
    Input, units and the differences from aeon 1.6 (float32 distances, ties by training
    position, one radius for unequal lengths, ``n_jobs`` defaulting to all cores) are those of
    :class:`KNeighborsTimeSeriesClassifier`. Targets are float64.

    **scikit-learn checks.** As for the classifier: all pass with ``search="exact"``; see
    :func:`pyembed.classify.expected_failed_checks` for the graph settings that may fail some
    (``check_regressors_int``, ``check_regressor_data_not_an_array``, ``check_fit_idempotent``,
    ``check_supervised_y_2d`` with ``n_jobs != 1``; ``check_regressors_train`` with an
    explicit ``ef``).

    Examples
    --------
    >>> import numpy as np
    >>> from pyembed.classify import KNeighborsTimeSeriesRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = np.cumsum(rng.normal(size=(40, 30)), axis=1)
    >>> y = X[:, -1]
    >>> reg = KNeighborsTimeSeriesRegressor(n_neighbors=3, weights="distance").fit(X, y)
    >>> reg.predict(X[:2]).round(3).tolist() == y[:2].round(3).tolist()
    True
    """

    def fit(self, X: Any, y: Any) -> KNeighborsTimeSeriesRegressor:
        """Store the training series in a new index (no distance is computed).

        Parameters
        ----------
        X : array-like of shape (n_cases, n_channels, n_timepoints) or (n_cases, \
n_timepoints), or list of (n_channels, n_timepoints_i) arrays
            The training series; real numbers, finite after conversion to float32.
        y : array-like of shape (n_cases,)
            Targets, real numbers (converted to float64), finite.

        Returns
        -------
        KNeighborsTimeSeriesRegressor
            The fitted estimator (``self``).

        Raises
        ------
        TypeError
            As :meth:`KNeighborsTimeSeriesClassifier.fit`.
        ValueError
            As :meth:`KNeighborsTimeSeriesClassifier.fit`, and ``y`` not numeric or with NaN or
            infinity.
        """
        settings, train, y = self._fit_input(X, y)
        if np.asarray(y).dtype.kind == "c":
            raise ValueError("Complex data not supported: y has a complex dtype")
        try:
            targets = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"y must hold real numbers: {error}") from None
        if not np.isfinite(targets).all():
            what = "NaN" if np.isnan(targets).any() else "infinity"
            raise ValueError(f"Input y contains {what}; targets must be finite")
        self._store(settings, train)
        self._y = targets
        return self

    def predict(self, X: Any) -> NDArray[np.float64]:
        """Targets: the (weighted) mean target of each series' nearest training series.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_channels, n_timepoints) or (n_queries, \
n_timepoints), or list of (n_channels, n_timepoints_i) arrays
            Series to predict, like the training series.

        Returns
        -------
        ndarray of float64, shape (n_queries,)
            ``sum(w * y[neighbors]) / sum(w)`` per series, ``w`` as set by ``weights``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Called before :meth:`fit`.
        ValueError
            ``X`` malformed, or with other channels or another length than in :meth:`fit`;
            ``n_neighbors`` above the number of training series.
        """
        ids, weights = self._votes(X)
        targets = self._y[ids]
        return (targets * weights).sum(axis=1) / weights.sum(axis=1)
