"""The Python face of the index: :class:`Index` over numpy arrays and :class:`SearchResult`.

Distances are in true units: Euclidean is L2 (not squared); cosine is ``1 - cos(q, x)`` (0 to 2;
vectors are normalised to unit length when stored, so the index holds and returns unit vectors,
and a zero vector is a ValueError); ``"ip"`` is the inner-product distance ``1 - <q, x>`` as in
hnswlib (smaller means a larger inner product; it can be negative, and a vector need not be its own
nearest neighbour); DTW is the square root of the minimal sum of squared differences along a
warping path inside a Sakoe-Chiba band of radius ``band`` samples (``band=0`` equals Euclidean,
``band=None`` is full DTW).
"""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pyembed import _nswg

_DEFAULTS: dict[str, Any] = dict(_nswg.DEFAULTS)  # owned by the Rust core

#: Cap on each node's links (M of the papers) when ``max_degree`` is not given.
DEFAULT_MAX_DEGREE: int = _DEFAULTS["max_degree"]
#: Beam size of the insertion search when ``ef_construction`` is not given.
DEFAULT_EF_CONSTRUCTION: int = _DEFAULTS["ef_construction"]
#: Seed of every random choice when ``seed`` is not given.
DEFAULT_SEED: int = _DEFAULTS["seed"]
#: Beam size of a search when ``ef`` is not given (the search uses ``max(ef, k)``).
DEFAULT_EF: int = _DEFAULTS["ef"]
#: Greedy searches per query when ``restarts`` is not given.
DEFAULT_RESTARTS: int = _DEFAULTS["restarts"]
#: Graph kind when ``graph`` is not given: ``"hnsw"`` (layers) or ``"nsw"`` (flat).
DEFAULT_GRAPH: Literal["hnsw", "nsw"] = _DEFAULTS["graph"]

#: The filter type :meth:`Index.filter` returns (a set of stored rows a search may return).
Filter = _nswg.NativeFilter

_F32 = np.dtype(np.float32)
#: Names of the per-query counters, in the row order of ``SearchResult.counters`` (the core's).
COUNTERS: tuple[str, ...] = tuple(_nswg.COUNTERS)
_ROW = {name: row for row, name in enumerate(COUNTERS)}


class SearchResult:
    """Neighbors of a batch of queries, best first, with the work each query took.

    Attributes
    ----------
    ids : ndarray of int64, shape (n_queries, k)
        User ids of the neighbors; -1 pads a row when fewer than ``k`` were reached.
    distances : ndarray of float32, shape (n_queries, k)
        Distances in true units (L2, or DTW as defined in the module docstring), ascending per
        row, ties broken by id; +inf where ``ids`` is -1.
    counters : ndarray of int64, shape (len(COUNTERS), n_queries)
        Every counter as a row, in the order of :data:`COUNTERS`; each also has its own
        attribute below (a view of its row).
    distance_calls : ndarray of int64, shape (n_queries,)
        Full distance computations per query (DTW: including the ones abandoned early; a
        quantized search counts its 8-bit code comparisons and its float re-ranking).
    lb_pruned : ndarray of int64, shape (n_queries,)
        Candidates skipped by any lower bound (DTW only; the sum of the three counters below).
    lb_kim_pruned, lb_keogh_pruned, lb_keogh_rev_pruned : ndarray of int64, shape (n_queries,)
        Candidates skipped by LB_Kim, by LB_Keogh against the query's envelope, and by LB_Keogh
        against the stored series' envelope.
    abandoned : ndarray of int64, shape (n_queries,)
        DTW computations stopped early because a whole band row exceeded the current k-th best.
    visited : ndarray of int64, shape (n_queries,)
        Nodes whose distance was considered at all (computed, or pruned by a bound).
    lb_keogh_skipped : ndarray of int64, shape (n_queries,)
        DTW candidates of another length than the query (variable-length indexes) for which only
        LB_Kim was tried: their band is the whole matrix or under 4 time steps (other candidates
        of another length get LB_Keogh along their pair's sloped band).
    euclidean_calls : ndarray of int64, shape (n_queries,)
        Euclidean distances a DTW graph search computed to find where its DTW walk starts
        (``entry="euclidean"``, the default of DTW indexes of one length); not in
        ``distance_calls``: each is one pass over two series, about a hundredth of a banded DTW.

    Immutable: the attributes cannot be rebound. Pickles and copies like any object.
    """

    __slots__ = ("ids", "distances", "counters")
    ids: NDArray[np.int64]
    distances: NDArray[np.float32]
    counters: NDArray[np.int64]

    def __init__(
        self, ids: NDArray[np.int64], distances: NDArray[np.float32], counters: NDArray[np.int64]
    ) -> None:
        _set_ids(self, ids)
        _set_distances(self, distances)
        _set_counters(self, counters)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SearchResult is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"SearchResult is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (SearchResult, (self.ids, self.distances, self.counters))

    def __repr__(self) -> str:
        parts = [f"ids={self.ids!r}", f"distances={self.distances!r}"]
        parts += [f"{name}={self.counters[row]!r}" for name, row in _ROW.items()]
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def distance_calls(self) -> NDArray[np.int64]:
        """Full distance computations per query, (n_queries,) int64."""
        return self.counters[_ROW["distance_calls"]]

    @property
    def lb_pruned(self) -> NDArray[np.int64]:
        """Candidates skipped by any lower bound per query, (n_queries,) int64."""
        return self.counters[_ROW["lb_pruned"]]

    @property
    def lb_kim_pruned(self) -> NDArray[np.int64]:
        """Candidates skipped by LB_Kim per query, (n_queries,) int64."""
        return self.counters[_ROW["lb_kim_pruned"]]

    @property
    def lb_keogh_pruned(self) -> NDArray[np.int64]:
        """Candidates skipped by LB_Keogh against the query's envelope, (n_queries,) int64."""
        return self.counters[_ROW["lb_keogh_pruned"]]

    @property
    def lb_keogh_rev_pruned(self) -> NDArray[np.int64]:
        """Candidates skipped by LB_Keogh against the stored series' envelope, (n_queries,)."""
        return self.counters[_ROW["lb_keogh_rev_pruned"]]

    @property
    def abandoned(self) -> NDArray[np.int64]:
        """DTW computations stopped early per query, (n_queries,) int64."""
        return self.counters[_ROW["abandoned"]]

    @property
    def visited(self) -> NDArray[np.int64]:
        """Nodes considered per query (computed or pruned), (n_queries,) int64."""
        return self.counters[_ROW["visited"]]

    @property
    def lb_keogh_skipped(self) -> NDArray[np.int64]:
        """Candidates of another length, which LB_Keogh cannot bound, (n_queries,) int64."""
        return self.counters[_ROW["lb_keogh_skipped"]]

    @property
    def euclidean_calls(self) -> NDArray[np.int64]:
        """Euclidean distances that found a DTW walk's start per query, (n_queries,) int64."""
        return self.counters[_ROW["euclidean_calls"]]


