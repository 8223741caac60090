"""One shard: an ordinary :class:`pyembed.Index` and the calls a backend makes on it.

The same class runs in a thread of the local backend and inside a Ray actor. Its constructor is
also what Ray runs again when it restarts a dead actor, so it loads the shard from the folder's
manifest when there is one: a restarted shard holds the rows of the last completed save.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pyembed.distributed import manifest
from pyembed.index import COUNTERS, Index

#: What a shard answers a search with: ids, distances, counters (as :class:`pyembed.Index`'s
#: binding returns them) and the number of rows the shard held.
Answer = tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64], int]


class Shard:
    """Shard number ``number`` of a sharded index.

    Parameters
    ----------
    number : int
        The shard's position, ``0 <= number < n_shards``.
    spec : dict
        Keyword arguments of :class:`pyembed.Index` for an empty shard (dim, metric, band, ...).
    directory : str, optional
        Folder of the sharded index. When it holds a manifest, the shard is loaded from the file
        the manifest names for ``number`` (how a restarted actor recovers); otherwise it starts
        empty.
    """

    def __init__(self, number: int, spec: dict[str, Any], directory: str | None = None) -> None:
        self.number = number
        self.searches = 0  # searches answered by this process (a restarted actor starts at 0)
        if directory is not None and (Path(directory) / manifest.MANIFEST).exists():
            m = manifest.read(directory)
            self.index = Index.load(Path(directory) / m["shards"][number]["file"])
        else:
            self.index = Index(**spec)

    def add(
        self, vectors: NDArray[np.float32], ids: NDArray[np.int64], n_threads: int | None
    ) -> int:
        """Add rows with their global ids; returns the shard's row count after."""
        index = self.index
        if len(ids):
            index.add(vectors, ids)
            index.build(n_threads=n_threads)
        return len(index)

    def already_stored(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Those of ``ids`` that are already stored (so an add of them would fail)."""
        index = self.index
        return np.array([i for i in ids.tolist() if i in index], dtype=np.int64)

    def search(self, queries: NDArray[np.float32], k: int, options: dict[str, Any]) -> Answer:
        """The shard's ``k`` nearest of each query (``k`` capped at the shard's size; none when
        it is empty, which the caller checks against the size it expects) and its size."""
        index = self.index
        self.searches += 1
        if len(index) == 0:
            n = len(queries)
            none = np.empty((n, 0), np.int64)
            return none, np.empty((n, 0), np.float32), np.zeros((len(COUNTERS), n), np.int64), 0
        r = index.search(queries, min(k, len(index)), **options)
        return r.ids, r.distances, r.counters, len(index)

    def save(self, directory: str, generation: int) -> tuple[str, int]:
        """Save the shard into ``directory`` for save ``generation``; returns (file name, rows)."""
        index = self.index
        name = manifest.shard_file(self.number, generation)
        index.save(Path(directory) / name)
        return name, len(index)

    def get_vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """Copies of the stored vectors of ``ids`` (all in this shard), (len(ids), dim) float32."""
        return self.index.get_vectors(ids)

    def size(self) -> int:
        """Rows stored in the shard."""
        return len(self.index)

    def served(self) -> int:
        """Searches this process has answered (0 after a restart): shows a retried call ran here."""
        return self.searches

    def pid(self) -> int:
        """Process id of the process holding the shard (a Ray actor's worker, or this one)."""
        return os.getpid()
