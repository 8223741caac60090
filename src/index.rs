//! `NativeIndex`: the core index behind a read-write lock, driven from numpy arrays. Every method
//! copies its input with the GIL held, checks the 2-D shape against the index, then takes the lock
//! and calls the core with the GIL released.

use crate::errors::{to_py, to_py_at};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::cell::RefCell;
use std::path::PathBuf;

thread_local! {
    /// The indexes (by address) this thread is building: a `build`'s progress callback runs with
    /// that index's write lock held, so a call back into the same index from the callback would
    /// wait for the lock forever.
    static ADDING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// The indexes this thread holds a search's read lock on while Python signal handlers run
    /// (Ctrl-C checks between pieces of a batch): a handler may read that index again (a
    /// recursive read, which a waiting writer cannot block) but not write to it.
    static SEARCHING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// What a search returns: ids, distances, the counter block, and the counters of the build it
/// ran first (if any).
type Found<'py> = (
    Bound<'py, PyArray2<i64>>,
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray2<i64>>,
    Option<Bound<'py, PyDict>>,
);

/// Temporary copies of at least this many bytes are returned to the OS once freed (see
/// [`trim_heap`]).
const TRIM_BYTES: usize = 1 << 20;

/// Returns the heap's free memory to the OS (glibc's `malloc_trim`). An add copies its input
/// (and cosine normalises a second copy) before the index keeps its own: glibc serves such large
/// blocks from the heap once its mmap threshold has grown, and keeps them resident after they
/// are freed, so without this the resident set of a process that added n rows stays about one
/// input size above what the index holds (measured: 20.3 MiB of growth for 13.4 MiB held at
/// 20,000 x 128). A hint: a no-op elsewhere.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it never touches allocated memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What a range search returns: offsets, ids, distances, the counter block, and the counters of
/// the build it ran first (if any).
type Ranged<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray2<i64>>,
    Option<Bound<'py, PyDict>>,
);

/// A set of stored rows a search may return (`nswg::Filter`), made by `NativeIndex.filter` or
/// `filter_mask` for one state of its index: after an add or a removal a search refuses it.
#[pyclass(frozen, module = "pyembed._nswg")]
pub struct NativeFilter {
    inner: nswg::Filter,
}

#[pymethods]
impl NativeFilter {
    /// Number of allowed rows.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!("Filter(allowed={})", self.inner.len())
    }
}

/// The search counters of every query as rows `(len(COUNTERS), n)` int64, in the order of
/// `SearchStats::COUNTERS`.
fn counter_block<'py>(
    py: Python<'py>,
    stats: &[nswg::SearchStats],
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let counters = nswg::SearchStats::COUNTERS;
    let mut block: Vec<i64> = Vec::with_capacity(counters.len() * stats.len());
    for (_, get) in counters {
        block.extend(stats.iter().map(|s| get(s) as i64));
    }
    array2(py, block, counters.len(), stats.len())
}

/// The build counters as a dict (`BuildStats::COUNTERS`).
fn build_dict_stats<'py>(py: Python<'py>, b: &nswg::BuildStats) -> PyResult<Bound<'py, PyDict>> {
    let stats = PyDict::new(py);
    for (name, get) in nswg::BuildStats::COUNTERS {
        stats.set_item(name, get(b))?;
    }
    Ok(stats)
}

/// The core index. Searches share a read lock; `add`, `build` and the build a graph search runs
/// first take the write lock. What never changes
/// after construction (dim, channels, metric, build parameters) is kept outside the lock.
#[pyclass(frozen, module = "pyembed._nswg")]
pub struct NativeIndex {
    inner: RwLock<nswg::Index>,
    dim: usize,
    channels: usize,
    metric: nswg::Metric,
    params: nswg::BuildParams,
}

/// Marks this thread as holding a lock on one index (in `ADDING` or `SEARCHING`) until dropped,
/// also when the call unwinds.
struct Holding {
    key: usize,
    set: &'static std::thread::LocalKey<RefCell<Vec<usize>>>,
}

impl Holding {
    fn new(set: &'static std::thread::LocalKey<RefCell<Vec<usize>>>, index: &NativeIndex) -> Self {
        let key = index as *const NativeIndex as usize;
        set.with_borrow_mut(|v| v.push(key));
        Holding { key, set }
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let key = self.key;
        self.set.with_borrow_mut(|v| {
            if let Some(i) = v.iter().rposition(|&k| k == key) {
                v.remove(i);
            }
        });
    }
}

