"""Data set readers: the UCR Time Series Classification Archive (:mod:`pyembed.datasets.ucr`)."""

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
