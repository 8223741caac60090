"""UCR readers, z-normalization, the band rule and the packaged published table (no index)."""

from __future__ import annotations

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
# Bad files: a ValueError whose message names the file


def _bad_files() -> list[tuple[str, str, str, str]]:
    padded = "1\t1.0\t2.0\t3.0\n2\t1.0\t2.0\tNaN\n"
    return [
        # (id, file name, contents, message regex)
        ("tsv-empty", "Toy_TRAIN.tsv", "", "contains no series"),
        ("tsv-blank", "Toy_TRAIN.tsv", "\n \n", "contains no series"),
        ("tsv-ragged", "Toy_TRAIN.tsv", "1\t1.0\t2.0\n2\t1.0\n", "ragged.*line 2 has 1 values"),
        ("tsv-nan-inside", "Toy_TRAIN.tsv", "1\t1.0\tNaN\t2.0\n", "missing value.*sample 2"),
        ("tsv-variable", "Toy_TRAIN.tsv", padded, "'Toy' has variable-length series"),
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
            "ts-multivariate-header",
            "Toy_TRAIN.ts",
            "@univariate false\n@dimensions 2\n@data\n1,2:3,4:a\n",
            "'Toy' is multivariate",
        ),
        (
            "ts-multivariate-data",
            "Toy_TRAIN.ts",
            "@classLabel true a\n@data\n1,2:3,4:a\n",
            "'Toy' is multivariate.*2 dimensions",
        ),
        (
            "ts-variable-header",
            "Toy_TRAIN.ts",
            "@equalLength false\n@data\n1,2,3:a\n1,2:a\n",
            "'Toy' has variable-length",
        ),
        (
            "ts-variable-data",
            "Toy_TRAIN.ts",
            "@data\n1,2,3:a\n1,2:a\n",
            "'Toy' has variable-length",
        ),
        ("ts-missing", "Toy_TRAIN.ts", "@data\n1,?,3:a\n", "missing value.*sample 2"),
        ("ts-no-label", "Toy_TRAIN.ts", "@classLabel false\n@data\n1,2,3\n", "no class labels"),
        ("ts-timestamps", "Toy_TRAIN.ts", "@timeStamps true\n@data\n(0,1),(1,2):a\n", "time-stamp"),
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


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((2, 3, 4)), np.array([[1.0, np.nan]])])
def test_znormalize_rejects(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="2-D|NaN"):
        znormalize(bad)


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
