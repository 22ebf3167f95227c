//! The hand-verified facts of `../shared/formats/samples/EXPECTED.md` for the
//! `calico-node-flows/*` sample (the text `calico-node -flows` prints), asserted through the
//! public API. Skipped (with a note) when `../shared` is not beside the project. The Service's
//! port name (`Svc:dns/53`) is the one fact not asserted: flowq keeps the Service, not the
//! name of its port (docs/formats.md).

use std::path::PathBuf;

use netflow_core::flow::{ConnectionCounts, Counting, Direction, DirectionalCounts};
use netflow_core::{Action, Flow, Format, Protocol, Session};

#[test]
fn calico_pr10144_sample_first_record() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../shared/formats/samples/calico-node-flows/calico-pr10144_calico-node-flows_sample.first7.txt",
    );
    if !path.is_file() {
        eprintln!("note: {} not found; its facts not checked", path.display());
        return;
    }
    let name = path.display().to_string();
    let mut flows: Vec<Flow> = Vec::new();
    let mut summary = Session::new([name.clone()])
        .for_each_flow(|f| -> netflow_core::Result<()> {
            flows.push(f);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let report = summary.reports.remove(0);
    assert_eq!(report.format, Some(Format::CalicoNodeFlows));
    assert_eq!(report.skipped, 0, "{:?}", report.skips);
    // 7 lines, 1 record.
    assert_eq!((report.records, report.flows, report.last_line), (1, 1, 7));
    let f = &flows[0];
    assert_eq!(f.origin.line, 1);
    assert_eq!(f.time.unwrap().to_rfc3339(), "2025-04-11T21:50:58+00:00");
    assert_eq!(
        (f.action, f.direction),
        (Action::Allowed, Direction::Egress)
    );
    assert_eq!(
        f.src.identity.to_string(),
        "default/loadgenerator-78cb8f69c8-*"
    );
    assert_eq!(
        f.dst.identity.to_string(),
        "kube-system/coredns-6d4b75cb6d-*"
    );
    let service = f.dst.service.as_ref().expect("the Service");
    assert_eq!(
        (service.namespace.as_str(), service.name.as_str()),
        ("kube-system", "kube-dns")
    );
    assert_eq!((f.protocol, f.dst.port), (Protocol::Udp, Some(53)));
    // Ingress 12 pkts / 1818 bytes, Egress 12 pkts / 960 bytes; connections started 6,
    // completed 0, live 6.
    assert_eq!((f.packets, f.bytes), (Some(24), Some(2778)));
    assert_eq!((f.count, f.counting), (6, Counting::Aggregated));
    let details = f.details.as_deref().expect("details");
    assert_eq!(
        details.counts,
        Some(DirectionalCounts {
            packets_in: Some(12),
            bytes_in: Some(1818),
            packets_out: Some(12),
            bytes_out: Some(960),
        })
    );
    assert_eq!(
        details.connections,
        Some(ConnectionCounts {
            started: Some(6),
            completed: Some(0),
            live: Some(6),
        })
    );
    let policies: Vec<String> = f.policies.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        policies,
        ["default/allow-dns-egress (CalicoNetworkPolicy, tier default)"]
    );
    // Pending: the same single hit.
    assert_eq!(details.pending_policies, f.policies);
}
