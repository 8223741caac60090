"""The served gallery: a face run's index plus the people enrolled since, kept on disk.

A :class:`Gallery` lives in ``RUN_DIR/gallery/`` and never changes the run's own files, so
``pyembed eval`` and ``pyembed query`` keep answering for the run as trained:

- ``index.nswg``: a Euclidean :class:`pyembed.Index` over the embeddings of every entry, saved with
  the index's crash-safe save. It starts as a copy of the run's ``index.nswg`` (ids = rows of
  ``embeddings.npz``); enrolled faces get the ids after the largest one.
- ``entries.json``: ``{"entries": [{"id", "name", "source", "added"}, ...]}``, one per id of the
  index, written atomically (:mod:`pyembed._atomic`). ``source`` is ``"run"`` (an item of the
  run, named by its label) or ``"enrolled"``.
- ``thumbs/ID.png``: the model input (grayscale, cropped and resized) of each enrolled face.
  Thumbnails of run items are cut from the run's face file (``data.path`` in its metadata).

Every change is written index first, then ``entries.json``, then answered. Opening reconciles
the two after a crash: ids in the index without an entry (an enrolment that was never answered)
are dropped by rebuilding the index; entries whose id the index lacks (a deletion that was never
answered) are dropped. A write that was answered is never lost.

``entries.json`` also holds the run's fingerprint (:func:`run_fingerprint`, a hash of
``model.pt`` and ``embeddings.npz``). When the run has been retrained since, the gallery is rebuilt
on open: the run's new index, plus every enrolled face embedded again by the new model from its
stored model input. One process at a time opens a gallery (an exclusive ``flock`` on
``gallery/.lock``). ``pyembed query --gallery`` searches it read-only (:func:`read_gallery`).

**Deletion rebuilds the index** from the remaining vectors (the core has no removal yet, issue 18):
about a second per 10,000 faces of 128 floats on one core.

**Open-set threshold.** A face is "unknown" when its nearest gallery entry is farther than the
threshold. Unless one is given, it is calibrated on the gallery itself: for up to
:data:`CALIBRATION_SAMPLES` entries (a seeded sample), the distance to the nearest *other* entry of
the same name (what a new photo of a known person scores) and to the nearest entry of another name
(what a stranger scores: the person is missing from the gallery's point of view) are collected, and
the threshold is the cut between them with the best balanced accuracy
(:func:`pyembed.metrics.verification_accuracy`). It is recalibrated after every change. When no
entry has both a same-name and an other-name entry among its 32 nearest (for example a single
name, or one face per name) there is nothing to calibrate on and nothing is rejected.
Distances are L2 between embeddings.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import logging
import os
import threading
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from pyembed._atomic import write_bytes_atomic
from pyembed.index import Index
from pyembed.serve.model import FaceModel

__all__ = [
    "CALIBRATION_SAMPLES",
    "MAX_NAME_LENGTH",
    "Calibration",
    "Entry",
    "Gallery",
    "GalleryError",
    "GalleryLockedError",
    "Match",
    "UnknownEntryError",
    "check_name",
    "encode_png",
    "read_gallery",
    "run_fingerprint",
]

log = logging.getLogger("pyembed.serve")

GALLERY_DIR = "gallery"
"""Folder of the served gallery inside the run directory."""
ENTRIES_FILE = "entries.json"
THUMBS_DIR = "thumbs"
CALIBRATION_SAMPLES = 2000
"""Most entries used as calibration queries (a seeded sample of larger galleries)."""
_CALIBRATION_K = 33
"""Neighbours searched per calibration query (itself plus 32): the nearest same-name entry must be
among them to count."""
MAX_NAME_LENGTH = 80
"""Longest name accepted, in characters."""
RESERVED_NAME = "unknown"
"""The label of a rejected face; no entry may be called this."""


class GalleryError(ValueError):
    """A request the gallery cannot carry out as asked (bad name, empty gallery, bad k)."""


class UnknownEntryError(KeyError):
    """No gallery entry has this id."""


class GalleryLockedError(OSError):
    """The gallery folder is open in another Gallery (this process or another)."""


@dataclass(frozen=True)
class Entry:
    """One face of the gallery.

    Attributes
    ----------
    id : int
        Its id in the gallery's index.
    name : str
        The person.
    source : {"run", "enrolled"}
        A training-data item of the run, or enrolled through the server.
    added : str
        ISO 8601 UTC time of enrolment (empty for run items).
    """

    id: int
    name: str
    source: Literal["run", "enrolled"]
    added: str = ""


@dataclass(frozen=True)
class Match:
    """One neighbour of a searched face: entry id, name and L2 distance."""

    id: int
    name: str
    distance: float


@dataclass(frozen=True)
class Calibration:
    """The open-set threshold and where it came from.

    Attributes
    ----------
    threshold : float
        L2 distance; a nearest match farther than this is "unknown" (``inf``: nothing rejected).
    source : {"given", "calibrated", "none"}
    queries : int
        Calibration queries with both a same-name and an other-name neighbour.
    balanced_accuracy : float or None
        Of the calibrated cut on those queries.
    """

    threshold: float
    source: Literal["given", "calibrated", "none"]
    queries: int = 0
    balanced_accuracy: float | None = None


def check_name(name: object) -> str:
    """A person's name, stripped and NFC-normalised, or a GalleryError saying what is wrong.

    Names are 1 to :data:`MAX_NAME_LENGTH` characters without control characters, unpaired
    surrogates or unassigned code points (format characters such as the zero-width non-joiner of
    Persian names are kept), and may not be :data:`RESERVED_NAME` (any case).
    """
    if not isinstance(name, str):
        raise GalleryError(f"name must be text, got {type(name).__name__}")
    clean = unicodedata.normalize("NFC", name).strip()
    if not clean:
        raise GalleryError("name: must not be empty")
    if len(clean) > MAX_NAME_LENGTH:
        raise GalleryError(f"name: at most {MAX_NAME_LENGTH} characters, got {len(clean)}")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Cn") for c in clean):
        raise GalleryError("name: must not contain control characters")
    if clean.casefold() == RESERVED_NAME:
        raise GalleryError(f"name: {RESERVED_NAME!r} is what a rejected face is called")
    return clean


def encode_png(image: NDArray[np.uint8]) -> bytes:
    """A grayscale ``uint8`` image ``(h, w)`` as PNG bytes (Pillow)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class _State:
    """What a search reads: the index, the entry of each of its ids, the threshold."""

    index: Index
    entries: dict[int, Entry]
    calibration: Calibration


