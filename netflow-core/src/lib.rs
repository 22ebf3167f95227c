//! `netflow_core` reads Kubernetes network flow logs, joins every address to a workload
//! identity from a cluster snapshot, and explains denials with exact NetworkPolicy semantics.
#![deny(missing_docs)]

pub mod cluster;
pub mod error;
pub mod flow;
pub mod ingest;
pub mod query;

pub use cluster::{Snapshot, SnapshotSet};
pub use error::{Error, Result};
pub use flow::{Action, Direction, Endpoint, Flow, Identity, IdentitySource, Protocol};
pub use ingest::{read_input, Format, InputReport, ReadOptions};
