//! Denied connections with their WHY, as JSON rows: what `flowq denied --snapshot CLUSTER -o
//! json FILES…` prints, byte for byte, from the library alone (no polars needed).
//!
//! ```text
//! cargo run -p netflow-core --no-default-features --example denied_with_why -- \
//!     testdata/clusters/vamp.json testdata/flows/hubble/incident.ndjson
//! ```

use std::io::Write;

use netflow_core::{DeclaredRow, DeniedQuery, DeniedRow, RowFormat, RowWriter, Session, Snapshots};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cluster = args
        .next()
        .ok_or("usage: denied_with_why CLUSTER[@TIME] FILES…")?;
    let snapshots = Snapshots::load_in_background(vec![cluster.parse()?])?;
    let session = Session::new(args).with_snapshots(snapshots);

    let denied = session.denied(&DeniedQuery::default())?;
    let rows: Vec<DeniedRow> = denied.connections.iter().map(DeniedRow::of).collect();
    let out = std::io::stdout().lock();
    RowWriter::new(RowFormat::Json, DeniedRow::COLUMNS, out)
        .write_all(&rows)?
        .flush()?;

    for error in denied.summary.errors() {
        eprintln!("denied_with_why: {error}");
    }
    Ok(())
}
