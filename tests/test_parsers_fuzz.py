"""The Python-side readers under hostile input (hypothesis): UCR text files, face ``.npz``
archives, query inputs (``.npy``/``.npz``) and run directories.

The one property: a reader either returns a valid result (the shapes agree, floats are finite,
labels are what the docstring says) or raises ``ValueError`` or ``OSError`` whose message names
the file. Never another exception type (``IndexError``, ``KeyError``, ``UnicodeDecodeError``,
``zipfile.BadZipFile``, ``EOFError``, ``OverflowError``, a numpy warning turned error), never an
unpickled object, never a hang. Inputs are random bytes, random text with the right extension,
and truncations and byte mutations of small valid files (the bundled UCR data, generated archives).
Examples stay small so the whole file runs in well under a minute.
"""

from __future__ import annotations

import io
import pickle
import re
import shutil
import zipfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyembed.datasets import load_pair, read_file
from pyembed.datasets.faces import load_faces
from pyembed.datasets.npz import read_npy, read_npz

SETTINGS = settings(
    derandomize=True,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FEW = settings(SETTINGS, max_examples=100)
pytestmark = pytest.mark.timeout(120)  # a reader that hangs fails here, not at the global limit

ERRORS = (ValueError, OSError)
"""The documented failure types of every reader."""

# Bytes that matter to the text formats: separators, markers, numbers that overflow float32,
# missing values, a byte-order mark, bytes that are not UTF-8.
INTERESTING = [
    b"\t", b",", b":", b" ", b"\n", b"\r\n", b"\r", b"?", b"@", b"#", b"(", b")", b"-", b".",
    b"e", b"0", b"1", b"nan", b"NaN", b"inf", b"-inf", b"1e39", b"1e400", b"1e30", b"1_0",
    b"@data\n", b"@classLabel true 1 2\n", b"@univariate false\n", b"@equalLength false\n",
    b"@seriesLength 3\n", b"@timeStamps true\n", b"@missing true\n", b"@dimensions 2\n",
    b"@dimension 3\n", b"@univariate true\n", b"@equalLength true\n", b"\xef\xbb\xbf", b"\xff",
    b"\x00", b"\x0b", b"\x0c", b"\xc2\x85", b"\xe2\x80\xa8", b"\xd9\xa1",
]  # fmt: skip


def _names(exc: BaseException, path: Path) -> bool:
    """Whether the message of ``exc`` names ``path`` (its name, or the whole path)."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        text += f" {exc.filename}"
    return path.name in text


def _assert_documented(exc: BaseException, path: Path) -> None:
    assert isinstance(exc, ERRORS), f"{type(exc).__name__} leaked: {exc!r}"
    assert not isinstance(exc, UnicodeDecodeError), f"UnicodeDecodeError leaked: {exc!r}"
    assert _names(exc, path), f"{type(exc).__name__} does not name {path.name}: {exc}"
    assert "\n" not in str(exc).strip(), f"message is not one line: {exc}"


def _attempt(read: Callable[[], Any], path: Path) -> Any:
    """``read()``, or None if it raised a documented error (any other exception fails the test)."""
    try:
        return read()
    except BaseException as exc:  # every type is checked
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        _assert_documented(exc, path)
        return None


# --------------------------------------------------------------------------------------------------
# Byte mutations


OPS = ["flip", "set", "insert", "delete", "truncate", "lines", "token", "token", "prefix"]
_TOKEN = re.compile(rb"[^\t,: \n]+")


@st.composite
def mutations(draw: st.DrawFn, seed: bytes, max_ops: int = 4) -> bytes:
    """``seed`` after up to ``max_ops`` edits: flips, inserts, deletes, truncations, line edits."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(OPS))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "token":  # replace one field (a label, a value, a header word)
            spans = [m.span() for m in _TOKEN.finditer(bytes(data))]
            if spans:
                lo, hi = draw(st.sampled_from(spans))
                data[lo:hi] = draw(st.sampled_from(INTERESTING))
        elif op == "prefix":
            data[0:0] = draw(st.sampled_from(INTERESTING))
        elif op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(INTERESTING) | st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[at:]
        elif op == "lines":
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            choice = draw(st.sampled_from(["drop", "dup", "cut"]))
            if choice == "drop":
                del lines[i]
            elif choice == "dup":
                lines.insert(i, lines[i])
            else:
                lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
            data = bytearray(b"\n".join(lines))
    return bytes(data)


def _text_lines(alphabet: list[str]) -> st.SearchStrategy[bytes]:
    """Random lines of format tokens (numbers, separators, markers)."""
    token = st.sampled_from(alphabet) | st.from_regex(
        r"-?[0-9]{1,3}(\.[0-9]{1,3})?", fullmatch=True
    )
    line = st.lists(token, max_size=12).map("".join)
    return st.lists(line, max_size=8).map(lambda lines: "\n".join(lines).encode())


# --------------------------------------------------------------------------------------------------
# UCR text files


def _bundled(name: str, file: str) -> bytes:
    resource = resources.files("pyembed") / "data" / "ucr" / name / file
    return resource.read_bytes()


def _head(data: bytes, n_data_lines: int, n_values: int, sep: bytes) -> bytes:
    """The header and the first rows of a bundled file, each row cut to ``n_values`` values."""
    out, kept = [], 0
    for line in data.split(b"\n"):
        stripped = line.strip()
        if stripped.lower().startswith(b"@serieslength"):
            out.append(b"@seriesLength %d" % n_values)
            continue
        if stripped.startswith(b"#"):  # one comment line is enough to exercise comments
            if not any(kept_line.startswith(b"#") for kept_line in out):
                out.append(b"# " + stripped[:20])
            continue
        if not stripped or stripped.startswith(b"@"):
            out.append(line)
            continue
        if kept == n_data_lines:
            break
        if b":" in stripped:  # .ts: values, ':', label
            values, label = stripped.rsplit(b":", 1)
            out.append(sep.join(values.split(sep)[:n_values]) + b":" + label)
        else:  # label first
            out.append(b" ".join(stripped.split()[: n_values + 1]))
        kept += 1
    return b"\n".join(out) + b"\n"


def _tsv_from(split_lines: bytes) -> bytes:
    rows = [line.split() for line in split_lines.split(b"\n") if line.strip()]
    return b"".join(b"\t".join(row) + b"\n" for row in rows)


TS_SEED = _head(_bundled("ItalyPowerDemand", "ItalyPowerDemand_TRAIN.ts"), 3, 6, b",")
ARROW_SEED = _head(_bundled("ArrowHead", "ArrowHead_TRAIN.ts"), 2, 5, b",")
TXT_SEED = _head(_bundled("Coffee", "Coffee_TRAIN.txt"), 3, 6, b" ")
TSV_SEED = _tsv_from(TXT_SEED)
# The multivariate and variable-length forms (BasicMotions-, JapaneseVowels- and "Vary"-like).
MULTIVARIATE_SEED = (
    b"# two channels\n@problemName Toy\n@timeStamps false\n@missing false\n@univariate false\n"
    b"@dimensions 2\n@equalLength true\n@seriesLength 5\n@classLabel true 1 2\n@data\n"
    b"0.1,0.2,0.3,0.4,0.5:1.5,1.25,-1.0,0.0,2.0:1\n"
    b"-0.5,0.25,1.0,0.75,0.5:0.0,0.5,1.0,1.5,2.0:2\n"
)
VARIABLE_SEED = (
    b"@problemName Toy\n@univariate false\n@dimension 2\n@equalLength false\n"
    b"@classLabel true 1 2\n@data\n"
    b"0.1,0.2,0.3,0.4,0.5,0.6:1.5,1.25,-1.0,0.0,2.0,1.0:1\n"
    b"-0.5,0.25,1.0,0.75,0.5:0.0,0.5,1.0,1.5,2.0:2\n"
)
PADDED_TSV_SEED = b"1\t0.5\t1.0\t-2.0\t3.25\t1.5\t0.5\n2\t1.5\t-1.0\t0.0\t2.0\t1.0\tNaN\n"
UCR_SEEDS = {
    ".ts": [TS_SEED, ARROW_SEED, MULTIVARIATE_SEED, VARIABLE_SEED],
    ".txt": [TXT_SEED],
    ".csv": [TXT_SEED.replace(b" ", b",")],
    ".tsv": [TSV_SEED, PADDED_TSV_SEED],
}
UCR_ALPHABET = [
    "\t",
    ",",
    ":",
    " ",
    "?",
    "@classLabel true 1 2",
    *"nan inf 1e39 @data # - .".split(),
]


def _check_series(X: Any) -> None:
    """``X`` is one of the three documented forms, float32, finite, with no empty series."""
    if isinstance(X, np.ndarray):
        assert X.dtype == np.float32 and X.ndim in (2, 3), (X.dtype, X.shape)
        assert X.flags.c_contiguous
        assert X.shape[0] >= 1 and X.shape[-1] >= 1, X.shape
        assert X.ndim == 2 or X.shape[1] >= 2, f"one channel is the 2-D form, got {X.shape}"
        assert np.isfinite(X).all(), "non-finite value returned"
        return
    assert isinstance(X, list) and X, type(X)
    for series in X:
        assert isinstance(series, np.ndarray) and series.dtype == np.float32, type(series)
        assert series.ndim == 2 and series.shape[0] == X[0].shape[0], series.shape
        assert series.shape[1] >= 1 and series.flags.c_contiguous, series.shape
        assert np.isfinite(series).all(), "non-finite value returned"


def _check_ucr(path: Path) -> None:
    split = _attempt(lambda: read_file(path), path)
    if split is None:
        return
    X, y = split.X, split.y
    _check_series(X)
    assert y.shape == (len(X),), (y.shape, len(X))
    assert split.equal_length == isinstance(X, np.ndarray)
    assert split.lengths.tolist() == [series.shape[-1] for series in X]
    if isinstance(X, list):
        assert split.channels == X[0].shape[0]
    else:
        assert split.channels == (1 if X.ndim == 2 else X.shape[1])
        assert split.length == X.shape[-1]
    assert y.dtype == np.int64 or y.dtype.kind == "U", y.dtype
    if y.dtype.kind == "U":
        for label in y.tolist():
            assert label and label == label.strip(), f"label {label!r}"
            try:
                number = float(label)
            except ValueError:
                continue
            assert np.isfinite(number), f"non-finite label {label!r} accepted"


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_ucr_seeds_are_valid(scratch: Path) -> None:
    # The mutations start from files the readers accept.
    for extension, seeds in UCR_SEEDS.items():
        for seed in seeds:
            split = read_file(_write(scratch, f"Seed_TRAIN{extension}", seed))
            assert split.n >= 2 and split.lengths.min() >= 5 and split.y.dtype == np.int64
    forms = [
        read_file(_write(scratch, f"Seed_TRAIN{extension}", seed))
        for extension, seed in [(".ts", MULTIVARIATE_SEED), (".ts", VARIABLE_SEED)]
    ]
    forms.append(read_file(_write(scratch, "Seed_TRAIN.tsv", PADDED_TSV_SEED)))
    assert forms[0].X.shape == (2, 2, 5)
    assert [x.shape for x in forms[1].X] == [(2, 6), (2, 5)]
    assert [x.shape for x in forms[2].X] == [(1, 6), (1, 5)]


@SETTINGS
@given(extension=st.sampled_from(sorted(UCR_SEEDS)), data=st.data())
def test_ucr_mutated_files(scratch: Path, extension: str, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(UCR_SEEDS[extension]))
    _check_ucr(_write(scratch, f"Toy_TRAIN{extension}", data.draw(mutations(seed))))


@SETTINGS
@given(
    extension=st.sampled_from(sorted(UCR_SEEDS)),
    data=st.data(),
    n_fields=st.integers(1, 3),
)
def test_ucr_fields_replaced(
    scratch: Path, extension: str, data: st.DataObject, n_fields: int
) -> None:
    # One to three fields (labels, values, header words) replaced by tokens that matter.
    contents = bytearray(data.draw(st.sampled_from(UCR_SEEDS[extension])))
    for _ in range(n_fields):
        lo, hi = data.draw(st.sampled_from([m.span() for m in _TOKEN.finditer(bytes(contents))]))
        contents[lo:hi] = data.draw(st.sampled_from(INTERESTING))
    _check_ucr(_write(scratch, f"Toy_TRAIN{extension}", bytes(contents)))


@SETTINGS
@given(
    extension=st.sampled_from(sorted(UCR_SEEDS)),
    raw=st.binary(max_size=200) | _text_lines(UCR_ALPHABET),
)
def test_ucr_random_contents(scratch: Path, extension: str, raw: bytes) -> None:
    _check_ucr(_write(scratch, f"Toy_TEST{extension}", raw))


@FEW
@given(extension=st.sampled_from(sorted(UCR_SEEDS)), data=st.data())
def test_load_pair_of_mutated_splits(scratch: Path, extension: str, data: st.DataObject) -> None:
    folder = scratch / "tree" / "Toy"
    shutil.rmtree(folder.parent, ignore_errors=True)
    folder.mkdir(parents=True)
    seed = data.draw(st.sampled_from(UCR_SEEDS[extension]))
    paths = {}
    for split in ("TRAIN", "TEST"):
        contents = data.draw(st.just(seed) | mutations(seed), label=split)
        paths[split] = _write(folder, f"Toy_{split}{extension}", contents)
    try:
        train, test = load_pair("Toy", folder.parent, znorm=data.draw(st.booleans()))
    except BaseException as exc:  # every type is checked
        assert isinstance(exc, ERRORS), f"{type(exc).__name__} leaked: {exc!r}"
        assert any(_names(exc, path) for path in paths.values()), str(exc)
        return
    assert train.channels == test.channels
    assert train.equal_length == test.equal_length, "load_pair gives both splits one form"
    if train.equal_length:
        assert train.length == test.length
    for split in (train, test):
        _check_series(split.X)


# --------------------------------------------------------------------------------------------------
# Face .npz files


def _npz_bytes(compressed: bool = False, **arrays: Any) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


_IMAGES = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
_LABELS = np.array([0, 1, 1], dtype=np.int16)
FACE_SEEDS = [
    _npz_bytes(images=_IMAGES, labels=_LABELS),
    _npz_bytes(True, images=_IMAGES, labels=_LABELS),
]


def _check_faces(path: Path) -> None:
    data = _attempt(lambda: load_faces(path), path)
    if data is None:
        return
    assert data.images.dtype == np.uint8 and data.images.ndim == 3
    assert data.labels.dtype == np.int64 and data.labels.shape == (data.images.shape[0],)
    assert data.images.flags.c_contiguous


def test_face_seeds_are_valid(scratch: Path) -> None:
    for seed in FACE_SEEDS:
        assert load_faces(_write(scratch, "seed.npz", seed)).n == 3


@SETTINGS
@given(data=st.data())
def test_faces_mutated_archives(scratch: Path, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(FACE_SEEDS))
    _check_faces(_write(scratch, "faces.npz", data.draw(mutations(seed, max_ops=3))))


@FEW
@given(raw=st.binary(max_size=300))
def test_faces_random_bytes(scratch: Path, raw: bytes) -> None:
    _check_faces(_write(scratch, "random.npz", raw))


DTYPES = [
    np.uint8,
    np.int8,
    np.int64,
    np.uint64,
    np.float32,
    np.float64,
    np.bool_,
    np.complex64,
    "<U2",
    "V2",
]


@st.composite
def small_arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=4)))
    values = np.arange(int(np.prod(shape)) if shape else 1) % 7
    if dtype.kind == "U":
        return values.astype(str).astype(dtype).reshape(shape)
    if dtype.kind == "V":
        return np.zeros(shape, dtype)
    if dtype == np.uint64:
        values = values.astype(np.uint64) + np.uint64(2**63)
    return values.astype(dtype).reshape(shape)


