"""Shared fixtures: seeded data sets (no network, no files outside tmp_path)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def uniform32() -> tuple[np.ndarray, np.ndarray]:
    """10,000 seeded uniform 32-d vectors and 200 queries from the same distribution."""
    rng = np.random.default_rng(20261124)
    return (
        rng.random((10_000, 32), dtype=np.float32),
        rng.random((200, 32), dtype=np.float32),
    )


@pytest.fixture(scope="session")
def walks() -> tuple[np.ndarray, np.ndarray]:
    """Seeded random walks (time-series-like): 400 series and 30 queries of length 40."""
    rng = np.random.default_rng(7)
    return (
        np.cumsum(rng.normal(size=(400, 40)), axis=1).astype(np.float32),
        np.cumsum(rng.normal(size=(30, 40)), axis=1).astype(np.float32),
    )
