"""A sharded index: ``n_shards`` ordinary :class:`pyembed.Index` shards behind one add/search/save.

Routing: a row with id ``i`` lives in shard ``splitmix64(i) % n_shards`` (:func:`shard_of`): a
fixed hash, so the partition looks random to the graph (every shard sees the whole distribution)
and any process can find a row's shard from its id alone. Ids are global: assigned once by the
sharded index (default: after the largest id so far) and stored as such in the shard.

Search scatters the queries to every shard in parallel and merges the shards' top-k by (distance,
id), so answers do not depend on the number of shards' timing: exact search equals one index's
exact search over all rows (the same distance code computes every distance).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pyembed._nswg import MAX_THREADS, IndexFormatError
from pyembed.distributed import manifest
from pyembed.distributed.backends import LocalBackend, Outcome, RayBackend
from pyembed.index import (
    COUNTERS,
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_GRAPH,
    DEFAULT_MAX_DEGREE,
    DEFAULT_SEED,
    Index,
    SearchResult,
    _as_ids,
    _as_int,
    _as_rows,
    _as_stored_id,
    _as_threads,
)

_I64_MAX = np.iinfo(np.int64).max
#: The Index arguments a manifest's spec may hold (the seed is kept beside it).
_SPEC_KEYS = frozenset({"dim", "metric", "band", "max_degree", "ef_construction", "graph"})
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
#: Rows per batch when adding from a Ray Dataset.
DEFAULT_BATCH_SIZE = 65_536


class ShardUnavailableError(RuntimeError):
    """Some shards could not answer (an actor died and was not restarted, a call timed out, or
    a restarted shard came back without rows it held).

    Attributes
    ----------
    shards : tuple of int
        The shards that did not answer.
    reasons : dict of int to str
        Why, per shard.
    """

    def __init__(self, reasons: dict[int, str]) -> None:
        self.shards = tuple(sorted(reasons))
        self.reasons = dict(reasons)
        lines = "; ".join(f"shard {s}: {reasons[s]}" for s in self.shards)
        super().__init__(
            f"{len(self.shards)} shard(s) did not answer ({lines}); "
            "pass allow_partial=True to get the other shards' answer"
        )


class ShardedSearchResult(SearchResult):
    """A :class:`pyembed.SearchResult` merged from shards: counters are summed over the shards
    that answered, and ``missing_shards`` names those that did not (empty unless
    ``allow_partial=True`` let the search go on without them)."""

    __slots__ = ("missing_shards",)
    missing_shards: tuple[int, ...]

    def __init__(
        self,
        ids: NDArray[np.int64],
        distances: NDArray[np.float32],
        counters: NDArray[np.int64],
        missing_shards: tuple[int, ...] = (),
    ) -> None:
        super().__init__(ids, distances, counters)
        _set_missing(self, tuple(missing_shards))

    def __reduce__(self) -> tuple[Any, ...]:
        return (ShardedSearchResult, (self.ids, self.distances, self.counters, self.missing_shards))

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, missing_shards={self.missing_shards!r})"


_set_missing = ShardedSearchResult.__dict__["missing_shards"].__set__


def shard_of(ids: ArrayLike, n_shards: int) -> NDArray[np.intp]:
    """The shard of each id: ``splitmix64(id) % n_shards`` (Steele et al.'s 64-bit finalizer).

    Parameters
    ----------
    ids : array-like of int
        Non-negative row ids (int64).
    n_shards : int
        Number of shards, at least 1.

    Returns
    -------
    ndarray of intp, the shape of ``ids``
        Shard numbers in ``0 .. n_shards - 1``.
    """
    n = _as_int(n_shards, "n_shards")
    if n < 1:
        raise ValueError(f"n_shards must be at least 1, got {n}")
    z = np.asarray(ids, dtype=np.int64).astype(np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z ^= z >> np.uint64(31)
    return (z % np.uint64(n)).astype(np.intp)


def merge(
    parts: list[tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]],
    k: int,
    n_queries: int,
    n_counters: int,
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
    """The ``k`` best of each query over every part's rows by (distance, id), padded with -1 /
    +inf, and the parts' counters summed.

    Parameters
    ----------
    parts : list of (ids (n, k_i) int64, distances (n, k_i) float32, counters (c, n) int64)
        The shards' answers (distances in the index's true units), any ``k_i`` including 0.
    k : int
        Neighbors per query wanted.
    n_queries, n_counters : int
        ``n`` and ``c``, for an empty ``parts``.

    Returns
    -------
    (ids (n, k) int64, distances (n, k) float32, counters (c, n) int64)
    """
    if not parts:
        ids = np.full((n_queries, k), -1, dtype=np.int64)
        return (
            ids,
            np.full((n_queries, k), np.inf, np.float32),
            np.zeros((n_counters, n_queries), np.int64),
        )
    ids = np.concatenate([p[0] for p in parts], axis=1)
    dist = np.concatenate([p[1] for p in parts], axis=1)
    counters: NDArray[np.int64] = np.sum([p[2] for p in parts], axis=0, dtype=np.int64)
    if ids.shape[1] < k:
        pad = k - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        dist = np.pad(dist, ((0, 0), (0, pad)), constant_values=np.inf)
    key = np.where(ids < 0, _I64_MAX, ids)  # padding last among equal (infinite) distances
    order = np.lexsort((key, dist), axis=-1)[:, :k]
    return (
        np.ascontiguousarray(np.take_along_axis(ids, order, 1)),
        np.ascontiguousarray(np.take_along_axis(dist, order, 1)),
        counters,
    )


class ShardedIndex:
    """``n_shards`` ordinary indexes searched as one, in threads or on Ray actors.

    Parameters
    ----------
    dim, metric, band, max_degree, ef_construction, graph
        As :class:`pyembed.Index`; every shard is built with them.
    n_shards : int
        Number of shards, at least 1. Rows are routed by :func:`shard_of` (a hash of the id).
    backend : {"local", "ray"}
        ``"local"``: every shard in this process, searched in parallel threads (no Ray).
        ``"ray"``: one Ray actor per shard (the ``ray`` extra), see :class:`RayBackend`.
    seed : int
        Shard ``i`` is built with seed ``seed + i``.
    directory : str or path, optional
        The folder this index is saved to by :meth:`save` without an argument, and the one a Ray
        actor restarted after a crash reloads its shard from (as of the last save there). Without
        it, a restarted actor starts empty and the search reports that shard as unavailable.
        Must not hold a sharded index already (open that with :meth:`load`).
    ray_options : dict, optional
        Options of every shard actor (``ray.actor.ActorClass.options``: ``num_cpus``,
        ``memory``, ``max_restarts``, ``max_task_retries``, ``resources``, ...), over
        :data:`~pyembed.distributed.backends.DEFAULT_RAY_OPTIONS`. Ray's default ``num_cpus``
        for an actor reserves no CPU while it runs, so more shards than CPUs still start.

    Examples
    --------
    >>> import numpy as np
    >>> from pyembed.distributed import ShardedIndex
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(2000, 16)).astype(np.float32)
    >>> index = ShardedIndex(16, n_shards=4)
    >>> ids = index.add(data)
    >>> index.shard_sizes
    (522, 507, 490, 481)
    >>> index.search(data[:3], k=2, exact=True).ids[:, 0].tolist()
    [0, 1, 2]
    """

    def __init__(
        self,
        dim: int,
        metric: Literal["euclidean", "dtw"] = "euclidean",
        *,
        n_shards: int,
        backend: Literal["local", "ray"] = "local",
        band: int | None = None,
        max_degree: int = DEFAULT_MAX_DEGREE,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        seed: int = DEFAULT_SEED,
        graph: Literal["hnsw", "nsw"] = DEFAULT_GRAPH,
        directory: str | os.PathLike[str] | None = None,
        ray_options: dict[str, Any] | None = None,
    ) -> None:
        n = _as_int(n_shards, "n_shards")
        if n < 1:
            raise ValueError(f"n_shards must be at least 1, got {n}")
        seed = _as_int(seed, "seed")
        spec: dict[str, Any] = dict(
            dim=dim,
            metric=metric,
            band=band,
            max_degree=max_degree,
            ef_construction=ef_construction,
            graph=graph,
        )
        probe = Index(**spec, seed=seed)  # every argument checked here, before any shard starts
        if directory is not None and (Path(directory) / manifest.MANIFEST).exists():
            raise ValueError(
                f"directory {os.fspath(directory)!r} already holds a sharded index: "
                "open it with ShardedIndex.load, or give an empty folder"
            )
        self._setup(probe, spec, seed, n, backend, directory, ray_options, [0] * n, 0)

    def _setup(
        self,
        probe: Index,
        spec: dict[str, Any],
        seed: int,
        n_shards: int,
        backend: str,
        directory: str | os.PathLike[str] | None,
        ray_options: dict[str, Any] | None,
        sizes: list[int],
        next_id: int,
    ) -> None:
        if not isinstance(backend, str) or backend not in ("local", "ray"):
            raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
        if backend == "local" and ray_options is not None:
            raise ValueError("ray_options needs backend='ray'")
        self._dim, self._metric, self._band = probe.dim, probe.metric, probe.band
        self._spec = dict(spec)
        self._seed = seed
        self._sizes = list(sizes)
        self._next_id = next_id
        # Absolute: a restarted actor may run in another working directory.
        self._directory = None if directory is None else os.path.abspath(os.fspath(directory))
        # One add or save at a time (ids, sizes and the generation stay consistent); searches run
        # beside them and compare each shard's size with a snapshot taken before they start.
        self._lock = threading.Lock()
        specs = [{**spec, "seed": (seed + i) % 2**64} for i in range(n_shards)]
        if backend == "ray":
            self._backend: LocalBackend | RayBackend = RayBackend(
                n_shards, specs, self._directory, ray_options
            )
        else:
            self._backend = LocalBackend(n_shards, specs, self._directory)

    # -- properties ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Width of every vector (series length for DTW)."""
        return self._dim

    @property
    def metric(self) -> str:
        """``"euclidean"`` or ``"dtw"``."""
        return self._metric

    @property
    def band(self) -> int | None:
        """DTW Sakoe-Chiba radius in samples; None for Euclidean."""
        return self._band

    @property
    def n_shards(self) -> int:
        """Number of shards."""
        return len(self._sizes)

    @property
    def backend(self) -> str:
        """``"local"`` or ``"ray"``."""
        return self._backend.name

    @property
    def directory(self) -> str | None:
        """The folder :meth:`save` writes to by default and restarted actors reload from."""
        return self._directory

    @property
    def shard_sizes(self) -> tuple[int, ...]:
        """Rows per shard, as this object added them (and the shards confirmed)."""
        return tuple(self._sizes)

    @property
    def actors(self) -> list[Any]:
        """The shards' Ray actor handles (``backend="ray"``) or shard objects (``"local"``), in
        shard order, for inspection and fault tests."""
        return self._backend.actors

    def __len__(self) -> int:
        return sum(self._sizes)

    def __contains__(self, id: object) -> bool:
        value = _as_stored_id(id)
        if value is None or value >= self._next_id:  # every stored id is below next_id
            return False
        ids = np.array([value], dtype=np.int64)
        shard = int(shard_of(ids, self.n_shards)[0])
        out = self._backend.wait([self._backend.call(shard, "already_stored", ids)])[0]
        self._require({shard: out})
        return len(out.value) == 1

    def get_vectors(self, ids: ArrayLike) -> NDArray[np.float32]:
        """Copies of the stored vectors of ``ids`` (fetched from their shards in parallel), shape
        (len(ids), dim), float32, in the order of ``ids``.

        Raises
        ------
        KeyError
            An id that is not stored.
        ShardUnavailableError
            A shard holding some of ``ids`` did not answer.
        """
        arr = _as_ids(np.atleast_1d(np.asarray(ids)))
        out = np.empty((len(arr), self.dim), np.float32)
        where = shard_of(arr, self.n_shards)
        parts = {s: np.flatnonzero(where == s) for s in np.unique(where).tolist()}
        b = self._backend
        got = b.wait([b.call(s, "get_vectors", arr[p]) for s, p in parts.items()])
        outs = dict(zip(parts, got, strict=True))
        self._require(outs)
        for s, o in outs.items():
            out[parts[s]] = o.value
        return out

    def __repr__(self) -> str:
        band = f", band={self.band}" if self.metric == "dtw" else ""
        return (
            f"ShardedIndex(dim={self.dim}, metric={self.metric!r}{band}, len={len(self)}, "
            f"n_shards={self.n_shards}, backend={self.backend!r})"
        )

    def close(self) -> None:
        """Stop the shards (Ray: kill the actors). Saved files stay; the object is unusable."""
        self._backend.close()

    def __enter__(self) -> ShardedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- adding -------------------------------------------------------------------------------
    def add(
        self,
        vectors: Any,
        ids: ArrayLike | None = None,
        *,
        n_threads: int | None = None,
        progress: Callable[[int], object] | None = None,
        column: str | None = None,
        id_column: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> NDArray[np.int64]:
        """Add rows, each to the shard its id routes to; shards add in parallel.

        Parameters
        ----------
        vectors : array-like (n, dim), iterable of batches, or ray.data.Dataset
            An array or any array-like (one batch); an iterable (an iterator, a generator, or a
            list of 2-D arrays) whose items are arrays ``(m, dim)`` or
            ``(array, ids)`` pairs (added batch by batch, so a generator can stream more rows
            than fit in this process's memory); or a Ray Dataset, read in batches of
            ``batch_size`` rows (its blocks stream through this process to the shards).
        ids : array-like of int, shape (n,), optional
            With one array only: non-negative ids unique across the whole sharded index.
            Default: the ids after the largest so far.
        n_threads : int, optional
            Threads each shard inserts with, at most 1024 (None: all cores of the shard's
            machine).
        progress : callable, optional
            Called as ``progress(rows_added_so_far)`` after each batch.
        column, id_column : str, optional
            Ray Dataset only: the column holding the vectors (default: its only column other
            than ``id_column``) and an optional column of ids.
        batch_size : int
            Ray Dataset only: rows per batch.

        Returns
        -------
        ndarray of int64
            The ids of the added rows, in input order.

        Raises
        ------
        TypeError, ValueError
            As :meth:`pyembed.Index.add` (checked here for the whole batch before any shard
            adds a row of it, so a failed batch adds nothing; earlier batches of an iterable
            stay), and an id that any shard already stores. If a shard still refuses its part
            (it ran out of memory), the sizes are taken from the shards again and the error is
            raised.
        ShardUnavailableError
            A shard died during the add and came back without rows. The index keeps counting
            them, so later searches raise too (or name the shard with ``allow_partial=True``);
            :meth:`load` the last save to go on from it.
        """
        # Checked here, not by each shard: a shard refusing it would leave the others added.
        if _as_threads(n_threads) > MAX_THREADS:
            raise ValueError(f"n_threads must be at most {MAX_THREADS}, got {n_threads}")
        with self._lock:
            return self._add(vectors, ids, n_threads, progress, column, id_column, batch_size)

    def _add(
        self,
        vectors: Any,
        ids: ArrayLike | None,
        n_threads: int | None,
        progress: Callable[[int], object] | None,
        column: str | None,
        id_column: str | None,
        batch_size: int,
    ) -> NDArray[np.int64]:
        added: list[NDArray[np.int64]] = []
        done = 0
        pending: list[tuple[list[Any], dict[int, int]]] = []
        try:
            for rows, batch_ids in self._batches(vectors, ids, column, id_column, batch_size):
                got = self._route_add(rows, batch_ids, n_threads, pending)
                added.append(got)
                done += len(got)
                if len(pending) > 2:  # at most two batches in flight: bounded memory, busy shards
                    self._finish_add(pending.pop(0))
                if progress is not None:
                    progress(done)
        except ShardUnavailableError:
            # Rows were lost: the sizes stay as added, so every search reports the loss too.
            for p in pending:
                self._backend.wait(p[0])
            raise
        except BaseException:
            for p in pending:  # earlier batches land (they stay) before the error is raised
                self._backend.wait(p[0])
            self._resync()
            raise
        try:
            for p in pending:
                self._finish_add(p)
        except ShardUnavailableError:
            raise
        except BaseException:
            self._resync()
            raise
        return np.concatenate(added) if added else np.empty(0, np.int64)

    def _batches(
        self,
        data: Any,
        ids: ArrayLike | None,
        column: str | None,
        id_column: str | None,
        batch_size: int,
    ) -> Iterator[tuple[NDArray[np.float32], NDArray[np.int64] | None]]:
        if type(data).__module__.startswith("ray.data") and hasattr(data, "iter_batches"):
            if ids is not None:
                raise ValueError("ids goes with an array; give a Ray Dataset an id_column")
            size = _as_int(batch_size, "batch_size")
            if size < 1:
                raise ValueError(f"batch_size must be at least 1, got {size}")
            for batch in data.iter_batches(batch_size=size, batch_format="numpy"):
                yield _column(batch, column, id_column)
            return
        if column is not None or id_column is not None:
            raise ValueError("column and id_column are for a Ray Dataset")
        if not _is_batches(data):
            yield _as_rows(data, "vectors"), None if ids is None else _as_ids(ids)
            return
        if ids is not None:
            raise ValueError("ids goes with an array; give an iterable of (array, ids) pairs")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                yield _as_rows(item[0], "vectors"), _as_ids(item[1])
            else:
                yield _as_rows(item, "vectors"), None

    def _route_add(
        self,
        rows: NDArray[np.float32],
        ids: NDArray[np.int64] | None,
        n_threads: int | None,
        pending: list[tuple[list[Any], dict[int, int]]],
    ) -> NDArray[np.int64]:
        """Checks one batch whole, then starts each shard's part; returns the batch's ids."""
        n = len(rows)
        if rows.shape[1] != self.dim:
            raise ValueError(
                f"vectors has {rows.shape[1]} columns but the index has dim={self.dim}"
            )
        bad = np.argwhere(~np.isfinite(rows))
        if len(bad):
            r, c = bad[0]
            raise ValueError(f"vectors has a non-finite value at row {r}, column {c}")
        given = ids is not None
        if ids is None:
            if self._next_id + n - 1 > _I64_MAX:
                raise ValueError("default ids would pass 2^63-1; pass ids")
            ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        else:
            if len(ids) != n:
                raise ValueError(f"ids has {len(ids)} entries but vectors has {n} rows")
            if n and ids.min() < 0:
                raise ValueError(f"ids must be non-negative, got {int(ids.min())}")
            uniq, counts = np.unique(ids, return_counts=True)
            if (counts > 1).any():
                raise ValueError(f"duplicate id {int(uniq[counts > 1][0])} in ids")
        where = shard_of(ids, self.n_shards)
        parts = {s: np.flatnonzero(where == s) for s in range(self.n_shards)}
        parts = {s: p for s, p in parts.items() if len(p)}
        if given and n:
            self._refuse_stored(ids, parts)
        b = self._backend
        calls, expect = [], {}
        for s, p in parts.items():
            calls.append(b.call(s, "add", b.put(rows[p]), ids[p], n_threads))
            self._sizes[s] += len(p)
            expect[s] = self._sizes[s]
        if n:
            self._next_id = max(self._next_id, int(ids.max()) + 1)
        pending.append((calls, expect))
        return ids

    def _refuse_stored(self, ids: NDArray[np.int64], parts: dict[int, NDArray[np.intp]]) -> None:
        """ValueError if a shard already stores one of ``ids`` (asked before anything is added)."""
        if int(ids.min()) >= self._next_id:
            return  # every stored id is below next_id
        shards = [s for s in parts if self._sizes[s]]
        outs = self._backend.wait(
            [self._backend.call(s, "already_stored", ids[parts[s]]) for s in shards]
        )
        self._require(dict(zip(shards, outs, strict=True)))
        for o in outs:
            if len(o.value):
                raise ValueError(f"duplicate id {int(o.value[0])}: it is already stored")

    def _finish_add(self, p: tuple[list[Any], dict[int, int]]) -> None:
        calls, expect = p
        outs = self._backend.wait(calls)
        # A shard's own error (the caller resyncs the sizes), or one that lost rows.
        self._require(dict(zip(expect, outs, strict=True)), expect)

    def _resync(self) -> None:
        """After a failed add: the row counts the shards report (those that answer)."""
        outs = self._backend.wait([self._backend.call(s, "size") for s in range(self.n_shards)])
        for s, o in enumerate(outs):
            if o.error is None:
                self._sizes[s] = o.value

    def _verdict(
        self,
        outs: dict[int, Outcome],
        want: dict[int, int] | None = None,
        rows: Callable[[Any], int] = int,
        *,
        more_ok: bool = False,
    ) -> dict[int, str]:
        """Raises the first error a shard raised itself (a bad argument, a missing id); returns
        why each shard that did not answer whole failed: unreachable, or (with ``want``, the rows
        each should hold) its row count, read from its answer by ``rows``, differs (``more_ok``:
        only fewer counts, as adds may land during a search)."""
        for o in outs.values():
            if o.error is not None and not o.unavailable:
                raise o.error
        reasons = {s: _why(o.error) for s, o in outs.items() if o.unavailable}
        for s, o in outs.items():
            if want is not None and o.error is None:
                got = rows(o.value)
                if got < want[s] or (got > want[s] and not more_ok):
                    reasons[s] = self._lost(s, got, want[s])
        return reasons

    def _require(
        self,
        outs: dict[int, Outcome],
        want: dict[int, int] | None = None,
        rows: Callable[[Any], int] = int,
    ) -> None:
        """:meth:`_verdict`, raising :class:`ShardUnavailableError` unless every shard answered
        whole."""
        reasons = self._verdict(outs, want, rows)
        if reasons:
            raise ShardUnavailableError(reasons)

    def _lost(self, shard: int, got: int, want: int) -> str:
        where = (
            f"the last save in {self._directory!r}"
            if self._directory
            else "nothing (the index was created without directory=)"
        )
        return (
            f"it holds {got} rows but {want} were added: its actor was restarted and reloaded "
            f"{where}; rows added since are lost"
        )

    # -- searching ----------------------------------------------------------------------------
    def search(
        self,
        queries: ArrayLike,
        k: int = 10,
        *,
        ef: int | None = None,
        restarts: int | None = None,
        exact: bool = False,
        entry: Literal["random", "pivots", "hierarchy", "euclidean"] | None = None,
        n_threads: int | None = None,
        share_bound: bool | None = None,
        allow_partial: bool = False,
        timeout: float | None = None,
    ) -> ShardedSearchResult:
        """The ``k`` nearest stored rows of each query over all shards.

        Every shard answers its own top ``k`` (the same ``ef``, ``restarts``, ``entry`` as
        :meth:`pyembed.Index.search`), in parallel; the answers are merged by (distance, id), so
        ``exact=True`` equals :meth:`pyembed.Index.search` ``(exact=True)`` of one index over all
        the rows.

        Parameters
        ----------
        queries, k, ef, restarts, exact, entry, n_threads
            As :meth:`pyembed.Index.search` (``n_threads``: per shard).
        share_bound : bool, optional
            Exact search only: first ask the largest shard, then the others in parallel with its
            k-th distance per query as ``max_distance``, so their DTW lower bounds and early
            abandoning start from a good bound (fewer full DTWs; one more round trip). None
            (default): on for exact DTW, off otherwise.
        allow_partial : bool
            When shards cannot answer, return the others' merged answer with the missing shards
            in ``missing_shards`` instead of raising :class:`ShardUnavailableError`.
        timeout : float, optional
            Seconds to wait for the shards in all (both rounds of ``share_bound``); a shard that
            has not answered by then is unavailable (its call still runs, and later calls on that
            shard wait for it).

        Returns
        -------
        ShardedSearchResult
            As :class:`pyembed.SearchResult`: ids (n, k) int64 and distances (n, k) float32 in
            true units (L2, or DTW: the square root of the warping path's sum of squares),
            ascending, ties by id, padded with -1 / +inf; counters summed over the shards; and
            ``missing_shards``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`pyembed.Index.search`; ``share_bound=True`` without ``exact=True``.
        ShardUnavailableError
            A shard did not answer (its actor died for good, the call timed out, or it was
            restarted without its rows) and ``allow_partial`` is False.
        """
        q = _as_rows(queries, "queries")
        if q.shape[1] != self.dim:
            raise ValueError(f"queries has {q.shape[1]} columns but the index has dim={self.dim}")
        k = _as_int(k, "k")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(
                    f"timeout must be a number of seconds or None, got {type(timeout).__name__}"
                )
            if not timeout >= 0:
                raise ValueError(f"timeout must be >= 0 seconds, got {timeout}")
        sizes = list(self._sizes)  # rows only grow while we search (adds are serialised)
        if sum(sizes) == 0:
            raise ValueError("the index is empty")
        if not 1 <= k <= sum(sizes):
            raise ValueError(f"k must be between 1 and len(index)={sum(sizes)}, got {k}")
        if share_bound is None:
            share_bound = bool(exact) and self.metric == "dtw"
        elif share_bound and not exact:
            raise ValueError("share_bound needs exact=True")
        options: dict[str, Any] = {"exact": bool(exact)}
        for name, value in (
            ("ef", ef),
            ("restarts", restarts),
            ("entry", entry),
            ("n_threads", n_threads),
        ):
            if value is not None:
                options[name] = value
        b = self._backend
        shared = b.put(q)
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        live = [s for s in range(self.n_shards) if sizes[s]]
        outs: dict[int, Outcome] = {}
        if share_bound and len(live) > 1:
            first = max(live, key=lambda s: sizes[s])
            outs[first] = b.wait([b.call(first, "search", shared, k, options)], left())[0]
            live.remove(first)
            o = outs[first]
            # Only an answer that will be merged (whole: every row it had at the start) may cut
            # the others' scans.
            if o.error is None and o.value[3] >= sizes[first] and o.value[1].shape[1] == k:
                options = {**options, "max_distance": o.value[1][:, k - 1]}
        outs.update(
            zip(
                live,
                b.wait([b.call(s, "search", shared, k, options) for s in live], left()),
                strict=True,
            )
        )
        reasons = self._verdict(outs, dict(enumerate(sizes)), lambda v: v[3], more_ok=True)
        if reasons and not allow_partial:
            raise ShardUnavailableError(reasons)
        parts = [o.value[:3] for s, o in sorted(outs.items()) if s not in reasons]
        ids, dist, counters = merge(parts, k, len(q), len(COUNTERS))
        return ShardedSearchResult(ids, dist, counters, tuple(sorted(reasons)))

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str] | None = None) -> None:
        """Save every shard (in parallel, each by its actor) and the manifest into ``directory``
        (default: :attr:`directory`), created if missing.

        Parameters
        ----------
        directory : str or path, optional
            The folder; one file per shard (``shard-NNNN.gG.nswg``) and ``manifest.json``.

        Crash-safe as a whole: shard files of a new generation are written first (each with the
        index's crash-safe save), then the manifest is replaced atomically, then older files are
        removed; a save killed at any point leaves the previous save loadable. With the Ray
        backend on several machines, the folder must be shared storage.

        Raises
        ------
        ValueError
            No ``directory`` given and none set at creation.
        pyembed.IndexFormatError
            The folder holds a manifest this build cannot read (a newer version): not overwritten.
        OSError
            The folder cannot be written.
        ShardUnavailableError
            A shard could not save (its actor died) or came back without rows.
        """
        if directory is None:
            if self._directory is None:
                raise ValueError("save needs a directory (none was given at creation)")
            directory = self._directory
        with self._lock:
            self._save(Path(directory))

    def _save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            generation = manifest.read(folder)["generation"] + 1
        except FileNotFoundError:
            generation = 1
        b = self._backend
        shards = range(self.n_shards)
        outs = b.wait([b.call(s, "save", str(folder.resolve()), generation) for s in shards])
        self._require(dict(enumerate(outs)), dict(enumerate(self._sizes)), lambda v: v[1])
        from pyembed import __version__

        manifest.write(
            folder,
            {
                "format": manifest.FORMAT,
                "version": manifest.VERSION,
                "generation": generation,
                "n_shards": self.n_shards,
                "next_id": self._next_id,
                "routing": "splitmix64(id) % n_shards",
                "seed": self._seed,
                "spec": self._spec,
                "shards": [{"file": o.value[0], "len": o.value[1]} for o in outs],
                "written_by": f"pyembed {__version__}",
            },
        )
        manifest.remove_older_generations(folder, generation)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        backend: Literal["local", "ray"] = "local",
        ray_options: dict[str, Any] | None = None,
    ) -> ShardedIndex:
        """Open a sharded index saved by :meth:`save`; each shard loads its own file (on Ray: in
        its actor). The folder becomes :attr:`directory` (restarted actors reload from it).

        Parameters
        ----------
        directory : str or path
            A folder written by :meth:`save`.
        backend, ray_options
            As for :class:`ShardedIndex`.

        Raises
        ------
        FileNotFoundError
            No manifest in ``directory``, or a shard file it names is missing.
        pyembed.IndexFormatError
            A malformed manifest or shard file, or a shard whose size differs from the manifest.
        """
        m = manifest.read(directory)
        folder = Path(directory)
        where = folder / manifest.MANIFEST
        files = [s["file"] for s in m["shards"]]
        if len(set(files)) != len(files):
            raise IndexFormatError(f"{where}: two shards name the same file")
        spec = dict(m["spec"])
        if set(spec) - _SPEC_KEYS or "dim" not in spec:
            raise IndexFormatError(
                f"{where}: spec must hold dim and only {sorted(_SPEC_KEYS)}, got {sorted(spec)}"
            )
        seed = m.get("seed", DEFAULT_SEED)
        try:
            probe = Index(**spec, seed=seed)
        except (TypeError, ValueError) as e:
            raise IndexFormatError(f"{where}: the spec does not make an index ({e})") from None
        for s in m["shards"]:
            if not (folder / s["file"]).exists():
                raise FileNotFoundError(
                    2, "shard file named by the manifest is missing", str(folder / s["file"])
                )
        self = cls.__new__(cls)
        sizes = [s["len"] for s in m["shards"]]
        self._setup(
            probe,
            spec,
            seed,
            m["n_shards"],
            backend,
            folder,
            ray_options,
            sizes,
            m["next_id"],
        )
        got = self._backend.wait([self._backend.call(s, "size") for s in range(self.n_shards)])
        for s, o in enumerate(got):
            if o.error is None and o.value != sizes[s]:
                self.close()
                raise IndexFormatError(
                    f"{folder / m['shards'][s]['file']}: holds {o.value} rows, the manifest says {sizes[s]}"
                )
        return self