@FEW
@given(
    arrays=st.dictionaries(
        st.sampled_from(["images", "labels", "other"]), small_arrays(), max_size=3
    ),
    fortran=st.booleans(),
)
def test_faces_arrays_of_any_dtype_and_shape(scratch: Path, arrays: dict, fortran: bool) -> None:
    if fortran:
        arrays = {key: np.asfortranarray(value) for key, value in arrays.items()}
    _check_faces(_write(scratch, "arrays.npz", _npz_bytes(**arrays)))


class _Tripwire:
    """Unpickling this calls :func:`_tripped`: proof that a reader unpickled its input."""

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return (_tripped, ())


TRIPPED: list[bool] = []


def _tripped() -> None:
    TRIPPED.append(True)


def test_npz_never_unpickles(scratch: Path) -> None:
    objects = np.array([_Tripwire(), 1], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, images=objects, labels=_LABELS)
    npz = _write(scratch, "pickled.npz", buffer.getvalue())
    npy = scratch / "pickled.npy"
    np.save(npy, objects, allow_pickle=True)
    raw_pickle = _write(scratch, "raw.npz", pickle.dumps(_Tripwire()))
    for read in (
        lambda: load_faces(npz),
        lambda: read_npz(npz),
        lambda: read_npy(npy),
        lambda: load_faces(raw_pickle),
    ):
        with pytest.raises(ValueError, match="pickle|object"):
            read()
    assert not TRIPPED, "a reader unpickled an object"


