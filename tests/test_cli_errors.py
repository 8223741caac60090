"""Every command fed a bad file: one line on stderr naming the file, a non-zero exit, no traceback;
with ``--debug`` the traceback.

One table of (command, fault) cases drives click's ``CliRunner``; a few cases also run through
real processes (``python -m pyembed`` and the ``pyembed`` console script), where the traceback
of ``--debug`` is checked as printed. Faults: a path that does not exist, a directory where a file
is expected (and a file where a directory is), an unreadable file (skipped when running as root,
which reads anything), an empty file, garbage bytes, a truncated file, the wrong kind of file (an
index file where an ``.npz`` is expected, an ``.npz`` where a run directory is, a ``.npy`` renamed
``.npz``), and format-specific ones: a ragged UCR ``.tsv``, a non-numeric cell, a NaN label, a
``.ts`` file with a bad header.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("pyembed._nswg")

from click.testing import CliRunner, Result  # noqa: E402

from pyembed import Index  # noqa: E402
from pyembed.cli import main  # noqa: E402

TINY = [
    "--epochs", "1", "--growth-rate", "4", "--block-sizes", "1", "--embedding-dim", "8",
    "--n-identities", "2", "--n-per-identity", "2", "--n-batches", "1", "--threads", "1",
    "--no-progress",
]  # fmt: skip
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

GARBAGE = b"\x00\x01\x02garbage\xff\xfe not a data file\n"
# A valid split (4 samples a series, two classes) and the same with one fault each.
TSV_ROWS = "".join(
    f"{label}\t{values}\n"
    for label, values in [
        (1, "1.0\t2.0\t3.0\t4.0"),
        (2, "2.0\t1.0\t0.0\t1.0"),
        (1, "0.5\t1.5\t2.5\t3.5"),
        (2, "3.0\t2.0\t1.0\t0.0"),
        (1, "1.0\t2.5\t3.0\t4.5"),
        (2, "2.5\t1.0\t0.5\t1.0"),
    ]
)
RAGGED = TSV_ROWS.replace("0.5\t1.5\t2.5\t3.5", "0.5\t1.5\t2.5")
NOT_A_NUMBER = TSV_ROWS.replace("3.0\t2.0\t1.0", "3.0\tabc\t1.0")
NAN_LABEL = TSV_ROWS.replace("2\t2.0", "NaN\t2.0")


def _index_bytes(tmp: Path, dim: int = 3) -> bytes:
    index = Index(dim)
    index.add(np.arange(4 * dim, dtype=np.float32).reshape(4, dim))
    index.save(tmp / "other.nswg")
    return (tmp / "other.nswg").read_bytes()


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------------
# Runs to break: a tiny UCR run and a tiny face run, trained once per module


@pytest.fixture(scope="module")
def face_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5, dtype=np.int16), 4)
    images = rng.integers(0, 255, size=(20, 12, 12), dtype=np.uint8)
    path = tmp_path_factory.mktemp("faces") / "toy.npz"
    return _write(path, _npz_bytes(images=images, labels=labels))


def _train(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, *TINY, "--format", "json"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def runs(face_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    data = root / "ucr" / "Toy"
    _write(data / "Toy_TRAIN.tsv", TSV_ROWS)
    _write(data / "Toy_TEST.tsv", TSV_ROWS)
    _train(["train", "ucr", "Toy", "--data-dir", str(data.parent), "--run-dir", str(root / "u")])
    _train(["train", "faces", "--data", str(face_file), "--run-dir", str(root / "f"), "--test-identities", "2"])  # fmt: skip
    return {"ucr": root / "u", "faces": root / "f", "ucr_data": data.parent}


@dataclass
class Env:
    """What a case builds its fault in: a fresh directory and copies of the trained runs."""

    tmp: Path
    runs: dict[str, Path]
    face_file: Path

    def run(self, kind: str) -> Path:
        """A private copy of the ``kind`` run directory, free to break."""
        copy = self.tmp / f"run-{kind}"
        if not copy.exists():
            shutil.copytree(self.runs[kind], copy)
        return copy

    def ucr_data(self) -> Path:
        """A private copy of the UCR run's data directory (``Toy``), free to break."""
        copy = self.tmp / "ucr"
        if not copy.exists():
            shutil.copytree(self.runs["ucr_data"], copy)
        return copy

    def ucr_run_on_private_data(self) -> tuple[Path, Path]:
        """A UCR run copy whose checkpoint points at a private data copy: (run, Toy folder)."""
        from pyembed.train.checkpoint import load_checkpoint, save_checkpoint

        run, data = self.run("ucr"), self.ucr_data()
        state = load_checkpoint(run / "model.pt")
        state["metadata"]["data"]["data_dir"] = str(data)
        save_checkpoint(state, run / "model.pt")
        return run, data / "Toy"