/// A C-contiguous view of `a`, or a ValueError naming `what`.
fn slice<'a, T: numpy::Element, D: numpy::ndarray::Dimension>(
    a: &'a numpy::PyReadonlyArray<'_, T, D>,
    what: &str,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be C-contiguous")))
}

/// Runs between two pieces of a long call, from inside `py.detach`: takes the GIL, runs `then`
/// (a progress callback) and Python's signal handlers (Ctrl-C). Returns whether the call goes on;
/// if not, the exception is left in `stopped` for the caller to raise once the lock is released.
fn between_pieces(
    stopped: &mut Option<PyErr>,
    then: impl FnOnce(Python<'_>) -> PyResult<()>,
) -> bool {
    Python::attach(|py| match then(py).and_then(|()| py.check_signals()) {
        Ok(()) => true,
        Err(e) => {
            *stopped = Some(e);
            false
        }
    })
}

/// Moves a row-major `Vec` into a new `(rows, cols)` numpy array (no copy).
fn array2<T: numpy::Element>(
    py: Python<'_>,
    v: Vec<T>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'_, PyArray2<T>>> {
    let a = numpy::ndarray::Array2::from_shape_vec((rows, cols), v)
        .map_err(|e| PyValueError::new_err(format!("internal shape error: {e}")))?;
    Ok(a.into_pyarray(py))
}

impl NativeIndex {
    fn wrap(index: nswg::Index) -> Self {
        NativeIndex {
            dim: index.dim(),
            channels: index.channels(),
            metric: index.metric(),
            params: index.build_params(),
            inner: RwLock::new(index),
        }
    }

    /// A ValueError if this thread is inside this index's `build` (its progress callback).
    fn not_adding(&self) -> PyResult<()> {
        let key = self as *const NativeIndex as usize;
        if ADDING.with_borrow(|v| v.contains(&key)) {
            return Err(PyValueError::new_err(
                "progress: the callback of a build cannot use the index being built (the \
                 build holds its lock until it returns)",
            ));
        }
        Ok(())
    }

    /// Whether this thread holds a search's read lock on this index (a signal handler is running).
    fn searching(&self) -> bool {
        let key = self as *const NativeIndex as usize;
        SEARCHING.with_borrow(|v| v.contains(&key))
    }

    /// The read lock; call with the GIL released.
    fn read(&self) -> PyResult<RwLockReadGuard<'_, nswg::Index>> {
        self.not_adding()?;
        if self.searching() {
            // This thread already reads: a plain read would queue behind a waiting writer,
            // which waits for this thread.
            return Ok(self.inner.read_recursive());
        }
        Ok(self.inner.read())
    }

    /// The write lock; call with the GIL released.
    fn write(&self) -> PyResult<RwLockWriteGuard<'_, nswg::Index>> {
        self.not_adding()?;
        if self.searching() {
            return Err(PyValueError::new_err(
                "a signal handler cannot change an index while a search of it is running (the \
                 search holds its lock until it returns)",
            ));
        }
        Ok(self.inner.write())
    }

    /// Links the pending rows of `ix` (this index, write-locked) in pieces of `ADD_CHUNK_ROWS`,
    /// calling `progress(done, total)` and checking Ctrl-C after each; an exception there stops
    /// the build after the piece and is left in `stopped`. Call with the GIL released.
    fn build_locked(
        &self,
        ix: &mut nswg::Index,
        n_threads: usize,
        progress: Option<&Py<PyAny>>,
        stopped: &mut Option<PyErr>,
    ) -> PyResult<nswg::Built> {
        let _busy = Holding::new(&ADDING, self);
        ix.build_chunked(n_threads, nswg::ADD_CHUNK_ROWS, |done, total| {
            between_pieces(stopped, |py| match progress {
                Some(cb) => cb.call1(py, (done, total)).map(|_| ()),
                None => Ok(()),
            })
        })
        .map_err(to_py)
    }

    /// The read lock, after linking every pending row (a graph search builds first) on
    /// `n_threads` threads once `check` (the search's argument checks) passes, so a bad argument
    /// never waits for a build. Builds until the read lock finds nothing pending (another thread
    /// may add in between); the build's counters are added to `built`. A Ctrl-C or progress
    /// exception during the build is left in `stopped`, and `None` returned. Call with the GIL
    /// released.
    fn read_built(
        &self,
        check: impl Fn(&nswg::Index) -> Result<(), nswg::Error>,
        n_threads: usize,
        stopped: &mut Option<PyErr>,
        built: &mut Option<nswg::BuildStats>,
    ) -> PyResult<Option<RwLockReadGuard<'_, nswg::Index>>> {
        let mut ix = self.read()?;
        check(&ix).map_err(to_py)?;
        // A signal handler searching during another search of this index cannot take the
        // write lock: it searches without building (the core scans pending rows).
        while ix.pending() > 0 && !self.searching() {
            drop(ix);
            let mut w = self.write()?;
            if w.pending() == 0 {
                // Another thread built meanwhile.
                drop(w);
                ix = self.read()?;
                continue;
            }
            let b = self.build_locked(&mut w, n_threads, None, stopped)?;
            drop(w);
            if stopped.is_some() {
                return Ok(None);
            }
            built.get_or_insert_with(Default::default).add(&b.stats);
            ix = self.read()?;
        }
        Ok(Some(ix))
    }

    /// Copies a `(n, dim)` array, checking its width against the index (any width when the
    /// index holds series of their own lengths: their concatenation comes as one row).
    fn rows(&self, a: &PyReadonlyArray2<'_, f32>, what: &'static str) -> PyResult<Vec<f32>> {
        let got = a.shape()[1];
        if got != self.dim && self.dim > 0 {
            return Err(to_py(nswg::Error::DimensionMismatch {
                what,
                expected: self.dim,
                got,
            }));
        }
        let rows = slice(a, what)?;
        let mut copy = Vec::new();
        copy.try_reserve_exact(rows.len()).map_err(|_| {
            to_py(nswg::Error::OutOfMemory {
                what,
                bytes: rows.len() * 4,
            })
        })?;
        copy.extend_from_slice(rows);
        Ok(copy)
    }
}

