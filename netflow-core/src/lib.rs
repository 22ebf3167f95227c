//! `netflow_core` reads Kubernetes network flow logs, joins every address to a workload
//! identity from a cluster snapshot, and explains denials with exact NetworkPolicy semantics.
//!
//! The pieces, in the order data flows through them:
//!
//! - [`ingest`]: detect an input's format, stream it (gzip or not) and decode every record into
//!   a normalized [`Flow`], accounting for each one in an [`InputReport`];
//! - [`cluster`]: load a [`Snapshot`] (`kubectl get … -o json` or manifests) and resolve the
//!   address of each flow end to a pod, node, service or external identity at the flow's time;
//! - [`policy`]: evaluate a connection against the snapshot's NetworkPolicies with exact
//!   Kubernetes semantics, and explain the verdict;
//! - [`query`]: filter flows, group denied records into connections, and flatten them into the
//!   documented output rows;
//! - [`frame`]: those rows as polars DataFrames, built in batches: `top` aggregates, time
//!   buckets and Parquet export.
//!
//! The crate never prints or exits; errors are [`Error`] values with the input and line.
//!
//! ```
//! use std::io::Cursor;
//! use netflow_core::ingest::{read_from, InputReader};
//! use netflow_core::{Action, ReadOptions, Snapshot, SnapshotSet};
//!
//! let log = r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"DROPPED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"traffic_direction":"INGRESS","drop_reason_desc":"POLICY_DENIED"},"node_name":"node-b"}"#;
//! let cluster = r#"{"kind":"List","items":[
//!   {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp"},"status":{"podIP":"10.244.2.10"}}]}"#;
//! let snapshots = SnapshotSet::new(vec![Snapshot::from_text(cluster, "cluster.json", None)?]);
//!
//! let reader = InputReader::from_reader(Box::new(Cursor::new(log.as_bytes().to_vec())))?;
//! let mut denied = Vec::new();
//! let report = read_from("flows.json", reader, &ReadOptions::default(), &mut |mut flow| {
//!     snapshots.enrich(&mut flow);
//!     if flow.action == Action::Denied {
//!         denied.push(flow);
//!     }
//! })?;
//! assert_eq!(report.records, 1);
//! assert_eq!(denied[0].dst.identity.to_string(), "vamp/es-0");
//! assert_eq!(denied[0].dst.port, Some(9200));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod cluster;
pub mod error;
pub mod flow;
pub mod frame;
pub mod ingest;
pub mod policy;
pub mod query;

pub use cluster::{Snapshot, SnapshotSet};
pub use error::{Error, Result};
pub use flow::{Action, Direction, Endpoint, Flow, Identity, IdentitySource, Protocol};
pub use ingest::{read_input, Format, InputReport, ReadOptions};
pub use policy::{Engine, Evaluation, PolicyError, Subject, Verdict};