# A case builds its fault and returns (arguments after `pyembed`, the file the message must name,
# the exit code).
Build = Callable[[Env], tuple[list[str], str, int]]


def _bench(fault: Callable[[Path], str], code: int = 1) -> Build:
    """``bench ucr`` on a data directory with one broken file; ``fault`` breaks the Toy folder
    (holding valid TRAIN and TEST files) and returns the name the message must give."""

    def build(env: Env) -> tuple[list[str], str, int]:
        folder = _write(env.tmp / "data" / "Toy" / "Toy_TEST.tsv", TSV_ROWS).parent
        _write(folder / "Toy_TRAIN.tsv", TSV_ROWS)
        name = fault(folder)
        return ["bench", "ucr", "--data-dir", str(folder.parent), "Toy", "--band", "1"], name, code

    return build


def _replace_train(folder: Path, name: str, data: bytes | str, names: str = "") -> str:
    """Put ``data`` in the TRAIN file's place (as ``name``); returns the name to report."""
    (folder / "Toy_TRAIN.tsv").unlink()
    _write(folder / name, data)
    return names or name


def _remove(path: Path, names: str) -> str:
    path.unlink()
    return names


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _dir_instead(path: Path) -> str:
    """Replace the file ``path`` by a directory of the same name."""
    path.unlink()
    return _mkdir(path).name


def _unreadable(path: Path) -> str:
    if ROOT:
        pytest.skip("running as root: chmod 000 does not stop root from reading")
    path.chmod(0)
    return path.name


def _train_ucr(fault: Callable[[Path], str], code: int = 1) -> Build:
    def build(env: Env) -> tuple[list[str], str, int]:
        folder = env.ucr_data() / "Toy"
        name = fault(folder)
        args = ["train", "ucr", "Toy", "--data-dir", str(folder.parent)]
        return [*args, "--run-dir", str(env.tmp / "new-run"), *TINY], name, code

    return build


def _train_faces(data: Callable[[Env], Path], code: int = 1) -> Build:
    def build(env: Env) -> tuple[list[str], str, int]:
        path = data(env)
        args = ["train", "faces", "--data", str(path), "--run-dir", str(env.tmp / "new-run")]
        return [*args, *TINY], path.name, code

    return build


def _face_data(name: str, contents: bytes | str) -> Callable[[Env], Path]:
    return lambda env: _write(env.tmp / name, contents)


def _resume(fault: Callable[[Path], object]) -> Build:
    """``train ucr --resume`` on a run whose checkpoint ``fault`` breaks."""

    def build(env: Env) -> tuple[list[str], str, int]:
        run = env.run("ucr")
        (run / "model.pt").unlink()
        fault(run / "model.pt")
        args = ["train", "ucr", "Toy", "--data-dir", str(env.runs["ucr_data"]), "--resume"]
        return [*args, "--run-dir", str(run), *TINY], "model.pt", 1

    return build


def _resume_edited(edit: Callable[[dict, Env], dict]) -> Build:
    """``train ucr --resume`` on a run whose checkpoint state ``edit`` changes (a valid file)."""

    def build(env: Env) -> tuple[list[str], str, int]:
        from pyembed.train.checkpoint import load_checkpoint, save_checkpoint

        run = env.run("ucr")
        state = edit(load_checkpoint(run / "model.pt"), env)
        state.pop("format")
        save_checkpoint(state, run / "model.pt")
        args = ["train", "ucr", "Toy", "--data-dir", str(env.runs["ucr_data"]), "--resume"]
        return [*args, "--run-dir", str(run), *TINY], "model.pt", 1

    return build