#[pymethods]
impl NativeIndex {
    /// Creates an empty index (all arguments required but the shape's; the defaults are in
    /// `DEFAULTS`). `dim` is the series length in time steps when `channels > 1` (rows then hold
    /// `dim * channels` floats, time-major); `dependence` is `"dependent"` or `"independent"`
    /// (DTW only; None is dependent).
    #[new]
    #[pyo3(signature = (dim, metric, band, max_degree, ef_construction, seed, graph, channels=1, dependence=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        dim: usize,
        metric: &str,
        band: Option<usize>,
        max_degree: usize,
        ef_construction: usize,
        seed: u64,
        graph: &str,
        channels: usize,
        dependence: Option<&str>,
    ) -> PyResult<Self> {
        let params = build_params(max_degree, ef_construction, seed, graph)?;
        let metric = nswg::Metric::from_name(metric, band, dim).map_err(to_py)?;
        let metric = metric.with_dependence(dependence).map_err(to_py)?;
        Ok(Self::wrap(
            nswg::Index::with_channels(dim, channels, metric, params).map_err(to_py)?,
        ))
    }

    /// An empty index of series of their own lengths (`Index::variable_windowed`): `channels`
    /// floats per time step, DTW with `band` time steps (None: full) or a `window` (a fraction
    /// of the shorter series of each pair) in the `dependence` form.
    #[staticmethod]
    #[pyo3(signature = (channels, metric, band, max_degree, ef_construction, seed, graph, dependence=None, window=None))]
    #[allow(clippy::too_many_arguments)]
    fn variable(
        channels: usize,
        metric: &str,
        band: Option<usize>,
        max_degree: usize,
        ef_construction: usize,
        seed: u64,
        graph: &str,
        dependence: Option<&str>,
        window: Option<f64>,
    ) -> PyResult<Self> {
        let params = build_params(max_degree, ef_construction, seed, graph)?;
        let full = nswg::Index::FULL_BAND;
        let metric = nswg::Metric::from_name(metric, band, full + 1).map_err(to_py)?;
        let metric = metric.with_dependence(dependence).map_err(to_py)?;
        Ok(Self::wrap(
            nswg::Index::variable_windowed(channels, window, metric, params).map_err(to_py)?,
        ))
    }

    /// Stores `(n, dim)` float32 rows with optional int64 ids without linking them into the
    /// graph (`Index::add_unlinked`); returns their ids. With `lengths` (time steps of each
    /// series, for an index of series of their own lengths), `vectors` is one row holding the
    /// series back to back (`Index::add_series_unlinked`).
    ///
    /// `replace` (ids required) replaces the rows of ids already stored
    /// (`Index::add_unlinked_replacing`) instead of refusing them.
    #[pyo3(signature = (vectors, ids, lengths=None, replace=false))]
    fn add<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
        ids: Option<PyReadonlyArray1<'py, i64>>,
        lengths: Option<PyReadonlyArray1<'py, i64>>,
        replace: bool,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let rows = self.rows(&vectors, "vectors")?;
        let ids = match &ids {
            Some(a) => Some(slice(a, "ids")?.to_vec()),
            None => None,
        };
        let lengths = lengths.as_ref().map(steps).transpose()?;
        let bytes = rows.len() * 4;
        let added = py.detach(|| {
            let mut w = self.write()?;
            match (&lengths, &ids) {
                (Some(_), _) | (None, None) if replace => Err(nswg::Error::InvalidParameter {
                    name: "replace",
                    reason: "needs the ids of the rows to replace (and fixed-length rows)".into(),
                }),
                (Some(l), _) => w.add_series_unlinked(&rows, l, ids.as_deref()),
                (None, Some(ids)) if replace => w.add_unlinked_replacing(&rows, ids),
                (None, _) => w.add_unlinked(&rows, ids.as_deref()),
            }
            .map_err(to_py)
        });
        drop(rows);
        if bytes >= TRIM_BYTES {
            trim_heap();
        }
        Ok(PyArray1::from_vec(py, added?))
    }

    /// Time steps of the stored series of `ids` (int64).
    fn lengths<'py>(
        &self,
        py: Python<'py>,
        ids: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let ids = slice(&ids, "ids")?.to_vec();
        let v = py.detach(|| self.read()?.lengths(&ids).map_err(to_py))?;
        Ok(PyArray1::from_vec(
            py,
            v.into_iter().map(|l| l as i64).collect(),
        ))
    }

    /// Copies of the stored series of `ids` back to back (float32, 1-D) with their time steps:
    /// what a variable-length index holds (`Index::get_vectors` and `Index::lengths`).
    fn get_series<'py>(
        &self,
        py: Python<'py>,
        ids: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<SeriesCopy<'py>> {
        let ids = slice(&ids, "ids")?.to_vec();
        let (v, l) = py.detach(|| {
            let r = self.read()?;
            Ok::<_, PyErr>((
                r.get_vectors(&ids).map_err(to_py)?,
                r.lengths(&ids).map_err(to_py)?,
            ))
        })?;
        Ok((
            PyArray1::from_vec(py, v),
            PyArray1::from_vec(py, l.into_iter().map(|l| l as i64).collect()),
        ))
    }

    /// True for an index of series of their own lengths.
    #[getter]
    fn variable_length(&self) -> bool {
        self.dim == 0
    }

    /// The DTW window (a fraction of the shorter series of each pair) of a variable-length
    /// index, or None.
    #[getter]
    fn window(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        py.detach(|| Ok(self.read()?.window()))
    }

    /// Rows stored but not yet linked into the graph.
    #[getter]
    fn pending(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| Ok(self.read()?.pending()))
    }

    /// Links the pending rows into the graph (`Index::build_chunked`) in pieces of
    /// `ADD_CHUNK_ROWS` rows, checking Ctrl-C and calling `progress(done, total)` after each; an
    /// exception there stops the build after the piece (the rows linked so far stay linked) and
    /// is raised. Returns the build counters as a dict (`BuildStats::COUNTERS`).
    #[pyo3(signature = (n_threads, progress))]
    fn build<'py>(
        &self,
        py: Python<'py>,
        n_threads: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut stopped: Option<PyErr> = None;
        let built = py.detach(|| {
            let mut ix = self.write()?;
            self.build_locked(&mut ix, n_threads, progress.as_ref(), &mut stopped)
        })?;
        if let Some(e) = stopped {
            return Err(e);
        }
        build_dict_stats(py, &built.stats)
    }

    /// Links every base-graph node a search from the root cannot reach; returns how many.
    fn link_orphans(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| Ok(self.write()?.link_orphans()))
    }

    /// Keeps (true) or drops (false) the 8-bit codes quantized searches walk on.
    fn set_codes(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        py.detach(|| self.write()?.set_codes(on).map_err(to_py))
    }

    /// Whether the index keeps 8-bit codes.
    #[getter]
    fn has_codes(&self, py: Python<'_>) -> PyResult<bool> {
        py.detach(|| Ok(self.read()?.has_codes()))
    }

    /// Searches `(n, dim)` float32 queries; returns `(ids (n, k) int64, distances (n, k) float32,
    /// counters (len(COUNTERS), n) int64, build counters or None)`, the counters as rows in the
    /// order of `COUNTERS`. `entry` is None (the index's own entry), "random", "pivots",
    /// "hierarchy" or "euclidean"; `quantized` walks on the 8-bit codes (made by `set_codes(True)`);
    /// `max_distances` (exact only, one per query, true units) keeps only neighbors within them;
    /// `build` (graph search only) first links the pending rows, after checking the arguments,
    /// and returns that build's counters; `prune` false computes every distance in full;
    /// `filter` (made by `filter` or `filter_mask`) restricts the answers to the rows it allows.
    #[pyo3(signature = (queries, k, ef, restarts, exact, n_threads, entry, quantized, max_distances=None, build=false, prune=true, lengths=None, filter=None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, f32>,
        k: usize,
        ef: usize,
        restarts: usize,
        exact: bool,
        n_threads: usize,
        entry: Option<&str>,
        quantized: bool,
        max_distances: Option<PyReadonlyArray1<'py, f32>>,
        build: bool,
        prune: bool,
        lengths: Option<PyReadonlyArray1<'py, i64>>,
        filter: Option<PyRef<'py, NativeFilter>>,
    ) -> PyResult<Found<'py>> {
        let lengths = lengths.as_ref().map(steps).transpose()?;
        let n = lengths.as_ref().map_or(queries.shape()[0], Vec::len);
        let q = self.rows(&queries, "queries")?;
        let limits = match &max_distances {
            Some(m) => Some(slice(m, "max_distances")?.to_vec()),
            None => None,
        };
        let p = nswg::SearchParams {
            ef,
            restarts,
            n_threads,
            entry: entry.map(str::parse).transpose().map_err(to_py)?,
            quantized,
            prune,
        };
        let mut stopped: Option<PyErr> = None;
        let mut built: Option<nswg::BuildStats> = None;
        let filter = filter.as_ref().map(|f| &f.inner);
        let (r, _) = py.detach(|| {
            let ix = if build && !exact && n > 0 {
                let check = |ix: &nswg::Index| match &lengths {
                    Some(l) => ix
                        .check_search_series(&q, l, k, &p, exact, limits.as_deref())
                        .map(|_| ()),
                    None => ix
                        .check_search(&q, k, &p, exact, limits.as_deref())
                        .map(|_| ()),
                };
                match self.read_built(check, n_threads, &mut stopped, &mut built)? {
                    Some(ix) => ix,
                    None => return Ok((nswg::BatchResult::default(), 0)),
                }
            } else {
                self.read()?
            };
            let between = |_: usize, _: usize| {
                // Ctrl-C between pieces of a long batch.
                let _held = Holding::new(&SEARCHING, self);
                between_pieces(&mut stopped, |_| Ok(()))
            };
            let lim = limits.as_deref();
            match &lengths {
                Some(l) => ix.search_series_with(&q, l, k, &p, exact, lim, filter, between),
                None => ix.search_batch_with(&q, k, &p, exact, lim, filter, between),
            }
            .map_err(to_py)
        })?;
        if let Some(e) = stopped {
            return Err(e);
        }
        let build_stats = built.map(|b| build_dict_stats(py, &b)).transpose()?;
        let block = counter_block(py, &r.stats)?;
        Ok((
            array2(py, r.ids, n, k)?,
            array2(py, r.distances, n, k)?,
            block,
            build_stats,
        ))
    }

    /// Removes the rows of `ids` (int64) and repairs the graph (`Index::remove`) on
    /// `n_threads` threads; returns the repair's counters.
    fn remove<'py>(
        &self,
        py: Python<'py>,
        ids: PyReadonlyArray1<'py, i64>,
        n_threads: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let ids = slice(&ids, "ids")?.to_vec();
        let stats = py.detach(|| self.write()?.remove(&ids, n_threads).map_err(to_py))?;
        build_dict_stats(py, &stats)
    }

    /// The filter allowing the stored rows of `ids` (int64; `Index::filter`).
    fn filter(&self, py: Python<'_>, ids: PyReadonlyArray1<'_, i64>) -> PyResult<NativeFilter> {
        let ids = slice(&ids, "filter")?.to_vec();
        let inner = py.detach(|| self.read()?.filter(&ids).map_err(to_py))?;
        Ok(NativeFilter { inner })
    }

    /// The filter allowing the rows whose entry of `mask` (bool, one per stored row in the order
    /// of `ids()`) is true (`Index::filter_mask`).
    fn filter_mask(
        &self,
        py: Python<'_>,
        mask: PyReadonlyArray1<'_, bool>,
    ) -> PyResult<NativeFilter> {
        let mask = slice(&mask, "filter")?.to_vec();
        let inner = py.detach(|| self.read()?.filter_mask(&mask).map_err(to_py))?;
        Ok(NativeFilter { inner })
    }

    /// Every stored row within `radius` (true units) of each `(n, dim)` float32 query
    /// (`Index::range_search`); returns `(offsets (n + 1,) int64, ids int64, distances float32,
    /// counters (len(COUNTERS), n) int64, build counters or None)`. A graph search (`exact`
    /// false) first links the pending rows, as `search` does.
    #[pyo3(signature = (queries, radius, ef, restarts, exact, n_threads, entry, prune=true, filter=None))]
    #[allow(clippy::too_many_arguments)]
    fn range_search<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, f32>,
        radius: f32,
        ef: usize,
        restarts: usize,
        exact: bool,
        n_threads: usize,
        entry: Option<&str>,
        prune: bool,
        filter: Option<PyRef<'py, NativeFilter>>,
    ) -> PyResult<Ranged<'py>> {
        let n = queries.shape()[0];
        let q = self.rows(&queries, "queries")?;
        let p = nswg::SearchParams {
            ef,
            restarts,
            n_threads,
            entry: entry.map(str::parse).transpose().map_err(to_py)?,
            quantized: false,
            prune,
        };
        let filter = filter.as_ref().map(|f| &f.inner);
        let mut stopped: Option<PyErr> = None;
        let mut built: Option<nswg::BuildStats> = None;
        let r = py.detach(|| {
            let ix = if !exact && n > 0 {
                let check = |ix: &nswg::Index| ix.check_search(&q, 1, &p, exact, None).map(|_| ());
                match self.read_built(check, n_threads, &mut stopped, &mut built)? {
                    Some(ix) => ix,
                    None => return Ok(nswg::RangeResult::default()),
                }
            } else {
                self.read()?
            };
            ix.range_search(&q, radius, &p, exact, filter)
                .map_err(to_py)
        })?;
        if let Some(e) = stopped {
            return Err(e);
        }
        let build_stats = built.map(|b| build_dict_stats(py, &b)).transpose()?;
        let block = counter_block(py, &r.stats)?;
        let offsets: Vec<i64> = r.offsets.iter().map(|&o| o as i64).collect();
        Ok((
            PyArray1::from_vec(py, offsets),
            PyArray1::from_vec(py, r.ids),
            PyArray1::from_vec(py, r.distances),
            block,
            build_stats,
        ))
    }

    /// Bytes of memory the index holds (`Index::memory_usage`).
    fn memory_usage(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| Ok(self.read()?.memory_usage()))
    }

    /// Copies of the stored vectors of `ids`, shape `(len(ids), dim)` float32.
    fn get_vectors<'py>(
        &self,
        py: Python<'py>,
        ids: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let ids = slice(&ids, "ids")?.to_vec();
        let v = py.detach(|| self.read()?.get_vectors(&ids).map_err(to_py))?;
        array2(py, v, ids.len(), self.dim)
    }

    /// Out-links of the node holding `id`, as user ids (int64).
    fn neighbors<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let v = py.detach(|| self.read()?.neighbors(id).map_err(to_py))?;
        Ok(PyArray1::from_vec(py, v))
    }

    /// Writes the index to `path` crash-safely (see `nswg::Index::save`).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.read()?.save(&path).map_err(|e| to_py_at(e, &path)))
    }

    /// Reads an index written by `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let index = py
            .detach(|| nswg::Index::load(&path))
            .map_err(|e| to_py_at(e, &path))?;
        Ok(Self::wrap(index))
    }

    /// The whole index as bytes (the file format), for pickling.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = py.detach(|| Ok::<_, PyErr>(self.read()?.to_bytes()))?;
        Ok(PyBytes::new(py, &b))
    }

    /// Parses bytes produced by `to_bytes`.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let index = py.detach(|| nswg::Index::from_bytes(data)).map_err(to_py)?;
        Ok(Self::wrap(index))
    }

    /// Number of stored vectors.
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| Ok(self.read()?.len()))
    }

    /// True if `id` is stored.
    fn contains(&self, py: Python<'_>, id: i64) -> PyResult<bool> {
        py.detach(|| Ok(self.read()?.contains(id)))
    }

    /// Stored ids in insertion order, int64.
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let v = py.detach(|| Ok::<_, PyErr>(self.read()?.ids().to_vec()))?;
        Ok(PyArray1::from_vec(py, v))
    }

    /// Width of every vector.
    #[getter]
    fn dim(&self) -> usize {
        self.dim
    }

    /// `"euclidean"` or `"dtw"`.
    #[getter]
    fn metric(&self) -> &'static str {
        self.metric.name()
    }

    /// DTW band in samples, or None for Euclidean.
    #[getter]
    fn band(&self) -> Option<usize> {
        self.metric.band()
    }

    /// `"dependent"` or `"independent"` (how multichannel DTW combines channels); None for
    /// Euclidean.
    #[getter]
    fn dependence(&self) -> Option<&'static str> {
        self.metric.dependence()
    }

    /// Floats per time step of every stored row (1 for plain vectors).
    #[getter]
    fn channels(&self) -> usize {
        self.channels
    }

    /// Build parameters as a dict: max_degree, ef_construction, seed, graph.
    fn build_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        build_dict(py, &self.params)
    }
}