# Slot setters that bypass the immutability guard, for construction: an object.__new__ plus
# three slot stores costs about a tenth of a microsecond, a frozen dataclass about 1.3 us.
_set_ids = SearchResult.__dict__["ids"].__set__
_set_distances = SearchResult.__dict__["distances"].__set__
_set_counters = SearchResult.__dict__["counters"].__set__
_new_result = object.__new__


def _result(
    found: tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64], Any],
) -> SearchResult:
    """A :class:`SearchResult` from the binding's ``(ids, distances, counters, build)``."""
    r = _new_result(SearchResult)
    _set_ids(r, found[0])
    _set_distances(r, found[1])
    _set_counters(r, found[2])
    return r


class RangeResult:
    """Every stored vector within a radius of each query (:meth:`Index.range_search`).

    Attributes
    ----------
    offsets : ndarray of int64, shape (n_queries + 1,)
        Query ``i`` owns ``ids[offsets[i]:offsets[i + 1]]`` and the same slice of
        ``distances`` (faiss's ``lims``).
    ids : ndarray of int64, shape (offsets[-1],)
        User ids, per query ascending by distance, ties by id.
    distances : ndarray of float32, shape (offsets[-1],)
        Their distances in true units.
    counters : ndarray of int64, shape (len(COUNTERS), n_queries)
        The work of each query, rows in the order of :data:`COUNTERS` (see
        :class:`SearchResult`; ``distance_calls`` is a property here too).

    ``len(result)`` is the number of queries and ``result[i]`` is ``(ids_i, distances_i)``.
    """

    __slots__ = ("offsets", "ids", "distances", "counters")

    def __init__(
        self,
        offsets: NDArray[np.int64],
        ids: NDArray[np.int64],
        distances: NDArray[np.float32],
        counters: NDArray[np.int64],
    ) -> None:
        self.offsets = offsets
        self.ids = ids
        self.distances = distances
        self.counters = counters

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        n = len(self)
        j = operator.index(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexError(f"query {i} out of range for {n} queries")
        a, b = int(self.offsets[j]), int(self.offsets[j + 1])
        return self.ids[a:b], self.distances[a:b]

    def __repr__(self) -> str:
        return f"RangeResult(queries={len(self)}, hits={len(self.ids)})"

    @property
    def distance_calls(self) -> NDArray[np.int64]:
        """Full distance computations per query."""
        return self.counters[_ROW["distance_calls"]]

    @property
    def visited(self) -> NDArray[np.int64]:
        """Nodes whose distance was considered per query."""
        return self.counters[_ROW["visited"]]


_U64_MAX = 2**64 - 1
_I64_MAX = 2**63 - 1


def _as_int(value: Any, name: str, maximum: int = _U64_MAX) -> int:
    """Converts ``value`` to an int in ``0..=maximum`` (the range the core's integer type holds;
    TypeError for non-integers); the core checks the meaningful range."""
    if type(value) is not int:  # exact int is the common case; anything else is checked fully
        if isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, got bool")
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def _as_stored_id(id: object) -> int | None:
    """``id`` as an int if it could be a stored id (an integer in ``0..=2^63-1``), else None."""
    try:
        value = operator.index(id)  # type: ignore[arg-type]
    except TypeError:
        return None
    return value if 0 <= value <= _I64_MAX else None


def _as_threads(n_threads: int | None) -> int:
    """``None`` (all cores) as the core's 0; an explicit count must be at least 1."""
    if n_threads is None:
        return 0
    n = _as_int(n_threads, "n_threads")
    if n == 0:
        raise ValueError("n_threads must be at least 1 (None uses all cores), got 0")
    return n


def _as_rows(x: ArrayLike, name: str) -> NDArray[np.float32]:
    """Converts ``x`` to a C-contiguous float32 array of rank 2 (a 1-D input is one row).

    The width is checked by the binding and finiteness by the core, after this conversion (so
    float64 values that overflow to inf in float32 are caught).
    """
    if type(x) is np.ndarray and x.dtype == _F32 and x.flags.c_contiguous:
        # Fast path: already what the core reads; no copy here (the binding copies).
        if x.ndim == 2:
            return x
        if x.ndim == 1:
            return x.reshape(1, -1)
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers (float or int), got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    elif arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one row) or 2-D, got a {arr.ndim}-D array")
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(arr, dtype=np.float32)


def _as_series(x: ArrayLike, name: str, channels: int, length: int) -> NDArray[np.float32]:
    """Converts multichannel series to the core's rows: C-contiguous float32 of shape
    ``(n, length * channels)``, each row time-major (time step ``t`` holds the ``channels``
    samples of that step), from an input of shape ``(n, channels, length)`` (aeon's layout) or
    ``(channels, length)`` (one series). One channel also takes ``(n, 1, length)``; otherwise
    :func:`_as_rows` applies. Shape errors name ``name`` and what the index holds.
    """
    if channels == 1:
        if isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[1] == 1:
            x = x.reshape(x.shape[0], x.shape[2])
        return _as_rows(x, name)
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers (float or int), got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise ValueError(
            f"{name} must be 3-D (n, channels={channels}, length={length}) or 2-D (one series), "
            f"got a {arr.ndim}-D array"
        )
    if arr.shape[1] != channels:
        raise ValueError(
            f"{name} has {arr.shape[1]} channels (axis 1 of shape {arr.shape}), but the index "
            f"has channels={channels}"
        )
    if arr.shape[2] != length:
        raise ValueError(
            f"{name} has series of length {arr.shape[2]} (axis 2 of shape {arr.shape}), but the "
            f"index has dim={length}"
        )
    with np.errstate(over="ignore"):
        rows = np.ascontiguousarray(arr.transpose(0, 2, 1), dtype=np.float32)
    _check_finite_series(rows, name, channels)
    return rows.reshape(arr.shape[0], length * channels)


