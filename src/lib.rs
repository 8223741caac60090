//! `pyembed._nswg`: the PyO3 binding of the `nswg` core. It turns numpy arrays into slices, releases
//! the GIL, calls the core and maps its errors to Python exceptions; no algorithm lives here.

mod errors;
mod index;
mod result;

use pyo3::prelude::*;

/// The compiled module `pyembed._nswg`.
#[pymodule]
fn _nswg(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<index::NativeIndex>()?;
    m.add_class::<result::SearchResult>()?;
    m.add(
        "IndexFormatError",
        m.py().get_type::<errors::IndexFormatError>(),
    )?;
    m.add("FORMAT_VERSION", nswg::FORMAT_VERSION)?;
    m.add_function(wrap_pyfunction!(index::read_header, m)?)?;
    Ok(())
}
