"""Exact 1-NN search reproduces the UCR archive's published errors on every bundled data set.

The archive's convention for ties is the first training series with the strictly smallest distance;
exact search breaks ties by id, and ids are the training row numbers, so the two agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from pyembed import Index
from pyembed.datasets import band_from_pct, list_bundled, load_ucr, published_table, znormalize
from pyembed.metrics import knn_error

# Published errors are printed with 4 decimals: a reproduced error must round to the same value.
TOLERANCE = 0.5e-4


def _one_nn_error(name: str, metric: str, band: int | None) -> tuple[float, int]:
    train, test = load_ucr(name, "TRAIN"), load_ucr(name, "TEST")
    X_train, X_test = znormalize(train.X), znormalize(test.X)
    if metric == "dtw":
        index = Index(train.length, "dtw", band=band)
    else:
        index = Index(train.length, "euclidean")
    ids = index.add(X_train)
    np.testing.assert_array_equal(ids, np.arange(train.n))
    result = index.search(X_test, k=1, exact=True)
    assert result.ids.shape == (test.n, 1)
    assert (result.ids >= 0).all()
    return knn_error(result.ids, train.y, test.y), test.n


def _check(name: str, error: float, published: float, n_test: int, what: str) -> None:
    assert abs(error - published) <= TOLERANCE, (
        f"{name} {what}: 1-NN error {error:.4f} ({round(error * n_test)} of {n_test} wrong) "
        f"but the archive publishes {published:.4f}"
    )


@pytest.mark.parametrize("name", list_bundled())
def test_euclidean_reproduces_published(name: str) -> None:
    row = published_table()[name]
    error, n_test = _one_nn_error(name, "euclidean", None)
    _check(name, error, row.ed_error, n_test, "ED")


@pytest.mark.parametrize("name", list_bundled())
def test_dtw_learned_band_reproduces_published(name: str) -> None:
    row = published_table()[name]
    length = load_ucr(name, "TRAIN").length
    band = band_from_pct(row.dtw_learned_window_pct, length)
    error, n_test = _one_nn_error(name, "dtw", band)
    _check(name, error, row.dtw_learned_error, n_test, f"DTW band={band}")


@pytest.mark.parametrize("name", list_bundled())
def test_dtw_full_reproduces_published(name: str) -> None:
    row = published_table()[name]
    error, n_test = _one_nn_error(name, "dtw", None)
    _check(name, error, row.dtw_full_error, n_test, "full DTW")
