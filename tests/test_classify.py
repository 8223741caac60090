"""pyembed.classify: scikit-learn conformance, aeon 1.6 parity, oracles and error messages.

The multichannel tests need ``Index(..., channels=c)`` in the core, and the unequal-length tests
(``test_unequal_length_*``) need its variable-length index (``Index(None, "dtw", ...)``).
"""

from __future__ import annotations

import doctest
import os
import pickle
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

import pyembed.classify._neighbors as neighbors_module
from pyembed.classify import (
    KNeighborsTimeSeriesClassifier,
    KNeighborsTimeSeriesRegressor,
    expected_failed_checks,
)
from pyembed.datasets.ucr import load_pair, znormalize

Classifier = KNeighborsTimeSeriesClassifier
Regressor = KNeighborsTimeSeriesRegressor


# -- helpers ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def aeon() -> Any:
    """aeon 1.6 (the ``test`` extra), the reference implementation."""
    return pytest.importorskip("aeon", reason="aeon (the test extra) is needed for parity tests")


def _aeon_run(aeon: Any, kind: str, X, y, Q, **params) -> dict[str, np.ndarray]:
    """Fit aeon's k-NN ``kind`` ("classifier" or "regressor") on float64 copies and return its
    predictions, probabilities (classifier), and neighbors of ``Q`` and of the training set."""
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier as AeonC
    from aeon.regression.distance_based import KNeighborsTimeSeriesRegressor as AeonR
    from numba.core.errors import NumbaWarning

    def f64(data):
        if isinstance(data, list):
            return [np.asarray(s, dtype=np.float64) for s in data]
        data = np.asarray(data, dtype=np.float64)
        return data[:, np.newaxis, :] if data.ndim == 2 else data

    cls = AeonC if kind == "classifier" else AeonR
    out: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaWarning)  # numba's compile-time cast notes
        model = cls(**params).fit(f64(X), y)
        out["predict"] = model.predict(f64(Q))
        if kind == "classifier":
            out["proba"] = model.predict_proba(f64(Q))
        out["distances"], out["ids"] = model.kneighbors(f64(Q))
        if model.n_neighbors < len(y):
            out["train_distances"], out["train_ids"] = model.kneighbors()
    return out


@pytest.fixture(scope="module")
def gunpoint():
    """GunPoint (length 150): all 50 training series and the first 60 test series."""
    train, test = load_pair("GunPoint")
    return train.X, train.y, test.X[:60], test.y[:60]


def _walks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random walks along the last axis (time-series-like data), float64."""
    return np.cumsum(rng.normal(size=shape), axis=-1)


def _check_against_aeon(ours, theirs: dict[str, np.ndarray], Q, metric: str) -> None:
    """Our fitted estimator ``ours`` agrees with aeon's outputs on the queries ``Q``: the same
    labels, or targets to float rounding; the same neighbors, at aeon's distances."""
    if theirs["predict"].dtype.kind == "f":
        np.testing.assert_allclose(ours.predict(Q), theirs["predict"], rtol=1e-5)
    else:
        np.testing.assert_array_equal(ours.predict(Q), theirs["predict"])
    if "proba" in theirs:
        np.testing.assert_allclose(ours.predict_proba(Q), theirs["proba"], rtol=1e-5, atol=1e-6)
    distances, ids = ours.kneighbors(Q)
    np.testing.assert_array_equal(ids, theirs["ids"])
    # aeon's "dtw" is the sum of squared differences; ours is its square root.
    ours_as_aeon = distances**2 if metric == "dtw" else distances
    np.testing.assert_allclose(ours_as_aeon, theirs["distances"], rtol=2e-5, atol=1e-5)
    if "train_ids" in theirs:
        distances, ids = ours.kneighbors()
        np.testing.assert_array_equal(ids, theirs["train_ids"])
        ours_as_aeon = distances**2 if metric == "dtw" else distances
        np.testing.assert_allclose(ours_as_aeon, theirs["train_distances"], rtol=2e-5, atol=1e-5)


