//! What each Calico Enterprise and Goldmane/Whisker sample in
//! `../shared/formats/samples/calico/` holds, as read from the raw records: how many records,
//! flows and skips, who the ends are, and every policy the log names with its kind and tier.
//! There is no EXPECTED.md section for these files; the facts below were checked by reading
//! them. Skipped (with a note) when `../shared` is not beside the project.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use netflow_core::flow::{NetworkScope, PolicyRef};
use netflow_core::{
    read_input, Action, Direction, Flow, Format, Identity, IdentitySource, InputReport, ReadOptions,
};

/// Reads one sample: its report and flows, or `None` (with a note) when the folder is absent.
fn read(file: &str) -> Option<(InputReport, Vec<Flow>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/formats/samples/calico");
    if !dir.is_dir() {
        eprintln!(
            "note: {} not found; Calico samples not checked",
            dir.display()
        );
        return None;
    }
    let path = dir.join(file);
    let name = path.to_str().unwrap();
    let mut flows = Vec::new();
    let report = read_input(name, &ReadOptions::default(), &mut |f| {
        flows.push(f);
        ControlFlow::Continue(())
    })
    .unwrap_or_else(|e| panic!("{file}: {e}"));
    Some((report, flows))
}

/// Asserts the accounting: every record a flow, none skipped.
fn assert_counts(report: &InputReport, format: Format, framing: &str, records: u64) {
    assert_eq!(report.format, Some(format), "{}", report.input);
    assert_eq!(report.framing_name(), framing, "{}", report.input);
    assert_eq!(report.skipped, 0, "{}: {:?}", report.input, report.skips);
    assert_eq!(report.records, records, "{}", report.input);
    assert_eq!(report.flows, records, "{}", report.input);
}

/// A policy as `kind namespace/name tier`, `-` for no tier.
fn policy(p: &PolicyRef) -> String {
    format!(
        "{} {}{} {}",
        p.kind.as_deref().unwrap_or("?"),
        p.namespace
            .as_deref()
            .map(|ns| format!("{ns}/"))
            .unwrap_or_default(),
        p.name,
        p.tier.as_deref().unwrap_or("-")
    )
}

fn policies(flow: &Flow) -> Vec<String> {
    flow.policies.iter().map(policy).collect()
}

fn pod(identity: &Identity) -> String {
    let p = identity.pod().expect("a pod");
    format!("{}/{}", p.namespace, p.name)
}

const LEDGER_DEFAULT_DENY: &str = "end of tier default: no rule matched (default deny)";
const LEDGER_POLICY: &str = "NetworkPolicy payments/ledger-api-isolation default";

#[test]
fn constructed_enterprise_deny_flowlogs() {
    let Some((report, flows)) = read("constructed_enterprise_deny_flowlogs.ndjson") else {
        return;
    };
    assert_counts(&report, Format::Calico, "lines", 2);

    let ledger = &flows[0];
    assert_eq!(ledger.action, Action::Denied);
    assert_eq!(ledger.direction, Direction::Ingress);
    assert_eq!(ledger.node.as_deref(), Some("node-2"));
    assert_eq!(ledger.count, 3);
    assert_eq!(pod(&ledger.src.identity), "storefront/shopper-6fd84cfbb4-*");
    assert_eq!(
        pod(&ledger.dst.identity),
        "payments/ledger-api-5cd68f8d6c-*"
    );
    assert_eq!(ledger.dst.port, Some(8080));
    // `payments/knp.default.ledger-api-isolation`: a Kubernetes NetworkPolicy, by its own name.
    assert_eq!(policies(ledger), [LEDGER_POLICY]);
    assert!(ledger.policies[0].is_network_policy());
    assert_eq!(
        ledger.policies[0].to_string(),
        "payments/ledger-api-isolation"
    );
    assert_eq!(ledger.drop_reason.as_deref(), Some(LEDGER_DEFAULT_DENY));

    let egress = &flows[1];
    assert_eq!(egress.action, Action::Denied);
    assert_eq!(egress.direction, Direction::Egress);
    assert_eq!(egress.node.as_deref(), Some("node-1"));
    assert_eq!(egress.src.ip, "10.244.1.9".parse().ok());
    assert_eq!(egress.src.port, Some(41872));
    assert_eq!(egress.dst.ip, "203.0.113.10".parse().ok());
    assert_eq!(egress.dst.port, Some(443));
    // `dest_type: net`, `dest_name_aggr: pub`, `dest_domains: ["api.example.com"]`.
    let Identity::Network(network) = &egress.dst.identity else {
        panic!("{:?}", egress.dst.identity)
    };
    assert_eq!(network.scope, NetworkScope::Public);
    assert_eq!(network.domains, ["api.example.com"]);
    assert_eq!(egress.dst.identity.kind_name(), "external");
    assert_eq!(egress.dst.identity_source, IdentitySource::Log);
    // `gnp:security.block-egress` in tier `security`, rule 0.
    assert_eq!(
        policies(egress),
        ["GlobalNetworkPolicy security.block-egress security"]
    );
    assert!(!egress.policies[0].is_network_policy());
    assert_eq!(
        egress.policies[0].to_string(),
        "security.block-egress (GlobalNetworkPolicy, tier security)"
    );
    assert_eq!(
        egress.drop_reason.as_deref(),
        Some("deny rule 0 (0-based: the 1st rule)")
    );
}

