//! `NativeIndex`: the core index behind a read-write lock, driven from numpy arrays.

use crate::errors::to_py;
use crate::result::SearchResult;
use numpy::IntoPyArray;
use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use parking_lot::RwLock;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::path::PathBuf;

/// Rows per chunk of a large `add`: between chunks Ctrl-C is checked and progress reported.
const ADD_CHUNK: usize = 8192;

/// The core index. Searches share a read lock; `add` and loads take the write lock.
#[pyclass(frozen, module = "pyembed._nswg")]
pub struct NativeIndex {
    inner: RwLock<nswg::Index>,
}

fn metric_from(name: &str, band: Option<usize>, dim: usize) -> PyResult<nswg::Metric> {
    match name {
        "euclidean" => match band {
            None => Ok(nswg::Metric::Euclidean),
            Some(_) => Err(PyValueError::new_err(
                "band is only meaningful with metric='dtw'",
            )),
        },
        "dtw" => Ok(nswg::Metric::Dtw {
            band: band.unwrap_or(dim.saturating_sub(1)),
        }),
        other => Err(PyValueError::new_err(format!(
            "metric must be 'euclidean' or 'dtw', got {other:?}"
        ))),
    }
}

/// Moves a row-major `Vec` into a new `(rows, cols)` numpy array (no copy, no reshape call).
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

fn slice2<'a>(a: &'a PyReadonlyArray2<'_, f32>, what: &str) -> PyResult<&'a [f32]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be C-contiguous")))
}

