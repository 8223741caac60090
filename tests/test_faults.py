"""Faults an index must survive: savers killed mid-write or racing, Ctrl-C inside long calls,
threads searching while others add and save, forked children, and absurd sizes."""

import os
import re
import signal
import threading
import time

import numpy as np
import pytest

import pyembed
from pyembed import _nswg

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

#: The name a save's temporary file has while it is being renamed into place (see durable.rs).
TEMP = re.compile(r"^\.index\.nswg\.\d+\.\d+\.tmp$")


def _rows(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)


def _index(n: int, seed: int, dim: int = 32) -> pyembed.Index:
    ix = pyembed.Index(dim)
    ix.add(_rows(n, dim, seed))
    ix.build(n_threads=1)
    return ix


def _has_o_tmpfile(folder: os.PathLike[str]) -> bool:
    """Whether ``folder``'s file system gives saves an unnamed temporary file."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return False
    try:
        os.close(os.open(folder, flag | os.O_WRONLY, 0o600))
    except OSError:
        return False
    return True


def _wait(pid: int) -> int:
    """Reaps child ``pid``; returns its exit code (negative: killed by that signal)."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@needs_fork
def test_killed_saves_leave_the_old_or_the_new_index_whole(tmp_path):
    """A child saves two indexes in turn to one path until SIGKILLed, at 40 moments spread over
    two save cycles: the path always holds one of the two files, byte for byte, and loads."""
    a, b = _index(20000, 1), _index(12000, 2)
    path = tmp_path / "index.nswg"
    b.save(path)
    want_b = path.read_bytes()
    a.save(path)
    want_a = path.read_bytes()
    started = time.perf_counter()
    a.save(path)
    b.save(path)
    a.save(path)
    cycle = time.perf_counter() - started
    seen = {"a": 0, "b": 0}
    strays: set[str] = set()
    for delay in np.linspace(0.0, 2 * cycle, 40):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                while True:
                    b.save(path)
                    a.save(path)
            finally:
                os._exit(3)
        time.sleep(float(delay))
        os.kill(pid, signal.SIGKILL)
        assert _wait(pid) == -signal.SIGKILL
        content = path.read_bytes()
        assert content in (want_a, want_b), f"torn file after a kill at {delay:.4f} s"
        seen["a" if content == want_a else "b"] += 1
        assert len(pyembed.Index.load(path)) in (20000, 12000)
        strays |= {n for n in os.listdir(tmp_path) if n != "index.nswg"}
    # Kills landed in both saves, not always in the same place.
    assert seen["a"] > 0 and seen["b"] > 0, seen
    assert all(TEMP.match(n) for n in strays), strays
    if _has_o_tmpfile(tmp_path):
        # The file is unnamed while it is written; only a kill in the instant between naming and
        # renaming it (two system calls) can leave one behind. On a loaded machine two of the 40
        # kills have landed there (CI, 2026-12-04), so allow a few: a temporary named from the
        # start would be left by nearly every kill that lands in a write, most of the 40.
        assert len(strays) <= 4, strays


@needs_fork
def test_concurrent_saves_from_two_processes_leave_one_whole_file(tmp_path):
    a, b = _index(8000, 3), _index(5000, 4)
    path = tmp_path / "index.nswg"
    wanted = set()
    for ix in (a, b):
        ix.save(path)
        wanted.add(path.read_bytes())
    path.unlink()
    pids = []
    for ix in (a, b):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            code = 1
            try:
                for _ in range(15):
                    ix.save(path)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    assert [_wait(p) for p in pids] == [0, 0]
    assert path.read_bytes() in wanted
    assert os.listdir(tmp_path) == ["index.nswg"]


