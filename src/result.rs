//! `SearchResult`: the arrays one search returns, built in Rust so a single-vector search pays for
//! no Python-level object construction (a frozen dataclass cost ~1.3 us per call).

use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

/// Names of the per-query counters, in the row order of the `(6, n)` counter block.
const COUNTERS: [&str; 6] = [
    "distance_calls",
    "lb_pruned",
    "lb_kim_pruned",
    "lb_keogh_pruned",
    "lb_keogh_rev_pruned",
    "abandoned",
];

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
///
/// Immutable: the attributes cannot be rebound. The counters are row views of one (6, n) block,
/// made on first access.
#[pyclass(frozen, module = "pyembed._nswg")]
pub struct SearchResult {
    ids: Py<PyAny>,
    distances: Py<PyAny>,
    /// The `(6, n)` counter block a search filled, or `None` when built from Python.
    block: Option<Py<PyAny>>,
    counters: [PyOnceLock<Py<PyAny>>; 6],
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
            block: Some(block.into_any().unbind()),
            counters: std::array::from_fn(|_| PyOnceLock::new()),
        }
    }

    /// Counter `row` (an index into `COUNTERS`): a view of the block, made once.
    fn counter(&self, py: Python<'_>, row: usize) -> PyResult<Py<PyAny>> {
        self.counters[row]
            .get_or_try_init(py, || match &self.block {
                Some(b) => Ok(b.bind(py).get_item(row)?.unbind()),
                None => Ok(py.None()),
            })
            .map(|v| v.clone_ref(py))
    }
}

#[pymethods]
impl SearchResult {
    /// Builds a result from its eight arrays (the order of the attributes above); used by pickle.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        ids: Py<PyAny>,
        distances: Py<PyAny>,
        distance_calls: Py<PyAny>,
        lb_pruned: Py<PyAny>,
        lb_kim_pruned: Py<PyAny>,
        lb_keogh_pruned: Py<PyAny>,
        lb_keogh_rev_pruned: Py<PyAny>,
        abandoned: Py<PyAny>,
    ) -> Self {
        let r = SearchResult {
            ids,
            distances,
            block: None,
            counters: std::array::from_fn(|_| PyOnceLock::new()),
        };
        let given = [
            distance_calls,
            lb_pruned,
            lb_kim_pruned,
            lb_keogh_pruned,
            lb_keogh_rev_pruned,
            abandoned,
        ];
        for (cell, v) in r.counters.iter().zip(given) {
            // Fresh cells: set cannot fail.
            let _ = cell.set(py, v);
        }
        r
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

    /// Full distance computations per query, (n_queries,) int64.
    #[getter]
    fn distance_calls(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, 0)
    }

    /// Candidates skipped by any lower bound per query, (n_queries,) int64.
    #[getter]
    fn lb_pruned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, 1)
    }

    /// Candidates skipped by LB_Kim per query, (n_queries,) int64.
    #[getter]
    fn lb_kim_pruned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, 2)
    }

    /// Candidates skipped by LB_Keogh against the query's envelope, (n_queries,) int64.
    #[getter]
    fn lb_keogh_pruned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, 3)
    }

    /// Candidates skipped by LB_Keogh against the stored series' envelope, (n_queries,) int64.
    #[getter]
    fn lb_keogh_rev_pruned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, 4)
    }

    /// DTW computations stopped early per query, (n_queries,) int64.
    #[getter]
    fn abandoned(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.counter(py, 5)
    }

    /// `(SearchResult, (ids, distances, *counters))`, so results pickle and copy.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let r = slf.get();
        let mut args = vec![r.ids.clone_ref(py), r.distances.clone_ref(py)];
        for row in 0..COUNTERS.len() {
            args.push(r.counter(py, row)?);
        }
        Ok((slf.get_type().into_any(), PyTuple::new(py, args)?))
    }

    /// `SearchResult(ids=..., distances=..., distance_calls=..., ...)`, like a dataclass.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = vec![
            format!("ids={}", self.ids.bind(py).repr()?),
            format!("distances={}", self.distances.bind(py).repr()?),
        ];
        for (row, name) in COUNTERS.iter().enumerate() {
            parts.push(format!(
                "{name}={}",
                self.counter(py, row)?.bind(py).repr()?
            ));
        }
        Ok(format!("SearchResult({})", parts.join(", ")))
    }
}
