"""Type stubs of the compiled binding ``pyembed._nswg`` (keep in step with src/)."""

from collections.abc import Callable
from os import PathLike
from typing import Any

import numpy as np
from numpy.typing import NDArray
from typing_extensions import final

__all__ = [
    "ADD_CHUNK_ROWS",
    "COUNTERS",
    "DEFAULTS",
    "FORMAT_VERSION",
    "FULL_BAND",
    "IndexFormatError",
    "MAX_THREADS",
    "NativeFilter",
    "NativeIndex",
    "read_header",
]

FORMAT_VERSION: int
ADD_CHUNK_ROWS: int
MAX_THREADS: int
FULL_BAND: int
DEFAULTS: dict[str, Any]
COUNTERS: tuple[str, ...]

class IndexFormatError(ValueError): ...

@final
class NativeFilter:
    def __len__(self) -> int: ...

@final
class NativeIndex:
    def __new__(
        cls,
        dim: int,
        metric: str,
        band: int | None,
        max_degree: int,
        ef_construction: int,
        seed: int,
        graph: str,
        channels: int = 1,
        dependence: str | None = None,
    ) -> NativeIndex: ...
    @staticmethod
    def variable(
        channels: int,
        metric: str,
        band: int | None,
        max_degree: int,
        ef_construction: int,
        seed: int,
        graph: str,
        dependence: str | None = None,
        window: float | None = None,
    ) -> NativeIndex: ...
    def add(
        self,
        vectors: NDArray[np.float32],
        ids: NDArray[np.int64] | None,
        lengths: NDArray[np.int64] | None = None,
        replace: bool = False,
    ) -> NDArray[np.int64]: ...
    def lengths(self, ids: NDArray[np.int64]) -> NDArray[np.int64]: ...
    def get_series(
        self, ids: NDArray[np.int64]
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]: ...
    @property
    def variable_length(self) -> bool: ...
    @property
    def window(self) -> float | None: ...
    @property
    def pending(self) -> int: ...
    def build(
        self,
        n_threads: int,
        progress: Callable[[int, int], object] | None,
    ) -> dict[str, int]: ...
    def search(
        self,
        queries: NDArray[np.float32],
        k: int,
        ef: int,
        restarts: int,
        exact: bool,
        n_threads: int,
        entry: str | None,
        quantized: bool,
        max_distances: NDArray[np.float32] | None = None,
        build: bool = False,
        prune: bool = True,
        lengths: NDArray[np.int64] | None = None,
        filter: NativeFilter | None = None,
    ) -> tuple[
        NDArray[np.int64], NDArray[np.float32], NDArray[np.int64], dict[str, int] | None
    ]: ...
    def remove(self, ids: NDArray[np.int64], n_threads: int) -> dict[str, int]: ...
    def filter(self, ids: NDArray[np.int64]) -> NativeFilter: ...
    def filter_mask(self, mask: NDArray[np.bool_]) -> NativeFilter: ...
    def range_search(
        self,
        queries: NDArray[np.float32],
        radius: float,
        ef: int,
        restarts: int,
        exact: bool,
        n_threads: int,
        entry: str | None,
        prune: bool = True,
        filter: NativeFilter | None = None,
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.float32],
        NDArray[np.int64],
        dict[str, int] | None,
    ]: ...
    def memory_usage(self) -> int: ...
    def get_vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]: ...
    def neighbors(self, id: int) -> NDArray[np.int64]: ...
    def link_orphans(self) -> int: ...
    def set_codes(self, on: bool) -> None: ...
    @property
    def has_codes(self) -> bool: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    @staticmethod
    def load(path: str | PathLike[str]) -> NativeIndex: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> NativeIndex: ...
    def __len__(self) -> int: ...
    def contains(self, id: int) -> bool: ...
    def ids(self) -> NDArray[np.int64]: ...
    @property
    def dim(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def band(self) -> int | None: ...
    @property
    def dependence(self) -> str | None: ...
    @property
    def channels(self) -> int: ...
    def build_params(self) -> dict[str, int | str]: ...

def read_header(path: str | PathLike[str]) -> dict[str, int | str | float | None]: ...
