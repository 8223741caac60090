"""pyembed: nearest-neighbor search of embeddings and time series.

A Rust navigable small world graph (Euclidean and Sakoe-Chiba DTW distances) behind a numpy API,
with exact brute-force search as the oracle. Torch training tools live in ``pyembed.losses``,
``pyembed.nn`` and ``pyembed.train`` (the ``train`` extra); importing ``pyembed`` never imports torch.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from pyembed._nswg import IndexFormatError
from pyembed.index import Index, SearchResult

try:
    __version__ = version("pyembed")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["Index", "IndexFormatError", "SearchResult", "__version__"]
