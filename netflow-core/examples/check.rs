//! Would this connection be allowed? One connection evaluated against a snapshot's
//! NetworkPolicies, with the explanation `flowq check` prints (no polars needed).
//!
//! ```text
//! cargo run -p netflow-core --no-default-features --example check -- \
//!     testdata/clusters/vamp.json customer1/release-agent-6c8f9b7d5-w4k2j svc/vamp/elasticsearch 9200
//! ```

use std::io::Write;

use netflow_core::{PolicyVerdict, Protocol, Session, Snapshots};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cluster, from, to, port] = args.as_slice() else {
        return Err(
            "usage: check CLUSTER FROM TO PORT (FROM, TO: ns/pod, svc/ns/name or an IP)".into(),
        );
    };
    let snapshots = Snapshots::load(vec![cluster.parse()?])?;
    // No flows are read: the session only evaluates against the snapshot.
    let session = Session::new(Vec::<String>::new()).with_snapshots(Snapshots::loaded(snapshots));

    let evaluation = session.check(
        &from.parse()?,
        &to.parse()?,
        port.parse()?,
        Protocol::Tcp,
        None,
    )?;
    // A closed pipe (`| head`) ends the example quietly instead of panicking in `print!`.
    let _ = write!(std::io::stdout().lock(), "{evaluation}");
    if evaluation.verdict == PolicyVerdict::Deny {
        std::process::exit(1);
    }
    Ok(())
}
