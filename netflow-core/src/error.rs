//! The crate's error type. Every variant says where (input, line or object) and what was
//! expected; nothing here prints or decides an exit code.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `netflow_core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input could not be opened or read.
    #[error("cannot read {input:?}: {source}")]
    Io {
        /// Input name (path or `-`).
        input: String,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A compressed input ended early or is corrupt; records before `line` were read.
    #[error("{input:?} is a damaged gzip stream after line {line}: {source}")]
    Decompress {
        /// Input name.
        input: String,
        /// Last complete line read before the damage.
        line: u64,
        /// What the decoder said.
        #[source]
        source: std::io::Error,
    },
    /// The input's format could not be recognised.
    #[error("cannot detect the format of {input:?}: {detail}")]
    UnknownFormat {
        /// Input name.
        input: String,
        /// What was found and which formats were considered.
        detail: String,
    },
    /// A cluster snapshot could not be loaded.
    #[error("cannot load snapshot {path:?}: {detail}")]
    Snapshot {
        /// Snapshot file or folder.
        path: PathBuf,
        /// What went wrong, with the object or line where possible.
        detail: String,
    },
    /// A label selector expression does not parse.
    #[error("invalid label selector {input:?}: {detail}")]
    Selector {
        /// The expression as given.
        input: String,
        /// What was expected.
        detail: String,
    },
    /// Building, aggregating or writing a DataFrame failed.
    #[error("{what}: {source}")]
    Frame {
        /// What was being done (`write parquet to \"out.parquet\"`, `group flows by src_pod`).
        what: String,
        /// What polars said.
        #[source]
        source: polars::error::PolarsError,
    },
    /// A filter value does not parse.
    #[error("invalid {flag} value {value:?}: {detail}")]
    Filter {
        /// The filter it was given to (e.g. `dst-port`).
        flag: String,
        /// The value as given.
        value: String,
        /// What was expected.
        detail: String,
    },
}
