//! `pyembed._nswg`: the PyO3 binding of the `nswg` core. It turns numpy arrays into slices, releases
//! the GIL, calls the core and maps its errors to Python exceptions; no algorithm and no defaults
//! live here (`DEFAULTS` and `COUNTERS` are the core's, exported).

mod errors;
mod index;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The compiled module `pyembed._nswg`.
#[pymodule]
fn _nswg(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<index::NativeIndex>()?;
    m.add_class::<index::NativeFilter>()?;
    m.add(
        "IndexFormatError",
        py.get_type::<errors::IndexFormatError>(),
    )?;
    m.add("FORMAT_VERSION", nswg::FORMAT_VERSION)?;
    m.add("ADD_CHUNK_ROWS", nswg::ADD_CHUNK_ROWS)?;
    m.add("MAX_THREADS", nswg::MAX_THREADS)?;
    m.add("FULL_BAND", nswg::Index::FULL_BAND)?;
    m.add("DEFAULTS", index::defaults(py)?)?;
    let names = nswg::SearchStats::COUNTERS.map(|(name, _)| name);
    m.add("COUNTERS", PyTuple::new(py, names)?)?;
    m.add_function(wrap_pyfunction!(index::read_header, m)?)?;
    Ok(())
}