def _faces_state(state: dict, env: Env) -> dict:
    from pyembed.train.checkpoint import load_checkpoint

    return load_checkpoint(env.runs["faces"] / "model.pt")


def _without_optimizer(state: dict, env: Env) -> dict:
    del state["optimizer"]
    return state


def _eval(kind: str, fault: Callable[[Path, Env], str], code: int = 1) -> Build:
    """``eval`` on a copy of the ``kind`` run that ``fault`` breaks."""

    def build(env: Env) -> tuple[list[str], str, int]:
        run = env.run(kind)
        return ["eval", str(run)], fault(run, env), code

    return build


def _break_file(name: str, contents: bytes | str | None) -> Callable[[Path, Env], str]:
    """Replace (or with None, remove) one file of a run directory."""

    def fault(run: Path, env: Env) -> str:
        (run / name).unlink()
        if contents is not None:
            _write(run / name, contents)
        return name

    return fault


def _make_dir(name: str) -> Callable[[Path, Env], str]:
    def fault(run: Path, env: Env) -> str:
        (run / name).unlink()
        (run / name).mkdir()
        return name

    return fault


def _query(kind: str, inputs: Callable[[Env], Path], *extra: str, code: int = 1) -> Build:
    """``query`` of a copy of the ``kind`` run with the INPUTS file ``inputs`` builds."""

    def build(env: Env) -> tuple[list[str], str, int]:
        path = inputs(env)
        return ["query", str(env.run(kind)), str(path), *extra], path.name, code

    return build


def _query_broken_run(kind: str, fault: Callable[[Path, Env], str]) -> Build:
    """``query`` with valid inputs against a run copy that ``fault`` breaks."""

    def build(env: Env) -> tuple[list[str], str, int]:
        run = env.run(kind)
        if kind == "faces":
            inputs = _write(env.tmp / "q.npz", _npz_bytes(images=np.zeros((2, 12, 12), np.uint8)))
        else:
            inputs = _write(env.tmp / "q.tsv", TSV_ROWS)
        return ["query", str(run), str(inputs)], fault(run, env), 1

    return build


def _inputs(name: str, contents: bytes | str) -> Callable[[Env], Path]:
    return lambda env: _write(env.tmp / name, contents)


def _eval_ucr_data(fault: Callable[[Path], str]) -> Build:
    """``eval`` of a UCR run whose data files (``fault`` breaks them) moved under it."""

    def build(env: Env) -> tuple[list[str], str, int]:
        run, folder = env.ucr_run_on_private_data()
        return ["eval", str(run)], fault(folder), 1

    return build


def _eval_face_data(contents: bytes | None) -> Build:
    """``eval`` of a face run whose data file is replaced by ``contents`` (None: deleted)."""

    def build(env: Env) -> tuple[list[str], str, int]:
        from pyembed.train.checkpoint import load_checkpoint, save_checkpoint

        run = env.run("faces")
        data = env.tmp / "moved.npz"
        if contents is not None:
            _write(data, contents)
        state = load_checkpoint(run / "model.pt")
        state["metadata"]["data"]["path"] = str(data)
        save_checkpoint(state, run / "model.pt")
        return ["eval", str(run)], data.name, 1

    return build


def _other_index(run: Path, env: Env) -> str:
    (run / "index.nswg").write_bytes(_index_bytes(env.tmp, dim=3))
    return "index.nswg"


def _torch_file(path: Path) -> None:
    import torch

    torch.save({"weights": torch.zeros(2)}, path)


def _copy_index_as(name: str) -> Callable[[Path], str]:
    def fault(folder: Path) -> str:
        return _replace_train(folder, name, _index_bytes(folder))

    return fault


NAN_SERIES = np.array([[1.0, np.nan, 2.0, 3.0]])
OBJECTS = np.array([{"a": 1}, None], dtype=object)
TRUNCATED_NPZ = _npz_bytes(images=np.zeros((4, 12, 12), np.uint8), labels=np.arange(4))[:150]