class Gallery:
    """A face run's index and the people enrolled since, persistent in ``RUN_DIR/gallery/``.

    Thread-safe: searches run concurrently; enrolments and deletions are serialised and swap in
    their result whole, so a search sees the gallery before or after a change.

    Parameters
    ----------
    run_dir : path-like
        A faces run directory (``pyembed train faces``).
    threshold : float, optional
        Fixed open-set threshold (L2); default: calibrated on the gallery (module docs).
    exact : bool, default False
        Answer searches by exact scan instead of the graph.
    ef : int, optional
        Beam width of graph searches (the index's default when None).
    model : FaceModel, optional
        The run's network (built from the run when None); used to re-embed the enrolled faces
        when the run was retrained since the gallery was written.

    One process at a time: the gallery folder is locked (``gallery/.lock``, an exclusive
    ``flock``) from opening until :meth:`close`, so two servers never overwrite each other's
    enrolments.

    Raises
    ------
    FileNotFoundError, OSError, ValueError
        As :func:`pyembed.train.run_dir.load_run` and ``load_index``, or if the run is not a
        faces run or the gallery files are damaged (the message names the file).
    GalleryLockedError
        If another Gallery (in this or another process) has the folder open.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        threshold: float | None = None,
        exact: bool = False,
        ef: int | None = None,
        model: FaceModel | None = None,
    ) -> None:
        from pyembed.train.run_dir import load_run

        self._lock_fd: int | None = None
        self.run = load_run(Path(run_dir))
        if self.run.kind != "faces":
            raise ValueError(f"{self.run.path}: a {self.run.kind} run; serve needs a faces run")
        if threshold is not None and not (np.isfinite(threshold) and threshold >= 0):
            raise ValueError(f"threshold must be a finite distance >= 0, got {threshold}")
        self.folder = self.run.path / GALLERY_DIR
        self.exact = exact
        self.ef = ef
        self._given_threshold = threshold
        self._write_lock = threading.Lock()
        self._run_images: NDArray[np.uint8] | None = None
        self._thumb_cache: dict[int, bytes] = {}
        self._next_id = 0
        self._fingerprint = run_fingerprint(self.run.path)
        self.model = FaceModel(self.run) if model is None else model
        """The run's network (:class:`FaceModel`)."""
        (self.folder / THUMBS_DIR).mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(self.folder)
        try:
            index, entries = self._open()
            self._state = _State(index, entries, self._calibrate(index, entries))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the gallery folder (searches keep working; changes are refused after)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    # The index, its entries and its threshold change together: a change builds a new _State and
    # swaps it in with one assignment, and a reader takes self._state once, so no reader ever
    # sees a new index with the old entries.
    @property
    def index(self) -> Index:
        """The gallery's index (replaced, never changed in place, by enrolments and deletions)."""
        return self._state.index

    @property
    def calibration(self) -> Calibration:
        """The open-set threshold in force."""
        return self._state.calibration

    @property
    def _entries(self) -> dict[int, Entry]:
        return self._state.entries

    # -- reading -------------------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int]:
        """The model's input ``(height, width)`` in pixels."""
        h, w = self.run.metadata["data"]["image_shape"]
        return int(h), int(w)

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        """Every entry, by id."""
        entries = self._entries
        return [entries[i] for i in sorted(entries)]

    def entry(self, id: int) -> Entry:
        """The entry ``id``; UnknownEntryError if there is none."""
        try:
            return self._entries[id]
        except KeyError:
            raise UnknownEntryError(f"no gallery entry has id {id}") from None

    def people(self) -> dict[str, int]:
        """Entries per name, by name."""
        counts: dict[str, int] = {}
        for e in self._entries.values():
            counts[e.name] = counts.get(e.name, 0) + 1
        return dict(sorted(counts.items()))

    def search(
        self, vectors: NDArray[np.float32], k: int
    ) -> tuple[list[list[Match]], Calibration, dict[str, int]]:
        """The ``k`` nearest entries of each embedding, with the threshold in force.

        Parameters
        ----------
        vectors : ndarray of float32, shape (n, dim)
        k : int
            At least 1; more than the gallery holds returns them all.

        Returns
        -------
        (matches, calibration, counters)
            ``matches[i]`` nearest first; counters summed over the queries (``distance_calls``,
            ``visited``).

        Raises
        ------
        GalleryError
            If the gallery is empty or ``k < 1``.
        """
        state = self._state
        index, entries, calibration = state.index, state.entries, state.calibration
        if k < 1:
            raise GalleryError(f"k must be >= 1, got {k}")
        if len(index) == 0:
            raise GalleryError("the gallery is empty: enrol someone first")
        found = index.search(vectors, k=min(k, len(index)), exact=self.exact, ef=self.ef)
        matches = [
            [
                Match(int(i), entries[int(i)].name, float(d))
                for i, d in zip(row_ids, row_d, strict=True)
                if i >= 0
            ]
            for row_ids, row_d in zip(found.ids, found.distances, strict=True)
        ]
        counters = {
            "distance_calls": int(found.distance_calls.sum()),
            "visited": int(found.visited.sum()),
        }
        return matches, calibration, counters

    def thumbnail(self, id: int) -> bytes:
        """PNG bytes of entry ``id``'s face as the model saw it.

        Raises
        ------
        UnknownEntryError
            If there is no such entry.
        FileNotFoundError
            If the image is gone (the run's face file moved, or a thumbnail file deleted).
        """
        entry = self.entry(id)
        cached = self._thumb_cache.get(id)
        if cached is not None:
            return cached
        if entry.source == "enrolled":
            data = (self.folder / THUMBS_DIR / f"{id}.png").read_bytes()
        else:
            data = encode_png(self._run_image(id))
        if len(self._thumb_cache) < 20_000:
            self._thumb_cache[id] = data
        return data

    def _run_image(self, row: int) -> NDArray[np.uint8]:
        if self._run_images is None:
            from pyembed.datasets.faces import load_faces

            path = Path(self.run.metadata["data"]["path"])
            try:
                images = load_faces(path).images
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"the run's face file {path} is gone; its thumbnails cannot be shown"
                ) from None
            if images.shape[0] != self.run.arrays["embeddings"].shape[0]:
                raise FileNotFoundError(f"{path} no longer matches the run (row count differs)")
            self._run_images = images
        return self._run_images[row]

    # -- writing -------------------------------------------------------------------------------
    def enrol(
        self, name: str, inputs: NDArray[np.uint8], vectors: NDArray[np.float32]
    ) -> list[Entry]:
        """Add faces of one person: their model inputs (thumbnails) and embeddings.

        Written durably (thumbnails, index, entries) before returning; on any error the
        gallery is as before.

        Parameters
        ----------
        name : str
            Checked by :func:`check_name`.
        inputs : ndarray of uint8, shape (n, h, w)
            The preprocessed faces.
        vectors : ndarray of float32, shape (n, dim)
            Their embeddings.

        Returns
        -------
        list of Entry
            The new entries.
        """
        name = check_name(name)
        if inputs.shape[0] != vectors.shape[0] or inputs.shape[0] < 1:
            raise GalleryError("need at least one image, and one embedding per image")
        with self._write_lock:
            start = self._next_id
            new_ids = np.arange(start, start + inputs.shape[0], dtype=np.int64)
            thumbs = self.folder / THUMBS_DIR
            written = []
            try:
                for i, image in zip(new_ids, inputs, strict=True):
                    write_bytes_atomic(thumbs / f"{i}.png", encode_png(image))
                    written.append(thumbs / f"{i}.png")
                index = _copy(self.index)
                index.add(vectors, ids=new_ids)
                added = _now()
                new = [Entry(int(i), name, "enrolled", added) for i in new_ids]
                entries = dict(self._entries)
                entries.update((e.id, e) for e in new)
                self._commit(index, entries, next_id=int(new_ids[-1]) + 1)
            except BaseException:
                for p in written:
                    p.unlink(missing_ok=True)
                raise
            return new

    def delete(self, id: int) -> Entry:
        """Remove entry ``id`` (rebuilds the index without it) and return it.

        Raises
        ------
        UnknownEntryError
            If there is no such entry.
        """
        return self._delete([self.entry(id)])[0]

    def delete_name(self, name: str) -> list[Entry]:
        """Remove every entry of ``name`` (one rebuild of the index) and return them.

        Raises
        ------
        UnknownEntryError
            If no entry has this name.
        """
        clean = unicodedata.normalize("NFC", name).strip() if isinstance(name, str) else name
        gone = [e for e in self.entries() if e.name == clean]
        if not gone:
            raise UnknownEntryError(f"no gallery entry is named {name!r}")
        return self._delete(gone)

    def _delete(self, gone: list[Entry]) -> list[Entry]:
        with self._write_lock:
            ids = {e.id for e in gone}
            if not ids <= set(self._entries):  # deleted meanwhile by another request
                missing = sorted(ids - set(self._entries))
                raise UnknownEntryError(f"no gallery entry has id {missing[0]}")
            entries = {i: e for i, e in self._entries.items() if i not in ids}
            index = self._rebuilt(self.index, np.array(sorted(entries), dtype=np.int64))
            self._commit(index, entries)
            for e in gone:
                if e.source == "enrolled":
                    (self.folder / THUMBS_DIR / f"{e.id}.png").unlink(missing_ok=True)
                self._thumb_cache.pop(e.id, None)
            return gone

    def _commit(self, index: Index, entries: dict[int, Entry], next_id: int | None = None) -> None:
        """Save ``index`` then ``entries`` durably, then swap them in with a new calibration
        (computed first, so nothing can fail between the files and the memory)."""
        if self._lock_fd is None:
            raise GalleryError("the gallery is closed")
        next_id = self._next_id if next_id is None else next_id
        calibration = self._calibrate(index, entries)
        index.save(self.folder / "index.nswg")
        try:
            self._write_entries(entries, next_id)
        except BaseException:
            self.index.save(self.folder / "index.nswg")  # put the previous index back
            raise
        self._state = _State(index, entries, calibration)
        self._next_id = next_id

    def _write_entries(self, entries: dict[int, Entry], next_id: int) -> None:
        """Write ``entries.json``; ``next_id`` is the first id never given out (ids of deleted
        entries are not reused, so a cached thumbnail URL never shows another face); ``run`` is
        the fingerprint of the run the embeddings come from."""
        doc = {
            "run": self._fingerprint,
            "next_id": next_id,
            "entries": [asdict(entries[i]) for i in sorted(entries)],
        }
        data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        write_bytes_atomic(self.folder / ENTRIES_FILE, data)

    # -- opening -------------------------------------------------------------------------------
    def _open(self) -> tuple[Index, dict[int, Entry]]:
        """Load (and reconcile) the gallery, or create it from the run's index."""
        from pyembed.train.run_dir import load_index

        index_path, entries_path = self.folder / "index.nswg", self.folder / ENTRIES_FILE
        if not entries_path.exists():
            index, entries = self._run_entries(load_index(self.run.path))
            self._next_id = max(entries) + 1 if entries else 0
            index.save(index_path)
            self._write_entries(entries, self._next_id)
            log.info("created the gallery in %s from the run's %d faces", self.folder, len(index))
            return index, entries
        entries, self._next_id, fingerprint = _read_entries(entries_path)
        if fingerprint != self._fingerprint:
            return self._reembedded(entries)
        if not index_path.exists():
            raise FileNotFoundError(f"{index_path}: missing, but {entries_path} exists")
        index = Index.load(index_path)
        run_dim = int(self.run.arrays["embeddings"].shape[1])
        if index.dim != run_dim:
            raise ValueError(
                f"{index_path}: dim {index.dim} is not the run's embedding dim {run_dim}"
            )
        stored = set(int(i) for i in index.ids)
        self._next_id = max([self._next_id, *(i + 1 for i in stored)])
        unanswered = stored - set(entries)
        gone = set(entries) - stored
        if gone:
            log.warning(
                "dropping %d entries whose deletion did not finish: %s", len(gone), sorted(gone)
            )
            entries = {i: e for i, e in entries.items() if i in stored}
        if unanswered:
            log.warning("dropping %d faces whose enrolment did not finish", len(unanswered))
            index = self._rebuilt(index, np.array(sorted(entries), dtype=np.int64))
            index.save(index_path)
        if gone:
            self._write_entries(entries, self._next_id)
        return index, entries

    def _run_entries(self, index: Index) -> tuple[Index, dict[int, Entry]]:
        """The run's index and an entry per id, named by the run's labels."""
        names = self.run.arrays["label_names"]
        ids = index.ids
        if ids.size and int(ids.max()) >= names.shape[0]:
            raise ValueError(f"{self.run.path}: the run's index does not match its embeddings")
        return index, {int(i): Entry(int(i), str(names[i]), "run") for i in ids}

    def _reembedded(self, old: dict[int, Entry]) -> tuple[Index, dict[int, Entry]]:
        """The gallery rebuilt for a retrained run: the run's new index, plus every enrolled face
        embedded again by the new model from its stored model input (``thumbs/ID.png``, written
        losslessly). Deletions of run items are not carried over."""
        from pyembed.datasets.images import decode_image
        from pyembed.train.run_dir import load_index

        index, entries = self._run_entries(load_index(self.run.path))
        enrolled = [e for e in sorted(old.values(), key=lambda e: e.id) if e.source == "enrolled"]
        if enrolled and entries and enrolled[0].id <= max(entries):
            raise ValueError(
                f"{self.folder}: the run was retrained on other data; its ids now reach "
                f"{max(entries)}, over the enrolled ids from {enrolled[0].id}. Move the gallery "
                "folder aside to start a new one"
            )
        faces, kept = [], []
        for e in enrolled:
            path = self.folder / THUMBS_DIR / f"{e.id}.png"
            try:
                face = decode_image(path)
            except (OSError, ValueError):
                log.warning("enrolled face %d (%s) has no readable input; dropped", e.id, e.name)
                continue
            if face.shape != self.image_shape:
                log.warning(
                    "enrolled face %d is %s, not the model's input; dropped", e.id, face.shape
                )
                continue
            faces.append(face)
            kept.append(e)
        if kept:
            vectors = self.model.embed(np.stack(faces))
            index.add(vectors, ids=np.array([e.id for e in kept], dtype=np.int64))
            index.build(n_threads=1)
            entries.update((e.id, e) for e in kept)
        self._next_id = max([self._next_id, *(i + 1 for i in entries)])
        index.save(self.folder / "index.nswg")
        self._write_entries(entries, self._next_id)
        log.warning(
            "the run was retrained since the gallery was written: rebuilt it from the run's %d "
            "faces and %d enrolled faces embedded again",
            len(entries) - len(kept),
            len(kept),
        )
        return index, entries

    @staticmethod
    def _rebuilt(index: Index, keep: NDArray[np.int64]) -> Index:
        """A new index with ``index``'s parameters over the rows ``keep``."""
        params = index.build_params
        fresh = Index(
            index.dim,
            "euclidean",
            max_degree=int(params["max_degree"]),
            ef_construction=int(params["ef_construction"]),
            seed=int(params["seed"]),
            graph=str(params["graph"]),  # type: ignore[arg-type]
        )
        if keep.size:
            fresh.add(index.get_vectors(keep), ids=keep)
            fresh.build(n_threads=1)
        return fresh

    def _calibrate(self, index: Index, entries: dict[int, Entry]) -> Calibration:
        """The threshold in force for ``index`` and ``entries`` (module docs)."""
        if self._given_threshold is not None:
            return Calibration(float(self._given_threshold), "given")
        return calibrate(index, {i: e.name for i, e in entries.items()})


