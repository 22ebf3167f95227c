//! The hand-verified facts of `../shared/formats/samples/EXPECTED.md` for every
//! `antrea-np-log/*` sample (Antrea's `np.log` in three layouts), one test per file, asserted
//! through the public API. Each test is skipped (with a note) when `../shared` is not beside
//! the project.

use std::path::{Path, PathBuf};

use netflow_core::{Action, Counting, Direction, Flow, Format, InputReport, Protocol};

mod support;
use support::{ip, tuple};

fn sample(file: &str) -> Option<PathBuf> {
    support::sample("antrea-np-log", file)
}

/// Reads one sample with no snapshot: its report (no skips, detected as AntreaNpLog) and its flows.
fn read(path: &Path) -> (InputReport, Vec<Flow>) {
    let (report, flows) = support::read_clean(path, Format::AntreaNpLog);
    assert_eq!(report.event_count(), 0, "{}", path.display());
    (report, flows)
}

fn policies(f: &Flow) -> Vec<String> {
    f.policies.iter().map(|p| p.to_string()).collect()
}

#[test]
fn v1_13_layout() {
    let Some(path) = sample("antrea-docs_np-log-examples_v1.13-format.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.flows, 5);
    let actions: Vec<&str> = flows.iter().map(|f| f.action_raw.as_str()).collect();
    assert_eq!(actions, ["Reject", "Reject", "Reject", "Allow", "Drop"]);
    let ingress = flows
        .iter()
        .filter(|f| f.direction == Direction::Ingress)
        .count();
    assert_eq!((ingress, flows.len() - ingress), (3, 2));
    let r1 = &flows[0];
    assert_eq!(
        policies(r1),
        ["default/reject-tcp-policy (AntreaNetworkPolicy)"]
    );
    assert_eq!(
        (r1.action, r1.direction),
        (Action::Denied, Direction::Ingress)
    );
    assert_eq!(
        r1.drop_reason.as_deref(),
        Some("AntreaNetworkPolicy ingress rule RejectTCPRequest")
    );
    // appliedTo: the local pod, the destination of an ingress rule.
    assert_eq!(r1.dst.identity.to_string(), "default/nettoolv3");
    assert_eq!(tuple(r1), "10.10.1.7:53646 → 10.10.1.14:80");
    assert_eq!((r1.protocol, r1.bytes), (Protocol::Tcp, Some(60)));
    let r3 = &flows[2];
    assert_eq!(
        policies(r3),
        ["default/reject-icmp-policy (AntreaNetworkPolicy)"]
    );
    assert_eq!(
        (r3.direction, r3.protocol),
        (Direction::Egress, Protocol::Icmpv4)
    );
    assert_eq!(tuple(r3), "10.10.1.7 → 10.10.2.3");
    assert_eq!(r3.src.identity.to_string(), "default/nettool");
    // Folded: `[2 packets in 1.000855539s]`.
    assert_eq!(
        (r3.count, r3.counting, r3.bytes),
        (2, Counting::Aggregated, Some(168))
    );
    assert_eq!(flows[1].count, 1);
    let r4 = &flows[3];
    assert_eq!(policies(r4), ["default/allow-tcp-80"]);
    assert_eq!(
        (r4.action, r4.direction),
        (Action::Allowed, Direction::Ingress)
    );
    assert_eq!(tuple(r4), "10.10.1.13:57050 → 10.10.1.7:80");
    assert_eq!(r4.drop_reason, None);
    let r5 = &flows[4];
    assert!(r5.policies.is_empty(), "a default drop names no policy");
    assert_eq!((r5.action, r5.protocol), (Action::Denied, Protocol::Icmpv4));
    assert_eq!(
        r5.drop_reason.as_deref(),
        Some("NetworkPolicy default drop ingress (no rule allowed it; table IngressDefaultRule)")
    );
    assert_eq!(tuple(r5), "10.10.1.13 → 10.10.1.7");
    assert_eq!(r5.bytes, Some(84));
}

#[test]
fn v1_8_kubernetes_policy_layout() {
    let Some(path) = sample("antrea-docs_np-log-examples_k8s-np_v1.8-format.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.flows, 2);
    assert_eq!(policies(&flows[0]), ["default/test-np-log"]);
    assert!(flows[0].policies[0].is_network_policy());
    assert_eq!(
        (flows[0].action, flows[0].direction),
        (Action::Allowed, Direction::Ingress)
    );
    assert_eq!(tuple(&flows[0]), "10.10.1.82:49518 → 10.10.1.84:80");
    assert!(flows[1].policies.is_empty());
    assert_eq!(flows[1].action, Action::Denied);
    assert_eq!(tuple(&flows[1]), "10.10.1.83:38608 → 10.10.1.84:80");
    assert!(flows
        .iter()
        .all(|f| f.protocol == Protocol::Tcp && f.bytes == Some(60)));
}

#[test]
fn v1_3_layout_without_ports() {
    let Some(path) = sample("antrea-docs_np-log-examples_v1.3-format.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.flows, 2);
    let r1 = &flows[0];
    assert_eq!(policies(r1), ["default/test-anp (AntreaNetworkPolicy)"]);
    assert_eq!(
        (r1.action, r1.direction),
        (Action::Allowed, Direction::Ingress)
    );
    assert_eq!((r1.src.ip, r1.dst.ip), (ip("10.0.0.4"), ip("10.0.0.5")));
    assert_eq!((r1.src.port, r1.dst.port), (None, None));
    assert_eq!((r1.bytes, r1.protocol), (Some(60), Protocol::Tcp));
    let r2 = &flows[1];
    assert_eq!(
        (r2.action, r2.direction),
        (Action::Denied, Direction::Egress)
    );
    assert_eq!((r2.src.ip, r2.dst.ip), (ip("10.0.0.5"), ip("10.0.0.4")));
    assert_eq!((r2.count, r2.counting), (3, Counting::Aggregated));
}