# --------------------------------------------------------------------------------------------------
# The NumPy file reader itself (query inputs and run directories go through it)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


NPY_SEEDS = [_npy_bytes(np.arange(6, dtype=np.float32).reshape(2, 3)), _npy_bytes(_IMAGES)]


def _check_arrays(arrays: Any) -> None:
    for value in arrays.values() if isinstance(arrays, dict) else [arrays]:
        assert isinstance(value, np.ndarray) and not value.dtype.hasobject


@SETTINGS
@given(data=st.data())
def test_read_npy_mutated(scratch: Path, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(NPY_SEEDS))
    path = _write(scratch, "inputs.npy", data.draw(mutations(seed, max_ops=3)))
    arrays = _attempt(lambda: read_npy(path), path)
    if arrays is not None:
        _check_arrays(arrays)


@SETTINGS
@given(data=st.data())
def test_read_npz_mutated(scratch: Path, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(FACE_SEEDS))
    path = _write(scratch, "inputs.npz", data.draw(mutations(seed, max_ops=3)))
    arrays = _attempt(lambda: read_npz(path), path)
    if arrays is not None:
        _check_arrays(arrays)


def test_a_header_claiming_a_huge_array_is_refused_before_allocating(scratch: Path) -> None:
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**13,)}
    np.lib.format.write_array_header_1_0(buffer, header)
    huge = buffer.getvalue() + bytes(8)
    path = _write(scratch, "huge.npy", huge)
    with pytest.raises(ValueError, match="huge.npy.*holds 8 bytes"):
        read_npy(path)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("images.npy", huge)
    path = _write(scratch, "huge.npz", zipped.getvalue())
    with pytest.raises(ValueError, match="huge.npz.*images"):
        read_npz(path)


