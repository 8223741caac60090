"""Input checking for the estimators: aeon-style collections of time series as float32.

A collection is what aeon accepts: a 3-D array ``(n_cases, n_channels, n_timepoints)``, a 2-D array
``(n_cases, n_timepoints)`` for one channel, or a list of 2-D arrays ``(n_channels, n_timepoints_i)``
(a 1-D item is one channel) whose lengths may differ. A list whose items all have one shape is
stacked into a 3-D array, so it behaves exactly like that array.

Values are converted once to float32 (the index's type) and checked after the conversion, so a
float64 value that overflows to infinity in float32 is rejected too. Nothing is padded, truncated,
resampled or normalized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

_F32 = np.dtype(np.float32)

_SHAPES = (
    "2-D (n_cases, n_timepoints), 3-D (n_cases, n_channels, n_timepoints), or a list of 2-D "
    "(n_channels, n_timepoints_i) arrays"
)


@dataclass(frozen=True, eq=False)
class Collection:
    """A checked collection of series, float32, every value finite.

    Attributes
    ----------
    array : ndarray of float32, shape (n_cases, n_channels, n_timepoints), or None
        The series when they all have one length (C-contiguous).
    series : list of ndarray of float32, each of shape (n_channels, n_timepoints_i), or None
        The series when their lengths differ (each C-contiguous).
    n_channels : int
        Channels per series (the same for every series).
    """

    array: NDArray[np.float32] | None
    series: list[NDArray[np.float32]] | None
    n_channels: int

    @property
    def n_cases(self) -> int:
        """Number of series."""
        if self.array is not None:
            return int(self.array.shape[0])
        assert self.series is not None  # one of the two is always set (built below only)
        return len(self.series)

    @property
    def n_timepoints(self) -> int | None:
        """Samples per series when every series has the same length, else None."""
        return None if self.array is None else int(self.array.shape[2])

    @property
    def lengths(self) -> NDArray[np.int64]:
        """Samples of each series, shape (n_cases,), int64."""
        if self.array is not None:
            return np.full(self.array.shape[0], self.array.shape[2], dtype=np.int64)
        assert self.series is not None
        return np.array([s.shape[1] for s in self.series], dtype=np.int64)

    def as_list(self) -> list[NDArray[np.float32]]:
        """Every series as its own (n_channels, n_timepoints_i) float32 array (no copy)."""
        if self.array is not None:
            return list(self.array)
        assert self.series is not None
        return self.series

    def take(self, rows: NDArray[np.intp]) -> Collection:
        """The series at positions ``rows``, in that order."""
        if self.array is not None:
            return Collection(np.ascontiguousarray(self.array[rows]), None, self.n_channels)
        assert self.series is not None
        return Collection(None, [self.series[i] for i in rows], self.n_channels)


def _is_sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy sparse matrix or array (scipy ships with scikit-learn)."""
    from scipy import sparse

    return bool(sparse.issparse(X))