#[pymethods]
impl NativeIndex {
    /// Creates an empty index (all arguments required; defaults live in `pyembed.Index`).
    /// `hierarchy` builds HNSW-style layers above the graph (searched with `entry="hierarchy"`).
    #[new]
    #[pyo3(signature = (dim, metric, band, max_degree, ef_construction, restarts, seed, hierarchy))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        dim: usize,
        metric: &str,
        band: Option<usize>,
        max_degree: usize,
        ef_construction: usize,
        restarts: usize,
        seed: u64,
        hierarchy: bool,
    ) -> PyResult<Self> {
        let params = nswg::BuildParams {
            max_degree,
            ef_construction,
            restarts,
            seed,
            hierarchy,
        };
        let index =
            nswg::Index::new(dim, metric_from(metric, band, dim)?, params).map_err(to_py)?;
        Ok(NativeIndex {
            inner: RwLock::new(index),
        })
    }

    /// Adds `(n, dim)` float32 rows with optional int64 ids; returns the ids. Works in chunks,
    /// checking Ctrl-C and calling `progress(done, total)` between them.
    #[pyo3(signature = (vectors, ids, n_threads, progress))]
    fn add<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
        ids: Option<PyReadonlyArray1<'py, i64>>,
        n_threads: usize,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let rows = slice2(&vectors, "vectors")?.to_vec();
        let ids: Option<Vec<i64>> = match &ids {
            Some(a) => Some(
                a.as_slice()
                    .map_err(|_| PyValueError::new_err("ids must be C-contiguous"))?
                    .to_vec(),
            ),
            None => None,
        };
        let dim = vectors.shape()[1];
        let n = vectors.shape()[0];
        if dim != self.inner.read().dim() {
            return Err(to_py(nswg::Error::DimensionMismatch {
                what: "vectors",
                expected: self.inner.read().dim(),
                got: dim,
            }));
        }
        if let Some(ids) = &ids {
            if ids.len() != n {
                return Err(PyValueError::new_err(format!(
                    "ids has {} entries but vectors has {n} rows",
                    ids.len()
                )));
            }
        }
        // Validate the whole batch first, so a bad row late in a chunked add changes nothing.
        py.detach(|| self.inner.read().check_new(&rows, ids.as_deref()))
            .map_err(to_py)?;
        // One exact reservation for the whole batch: the chunks below then never reallocate.
        py.detach(|| self.inner.write().reserve(n));
        let mut out = Vec::with_capacity(n);
        let mut done = 0;
        while done < n {
            let end = (done + ADD_CHUNK).min(n);
            let chunk_rows = &rows[done * dim..end * dim];
            let chunk_ids = ids.as_ref().map(|v| &v[done..end]);
            let added = py
                .detach(|| {
                    self.inner
                        .write()
                        .add_deferring_repair(chunk_rows, chunk_ids, n_threads)
                })
                .map_err(to_py)?;
            out.extend(added);
            done = end;
            if let Some(cb) = &progress {
                cb.call1((done, n))?;
            }
            py.check_signals()?;
        }
        // One orphan pass for the whole batch, when the core's add would have run one for it.
        py.detach(|| {
            let mut ix = self.inner.write();
            if ix.repair_due() {
                ix.link_orphans();
            }
        });
        Ok(PyArray1::from_vec(py, out))
    }

    /// Links every base-graph node a search from the root cannot reach; returns how many.
    fn link_orphans(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.write().link_orphans())
    }

    /// Keeps (true) or drops (false) the 8-bit codes quantized searches walk on.
    fn set_codes(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        py.detach(|| self.inner.write().set_codes(on))
            .map_err(to_py)
    }

    /// Whether the index keeps 8-bit codes.
    #[getter]
    fn has_codes(&self) -> bool {
        self.inner.read().has_codes()
    }

    /// Searches `(n, dim)` float32 queries; returns `(ids (n,k) int64, distances (n,k) float32,
    /// stats (6,n) int64)` whose rows are distance_calls, lb_pruned (total), lb_kim_pruned, lb_keogh_pruned,
    /// lb_keogh_rev_pruned, abandoned. `entry` is "random" (each restart from a random
    /// node), "pivots" (the first restart from the nearest of a fixed, cached node sample) or
    /// "hierarchy" (the first restart from a greedy descent through the layers; "random" on an
    /// index built without `hierarchy`). `quantized`: walk on the 8-bit codes and re-rank by float
    /// distances (Euclidean; the first such search encodes the stored rows).
    #[pyo3(signature = (queries, k, ef, restarts, exact, n_threads, prune, entry = "random", quantized = false))]
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
        prune: bool,
        entry: &str,
        quantized: bool,
    ) -> PyResult<SearchResult> {
        let n = queries.shape()[0];
        let dim = queries.shape()[1];
        let entry = match entry {
            "random" => nswg::Entry::Random,
            "pivots" => nswg::Entry::Pivots,
            "hierarchy" => nswg::Entry::Hierarchy,
            other => {
                return Err(to_py(nswg::Error::InvalidParameter {
                    name: "entry",
                    reason: format!("must be 'random', 'pivots' or 'hierarchy', got {other:?}"),
                }))
            }
        };
        let q = slice2(&queries, "queries")?.to_vec();
        let p = nswg::SearchParams {
            ef,
            restarts,
            n_threads,
            prune,
            entry,
            quantized,
        };
        let r = py
            .detach(|| {
                let expected = self.inner.read().dim();
                if dim != expected {
                    return Err(nswg::Error::DimensionMismatch {
                        what: "queries",
                        expected,
                        got: dim,
                    });
                }
                if quantized && !exact && !self.inner.read().has_codes() {
                    // First quantized search: encode the stored rows (kept up to date by add).
                    self.inner.write().set_codes(true)?;
                }
                self.inner.read().search_batch(&q, k, &p, exact)
            })
            .map_err(to_py)?;
        // Counters as rows (one per counter, n queries each), so each is a contiguous view.
        let mut stats: Vec<i64> = Vec::with_capacity(6 * n);
        let rows: [fn(&nswg::SearchStats) -> u64; 6] = [
            |s| s.distance_calls,
            |s| s.lb_pruned(),
            |s| s.lb_kim_pruned,
            |s| s.lb_keogh_pruned,
            |s| s.lb_keogh_rev_pruned,
            |s| s.abandoned,
        ];
        for get in rows {
            stats.extend(r.stats.iter().map(|s| get(s) as i64));
        }
        Ok(SearchResult::from_search(
            array2(py, r.ids, n, k)?,
            array2(py, r.distances, n, k)?,
            array2(py, stats, 6, n)?,
        ))
    }

    /// Copies of the stored vectors of `ids`, shape `(len(ids), dim)` float32.
    fn get_vectors<'py>(
        &self,
        py: Python<'py>,
        ids: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let ids = ids
            .as_slice()
            .map_err(|_| PyValueError::new_err("ids must be C-contiguous"))?
            .to_vec();
        let (v, dim) = py
            .detach(|| {
                let index = self.inner.read();
                index.get_vectors(&ids).map(|v| (v, index.dim()))
            })
            .map_err(to_py)?;
        PyArray1::from_vec(py, v).reshape([ids.len(), dim])
    }

    /// Out-links of the node holding `id`, as user ids (int64).
    fn neighbors<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let v = py
            .detach(|| self.inner.read().neighbors(id))
            .map_err(to_py)?;
        Ok(PyArray1::from_vec(py, v))
    }

    /// Writes the index to `path`.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.read().save(&path)).map_err(to_py)
    }

    /// Reads an index written by `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let index = py.detach(|| nswg::Index::load(&path)).map_err(to_py)?;
        Ok(NativeIndex {
            inner: RwLock::new(index),
        })
    }

    /// The whole index as bytes (the file format), for pickling.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let b = py.detach(|| self.inner.read().to_bytes());
        PyBytes::new(py, &b)
    }

    /// Parses bytes produced by `to_bytes`.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: Vec<u8>) -> PyResult<Self> {
        let index = py
            .detach(|| nswg::Index::from_bytes(&data))
            .map_err(to_py)?;
        Ok(NativeIndex {
            inner: RwLock::new(index),
        })
    }

    /// Number of stored vectors.
    fn __len__(&self) -> usize {
        self.inner.read().len()
    }

    /// True if `id` is stored.
    fn contains(&self, id: i64) -> bool {
        self.inner.read().contains(id)
    }

    /// Stored ids in insertion order, int64.
    fn ids<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.inner.read().ids().to_vec())
    }

    /// Width of every vector.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.read().dim()
    }

    /// `"euclidean"` or `"dtw"`.
    #[getter]
    fn metric(&self) -> &'static str {
        self.inner.read().metric().name()
    }

    /// DTW band in samples, or None for Euclidean.
    #[getter]
    fn band(&self) -> Option<usize> {
        self.inner.read().metric().band()
    }

    /// Build parameters as a dict: max_degree, ef_construction, restarts, seed, hierarchy.
    fn build_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        build_dict(py, &self.inner.read().build_params())
    }
}

fn build_dict<'py>(py: Python<'py>, p: &nswg::BuildParams) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("max_degree", p.max_degree)?;
    d.set_item("ef_construction", p.ef_construction)?;
    d.set_item("restarts", p.restarts)?;
    d.set_item("seed", p.seed)?;
    d.set_item("hierarchy", p.hierarchy)?;
    Ok(d)
}

/// Reads the header of a saved index: a dict with version, metric, band, dim, n and build params.
#[pyfunction]
pub fn read_header<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let h = py.detach(|| nswg::read_header(&path)).map_err(to_py)?;
    let d = build_dict(py, &h.params)?;
    d.set_item("version", h.version)?;
    d.set_item("metric", h.metric.name())?;
    d.set_item("band", h.metric.band())?;
    d.set_item("dim", h.dim)?;
    d.set_item("n", h.n)?;
    Ok(d)
}