# fmt: off
CASES: list[tuple[str, str, Build]] = [
    # ---- bench ucr: the data directory and the files in it
    ("bench ucr", "data dir missing", lambda env: (["bench", "ucr", "--data-dir", str(env.tmp / "absent")], "absent", 2)),
    ("bench ucr", "npz where a directory is expected", lambda env: (["bench", "ucr", "--data-dir", str(_write(env.tmp / "toy.npz", _npz_bytes(a=np.zeros(2))))], "toy.npz", 2)),
    ("bench ucr", "TRAIN file missing", _bench(lambda f: _remove(f / "Toy_TRAIN.tsv", names="Toy_TRAIN"))),
    ("bench ucr", "directory where TRAIN file is expected", _bench(lambda f: _dir_instead(f / "Toy_TRAIN.tsv"))),
    ("bench ucr", "unreadable TRAIN file", _bench(lambda f: _unreadable(f / "Toy_TRAIN.tsv"))),
    ("bench ucr", "empty .tsv", _bench(lambda f: _replace_train(f, "Toy_TRAIN.tsv", ""))),
    ("bench ucr", "garbage bytes .tsv", _bench(lambda f: _replace_train(f, "Toy_TRAIN.tsv", GARBAGE))),
    ("bench ucr", "ragged .tsv", _bench(lambda f: _replace_train(f, "Toy_TRAIN.tsv", RAGGED))),
    ("bench ucr", "non-numeric cell", _bench(lambda f: _replace_train(f, "Toy_TRAIN.tsv", NOT_A_NUMBER))),
    ("bench ucr", "NaN label", _bench(lambda f: _replace_train(f, "Toy_TRAIN.tsv", NAN_LABEL))),
    ("bench ucr", ".ts with a bad header", _bench(lambda f: _replace_train(f, "Toy_TRAIN.ts", "@univariate maybe\n@data\n1,2,3,4:1\n"))),
    ("bench ucr", ".ts without @data", _bench(lambda f: _replace_train(f, "Toy_TRAIN.ts", "@problemName Toy\n1,2,3,4:1\n"))),
    ("bench ucr", "index file as .tsv", _bench(_copy_index_as("Toy_TRAIN.tsv"))),
    ("bench ucr", "TRAIN/TEST lengths differ", _bench(lambda f: _replace_train(f, "Toy_TRAIN.tsv", "1\t1.0\t2.0\n2\t1.0\t3.0\n", names="Toy_TEST.tsv"))),
    ("bench ucr", "--out is a directory", lambda env: (["bench", "ucr", "GunPoint", "--out", str(env.tmp)], env.tmp.name, 2)),
    ("bench ucr", "--json into a missing directory", lambda env: (["bench", "ucr", "Coffee", "--metric", "euclidean", "--json", str(env.tmp / "no" / "r.json")], "r.json", 1)),
    # ---- train ucr: the same readers, the run directory, a checkpoint to resume
    ("train ucr", "data dir missing", lambda env: (["train", "ucr", "Toy", "--data-dir", str(env.tmp / "absent"), "--run-dir", str(env.tmp / "r")], "absent", 2)),
    ("train ucr", "ragged .tsv", _train_ucr(lambda f: _replace_train(f, "Toy_TRAIN.tsv", RAGGED))),
    ("train ucr", "NaN label", _train_ucr(lambda f: _replace_train(f, "Toy_TRAIN.tsv", NAN_LABEL))),
    ("train ucr", "empty .tsv", _train_ucr(lambda f: _replace_train(f, "Toy_TRAIN.tsv", "\n\n"))),
    ("train ucr", ".ts with a bad header", _train_ucr(lambda f: _replace_train(f, "Toy_TRAIN.ts", "@seriesLength four\n@data\n1,2,3,4:1\n"))),
    ("train ucr", "file where --run-dir is expected", lambda env: (["train", "ucr", "Toy", "--run-dir", str(_write(env.tmp / "run.npz", b"x"))], "run.npz", 2)),
    ("train ucr", "--resume: empty checkpoint", _resume(lambda p: _write(p, b""))),
    ("train ucr", "--resume: garbage checkpoint", _resume(lambda p: _write(p, GARBAGE))),
    ("train ucr", "--resume: checkpoint is a directory", _resume(lambda p: p.mkdir())),
    ("train ucr", "--resume: a torch file of another program", _resume(_torch_file)),
    ("train ucr", "--resume: the checkpoint of a face run", _resume_edited(_faces_state)),
    ("train ucr", "--resume: checkpoint without optimizer state", _resume_edited(_without_optimizer)),
    # ---- train faces: the face .npz
    ("train faces", "missing", _train_faces(lambda env: env.tmp / "absent.npz", code=2)),
    ("train faces", "directory where the file is expected", _train_faces(lambda env: _mkdir(env.tmp / "dir.npz"), code=2)),
    ("train faces", "unreadable", _train_faces(lambda env: env.tmp / _unreadable(_write(env.tmp / "locked.npz", b"x")))),
    ("train faces", "empty", _train_faces(_face_data("empty.npz", b""))),
    ("train faces", "garbage bytes", _train_faces(_face_data("garbage.npz", GARBAGE))),
    ("train faces", "truncated", _train_faces(_face_data("cut.npz", TRUNCATED_NPZ))),
    ("train faces", ".npy renamed .npz", _train_faces(_face_data("array.npz", _npy_bytes(np.zeros((2, 4, 4), np.uint8))))),
    ("train faces", "index file as .npz", _train_faces(lambda env: _write(env.tmp / "index.npz", _index_bytes(env.tmp)))),
    ("train faces", "lacks labels", _train_faces(_face_data("nolabels.npz", _npz_bytes(images=np.zeros((2, 4, 4), np.uint8))))),
    ("train faces", "float images", _train_faces(_face_data("float.npz", _npz_bytes(images=np.zeros((2, 4, 4)), labels=np.arange(2))))),
    ("train faces", "pickled objects", _train_faces(_face_data("objects.npz", _npz_bytes(images=OBJECTS, labels=np.arange(2))))),
    ("train faces", "UCR .tsv as --data", _train_faces(_face_data("Toy_TRAIN.tsv", TSV_ROWS))),
    # ---- eval: the run directory and the data it points at
    ("eval", "run dir missing", lambda env: (["eval", str(env.tmp / "absent")], "absent", 2)),
    ("eval", "npz where a run directory is expected", lambda env: (["eval", str(_write(env.tmp / "embeddings.npz", _npz_bytes(a=np.zeros(1))))], "embeddings.npz", 2)),
    ("eval", "empty directory", lambda env: (["eval", str(_write(env.tmp / "empty" / "x", "").parent)], "model.pt", 1)),
    ("eval", "model.pt empty", _eval("ucr", _break_file("model.pt", b""))),
    ("eval", "model.pt garbage", _eval("ucr", _break_file("model.pt", GARBAGE))),
    ("eval", "model.pt is a directory", _eval("ucr", _make_dir("model.pt"))),
    ("eval", "index file as model.pt", _eval("faces", lambda run, env: _break_file("model.pt", _index_bytes(env.tmp))(run, env))),
    ("eval", "unreadable model.pt", _eval("ucr", lambda run, env: _unreadable(run / "model.pt"))),
    ("eval", "embeddings.npz missing", _eval("ucr", _break_file("embeddings.npz", None))),
    ("eval", "embeddings.npz garbage", _eval("faces", _break_file("embeddings.npz", GARBAGE))),
    ("eval", "embeddings.npz truncated", _eval("ucr", lambda run, env: _break_file("embeddings.npz", (run / "embeddings.npz").read_bytes()[:300])(run, env))),
    ("eval", "embeddings.npz lacks is_test", _eval("ucr", _break_file("embeddings.npz", _npz_bytes(embeddings=np.zeros((2, 8), np.float32))))),
    ("eval", "face data file deleted", _eval_face_data(None)),
    ("eval", "face data file is garbage", _eval_face_data(GARBAGE)),
    ("eval", "UCR data file ragged", _eval_ucr_data(lambda f: _replace_train(f, "Toy_TRAIN.tsv", RAGGED))),
    ("eval", "UCR data file deleted", _eval_ucr_data(lambda f: _remove(f / "Toy_TEST.tsv", names="Toy_TEST"))),
    # ---- query: the inputs and the run's index
    ("query", "inputs missing", _query("faces", lambda env: env.tmp / "absent.npz", code=2)),
    ("query", "directory where inputs are expected", _query("faces", lambda env: _mkdir(env.tmp / "d.npz"), code=2)),
    ("query", "unreadable inputs", _query("ucr", lambda env: env.tmp / _unreadable(_write(env.tmp / "q.tsv", TSV_ROWS)))),
    ("query", "empty .npz", _query("faces", _inputs("q.npz", b""))),
    ("query", "garbage .npy", _query("ucr", _inputs("q.npy", GARBAGE))),
    ("query", "pickled .npy", _query("ucr", _inputs("q.npy", _npy_bytes(OBJECTS, allow_pickle=True)))),
    ("query", ".npz without the --key array", _query("faces", _inputs("q.npz", _npz_bytes(images=np.zeros((1, 12, 12), np.uint8))), "--key", "nope")),
    ("query", "index file as .npz", _query("faces", lambda env: _write(env.tmp / "q.npz", _index_bytes(env.tmp)))),
    ("query", "images of the wrong size", _query("faces", _inputs("q.npz", _npz_bytes(images=np.zeros((1, 5, 5), np.uint8))))),
    ("query", "ragged .tsv", _query("ucr", _inputs("q.tsv", RAGGED))),
    ("query", "NaN label .tsv", _query("ucr", _inputs("q.tsv", NAN_LABEL))),
    ("query", ".ts with a bad header", _query("ucr", _inputs("q.ts", "@univariate maybe\n@data\n1,2,3,4:1\n"))),
    ("query", "NaN in .npy series", _query("ucr", _inputs("q.npy", _npy_bytes(NAN_SERIES)))),
    ("query", "UCR text for a face run", _query("faces", _inputs("q.txt", "1 1.0 2.0\n"))),
    ("query", "index.nswg missing", _query_broken_run("ucr", _break_file("index.nswg", None))),
    ("query", "index.nswg garbage", _query_broken_run("faces", _break_file("index.nswg", GARBAGE))),
    ("query", "index.nswg empty", _query_broken_run("ucr", _break_file("index.nswg", b""))),
    ("query", "index.nswg truncated", _query_broken_run("ucr", lambda run, env: _break_file("index.nswg", (run / "index.nswg").read_bytes()[:100])(run, env))),
    ("query", "index.nswg is a directory", _query_broken_run("ucr", _make_dir("index.nswg"))),
    ("query", "npz as index.nswg", _query_broken_run("faces", _break_file("index.nswg", _npz_bytes(a=np.zeros(2))))),
    ("query", "another run's index", _query_broken_run("ucr", _other_index)),
]
# fmt: on
CASE_IDS = [f"{command}: {fault}" for command, fault, _ in CASES]


