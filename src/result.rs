//! `SearchResult`: the arrays one search returns, built in Rust so a single-vector search pays for
//! no Python-level object construction (a frozen dataclass cost ~1.3 us per call). The counters
//! are the rows of one block, in the core's order (`nswg::SearchStats::COUNTERS`).

use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

const N_COUNTERS: usize = nswg::SearchStats::COUNTERS.len();

/// Row of the counter `name` in the block.
fn row_of(name: &str) -> usize {
    nswg::SearchStats::COUNTERS
        .iter()
        .position(|(n, _)| *n == name)
        .unwrap_or(0)
}

/// Neighbors of a batch of queries, best first.
///
/// Attributes
/// ----------
/// ids : ndarray of int64, shape (n_queries, k)
///     User ids of the neighbors; -1 pads a row when fewer than ``k`` were reached.
/// distances : ndarray of float32, shape (n_queries, k)
///     Distances in true units (L2, or DTW as defined in the module docstring), ascending per
///     row, ties broken by id; +inf where ``ids`` is -1.
/// distance_calls : ndarray of int64, shape (n_queries,)
///     Full distance computations per query (DTW: including the ones abandoned early).
/// lb_pruned : ndarray of int64, shape (n_queries,)
///     Candidates skipped by any lower bound (DTW only; the sum of the three counters below).
/// lb_kim_pruned, lb_keogh_pruned, lb_keogh_rev_pruned : ndarray of int64, shape (n_queries,)
///     Candidates skipped by LB_Kim, by LB_Keogh against the query's envelope, and by LB_Keogh
///     against the stored series' envelope.
/// abandoned : ndarray of int64, shape (n_queries,)
///     DTW computations stopped early because a whole band row exceeded the current k-th best.
/// visited : ndarray of int64, shape (n_queries,)
///     Nodes whose distance was considered at all (computed or pruned by a bound).
/// counters : ndarray of int64, shape (len(COUNTERS), n_queries)
///     All counters as rows, in the order of ``pyembed._nswg.COUNTERS``.
///
/// Immutable: the attributes cannot be rebound. The counters are row views of one block, made on
/// first access.
#[pyclass(frozen, module = "pyembed._nswg")]
pub struct SearchResult {
    ids: Py<PyAny>,
    distances: Py<PyAny>,
    block: Py<PyAny>,
    rows: [PyOnceLock<Py<PyAny>>; N_COUNTERS],
}

impl SearchResult {
    /// Wraps the arrays of one native search; `block` holds the counters as rows.
    pub fn from_search(
        ids: Bound<'_, PyArray2<i64>>,
        distances: Bound<'_, PyArray2<f32>>,
        block: Bound<'_, PyArray2<i64>>,
    ) -> Self {
        SearchResult {
            ids: ids.into_any().unbind(),
            distances: distances.into_any().unbind(),
            block: block.into_any().unbind(),
            rows: std::array::from_fn(|_| PyOnceLock::new()),
        }
    }

    /// The counter `name`: a view of its row of the block, made once.
    fn counter(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        let row = row_of(name);
        self.rows[row]
            .get_or_try_init(py, || {
                Ok::<_, PyErr>(self.block.bind(py).get_item(row)?.unbind())
            })
            .map(|v| v.clone_ref(py))
    }
}

#[pymethods]
impl SearchResult {
    /// Builds a result from ids, distances and the counter block (used by pickle).
    #[new]
    fn new(ids: Py<PyAny>, distances: Py<PyAny>, counters: Py<PyAny>) -> Self {
        SearchResult {
            ids,
            distances,
            block: counters,
            rows: std::array::from_fn(|_| PyOnceLock::new()),
        }
    }

    /// User ids of the neighbors, (n_queries, k) int64.
    #[getter]
    fn ids(&self, py: Python<'_>) -> Py<PyAny> {
        self.ids.clone_ref(py)
    }

    /// Distances in true units, (n_queries, k) float32.
    #[getter]
    fn distances(&self, py: Python<'_>) -> Py<PyAny> {
        self.distances.clone_ref(py)
    }

    /// All counters as rows, (len(COUNTERS), n_queries) int64.
    #[getter]
    fn counters(&self, py: Python<'_>) -> Py<PyAny> {
        self.block.clone_ref(py)
    }

    /// Full distance computations per query, (n_queries,) int64.
    #[getter]
    fn distance_calls(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, "distance_calls")
    }

    /// Candidates skipped by any lower bound per query, (n_queries,) int64.
    #[getter]
    fn lb_pruned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, "lb_pruned")
    }

    /// Candidates skipped by LB_Kim per query, (n_queries,) int64.
    #[getter]
    fn lb_kim_pruned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, "lb_kim_pruned")
    }

    /// Candidates skipped by LB_Keogh against the query's envelope, (n_queries,) int64.
    #[getter]
    fn lb_keogh_pruned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, "lb_keogh_pruned")
    }

    /// Candidates skipped by LB_Keogh against the stored series' envelope, (n_queries,) int64.
    #[getter]
    fn lb_keogh_rev_pruned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, "lb_keogh_rev_pruned")
    }

    /// DTW computations stopped early per query, (n_queries,) int64.
    #[getter]
    fn abandoned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, "abandoned")
    }

    /// Nodes considered per query (computed or pruned), (n_queries,) int64.
    #[getter]
    fn visited(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, "visited")
    }

    /// `(SearchResult, (ids, distances, counters))`, so results pickle and copy.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let r = slf.get();
        let args = [
            r.ids.clone_ref(py),
            r.distances.clone_ref(py),
            r.block.clone_ref(py),
        ];
        Ok((slf.get_type().into_any(), PyTuple::new(py, args)?))
    }

    /// `SearchResult(ids=..., distances=..., distance_calls=..., ...)`, like a dataclass.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = vec![
            format!("ids={}", self.ids.bind(py).repr()?),
            format!("distances={}", self.distances.bind(py).repr()?),
        ];
        for (name, _) in nswg::SearchStats::COUNTERS {
            let v = self.counter(py, name)?;
            parts.push(format!("{name}={}", v.bind(py).repr()?));
        }
        Ok(format!("SearchResult({})", parts.join(", ")))
    }
}
