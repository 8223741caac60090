"""UCR/UEA readers (univariate, multivariate and variable-length files, checked against aeon's
own reader where aeon is installed), z-normalization, the band rule and the packaged published
table (no index)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from pyembed.datasets import (
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

# name: (n_train, n_test, length, classes), from pyembed/data/ucr/README.md
BUNDLED = {
    "ArrowHead": (36, 175, 251, [0, 1, 2]),
    "Coffee": (28, 28, 286, [0, 1]),
    "GunPoint": (50, 150, 150, [1, 2]),
    "ItalyPowerDemand": (67, 1029, 24, [1, 2]),
}


# --------------------------------------------------------------------------------------------------
# Bundled data


def test_list_bundled() -> None:
    assert list_bundled() == sorted(BUNDLED)
    assert list_datasets() == list_bundled()


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_shapes_and_classes(name: str) -> None:
    n_train, n_test, length, classes = BUNDLED[name]
    train = load_ucr(name, "TRAIN")
    test = load_ucr(name, "test")
    for split, n in ((train, n_train), (test, n_test)):
        assert isinstance(split, UCRSplit)
        assert split.name == name
        assert split.X.shape == (n, length)
        assert split.X.dtype == np.float32
        assert split.X.flags.c_contiguous
        assert split.y.shape == (n,)
        assert split.y.dtype == np.int64
        assert np.isfinite(split.X).all()
        assert split.n == n and split.length == length
    assert train.split == "TRAIN" and test.split == "TEST"
    assert train.classes.tolist() == classes
    assert test.classes.tolist() == classes


def test_bundled_name_is_case_insensitive() -> None:
    assert load_ucr("gunpoint", "train").name == "GunPoint"


def test_bundled_values_match_the_file() -> None:
    # First values of GunPoint_TRAIN.ts line 1 and its label, read by hand from the file.
    train = load_ucr("GunPoint", "TRAIN")
    root = Path(__file__).resolve().parents[1] / "pyembed" / "data" / "ucr" / "GunPoint"
    first = next(
        line
        for line in (root / "GunPoint_TRAIN.ts").read_text().splitlines()
        if line and line[0] not in "#@"
    )
    values, label = first.rsplit(":", 1)
    expected = np.array([float(v) for v in values.split(",")], dtype=np.float32)
    np.testing.assert_array_equal(train.X[0], expected)
    assert train.y[0] == int(label)


def test_unknown_name_lists_available() -> None:
    with pytest.raises(ValueError, match=r"unknown UCR data set 'NoSuchSet'.*ArrowHead.*GunPoint"):
        load_ucr("NoSuchSet", "TRAIN")


def test_bad_split() -> None:
    with pytest.raises(ValueError, match="split must be 'TRAIN' or 'TEST'"):
        load_ucr("GunPoint", "validation")


# --------------------------------------------------------------------------------------------------
# Synthetic files in every format

ROWS = [
    (1, [0.5, 1.0, -2.0, 3.25]),
    (2, [1.5, -1.0, 0.0, 2.0]),
    (1, [0.0, 0.0, 1.0, -1.0]),
]
X_EXPECTED = np.array([values for _, values in ROWS], dtype=np.float32)
Y_EXPECTED = np.array([label for label, _ in ROWS], dtype=np.int64)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _tsv(rows: Sequence[tuple[object, Sequence[float]]]) -> str:
    return "".join("\t".join([str(label), *map(str, values)]) + "\n" for label, values in rows)


def _ts(rows: Sequence[tuple[object, Sequence[float]]], header: str = "") -> str:
    head = (
        "# a comment\n@problemName Toy\n@timeStamps false\n@univariate true\n"
        "@equalLength true\n@seriesLength 4\n@classLabel true 1 2\n" + header + "@data\n"
    )
    return head + "".join(",".join(map(str, values)) + f":{label}\n" for label, values in rows)


def test_read_tsv(tmp_path: Path) -> None:
    split = read_tsv(_write(tmp_path / "Toy_TRAIN.tsv", _tsv(ROWS)))
    np.testing.assert_array_equal(split.X, X_EXPECTED)
    np.testing.assert_array_equal(split.y, Y_EXPECTED)
    assert (split.name, split.split) == ("Toy", "TRAIN")


def test_read_txt_whitespace(tmp_path: Path) -> None:
    text = "".join(
        "  " + "  ".join(f"{v:.7e}" for v in [float(label), *values]) + "\n"
        for label, values in ROWS
    )
    split = read_txt(_write(tmp_path / "Toy_TEST.txt", text))
    np.testing.assert_array_equal(split.X, X_EXPECTED)
    np.testing.assert_array_equal(split.y, Y_EXPECTED)  # "1.0000000e+00" is the integer label 1
    assert split.y.dtype == np.int64
    assert (split.name, split.split) == ("Toy", "TEST")


def test_read_csv(tmp_path: Path) -> None:
    text = "".join(",".join([str(label), *map(str, values)]) + "\n" for label, values in ROWS)
    split = read_txt(_write(tmp_path / "Toy_TRAIN.csv", text))
    np.testing.assert_array_equal(split.X, X_EXPECTED)
    np.testing.assert_array_equal(split.y, Y_EXPECTED)


def test_read_ts(tmp_path: Path) -> None:
    split = read_ts(_write(tmp_path / "Toy_TRAIN.ts", _ts(ROWS)))
    np.testing.assert_array_equal(split.X, X_EXPECTED)
    np.testing.assert_array_equal(split.y, Y_EXPECTED)


def test_text_labels_stay_text(tmp_path: Path) -> None:
    rows: list[tuple[object, list[float]]] = [("walk", [1.0, 2.0]), ("run", [3.0, 4.0])]
    split = read_tsv(_write(tmp_path / "Toy_TRAIN.tsv", _tsv(rows)))
    assert split.y.dtype.kind == "U"
    assert split.y.tolist() == ["walk", "run"]


@pytest.mark.parametrize(
    ("file_name", "make"),
    [
        ("Toy_TRAIN.tsv", lambda: _tsv(ROWS)),
        ("Toy_TRAIN.TSV", lambda: _tsv(ROWS)),
        ("Toy_TRAIN.txt", lambda: _tsv(ROWS).replace("\t", "  ")),
        ("Toy_TRAIN.csv", lambda: _tsv(ROWS).replace("\t", ",")),
        ("Toy_TRAIN.ts", lambda: _ts(ROWS)),
    ],
)
def test_read_file_picks_the_reader_by_extension(
    file_name: str, make: Callable[[], str], tmp_path: Path
) -> None:
    split = read_file(_write(tmp_path / file_name, make()))
    np.testing.assert_array_equal(split.X, X_EXPECTED)
    np.testing.assert_array_equal(split.y, Y_EXPECTED)
    assert (split.name, split.split) == ("Toy", "TRAIN")


def test_read_file_uses_the_extension_not_the_contents(tmp_path: Path) -> None:
    # .ts text in a .tsv file is read by the .tsv reader, which rejects it (naming the file)
    with pytest.raises(ValueError, match=r"Toy_TRAIN\.tsv"):
        read_file(_write(tmp_path / "Toy_TRAIN.tsv", _ts(ROWS)))
    with pytest.raises(ValueError, match=r"unknown UCR file extension '\.arff'.*\.tsv, \.txt"):
        read_file(_write(tmp_path / "Toy_TRAIN.arff", _tsv(ROWS)))
    with pytest.raises(ValueError, match=r"extension '\(none\)'"):
        read_file(_write(tmp_path / "Toy_TRAIN", _tsv(ROWS)))
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "Missing_TRAIN.ts")


def test_load_pair(tmp_path: Path) -> None:
    train, test = load_pair("GunPoint")
    assert (train.split, test.split) == ("TRAIN", "TEST") and train.length == test.length == 150
    np.testing.assert_array_equal(train.X, load_ucr("GunPoint", "TRAIN").X)
    z_train, z_test = load_pair("GunPoint", znorm=True)
    np.testing.assert_array_equal(z_test.X, znormalize(test.X))
    np.testing.assert_array_equal(z_train.y, train.y)
    _write(tmp_path / "A" / "A_TRAIN.tsv", _tsv(ROWS))
    _write(tmp_path / "A" / "A_TEST.tsv", _tsv([(1, [1.0, 2.0])]))
    with pytest.raises(
        ValueError,
        match=r"A_TEST.tsv: the TEST series have 2 samples but the TRAIN series of "
        r"A_TRAIN.tsv have 4",
    ):
        load_pair("A", tmp_path)


def test_load_ucr_from_data_dir_each_format(tmp_path: Path) -> None:
    _write(tmp_path / "A" / "A_TRAIN.tsv", _tsv(ROWS))
    _write(tmp_path / "A" / "A_TEST.tsv", _tsv(ROWS[:1]))
    _write(tmp_path / "B" / "B_TRAIN.ts", _ts(ROWS))
    _write(tmp_path / "C" / "C_TRAIN.txt", _tsv(ROWS).replace("\t", " "))
    assert list_datasets(tmp_path) == ["A", "B", "C"]
    for name in "ABC":
        split = load_ucr(name, "TRAIN", data_dir=tmp_path)
        np.testing.assert_array_equal(split.X, X_EXPECTED)
        assert split.name == name
    assert load_ucr("A", "TEST", data_dir=str(tmp_path)).X.shape == (1, 4)
    with pytest.raises(FileNotFoundError, match=r"'B'.*no TEST file"):
        load_ucr("B", "TEST", data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"unknown UCR data set 'D'.*available: A, B, C"):
        load_ucr("D", "TRAIN", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_ucr("A", "TRAIN", data_dir=tmp_path / "missing")


def test_tsv_is_preferred_over_other_formats(tmp_path: Path) -> None:
    _write(tmp_path / "A" / "A_TRAIN.ts", _ts(ROWS[:1]))
    _write(tmp_path / "A" / "A_TRAIN.tsv", _tsv(ROWS))
    assert load_ucr("A", "TRAIN", data_dir=tmp_path).n == 3


# --------------------------------------------------------------------------------------------------
# Multivariate and variable-length files (synthetic; aeon's own files are compared below)

# Two cases of two channels and three samples: (label, channel 1, channel 2).
MV_ROWS = [
    ("walk", [0.5, 1.0, -2.0], [3.0, 4.0, 5.5]),
    ("run", [1.5, -1.0, 0.0], [2.0, 2.0, 2.0]),
]


def _ts_multivariate(header: str = "@univariate false\n@dimensions 2\n") -> str:
    lines = "".join(
        ",".join(map(str, first)) + ":" + ",".join(map(str, second)) + f":{label}\n"
        for label, first, second in MV_ROWS
    )
    return "@problemName Toy\n@timeStamps false\n" + header + "@equalLength true\n@data\n" + lines


def _assert_form(split: UCRSplit) -> None:
    """The invariants every form of X keeps: float32, C-contiguous, and properties that agree."""
    series = split.X if isinstance(split.X, list) else list(split.X)
    assert split.n == len(series) == split.y.shape[0] == split.lengths.shape[0]
    assert split.lengths.dtype == np.int64
    for one, length in zip(series, split.lengths, strict=True):
        assert one.dtype == np.float32 and one.flags.c_contiguous
        assert one.shape[-1] == length
        if isinstance(split.X, list) or split.X.ndim == 3:
            assert one.shape[0] == split.channels
    assert split.equal_length == isinstance(split.X, np.ndarray)
    if isinstance(split.X, np.ndarray):
        assert split.X.ndim == (2 if split.channels == 1 else 3)
        assert split.length == split.X.shape[-1]


@pytest.mark.parametrize(
    "header",
    [
        "@univariate false\n@dimensions 2\n",
        "@univariate false\n@dimension 2\n",  # as aeon's writer spells it
        "@univariate false\n",  # channels as the first line has them
        "@dimensions 2\n",  # @dimensions alone is enough
        "@univariate false\n@dimensions 2\n@dimension 2\n",
    ],
    ids=["dimensions", "dimension", "inferred", "dimensions-only", "both-spellings"],
)
def test_read_ts_multivariate(tmp_path: Path, header: str) -> None:
    split = read_ts(_write(tmp_path / "Toy_TRAIN.ts", _ts_multivariate(header)))
    expected = np.array([[first, second] for _, first, second in MV_ROWS], dtype=np.float32)
    assert isinstance(split.X, np.ndarray) and split.X.shape == (2, 2, 3)
    np.testing.assert_array_equal(split.X, expected)
    assert split.y.tolist() == ["walk", "run"]
    assert (split.channels, split.length, split.equal_length) == (2, 3, True)
    assert split.lengths.tolist() == [3, 3]
    _assert_form(split)


def test_read_ts_one_declared_channel_is_2d(tmp_path: Path) -> None:
    # @univariate false with one channel: the univariate form, as for any one-channel file
    text = "@univariate false\n@dimensions 1\n@data\n1,2,3:a\n4,5,6:b\n"
    split = read_ts(_write(tmp_path / "Toy_TRAIN.ts", text))
    np.testing.assert_array_equal(split.X, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    assert split.channels == 1
    _assert_form(split)


def test_read_ts_variable_length(tmp_path: Path) -> None:
    text = (
        "@univariate true\n@equalLength false\n@classLabel true 1 2\n@data\n"
        "1.0,2.0,3.0,4.0:1\n5.0,6.0:2\n7.0,8.0,9.0:1\n"
    )
    split = read_ts(_write(tmp_path / "Toy_TRAIN.ts", text))
    assert isinstance(split.X, list) and len(split.X) == 3
    for series, values in zip(split.X, [[1, 2, 3, 4], [5, 6], [7, 8, 9]], strict=True):
        np.testing.assert_array_equal(series, np.array([values], dtype=np.float32))
    assert split.lengths.tolist() == [4, 2, 3]
    assert (split.channels, split.equal_length) == (1, False)
    assert split.y.tolist() == [1, 2, 1] and split.y.dtype == np.int64
    _assert_form(split)


def test_read_ts_multivariate_variable_length(tmp_path: Path) -> None:
    text = "@univariate false\n@dimensions 2\n@equalLength false\n@data\n1,2,3:4,5,6:a\n7:8:b\n"
    split = read_ts(_write(tmp_path / "Toy_TRAIN.ts", text))
    assert isinstance(split.X, list)
    np.testing.assert_array_equal(split.X[0], np.array([[1, 2, 3], [4, 5, 6]], np.float32))
    np.testing.assert_array_equal(split.X[1], np.array([[7], [8]], np.float32))
    assert (split.channels, split.lengths.tolist()) == (2, [3, 1])
    _assert_form(split)


def test_read_ts_declared_variable_length_keeps_the_list_form(tmp_path: Path) -> None:
    # @equalLength false decides the form, even when this split's series share one length
    text = "@equalLength false\n@seriesLength 9\n@data\n1,2:a\n3,4:b\n"
    split = read_ts(_write(tmp_path / "Toy_TRAIN.ts", text))
    assert isinstance(split.X, list) and split.lengths.tolist() == [2, 2]
    assert not split.equal_length


def test_length_of_a_variable_length_split_raises(tmp_path: Path) -> None:
    text = "@equalLength false\n@data\n1,2,3:a\n1,2:a\n"
    split = read_ts(_write(tmp_path / "Toy_TRAIN.ts", text))
    with pytest.raises(
        ValueError,
        match=r"data set 'Toy' \(TRAIN\) has variable-length series \(2 to 3 samples\), so no "
        "single length",
    ):
        _ = split.length


@pytest.mark.parametrize("extension", [".tsv", ".txt", ".csv"])
def test_nan_padding_is_a_shorter_series(tmp_path: Path, extension: str) -> None:
    # The 2018 archive's "Vary" sets: every row padded with NaN to the longest series.
    rows = [(1, "1.0 2.0 3.0 4.0"), (2, "5.0 6.0 NaN NaN"), (1, "7.0 8.0 9.0 NaN")]
    separator = {".tsv": "\t", ".txt": " ", ".csv": ","}[extension]
    text = "".join(separator.join([str(label), *values.split()]) + "\n" for label, values in rows)
    split = read_file(_write(tmp_path / f"Toy_TRAIN{extension}", text))
    assert isinstance(split.X, list)
    for series, values in zip(split.X, [[1, 2, 3, 4], [5, 6], [7, 8, 9]], strict=True):
        np.testing.assert_array_equal(series, np.array([values], dtype=np.float32))
    assert split.lengths.tolist() == [4, 2, 3] and split.channels == 1
    assert split.y.tolist() == [1, 2, 1]
    _assert_form(split)


def test_equal_nan_padding_stays_2d(tmp_path: Path) -> None:
    # Padding is dropped; series that are left with one length are an equal-length set.
    split = read_tsv(_write(tmp_path / "Toy_TRAIN.tsv", "1\t1.0\t2.0\tNaN\n2\t3.0\t4.0\tNaN\n"))
    np.testing.assert_array_equal(split.X, np.array([[1, 2], [3, 4]], dtype=np.float32))
    assert split.equal_length and split.length == 2


def test_load_pair_gives_both_splits_one_form(tmp_path: Path) -> None:
    # A .tsv TEST split whose series happen to share a length joins the TRAIN split's list form.
    _write(tmp_path / "V" / "V_TRAIN.tsv", "1\t1.0\t2.0\t3.0\n2\t4.0\t5.0\tNaN\n")
    _write(tmp_path / "V" / "V_TEST.tsv", "1\t1.0\t2.0\n2\t3.0\t5.0\n")
    train, test = load_pair("V", tmp_path)
    assert isinstance(train.X, list) and isinstance(test.X, list)
    np.testing.assert_array_equal(test.X[1], np.array([[3.0, 5.0]], dtype=np.float32))
    assert test.lengths.tolist() == [2, 2]
    _assert_form(test)
    z_train, z_test = load_pair("V", tmp_path, znorm=True)
    np.testing.assert_allclose(z_test.X[1], [[-1.0, 1.0]])
    np.testing.assert_allclose(z_train.X[0], [[-np.sqrt(1.5), 0.0, np.sqrt(1.5)]], rtol=1e-6)


def test_load_pair_rejects_different_channels(tmp_path: Path) -> None:
    _write(tmp_path / "M" / "M_TRAIN.ts", _ts_multivariate())
    _write(tmp_path / "M" / "M_TEST.ts", "@data\n1,2,3:walk\n")
    with pytest.raises(
        ValueError,
        match=r"M_TEST.ts: the TEST series have 1 channels but the TRAIN series of M_TRAIN.ts "
        "have 2",
    ):
        load_pair("M", tmp_path)


# --------------------------------------------------------------------------------------------------
# aeon's own multivariate and variable-length files, read by aeon as the reference

AEON_SETS = {
    # name: (channels, equal length, n_train, n_test)
    "BasicMotions": (6, True, 40, 40),
    "JapaneseVowels": (12, False, 270, 370),
    "PickupGestureWiimoteZ": (1, False, 50, 50),
}


@pytest.fixture(scope="module")
def aeon_data() -> Path:
    # aeon is in the `bench` extra; its wheel ships these .ts files, the reference reader with them.
    aeon = pytest.importorskip("aeon", reason="aeon (the bench extra) ships the reference files")
    return Path(aeon.__file__).parent / "datasets" / "data"


@pytest.mark.parametrize("split_name", ["TRAIN", "TEST"])
@pytest.mark.parametrize("name", sorted(AEON_SETS))
def test_aeon_files_read_as_aeon_reads_them(aeon_data: Path, name: str, split_name: str) -> None:
    from aeon.datasets import load_from_ts_file

    path = aeon_data / name / f"{name}_{split_name}.ts"
    split = read_ts(path)
    expected_X, expected_y = load_from_ts_file(str(path))
    channels, equal, n_train, n_test = AEON_SETS[name]
    assert split.n == (n_train if split_name == "TRAIN" else n_test)
    assert (split.name, split.split) == (name, split_name)
    assert (split.channels, split.equal_length) == (channels, equal)
    _assert_form(split)
    if equal:
        reference = np.asarray(expected_X).astype(np.float32)  # (n, channels, length)
        assert isinstance(split.X, np.ndarray)
        np.testing.assert_array_equal(split.X, reference)
        assert split.X.shape == reference.shape
    else:
        assert isinstance(expected_X, list) and isinstance(split.X, list)
        assert len(split.X) == len(expected_X)
        for ours, theirs in zip(split.X, expected_X, strict=True):
            assert ours.shape == theirs.shape
            np.testing.assert_array_equal(ours, theirs.astype(np.float32))
    assert split.lengths.tolist() == [series.shape[-1] for series in expected_X]
    # aeon lower-cases the whole line, labels included; pyembed keeps the file's spelling
    assert np.char.lower(split.y.astype(str)).tolist() == expected_y.tolist()


def test_aeon_files_keep_the_label_spelling(aeon_data: Path) -> None:
    split = read_ts(aeon_data / "BasicMotions" / "BasicMotions_TRAIN.ts")
    assert split.classes.tolist() == ["Badminton", "Running", "Standing", "Walking"]
    vowels = read_ts(aeon_data / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    assert vowels.y.dtype == np.int64 and vowels.classes.tolist() == list(range(1, 10))
    assert (int(vowels.lengths.min()), int(vowels.lengths.max())) == (7, 26)


@pytest.mark.parametrize("name", sorted(AEON_SETS))
def test_load_pair_finds_a_uea_layout(aeon_data: Path, tmp_path: Path, name: str) -> None:
    # <Name>/<Name>_TRAIN.ts as the UEA archive lays it out (the copy also holds an .arff file)
    shutil.copytree(aeon_data / name, tmp_path / name)
    assert name in list_datasets(tmp_path)
    train, test = load_pair(name.lower(), tmp_path)
    assert (train.name, train.split, test.split) == (name, "TRAIN", "TEST")
    assert train.channels == test.channels == AEON_SETS[name][0]
    assert train.equal_length == test.equal_length == AEON_SETS[name][1]
    direct = read_ts(aeon_data / name / f"{name}_TEST.ts")
    for ours, theirs in zip(_series(test), _series(direct), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert load_ucr(name, "train", data_dir=tmp_path).n == train.n
    z_train, _ = load_pair(name, tmp_path, znorm=True)
    for z, raw in zip(_series(z_train), _series(train), strict=True):
        np.testing.assert_array_equal(z, znormalize(raw[None])[0])  # each series on its own
        np.testing.assert_allclose(z.mean(axis=-1), 0.0, atol=1e-5)


def _series(split: UCRSplit) -> list[np.ndarray]:
    """Each series of ``split`` as a ``(channels, length)`` array."""
    if isinstance(split.X, list):
        return split.X
    return [one[None] if split.X.ndim == 2 else one for one in split.X]


# --------------------------------------------------------------------------------------------------
# Bad files: a ValueError whose message names the file


def _bad_files() -> list[tuple[str, str, str, str]]:
    mv = "@univariate false\n@dimensions 2\n"
    return [
        # (id, file name, contents, message regex)
        ("tsv-empty", "Toy_TRAIN.tsv", "", "contains no series"),
        ("tsv-blank", "Toy_TRAIN.tsv", "\n \n", "contains no series"),
        ("tsv-ragged", "Toy_TRAIN.tsv", "1\t1.0\t2.0\n2\t1.0\n", "ragged.*line 2 has 1 values"),
        ("tsv-nan-inside", "Toy_TRAIN.tsv", "1\t1.0\tNaN\t2.0\n", "missing value.*sample 2"),
        (
            # padding at the end does not excuse a gap before it
            "tsv-nan-inside-padded",
            "Toy_TRAIN.tsv",
            "1\t1.0\t2.0\t3.0\t4.0\n2\t1.0\tNaN\t3.0\tNaN\n",
            "line 2 has a missing value.*sample 2 inside",
        ),
        (
            "tsv-only-nan",
            "Toy_TRAIN.tsv",
            "1\t1.0\t2.0\n2\tNaN\tNaN\n",
            "line 2 has a label but no",
        ),
        ("tsv-not-a-number", "Toy_TRAIN.tsv", "1\t1.0\tabc\n", "line 1, value 2.*'abc'"),
        ("tsv-label-only", "Toy_TRAIN.tsv", "1\n2\n", "label but no values"),
        ("tsv-inf", "Toy_TRAIN.tsv", "1\t1.0\tinf\n", "infinite value"),
        ("txt-empty", "Toy_TRAIN.txt", "", "contains no series"),
        ("txt-ragged", "Toy_TRAIN.txt", "1 1.0 2.0 3.0\n2 1.0 2.0\n", "ragged"),
        ("txt-nan", "Toy_TRAIN.txt", "1 1.0 nan 3.0\n", "missing value"),
        ("csv-ragged", "Toy_TRAIN.csv", "1,1.0,2.0\n2,1.0,2.0,3.0\n", "ragged"),
        ("ts-empty", "Toy_TRAIN.ts", "", "no @data line"),
        ("ts-no-rows", "Toy_TRAIN.ts", "@univariate true\n@data\n", "contains no series"),
        (
            # without @univariate false or @dimensions a file is univariate
            "ts-channels-undeclared",
            "Toy_TRAIN.ts",
            "@classLabel true a\n@data\n1,2:3,4:a\n",
            "line 3 has 2 channels.*no @univariate false or @dimensions line.*univariate",
        ),
        (
            "ts-channels-univariate-true",
            "Toy_TRAIN.ts",
            "@univariate true\n@data\n1,2:3,4:a\n",
            "line 3 has 2 channels.*but line 1 declares @univariate true",
        ),
        (
            "ts-channels-declared",
            "Toy_TRAIN.ts",
            mv + "@data\n1,2:3,4:a\n1,2:a\n",
            r"line 5 has 1 channel \(':'-separated\) but line 2 declares @dimensions 2",
        ),
        (
            "ts-channels-inconsistent",
            "Toy_TRAIN.ts",
            "@univariate false\n@data\n1,2:3,4:a\n1,2:3,4:5,6:a\n",
            "line 4 has 3 channels.*but line 3 has 2",
        ),
        (
            "ts-channel-lengths",
            "Toy_TRAIN.ts",
            mv + "@data\n1,2,3:4,5:a\n",
            "line 4: channel 2 has 2 values but channel 1 has 3; every channel",
        ),
        (
            "ts-channel-lengths-variable",
            "Toy_TRAIN.ts",
            mv + "@equalLength false\n@data\n1,2,3:4,5,6:a\n1,2:4,5,6:a\n",
            "line 6: channel 2 has 3 values but channel 1 has 2",
        ),
        (
            "ts-univariate-contradiction",
            "Toy_TRAIN.ts",
            "@univariate true\n@dimensions 3\n@data\n1,2:a\n",
            "line 2 declares @dimensions 3 but line 1 declares @univariate true",
        ),
        (
            "ts-dimensions-contradiction",
            "Toy_TRAIN.ts",
            "@dimensions 2\n@dimension 3\n@data\n1,2:3,4:a\n",
            "line 1 declares @dimensions 2 but line 2 declares @dimension 3",
        ),
        (
            "ts-equal-length-true",
            "Toy_TRAIN.ts",
            "@equalLength true\n@data\n1,2,3:a\n1,2:a\n",
            "line 4 has a series of 2 samples but line 3 has 3; line 1 declares @equalLength true",
        ),
        (
            # without @equalLength false a file is equal-length: a line cut short is an error
            "ts-equal-length-undeclared",
            "Toy_TRAIN.ts",
            "@data\n1,2,3:a\n1,2:a\n",
            "line 3 has a series of 2 samples.*no @equalLength false line",
        ),
        (
            "ts-multivariate-length",
            "Toy_TRAIN.ts",
            mv + "@data\n1,2,3:4,5,6:a\n1,2:4,5:a\n",
            "line 5 has a series of 2 samples but line 4 has 3",
        ),
        ("ts-missing", "Toy_TRAIN.ts", "@data\n1,?,3:a\n", "missing value.*sample 2"),
        (
            "ts-missing-multivariate",
            "Toy_TRAIN.ts",
            mv + "@data\n1,2:3,?:a\n",
            "line 4 has a missing value.*sample 2 of channel 2",
        ),
        (
            "ts-missing-variable",
            "Toy_TRAIN.ts",
            "@equalLength false\n@data\n1,2,3:a\n1,?:a\n",
            "line 4 has a missing value.*sample 2",
        ),
        (
            "ts-not-a-number-multivariate",
            "Toy_TRAIN.ts",
            mv + "@data\n1,2:3,x:a\n",
            "line 4, channel 2, value 2: expected a number, got 'x'",
        ),
        (
            "ts-inf-multivariate",
            "Toy_TRAIN.ts",
            mv + "@data\n1,2:inf,4:a\n",
            "line 4 has an infinite value at sample 1 of channel 2",
        ),
        ("ts-no-label", "Toy_TRAIN.ts", "@classLabel false\n@data\n1,2,3\n", "no class labels"),
        ("ts-timestamps", "Toy_TRAIN.ts", "@timeStamps true\n@data\n(0,1),(1,2):a\n", "time-stamp"),
        (
            "ts-timestamps-multivariate",
            "Toy_TRAIN.ts",
            mv + "@timeStamps true\n@data\n(0,1):(0,2):a\n",
            "time-stamp",
        ),
        ("ts-junk-header", "Toy_TRAIN.ts", "hello\n@data\n1,2:a\n", "expected a header line"),
    ]


@pytest.mark.parametrize(
    ("file_name", "contents", "message"),
    [case[1:] for case in _bad_files()],
    ids=[case[0] for case in _bad_files()],
)
def test_bad_files_raise_naming_the_file(
    tmp_path: Path, file_name: str, contents: str, message: str
) -> None:
    path = _write(tmp_path / file_name, contents)
    reader = {".tsv": read_tsv, ".txt": read_txt, ".csv": read_txt, ".ts": read_ts}[path.suffix]
    with pytest.raises(ValueError, match=message) as info:
        reader(path)
    assert str(path) in str(info.value)
    # load_ucr goes through the same reader and reports the same problem.
    with pytest.raises(ValueError, match=message):
        load_ucr(
            "Toy",
            "TRAIN",
            data_dir=_write(tmp_path / "tree" / "Toy" / file_name, contents).parents[1],
        )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_tsv(tmp_path / "Nope_TRAIN.tsv")


def test_binary_file_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "Toy_TRAIN.tsv"
    path.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        read_tsv(path)


# --------------------------------------------------------------------------------------------------
# znormalize and band_from_pct


def test_znormalize_population_std() -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(3.0, 5.0, size=(6, 40))
    Z = znormalize(X)
    assert Z.dtype == np.float32 and Z.shape == X.shape
    expected = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, ddof=0, keepdims=True)
    np.testing.assert_allclose(Z, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Z.std(axis=1), 1.0, rtol=1e-5)
    assert not np.shares_memory(Z, X)


def test_znormalize_constant_series_becomes_zeros() -> None:
    X = np.array([[2.5, 2.5, 2.5, 2.5], [0.1, 0.1, 0.1, 0.1], [1.0, 2.0, 3.0, 4.0]])
    Z = znormalize(X)
    np.testing.assert_array_equal(Z[:2], 0.0)
    assert np.isfinite(Z).all()


def _znormalize_before_multivariate(X: np.ndarray) -> np.ndarray:
    """znormalize as it was for 2-D input before it took 3-D and list input, verbatim."""
    values = np.asarray(X, dtype=np.float64)
    if values.shape[1] == 0:
        return values.astype(np.float32)
    mean = values.mean(axis=1, keepdims=True)
    std = values.std(axis=1, keepdims=True)
    constant = (values.max(axis=1) == values.min(axis=1))[:, None]
    safe_std = np.where(constant, 1.0, std)
    out = np.where(constant, 0.0, (values - mean) / safe_std)
    return np.ascontiguousarray(out, dtype=np.float32)


def test_znormalize_2d_is_unchanged_bit_for_bit() -> None:
    rng = np.random.default_rng(11)
    inputs = [
        rng.normal(3.0, 5.0, size=(9, 37)),
        rng.normal(size=(4, 1)),
        np.zeros((0, 5)),
        np.zeros((3, 0)),
        np.array([[2.5, 2.5, 2.5], [1.0, 2.0, 4.0]]),
        rng.normal(size=(5, 16)).astype(np.float32),
        [[1.0, 2.0, 3.0], [0.5, 0.5, 0.25]],  # a list of rows is one 2-D array
        [np.array([1.0, 2.0]), np.array([3.0, 5.0])],  # so is a list of 1-D arrays
        *(load_ucr(name, "TRAIN").X for name in BUNDLED),
    ]
    for X in inputs:
        Z = znormalize(X)
        expected = _znormalize_before_multivariate(np.asarray(X))
        assert isinstance(Z, np.ndarray) and Z.dtype == np.float32 and Z.flags.c_contiguous
        assert Z.shape == expected.shape and Z.tobytes() == expected.tobytes()


def _znormalize_oracle(series: np.ndarray) -> np.ndarray:
    """Each row of a ``(..., length)`` array normalized by itself, in float64 (a loop over rows)."""
    values = np.asarray(series, dtype=np.float64)
    flat = values.reshape(-1, values.shape[-1])
    out = np.empty_like(flat)
    for i, row in enumerate(flat):
        std = row.std()  # population standard deviation
        out[i] = 0.0 if row.max() == row.min() else (row - row.mean()) / std
    return out.reshape(values.shape)


def test_znormalize_3d_normalizes_each_channel_of_each_series() -> None:
    rng = np.random.default_rng(12)
    # channels on very different scales: normalizing across channels would not give these
    X = rng.normal(size=(5, 3, 40)) * np.array([1.0, 100.0, 0.01])[:, None] + 7.0
    X[2, 1] = 4.0  # a constant channel becomes zeros; the other channels of that series do not
    Z = znormalize(X)
    assert isinstance(Z, np.ndarray) and Z.shape == X.shape and Z.dtype == np.float32
    np.testing.assert_allclose(Z, _znormalize_oracle(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(Z[2, 1], 0.0)
    np.testing.assert_allclose(Z[2, 0].std(), 1.0, rtol=1e-5)
    mask = np.ones(X.shape[:2], dtype=bool)
    mask[2, 1] = False
    np.testing.assert_allclose(Z.mean(axis=-1)[mask], 0.0, atol=1e-6)
    np.testing.assert_allclose(Z.std(axis=-1)[mask], 1.0, rtol=1e-5)
    # a (n, 1, length) array gives the 2-D result, bit for bit
    assert znormalize(X[:, :1]).tobytes() == znormalize(X[:, 0]).tobytes()


def test_znormalize_list_normalizes_each_series_by_itself() -> None:
    rng = np.random.default_rng(13)
    X = [rng.normal(size=(2, length)) * 10.0 for length in (5, 17, 1, 9)]
    X[0][1] = -3.0
    Z = znormalize(X)
    assert isinstance(Z, list) and len(Z) == len(X)
    for z, x in zip(Z, X, strict=True):
        assert z.shape == x.shape and z.dtype == np.float32 and z.flags.c_contiguous
        np.testing.assert_allclose(z, _znormalize_oracle(x), rtol=1e-5, atol=1e-6)
        assert not np.shares_memory(z, x)
    np.testing.assert_array_equal(Z[0][1], 0.0)
    np.testing.assert_array_equal(Z[2], 0.0)  # a single sample is constant
    assert znormalize(tuple(X))[1].tobytes() == Z[1].tobytes()


def test_znormalize_matches_aeon_normalizer() -> None:
    # aeon's Normalizer is what the brief's "per channel" means; exact after the float32 cast
    pytest.importorskip("aeon", reason="aeon (the bench extra) is the reference normalizer")
    from aeon.transformations.collection import Normalizer

    rng = np.random.default_rng(14)
    X3 = rng.normal(2.0, 3.0, size=(4, 3, 25))
    np.testing.assert_array_equal(znormalize(X3), Normalizer().fit_transform(X3).astype(np.float32))
    X_list = [rng.normal(size=(2, length)) for length in (8, 30, 12)]
    for ours, theirs in zip(znormalize(X_list), Normalizer().fit_transform(X_list), strict=True):
        np.testing.assert_array_equal(ours, np.asarray(theirs).astype(np.float32))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(5), "2-D .* or 3-D .* got an array with 1 dimensions"),
        (np.zeros((2, 3, 4, 5)), "got an array with 4 dimensions"),
        (np.array([[1.0, np.nan]]), "^X contains NaN"),
        (np.array([[[1.0, np.inf]]]), "^X contains NaN or infinity"),
        ([np.zeros((1, 3)), np.array([[1.0, np.nan]])], r"^X\[1\] contains NaN"),
        ([np.zeros((1, 3)), np.zeros(3)], "X must be a 2-D .* or a list of 2-D"),
    ],
    ids=["1-d", "4-d", "nan-2d", "inf-3d", "nan-in-list", "mixed-list"],
)
def test_znormalize_rejects(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        znormalize(bad)  # type: ignore[arg-type]


def test_znormalize_keeps_bundled_neighbors() -> None:
    # The bundled files are normalized with ddof=1; renormalizing only rescales by a constant.
    train = load_ucr("ItalyPowerDemand", "TRAIN").X.astype(np.float64)
    scale = np.sqrt(train.shape[1] / (train.shape[1] - 1))
    np.testing.assert_allclose(znormalize(train), train * scale, atol=1e-5)


@pytest.mark.parametrize(
    ("pct", "length", "band"),
    [
        (7, 427, 30),  # OSULeaf: 29.89 -> 30 reproduces the published 0.3884; floor gives 29
        (0, 150, 0),
        (100, 24, 24),
        (10, 25, 3),  # 2.5 rounds half away from zero
        (10, 24, 2),  # 2.4
        (94, 720, 677),  # LargeKitchenAppliances: 676.8
        (3, 176, 5),  # Adiac: 5.28
        (12.5, 4, 1),  # 0.5 -> 1
    ],
)
def test_band_from_pct(pct: float, length: int, band: int) -> None:
    assert band_from_pct(pct, length) == band


@pytest.mark.parametrize(
    ("pct", "length", "message"),
    [(-1, 10, "pct"), (100.5, 10, "pct"), (float("nan"), 10, "pct"), (5, 0, "length")],
)
def test_band_from_pct_rejects(pct: float, length: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        band_from_pct(pct, length)


# --------------------------------------------------------------------------------------------------
# The band a run uses and the published error it reproduces


def test_wants_learned_band() -> None:
    assert wants_learned_band() and wants_learned_band(None) and wants_learned_band("learned")
    assert not wants_learned_band("full")
    assert not wants_learned_band(0)
    assert not wants_learned_band(None, 10.0)


def test_resolve_band() -> None:
    osuleaf = published_table()["OSULeaf"]  # learned window 7 % of 427 samples
    assert resolve_band(427, published=osuleaf) == 30
    assert resolve_band(427, band="learned", published=osuleaf) == 30
    assert resolve_band(427, band=None, published=osuleaf) == 30
    assert resolve_band(427, band="full", published=osuleaf) is None
    assert resolve_band(427, band=12) == 12
    assert resolve_band(427, band=427) == 427
    assert resolve_band(150, band_pct=10) == 15
    assert resolve_band(25, band_pct=10) == 3  # 2.5 rounds half away from zero


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"band": "learned", "name": "Toy"}, "no learned window for 'Toy'"),
        ({"band": 151, "name": "GunPoint"}, "band 151 is larger than the series length 150"),
        ({"band": -1}, "must be >= 0"),
        ({"band": "wide"}, "'learned', 'full' or a radius in samples"),
        ({"band": True}, "'learned', 'full' or a radius in samples"),
        ({"band_pct": 101}, "percentage between 0 and 100"),
    ],
)
def test_resolve_band_rejects(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_band(150, **kwargs)  # type: ignore[arg-type]


def test_published_error_picks_the_figure_of_the_settings() -> None:
    row = published_table()["OSULeaf"]  # length 427, learned window 7 % = 30 samples
    length = 427
    assert published_error(row, metric="euclidean", band=None, length=length) == row.ed_error
    assert published_error(row, metric="dtw", band=None, length=length) == row.dtw_full_error
    # a radius of length - 1 already allows every warping path
    assert published_error(row, metric="dtw", band=426, length=length) == row.dtw_full_error
    assert published_error(row, metric="dtw", band=30, length=length) == row.dtw_learned_error
    assert published_error(row, metric="dtw", band=0, length=length) == row.ed_error
    assert published_error(row, metric="dtw", band=29, length=length) is None
    assert published_error(row, metric="dtw", band=30, length=length, k=3) is None
    assert published_error(None, metric="dtw", band=30, length=length) is None
    with pytest.raises(ValueError, match="metric"):
        published_error(row, metric="ed", band=None, length=length)


# --------------------------------------------------------------------------------------------------
# The published table


def test_published_table_has_128_rows() -> None:
    table = published_table()
    assert len(table) == 128
    assert all(isinstance(row, PublishedRow) for row in table.values())
    assert list(table)[:2] == ["Adiac", "ArrowHead"]
    assert list(table)[-1] == "UMD"
    for row in table.values():
        for error in (row.ed_error, row.dtw_learned_error, row.dtw_full_error, row.default_rate):
            assert 0.0 <= error <= 1.0
        assert 0 <= row.dtw_learned_window_pct <= 100
        assert row.n_train > 0 and row.n_test > 0 and row.n_classes >= 2
    assert sum(row.length is None for row in table.values()) == 11  # the "Vary" data sets


@pytest.mark.parametrize(
    ("name", "ed", "learned", "pct", "full"),
    [
        # The numbers quoted in pyembed/data/ucr/README.md.
        ("ArrowHead", 0.2000, 0.2000, 0, 0.2971),
        ("Coffee", 0.0000, 0.0000, 0, 0.0000),
        ("GunPoint", 0.0867, 0.0867, 0, 0.0933),
        ("ItalyPowerDemand", 0.0447, 0.0447, 0, 0.0496),
    ],
)
def test_published_rows_match_readme(
    name: str, ed: float, learned: float, pct: int, full: float
) -> None:
    row = published_table()[name]
    assert (
        row.ed_error,
        row.dtw_learned_error,
        row.dtw_learned_window_pct,
        row.dtw_full_error,
    ) == (
        ed,
        learned,
        pct,
        full,
    )
    n_train, n_test, length, classes = BUNDLED[name]
    assert (row.n_train, row.n_test, row.length, row.n_classes) == (
        n_train,
        n_test,
        length,
        len(classes),
    )


def test_published_osuleaf() -> None:
    row = published_table()["OSULeaf"]
    assert (row.length, row.dtw_learned_window_pct, row.dtw_learned_error) == (427, 7, 0.3884)


def test_published_table_is_a_fresh_dict() -> None:
    table = published_table()
    table.pop("GunPoint")
    assert "GunPoint" in published_table()
