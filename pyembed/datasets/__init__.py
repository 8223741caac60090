"""Data set readers: the UCR Time Series Classification Archive (:mod:`pyembed.datasets.ucr`), face
arrays (:mod:`pyembed.datasets.faces`) and NumPy files (:mod:`pyembed.datasets.npz`).

Every reader either returns what its docstring promises or raises ``OSError`` (the file cannot be
opened) or ``ValueError`` (its contents are wrong), with a one-line message naming the file."""

from __future__ import annotations

from pyembed.datasets.ucr import (
    PublishedRow,
    UCRSplit,
    band_from_pct,
    list_bundled,
    list_datasets,
    load_pair,
    load_ucr,
    published_error,
    published_table,
    read_file,
    read_ts,
    read_tsv,
    read_txt,
    resolve_band,
    wants_learned_band,
    znormalize,
)

__all__ = [
    "PublishedRow",
    "UCRSplit",
    "band_from_pct",
    "list_bundled",
    "list_datasets",
    "load_pair",
    "load_ucr",
    "published_error",
    "published_table",
    "read_file",
    "read_ts",
    "read_tsv",
    "read_txt",
    "resolve_band",
    "wants_learned_band",
    "znormalize",
]