/// The core's build parameters from the constructor's arguments (`graph`: "hnsw" or "nsw").
fn build_params(
    max_degree: usize,
    ef_construction: usize,
    seed: u64,
    graph: &str,
) -> PyResult<nswg::BuildParams> {
    Ok(nswg::BuildParams {
        max_degree,
        ef_construction,
        seed,
        graph: graph.parse().map_err(to_py)?,
    })
}

/// Series back to back (float32) and their time steps (int64).
type SeriesCopy<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<i64>>);

/// Series lengths from int64 (a negative one is refused, naming `lengths`).
fn steps(a: &PyReadonlyArray1<'_, i64>) -> PyResult<Vec<usize>> {
    slice(a, "lengths")?
        .iter()
        .map(|&l| {
            usize::try_from(l).map_err(|_| {
                to_py(nswg::Error::InvalidParameter {
                    name: "lengths",
                    reason: format!("must be positive time steps, got {l}"),
                })
            })
        })
        .collect()
}

fn build_dict<'py>(py: Python<'py>, p: &nswg::BuildParams) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("max_degree", p.max_degree)?;
    d.set_item("ef_construction", p.ef_construction)?;
    d.set_item("seed", p.seed)?;
    d.set_item("graph", p.graph.name())?;
    Ok(d)
}

/// The core's defaults: build parameters and search parameters in one dict.
pub fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = build_dict(py, &nswg::BuildParams::default())?;
    let s = nswg::SearchParams::default();
    d.set_item("ef", s.ef)?;
    d.set_item("restarts", s.restarts)?;
    Ok(d)
}

/// Reads the header of a saved index: a dict with version, metric, band, dim, n and build params.
#[pyfunction]
pub fn read_header<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let h = py
        .detach(|| nswg::read_header(&path))
        .map_err(|e| to_py_at(e, &path))?;
    let d = build_dict(py, &h.params)?;
    d.set_item("version", h.version)?;
    d.set_item("metric", h.metric.name())?;
    d.set_item("band", h.metric.band())?;
    d.set_item("dim", h.dim)?;
    d.set_item("channels", h.channels)?;
    d.set_item("variable_length", h.variable)?;
    d.set_item("window", h.window)?;
    d.set_item("dependence", h.metric.dependence())?;
    d.set_item("n", h.n - h.free)?;
    d.set_item("pending", h.pending)?;
    Ok(d)
}