# -- packaging --------------------------------------------------------------------------------
def test_import_pyembed_leaves_sklearn_out():
    code = (
        "import sys, pyembed, pyembed.index, pyembed.datasets.ucr; print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    code = "import sys, pyembed.classify; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_docstring_examples():
    failures, tried = doctest.testmod(neighbors_module)
    assert tried > 0 and failures == 0


# -- scikit-learn's estimator checks ----------------------------------------------------------
DETERMINISTIC = [
    Classifier(),
    Regressor(),
    Classifier(distance="euclidean", n_neighbors=3, weights="distance"),
    Regressor(n_neighbors=3, weights="distance", distance_params={"window": 0.5}),
    Classifier(search="graph", n_jobs=1, n_neighbors=3, distance_params={"band": 1}),
    Regressor(search="graph", n_jobs=1, distance_params={"dependence": "independent"}),
]


@parametrize_with_checks(DETERMINISTIC, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# A graph built on several threads and searched with a narrow beam: the checks that compare two
# fits, or ask for a minimum score, fail on some runs only (here about one run in five for
# check_regressors_int, four in five for check_regressors_train), hence not strict.
@parametrize_with_checks(
    [Regressor(search="graph", ef=1)],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=False,
)
def test_sklearn_estimator_checks_threaded_graph(estimator, check):
    check(estimator)


def test_expected_failed_checks_name_only_graph_settings():
    for estimator in DETERMINISTIC:
        assert expected_failed_checks(estimator) == {}
    threaded = expected_failed_checks(Regressor(search="graph", ef=4))
    assert {"check_fit_idempotent", "check_regressors_int", "check_regressors_train"} <= set(
        threaded
    )
    assert all(reason for reason in threaded.values())
    tags = Classifier(search="graph").__sklearn_tags__()
    assert tags.non_deterministic and tags.input_tags.three_d_array
    assert not Classifier(search="graph", n_jobs=1).__sklearn_tags__().non_deterministic


# -- aeon parity ------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [None, 0.1, 0.05])
@pytest.mark.parametrize("k, weights", [(1, "uniform"), (3, "uniform"), (3, "distance")])
def test_classifier_matches_aeon_on_gunpoint(aeon, gunpoint, window, k, weights):
    X, y, Q, _ = gunpoint
    params = dict(distance="dtw", distance_params={"window": window}, n_neighbors=k)
    theirs = _aeon_run(aeon, "classifier", X, y, Q, weights=weights, **params)
    ours = Classifier(weights=weights, **params).fit(X, y)
    assert ours.band_ == (None if window is None else int(window * X.shape[1]))
    _check_against_aeon(ours, theirs, Q, "dtw")


@pytest.mark.parametrize("window", [None, 0.1])
@pytest.mark.parametrize("k, weights", [(1, "uniform"), (3, "uniform"), (3, "distance")])
def test_regressor_matches_aeon_on_gunpoint(aeon, gunpoint, window, k, weights):
    X, _, Q, _ = gunpoint
    target = X[:, 40:70].mean(axis=1).astype(np.float64)  # a continuous target from the series
    params = dict(distance="dtw", distance_params={"window": window}, n_neighbors=k)
    theirs = _aeon_run(aeon, "regressor", X, target, Q, weights=weights, **params)
    ours = Regressor(weights=weights, **params).fit(X, target)
    _check_against_aeon(ours, theirs, Q, "dtw")


@pytest.mark.parametrize("k, weights", [(1, "uniform"), (3, "distance")])
def test_euclidean_matches_aeon_on_gunpoint(aeon, gunpoint, k, weights):
    X, y, Q, _ = gunpoint
    theirs = _aeon_run(
        aeon, "classifier", X, y, Q, distance="euclidean", n_neighbors=k, weights=weights
    )
    ours = Classifier(distance="euclidean", n_neighbors=k, weights=weights).fit(X, y)
    assert ours.band_ is None
    _check_against_aeon(ours, theirs, Q, "euclidean")


@pytest.mark.parametrize("window", [0.0, 0.05, 0.07, 0.1, 0.29, 0.333, 0.5, 0.999, 1.0])
@pytest.mark.parametrize("length", [24, 100, 150])
def test_window_gives_aeons_sakoe_chiba_radius(aeon, window, length):
    from aeon.distances import create_bounding_matrix

    X = _walks(np.random.default_rng(0), (4, length))
    band = Classifier(distance_params={"window": window}).fit(X, [0, 1, 0, 1]).band_
    # aeon's band: row 0 of its bounding matrix covers columns 0..thickness.
    thickness = int(create_bounding_matrix(length, length, window)[0].sum()) - 1
    if window == 1.0:
        assert band is None  # full DTW, as aeon's window=1.0
    else:
        assert band == thickness == int(window * length)


def test_distance_weights_follow_aeon_not_sklearn():
    # Three neighbors at DTW distances 1, 2 and 2 (true units): aeon weighs by 1/(d^2 + eps).
    # Neighbors at distances 1, 1.5 and 1.5 (true units) of classes a, b, b.
    X, y = np.array([[1.0], [1.5], [1.5], [-10.0]]), ["a", "b", "b", "c"]
    dtw = Classifier(n_neighbors=3, weights="distance").fit(X, y)
    w = 1 / np.array([1.0, 2.25, 2.25])  # aeon's DTW is the squared sum: 1 / (d**2 + eps)
    expected = [w[0] / w.sum(), (w[1] + w[2]) / w.sum(), 0.0]
    np.testing.assert_allclose(dtw.predict_proba([[0.0]])[0], expected)
    assert dtw.predict([[0.0]]).tolist() == ["a"]
    euclid = Classifier(distance="euclidean", n_neighbors=3, weights="distance").fit(X, y)
    w = 1 / np.array([1.0, 1.5, 1.5])  # aeon's Euclidean is the L2 distance: 1 / (d + eps)
    expected = [w[0] / w.sum(), (w[1] + w[2]) / w.sum(), 0.0]
    np.testing.assert_allclose(euclid.predict_proba([[0.0]])[0], expected)
    assert euclid.predict([[0.0]]).tolist() == ["b"]


# -- oracles ----------------------------------------------------------------------------------
def _brute_force(Q: np.ndarray, X: np.ndarray, k: int, leave_out_self: bool = False):
    """Euclidean k nearest rows of ``X`` for each row of ``Q``, ties by position (float64)."""
    full = np.linalg.norm(Q.reshape(len(Q), 1, -1) - X.reshape(1, len(X), -1), axis=2)
    if leave_out_self:
        np.fill_diagonal(full, np.inf)
    ids = np.argsort(full, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(full, ids, axis=1), ids


@pytest.mark.parametrize("shape", [(60, 12), (60, 1, 12), (60, 3, 12)])
def test_euclidean_kneighbors_equal_brute_force(shape):
    rng = np.random.default_rng(3)
    X, Q = rng.normal(size=shape), rng.normal(size=(15, *shape[1:]))
    clf = Classifier(distance="euclidean", n_neighbors=5).fit(X, np.arange(60) % 3)
    distances, ids = clf.kneighbors(Q)
    expected_d, expected_ids = _brute_force(Q, X, 5)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(distances, expected_d, rtol=1e-5)
    assert distances.dtype == np.float64 and ids.dtype == np.int64
    distances, ids = clf.kneighbors(None, n_neighbors=4)
    expected_d, expected_ids = _brute_force(X, X, 4, leave_out_self=True)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(distances, expected_d, rtol=1e-5)
    only_ids = clf.kneighbors(Q, 2, return_distance=False)
    np.testing.assert_array_equal(only_ids, _brute_force(Q, X, 2)[1])


def test_ties_are_broken_by_training_position():
    a, b = [0.0, 1.0, 0.0], [5.0, 5.0, 5.0]
    X = np.array([b, a, a, b, a])
    clf = Classifier(n_neighbors=4).fit(X, [0, 1, 1, 0, 1])
    assert clf.kneighbors([a], return_distance=False).tolist() == [[1, 2, 4, 0]]
    # Each series is left out of its own neighbors by position, even among equal distances.
    assert clf.kneighbors(None, 2, return_distance=False).tolist() == [
        [3, 1],
        [2, 4],
        [1, 4],
        [0, 1],
        [1, 2],
    ]
    # A two-way tie in the vote goes to the class that sorts first, as in aeon.
    tie = Classifier(n_neighbors=2).fit([[0.0], [2.0]], ["z", "a"])
    assert tie.predict([[1.0]]).tolist() == ["a"]


def test_graph_search_with_a_wide_beam_equals_exact(gunpoint):
    X, y, Q, _ = gunpoint
    exact = Classifier(n_neighbors=3, distance_params={"window": 0.1}).fit(X, y)
    graph = clone(exact).set_params(search="graph", ef=len(X), n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(graph.kneighbors(Q)[1], exact.kneighbors(Q)[1])
    np.testing.assert_array_equal(graph.predict(Q), exact.predict(Q))


def test_exact_search_builds_no_graph(gunpoint):
    X, y, Q, _ = gunpoint
    clf = Classifier(n_neighbors=3).fit(X, y)
    clf.predict(Q)
    clf.kneighbors()
    assert clf.index_.pending == len(X) and clf.index_.last_build == {}
    graph = Classifier(search="graph", n_jobs=1).fit(X, y)
    assert graph.index_.pending == len(X)  # fit only stores the series
    graph.predict(Q[:2])
    assert graph.index_.pending == 0


@pytest.mark.parametrize("n_jobs", [None, 1, 2, -1, -2])
def test_n_jobs_does_not_change_exact_answers(gunpoint, n_jobs):
    X, y, Q, _ = gunpoint
    reference = Classifier(n_neighbors=3, n_jobs=1).fit(X, y).kneighbors(Q)
    got = Classifier(n_neighbors=3, n_jobs=n_jobs).fit(X, y).kneighbors(Q)
    np.testing.assert_array_equal(got[1], reference[1])
    np.testing.assert_array_equal(got[0], reference[0])


def test_n_jobs_maps_to_index_threads():
    threads = neighbors_module._threads
    assert threads(None) is None and threads(-1) is None
    assert threads(1) == 1 and threads(3) == 3
    assert 1 <= threads(-2) <= max(1, len(os.sched_getaffinity(0)) - 1)


def test_input_layouts_give_the_same_answers():
    rng = np.random.default_rng(5)
    X, Q = _walks(rng, (30, 25)), _walks(rng, (6, 25))
    y = np.arange(30) % 3
    reference = Classifier(n_neighbors=3).fit(X, y).kneighbors(Q)
    layouts = [
        (X[:, None, :], Q[:, None, :]),  # 3-D, one channel
        (list(X), list(Q)),  # list of 1-D series
        ([s[None] for s in X], [s[None] for s in Q]),  # list of (1, length) series
        (X.tolist(), Q.tolist()),  # nested Python lists
        (np.asfortranarray(X), Q[:, ::-1][:, ::-1]),  # Fortran order, negative strides
        (X.astype(np.float32), Q.astype(np.float32)),
    ]
    for fit_X, query in layouts:
        got = Classifier(n_neighbors=3).fit(fit_X, y).kneighbors(query)
        np.testing.assert_array_equal(got[1], reference[1])
        np.testing.assert_allclose(got[0], reference[0], rtol=1e-6)
    ints = rng.integers(-5, 5, size=(30, 25))
    np.testing.assert_array_equal(
        Classifier().fit(ints, y).predict(ints[:4]),
        Classifier().fit(ints.astype(np.float64), y).predict(ints[:4].astype(np.float64)),
    )


def test_lists_of_arrays_convert_as_item_by_item():
    """The one-pass conversion of a list of ndarrays gives what the item-by-item path gives
    for the same values as nested Python lists (which always take that path)."""
    from pyembed.classify._series import as_collection

    rng = np.random.default_rng(8)
    lists = [
        [rng.normal(size=n) for n in (5, 9, 3)],  # 1-D, unequal
        [rng.normal(size=(1, n)) for n in (4, 4, 4)],  # equal: stacked
        [rng.normal(size=(3, n)) for n in (6, 2, 7)],  # three channels, unequal
        [rng.normal(size=(2, 5)).astype(np.float32), rng.integers(-3, 3, size=(2, 8))],
        [np.asfortranarray(rng.normal(size=(2, 6))), rng.normal(size=(2, 12))[:, ::-2]],
        [rng.normal(size=(3, 5)) for _ in range(4)],  # equal, three channels
    ]
    for items in lists:
        fast = as_collection(items)
        slow = as_collection([item.tolist() for item in items])
        assert fast.n_channels == slow.n_channels
        if slow.array is not None:
            assert fast.array is not None and fast.array.flags.c_contiguous
            np.testing.assert_array_equal(fast.array, slow.array)
        else:
            assert fast.series is not None and slow.series is not None
            assert len(fast.series) == len(slow.series)
            for a, b in zip(fast.series, slow.series, strict=True):
                assert a.dtype == np.float32 and a.flags.c_contiguous
                np.testing.assert_array_equal(a, b)
    # A non-finite value is still named by its series, channel and time point.
    bad = [rng.normal(size=(2, 5)) for _ in range(4)]
    bad[2][1, 3] = np.nan
    with pytest.raises(ValueError, match="case 2, channel 1, time point 3"):
        as_collection(bad)
    huge = [np.ones(3), np.array([1.0, 1e39])]  # float32 overflow
    with pytest.raises(ValueError, match="infinity.*case 1, channel 0, time point 1"):
        as_collection(huge)


def test_pickle_round_trip_keeps_predictions(gunpoint):
    X, y, Q, _ = gunpoint
    for clf in (Classifier(n_neighbors=3), Classifier(search="graph", n_jobs=1)):
        clf.fit(X, y)
        before = clf.predict_proba(Q)  # the graph estimator builds its graph here
        again = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(again.predict_proba(Q), before)


# -- scikit-learn integration -----------------------------------------------------------------
def test_pipeline_and_grid_search(gunpoint):
    X, y, Q, y_test = gunpoint
    pipe = Pipeline(
        [
            ("znorm", FunctionTransformer(znormalize)),
            ("knn", Classifier(distance_params={"window": 0.1})),
        ]
    )
    grid = {
        "knn__n_neighbors": [1, 3, 5],
        "knn__distance_params": [{"window": 0.0}, {"window": 0.1}],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert search.best_params_["knn__n_neighbors"] in (1, 3, 5)
    assert len(search.cv_results_["params"]) == 6
    assert search.score(Q, y_test) > 0.8
    fitted = search.best_estimator_.named_steps["knn"]
    assert fitted.n_samples_fit_ == len(X) and fitted.n_features_in_ == X.shape[1]


def test_grid_search_of_the_regressor(gunpoint):
    X, _, Q, _ = gunpoint
    target = X[:, 40:70].mean(axis=1)
    search = GridSearchCV(Regressor(), {"n_neighbors": [1, 2, 4]}, cv=3).fit(X, target)
    assert search.best_estimator_.n_neighbors in (1, 2, 4)
    assert search.predict(Q).shape == (len(Q),)


def test_clone_and_params():
    params = dict(distance_params={"window": 0.2}, n_neighbors=3, weights="distance")
    clf = Classifier(**params, search="graph", ef=40, n_jobs=1)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert twin.distance_params is not clf.distance_params  # clone copies the dict
    assert not hasattr(twin, "index_")
    clf.fit([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1])
    fresh = clone(clf)
    assert not hasattr(fresh, "classes_")
    with pytest.raises(NotFittedError):
        fresh.predict([[0.0, 1.0]])
    # Parameters are stored as given and checked only by fit (scikit-learn's convention).
    odd = Classifier(weights="bogus").set_params(n_neighbors=0)
    assert odd.get_params()["weights"] == "bogus"
    with pytest.raises(ValueError, match="n_neighbors must be at least 1"):
        odd.fit([[0.0]], [0])
    assert sorted(Classifier().get_params()) == sorted(
        ["distance", "distance_params", "n_neighbors", "weights", "search", "ef", "n_jobs"]
    )


def test_search_parameters_set_after_fit_take_effect(gunpoint):
    X, y, Q, _ = gunpoint
    clf = Classifier().fit(X, y)
    reference = Classifier(n_neighbors=3, weights="distance").fit(X, y)
    clf.set_params(n_neighbors=3, weights="distance", search="graph", ef=len(X), n_jobs=1)
    np.testing.assert_array_equal(clf.predict_proba(Q), reference.predict_proba(Q))
    assert clf.index_.pending == 0  # the graph search built the graph
    clf.set_params(distance_params={"window": 0.1})
    with pytest.raises(ValueError, match="distance or distance_params changed since fit"):
        clf.predict(Q)
    clf.set_params(distance_params=None, n_neighbors=0)
    with pytest.raises(ValueError, match="n_neighbors must be at least 1"):
        clf.kneighbors(Q)


# -- errors -----------------------------------------------------------------------------------
_RNG = np.random.default_rng(11)
_X = _walks(_RNG, (10, 20))
_Y = np.arange(10) % 2


def _with(index: tuple[int, ...], value: float, shape=(10, 20)) -> np.ndarray:
    data = _walks(np.random.default_rng(1), shape)
    data[index] = value
    return data


def _fit(X=_X, y=_Y, **params):
    return lambda: Classifier(**params).fit(X, y)


def _predict(Q, **params):
    return lambda: Classifier(**params).fit(_X, _Y).predict(Q)


C = "KNeighborsTimeSeriesClassifier"
# fmt: off
ERRORS = [
    ("nan in fit", _fit(X=_with((2, 5), np.nan)), ValueError, r"X contains NaN .*case 2, channel 0, time point 5"),
    ("inf in predict", _predict(_with((1, 3), np.inf, (3, 20))), ValueError, r"X contains infinity .*case 1"),
    ("float32 overflow", _fit(X=_with((0, 0), 1e39)), ValueError, r"X contains infinity .*too large for float32"),
    ("nan in a list", _fit(X=[np.ones(3), np.array([1.0, np.nan])], y=[0, 1]), ValueError, r"X contains NaN .*case 1, channel 0, time point 1"),
    ("1-D X", _fit(X=np.ones(10)), ValueError, r"X must be 2-D .* got a 1-D array of shape \(10,\).*Reshape your data"),
    ("4-D X", _fit(X=np.ones((10, 1, 2, 3))), ValueError, r"X must be .*got a 4-D array"),
    ("1-D query", _predict(np.ones(20)), ValueError, r"Reshape your data"),
    ("no series", _fit(X=np.ones((0, 20)), y=[]), ValueError, r"X has 0 sample\(s\)"),
    ("no time points", _fit(X=np.ones((10, 0))), ValueError, r"X has 0 feature\(s\) \(shape=\(10, 0\)\)"),
    ("no channels", _fit(X=np.ones((10, 0, 5))), ValueError, r"X has 0 channels"),
    ("empty list", _fit(X=[], y=[]), ValueError, r"X is an empty list"),
    ("empty series in a list", _fit(X=[np.ones(3), np.ones(0)], y=[0, 1]), ValueError, r"X\[1\] has 0 time points"),
    ("channels differ in a list", _fit(X=[np.ones((1, 4)), np.ones((2, 4))], y=[0, 1]), ValueError, r"X\[1\] has 2 channels but X\[0\] has 1"),
    ("3-D list item", _fit(X=[np.ones((1, 2, 3))], y=[0]), ValueError, r"X\[0\] must be 1-D .* or 2-D"),
    ("channels differ from fit", lambda: Classifier().fit(np.ones((4, 2, 6)), [0, 1, 0, 1]).predict(np.ones((2, 3, 6))), ValueError, rf"X has 3 channels, but {C} was fitted on series of 2 channels"),
    ("length differs from fit", _predict(np.ones((3, 19))), ValueError, rf"X has 19 features, but {C} is expecting 20 features as input"),
    ("unequal queries for a one-length fit", _predict([np.ones(20), np.ones(18)]), ValueError, r"X has series of 18 to 20 time points, but .* fitted on series of 20 time points"),
    ("sparse X", _fit(X=sparse.csr_matrix(_X)), TypeError, r"X is a sparse matrix, but sparse input is not supported"),
    ("complex X", _fit(X=_X + 1j), ValueError, r"Complex data not supported"),
    ("bool X", _fit(X=_X > 0), TypeError, r"X must hold real numbers .*got dtype bool"),
    ("string X", _fit(X=[["a", "b"], ["c", "d"]], y=[0, 1]), TypeError, r"X\[0\] must hold real numbers"),
    ("y None", _fit(y=None), ValueError, rf"{C} requires y to be passed, but the target y is None"),
    ("y length", _fit(y=_Y[:9]), ValueError, r"X has 10 series but y has 9 values"),
    ("y 2-D", _fit(y=np.ones((10, 2))), ValueError, r"y should be a 1d array"),
    ("y continuous", _fit(y=np.linspace(0, 1, 10)), ValueError, r"Unknown label type"),
    ("y nan", _fit(y=np.full(10, np.nan)), ValueError, r"Input y contains NaN"),
    ("regressor y nan", lambda: Regressor().fit(_X, np.full(10, np.nan)), ValueError, r"Input y contains NaN"),
    ("regressor y text", lambda: Regressor().fit(_X, ["a"] * 10), ValueError, r"y must hold real numbers"),
    ("distance", _fit(distance="cityblock"), ValueError, r"distance must be one of 'dtw', 'euclidean', got 'cityblock'"),
    ("distance_params type", _fit(distance_params=[("window", 0.1)]), TypeError, r"distance_params must be a dict or None, got list"),
    ("distance_params key", _fit(distance_params={"radius": 3}), ValueError, r"distance_params has unknown keys \['radius'\]; allowed keys: 'window', 'band', 'dependence'"),
    ("window and band", _fit(distance_params={"window": 0.1, "band": 3}), ValueError, r"distance_params has both 'window' .* and 'band'"),
    ("window range", _fit(distance_params={"window": 1.5}), ValueError, r"distance_params\['window'\] must be between 0 and 1 .*got 1.5"),
    ("window type", _fit(distance_params={"window": "10%"}), TypeError, r"distance_params\['window'\] must be a number in \[0, 1\] or None, got '10%'"),
    ("band negative", _fit(distance_params={"band": -1}), ValueError, r"distance_params\['band'\] must be at least 0, got -1"),
    ("band float", _fit(distance_params={"band": 2.5}), TypeError, r"distance_params\['band'\] must be an integer, got 2.5"),
    ("window for euclidean", _fit(distance="euclidean", distance_params={"window": 0.1}), ValueError, r"distance_params\['window'\] applies to distance='dtw' only"),
    ("dependence", _fit(distance_params={"dependence": "both"}), ValueError, r"distance_params\['dependence'\] must be one of 'dependent', 'independent', got 'both'"),
    ("weights", _fit(weights="inverse"), ValueError, r"weights must be one of 'uniform', 'distance', got 'inverse'"),
    ("n_neighbors zero", _fit(n_neighbors=0), ValueError, r"n_neighbors must be at least 1, got 0"),
    ("n_neighbors float", _fit(n_neighbors=1.5), TypeError, r"n_neighbors must be an integer, got 1.5"),
    ("n_neighbors bool", _fit(n_neighbors=True), TypeError, r"n_neighbors must be an integer, got True"),
    ("n_neighbors above n", _predict(_X[:2], n_neighbors=11), ValueError, r"Expected n_neighbors <= n_samples_fit, but n_neighbors = 11, n_samples_fit = 10"),
    ("kneighbors of the training set", lambda: Classifier().fit(_X, _Y).kneighbors(None, 10), ValueError, r"Expected n_neighbors < n_samples_fit when X is None .*n_neighbors = 10, n_samples_fit = 10"),
    ("kneighbors n_neighbors type", lambda: Classifier().fit(_X, _Y).kneighbors(_X, "3"), TypeError, r"n_neighbors must be an integer, got '3'"),
    ("search", _fit(search="hnsw"), ValueError, r"search must be one of 'exact', 'graph', got 'hnsw'"),
    ("ef", _fit(search="graph", ef=0), ValueError, r"ef must be at least 1, got 0"),
    ("n_jobs zero", _fit(n_jobs=0), ValueError, r"n_jobs must not be 0"),
    ("n_jobs type", _fit(n_jobs="all"), TypeError, r"n_jobs must be an integer, got 'all'"),
    ("euclidean on unequal lengths", _fit(X=[np.ones(5), np.ones(6)], y=[0, 1], distance="euclidean"), ValueError, r"distance='euclidean' needs series of one length, but X has series of 5 to 6 time points"),
    ("unfitted predict", lambda: Classifier().predict(_X), NotFittedError, r"not fitted yet"),
    ("unfitted kneighbors", lambda: Regressor().kneighbors(_X), NotFittedError, r"not fitted yet"),
]
# fmt: on


@pytest.mark.parametrize(
    "call, error, message", [row[1:] for row in ERRORS], ids=[row[0] for row in ERRORS]
)
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_failed_fit_leaves_the_estimator_unfitted():
    clf = Classifier()
    with pytest.raises(ValueError):
        clf.fit(_X, np.linspace(0, 1, 10))
    assert not hasattr(clf, "index_") and not hasattr(clf, "n_features_in_")
    with pytest.raises(NotFittedError):
        clf.predict(_X)


def test_band_beyond_the_length_is_full_dtw():
    X = _walks(np.random.default_rng(2), (12, 15))
    wide = Classifier(n_neighbors=3, distance_params={"band": 40}).fit(X, np.arange(12) % 2)
    full = Classifier(n_neighbors=3).fit(X, np.arange(12) % 2)
    assert wide.band_ is None
    np.testing.assert_array_equal(wide.kneighbors()[0], full.kneighbors()[0])
    narrow = Classifier(distance_params={"band": 15}).fit(X, np.arange(12) % 2)
    assert narrow.band_ == 15


# -- multichannel (needs the core's channels) -------------------------------------------------
@pytest.mark.parametrize("window", [None, 0.2])
@pytest.mark.parametrize("k, weights", [(1, "uniform"), (3, "distance")])
def test_multichannel_dependent_dtw_matches_aeon(aeon, window, k, weights):
    rng = np.random.default_rng(8)
    X, Q = _walks(rng, (40, 3, 30)), _walks(rng, (15, 3, 30))
    y = rng.integers(0, 3, size=40)
    params = dict(distance_params={"window": window}, n_neighbors=k, weights=weights)
    theirs = _aeon_run(aeon, "classifier", X, y, Q, distance="dtw", **params)
    ours = Classifier(**params).fit(X, y)
    assert ours.n_channels_ == 3 and ours.n_features_in_ == 90
    _check_against_aeon(ours, theirs, Q, "dtw")
    target = X[:, 0, -1]
    theirs = _aeon_run(aeon, "regressor", X, target, Q, distance="dtw", **params)
    np.testing.assert_allclose(
        Regressor(**params).fit(X, target).predict(Q), theirs["predict"], rtol=1e-5
    )


def test_multichannel_independent_dtw_sums_aeons_channels(aeon):
    from aeon.distances import pairwise_distance

    rng = np.random.default_rng(9)
    X, Q = _walks(rng, (30, 3, 25)), _walks(rng, (10, 3, 25))
    y = rng.integers(0, 2, size=30)
    window = 0.2
    # DTW_I: every channel warps on its own; aeon's per-channel "dtw" sums add up.
    summed = sum(pairwise_distance(Q[:, c], X[:, c], method="dtw", window=window) for c in range(3))
    ids = np.argsort(summed, axis=1, kind="stable")[:, :3]
    params = {"window": window, "dependence": "independent"}
    clf = Classifier(n_neighbors=3, distance_params=params).fit(X, y)
    distances, got = clf.kneighbors(Q)
    np.testing.assert_array_equal(got, ids)
    np.testing.assert_allclose(distances**2, np.take_along_axis(summed, ids, axis=1), rtol=2e-5)
    dependent = Classifier(n_neighbors=3, distance_params={"window": window}).fit(X, y)
    assert (distances[:, 0] <= dependent.kneighbors(Q)[0][:, 0] + 1e-4).all()  # DTW_I <= DTW_D


@pytest.mark.parametrize("window, k, weights", [(None, 1, "uniform"), (0.1, 3, "distance")])
def test_basic_motions_matches_aeon(aeon, window, k, weights):
    from aeon.datasets import load_basic_motions

    X, y = load_basic_motions(split="train")
    Q, y_test = load_basic_motions(split="test")
    params = dict(distance_params={"window": window}, n_neighbors=k, weights=weights)
    theirs = _aeon_run(aeon, "classifier", X, y, Q, distance="dtw", **params)
    ours = Classifier(**params).fit(X, y)
    assert ours.n_channels_ == 6
    _check_against_aeon(ours, theirs, Q, "dtw")
    assert ours.score(Q, y_test) == np.mean(theirs["predict"] == y_test)


def test_multichannel_graph_search_with_a_wide_beam_equals_exact():
    rng = np.random.default_rng(10)
    X, Q = _walks(rng, (50, 2, 20)), _walks(rng, (8, 2, 20))
    y = np.arange(50) % 4
    exact = Classifier(n_neighbors=3, distance_params={"window": 0.25}).fit(X, y)
    graph = clone(exact).set_params(search="graph", ef=50, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(graph.kneighbors(Q)[1], exact.kneighbors(Q)[1])


# -- unequal lengths (need the core's variable-length index) ----------------------------------
def _unequal(rng: np.random.Generator, n: int, channels: int) -> list[np.ndarray]:
    return [_walks(rng, (channels, int(rng.integers(20, 31)))) for _ in range(n)]


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("k, weights", [(1, "uniform"), (3, "distance")])
def test_unequal_length_full_dtw_matches_aeon(aeon, channels, k, weights):
    # With full DTW no band is involved, so aeon's per-pair window rule cannot differ.
    rng = np.random.default_rng(12 + channels)
    X, Q = _unequal(rng, 30, channels), _unequal(rng, 10, channels)
    y = rng.integers(0, 3, size=30)
    params = dict(n_neighbors=k, weights=weights)
    theirs = _aeon_run(aeon, "classifier", X, y, Q, distance="dtw", **params)
    ours = Classifier(**params).fit(X, y)
    assert ours.n_timepoints_ is None and not hasattr(ours, "n_features_in_")
    _check_against_aeon(ours, theirs, Q, "dtw")


def test_unequal_length_window_bands_each_pair_by_its_shorter_series():
    from aeon.distances import dtw_cost_matrix

    rng = np.random.default_rng(14)
    X = _unequal(rng, 20, 1)
    clf = Classifier(distance_params={"window": 0.2}).fit(X, np.arange(20) % 2)
    assert clf.band_ is None and clf.index_.window == 0.2
    # Distances are aeon's, pair by pair: the band int(0.2 * min(n, m)) of its bounding matrix.
    Q = _unequal(rng, 3, 1)
    dist, ind = clf.kneighbors(Q, 20)
    for q, d, i in zip(Q, dist, ind, strict=True):
        want = [dtw_cost_matrix(q, X[j], window=0.2)[-1, -1] for j in i]
        np.testing.assert_allclose(d**2, want, rtol=1e-4)
    # Queries of one length, as a 3-D array, search the variable-length index too.
    Q = _walks(rng, (4, 1, 26))
    assert clf.predict(Q).shape == (4,)
    assert clf.kneighbors(None, 2)[1].shape == (20, 2)


def test_unequal_length_regressor_and_graph_search():
    rng = np.random.default_rng(15)
    X, Q = _unequal(rng, 40, 2), _unequal(rng, 6, 2)
    target = np.array([s[0, -1] for s in X])
    exact = Regressor(n_neighbors=2).fit(X, target)
    graph = Regressor(n_neighbors=2, search="graph", ef=40, n_jobs=1).fit(X, target)
    np.testing.assert_allclose(graph.predict(Q), exact.predict(Q))
    with pytest.raises(ValueError, match="X has 3 channels, but KNeighborsTimeSeriesRegressor"):
        exact.predict(_unequal(rng, 2, 3))