def test_ctrl_c_during_a_long_build_keeps_a_correct_index():
    """SIGINT arrives while the core builds (GIL released): the build stops after the piece in
    progress with KeyboardInterrupt; every row stays stored and answers exactly, the rows not yet
    linked stay pending, and the next graph search links them."""
    chunk = _nswg.ADD_CHUNK_ROWS
    data = _rows(6 * chunk, 16, 5)
    ix = pyembed.Index(16)
    ix.add(data)
    first_piece = threading.Event()

    def interrupt() -> None:
        first_piece.wait(60)
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=interrupt)
    sender.start()
    with pytest.raises(KeyboardInterrupt):
        ix.build(n_threads=2, progress=lambda done, total: first_piece.set())
    sender.join()
    linked = len(ix) - ix.pending
    assert len(ix) == len(data) and linked % chunk == 0 and chunk <= linked < len(data)
    np.testing.assert_array_equal(ix.ids, np.arange(len(data)))
    queries = _rows(20, 16, 6)
    d2 = ((queries[:, None, :] - data[None, :, :]) ** 2).sum(-1)
    truth = np.argsort(d2, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(ix.search(queries, 5, exact=True).ids, truth)
    hits = ix.search(data[::500], 1).ids[:, 0]
    assert ix.pending == 0
    assert (hits == np.arange(0, len(data), 500)).mean() >= 0.95


def test_ctrl_c_during_a_long_batch_search_raises_and_the_index_still_answers():
    """An exact batch of several seconds is interrupted between its pieces."""
    data = _rows(40000, 32, 7)
    ix = pyembed.Index(32)
    ix.add(data)
    queries = _rows(40000, 32, 8)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ix.search(queries, 10, exact=True, n_threads=2)
    finally:
        timer.cancel()
    few = queries[:8]
    d2 = ((few[:, None, :] - data[None, :, :]) ** 2).sum(-1)
    np.testing.assert_array_equal(
        ix.search(few, 3, exact=True).ids, np.argsort(d2, axis=1, kind="stable")[:, :3]
    )


def test_threads_searching_while_one_adds_and_one_saves_see_serial_states(tmp_path):
    """Three threads search (graph and exact) while one adds batches and one saves and reloads:
    every answer and every saved file equals the serial replay's at some number of batches (a
    file may also be saved between a batch's add and its build, with that batch pending)."""
    dim, per, batches = 16, 1500, 6
    data = _rows(per * batches, dim, 9)
    queries = _rows(40, dim, 10)
    ids = np.arange(len(data))
    parts = [slice(j * per, (j + 1) * per) for j in range(batches)]

    replay = pyembed.Index(dim)
    states = []  # per number of batches: graph ids, exact ids, file bytes
    path = tmp_path / "replay.nswg"
    stored_files = []  # per number of batches: the file saved between its add and its build
    for part in parts:
        replay.add(data[part], ids=ids[part])
        replay.save(path)
        stored_files.append(path.read_bytes())
        replay.build(n_threads=1)
        replay.save(path)
        states.append(
            (
                replay.search(queries, 5, ef=32, n_threads=1).ids.tobytes(),
                replay.search(queries, 5, exact=True, n_threads=1).ids.tobytes(),
                path.read_bytes(),
            )
        )
    graph_ok = {s[0] for s in states}
    exact_ok = {s[1] for s in states}
    files_ok = {s[2] for s in states} | set(stored_files[1:])

    ix = pyembed.Index(dim)
    ix.add(data[parts[0]], ids=ids[parts[0]])
    ix.build(n_threads=1)
    errors: list[str] = []
    done = threading.Event()
    counts = {"graph": 0, "exact": 0, "saves": 0}

    def guard(fn):
        def run() -> None:
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(f"{fn.__name__}: {e!r}")
                done.set()

        return run

    def searcher() -> None:
        while not done.is_set():
            # A graph search builds what is pending first, with its own threads: one thread, so
            # the graph is the replay's whoever builds it.
            g = ix.search(queries, 5, ef=32, n_threads=1).ids.tobytes()
            e = ix.search(queries, 5, exact=True, n_threads=1).ids.tobytes()
            if g not in graph_ok or e not in exact_ok:
                raise AssertionError("an answer matches no serial state")
            counts["graph"] += 1
            counts["exact"] += 1

    def adder() -> None:
        for part in parts[1:]:
            time.sleep(0.05)
            ix.add(data[part], ids=ids[part])
            ix.build(n_threads=1)
        time.sleep(0.05)
        done.set()

    def saver() -> None:
        live = tmp_path / "live.nswg"
        while not done.is_set():
            ix.save(live)
            if live.read_bytes() not in files_ok:
                raise AssertionError("a saved file matches no serial state")
            if len(pyembed.Index.load(live)) % per:
                raise AssertionError("a reloaded file holds a partial batch")
            counts["saves"] += 1

    threads = [threading.Thread(target=guard(f)) for f in (searcher, searcher, searcher)]
    threads += [threading.Thread(target=guard(adder)), threading.Thread(target=guard(saver))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "deadlock: threads still running after 120 s"
    assert errors == []
    assert len(ix) == len(data)
    assert counts["graph"] > 0 and counts["saves"] > 0, counts
    # The final state is the replay's final state.
    assert ix.search(queries, 5, ef=32, n_threads=1).ids.tobytes() == states[-1][0]


@needs_fork
def test_forked_child_can_add_and_search(tmp_path):
    ix = _index(3000, 11, dim=8)
    ix.search(_rows(50, 8, 12), 5, n_threads=2)  # the parent's thread pool exists before the fork
    extra = _rows(500, 8, 13)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            ix.add(extra, ids=np.arange(3000, 3500))
            ix.build(n_threads=2)
            hits = ix.search(extra[:50], 1, exact=True, n_threads=2).ids[:, 0]
            code = 0 if np.array_equal(hits, np.arange(3000, 3050)) and len(ix) == 3500 else 2
        finally:
            os._exit(code)
    assert _wait(pid) == 0
    assert len(ix) == 3000  # the child's add is its own


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: pyembed.Index(2**30), ValueError, "dim must be between 1 and 16777216"),
        (
            lambda: _index(100, 0, 4).search(np.zeros(4), 1, n_threads=10**6),
            ValueError,
            "n_threads must be at most 1024",
        ),
        (
            lambda: pyembed.Index(4).build(n_threads=5000),
            ValueError,
            "n_threads must be at most 1024",
        ),
        (
            lambda: pyembed.Index(16, "dtw", band=10**12),
            ValueError,
            "band must be between 0 and dim=16",
        ),
    ],
    ids=["dim", "search-threads", "build-threads", "band"],
)
def test_absurd_sizes_are_named_value_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_a_result_too_large_for_memory_is_a_memory_error_before_any_work():
    """2,000,000 queries x k=50,000 would be 1.2 TB of results."""
    ix = pyembed.Index(1)
    ix.add(np.arange(50000, dtype=np.float32)[:, None])
    ix.build(n_threads=2)
    queries = np.zeros((2_000_000, 1), dtype=np.float32)
    with pytest.raises(MemoryError, match="search results"):
        ix.search(queries, 50000, exact=True)
    assert ix.search(queries[:1], 1, exact=True).ids[0, 0] == 0


