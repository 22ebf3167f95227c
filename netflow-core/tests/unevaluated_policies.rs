//! Policies flowq recognises but does not evaluate (Cilium, Calico, the Network Policy API's
//! cluster-wide kinds), loaded from the `testdata/clusters/extra-kinds` fixture as a List and
//! as a manifest folder: both give the same policies, and every verdict for a pod one of them
//! selects says so, on the side it governs.

use std::path::PathBuf;

use netflow_core::cluster::UnevaluatedKind;
use netflow_core::policy::{PolicyType, Subject};
use netflow_core::{Engine, Protocol, Snapshot};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/clusters")
        .join(name)
}

fn notes(
    snapshot: &Snapshot,
    src: &str,
    dst: &str,
    port: u16,
) -> Vec<(String, String, PolicyType)> {
    let engine = Engine::new(snapshot);
    let e = engine
        .evaluate(
            &Subject::parse(src).unwrap(),
            &Subject::parse(dst).unwrap(),
            port,
            Protocol::Tcp,
        )
        .unwrap();
    for a in &e.also_subject_to {
        assert!(
            a.note
                .starts_with(&format!("also subject to {} {} (", a.kind, a.policy))
                && a.note
                    .ends_with("which flowq does not evaluate: the verdict may differ"),
            "{}",
            a.note
        );
    }
    e.also_subject_to
        .iter()
        .map(|a| (a.kind.clone(), a.policy.clone(), a.direction))
        .collect()
}

#[test]
fn a_list_and_a_manifest_folder_give_every_extra_kind() {
    for name in ["extra-kinds.json", "extra-kinds"] {
        let s = Snapshot::load(&fixture(name), None).unwrap();
        let counts = s.unevaluated_counts();
        for kind in [
            UnevaluatedKind::CiliumNetworkPolicy,
            UnevaluatedKind::CiliumClusterwideNetworkPolicy,
            UnevaluatedKind::CalicoNetworkPolicy,
            UnevaluatedKind::CalicoGlobalNetworkPolicy,
            UnevaluatedKind::ClusterNetworkPolicy,
            UnevaluatedKind::AdminNetworkPolicy,
            UnevaluatedKind::BaselineAdminNetworkPolicy,
        ] {
            assert_eq!(counts.get(&kind), Some(&1), "{name}: {kind}");
        }
        assert_eq!(
            s.policies().len(),
            1,
            "{name}: the Calico NetworkPolicy is not a k8s one"
        );
        assert!(s.warnings.is_empty(), "{name}: {:?}", s.warnings);
    }
}

#[test]
fn verdicts_name_the_unevaluated_policies_of_each_end_and_direction() {
    let s = Snapshot::load(&fixture("extra-kinds"), None).unwrap();
    let e = |kind: &str, policy: &str, d| (kind.to_string(), policy.to_string(), d);
    use PolicyType::{Egress, Ingress};
    assert_eq!(
        notes(&s, "shop/web-0", "shop/db-0", 5432),
        [
            e("CiliumClusterwideNetworkPolicy", "shop-no-world", Egress),
            e("Calico NetworkPolicy", "shop/web-egress", Egress),
            e("CiliumNetworkPolicy", "shop/db-l7", Ingress),
            e("ClusterNetworkPolicy", "prod-ingress-guard", Ingress),
            e("BaselineAdminNetworkPolicy", "default", Ingress),
        ]
    );
    // lab/probe: the Calico GlobalNetworkPolicy selects the lab namespace, the
    // AdminNetworkPolicy its probe pods; the outside address has no policies of its own.
    assert_eq!(
        notes(&s, "lab/probe", "203.0.113.9", 443),
        [
            e("Calico GlobalNetworkPolicy", "default.lab-deny", Egress),
            e("AdminNetworkPolicy", "lab-egress", Egress),
        ]
    );
    assert_eq!(
        notes(&s, "203.0.113.9", "lab/probe", 80),
        [
            e("Calico GlobalNetworkPolicy", "default.lab-deny", Ingress),
            e("BaselineAdminNetworkPolicy", "default", Ingress),
        ]
    );
}

#[test]
fn a_snapshot_without_extra_kinds_adds_no_note() {
    let s = Snapshot::load(&fixture("vamp.json"), None).unwrap();
    assert!(s.unevaluated_policies().is_empty());
    assert!(notes(
        &s,
        "customer1/release-agent-6c8f9b7d5-w4k2j",
        "vamp/elasticsearch-0",
        9200
    )
    .is_empty());
}