# --------------------------------------------------------------------------------------------------
# Query inputs (pyembed query INPUTS)


@SETTINGS
@given(
    suffix=st.sampled_from([".npy", ".npz", ".tsv", ".ts"]),
    kind=st.sampled_from(["faces", "ucr"]),
    data=st.data(),
)
def test_query_inputs(scratch: Path, suffix: str, kind: str, data: st.DataObject) -> None:
    import click

    from pyembed.cli.query import _read_inputs

    seeds = {".npy": NPY_SEEDS, ".npz": FACE_SEEDS, ".tsv": [TSV_SEED], ".ts": [TS_SEED]}[suffix]
    raw = data.draw(mutations(data.draw(st.sampled_from(seeds))) | st.binary(max_size=100))
    path = _write(scratch, f"query{suffix}", raw)
    key = data.draw(st.sampled_from([None, "images", "labels", "series"]))
    try:
        array = _read_inputs(path, key, kind)
    except click.ClickException as exc:
        assert path.name in exc.format_message(), exc.format_message()
        return
    except BaseException as exc:  # every type is checked
        _assert_documented(exc, path)
        return
    if isinstance(array, list):  # a variable-length UCR file: the reader's list form
        _check_series(array)
        return
    assert isinstance(array, np.ndarray) and not array.dtype.hasobject


