//! The hand-verified facts of `../shared/formats/samples/EXPECTED.md` for every
//! `ovn-kubernetes-acl/*` sample (OVN ACL audit lines of OVN-Kubernetes, OpenShift and
//! Kube-OVN), one test per file, asserted through the public API. Each test is skipped (with a
//! note) when `../shared` is not beside the project.

use std::path::{Path, PathBuf};

use netflow_core::{Action, Direction, Flow, Format, InputReport, Protocol};

mod support;
use support::{ip, time, tuple};

fn sample(file: &str) -> Option<PathBuf> {
    support::sample("ovn-kubernetes-acl", file)
}

/// Reads one sample with no snapshot: its report (no skips, detected as OvnKubernetesAcl) and its flows.
fn read(path: &Path) -> (InputReport, Vec<Flow>) {
    let (report, flows) = support::read_clean(path, Format::OvnKubernetesAcl);
    (report, flows)
}

fn count(flows: &[Flow], pred: impl Fn(&Flow) -> bool) -> usize {
    flows.iter().filter(|f| pred(f)).count()
}

fn policies(f: &Flow) -> Vec<String> {
    f.policies.iter().map(|p| p.to_string()).collect()
}

#[test]
fn ovn_kubernetes_docs_anp_cluster_control() {
    let Some(path) = sample("ovn-kubernetes-docs_anp-cluster-control_acl-log.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (4, 4));
    assert_eq!(count(&flows, |f| f.action == Action::Allowed), 3);
    assert_eq!(count(&flows, |f| f.action == Action::Denied), 1);
    assert!(flows.iter().all(|f| f.direction == Direction::Egress));
    for f in &flows[..3] {
        assert_eq!(policies(f), ["cluster-control (AdminNetworkPolicy)"]);
    }
    assert_eq!(tuple(&flows[0]), "10.244.2.6:33690 → 172.18.0.3:6443");
    assert_eq!(flows[0].protocol, Protocol::Tcp);
    assert_eq!(flows[0].time, time("2024-06-09T19:00:10.441Z"));
    assert_eq!(tuple(&flows[1]), "10.244.2.3:57658 → 172.18.0.3:6443");
    let drop = &flows[3];
    assert_eq!(tuple(drop), "10.244.2.7 → 10.244.2.8");
    assert_eq!(drop.protocol, Protocol::Icmpv4);
    assert_eq!(
        drop.drop_reason.as_deref(),
        Some("AdminNetworkPolicy egress rule 5 (ACL \"ANP:cluster-control:Egress:5\")")
    );
    // An echo request opens the exchange.
    assert_eq!(drop.is_reply, Some(false));
}

#[test]
fn openshift_docs_np_audit_2023() {
    let Some(path) = sample("openshift-docs_np-audit-configure_2023.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (7, 7));
    assert_eq!(count(&flows, |f| f.action == Action::Denied), 3);
    assert_eq!(count(&flows, |f| f.action == Action::Allowed), 4);
    assert_eq!(count(&flows, |f| f.direction == Direction::Ingress), 5);
    assert_eq!(count(&flows, |f| f.direction == Direction::Egress), 2);
    let syn_times = [
        "2023-11-02T16:28:54.139Z",
        "2023-11-02T16:28:55.187Z",
        "2023-11-02T16:28:57.235Z",
    ];
    for (f, t) in flows[..3].iter().zip(syn_times) {
        assert_eq!(tuple(f), "10.131.0.39:58496 → 10.129.2.35:8080");
        assert_eq!(
            (f.action, f.direction, f.time),
            (Action::Denied, Direction::Ingress, time(t))
        );
        // The namespace's default deny names no policy, only the namespace of the pod.
        assert!(f.policies.is_empty());
        assert_eq!(f.dst.identity.namespace(), Some("verify-audit-logging"));
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("default deny ingress of namespace verify-audit-logging (ACL \"NP:verify-audit-logging:Ingress\")")
        );
        assert_eq!(f.is_reply, Some(false));
    }
    for (f, dir) in flows[3..].iter().zip([
        Direction::Egress,
        Direction::Ingress,
        Direction::Egress,
        Direction::Ingress,
    ]) {
        assert_eq!(tuple(f), "10.129.2.34 → 10.129.2.35");
        assert_eq!(
            (f.protocol, f.action, f.direction),
            (Protocol::Icmpv4, Action::Allowed, dir)
        );
        assert_eq!(
            policies(f),
            ["verify-audit-logging/allow-from-same-namespace"]
        );
    }
    assert_eq!(flows[3].time, flows[4].time);
    assert_eq!(flows[3].time, time("2023-11-02T16:49:57.909Z"));
}

#[test]
fn openshift_docs_np_audit_2021_legacy() {
    let Some(path) = sample("openshift-docs_np-audit-configure_2021-legacy.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (6, 4));
    assert_eq!(report.events.get("kubectl_notice"), Some(&2));
    // No direction= in these lines, and legacy names that say none either.
    assert!(flows.iter().all(|f| f.direction == Direction::Unknown));
    for f in &flows[..2] {
        assert_eq!(tuple(f), "10.128.2.57 → 10.128.2.55");
        assert_eq!(f.action, Action::Denied);
        assert_eq!(policies(f), ["verify-audit-logging/deny-all"]);
    }
    for f in &flows[2..] {
        assert_eq!(tuple(f), "10.128.2.59 → 10.128.2.58");
        assert_eq!(f.action, Action::Allowed);
        assert_eq!(
            policies(f),
            ["verify-audit-logging/allow-from-same-namespace"]
        );
    }
    assert_eq!(flows[2].time, time("2021-06-13T19:44:10.037Z"));
    assert_eq!(flows[3].time, time("2021-06-13T19:44:11.037Z"));
    assert_eq!((flows[0].origin.line, flows[3].origin.line), (3, 6));
}

#[test]
fn openshift_docs_anp_tenant_log() {
    let Some(path) = sample("openshift-docs_anp-audit-logging_anp-tenant-log.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (7, 7));
    assert_eq!(count(&flows, |f| f.action == Action::Allowed), 3);
    assert_eq!(count(&flows, |f| f.action_raw == "pass"), 2);
    assert_eq!(count(&flows, |f| f.action == Action::Denied), 2);
    assert_eq!(count(&flows, |f| f.direction == Direction::Ingress), 4);
    assert_eq!(count(&flows, |f| f.direction == Direction::Egress), 3);
    assert_eq!(tuple(&flows[0]), "10.128.2.26:57814 → 10.128.2.25:8080");
    assert_eq!(flows[0].is_reply, Some(false));
    // The spliced line: the first occurrence of each key.
    assert_eq!(tuple(&flows[2]), "10.128.2.25:47566 → 10.128.2.26:8080");
    assert_eq!(flows[2].direction, Direction::Egress);
    for f in &flows[3..5] {
        assert_eq!((f.action, f.action_raw.as_str()), (Action::Unknown, "pass"));
        assert_eq!(policies(f), ["anp-tenant-log (AdminNetworkPolicy)"]);
    }
    assert_eq!(tuple(&flows[5]), "10.128.2.25:51598 → 10.128.2.24:8080");
    assert_eq!(
        (flows[5].action, flows[5].direction),
        (Action::Denied, Direction::Egress)
    );
    assert_eq!(tuple(&flows[6]), "10.128.2.28:33774 → 10.128.2.25:8080");
    assert_eq!(
        (flows[6].action, flows[6].direction),
        (Action::Denied, Direction::Ingress)
    );
    assert_eq!(
        flows[6].drop_reason.as_deref(),
        Some("AdminNetworkPolicy ingress rule 2 (ACL \"ANP:anp-tenant-log:Ingress:2\")")
    );
}

#[test]
fn openshift_docs_banp_default() {
    let Some(path) = sample("openshift-docs_banp-audit-logging_default.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (12, 12));
    assert_eq!(count(&flows, |f| f.action == Action::Allowed), 6);
    assert_eq!(count(&flows, |f| f.action == Action::Denied), 6);
    assert_eq!(count(&flows, |f| f.direction == Direction::Ingress), 9);
    assert_eq!(count(&flows, |f| f.direction == Direction::Egress), 3);
    assert!(flows
        .iter()
        .all(|f| policies(f) == ["default (BaselineAdminNetworkPolicy)"]));
    // One connection logged packet by packet: only its SYN is known to open it.
    for f in &flows[..6] {
        assert_eq!(tuple(f), "10.130.2.87:60510 → 10.130.2.86:8080");
    }
    assert_eq!(flows[0].is_reply, Some(false));
    assert!(flows[1..6].iter().all(|f| f.is_reply.is_none()));
    for f in &flows[6..9] {
        assert_eq!(tuple(f), "10.130.2.86:45614 → 10.130.2.87:8080");
        assert_eq!((f.action, f.direction), (Action::Denied, Direction::Egress));
    }
    for f in &flows[9..] {
        assert_eq!(tuple(f), "10.130.2.88:40630 → 10.130.2.86:8080");
        assert_eq!(
            (f.action, f.direction),
            (Action::Denied, Direction::Ingress)
        );
    }
    // Two blocks in document order: times go back.
    assert!(flows[6].time < flows[5].time);
}

#[test]
fn rhthsa_openshift_demo_todo_db() {
    let Some(path) = sample("rhthsa-openshift-demo_network-policy-md_todo-db.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (4, 4));
    assert!(flows
        .iter()
        .all(|f| f.direction == Direction::Ingress && f.dst.port == Some(5432)));
    for f in &flows[..2] {
        assert_eq!(f.action, Action::Denied);
        assert!(f.policies.is_empty());
        assert_eq!(f.dst.identity.namespace(), Some("database"));
    }
    for f in &flows[2..] {
        assert_eq!(f.action, Action::Allowed);
        assert_eq!(policies(f), ["database/allow-from-todo"]);
    }
    assert_eq!(tuple(&flows[0]), "10.132.0.33:40504 → 10.132.0.30:5432");
    assert_eq!(flows[0].time, time("2024-07-12T08:00:50.098Z"));
    assert_eq!(tuple(&flows[3]), "10.132.0.33:57262 → 10.132.0.30:5432");
    assert_eq!(flows[3].time, time("2024-07-12T07:56:50.098Z"));
    // psh|ack and ack: within a connection, neither request nor reply.
    assert!(flows.iter().all(|f| f.is_reply.is_none()));
}

#[test]
fn kube_ovn_docs_acl_allow() {
    let Some(path) = sample("kube-ovn-docs_acl-log-allow_2024.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (1, 1));
    let f = &flows[0];
    assert_eq!(policies(f), ["default/test"]);
    assert_eq!(
        (f.action, f.direction, f.protocol),
        (Action::Allowed, Direction::Ingress, Protocol::Icmpv4)
    );
    assert_eq!((f.src.ip, f.dst.ip), (ip("10.16.0.7"), ip("10.16.0.12")));
    assert_eq!(f.time, time("2024-08-14T09:27:49.590Z"));
}