#[test]
fn constructed_goldmane_emitter_bucket() {
    let Some((report, flows)) = read("constructed_goldmane-emitter_bucket.ndjson") else {
        return;
    };
    assert_counts(&report, Format::Goldmane, "lines", 2);

    let ledger = &flows[0];
    assert_eq!(ledger.action, Action::Denied);
    assert_eq!(ledger.direction, Direction::Ingress);
    assert_eq!(ledger.count, 3);
    assert_eq!(ledger.dst.port, Some(8080));
    // An `EndOfTier` hit (kind 10) whose trigger is the NetworkPolicy (kind 6).
    assert_eq!(policies(ledger), [LEDGER_POLICY]);
    assert_eq!(ledger.drop_reason.as_deref(), Some(LEDGER_DEFAULT_DENY));

    let egress = &flows[1];
    assert_eq!(egress.action, Action::Allowed);
    assert_eq!(egress.direction, Direction::Egress);
    assert_eq!(egress.dst.identity, Identity::External);
    assert_eq!(egress.dst.port, Some(443));
    // Enforced: the CalicoNetworkPolicy (kind 1); the staged `lockdown` is only pending.
    assert_eq!(
        policies(egress),
        ["CalicoNetworkPolicy storefront/allow-egress-https default"]
    );
}

/// The Whisker list and the SSE stream share their first item: the ledger deny.
fn assert_whisker_ledger_deny(ledger: &Flow) {
    assert_eq!(ledger.action, Action::Denied);
    assert_eq!(ledger.direction, Direction::Ingress);
    assert_eq!(pod(&ledger.src.identity), "storefront/shopper-6fd84cfbb4-*");
    assert_eq!(
        pod(&ledger.dst.identity),
        "payments/ledger-api-5cd68f8d6c-*"
    );
    assert_eq!(ledger.dst.port, Some(8080));
    assert_eq!(policies(ledger), [LEDGER_POLICY]);
    assert_eq!(ledger.drop_reason.as_deref(), Some(LEDGER_DEFAULT_DENY));
}

#[test]
fn constructed_whisker_backend_flows_list() {
    let Some((report, flows)) = read("constructed_whisker-backend_flows_list.json") else {
        return;
    };
    assert_counts(&report, Format::Goldmane, "document", 2);
    assert_whisker_ledger_deny(&flows[0]);
    let egress = &flows[1];
    assert_eq!(egress.action, Action::Allowed);
    assert_eq!(egress.direction, Direction::Egress);
    // `PUBLIC NETWORK`, with no domains.
    assert_eq!(egress.dst.identity, Identity::External);
    assert_eq!(
        policies(egress),
        ["CalicoNetworkPolicy storefront/allow-egress-https default"]
    );
}

#[test]
fn constructed_whisker_backend_flows_stream() {
    let Some((report, flows)) = read("constructed_whisker-backend_flows_stream.sse.txt") else {
        return;
    };
    assert_counts(&report, Format::Goldmane, "sse", 2);
    assert_whisker_ledger_deny(&flows[0]);
    let dns = &flows[1];
    assert_eq!(dns.action, Action::Allowed);
    assert_eq!(dns.dst.port, Some(53));
    assert_eq!(pod(&dns.src.identity), "kube-system/coredns-559f6c778d-*");
    // `PRIVATE NETWORK`: a private network, not unknown.
    let Identity::Network(network) = &dns.dst.identity else {
        panic!("{:?}", dns.dst.identity)
    };
    assert_eq!(network.scope, NetworkScope::Private);
    assert_eq!(dns.dst.identity.to_string(), "private network");
    assert_eq!(dns.dst.identity_source, IdentitySource::Log);
    // A namespace profile: empty tier in the structured form.
    assert_eq!(policies(dns), ["Profile kns.kube-system -"]);
}