# --------------------------------------------------------------------------------------------------
# Run directories (torch)


@pytest.fixture(scope="module")
def run_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("pyembed._nswg")
    import torch

    from pyembed.train.checkpoint import save_checkpoint
    from pyembed.train.run_dir import MODEL_FILE, save_run

    folder = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(0)
    n = 6
    save_run(
        folder,
        embeddings=rng.normal(size=(n, 3)).astype(np.float32),
        labels=np.arange(n, dtype=np.int64) % 2,
        label_names=np.array(["a", "b"] * 3),
        is_test=np.arange(n) >= 4,
        index_rows=np.arange(4, dtype=np.int64),
        run_info={"kind": "ucr"},
        seed=0,
        graph="hnsw",
    )
    metadata = {
        "kind": "ucr",
        "model": {"class": "TimeSeriesEmbedding", "kwargs": {}},
        "objective": {"loss": "triplet"},
        "data": {"name": "Toy", "data_dir": None, "znorm": True, "length": 5},
    }
    save_checkpoint({"model": {"w": torch.zeros(2)}, "metadata": metadata}, folder / MODEL_FILE)
    return folder


def _check_run(folder: Path, victim: str) -> None:
    from pyembed.train.run_dir import load_index, load_run

    run = _attempt(lambda: load_run(folder), folder / victim)
    if run is not None:
        arrays = run.arrays
        n = arrays["embeddings"].shape[0]
        assert arrays["embeddings"].dtype == np.float32 and arrays["embeddings"].ndim == 2
        for key in ("labels", "label_names", "is_test"):
            assert arrays[key].shape == (n,), key
        assert arrays["is_test"].dtype == np.bool_
        rows = arrays["index_rows"]
        assert rows.dtype == np.int64 and ((rows >= 0) & (rows < n)).all()
        assert run.kind in ("faces", "ucr") and isinstance(run.metadata["data"], dict)
    index = _attempt(lambda: load_index(folder), folder / victim)
    if index is not None:
        assert len(index) >= 0


