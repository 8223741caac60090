//! The single mapping from core errors to Python exceptions (STYLE.md section 5 table).

use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyIsADirectoryError, PyKeyError, PyMemoryError,
    PyOSError, PyPermissionError, PyValueError,
};
use pyo3::{create_exception, PyErr, PyErrArguments};
use std::path::Path;

create_exception!(
    _nswg,
    IndexFormatError,
    PyValueError,
    "A saved index file is corrupt, truncated, or from an unsupported format version."
);

/// Converts a core error into the matching Python exception.
pub fn to_py(e: nswg::Error) -> PyErr {
    convert(e, None)
}

/// As [`to_py`] for an error reading or writing the file at `path`: an `OSError` carries errno,
/// message and file name (as Python's own file errors do), and a format error names the file.
pub fn to_py_at(e: nswg::Error, path: &Path) -> PyErr {
    convert(e, Some(path))
}

fn convert(e: nswg::Error, path: Option<&Path>) -> PyErr {
    let msg = match (path, &e) {
        (Some(p), nswg::Error::Format { .. } | nswg::Error::UnsupportedVersion { .. }) => {
            format!("{}: {e}", p.display())
        }
        _ => e.to_string(),
    };
    match e {
        nswg::Error::UnknownId { .. } | nswg::Error::UnknownIds { .. } => PyKeyError::new_err(msg),
        nswg::Error::Format { .. } | nswg::Error::UnsupportedVersion { .. } => {
            IndexFormatError::new_err(msg)
        }
        nswg::Error::Io(io) => match (io.raw_os_error(), path) {
            // OSError(errno, strerror, filename), as `open()` raises.
            (Some(errno), Some(p)) => {
                let text = std::io::Error::from_raw_os_error(errno).to_string();
                let strerror = text.split(" (os error").next().unwrap_or(&text).to_string();
                os_error(io.kind(), (errno, strerror, p.as_os_str().to_os_string()))
            }
            _ => os_error(io.kind(), msg),
        },
        nswg::Error::OutOfMemory { .. } => PyMemoryError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// The `OSError` subclass Python uses for `kind`, raised with `args`.
fn os_error<A: PyErrArguments + Send + Sync + 'static>(kind: std::io::ErrorKind, args: A) -> PyErr {
    use std::io::ErrorKind;
    match kind {
        ErrorKind::NotFound => PyFileNotFoundError::new_err(args),
        ErrorKind::PermissionDenied => PyPermissionError::new_err(args),
        ErrorKind::AlreadyExists => PyFileExistsError::new_err(args),
        ErrorKind::IsADirectory => PyIsADirectoryError::new_err(args),
        _ => PyOSError::new_err(args),
    }
}
