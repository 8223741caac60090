"""Readers for the UCR and UEA Time Series Classification Archives, and the UCR's published 1-NN
error table.

This module owns everything pyembed knows about UCR/UEA data on disk:

- one reader per file format: :func:`read_tsv` (the 2018 archive's ``<Name>_TRAIN.tsv``),
  :func:`read_txt` (the classic ``.txt``/``.csv`` files) and :func:`read_ts` (the aeon/sktime
  ``.ts`` text format, univariate or multivariate), and :func:`read_file`, which picks one by
  extension;
- :func:`load_ucr`, which finds ``<Name>/<Name>_<SPLIT>.tsv|.txt|.csv|.ts`` in a directory laid
  out like the archives (the UEA multivariate archive has the same layout), or in the small copies
  bundled with pyembed (:func:`list_bundled`), and :func:`load_pair`, both splits at once;
- :func:`znormalize` (z-normalization of each channel of each series) and :func:`band_from_pct`
  (the archive's window percentage as a Sakoe-Chiba radius in samples);
- :func:`published_table`, the archive's own 1-NN test errors (``DataSummary.csv``) for all 128
  data sets, and the policy that ties a run to them: :func:`resolve_band` (which DTW band a
  run uses: the archive's learned window, full DTW, a radius or a percentage) and
  :func:`published_error` (which published figure, if any, that run reproduces).

Decisions that hold for every reader:

- ``UCRSplit.X`` has one of three forms, aeon's conventions for a collection of series:
  a 2-D float32 array ``(n, length)`` for a univariate equal-length data set (the common case, and
  the form the index stores directly); a 3-D float32 array ``(n, channels, length)`` for a
  multivariate equal-length one; and a list of ``n`` 2-D float32 arrays ``(channels, length_i)``
  for a variable-length one, univariate ones included (``(1, length_i)``). Nothing is padded,
  truncated or resampled: each series keeps its own length.
- A ``.ts`` file's header decides its form: ``@univariate false`` with ``@dimensions d`` (or
  ``@dimension d``, as aeon writes it) makes it multivariate, ``@equalLength false`` makes it
  variable-length (the list form, even when the series of one split happen to share a length, so
  both splits of a data set get the same form). Without those lines a file is univariate and
  equal-length, the format's defaults, so a line with more channels or another length than the
  header allows is an error naming the line: a line cut short never passes for a shorter series.
- ``.tsv``, ``.txt`` and ``.csv`` files are univariate. Every row has the same number of fields; NaN
  at the end of a row is padding (the 2018 archive pads its variable-length "Vary" sets that way)
  and is dropped, so rows with different padding make a variable-length data set (the list form).
- :attr:`UCRSplit.length` exists only when every series has one length: on a variable-length
  data set it raises ``ValueError`` (use :attr:`UCRSplit.lengths`). Every caller uses it as an
  array width or a band limit, so an error naming the data set where it is used beats a ``None``
  that fails later, elsewhere.
- A missing value (``NaN`` followed by a number in ``.tsv``/``.txt``, ``?`` or ``NaN`` anywhere in
  ``.ts``) is rejected, and so are time-stamped ``.ts`` files.
- Nothing is normalized while reading: call :func:`znormalize` yourself (the archive's published
  errors are for z-normalized series, and some archive files ship un-normalized).
- Class labels come back as an ``int64`` array when every label of the file is an integer (``1``,
  ``-1``, ``1.0000000e+00``), otherwise as an array of ``str``, spelled as in the file.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable
    from typing import TypeAlias

    _Source: TypeAlias = Path | Traversable

__all__ = [
    "SPLITS",
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

SPLITS = ("TRAIN", "TEST")
"""The two splits of every archive data set, spelled as in its file names."""

# Extensions tried by load_ucr, in this order: the 2018 archive first, then the older formats.
_EXTENSIONS = (".tsv", ".txt", ".csv", ".ts")

_PACKAGE = "pyembed"
_BUNDLED_DIR = ("data", "ucr")
_PUBLISHED_FILE = ("data", "ucr_published.csv")

_FILE_NAME = re.compile(r"^(?P<name>.+)_(?P<split>TRAIN|TEST)$", re.IGNORECASE)
_CLASSIC_SEPARATOR = re.compile(r"[,\s]+")

Labels = NDArray[Any]
"""Class labels, shape ``(n,)``: ``int64`` when every label is an integer, else ``str``."""

SeriesCollection = NDArray[np.float32] | list[NDArray[np.float32]]
"""The series of a split: ``(n, length)`` or ``(n, channels, length)`` float32 arrays, or a list of
``n`` float32 arrays ``(channels, length_i)`` (variable-length data sets)."""


@dataclass(frozen=True, eq=False)
class UCRSplit:
    """One split (train or test) of a UCR or UEA data set.

    Attributes
    ----------
    X : numpy.ndarray or list of numpy.ndarray, float32
        The series exactly as stored in the file (not normalized), in one of three forms:

        - shape ``(n, length)``, one series a row: a univariate equal-length data set;
        - shape ``(n, channels, length)``: a multivariate equal-length data set;
        - a list of ``n`` arrays of shape ``(channels, length_i)``: a variable-length data set
          (``channels`` is 1 for a univariate one). Each series keeps its own length; nothing is
          padded.
    y : numpy.ndarray, shape (n,)
        Class labels: ``int64`` when every label is an integer, otherwise ``str``.
    name : str
        The data set's name, e.g. ``"GunPoint"``.
    split : str
        ``"TRAIN"`` or ``"TEST"`` (``""`` when a file name does not say).
    """

    # Any rather than SeriesCollection until every caller handles the 3-D and list forms (a
    # caller that slices X and reads .shape would not type-check); the docstring gives the forms.
    X: Any
    y: Labels
    name: str
    split: str

    @property
    def n(self) -> int:
        """Number of series."""
        return len(self.X)

    @property
    def equal_length(self) -> bool:
        """Whether ``X`` is one array, every series with the same length (False for the list
        form of a variable-length data set, even when its series happen to share a length)."""
        return isinstance(self.X, np.ndarray)

    @property
    def channels(self) -> int:
        """Channels (dimensions) per series: 1 for a univariate data set (0 for an empty list)."""
        if isinstance(self.X, np.ndarray):
            return 1 if self.X.ndim == 2 else int(self.X.shape[1])
        return int(self.X[0].shape[0]) if self.X else 0

    @property
    def lengths(self) -> NDArray[np.int64]:
        """Samples per series (per channel), shape ``(n,)``, int64."""
        if isinstance(self.X, np.ndarray):
            return np.full(self.X.shape[0], self.X.shape[-1], dtype=np.int64)
        return np.array([series.shape[1] for series in self.X], dtype=np.int64)

    @property
    def length(self) -> int:
        """Samples per series (per channel): the last axis of ``X``.

        Raises
        ------
        ValueError
            For a variable-length data set (``X`` a list), which has no single length; use
            :attr:`lengths`.
        """
        if isinstance(self.X, np.ndarray):
            return int(self.X.shape[-1])
        lengths = self.lengths
        span = f"{lengths.min()} to {lengths.max()} samples" if lengths.size else "no series"
        raise ValueError(
            f"data set {self.name!r} ({self.split or 'a split'}) has variable-length series "
            f"({span}), so no single length; use the per-series lengths"
        )

    @property
    def classes(self) -> Labels:
        """The sorted distinct labels, shape ``(n_classes,)``."""
        return np.unique(self.y)


@dataclass(frozen=True)
class PublishedRow:
    """One row of the archive's ``DataSummary.csv``: published 1-NN test error rates.

    Errors are fractions of the test set misclassified (0.0867 is 8.67 %), as printed by the archive
    with 4 decimals. Every 1-NN figure is for z-normalized series.

    Attributes
    ----------
    name, type : str
        Data set name and the archive's problem type (``"Image"``, ``"Sensor"``, ...).
    n_train, n_test, n_classes : int
        Train and test sizes and the number of classes.
    length : int or None
        Samples per series; ``None`` for the archive's variable-length (``"Vary"``) data sets.
    ed_error : float
        1-NN error with Euclidean distance (DTW with window 0).
    dtw_learned_error : float
        1-NN error with DTW and the Sakoe-Chiba window learned on the training set.
    dtw_learned_window_pct : int
        That learned window as a percentage of the series length; :func:`band_from_pct` turns it
        into a radius in samples.
    dtw_full_error : float
        1-NN error with unconstrained DTW (window 100 %).
    default_rate : float
        Error of always predicting the majority class.
    """

    name: str
    type: str
    n_train: int
    n_test: int
    n_classes: int
    length: int | None
    ed_error: float
    dtw_learned_error: float
    dtw_learned_window_pct: int
    dtw_full_error: float
    default_rate: float


# --------------------------------------------------------------------------------------------------
# Small helpers


def band_from_pct(pct: float, length: int) -> int:
    """Turn a window given as a percentage of the series length into a Sakoe-Chiba radius.

    The radius is ``pct / 100 * length`` rounded half away from zero. This is the rule that
    reproduces the archive's published "DTW (learned_w)" errors: OSULeaf's learned window is 7 % of
    427 samples = 29.89, and only a radius of 30 (not ``floor`` = 29) gives the published error
    0.3884.

    Parameters
    ----------
    pct : float
        Window in percent of ``length``, ``0 <= pct <= 100``.
    length : int
        Samples per series, ``>= 1``.

    Returns
    -------
    int
        The band radius in samples, between 0 and ``length``.

    Raises
    ------
    ValueError
        If ``pct`` is outside ``[0, 100]`` or not finite, or ``length < 1``.
    """
    if isinstance(length, bool) or int(length) != length or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    pct = float(pct)
    if not math.isfinite(pct) or not 0.0 <= pct <= 100.0:
        raise ValueError(f"pct must be a percentage between 0 and 100, got {pct!r}")
    # pct * length / 100 is exact for integer percentages, so halves such as 2.5 stay halves.
    return int(math.floor(pct * int(length) / 100.0 + 0.5))


def znormalize(X: ArrayLike | list[NDArray[Any]]) -> SeriesCollection:
    """Z-normalize every channel of every series to mean 0 and standard deviation 1.

    Each channel of each series becomes ``(x - mean(x)) / std(x)``, over its own samples, with the
    population standard deviation (``ddof=0``), computed in float64: a univariate series is
    normalized as a whole, a multivariate one channel by channel (as the UEA archive's normalized
    files and aeon's ``Normalizer`` do), never across channels or across series. A constant
    channel (all values equal, so ``std = 0``) becomes all zeros rather than ``NaN``: it carries no
    shape, and zeros keep distances finite.

    The archive's own files are normalized with the sample standard deviation (``ddof=1``); the
    two differ by the factor ``sqrt(length / (length - 1))``, the same for every series of an
    equal-length data set, so nearest neighbors and 1-NN errors do not change.

    Parameters
    ----------
    X : array_like or list of numpy.ndarray
        Real-valued finite series in one of the forms of :attr:`UCRSplit.X`: shape
        ``(n, length)`` (one series a row), shape ``(n, channels, length)``, or a non-empty list
        (or tuple) of 2-D numpy arrays ``(channels, length_i)``. A list whose items are not all 2-D
        numpy arrays is read as one array (a list of rows is 2-D).

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray, float32
        New arrays in the form of ``X``: an array of the same shape, or a list of arrays of the
        items' shapes. ``X`` is not modified.

    Raises
    ------
    ValueError
        If ``X`` is an array neither 2-D nor 3-D, a list item contains NaN or infinity (the
        message names the item), or ``X`` contains NaN or infinity.
    """
    if (
        isinstance(X, (list, tuple))
        and X
        and all(isinstance(item, np.ndarray) and item.ndim == 2 for item in X)
    ):
        out = []
        for i, item in enumerate(X):
            values = np.asarray(item, dtype=np.float64)
            if not np.isfinite(values).all():
                raise ValueError(
                    f"X[{i}] contains NaN or infinity; z-normalization needs finite values"
                )
            out.append(_znormalize_last_axis(values))
        return out
    try:
        values = np.asarray(X, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(
            "X must be a 2-D (n, length) or 3-D (n, channels, length) array of real numbers, or "
            f"a list of 2-D (channels, length) numpy arrays: {exc}"
        ) from None
    if values.ndim not in (2, 3):
        raise ValueError(
            "X must be 2-D (n, length) or 3-D (n, channels, length), got an array with "
            f"{values.ndim} dimensions"
        )
    if not np.isfinite(values).all():
        raise ValueError("X contains NaN or infinity; z-normalization needs finite values")
    return _znormalize_last_axis(values)


def _znormalize_last_axis(values: NDArray[np.float64]) -> NDArray[np.float32]:
    """``values`` z-normalized along the last axis (each channel of each series), as float32."""
    if values.shape[-1] == 0:
        return values.astype(np.float32)
    mean = values.mean(axis=-1, keepdims=True)
    std = values.std(axis=-1, keepdims=True)
    constant = (values.max(axis=-1) == values.min(axis=-1))[..., None]
    safe_std = np.where(constant, 1.0, std)
    out = np.where(constant, 0.0, (values - mean) / safe_std)
    return np.ascontiguousarray(out, dtype=np.float32)


# --------------------------------------------------------------------------------------------------
# Shared parsing: every reader produces (line number, label, values) rows, values of shape
# (channels, length) with any padding removed; _assemble checks them and builds X.


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _number(text: str) -> float | None:
    """``text`` as a number, or None. Only ASCII decimal notation counts: Python's ``float`` also
    takes ``1_000`` and non-ASCII digits, which no data file means as numbers."""
    if not text.isascii() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


_Row = tuple[int, str, NDArray[np.float64]]
"""(line number, label, values of shape ``(channels, length)``) of one series."""


def _labels(rows: list[_Row], source: str) -> Labels:
    """Labels as int64 if every one is an integer (``"1"``, ``"1.0000000e+00"``), else as str.

    An empty label, one with a NUL character, a numeric one that is NaN or infinite (a missing
    label), and an integer beyond int64 are errors naming the line.
    """
    converted: list[int] = []
    as_text = False
    for line_no, text, _ in rows:
        if not text:
            raise ValueError(f"{source}: line {line_no} has an empty class label")
        if "\x00" in text:  # numpy str arrays drop trailing NULs, which would change the label
            raise ValueError(
                f"{source}: line {line_no} has a NUL character in the class label {text!r}"
            )
        number = _number(text)
        if number is None:
            as_text = True
            continue
        if not math.isfinite(number):
            raise ValueError(
                f"{source}: line {line_no} has the class label {text!r}, which is not a class "
                "(a missing label?)"
            )
        if as_text or not number.is_integer():
            as_text = True
            continue
        try:
            value = int(text)  # exact for long integers, which float would round
        except ValueError:
            value = int(number)
        if not -(2**63) <= value < 2**63:
            raise ValueError(
                f"{source}: line {line_no} has the class label {text}, beyond the int64 range"
            )
        converted.append(value)
    if as_text:
        return np.array([text for _, text, _ in rows], dtype=np.str_)
    return np.array(converted, dtype=np.int64)


def _floats(
    tokens: list[str], source: str, line_no: int, channel: int | None = None
) -> NDArray[np.float64]:
    """``tokens`` as float64; a non-number is an error naming the line, the channel (when
    ``channel``, 1-based, is given) and the value's position."""
    joined = "".join(tokens)
    if joined.isascii() and "_" not in joined:
        try:
            return np.array([float(token) for token in tokens], dtype=np.float64)
        except ValueError:
            pass
    where = f"line {line_no}" if channel is None else f"line {line_no}, channel {channel}"
    for column, token in enumerate(tokens, start=1):
        if _number(token) is None:
            raise ValueError(f"{source}: {where}, value {column}: expected a number, got {token!r}")
    raise AssertionError("unreachable: some token is not a number")  # pragma: no cover


def _position(values: NDArray[np.float64], index: NDArray[np.intp]) -> str:
    """``"sample 3"``, or ``"sample 3 of channel 2"`` when ``values`` has several channels."""
    channel, sample = (int(i) for i in index)
    if values.shape[0] == 1:
        return f"sample {sample + 1}"
    return f"sample {sample + 1} of channel {channel + 1}"


def _assemble(rows: list[_Row], source: str, name: str, split: str, *, variable: bool) -> UCRSplit:
    """Check rows for emptiness and missing, infinite or too large values, then build ``X``.

    ``rows`` holds (line number, label, values of shape ``(channels, length)``) with any padding
    removed. The parsers have checked that every row has the same channels and, unless
    ``variable``, the same length. ``variable`` gives the list form of ``X``; otherwise ``X`` is
    ``(n, length)`` for one channel and ``(n, channels, length)`` for several.
    """
    if not rows:
        raise ValueError(f"{source}: the file contains no series")
    for line_no, _, values in rows:
        if values.shape[1] == 0:
            raise ValueError(f"{source}: line {line_no} has a label but no values")
        missing = np.argwhere(np.isnan(values))
        if missing.size:
            raise ValueError(
                f"{source}: line {line_no} has a missing value (NaN) at "
                f"{_position(values, missing[0])} inside the series; missing values are not "
                "supported"
            )
        infinite = np.argwhere(~np.isfinite(values))
        if infinite.size:
            raise ValueError(
                f"{source}: line {line_no} has an infinite value at "
                f"{_position(values, infinite[0])}"
            )
        too_large = np.argwhere(np.abs(values) > _FLOAT32_MAX)
        if too_large.size:
            raise ValueError(
                f"{source}: line {line_no} has the value {values[tuple(too_large[0])]:g} at "
                f"{_position(values, too_large[0])}, beyond the float32 range (3.4e38)"
            )
    y = _labels(rows, source)
    X: SeriesCollection
    if variable:
        X = [np.ascontiguousarray(values, dtype=np.float32) for _, _, values in rows]
    else:
        channels, length = rows[0][2].shape
        shape = (len(rows), length) if channels == 1 else (len(rows), channels, length)
        X = np.empty(shape, dtype=np.float32)
        for i, (_, _, values) in enumerate(rows):
            X[i] = values[0] if channels == 1 else values
    return UCRSplit(X=X, y=y, name=name, split=split)


def _name_split(file_name: str) -> tuple[str, str]:
    """``"GunPoint_TRAIN.tsv"`` -> ``("GunPoint", "TRAIN")``; other names keep their stem."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    match = _FILE_NAME.match(stem)
    if match is None:
        return stem, ""
    return match.group("name"), match.group("split").upper()


def _read_text(source: _Source) -> str:
    """The file as text: UTF-8, a leading byte-order mark dropped, newlines made ``\\n``."""
    try:
        return source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{source}: not a UTF-8 text file (byte {exc.start + 1}: {exc.reason})"
        ) from None


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their numbers, trailing white space removed.

    Lines end at ``\\n`` only (``str.splitlines`` also splits at form feeds and other
    separators, so its line numbers would not be the ones an editor shows).
    """
    for line_no, line in enumerate(text.split("\n"), start=1):
        stripped = line.rstrip()
        if stripped.strip():
            yield line_no, stripped


def _parse_tsv(text: str, source: str, name: str, split: str) -> UCRSplit:
    rows = []
    for line_no, line in _lines(text):
        # Leading spaces are tolerated; a leading tab is an empty label, not a shifted row.
        label, *tokens = [token.strip() for token in line.lstrip(" ").split("\t")]
        rows.append((line_no, label, _floats(tokens, source, line_no)))
    return _assemble_padded(rows, source, name, split)


def _parse_txt(text: str, source: str, name: str, split: str) -> UCRSplit:
    rows = []
    for line_no, line in _lines(text):
        label, *tokens = _CLASSIC_SEPARATOR.split(line.strip(", \t"))
        rows.append((line_no, label, _floats(tokens, source, line_no)))
    return _assemble_padded(rows, source, name, split)


def _assemble_padded(
    rows: list[tuple[int, str, NDArray[np.float64]]], source: str, name: str, split: str
) -> UCRSplit:
    """Univariate rows of one width (else the file is ragged), trailing NaNs dropped as padding.

    Rows whose padding differs make a variable-length data set; a NaN followed by a number stays
    in the series, where :func:`_assemble` rejects it as a missing value.
    """
    if rows:
        first_line, _, first = rows[0]
        for line_no, _, values in rows:
            if values.shape[0] != first.shape[0]:
                raise ValueError(
                    f"{source}: ragged file: line {line_no} has {values.shape[0]} values but line "
                    f"{first_line} has {first.shape[0]}"
                )
    series: list[_Row] = []
    lengths = set()
    for line_no, label, values in rows:
        present = np.flatnonzero(~np.isnan(values))
        length = int(present[-1]) + 1 if present.size else 0
        series.append((line_no, label, values[None, :length]))
        lengths.add(length)
    return _assemble(series, source, name, split, variable=len(lengths) > 1)


# The .ts header keys whose value is true or false (@classLabel may list the labels after it).
_TS_FLAGS = ("timestamps", "missing", "univariate", "equallength", "classlabel", "targetlabel")
# The channel-count keys as the format spells them, for messages (keys are case-insensitive).
_TS_SPELLING = {"dimensions": "@dimensions", "dimension": "@dimension"}


@dataclass(frozen=True)
class _TsHeader:
    """What a .ts header allows of the data lines."""

    labels: set[str] | None
    """The class labels @classLabel declares; None: any."""
    channels: int | None
    """Channels every data line has; None: as many as the first data line."""
    channels_rule: str
    """Where ``channels`` comes from, to end a message "line 9 has 2 channels but ..."."""
    variable: bool
    """@equalLength false: series may differ in length (the list form of X)."""
    equal_rule: str
    """Where equal length comes from, for the message when two lengths differ."""


def _parse_ts(text: str, source: str, name: str, split: str) -> UCRSplit:
    lines = ((line_no, line.strip()) for line_no, line in _lines(text))
    lines = ((line_no, line) for line_no, line in lines if not line.startswith("#"))
    header: dict[str, tuple[int, str]] = {}
    for line_no, line in lines:
        if not line.startswith("@"):
            raise ValueError(
                f"{source}: line {line_no}: expected a header line starting with '@' before @data"
            )
        key, _, value = line[1:].partition(" ")
        key = key.lower()
        if key == "data":
            break
        header[key] = (line_no, value.strip())
    else:
        raise ValueError(f"{source}: no @data line, so the file contains no series")
    rules = _check_ts_header(header, source)
    timestamps = _ts_flag(header, "timestamps", source)
    rows: list[_Row] = []
    for line_no, line in lines:
        if timestamps or line.startswith("("):
            raise ValueError(f"{source}: time-stamped .ts data is not supported")
        *channel_texts, label = line.split(":")
        if not channel_texts:
            raise ValueError(f"{source}: line {line_no} has no class label after ':'")
        label = label.strip()
        if rules.labels is not None and label not in rules.labels:
            raise ValueError(
                f"{source}: line {line_no} has the class label {label!r}, which @classLabel does "
                f"not declare (it declares {', '.join(sorted(rules.labels))})"
            )
        n_channels = len(channel_texts)
        expected, rule = rules.channels, rules.channels_rule
        if expected is None:  # as many as the first series
            expected = n_channels if not rows else rows[0][2].shape[0]
            rule = f"line {rows[0][0]} has {expected}" if rows else ""
        if n_channels != expected:
            raise ValueError(
                f"{source}: line {line_no} has {n_channels} channel"
                f"{'' if n_channels == 1 else 's'} (':'-separated) but {rule}"
            )
        channels = []
        for channel, channel_text in enumerate(channel_texts, start=1):
            tokens = [token.strip() for token in channel_text.split(",")]
            tokens = ["nan" if token == "?" else token for token in tokens]
            channels.append(_floats(tokens, source, line_no, channel if n_channels > 1 else None))
        for channel, values in enumerate(channels[1:], start=2):
            if values.shape[0] != channels[0].shape[0]:
                raise ValueError(
                    f"{source}: line {line_no}: channel {channel} has {values.shape[0]} values "
                    f"but channel 1 has {channels[0].shape[0]}; every channel of a series must "
                    "have the same length"
                )
        rows.append((line_no, label, np.stack(channels)))
    if rows and not rules.variable:
        first_line, _, first = rows[0]
        for line_no, _, values in rows:
            if values.shape[1] != first.shape[1]:
                raise ValueError(
                    f"{source}: line {line_no} has a series of {values.shape[1]} samples but line "
                    f"{first_line} has {first.shape[1]}; {rules.equal_rule}"
                )
        if "serieslength" in header:
            line_no, value = header["serieslength"]
            if int(value) != first.shape[1]:
                raise ValueError(
                    f"{source}: line {line_no} declares @seriesLength {value} but the series have "
                    f"{first.shape[1]} values (line {first_line})"
                )
    return _assemble(rows, source, name, split, variable=rules.variable)


def _ts_flag(header: dict[str, tuple[int, str]], key: str, source: str) -> bool | None:
    """A true/false header value (None when absent); anything else is an error naming the line."""
    if key not in header:
        return None
    line_no, value = header[key]
    word = value.split(" ", 1)[0].lower()
    if word not in ("true", "false"):
        raise ValueError(
            f"{source}: line {line_no}: @{key} must be true or false, got {value or '(nothing)'!r}"
        )
    return word == "true"


def _check_ts_header(header: dict[str, tuple[int, str]], source: str) -> _TsHeader:
    """Check the header before @data; return what it allows of the data lines."""
    flags = {key: _ts_flag(header, key, source) for key in _TS_FLAGS}
    for key in ("dimensions", "dimension", "serieslength"):
        if key in header:
            line_no, value = header[key]
            if not (value.isascii() and value.isdigit() and int(value) >= 1):
                raise ValueError(
                    f"{source}: line {line_no}: @{key} must be a positive integer, got {value!r}"
                )
    declared = [(key, *header[key]) for key in ("dimensions", "dimension") if key in header]
    if len(declared) == 2 and int(declared[0][2]) != int(declared[1][2]):
        raise ValueError(
            f"{source}: line {declared[0][1]} declares @dimensions {declared[0][2]} but line "
            f"{declared[1][1]} declares @dimension {declared[1][2]}"
        )
    channels: int | None
    if declared:
        key, line_no, value = declared[0]
        channels = int(value)
        channels_rule = f"line {line_no} declares {_TS_SPELLING[key]} {channels}"
        if flags["univariate"] is True and channels != 1:
            raise ValueError(
                f"{source}: line {line_no} declares {_TS_SPELLING[key]} {channels} but line "
                f"{header['univariate'][0]} declares @univariate true"
            )
    elif flags["univariate"] is False:
        channels, channels_rule = None, ""
    else:
        channels = 1
        channels_rule = (
            f"line {header['univariate'][0]} declares @univariate true (one channel a series)"
            if flags["univariate"]
            else "the header has no @univariate false or @dimensions line, so the file is "
            "univariate (one channel a series)"
        )
    if flags["equallength"] is True:
        equal_rule = f"line {header['equallength'][0]} declares @equalLength true"
    else:
        equal_rule = (
            "the header has no @equalLength false line, so every series must have the same "
            "length (a variable-length file declares @equalLength false)"
        )
    if flags["classlabel"] is False:
        raise ValueError(f"{source}: the file has no class labels (@classLabel false)")
    if flags["targetlabel"] is True:
        raise ValueError(
            f"{source}: the file is a regression problem (@targetLabel true); pyembed reads "
            "classification labels"
        )
    labels = None
    if flags["classlabel"] is not None:
        listed = header["classlabel"][1].split()[1:]
        labels = set(listed) if listed else None
    return _TsHeader(
        labels=labels,
        channels=channels,
        channels_rule=channels_rule,
        variable=flags["equallength"] is False,
        equal_rule=equal_rule,
    )


_Parser = Callable[[str, str, str, str], UCRSplit]
_PARSERS: dict[str, _Parser] = {
    ".tsv": _parse_tsv,
    ".txt": _parse_txt,
    ".csv": _parse_txt,
    ".ts": _parse_ts,
}


def _read(source: _Source, parser: _Parser) -> UCRSplit:
    name, split = _name_split(source.name)
    return parser(_read_text(source), str(source), name, split)


def read_file(path: str | Path) -> UCRSplit:
    """Read one UCR file with the reader its extension names (any case).

    ``.tsv`` goes to :func:`read_tsv`, ``.txt`` and ``.csv`` to :func:`read_txt`, ``.ts`` to
    :func:`read_ts`. Nothing is guessed from the contents: a file with another extension is an
    error rather than a reader's best effort.

    Parameters
    ----------
    path : str or pathlib.Path
        A file such as ``GunPoint/GunPoint_TEST.ts``; ``name`` and ``split`` of the result come
        from the file name.

    Returns
    -------
    UCRSplit
        ``X`` float32, not normalized, in the form of the data set (see :class:`UCRSplit`), and
        ``y`` of shape ``(n,)``.

    Raises
    ------
    ValueError
        If the extension is none of ``.tsv``, ``.txt``, ``.csv``, ``.ts``, or the file is malformed
        (see the readers). The message names the file.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    parser = _PARSERS.get(path.suffix.lower())
    if parser is None:
        known = ", ".join(_PARSERS)
        raise ValueError(
            f"{path}: unknown UCR file extension {path.suffix or '(none)'!r}; expected one of "
            f"{known}"
        )
    return _read(path, parser)


def read_tsv(path: str | Path) -> UCRSplit:
    """Read a 2018-archive ``.tsv`` file: one series a line, the label, then tab-separated values.

    Parameters
    ----------
    path : str or pathlib.Path
        A file such as ``GunPoint/GunPoint_TRAIN.tsv``; ``name`` and ``split`` of the result come
        from the file name.

    Returns
    -------
    UCRSplit
        ``y`` of shape ``(n,)`` and ``X``, float32: of shape ``(n, length)``, or, when the rows end
        in different amounts of NaN padding (a variable-length data set), a list of ``n`` arrays
        of shape ``(1, length_i)``, the padding removed.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is empty, has rows of different widths (fields per line), a non-number, a
        NaN inside a series (followed by a number), or a row with only NaN. The message names the
        file.
    """
    return _read(Path(path), _parse_tsv)


def read_txt(path: str | Path) -> UCRSplit:
    """Read a classic UCR ``.txt`` or ``.csv`` file: label first, then values.

    Values are separated by whitespace, commas, or both. As in :func:`read_tsv`, NaN at the end of
    a row is padding.

    Parameters
    ----------
    path : str or pathlib.Path
        A file such as ``Coffee/Coffee_TRAIN.txt``.

    Returns
    -------
    UCRSplit
        ``y`` of shape ``(n,)`` and ``X``, float32: of shape ``(n, length)``, or, when the rows end
        in different amounts of NaN padding, a list of ``n`` arrays of shape ``(1, length_i)``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is empty, ragged (rows of different widths), or has a non-number or a NaN
        inside a series. The message names the file.
    """
    return _read(Path(path), _parse_txt)


def read_ts(path: str | Path) -> UCRSplit:
    """Read an aeon/sktime ``.ts`` file: univariate or multivariate, equal- or variable-length.

    The file has ``#`` comments, ``@`` header lines, then ``@data`` and one series a line: for
    each channel its comma-separated values followed by ``:``, then the class label. ``?`` marks a
    missing value. The header's ``@univariate false`` with ``@dimensions d`` (or ``@dimension d``)
    declares ``d`` channels; without them a file is univariate. ``@equalLength false`` declares
    series of different lengths; without it every series must have the same length. Every channel
    of a series has the same length, and every series the same channels.

    Parameters
    ----------
    path : str or pathlib.Path
        A file such as ``GunPoint/GunPoint_TRAIN.ts`` or ``BasicMotions/BasicMotions_TRAIN.ts``.

    Returns
    -------
    UCRSplit
        ``y`` of shape ``(n,)`` and ``X``, float32: of shape ``(n, length)`` for a univariate
        equal-length file, ``(n, channels, length)`` for a multivariate one, and, for
        ``@equalLength false``, a list of ``n`` arrays of shape ``(channels, length_i)``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is time-stamped, unlabeled, empty, has a missing value or a non-number, a
        line whose channels or length the header does not allow, channels of different lengths
        in one series, or a header that contradicts itself. The message names the file and,
        where there is one, the line.
    """
    return _read(Path(path), _parse_ts)


# --------------------------------------------------------------------------------------------------
# Finding data sets


def _bundled_root() -> Traversable:
    root = resources.files(_PACKAGE)
    for part in _BUNDLED_DIR:
        root = root / part
    return root


def _dataset_names(root: _Source) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(child.name for child in root.iterdir() if child.is_dir())


def list_bundled() -> list[str]:
    """Names of the UCR data sets that ship inside pyembed, sorted.

    Returns
    -------
    list of str
        E.g. ``["ArrowHead", "Coffee", "GunPoint", "ItalyPowerDemand"]``.
    """
    return _dataset_names(_bundled_root())


def list_datasets(data_dir: str | Path | None = None) -> list[str]:
    """Names of the data sets (sub-folders) in ``data_dir``, or the bundled ones when ``None``.

    Parameters
    ----------
    data_dir : str or pathlib.Path or None
        A directory laid out like the archive (``<Name>/<Name>_TRAIN.tsv`` ...).

    Returns
    -------
    list of str
        Sorted folder names.

    Raises
    ------
    FileNotFoundError
        If ``data_dir`` is given but is not a directory.
    """
    if data_dir is None:
        return list_bundled()
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(
            f"data directory {str(root)!r} does not exist or is not a directory"
        )
    return _dataset_names(root)


def _normalize_split(split: str) -> str:
    upper = str(split).upper()
    if upper not in SPLITS:
        raise ValueError(f"split must be 'TRAIN' or 'TEST' (any case), got {split!r}")
    return upper


def load_ucr(name: str, split: str, data_dir: str | Path | None = None) -> UCRSplit:
    """Load one split of a UCR data set.

    Looks for ``<data_dir>/<Name>/<Name>_<SPLIT>`` with the extensions ``.tsv``, ``.txt``, ``.csv``
    and ``.ts``, in that order, and reads the first one found with the matching reader: the layout
    of the UCR archive and of the UEA multivariate archive (``BasicMotions/BasicMotions_TRAIN.ts``).
    Without
    ``data_dir`` the copies bundled with pyembed are used (see :func:`list_bundled`). A name that
    matches no folder exactly but matches one ignoring case is accepted.

    Parameters
    ----------
    name : str
        Data set name, e.g. ``"GunPoint"``.
    split : {"TRAIN", "TEST"}
        Which split; any case.
    data_dir : str or pathlib.Path or None
        Root of an archive-like directory tree; ``None`` for the bundled data.

    Returns
    -------
    UCRSplit
        ``X`` float32, not normalized, in the form of the data set (see :class:`UCRSplit`), and
        labels ``y`` of shape ``(n,)``.

    Raises
    ------
    ValueError
        If ``split`` is not TRAIN/TEST, the name is unknown (the message lists the available data
        sets), or the file is malformed (see the readers).
    FileNotFoundError
        If ``data_dir`` does not exist, or the data set folder has no file for this split.
    IsADirectoryError
        If the split's file name is taken by a directory.
    """
    source, name = _locate(name, _normalize_split(split), data_dir)
    return _read_found(source, name, _normalize_split(split))


def _locate(name: str, split: str, data_dir: str | Path | None) -> tuple[_Source, str]:
    """The file of one split (see :func:`load_ucr`) and the data set's name as its folder spells
    it."""
    root: _Source = _bundled_root() if data_dir is None else Path(data_dir)
    where = "the bundled data" if data_dir is None else repr(str(data_dir))
    available = list_datasets(data_dir)
    if name not in available:
        folded = [candidate for candidate in available if candidate.lower() == str(name).lower()]
        if len(folded) != 1:
            listing = ", ".join(available) if available else "none"
            raise ValueError(f"unknown UCR data set {name!r} in {where}; available: {listing}")
        name = folded[0]
    folder = root / name
    for extension in _EXTENSIONS:
        candidate = folder / f"{name}_{split}{extension}"
        if candidate.is_file():
            return candidate, name
        if candidate.is_dir():
            raise IsADirectoryError(errno.EISDIR, "a directory, not a data file", str(candidate))
    tried = ", ".join(f"{name}_{split}{extension}" for extension in _EXTENSIONS)
    raise FileNotFoundError(
        f"data set {name!r} in {where} has no {split} file (looked for {tried})"
    )


def _read_found(source: _Source, name: str, split: str) -> UCRSplit:
    parser = _PARSERS[source.name[source.name.rindex(".") :].lower()]
    return parser(_read_text(source), str(source), name, split)


def load_pair(
    name: str, data_dir: str | Path | None = None, *, znorm: bool = False
) -> tuple[UCRSplit, UCRSplit]:
    """Load the TRAIN and TEST splits of a UCR data set, checked to fit together.

    Both splits must have the same channels and, for an equal-length data set, the same length.
    When one split is variable-length (``X`` a list) and the other not (a ``.tsv`` split whose
    series happen to share one length), the other's ``X`` is given the list form too, its values
    unchanged, so both splits have the same form.

    Parameters
    ----------
    name : str
        Data set name, e.g. ``"GunPoint"`` (see :func:`load_ucr`).
    data_dir : str or pathlib.Path or None
        Root of an archive-like directory tree; ``None`` for the bundled data.
    znorm : bool, default False
        Z-normalize every channel of every series with :func:`znormalize` (the archive's
        published errors are for z-normalized series).

    Returns
    -------
    (UCRSplit, UCRSplit)
        TRAIN then TEST, ``X`` float32 in one form: ``(n_train, length)`` and ``(n_test, length)``,
        ``(n_train, channels, length)`` and ``(n_test, channels, length)``, or two lists of
        ``(channels, length_i)`` arrays.

    Raises
    ------
    ValueError
        If the two splits have different channels, or different lengths for an equal-length data
        set (the message names both files), or as :func:`load_ucr`.
    FileNotFoundError
        As :func:`load_ucr`.
    """
    train_file, name = _locate(name, "TRAIN", data_dir)
    test_file, _ = _locate(name, "TEST", data_dir)
    train = _read_found(train_file, name, "TRAIN")
    test = _read_found(test_file, name, "TEST")
    if train.channels != test.channels:
        raise ValueError(
            f"{test_file}: the TEST series have {test.channels} channels but the TRAIN series of "
            f"{train_file.name} have {train.channels}; both splits must have the same channels"
        )
    if train.equal_length and test.equal_length:
        if train.length != test.length:
            raise ValueError(
                f"{test_file}: the TEST series have {test.length} samples but the TRAIN series "
                f"of {train_file.name} have {train.length}; both splits must have the same length"
            )
    elif train.equal_length:
        train = dataclasses.replace(train, X=_as_list(train.X))
    elif test.equal_length:
        test = dataclasses.replace(test, X=_as_list(test.X))
    if znorm:
        train = dataclasses.replace(train, X=znormalize(train.X))
        test = dataclasses.replace(test, X=znormalize(test.X))
    return train, test


def _as_list(X: SeriesCollection) -> list[NDArray[np.float32]]:
    """The list form of ``X``: one ``(channels, length)`` array per series, values unchanged."""
    if isinstance(X, list):
        return X
    if X.ndim == 2:
        return [row[None, :].copy() for row in X]
    return [series.copy() for series in X]


# --------------------------------------------------------------------------------------------------
# The published table


@lru_cache(maxsize=1)
def _published_rows() -> tuple[PublishedRow, ...]:
    resource = resources.files(_PACKAGE)
    for part in _PUBLISHED_FILE:
        resource = resource / part
    rows = []
    for record in csv.DictReader(io.StringIO(resource.read_text(encoding="utf-8"))):
        rows.append(
            PublishedRow(
                name=record["name"],
                type=record["type"],
                n_train=int(record["n_train"]),
                n_test=int(record["n_test"]),
                n_classes=int(record["n_classes"]),
                length=int(record["length"]) if record["length"] else None,
                ed_error=float(record["ed_error"]),
                dtw_learned_error=float(record["dtw_learned_error"]),
                dtw_learned_window_pct=int(record["dtw_learned_window_pct"]),
                dtw_full_error=float(record["dtw_full_error"]),
                default_rate=float(record["default_rate"]),
            )
        )
    return tuple(rows)


def published_table() -> dict[str, PublishedRow]:
    """The archive's published 1-NN test errors for all 128 data sets of the 2018 archive.

    Read from the packaged ``pyembed/data/ucr_published.csv``, a column-for-column transcription of
    the archive's ``DataSummary.csv`` (``pyembed/data/README.md`` names the source).

    Returns
    -------
    dict of str to PublishedRow
        Keyed by data set name, in the archive's order. A new dict on every call.
    """
    return {row.name: row for row in _published_rows()}


# --------------------------------------------------------------------------------------------------
# Which band a run uses, and which published error it reproduces

LEARNED = "learned"
"""``band`` value: the Sakoe-Chiba window the archive learned on each data set's training split."""
FULL = "full"
"""``band`` value: unconstrained DTW (no band)."""


def wants_learned_band(band: str | int | None = LEARNED, band_pct: float | None = None) -> bool:
    """Whether a DTW run with these band settings needs the archive's learned window.

    Parameters
    ----------
    band : "learned", "full", int or None
        As in :func:`resolve_band`; None means ``"learned"``.
    band_pct : float or None
        As in :func:`resolve_band`.

    Returns
    -------
    bool
        True when neither a radius, a percentage nor full DTW was asked for.
    """
    return band_pct is None and band in (None, LEARNED)


def resolve_band(
    length: int,
    *,
    band: str | int | None = LEARNED,
    band_pct: float | None = None,
    published: PublishedRow | None = None,
    name: str = "the data set",
) -> int | None:
    """The DTW Sakoe-Chiba radius, in samples, that a run on one data set uses.

    Parameters
    ----------
    length : int
        Samples per series of the data set.
    band : "learned", "full", int or None, default "learned"
        ``"learned"`` (or None): the archive's learned window of ``published``, a percentage of
        ``length`` turned into samples by :func:`band_from_pct`; ``"full"``: no band; an int: a
        radius in samples, ``0 <= band <= length``. Ignored when ``band_pct`` is given.
    band_pct : float or None
        A window in percent of ``length`` (``0..100``), turned into samples by
        :func:`band_from_pct` (rounded half away from zero, the archive's convention).
    published : PublishedRow or None
        The data set's row of :func:`published_table`; needed for the learned window.
    name : str
        The data set's name, for error messages.

    Returns
    -------
    int or None
        The radius in samples, or None for full DTW.

    Raises
    ------
    ValueError
        If the learned window is asked for but ``published`` is None, ``band`` is a number outside
        ``0..length`` or an unknown word, or ``band_pct`` is outside ``0..100``.
    """
    if band_pct is not None:
        return band_from_pct(band_pct, length)
    if band == FULL:
        return None
    if band is None or band == LEARNED:
        if published is None:
            raise ValueError(f"the archive publishes no learned window for {name!r}")
        return band_from_pct(published.dtw_learned_window_pct, length)
    if isinstance(band, str) or isinstance(band, bool):
        raise ValueError(f"band must be 'learned', 'full' or a radius in samples, got {band!r}")
    radius = int(band)
    if radius < 0:
        raise ValueError(f"the band is a radius in samples and must be >= 0, got {radius}")
    if radius > length:
        raise ValueError(f"band {radius} is larger than the series length {length} of {name}")
    return radius


def published_error(
    published: PublishedRow | None,
    *,
    metric: str,
    band: int | None,
    length: int,
    k: int = 1,
) -> float | None:
    """The archive's 1-NN test error that a run with these settings reproduces, if there is one.

    The archive publishes three figures per data set, all for 1-NN on z-normalized series:
    Euclidean, DTW with the learned window, and full DTW. A DTW radius of ``length - 1`` or more
    allows every warping path, so it is full DTW; a radius of 0 allows only the diagonal, so it is
    the Euclidean distance.

    Parameters
    ----------
    published : PublishedRow or None
        The data set's row of :func:`published_table`.
    metric : {"euclidean", "dtw"}
    band : int or None
        The DTW radius in samples the run used (None: full DTW); ignored for Euclidean.
    length : int
        Samples per series.
    k : int, default 1
        Neighbors that vote; the archive publishes k = 1 only.

    Returns
    -------
    float or None
        The published error (a fraction of the test set), or None when the archive has no figure
        for these settings.
    """
    if published is None or k != 1:
        return None
    if metric == "euclidean":
        return published.ed_error
    if metric != "dtw":
        raise ValueError(f"metric must be 'euclidean' or 'dtw', got {metric!r}")
    if band is None or band >= length - 1:
        return published.dtw_full_error
    if band == band_from_pct(published.dtw_learned_window_pct, length):
        return published.dtw_learned_error
    if band == 0:
        return published.ed_error
    return None