def test_run_seed_is_valid(run_seed: Path) -> None:
    from pyembed.train.run_dir import load_index, load_run

    assert load_run(run_seed).kind == "ucr" and len(load_index(run_seed)) == 4


@FEW
@given(victim=st.sampled_from(["model.pt", "embeddings.npz", "index.nswg"]), data=st.data())
def test_run_dir_with_a_mutated_file(
    run_seed: Path, scratch: Path, victim: str, data: st.DataObject
) -> None:
    folder = scratch / "run"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(run_seed, folder)
    seed = (run_seed / victim).read_bytes()
    (folder / victim).write_bytes(data.draw(mutations(seed, max_ops=3)))
    _check_run(folder, victim)


@FEW
@given(
    arrays=st.dictionaries(
        st.sampled_from(["embeddings", "labels", "label_names", "is_test", "index_rows"]),
        small_arrays(),
        max_size=5,
    )
)
def test_run_dir_with_arbitrary_embeddings(run_seed: Path, scratch: Path, arrays: dict) -> None:
    folder = scratch / "run-arrays"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(run_seed, folder)
    (folder / "embeddings.npz").write_bytes(_npz_bytes(**arrays))
    _check_run(folder, "embeddings.npz")


# --------------------------------------------------------------------------------------------------
# Each problem the properties above found, as a fixed example (the fixed behaviour)


UCR_REGRESSIONS = [
    # (id, file name, contents, message regex or None for "reads", expected labels)
    ("bom-keeps-int-labels", "Toy_TRAIN.tsv", "\ufeff1\t1.0\t2.0\n2\t3.0\t4.0\n", None, [1, 2]),
    (
        "float32-overflow",
        "Toy_TRAIN.tsv",
        "1\t1e39\t2.0\n",
        r"line 1 has the value 1e\+39 at sample 1, beyond the float32",
        None,
    ),
    (
        "nan-label",
        "Toy_TRAIN.tsv",
        "1\t1.0\t2.0\nNaN\t3.0\t4.0\n",
        r"line 2 has the class label 'NaN'",
        None,
    ),
    ("inf-label", "Toy_TRAIN.txt", "inf 1.0 2.0\n", r"line 1 has the class label 'inf'", None),
    ("float-label-overflow", "Toy_TRAIN.tsv", "1e30\t1.0\t2.0\n", "beyond the int64 range", None),
    (
        "int-label-overflow",
        "Toy_TRAIN.tsv",
        "99999999999999999999\t1.0\n",
        "beyond the int64 range",
        None,
    ),
    (
        "tsv-empty-label",
        "Toy_TRAIN.tsv",
        "\t1.0\t2.0\n\t3.0\t4.0\n",
        "line 1 has an empty class label",
        None,
    ),
    ("ts-empty-label", "Toy_TRAIN.ts", "@data\n1,2:\n", "line 2 has an empty class label", None),
    # numpy str arrays drop trailing NULs: "\x00" would come back as "", "a\x00" as "a"
    ("nul-label", "Toy_TRAIN.tsv", "\x00\t1.0\n2\t2.0\n", "line 1 has a NUL character", None),
    ("nul-in-label", "Toy_TRAIN.ts", "@data\n1,2:a\x00\n", "line 2 has a NUL character", None),
    (
        "ts-bad-flag",
        "Toy_TRAIN.ts",
        "@univariate maybe\n@data\n1,2:1\n",
        r"line 1: @univariate must be true or false, got 'maybe'",
        None,
    ),
    (
        "ts-bad-length",
        "Toy_TRAIN.ts",
        "@seriesLength many\n@data\n1,2:1\n",
        "@serieslength must be a positive integer",
        None,
    ),
    (
        "ts-length-mismatch",
        "Toy_TRAIN.ts",
        "@seriesLength 5\n@data\n1,2:1\n",
        "line 1 declares @seriesLength 5 but the series have 2",
        None,
    ),
    (
        "ts-undeclared-label",
        "Toy_TRAIN.ts",
        "@classLabel true 1 2\n@data\n1,2:1\n3,4:3\n",
        "line 4 has the class label '3', which @classLabel does not declare",
        None,
    ),
    (
        "ts-regression",
        "Toy_TRAIN.ts",
        "@targetLabel true\n@data\n1,2:0.5\n",
        "regression problem",
        None,
    ),
    (
        "underscore-value",
        "Toy_TRAIN.tsv",
        "1\t1_0\t2.0\n",
        r"value 1: expected a number, got '1_0'",
        None,
    ),
    ("non-ascii-digit", "Toy_TRAIN.tsv", "1\t\u0661\t2.0\n", "value 1: expected a number", None),
    ("underscore-label-is-text", "Toy_TRAIN.tsv", "1_0\t1.0\n2\t2.0\n", None, ["1_0", "2"]),
    # a vertical tab is not a line break: line numbers are the ones an editor shows
    (
        "vertical-tab",
        "Toy_TRAIN.tsv",
        "1\t1.0\t2.0\n1\t1\x0b2\t3\n",
        r"line 2, value 1: expected a number",
        None,
    ),
]