def calibrate(index: Index, names: dict[int, str], *, seed: int = 0) -> Calibration:
    """Calibrate the open-set threshold on a gallery (see the module docs).

    Parameters
    ----------
    index : Index
        The gallery's embeddings (Euclidean).
    names : dict of int to str
        The name of every id of ``index``.
    seed : int, default 0
        Of the sample of calibration queries when the gallery has more than
        :data:`CALIBRATION_SAMPLES` entries.

    Returns
    -------
    Calibration
        ``source="none"`` and ``threshold=inf`` when no query has both a same-name and an
        other-name neighbour among its :data:`_CALIBRATION_K` nearest.
    """
    from pyembed.metrics import verification_accuracy

    ids = index.ids
    if ids.size > CALIBRATION_SAMPLES:
        ids = np.sort(np.random.default_rng(seed).choice(ids, CALIBRATION_SAMPLES, replace=False))
    if ids.size < 3:
        return Calibration(float("inf"), "none")
    found = index.search(index.get_vectors(ids), k=min(_CALIBRATION_K, len(index)), exact=True)
    distances, same = [], []
    queries = 0
    for query, row_ids, row_d in zip(ids, found.ids, found.distances, strict=True):
        name = names[int(query)]
        same_d = other_d = None
        for i, d in zip(row_ids, row_d, strict=True):
            if i < 0 or i == query:
                continue
            if names[int(i)] == name:
                same_d = d if same_d is None else same_d
            else:
                other_d = d if other_d is None else other_d
            if same_d is not None and other_d is not None:
                break
        if same_d is not None and other_d is not None:
            queries += 1
            distances += [float(same_d), float(other_d)]
            same += [True, False]
    if queries == 0:
        return Calibration(float("inf"), "none")
    result = verification_accuracy(np.array(distances), np.array(same), balanced=True)
    return Calibration(max(result.threshold, 0.0), "calibrated", queries, result.accuracy)