def test_a_forged_header_is_refused_before_loading(tmp_path):
    """A header claiming 2^32-1 rows of 2^24 floats in a file of a few KB."""
    path = tmp_path / "forged.nswg"
    _index(40, 14, 4).save(path)
    b = bytearray(path.read_bytes())
    b[16:24] = (2**24).to_bytes(8, "little")
    b[64:72] = (2**32 - 1).to_bytes(8, "little")
    path.write_bytes(bytes(b))
    with pytest.raises(pyembed.IndexFormatError, match="forged.nswg: .*header describes"):
        pyembed.Index.load(path)


_HANDLER_SCRIPT = r"""
import os, signal, threading, time
import numpy as np, pyembed
rng = np.random.default_rng(15)
data = rng.standard_normal((40000, 32), dtype=np.float32)
ix = pyembed.Index(32)
ix.add(data)
seen = []

def handler(signum, frame):
    seen.append(len(ix.search(data[:3], 1, exact=True).ids))  # a read inside the search
    try:
        ix.add(data[:1] + 1)
    except ValueError as e:
        seen.append(str(e))

signal.signal(signal.SIGUSR1, handler)
adder = threading.Thread(target=lambda: ix.add(data[:5] + 2))

def later():
    time.sleep(0.3)
    adder.start()  # waits for the write lock the batch search holds
    time.sleep(0.3)
    os.kill(os.getpid(), signal.SIGUSR1)

threading.Thread(target=later).start()
ix.search(rng.standard_normal((30000, 32), dtype=np.float32), 5, exact=True, n_threads=2)
adder.join()
print(seen[0], "|", seen[1], "|", len(ix))
"""


def test_a_signal_handler_can_read_the_index_a_long_search_holds(tmp_path):
    """A handler that runs between pieces of a batch search (Ctrl-C checks) while another thread
    waits to add: reading the index works (a plain read would queue behind the waiting writer,
    which waits for the search: a deadlock); changing it is a ValueError. In a child process,
    so a regression hangs only the child (killed after 120 s)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _HANDLER_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    first, message, size = (part.strip() for part in done.stdout.split("|"))
    assert first == "3"
    assert "cannot change an index while a search of it is running" in message
    assert size == "40005"