#[test]
fn enterprise_linseed_flow_logs_legacy() {
    let Some((report, flows)) = read("enterprise_linseed_flow_logs_legacy.ndjson") else {
        return;
    };
    assert_counts(&report, Format::Calico, "lines", 25);
    assert!(flows.iter().all(|f| f.action == Action::Allowed));
    let mut named: BTreeMap<String, usize> = BTreeMap::new();
    for flow in &flows {
        assert_eq!(flow.policies.len(), 1, "line {}", flow.origin.line);
        *named.entry(policy(&flow.policies[0])).or_default() += 1;
    }
    // Every policy is the Calico object named in tier `allow-tigera`, `allow-tigera.` kept;
    // the two `pass` → `__PROFILE__` chains are allowed by the namespace profile.
    let expected: BTreeMap<String, usize> = [
        (
            "CalicoNetworkPolicy kube-system/allow-tigera.cluster-dns allow-tigera",
            13,
        ),
        (
            "CalicoNetworkPolicy tigera-compliance/allow-tigera.compliance-access allow-tigera",
            2,
        ),
        (
            "CalicoNetworkPolicy tigera-elasticsearch/allow-tigera.elasticsearch-access allow-tigera",
            4,
        ),
        (
            "CalicoNetworkPolicy tigera-fluentd/allow-tigera.allow-fluentd-node allow-tigera",
            4,
        ),
        ("Profile kns.kube-system -", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(named, expected);
    assert_eq!(
        flows[0].policies[0].to_string(),
        "kube-system/allow-tigera.cluster-dns (CalicoNetworkPolicy, tier allow-tigera)"
    );
    // Line 10: `source_type: net`, `source_name_aggr: pvt`.
    let private = &flows[9];
    assert_eq!(private.origin.line, 10);
    assert_eq!(private.src.identity.to_string(), "private network");
    assert_eq!(private.src.identity.kind_name(), "network");
    assert_eq!(private.src.identity_source, IdentitySource::Log);
    assert_eq!(policies(private), ["Profile kns.kube-system -"]);
    assert_eq!(
        flows
            .iter()
            .filter(|f| f.src.identity.pod().is_some() && f.dst.identity.pod().is_some())
            .count(),
        24
    );
}

#[test]
fn goldmane_grpc_protojson_fredrickb_readme() {
    let Some((report, flows)) = read("goldmane_grpc_protojson_fredrickb-readme.json") else {
        return;
    };
    assert_counts(&report, Format::Goldmane, "document", 1);
    let flow = &flows[0];
    assert_eq!(flow.action, Action::Allowed);
    assert_eq!(flow.direction, Direction::Egress);
    assert_eq!(
        pod(&flow.src.identity),
        "longhorn-system/longhorn-manager-*"
    );
    assert_eq!(flow.dst.port, Some(8503));
    assert_eq!(flow.bytes, Some(957 + 1226));
    assert_eq!(flow.packets, Some(11 + 14));
    assert_eq!(
        policies(flow),
        ["CalicoNetworkPolicy longhorn-system/allow-same-namespace default"]
    );
}

/// Both Tigera docs examples are the same allow of access → nginx in `policy-demo`.
fn assert_docs_example(flow: &Flow) {
    assert_eq!(flow.action, Action::Allowed);
    assert_eq!(flow.direction, Direction::Ingress);
    assert_eq!(
        pod(&flow.src.identity),
        "policy-demo/access-6b687c8dcb-zn5s2"
    );
    assert_eq!(
        pod(&flow.dst.identity),
        "policy-demo/nginx-86c57db685-h6792"
    );
    assert_eq!(flow.dst.port, Some(80));
    assert_eq!(
        policies(flow),
        ["CalicoNetworkPolicy policy-demo/default.access-nginx default"]
    );
}

#[test]
fn tigera_docs_datatypes_example_current() {
    let Some((report, flows)) = read("tigera-docs_datatypes_example_current.jsonc") else {
        return;
    };
    assert_counts(&report, Format::Calico, "document", 1);
    // Enforced: `tier1` passes (rule 3), then the default tier allows (rule 2).
    assert_docs_example(&flows[0]);
}

#[test]
fn tigera_docs_datatypes_example_legacy() {
    let Some((report, flows)) = read("tigera-docs_datatypes_example_legacy.json") else {
        return;
    };
    assert_counts(&report, Format::Calico, "document", 1);
    // A 4-field `all_policies` hit, without a rule index.
    assert_docs_example(&flows[0]);
}