def _copy(index: Index) -> Index:
    """An independent copy of ``index`` (through its own byte form)."""
    import pickle

    return pickle.loads(pickle.dumps(index))


def _read_entries(path: Path) -> tuple[dict[int, Entry], int, str | None]:
    """``entries.json`` read and checked: the entries, the next id to give out and the run's
    fingerprint; a damaged file is a ValueError naming it."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = doc["entries"]
        next_id = doc.get("next_id", 0)
        fingerprint = doc.get("run")
        if not isinstance(next_id, int) or next_id < 0:
            raise ValueError(f"bad next_id {next_id!r}")
        entries: dict[int, Entry] = {}
        for row in rows:
            source = row["source"]
            if source not in ("run", "enrolled") or not isinstance(row["id"], int):
                raise ValueError(f"bad entry {row!r}")
            entry = Entry(int(row["id"]), str(row["name"]), source, str(row.get("added", "")))
            if entry.id in entries or entry.id < 0:
                raise ValueError(f"id {entry.id} is duplicated or negative")
            entries[entry.id] = entry
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a gallery entries file ({exc})") from exc
    return entries, max([next_id, *(i + 1 for i in entries)]), fingerprint


def run_fingerprint(run_dir: Path) -> str:
    """SHA-256 (hex) of a run's ``model.pt`` and ``embeddings.npz``: it changes when the run is
    retrained, and the gallery's embeddings then no longer belong to the model."""
    from pyembed.train.run_dir import EMBEDDINGS_FILE, MODEL_FILE

    digest = hashlib.sha256()
    for name in (MODEL_FILE, EMBEDDINGS_FILE):
        with (run_dir / name).open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_gallery(run_dir: str | os.PathLike[str]) -> tuple[Index, dict[int, str]]:
    """The served gallery of a run, read only (no lock, no repair): its index and the name of
    each entry, for ``pyembed query --gallery``.

    Raises
    ------
    FileNotFoundError
        If the run has no gallery (``pyembed serve`` makes it).
    ValueError
        If the files are damaged, or the run was retrained since the gallery was written (the
        next ``pyembed serve`` rebuilds it).
    """
    folder = Path(run_dir) / GALLERY_DIR
    if not (folder / ENTRIES_FILE).exists():
        raise FileNotFoundError(
            f"{folder}: no served gallery here (pyembed serve creates it on first start)"
        )
    entries, _, fingerprint = _read_entries(folder / ENTRIES_FILE)
    if fingerprint != run_fingerprint(Path(run_dir)):
        raise ValueError(
            f"{folder}: written for an earlier training of this run; start pyembed serve once to "
            "rebuild it"
        )
    return Index.load(folder / "index.nswg"), {i: e.name for i, e in entries.items()}


def _lock(folder: Path) -> int:
    """An exclusive flock on ``folder/.lock``: the descriptor (closing it unlocks)."""
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise GalleryLockedError(
            f"{folder}: another pyembed serve (or Gallery) has this gallery open"
        ) from None
    return fd