@pytest.mark.parametrize(
    ("file_name", "contents", "message", "labels"),
    [case[1:] for case in UCR_REGRESSIONS],
    ids=[case[0] for case in UCR_REGRESSIONS],
)
def test_ucr_regressions(
    tmp_path: Path, file_name: str, contents: str, message: str | None, labels: list | None
) -> None:
    path = tmp_path / file_name
    path.write_text(contents, encoding="utf-8")
    if message is None:
        assert read_file(path).y.tolist() == labels
        return
    with pytest.raises(ValueError, match=message) as info:
        read_file(path)
    assert str(info.value).startswith(str(path))


def _zip_with(name: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, payload)
    return buffer.getvalue()


FACE_REGRESSIONS = [
    # (id, file contents, message regex); each used to leak another type or load silently
    (
        "npy-renamed-npz",
        _npy_bytes(_IMAGES),
        "not a readable .npz archive: it is a single .npy array",
    ),
    ("empty", b"", "not a readable .npz archive: the file is empty"),
    ("truncated", FACE_SEEDS[0][:200], "not a readable .npz archive"),
    ("bad-crc", FACE_SEEDS[0].replace(_IMAGES.tobytes(), bytes(12)), "Bad CRC-32"),
    ("torch-like-zip", _zip_with("archive/data.pkl", b"x"), "zip archive of other files"),
    (
        "unsigned-label-overflow",
        _npz_bytes(images=_IMAGES, labels=np.full(3, 2**63, np.uint64)),
        "beyond the int64 range",
    ),
    ("no-pixels", _npz_bytes(images=np.zeros((3, 0, 4), np.uint8), labels=_LABELS), "no pixels"),
    (
        "float-images",
        _npz_bytes(images=_IMAGES.astype(np.float32), labels=_LABELS),
        "images must be uint8",
    ),
]


@pytest.mark.parametrize(
    ("contents", "message"),
    [case[1:] for case in FACE_REGRESSIONS],
    ids=[case[0] for case in FACE_REGRESSIONS],
)
def test_face_regressions(tmp_path: Path, contents: bytes, message: str) -> None:
    path = _write(tmp_path, "faces.npz", contents)
    with pytest.raises(ValueError, match=message) as info:
        load_faces(path)
    assert str(info.value).startswith(str(path))


def test_missing_and_directory_paths_are_os_errors_with_the_file_name(tmp_path: Path) -> None:
    for read in (load_faces, read_npz, read_npy, read_file):
        with pytest.raises(FileNotFoundError) as missing:
            read(tmp_path / "absent_TRAIN.tsv")
        assert missing.value.filename is not None
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(IsADirectoryError) as folder:
        load_faces(tmp_path / "folder.npz")
    assert str(folder.value.filename).endswith("folder.npz")