def _why(e: BaseException | None) -> str:
    """One line on why a shard did not answer (Ray's messages run over several lines)."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else 'no message'}"


def _is_batches(data: Any) -> bool:
    """Whether ``data`` is an iterable of batches rather than one array-like batch: an iterator
    or generator, or a list/tuple whose first item is a 2-D array or an (array, ids) pair. An
    object numpy can read as an array (a DataFrame, a tensor) is one batch."""
    if not isinstance(data, Iterable) or hasattr(data, "__array__"):
        return False
    if hasattr(data, "__array_interface__") or hasattr(data, "__cuda_array_interface__"):
        return False
    if isinstance(data, (list, tuple)):
        first = data[0] if len(data) else None
        if isinstance(first, tuple) and len(first) == 2:
            return np.ndim(first[0]) == 2
        return isinstance(first, np.ndarray) and first.ndim == 2
    return True


def _column(
    batch: dict[str, Any], column: str | None, id_column: str | None
) -> tuple[NDArray[np.float32], NDArray[np.int64] | None]:
    """The vectors (and ids) of one Ray Data batch (a dict of numpy columns)."""
    names = [c for c in batch if c != id_column]
    if column is None:
        if len(names) != 1:
            raise ValueError(
                f"the dataset has columns {sorted(batch)}: name the vectors' one with column="
            )
        column = names[0]
    if column not in batch:
        raise ValueError(f"the dataset has no column {column!r} (it has {sorted(batch)})")
    if id_column is not None and id_column not in batch:
        raise ValueError(f"the dataset has no column {id_column!r} (it has {sorted(batch)})")
    rows = np.asarray(batch[column])
    if rows.dtype == object:  # a column of per-row arrays
        rows = np.stack(list(rows))
    return _as_rows(rows, "vectors"), None if id_column is None else _as_ids(batch[id_column])