def _real_array(x: Any, name: str) -> NDArray[Any]:
    """``x`` as a numpy array of real numbers (object arrays of numbers become float64)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{name} must hold real numbers: {error}") from None
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers (float or int), got dtype {arr.dtype}")
    return arr


def _as_float32(arr: NDArray[Any]) -> NDArray[np.float32]:
    """C-contiguous float32 copy (or the array itself when it already is one)."""
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(arr, dtype=_F32)


def _check_finite(arr: NDArray[np.float32], name: str, case_offset: int | None = None) -> None:
    """ValueError naming the first NaN or infinite value of a (n, c, L) or (c, L) array."""
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    value = arr[where]
    what = "NaN" if np.isnan(value) else "infinity"
    if case_offset is None:
        case, channel, point = where
    else:
        case, (channel, point) = case_offset, where
    raise ValueError(
        f"{name} contains {what} (checked after conversion to float32, so a value too large "
        f"for float32 counts as infinity): case {case}, channel {channel}, time point {point}; "
        "NaN and inf values are not supported"
    )


def _from_array(arr: NDArray[Any], name: str) -> Collection:
    """A collection from a 2-D or 3-D array of real numbers."""
    if arr.ndim == 2:
        arr = arr[:, np.newaxis, :]
    elif arr.ndim != 3:
        hint = ""
        if arr.ndim == 1:
            hint = (
                ". Reshape your data either using X.reshape(-1, 1) if the series have a single "
                "time point or X.reshape(1, -1) if it contains a single series"
            )
        raise ValueError(
            f"{name} must be {_SHAPES}; got a {arr.ndim}-D array of shape {arr.shape}{hint}"
        )
    n, c, length = arr.shape
    if n == 0:
        raise ValueError(
            f"{name} has 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required"
        )
    if c == 0:
        raise ValueError(
            f"{name} has 0 channels (shape={arr.shape}) while a minimum of 1 is required"
        )
    if length == 0:
        shape = (n, 0) if c == 1 else arr.shape
        raise ValueError(
            f"{name} has 0 feature(s) (shape={shape}) while a minimum of 1 is required: "
            "every series needs at least one time point"
        )
    values = _as_float32(arr)
    _check_finite(values, name)
    return Collection(values, None, c)


def _from_list(items: list[Any] | tuple[Any, ...], name: str) -> Collection:
    """A collection from a list of 1-D (one channel) or 2-D (n_channels, n_timepoints_i) items."""
    if len(items) == 0:
        raise ValueError(f"{name} is an empty list while a minimum of 1 series is required")
    fast = _from_arrays(items)
    if fast is not None:
        return fast
    series: list[NDArray[np.float32]] = []
    with np.errstate(over="ignore"):  # float32 overflow is reported as infinity below
        for i, item in enumerate(items):
            arr = _series_item(item, i, name, series)
            if arr is None:
                # A flat list of numbers: report it as the 1-D array it is.
                return _from_array(_real_array(items, name), name)
            series.append(np.ascontiguousarray(arr, dtype=_F32))
    for i, values in enumerate(series):
        if not np.isfinite(values).all():
            _check_finite(values, name, case_offset=i)
    if all(s.shape == series[0].shape for s in series):
        return Collection(np.stack(series), None, series[0].shape[0])
    return Collection(None, series, series[0].shape[0])


def _from_arrays(items: list[Any] | tuple[Any, ...]) -> Collection | None:
    """:func:`_from_list` for its common input in a few calls over the whole collection (one
    conversion, one finiteness check): every item a real-valued ndarray, 1-D or 2-D with the
    first item's channels and at least one time point, every value finite after conversion.
    None for anything else, which the item-by-item path then checks and reports."""
    first = items[0]
    if type(first) is not np.ndarray or first.ndim not in (1, 2):
        return None
    c = 1 if first.ndim == 1 else first.shape[0]
    if c == 0:
        return None
    lengths: list[int] = []
    for item in items:
        if type(item) is not np.ndarray or item.dtype.kind not in "fiu":
            return None
        shape = item.shape
        if len(shape) == 2 and shape[0] == c:
            lengths.append(shape[1])
        elif len(shape) == 1 and c == 1:
            lengths.append(shape[0])
        else:
            return None
    if min(lengths) == 0:
        return None
    with np.errstate(over="ignore"):  # float32 overflow is infinity, reported by the slow path
        flat = np.concatenate([item.reshape(c, -1) for item in items], axis=1, dtype=_F32)
    if not np.isfinite(flat).all():
        return None
    n, length = len(items), lengths[0]
    if all(size == length for size in lengths):
        stacked = flat.reshape(c, n, length).transpose(1, 0, 2)
        return Collection(np.ascontiguousarray(stacked), None, c)
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    if c == 1:  # one row: every column range is a C-contiguous view
        series = [flat[:, a:b] for a, b in zip(starts, ends, strict=True)]
    else:
        series = [np.ascontiguousarray(flat[:, a:b]) for a, b in zip(starts, ends, strict=True)]
    return Collection(None, series, c)


def _series_item(
    item: Any, i: int, name: str, series: list[NDArray[np.float32]]
) -> NDArray[Any] | None:
    """Item ``i`` of a list collection checked as one (n_channels, n_timepoints) series (1-D
    items are one channel; ``series`` holds the items before it); None when it is a number
    (the list is then one 1-D series)."""
    arr = _real_array(item, f"{name}[{i}]")
    if arr.ndim == 0:
        return None
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    elif arr.ndim != 2:
        raise ValueError(
            f"{name}[{i}] must be 1-D (one channel) or 2-D (n_channels, n_timepoints); "
            f"got a {arr.ndim}-D array of shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name}[{i}] has 0 channels (shape={arr.shape})")
    if arr.shape[1] == 0:
        raise ValueError(f"{name}[{i}] has 0 time points (shape={arr.shape})")
    if series and arr.shape[0] != series[0].shape[0]:
        raise ValueError(
            f"{name}[{i}] has {arr.shape[0]} channels but {name}[0] has "
            f"{series[0].shape[0]}; every series needs the same channels"
        )
    return arr


def as_collection(X: Any, name: str = "X") -> Collection:
    """Check and convert an aeon-style collection of series to float32.

    Parameters
    ----------
    X : array-like or list of array-like
        A 3-D array ``(n_cases, n_channels, n_timepoints)``, a 2-D array ``(n_cases,
        n_timepoints)`` (one channel), or a list of 2-D ``(n_channels, n_timepoints_i)`` (or
        1-D, one channel) arrays that may differ in length but not in channels. Real numbers
        of any dtype except bool.
    name : str
        The argument's name, used in error messages.

    Returns
    -------
    Collection
        The series as float32; ``array`` is set when they all have one length, else ``series``.

    Raises
    ------
    TypeError
        Sparse input, bool, string or other non-numeric dtypes.
    ValueError
        Complex values, a wrong number of dimensions, no series, a series of no time points or
        channels, channel counts that differ between series, NaN or infinity.
    """
    if type(X) is not np.ndarray and _is_sparse(X):
        raise TypeError(
            f"{name} is a sparse matrix, but sparse input is not supported: pass the series as a "
            "dense numpy array (for example X.toarray())"
        )
    if isinstance(X, (list, tuple)):
        return _from_list(X, name)
    return _from_array(_real_array(X, name), name)
