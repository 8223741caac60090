"""pyembed: nearest-neighbor search of embeddings and time series.

A Rust navigable small world graph (Euclidean, cosine, inner-product and Sakoe-Chiba DTW distances)
behind a numpy API,
with exact brute-force search as the oracle. Torch training tools live in ``pyembed.losses``,
``pyembed.nn`` and ``pyembed.train`` (the ``train`` extra); importing ``pyembed`` never imports torch.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from pyembed._nswg import IndexFormatError
from pyembed.index import Filter, Index, RangeResult, SearchResult

try:
    __version__ = version("pyembed")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "Filter",
    "Index",
    "IndexFormatError",
    "RangeResult",
    "SearchResult",
    "__version__",
]
