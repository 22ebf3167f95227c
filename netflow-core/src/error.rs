//! The crate's error type. Every variant says where (input, line or object) and what was
//! expected; nothing here prints or decides an exit code.

use std::net::IpAddr;
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
    /// None of the first records of an input reads as the format the caller chose, and its
    /// content is not taken for that format either.
    #[error("{input:?} does not read as {format}: {detail}")]
    NotTheFormat {
        /// Input name.
        input: String,
        /// The format the caller chose.
        format: crate::format::Format,
        /// Why the first record did not read, and what the content looks like.
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
    /// A NetworkPolicy manifest (or the file or folder holding it) could not be used.
    #[error(transparent)]
    Manifest(#[from] ManifestProblem),
    /// A label selector expression does not parse.
    #[error("invalid label selector {input:?}: {detail}")]
    Selector {
        /// The expression as given.
        input: String,
        /// What was expected.
        detail: String,
    },
    /// Building, aggregating or writing a DataFrame failed.
    #[cfg(feature = "frames")]
    #[error("{what}: {source}")]
    Frame {
        /// What was being done (`write parquet to \"out.parquet\"`, `group flows by src_pod`).
        what: String,
        /// What polars said.
        #[source]
        source: polars::error::PolarsError,
    },
    /// A value (a filter, a query column, a connection end) does not parse or is not allowed.
    #[error("invalid {what} {value:?}: {detail}")]
    Invalid {
        /// What the value was meant to be (`port range`, `pod pattern`, `top column`, …).
        what: &'static str,
        /// The value as given.
        value: String,
        /// What was expected.
        detail: String,
    },
    /// A connection could not be evaluated against the snapshot's policies.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Writing output rows failed.
    #[error("cannot write {what}: {source}")]
    Write {
        /// What was being written (`JSON rows`, `CSV rows`).
        what: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A manifest that could not be used: its file, the object when one is known
/// (`NetworkPolicy vamp/es-in`, `document 2`), and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {detail}", path.display(), object.as_ref().map(|o| format!(": {o}")).unwrap_or_default())]
pub struct ManifestProblem {
    /// The file.
    pub path: PathBuf,
    /// The object (kind, namespace/name) or document, when known.
    pub object: Option<String>,
    /// What was expected and what was found.
    pub detail: String,
}

/// What the engine could not evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A subject's text is not `namespace/pod`, an IP address or `svc/namespace/name`.
    #[error("invalid connection end {text:?}: {detail}")]
    BadSubject {
        /// The text as given.
        text: String,
        /// What was expected.
        detail: String,
    },
    /// The pod is not in the snapshot.
    #[error("pod {namespace}/{name} is not in the snapshot")]
    UnknownPod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// The workload is not in the snapshot (no pod of it, no object of it).
    #[error(
        "{kind} {namespace}/{name} is not in the snapshot (no pod of it and no {kind} object)"
    )]
    UnknownWorkload {
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A name or selector matched nothing the snapshot holds.
    #[error("{target:?} matches nothing in the snapshot: {detail}")]
    NoMatch {
        /// The target as given.
        target: String,
        /// What was looked for.
        detail: String,
    },
    /// A `namespace/name` names several workloads of different kinds and no pod.
    #[error("{namespace}/{name} names several workloads ({}): name one, e.g. {}", candidates.join(", "), candidates[0])]
    AmbiguousName {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Each as `kind/namespace/name`.
        candidates: Vec<String>,
    },
    /// The service is not in the snapshot.
    #[error("service {namespace}/{name} is not in the snapshot")]
    UnknownService {
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
    },
    /// Several live objects of the snapshot hold the address.
    #[error("address {ip} is held by several objects of the snapshot: {}", candidates.join(", "))]
    AmbiguousIp {
        /// The address.
        ip: IpAddr,
        /// Every candidate, as `kind namespace/name`.
        candidates: Vec<String>,
    },
    /// A Service was given as the source; a ClusterIP only receives connections.
    #[error("service {namespace}/{name} cannot be the source of a connection")]
    ServiceSource {
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
    },
}
