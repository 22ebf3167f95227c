//! `netflow_core` reads Kubernetes network flow logs, joins every address to a workload
//! identity from a cluster snapshot, and explains denials with exact NetworkPolicy semantics.
//!
//! The way in is a [`Session`]: inputs, snapshots and a filter in; flows joined to their
//! identities, denied connections with their WHY, every connection reconciled with the
//! policies ([`Session::reconcile`]), `top` groups, one checked connection, or the pitfalls of
//! the snapshot's policies ([`policy::lint`]) out.
//! Output rows ([`FlowRow`], [`DeniedRow`], [`TopGroups`]) declare their columns once and
//! write as JSON, NDJSON or CSV ([`RowWriter`]) and, with the `frames` feature (on by
//! default), as polars DataFrames and Parquet ([`frame`]).
//!
//! The layers, each using only those before it: the ground ([`Flow`], [`Format`], [`input`],
//! [`needles`], [`Error`]); [`ingest`] (formats, detection, the parallel reader) and
//! [`cluster`] (snapshots, identities in time); [`policy`] (the NetworkPolicy engine);
//! [`query`] (filters, grouping, the WHY, rows and writers); [`Session`] (the pipeline);
//! [`frame`]. The crate never prints or exits; errors are [`Error`] values with the input and
//! line.
//!
//! ```
//! use netflow_core::{DeniedQuery, Session, Snapshot, SnapshotSet, Snapshots};
//!
//! let dir = tempfile::tempdir()?;
//! let log = dir.path().join("flows.json");
//! std::fs::write(&log, r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"DROPPED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"traffic_direction":"INGRESS","drop_reason_desc":"POLICY_DENIED","is_reply":false},"node_name":"node-b"}"#)?;
//! let cluster = r#"{"kind":"List","items":[
//!   {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp","labels":{"app":"es"}},"status":{"podIP":"10.244.2.10"}},
//!   {"kind":"NetworkPolicy","metadata":{"name":"es-ingress","namespace":"vamp"},
//!    "spec":{"podSelector":{"matchLabels":{"app":"es"}},"policyTypes":["Ingress"]}}]}"#;
//! let snapshots = SnapshotSet::new(vec![Snapshot::from_text(cluster, "cluster.json", None)?]);
//!
//! let session = Session::new([log.display().to_string()])
//!     .with_snapshots(Snapshots::loaded(snapshots));
//! let denied = session.denied(&DeniedQuery::default())?;
//! let connection = &denied.connections[0];
//! assert_eq!(connection.dst.identity.to_string(), "vamp/es-0");
//! let why = connection.why.as_ref().expect("explained against the snapshot");
//! assert!(why.summary.contains("vamp/es-ingress"), "{}", why.summary);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod cluster;
pub mod error;
pub mod flow;
pub mod format;
#[cfg(feature = "frames")]
pub mod frame;
pub mod ingest;
pub mod input;
pub mod needles;
pub mod policy;
pub mod query;
mod session;

pub use cluster::{
    ManifestProblem, PolicyChange, PolicyEdit, PolicyManifests, Snapshot, SnapshotSet,
};
pub use error::{Error, PolicyError, Result};
pub use flow::{
    Action, Counting, Direction, Endpoint, Flow, FlowDetails, Granularity, Identity,
    IdentitySource, Origin, PolicyRef, Protocol,
};
pub use format::Format;
pub use ingest::{read_input, InputReport, Progress, ReadOptions};
pub use policy::{Engine, Evaluation, PolicyVerdict, Subject};
pub use query::{
    Cell, Column, ColumnType, DeclaredRow, DeniedConnection, DeniedRow, Explainer, FlowFilter,
    FlowRow, Row, RowFormat, RowWriter, TopGroups, TopQuery, Why,
};
pub use session::{
    Denied, DeniedQuery, InputRow, Lint, ReadSummary, Reconciliation, Replay, Session, SnapshotRow,
    SnapshotSpec, Snapshots, Suggest, SuggestRow, SuggestedPolicy, Top,
    DEFAULT_REPLY_WINDOW_SECONDS, MAX_WAITING_FLOWS,
};
