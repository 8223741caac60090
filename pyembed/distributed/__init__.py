"""Sharded indexes: ``n_shards`` ordinary :class:`pyembed.Index` shards searched as one.

``ShardedIndex(dim, n_shards=4)`` keeps the shards in this process (searched in parallel
threads); ``backend="ray"`` puts each shard in a Ray actor (``pip install "pyembed[ray]"``), on
one machine or a cluster. Importing this package never imports Ray; only the Ray backend does.
"""

from __future__ import annotations

from pyembed.distributed.sharded import (
    ShardedIndex,
    ShardedSearchResult,
    ShardUnavailableError,
    merge,
    shard_of,
)

__all__ = ["ShardUnavailableError", "ShardedIndex", "ShardedSearchResult", "merge", "shard_of"]