@pytest.fixture
def env(tmp_path: Path, runs: dict[str, Path], face_file: Path) -> Env:
    return Env(tmp=tmp_path, runs=runs, face_file=face_file)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    return lines[0]


def assert_one_line_naming(result: Result, name: str, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"exception escaped: {result.exception!r}"
    line = _one_line(result.stderr)
    assert name in line, f"{name!r} not named in: {line}"
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return line


@pytest.mark.parametrize(("command", "fault", "build"), CASES, ids=CASE_IDS)
def test_bad_file_is_one_line_naming_it(env: Env, command: str, fault: str, build: Build) -> None:
    args, name, code = build(env)
    assert_one_line_naming(CliRunner().invoke(main, args), name, code)


@pytest.mark.parametrize(("command", "fault", "build"), CASES, ids=CASE_IDS)
def test_debug_shows_the_traceback(env: Env, command: str, fault: str, build: Build) -> None:
    args, _, _ = build(env)
    result = CliRunner().invoke(main, ["--debug", *args])
    assert result.exit_code != 0
    # A ClickException prints its traceback and keeps its exit code; anything else propagates
    # (CliRunner keeps it; a real process prints it, see the subprocess test below).
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert escaped or "Traceback (most recent call last)" in result.stderr, result.stderr


# A few cases through real processes: the module, and the console script pip installed.
PROCESS_CASES = [
    "bench ucr: ragged .tsv",
    "bench ucr: data dir missing",
    "train faces: .npy renamed .npz",
    "eval: model.pt garbage",
    "query: index.nswg truncated",
]


def _script() -> list[str]:
    script = Path(sys.executable).with_name("pyembed")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    return [str(script)]


@pytest.mark.parametrize("case_id", PROCESS_CASES)
@pytest.mark.parametrize("launcher", ["python -m pyembed", "console script"])
def test_real_process(env: Env, case_id: str, launcher: str) -> None:
    _, _, build = CASES[CASE_IDS.index(case_id)]
    args, name, code = build(env)
    command = [sys.executable, "-m", "pyembed"] if launcher == "python -m pyembed" else _script()
    plain = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)
    assert plain.returncode == code, plain.stderr
    line = _one_line(plain.stderr)
    assert name in line and line.startswith("Error: "), line
    assert plain.stdout == ""
    # --debug after the command name works as well as before it
    debug = subprocess.run(
        [*command, *args, "--debug"], capture_output=True, text=True, timeout=120
    )
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr, debug.stderr