def _check_finite_series(steps: NDArray[np.float32], name: str, channels: int) -> None:
    """A ValueError naming the first NaN or infinity of time-major float32 series (shape
    (..., length, channels)) by series, channel and time step, as the caller laid them out
    (the core would count floats of its own time-major rows)."""
    if np.isfinite(steps).all():
        return
    where = np.argwhere(~np.isfinite(steps))[0]
    step, channel = int(where[-2]), int(where[-1])
    series = f"series {int(where[0])}, " if steps.ndim == 3 else ""
    raise ValueError(
        f"{name} contains a non-finite value (NaN or inf, after conversion to float32) at "
        f"{series}channel {channel}, time step {step}"
    )


def _as_ragged(
    x: ArrayLike | list[ArrayLike], name: str, channels: int
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Converts series of their own lengths to the core's form: one float32 row holding every
    series back to back, each time-major (time step ``t`` holds its ``channels`` samples), and
    the time steps of each. Takes a list (or tuple) of series shaped ``(channels, length_i)``
    (aeon's layout for unequal lengths; one channel also takes ``(length_i,)``), or an
    equal-length array ``(n, channels, length)`` (``(n, length)`` for one channel).
    """
    if isinstance(x, (list, tuple)):
        items = list(x)
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"{name} must hold real numbers (float or int), got dtype {arr.dtype}")
        if channels == 1 and arr.ndim == 2:
            arr = arr[:, None, :]
        if arr.ndim == 1 and channels == 1:
            arr = arr[None, None, :]
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ValueError(
                f"{name} must be a list of (channels={channels}, length) series or a 3-D array "
                f"(n, channels, length), got a {arr.ndim}-D array"
            )
        items = list(arr)
    arrays: list[NDArray[Any]] = []
    lengths = np.empty(len(items), np.int64)
    for i, item in enumerate(items):
        a = item if isinstance(item, np.ndarray) else np.asarray(item)
        if a.dtype.kind not in "fiu":
            raise TypeError(
                f"{name}[{i}] must hold real numbers (float or int), got dtype {a.dtype}"
            )
        if a.ndim == 1 and channels == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[0] != channels:
            raise ValueError(
                f"{name}[{i}] must have shape (channels={channels}, length), got {a.shape}"
            )
        if a.shape[1] == 0:
            raise ValueError(f"{name}[{i}] is empty: a series needs at least one time step")
        if a.shape[1] * channels > _nswg.FULL_BAND:
            raise ValueError(
                f"{name}[{i}] has {a.shape[1]} time steps; at most "
                f"{_nswg.FULL_BAND // channels} fit one series of {channels} channel(s)"
            )
        arrays.append(a.T)  # a time-major (length_i, channels) view
        lengths[i] = a.shape[1]
    if not arrays:
        return np.empty((1, 0), np.float32), lengths
    # One copy: the views back to back, time-major, in float32.
    with np.errstate(over="ignore"):
        flat = np.concatenate(arrays, axis=0, dtype=np.float32, casting="unsafe")
    if not np.isfinite(flat).all():
        # Name the series, channel and time step as the caller laid them out.
        ends = np.cumsum(lengths)
        step = int(np.argwhere(~np.isfinite(flat))[0][0])
        i = int(np.searchsorted(ends, step, side="right"))
        start = int(ends[i] - lengths[i])
        _check_finite_series(flat[start : ends[i]][None], f"{name}[{i}]", channels)
    return flat.reshape(1, -1), lengths


def _as_window(window: object, band: object, metric: object) -> float:
    """Checks a DTW ``window``: a real fraction in [0, 1], not given with ``band``, DTW only."""
    if band is not None:
        raise ValueError("give band (time steps) or window (a fraction), not both")
    if metric != "dtw":
        raise ValueError("window is only meaningful with metric='dtw'")
    if isinstance(window, bool) or not isinstance(window, (int, float, np.integer, np.floating)):
        raise TypeError(f"window must be a real number, got {type(window).__name__}")
    w = float(window)
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"window must be a fraction between 0 and 1, got {w}")
    return w


def _as_ids(ids: ArrayLike) -> NDArray[np.int64]:
    """Converts ``ids`` to a C-contiguous 1-D int64 array; the core checks count and values."""
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"ids must be 1-D, got a {arr.ndim}-D array")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError("ids must fit in int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _as_limits(max_distance: ArrayLike, n: int) -> NDArray[np.float32]:
    """``max_distance`` (a scalar or one value per query) as ``n`` float32 limits; the core
    checks the values (>= 0, no NaN) and the length.

    A limit between two float32 values is rounded down: a float32 distance ``d`` is at most the
    given limit exactly when it is at most the largest float32 not above it.
    """
    arr = np.asarray(max_distance)
    if arr.dtype.kind not in "fiu":
        raise TypeError(
            f"max_distance must be a real number or an array of them, got dtype {arr.dtype}"
        )
    if arr.ndim == 0:
        arr = np.full(n, arr)
    elif arr.ndim != 1:
        raise ValueError(f"max_distance must be a number or 1-D, got a {arr.ndim}-D array")
    wide = arr.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        limits = wide.astype(np.float32)
        high = limits.astype(np.float64) > wide
    limits[high] = np.nextafter(limits[high], np.float32(-np.inf))
    return np.ascontiguousarray(limits)


def _as_radius(radius: object) -> float:
    """``radius`` as a float (TypeError otherwise); the core checks its sign."""
    if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, (int, float, np.number)):
        raise TypeError(f"radius must be a real number, got {type(radius).__name__}")
    r = float(radius)  # type: ignore[arg-type]
    if np.isnan(r):
        raise ValueError("radius must be a number, got nan")
    return r


class Index:
    """Navigable small world graph index over float32 vectors and time series.

    Parameters
    ----------
    dim : int or None
        Width of every vector (for DTW: the series length in samples). ``None``: an index of
        series of their own lengths (DTW only), stored back to back without padding; ``add``
        and ``search`` then take a list of ``(channels, length_i)`` arrays (aeon's layout for
        unequal lengths). Between two series of different lengths the band follows the
        diagonal from the first cell to the last, as aeon's Sakoe-Chiba window does, with
        ``band`` as its thickness in time steps of the shorter series (see ``window``); equal
        lengths use ``|i - j| <= band``. LB_Keogh then follows each pair's sloped band (for
        bands of at least 4 steps; the counter ``lb_keogh_skipped`` shows the candidates of
        another length it skipped); LB_Kim and early abandoning work for all. Saved as format version 4.
    metric : {"euclidean", "cosine", "ip", "dtw"}
        Euclidean (L2) distance; cosine distance ``1 - cos`` (vectors are stored normalised to
        unit length, and a zero vector is a ValueError); inner-product distance ``1 - <q, x>``
        (hnswlib's ``"ip"``; it can be negative); or dynamic time warping with a Sakoe-Chiba
        band. Cosine and ``"ip"`` indexes are saved as format version 5.
    band : int or None
        DTW only: Sakoe-Chiba radius in samples, ``0 <= band <= dim``; cell (i, j) of the warping
        path is allowed iff ``|i - j| <= band``. None means full DTW (no window).
    max_degree : int
        Cap on each node's number of links (at least 2). New nodes link to ``3 * max_degree // 4``
        neighbors chosen by HNSW's diversity rule; back-links fill lists up to the cap, then the
        list is re-pruned by the same rule.
    ef_construction : int
        Beam size of the search that finds a new node's neighbors (``efConstruction`` of HNSW).
    seed : int
        Seed of every random choice (levels, entry points). Same seed and data, same graph (with
        ``build(n_threads=1)``) and same answers.
    graph : {"hnsw", "nsw"}
        ``"hnsw"`` (default): HNSW-style layers above the graph (Malkov & Yashunin 2018); each node
        gets a random level, upper layers are sparser graphs of ``max(max_degree // 2, 2)`` links,
        and a search descends them greedily to start near the answer (layer l holds about
        n / M**l nodes; saved as format version 2). ``"nsw"``: the flat navigable small world
        graph of Malkov et al. 2014 only, searched from random entry points with ``restarts``
        (format version 1).

    channels : int
        Channels per time step of multichannel series (default 1). With ``channels > 1``,
        ``dim`` is the series length in time steps and every input is shaped
        ``(n, channels, dim)`` (aeon's layout; ``(channels, dim)`` for one series); Euclidean is
        then over all ``channels * dim`` samples and the DTW band counts time steps. Saved as
        format version 4.
    window : float, optional
        DTW only, instead of ``band``: the Sakoe-Chiba window as a fraction (0 to 1) of the
        series length, as aeon's ``window``. With one length (``dim`` given) it is the band
        ``int(window * dim)`` (1 is full DTW). With series of their own lengths (``dim=None``)
        every pair gets its own band, ``int(window * min(n, m))`` time steps of the shorter
        series, laid along the diagonal from the first to the last cell, exactly aeon's rule.
    dependence : {"dependent", "independent"}, optional
        DTW only: how several channels are warped. ``"dependent"`` (the default, DTW_D, what
        aeon's ``dtw`` computes on multivariate series): one warping path for all channels,
        the cost of cell (i, j) being the squared Euclidean distance between time steps i and j
        across channels. ``"independent"`` (DTW_I): each channel warps on its own path, and the
        squared distances add (the reported distance is the square root of that sum), so
        DTW_I <= DTW_D. LB_Kim and LB_Keogh bound both (per channel envelopes, summed), so both
        prune and abandon early. With one channel the two are the same distance.

    Examples
    --------
    >>> import numpy as np
    >>> from pyembed import Index
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(1000, 16)).astype(np.float32)
    >>> index = Index(16)
    >>> ids = index.add(data)
    >>> result = index.search(data[:3], k=5)
    >>> result.ids.shape, result.ids[:, 0].tolist()
    ((3, 5), [0, 1, 2])
    """

    def __init__(
        self,
        dim: int | None,
        metric: Literal["euclidean", "cosine", "ip", "dtw"] = "euclidean",
        *,
        band: int | None = None,
        max_degree: int = DEFAULT_MAX_DEGREE,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        seed: int = DEFAULT_SEED,
        graph: Literal["hnsw", "nsw"] = DEFAULT_GRAPH,
        channels: int = 1,
        dependence: Literal["dependent", "independent"] | None = None,
        window: float | None = None,
    ) -> None:
        if dependence is not None and not isinstance(dependence, str):
            raise TypeError(f"dependence must be a string or None, got {type(dependence).__name__}")
        if not isinstance(metric, str):
            raise TypeError(f"metric must be a string, got {type(metric).__name__}")
        if not isinstance(graph, str):
            raise TypeError(f"graph must be a string, got {type(graph).__name__}")
        if window is not None:
            window = _as_window(window, band, metric)
            if dim is not None:
                # One length: the window is the band int(window * dim), as aeon computes it.
                length = _as_int(dim, "dim")
                band = None if window == 1.0 else int(window * length)
                window = None
        shape = (
            metric,
            None if band is None else _as_int(band, "band"),
            _as_int(max_degree, "max_degree"),
            _as_int(ef_construction, "ef_construction"),
            _as_int(seed, "seed"),
            graph,
        )
        if dim is None:
            self._native = _nswg.NativeIndex.variable(
                _as_int(channels, "channels"), *shape, dependence, window
            )
        else:
            self._native = _nswg.NativeIndex(
                _as_int(dim, "dim"), *shape, _as_int(channels, "channels"), dependence
            )
        self._last_build: dict[str, int] = {}

    @classmethod
    def _wrap(cls, native: _nswg.NativeIndex) -> Index:
        self = cls.__new__(cls)
        self._native = native
        self._last_build = {}
        return self

    # -- properties ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Width of every vector; for series, the length in time steps (samples per channel);
        0 for an index of series of their own lengths (``Index(None, ...)``)."""
        return self._native.dim // self._native.channels

    @property
    def window(self) -> float | None:
        """The DTW window of a variable-length index (a fraction of the shorter series of each
        pair), or None (the band is :attr:`band`)."""
        return self._native.window

    @property
    def variable_length(self) -> bool:
        """True for an index of series of their own lengths (made by ``Index(None, "dtw")``)."""
        return self._native.variable_length

    @property
    def channels(self) -> int:
        """Channels per time step of every series (1 for plain vectors and univariate series)."""
        return self._native.channels

    @property
    def dependence(self) -> str | None:
        """How DTW combines channels: ``"dependent"`` or ``"independent"``; None for Euclidean."""
        return self._native.dependence

    @property
    def metric(self) -> str:
        """``"euclidean"``, ``"cosine"``, ``"ip"`` or ``"dtw"``."""
        return self._native.metric

    @property
    def band(self) -> int | None:
        """DTW Sakoe-Chiba radius in samples (``dim - 1`` for full DTW); None for Euclidean."""
        return self._native.band

    @property
    def ids(self) -> NDArray[np.int64]:
        """Stored ids in insertion order, shape (len(index),), int64 (a copy)."""
        return self._native.ids()

    @property
    def graph(self) -> str:
        """``"hnsw"`` (layers above the graph) or ``"nsw"`` (the flat graph)."""
        return str(self._native.build_params()["graph"])

    @property
    def build_params(self) -> dict[str, int | str]:
        """max_degree, ef_construction, seed and graph the index was built with."""
        return self._native.build_params()

    @property
    def pending(self) -> int:
        """Stored vectors not yet linked into the graph (see :meth:`build`); 0 once it is built."""
        return self._native.pending

    @property
    def last_build(self) -> dict[str, int]:
        """Counters of the latest :meth:`build` on this object (also one a graph search ran):
        ``distance_calls`` (insertion searches, neighbor selection and repair),
        ``repair_passes`` (0 or 1) and ``orphans_linked``; empty before the first build."""
        return dict(self._last_build)

    def __len__(self) -> int:
        return len(self._native)

    def __contains__(self, id: object) -> bool:
        value = _as_stored_id(id)
        return value is not None and self._native.contains(value)

    def __repr__(self) -> str:
        band = f", band={self.band}" if self.metric == "dtw" else ""
        if self.variable_length:
            band = f", band={self.band}" if self.band != _nswg.FULL_BAND else ""
            if self.window is not None:
                band = f", window={self.window:g}"
            return (
                f"Index(None, metric={self.metric!r}{band}, channels={self.channels}, "
                f"dependence={self.dependence!r}, len={len(self)})"
            )
        if self.channels > 1:
            band += f", channels={self.channels}"
            if self.dependence is not None:
                band += f", dependence={self.dependence!r}"
        elif self.dependence == "independent":
            band += ", dependence='independent'"
        return f"Index(dim={self.dim}, metric={self.metric!r}{band}, len={len(self)})"

    # -- adding -------------------------------------------------------------------------------
    def add(
        self,
        vectors: ArrayLike,
        ids: ArrayLike | None = None,
        *,
        replace: bool = False,
        n_threads: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> NDArray[np.int64]:
        """Store vectors; the graph over them is built later, when it is first needed.

        Adding copies and checks the rows (for DTW it also computes their envelopes, O(n * dim))
        and computes no distance, so an index used only for exact search never pays for a graph.
        The graph is built by :meth:`build`, or by the first graph search (``exact=False``) that
        finds stored vectors not yet linked (:attr:`pending`); either way it equals the graph of
        one add of all the vectors and one build (with ``n_threads=1``; see :meth:`build`).

        Parameters
        ----------
        vectors : array-like of real numbers, shape (n, dim) or (dim,)
            Converted once to C-contiguous float32 (a copy is kept by the index).
        ids : array-like of int, shape (n,), optional
            Non-negative, unique user ids. Default: the ``n`` ids after the largest stored one,
            so never a stored id (``len(index) ... len(index) + n - 1`` while every id was
            assigned this way).
        replace : bool
            With ``ids``: an id already stored has its vector replaced (the old row is removed
            as by :meth:`remove`, its links repaired, and the new row linked at the next build)
            instead of raising ValueError; ids not stored are added (an upsert). Without
            ``ids`` a ValueError. Not for series of their own lengths.
        n_threads, progress : optional
            Deprecated (``add`` built the graph before 0.3): either one given builds at once, as
            ``build(n_threads=n_threads, progress=progress)`` after the add, with a
            DeprecationWarning.

        Returns
        -------
        ndarray of int64, shape (n,)
            The ids of the added rows.

        Raises
        ------
        TypeError
            Non-numeric dtypes (bool, complex, object, strings) or non-integer ids.
        ValueError
            Wrong ndim or width, NaN/inf, wrong number of ids, negative or duplicate ids.
        MemoryError
            The index cannot grow by ``n`` rows (raised before any row is added).
        """
        id_arr = None if ids is None else _as_ids(ids)
        if self.variable_length:
            flat, lengths = _as_ragged(vectors, "vectors", self._native.channels)
            return self._add(flat, id_arr, lengths, n_threads, progress, bool(replace))
        rows = _as_series(vectors, "vectors", self._native.channels, self.dim)
        return self._add(rows, id_arr, None, n_threads, progress, bool(replace))

    def _add(
        self,
        rows: NDArray[np.float32],
        id_arr: NDArray[np.int64] | None,
        lengths: NDArray[np.int64] | None,
        n_threads: int | None,
        progress: Callable[[int, int], object] | None,
        replace: bool = False,
    ) -> NDArray[np.int64]:
        """The add of checked rows (see :meth:`add`)."""
        threads = None if n_threads is None else _as_threads(n_threads)
        if threads is not None and threads > _nswg.MAX_THREADS:  # checked before adding
            raise ValueError(
                f"n_threads must be at most {_nswg.MAX_THREADS} (0 = all cores), got {threads}"
            )
        added = self._native.add(rows, id_arr, lengths, replace)
        if n_threads is not None or progress is not None:
            warnings.warn(
                "add(n_threads=..., progress=...) is deprecated: add only stores the vectors now; "
                "call build(n_threads=..., progress=...) to build the graph at once",
                DeprecationWarning,
                stacklevel=2,
            )
            self.build(n_threads=threads, progress=progress)
        return added

    def build(
        self,
        *,
        n_threads: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> dict[str, int]:
        """Link every stored vector not yet in the graph (:attr:`pending`) into it.

        A graph search builds by itself first; call this to pay for the build at a time of your
        choosing (with a progress callback), or before timing searches. Returns the counters, also
        kept as :attr:`last_build`. Does nothing (and returns zero counters) when nothing is
        pending. Vectors are linked in storage order, so storing in several :meth:`add` calls and
        building once gives the graph of one call. After the build the orphan pass
        (:meth:`link_orphans`) runs when the vectors linked since the last pass reach 1/64 of
        the graph.

        Parameters
        ----------
        n_threads : int, optional
            Threads for insertion, at most 1024; None uses all cores, 1 is sequential and
            bit-reproducible (parallel insertion may give a different, equally valid graph).
        progress : callable, optional
            Called as ``progress(done, total)`` (vectors) after each piece of 8,192 (the last
            one included), with the index locked: it must not use this index (that raises
            ValueError). An exception it raises (or Ctrl-C) stops the build after the piece and
            is raised here; the vectors linked so far stay linked, the others pending, and
            ``last_build`` is not updated.

        Raises
        ------
        ValueError
            ``n_threads`` above 1024; the progress callback used this index.
        KeyboardInterrupt
            Ctrl-C, checked after each piece of 8,192 vectors.
        """
        self._last_build = self._native.build(_as_threads(n_threads), progress)
        return dict(self._last_build)

    # -- searching ----------------------------------------------------------------------------
    def search(
        self,
        queries: ArrayLike,
        k: int = 10,
        *,
        ef: int | None = None,
        restarts: int | None = None,
        exact: bool = False,
        n_threads: int | None = None,
        entry: Literal["random", "pivots", "hierarchy", "euclidean"] | None = None,
        quantized: bool = False,
        max_distance: ArrayLike | None = None,
        prune: bool = True,
        filter: ArrayLike | Filter | None = None,
    ) -> SearchResult:
        """Find the ``k`` nearest stored vectors of each query.

        Parameters
        ----------
        queries : array-like of real numbers, shape (n, dim) or (dim,)
            A 1-D input is one query; outputs are always 2-D. Zero rows give (0, k) outputs.
        k : int
            Neighbors per query, ``1 <= k <= len(index)``.
        ef : int, optional
            Beam size of each greedy search (default :data:`DEFAULT_EF`, the core's; the search
            uses ``max(ef, k)``). Larger is slower and more accurate.
        restarts : int, optional
            Greedy searches per query, merged (default :data:`DEFAULT_RESTARTS`): the first
            starts at ``entry``, the others at random stored nodes.
        exact : bool
            Brute force over every stored vector with the same distance code (for DTW with
            LB_Kim / LB_Keogh pruning and early abandoning, which never change the answer).
        n_threads : int, optional
            Threads over queries, at most 1024; None uses all cores, 1 runs on the calling
            thread. A batch runs in pieces of about half a second (at least four queries per
            thread); Ctrl-C stops it between two pieces (KeyboardInterrupt). A signal handler
            running then may search the index (without building), not change it. A graph search
            on an index with pending vectors first builds them on these threads (see below).
        entry : {"random", "pivots", "hierarchy", "euclidean"}, optional
            Where the first restart starts. None (default): "euclidean" on a ``graph="hnsw"``
            DTW index of series of one length, "hierarchy" on any other ``graph="hnsw"`` index,
            "random" on a ``graph="nsw"`` one. "random": every restart at a random stored
            node, the classic NSW search with restarts. "pivots": the first restart is seeded with
            the nearest of up to 64 evenly spaced stored nodes kept in one cache-resident block
            (they count as distance calls). "hierarchy": a greedy descent through the layers of a
            ``graph="hnsw"`` index (HNSW); an error on an ``"nsw"`` index. "euclidean" (DTW of
            one length, ``"hnsw"`` only): the descent and a beam of 10 on the base graph compare
            the series by Euclidean distance (an upper bound of their DTW, one pass over the two
            series), and the DTW walk starts from the nearest two found: 1.1-1.5x the
            queries/second of "hierarchy" at the same ``ef`` and about the same recall on
            100,000 and 1,000,000 random walks of 256 (``benchmarks/dtw_scale.py``, most at
            small ``ef``); counted in ``euclidean_calls``. Further restarts always start at
            random nodes.
        quantized : bool
            Vector metrics only (euclidean, cosine, ip; for cosine the codes are of the unit
            vectors, for ip the walk adds the codes' offsets to the code dot product). Walk the
            graph on an 8-bit code of every stored coordinate (a quarter
            of the memory reads of float32), then re-rank each walk's final ``ef`` candidates by
            their float32 distances, so the returned distances are exact. About 1.2-1.3x the
            queries/second at the same recall on 100,000 x 128 clustered vectors (see
            ``benchmarks/ann.py``). Needs the codes: call :meth:`set_codes` ``(True)`` once first
            (one byte per coordinate more memory, kept up to date by ``add``, not saved); a
            search never makes them, so without codes this is a ValueError. Coordinate
            ``j`` is coded in 255 even steps between its smallest and largest stored value, so a
            coordinate with one extreme outlier is coded coarsely for every vector: on such data
            compare recall with and without. Ignored when ``exact=True``.
        max_distance : float or array-like of shape (n,), optional
            Exact search only: keep only neighbors at distance ``<= max_distance`` (true units;
            one value for every query or one per query; +inf means no limit), padding the rest
            of the row with -1 / +inf. The scan starts with the limit as its cutoff, so DTW's
            lower bounds and early abandoning reject more rows from the start (the counters show
            it); a sharded exact search passes the k-th best of the shards it asked first this way.
        prune : bool
            Let lower bounds and early abandoning reject candidates (default). False computes every
            distance in full: the same answers, more work (the counters show how much pruning
            saves).
        filter : array-like of int, array of bool, or Filter, optional
            Only these stored vectors may be returned: their ids (repeats count once; an id not
            stored is a KeyError naming it), a boolean mask with one entry per stored vector in
            the order of :attr:`ids`, or a :class:`Filter` from :meth:`filter` (reusable, so the
            ids are looked up once for many calls). Evaluated in Rust with the GIL released,
            parallel over queries like any search. An exact search scans only the allowed rows.
            A graph search walks through every node but keeps only allowed ones, going on until
            ``ef`` allowed ones are found and none nearer can follow (hnswlib's filtered search),
            so its recall holds under restrictive filters; when the filter allows at most
            ``4000 + 80 * max(ef, k)`` rows it scans them exactly instead (measured faster
            there on 100,000 x 128 vectors: a scanned row costs about a fifth of a walk's
            visit, and the filtered walk visits a thousand nodes or more; see
            ``benchmarks/ann_features.py``). Rows pad with -1 / +inf when fewer than ``k``
            are allowed. ``quantized`` is ignored under a filter. After an add or a removal a
            :class:`Filter` made before is refused (ValueError): make it again.

        A graph search (``exact=False``) on an index with vectors not yet in its graph
        (:attr:`pending`) first builds them, on ``n_threads`` threads, after checking every
        argument (other threads' searches wait for the build; its counters go to
        :attr:`last_build`); Ctrl-C during that build leaves the vectors linked so far linked.
        An exact search never builds.

        Returns
        -------
        SearchResult
            ids (n, k) int64 and distances (n, k) float32 in true units (L2, or DTW), ascending,
            ties by id, padded with -1 / +inf when fewer than ``k`` nodes were reached; work
            counters per query.

        Raises
        ------
        TypeError
            Non-numeric dtypes or non-integer ``k``, ``ef``, ``restarts``.
        ValueError
            Wrong ndim or width, NaN/inf, ``k`` outside ``1..len(index)``, an empty index,
            ``ef`` or ``restarts`` 0, an unknown ``entry``, ``entry="hierarchy"`` on a
            ``graph="nsw"`` index, ``quantized=True`` without codes or on a DTW index (unless
            ``exact=True``, which ignores ``entry`` and ``quantized``), ``n_threads`` above 1024,
            ``max_distance`` without ``exact=True``, negative, NaN or of the wrong length.
        MemoryError
            The (n, k) result arrays cannot be allocated (raised before any work).
        """
        if entry is not None and not isinstance(entry, str):
            raise TypeError(f"entry must be a string or None, got {type(entry).__name__}")
        lengths = None
        if self.variable_length:
            q, lengths = _as_ragged(queries, "queries", self._native.channels)
        else:
            q = _as_series(queries, "queries", self._native.channels, self.dim)
        n_queries = len(q) if lengths is None else len(lengths)
        limits = None if max_distance is None else _as_limits(max_distance, n_queries)
        flt = None if filter is None else self._as_filter(filter)
        # The core checks the values, in this order: finiteness of the queries, an empty index,
        # 1 <= k <= len, ef and restarts >= 1, entry and quantized against the index, then the
        # limits. A graph search first links the pending vectors (after checking every argument, so a
        # bad one never waits for the build); vectors another thread stores meanwhile are still
        # found, because the core scans pending rows exactly.
        found = self._native.search(
            q,
            _as_int(k, "k"),
            DEFAULT_EF if ef is None else _as_int(ef, "ef"),
            DEFAULT_RESTARTS if restarts is None else _as_int(restarts, "restarts"),
            bool(exact),
            _as_threads(n_threads),
            entry,
            bool(quantized),
            limits,
            build=True,
            prune=bool(prune),
            lengths=lengths,
            filter=flt,
        )
        if found[3] is not None:
            self._last_build = found[3]
        return _result(found)

    def filter(self, ids: ArrayLike) -> Filter:
        """A reusable filter allowing the stored vectors of ``ids`` (or, given a boolean array
        with one entry per stored vector, those where it is true, in the order of :attr:`ids`),
        for ``search(filter=...)`` and ``range_search(filter=...)``. It is tied to the index as
        it is now: after an add or a removal, searching with it raises ValueError.

        Raises
        ------
        KeyError
            Ids that are not stored (all named, up to ten).
        ValueError
            A boolean mask of the wrong length.
        """
        return self._as_filter(ids)

    def _as_filter(self, filter: object) -> Filter:
        """``filter`` (ids, a boolean mask or a :class:`Filter`) as a native filter."""
        if isinstance(filter, Filter):
            return filter
        arr = np.asarray(filter)
        if arr.dtype == np.bool_:
            if arr.ndim != 1:
                raise ValueError(f"filter as a boolean mask must be 1-D, got shape {arr.shape}")
            return self._native.filter_mask(np.ascontiguousarray(arr))
        if arr.size == 0:
            arr = arr.astype(np.int64)
        return self._native.filter(_as_ids(np.atleast_1d(arr)))

    def range_search(
        self,
        queries: ArrayLike,
        radius: float,
        *,
        exact: bool = False,
        ef: int | None = None,
        restarts: int | None = None,
        n_threads: int | None = None,
        entry: Literal["random", "pivots", "hierarchy", "euclidean"] | None = None,
        filter: ArrayLike | Filter | None = None,
        prune: bool = True,
    ) -> RangeResult:
        """Every stored vector at distance ``<= radius`` (true units) of each query.

        ``exact=True`` scans every stored vector (or every allowed one): the answer is brute
        force's, and for DTW the radius is the cutoff of the lower bounds and early abandoning
        from the first row on. Otherwise a graph search of beam ``ef`` finds the nearest
        vectors, then a flood fill follows the links of every vector it finds inside the
        radius, so a vector inside is missed only when no chain of vectors inside the radius
        links it to the ones the search found (vectors not yet in the graph are scanned
        exactly; a graph search first builds pending vectors, as :meth:`search` does).

        Parameters
        ----------
        queries : array-like, shape (n, dim) or (dim,)
            As for :meth:`search` (fixed-length indexes only).
        radius : float
            In the metric's true units. Negative is a ValueError, except for ``"ip"``, whose
            distances can be negative. NaN is a ValueError.
        exact, ef, restarts, n_threads, entry, filter, prune
            As for :meth:`search`.

        Returns
        -------
        RangeResult
            Flat ``ids`` and ``distances`` with per-query ``offsets``, ascending by distance
            per query (ties by id); ``result[i]`` gives query ``i``'s pair.
        """
        if entry is not None and not isinstance(entry, str):
            raise TypeError(f"entry must be a string or None, got {type(entry).__name__}")
        if self.variable_length:
            raise ValueError("range_search is not supported for series of their own lengths")
        q = _as_series(queries, "queries", self._native.channels, self.dim)
        r = _as_radius(radius)
        flt = None if filter is None else self._as_filter(filter)
        found = self._native.range_search(
            q,
            r,
            DEFAULT_EF if ef is None else _as_int(ef, "ef"),
            DEFAULT_RESTARTS if restarts is None else _as_int(restarts, "restarts"),
            bool(exact),
            _as_threads(n_threads),
            entry,
            prune=bool(prune),
            filter=flt,
        )
        if found[4] is not None:
            self._last_build = found[4]
        return RangeResult(found[0], found[1], found[2], found[3])

    def remove(self, ids: ArrayLike, *, n_threads: int | None = None) -> dict[str, int]:
        """Remove the stored vectors of ``ids`` (repeats count once); return the repair's
        counters.

        Removed ids are never returned again, by graph or exact search, and can be added again;
        their slots are reused by later adds (lowest slot first, so :attr:`ids` keeps slot
        order). Two regimes, by how much was removed since the graph was last built whole:

        - up to 5% of it: the graph is repaired at once. Every vector that linked a removed one
          keeps its other links and fills the room with the removed vector's links, nearest
          first, as the diversity rule admits them (on every layer); the hierarchy's entry moves
          to a remaining vector of the highest level; the orphan pass links back whatever became
          unreachable. Cost: one pass over the links plus about ``max_degree`` distances per
          link to a removed vector, in parallel on ``n_threads`` (None: all cores; the result
          does not depend on it).
        - beyond 5%: the graph is dropped and every remaining vector is pending: the next
          :meth:`build` (or graph search) links them all again, exactly as a fresh index of
          them would be (exact search needs no graph meanwhile). Measured on 20,000 x 32
          clustered vectors, repairs in place fell 0.01-0.02 behind a fresh build's recall@10
          at 8% removed and 0.03-0.04 at 30% (inserting every affected vector again did not
          close the gap), while 3% stayed within build-to-build noise.

        ``benchmarks/ann_features.py`` measures both against a fresh build (100,000 x 128,
        ``--delete-fraction``).

        Raises
        ------
        KeyError
            Ids that are not stored, all named (up to ten); nothing is removed.
        ValueError
            An index of series of their own lengths (not supported).
        """
        arr = np.atleast_1d(np.asarray(ids))
        if arr.size == 0:
            arr = arr.astype(np.int64)
        return self._native.remove(_as_ids(arr), _as_threads(n_threads))

    def memory_usage(self) -> int:
        """Bytes of memory the index holds: vectors (and DTW envelopes, 8-bit codes), graph and
        layers, ids and their hash map (estimated from its capacity), pivots, and the search
        buffers kept for reuse. ``benchmarks/ann_features.py`` compares it with the growth of the
        resident set that building the index causes."""
        return self._native.memory_usage()

    # -- access -------------------------------------------------------------------------------
    def get_vectors(self, ids: ArrayLike) -> NDArray[np.float32]:
        """Copies of the stored vectors of ``ids``, shape (len(ids), dim), float32.

        Raises
        ------
        KeyError
            An id that is not stored.
        """
        arr = np.atleast_1d(np.asarray(ids))
        if self.variable_length:
            raise ValueError(
                "this index holds series of their own lengths, which do not fit one array: "
                "use get_series(ids), which returns a list of (channels, length) arrays"
            )
        rows = self._native.get_vectors(_as_ids(arr))
        c = self._native.channels
        if c == 1:
            return rows
        return np.ascontiguousarray(rows.reshape(len(rows), self.dim, c).transpose(0, 2, 1))

    def get_series(self, ids: ArrayLike) -> list[NDArray[np.float32]]:
        """Copies of the stored series of ``ids`` as a list of float32 arrays shaped
        ``(channels, length_i)`` (aeon's layout), for any index of series (fixed-length ones
        too, where every length is :attr:`dim`).

        Raises
        ------
        KeyError
            An id that is not stored.
        """
        arr = _as_ids(np.atleast_1d(np.asarray(ids)))
        c = self._native.channels
        flat, lengths = self._native.get_series(arr)
        ends = np.cumsum(lengths * c)
        starts = ends - lengths * c
        return [
            np.ascontiguousarray(flat[a:b].reshape(-1, c).T)
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
        ]

    def lengths(self, ids: ArrayLike) -> NDArray[np.int64]:
        """Time steps of the stored series of ``ids``, shape (len(ids),) int64 (:attr:`dim` for
        each on a fixed-length index).

        Raises
        ------
        KeyError
            An id that is not stored.
        """
        return self._native.lengths(_as_ids(np.atleast_1d(np.asarray(ids))))

    def neighbors(self, id: int) -> NDArray[np.int64]:
        """Graph out-links of the vector with ``id``, as ids (int64), for inspection."""
        return self._native.neighbors(_as_int(id, "id", _I64_MAX))

    def link_orphans(self) -> int:
        """Link every vector that a search from the graph's root cannot reach; return how many.

        The diversity rule that prunes full neighbour lists can leave a few vectors that no search
        reaches (about 1 in 800 on clustered 128-d data; hnswlib leaves as many), so searching for
        such a vector's own value would not find it. :meth:`build` runs this repair by itself after
        any build that links at least 1/64 of the graph, and after smaller ones once their total
        reaches that; call it after a stream of small builds, or after an interrupted ``build``.
        Cost: up to four passes over the graph plus a little work per unreached vector.
        """
        return self._native.link_orphans()

    @property
    def has_codes(self) -> bool:
        """Whether the index keeps the 8-bit codes ``search(quantized=True)`` walks on."""
        return self._native.has_codes

    def set_codes(self, on: bool) -> None:
        """Encode (``True``) or drop (``False``) the 8-bit codes of the stored vectors.

        ``search(quantized=True)`` walks the graph on them; encoding costs one pass over the
        stored vectors (O(n * dim)) and one byte per stored coordinate of memory, and ``add``
        keeps them up to date. ``set_codes(False)`` frees them. Codes are not saved with the
        index: call this again after :meth:`load`.

        Raises
        ------
        ValueError
            ``True`` on a DTW index.
        """
        self._native.set_codes(bool(on))

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index (vectors, ids, graph, parameters) to ``path`` (checksummed binary).

        Crash-safe: the file is written to a temporary file in the same folder (unnamed on
        Linux, else a hidden ``.NAME.PID.N.tmp``), synced, renamed over ``path`` (through a
        symbolic link, over its target; the file keeps the replaced file's permissions) and the
        folder synced, so ``path`` always holds the previous file or the new one, complete, even if the
        process is killed or the machine loses power; a failed save removes its temporary file.
        Concurrent saves to one path (threads or processes) leave one of them whole. The file
        is streamed out: memory use beyond the index is about 1 MiB. Searches may run during a
        save; adds wait for it.

        Raises
        ------
        FileNotFoundError, PermissionError, OSError
            The folder is missing or not writable, or the disk is full (the previous file is
            untouched); ``filename`` is set.
        """
        self._native.save(os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Index:
        """Read an index written by :meth:`save`, streamed into the index's own memory (the file
        is never held in memory beside it). Every value a search relies on is checked, after a
        CRC-32 over the whole file, so a damaged file fails here and never at search time.

        Raises
        ------
        FileNotFoundError, PermissionError, OSError
            The file cannot be read (``filename`` is set).
        pyembed.IndexFormatError
            The file is corrupt, truncated, or from a newer format version; the message starts
            with the path.
        MemoryError
            The index the file describes does not fit in memory.
        """
        return cls._wrap(_nswg.NativeIndex.load(os.fspath(path)))

    @staticmethod
    def info(path: str | os.PathLike[str]) -> dict[str, Any]:
        """Header of a saved index without loading it: version, metric, band, dim (samples per
        channel, as :attr:`dim`; 0 for series of their own lengths), channels, variable_length,
        window, dependence (None for Euclidean), n, pending (rows not
        yet linked into its graph), build params."""
        head = dict(_nswg.read_header(os.fspath(path)))
        dim, channels = head["dim"], head["channels"]
        if isinstance(dim, int) and isinstance(channels, int):  # always, from the core
            head["dim"] = 0 if head["variable_length"] else dim // channels
        return head

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_bytes, (bytes(self._native.to_bytes()),))


def _from_bytes(data: bytes) -> Index:
    """Rebuild an :class:`Index` from pickled bytes."""
    return Index._wrap(_nswg.NativeIndex.from_bytes(data))
