//! The enforcers that log addresses only (the EKS network policy agent, OVN-Kubernetes,
//! Antrea, calico-node): `flowq denied` with a snapshot names the pods, the node and the
//! policy that isolates the destination, as it does for Hubble.

use crate::{flowq, SNAPSHOT};

const EKS_SNAPSHOT: &str = "testdata/clusters/eks-shop.json";
const EKS_LOG: &str = "testdata/flows/aws-network-policy-agent/network-policy-agent.log";

#[test]
fn eks_agent_denials_name_the_pods_the_node_and_the_isolating_policy() {
    let run = flowq(&["denied", "--snapshot", EKS_SNAPSHOT, EKS_LOG]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("denied_eks_agent", run.stdout);
}

#[test]
fn eks_agent_denials_as_json_carry_identities_node_and_why() {
    let run = flowq(&["denied", "--snapshot", EKS_SNAPSHOT, "-o", "json", EKS_LOG]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let first = &rows[0];
    for (field, want) in [
        ("src_namespace", "storefront"),
        ("src_pod", "frontend-7b6d9c5f8-kx2lp"),
        ("src_workload", "frontend"),
        ("src_workload_kind", "Deployment"),
        ("src_identity_source", "snapshot"),
        ("dst_namespace", "payments"),
        ("dst_pod", "ledger-0"),
        ("dst_workload", "ledger"),
        ("dst_workload_kind", "StatefulSet"),
        ("where", "ingress"),
        ("node", "ip-192-168-45-67.eu-west-1.compute.internal"),
        ("reason", "tier NETWORK_POLICY"),
        ("policy_verdict", "deny"),
    ] {
        assert_eq!(first[field], want, "field {field} of {first:#}");
    }
    // Three retransmitted SYNs, each its own verdict event.
    assert_eq!(first["count"], 3);
    assert!(
        first["explanation"]
            .as_str()
            .unwrap()
            .contains("payments/ledger-isolation"),
        "{first:#}"
    );
    assert_eq!(first["mismatch"], serde_json::Value::Null);
    assert_eq!(rows[1]["dst_pod"], "ledger-1");
    assert_eq!(rows[1]["count"], 2);
}

#[test]
fn the_enforcers_formats_are_detected_whatever_the_shape() {
    let run = flowq(&[
        "inspect",
        "-o",
        "json",
        EKS_LOG,
        "testdata/flows/aws-network-policy-agent/every-shape.log",
        "testdata/flows/aws-network-policy-agent/filter-log-events.json",
        "testdata/flows/ovn-kubernetes-acl/every-shape.log",
        "testdata/flows/antrea-np-log/np.log",
        "testdata/flows/calico-node-flows/flows.txt",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let inputs = run.json();
    for (input, framing) in inputs
        .as_array()
        .unwrap()
        .iter()
        .zip(["lines", "lines", "document"])
    {
        assert_eq!(input["format"], "aws-network-policy-agent", "{input:#}");
        assert_eq!(input["framing"], framing, "{input:#}");
        assert_eq!(input["skipped"], 0, "{input:#}");
    }
    let formats = flowq(&["formats"]);
    // Descriptions line up after the longest name.
    let columns: Vec<usize> = formats
        .stdout
        .lines()
        .map(|l| l.find("  ").unwrap() + l[l.find("  ").unwrap()..].find(|c| c != ' ').unwrap())
        .collect();
    assert!(
        columns.windows(2).all(|w| w[0] == w[1]),
        "{}",
        formats.stdout
    );
    assert!(
        formats.stdout.contains("aws-network-policy-agent"),
        "{}",
        formats.stdout
    );
}

#[test]
fn ovn_acl_drops_are_placed_and_explained_from_the_snapshot() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        "testdata/flows/ovn-kubernetes-acl/vamp-acl-audit.log",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let first = &rows[0];
    for (field, want) in [
        ("src_pod", "release-agent-6c8f9b7d5-w4k2j"),
        ("src_workload", "release-agent"),
        ("dst_pod", "elasticsearch-0"),
        ("dst_identity_source", "snapshot"),
        ("where", "ingress"),
        ("node", "node-b"),
        (
            "reason",
            "default deny ingress of namespace vamp (ACL \"NP:vamp:Ingress\")",
        ),
        ("policy_verdict", "deny"),
    ] {
        assert_eq!(first[field], want, "field {field} of {first:#}");
    }
    assert_eq!(first["count"], 3);
    assert!(
        first["explanation"]
            .as_str()
            .unwrap()
            .contains("vamp/elasticsearch-ingress"),
        "{first:#}"
    );
    assert_eq!(first["mismatch"], serde_json::Value::Null);
    assert_eq!(rows[1]["dst_pod"], "elasticsearch-1");
}

#[test]
fn antrea_default_drops_are_placed_and_explained_from_the_snapshot() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        SNAPSHOT,
        "--to-pod",
        "vamp/elasticsearch-0",
        "-o",
        "json",
        "testdata/flows/antrea-np-log/np.log",
        "testdata/flows/calico-node-flows/flows.txt",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().expect("a JSON array");
    // The v1.8 default drop and the folded v1.13 one (two packets): one connection.
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    for (field, want) in [
        ("src_pod", "release-agent-6c8f9b7d5-w4k2j"),
        ("dst_pod", "elasticsearch-0"),
        ("dst_identity_source", "snapshot"),
        ("where", "ingress"),
        ("node", "node-b"),
        ("policy_verdict", "deny"),
    ] {
        assert_eq!(row[field], want, "field {field} of {row:#}");
    }
    assert_eq!(row["count"], 3);
    assert_eq!(row["counting"], "inexact");
    assert!(
        row["explanation"]
            .as_str()
            .unwrap()
            .contains("vamp/elasticsearch-ingress"),
        "{row:#}"
    );
}
