//! Reads flow logs, joins identities from a snapshot and prints the denied connections.
//!
//! ```text
//! cargo run -p netflow-core --example read_flows -- testdata/clusters/vamp.json testdata/flows/hubble/incident.ndjson
//! ```

use std::path::Path;

use netflow_core::query::{DeniedAggregator, DeniedRow};
use netflow_core::{read_input, Action, ReadOptions, Snapshot, SnapshotSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let snapshot = args.next().ok_or("usage: read_flows SNAPSHOT FLOWS...")?;
    let snapshots = SnapshotSet::new(vec![Snapshot::load(Path::new(&snapshot), None)?]);
    let mut denied = DeniedAggregator::default();
    for input in args {
        let report = read_input(&input, &ReadOptions::default(), &mut |mut flow| {
            snapshots.enrich(&mut flow);
            if flow.action == Action::Denied {
                denied.add(&flow);
            }
        })?;
        eprintln!(
            "{input}: {} records, {} flows, {} skipped",
            report.records, report.flows, report.skipped
        );
    }
    for connection in denied.finish() {
        println!("{}", serde_json::to_string(&DeniedRow::of(&connection))?);
    }
    Ok(())
}
