//! The single mapping from core errors to Python exceptions (STYLE.md section 5 table).

use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyIsADirectoryError, PyKeyError, PyOSError,
    PyPermissionError, PyValueError,
};
use pyo3::{create_exception, PyErr};

create_exception!(
    _nswg,
    IndexFormatError,
    PyValueError,
    "A saved index file is corrupt, truncated, or from an unsupported format version."
);

/// Converts a core error into the matching Python exception.
pub fn to_py(e: nswg::Error) -> PyErr {
    let msg = e.to_string();
    match e {
        nswg::Error::UnknownId { .. } => PyKeyError::new_err(msg),
        nswg::Error::Format { .. } | nswg::Error::UnsupportedVersion { .. } => {
            IndexFormatError::new_err(msg)
        }
        nswg::Error::Io(io) => {
            use std::io::ErrorKind;
            match io.kind() {
                ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
                ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
                ErrorKind::AlreadyExists => PyFileExistsError::new_err(msg),
                ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
                _ => PyOSError::new_err(msg),
            }
        }
        _ => PyValueError::new_err(msg),
    }
}