def test_the_unbroken_files_work(env: Env) -> None:
    # Each case breaks one thing of inputs that otherwise work, so the fault is what fails.
    ucr, faces = env.run("ucr"), env.run("faces")
    images = _write(env.tmp / "q.npz", _npz_bytes(images=np.zeros((2, 12, 12), np.uint8)))
    for args in (
        ["bench", "ucr", "--data-dir", str(env.runs["ucr_data"]), "Toy", "--band", "1"],
        ["eval", str(ucr)],
        ["eval", str(faces)],
        ["query", str(ucr), str(_write(env.tmp / "q.tsv", TSV_ROWS))],
        ["query", str(faces), str(images)],
        ["train", "faces", "--data", str(env.face_file), "--run-dir", str(env.tmp / "r"), *TINY],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)


def test_help_has_the_global_debug_flag() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "--debug" in result.stdout


class _FakePanic(BaseException):
    """Stands in for pyo3's PanicException, which derives from BaseException."""


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            RuntimeError("boom\nsecond line"),
            "unexpected RuntimeError: boom second line (rerun with --debug",
        ),  # fmt: skip
        (_FakePanic("index.rs:12: oops"), "unexpected _FakePanic: index.rs:12: oops"),
        (PermissionError(13, "Permission denied", "/data/x.tsv"), "/data/x.tsv: Permission denied"),
        (ValueError("x" * 1000), "x" * 100),
    ],
)
def test_other_errors_are_one_line_too(monkeypatch, error: BaseException, shown: str) -> None:
    # A bug (any other exception, even a BaseException such as a Rust panic) is still one line,
    # and says how to see more; an OSError reads "PATH: reason"; long messages are cut.
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("pyembed.datasets.ucr.load_pair", fail)
    result = CliRunner().invoke(main, ["bench", "ucr", "Coffee"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    line = _one_line(result.stderr)
    assert shown in line and len(line) < 420, line
    try:  # with --debug the error propagates (CliRunner keeps an Exception, not a BaseException)
        escaped = CliRunner().invoke(main, ["bench", "ucr", "Coffee", "--debug"]).exception
    except BaseException as exc:
        escaped = exc
    assert escaped is error


def test_ctrl_c_is_not_turned_into_an_error_line(monkeypatch) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("pyembed.datasets.ucr.load_pair", interrupt)
    result = CliRunner().invoke(main, ["bench", "ucr", "Coffee"])
    assert result.exit_code == 1 and "Aborted" in result.stderr  # click's own handling


def test_a_command_message_over_several_lines_is_shown_as_one(monkeypatch) -> None:
    import click

    def fail(*args: object, **kwargs: object) -> None:
        raise click.ClickException("first line\n  second line")

    monkeypatch.setattr("pyembed.datasets.ucr.load_pair", fail)
    result = CliRunner().invoke(main, ["bench", "ucr", "Coffee"])
    assert result.exit_code == 1
    assert _one_line(result.stderr) == "Error: first line second line"
    debug = CliRunner().invoke(main, ["--debug", "bench", "ucr", "Coffee"])
    assert debug.stderr.count("Traceback (most recent call last)") == 1, debug.stderr
    assert debug.stderr.rstrip().endswith("Error: first line second line")
