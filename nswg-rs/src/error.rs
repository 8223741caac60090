//! The one error type of the crate. Every variant carries the numbers a good message needs.

use std::fmt;

/// Everything that can go wrong in a call into the index.
#[derive(Debug)]
pub enum Error {
    /// An input row has the wrong width (`what` names the argument, e.g. `"queries"`).
    DimensionMismatch {
        /// Name of the argument.
        what: &'static str,
        /// Width the index expects (its `dim`).
        expected: usize,
        /// Width that arrived.
        got: usize,
    },
    /// An input holds NaN or an infinity at (`row`, `col`).
    NonFinite {
        /// Name of the argument.
        what: &'static str,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
    },
    /// A parameter is out of its valid range.
    InvalidParameter {
        /// Name of the parameter.
        name: &'static str,
        /// What was expected and what arrived.
        reason: String,
    },
    /// An id is already in the index, or repeats within one call.
    DuplicateId {
        /// The repeated id.
        id: i64,
    },
    /// An id is not in the index.
    UnknownId {
        /// The id that was asked for.
        id: i64,
    },
    /// Several ids are not in the index (a removal or a filter names them all at once).
    UnknownIds {
        /// The first few of them (at most [`Error::SHOWN_IDS`]).
        ids: Vec<i64>,
        /// How many there are in all.
        count: usize,
    },
    /// The index holds no vectors, so it cannot be searched.
    EmptyIndex,
    /// A saved file is not a valid index file.
    Format {
        /// What is wrong with it.
        reason: String,
    },
    /// A saved file has a format version this build cannot read.
    UnsupportedVersion {
        /// Version found in the file.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// Reading or writing a file failed.
    Io(std::io::Error),
    /// An allocation the call needs was refused (checked before any work, so nothing changed).
    OutOfMemory {
        /// What the memory was for.
        what: &'static str,
        /// Bytes asked for.
        bytes: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DimensionMismatch {
                what,
                expected,
                got,
            } => write!(
                f,
                "{what} has {got} columns but the index has dim={expected}"
            ),
            Error::NonFinite { what, row, col } => write!(
                f,
                "{what} contains a non-finite value (NaN or inf) at row {row}, column {col}"
            ),
            Error::InvalidParameter { name, reason } => write!(f, "{name} {reason}"),
            Error::DuplicateId { id } => write!(f, "duplicate id {id}: ids must be unique"),
            Error::UnknownId { id } => write!(f, "id {id} is not in the index"),
            Error::UnknownIds { ids, count } => {
                let shown: Vec<String> = ids.iter().map(i64::to_string).collect();
                let more = if *count > ids.len() {
                    format!(" and {} more", count - ids.len())
                } else {
                    String::new()
                };
                let (noun, verb) = if *count == 1 { ("id", "is") } else { ("ids", "are") };
                write!(f, "{noun} {}{more} {verb} not in the index", shown.join(", "))
            }
            Error::EmptyIndex => write!(f, "the index is empty: add vectors before searching"),
            Error::Format { reason } => write!(f, "not a valid nswg index file: {reason}"),
            Error::UnsupportedVersion { found, supported } => write!(
                f,
                "index file has format version {found} but this build reads versions up to {supported}"
            ),
            Error::Io(e) => write!(f, "{e}"),
            Error::OutOfMemory { what, bytes } => write!(
                f,
                "not enough memory for {what}: {bytes} bytes could not be allocated"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl Error {
    /// Most ids an [`Error::UnknownIds`] lists.
    pub const SHOWN_IDS: usize = 10;

    /// The [`Error::UnknownIds`] of `ids` (all of them counted, the first few kept).
    pub(crate) fn unknown_ids(mut ids: Vec<i64>) -> Error {
        let count = ids.len();
        ids.truncate(Self::SHOWN_IDS);
        Error::UnknownIds { ids, count }
    }
}

/// Shorthand for an [`Error::InvalidParameter`].
pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidParameter {
        name,
        reason: reason.into(),
    }
}
