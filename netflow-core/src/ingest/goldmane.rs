//! Calico Open Source 3.30+ Goldmane / Whisker flows, in all three encodings: Goldmane gRPC
//! as protojson (`{"Key": {…}}`, lowerCamelCase, enum names, 64-bit numbers as strings), the
//! Goldmane emitter's NDJSON (`Key`, snake_case, integer enums, zero values omitted), and the
//! Whisker backend's flat REST items (list envelope or SSE stream; RFC 3339 times, enum names,
//! `policies.enforced`).
//!
//! There are no addresses and no source ports: identities come from names (pod names are
//! generate-name prefixes ending in `*`). Policy hits are structured; an `EndOfTier` hit carries
//! in `trigger` the policy that selected the endpoint — the "why" of a default deny.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::calico_fields::{
    describe_json_error, folded_network, labels_of, network_set, parse_protocol, present,
    workload_from_name,
};
use super::record::Record;
use super::value::{port, EnumValue, TimeValue, U64Value};
use crate::flow::{
    Action, ConnectionCounts, Counting, Direction, DirectionalCounts, Endpoint, Flow, FlowDetails,
    Identity, NodeIdentity, Origin, PodIdentity, PolicyRef, Protocol, ServiceIdentity,
};
use crate::format::Format;

/// Says why a parsed first record looks like a Goldmane/Whisker flow, or `None`.
pub(crate) fn sniff(map: &Map<String, Value>) -> Option<String> {
    if map.get("Key").is_some_and(Value::is_object) {
        return Some("has \"Key\": a Calico Goldmane flow (goldmane)".to_string());
    }
    let has = |k: &str| map.contains_key(k);
    (has("action") && has("reporter") && (has("protocol") || has("source_name")) && !has("proto"))
        .then(|| {
            "has \"action\", \"reporter\" and \"protocol\": a Calico Whisker flow (goldmane)"
                .to_string()
        })
}

/// Decodes one Goldmane or Whisker flow.
pub fn decode(bytes: &[u8], origin: Origin) -> Record {
    let mut fields: Fields = match super::value::from_json(bytes) {
        Ok(f) => f,
        Err(e) => return Record::Skip(describe_json_error(&e, bytes, "Goldmane/Whisker flow")),
    };
    if let Some(key) = fields.key.take() {
        fields.fill_from(*key);
    }
    Record::single(convert(fields, origin))
}

const ACTIONS: &[(i64, &str)] = &[
    (0, "ActionUnspecified"),
    (1, "Allow"),
    (2, "Deny"),
    (3, "Pass"),
];
const REPORTERS: &[(i64, &str)] = &[(0, "ReporterUnspecified"), (1, "Src"), (2, "Dst")];
const ENDPOINT_TYPES: &[(i64, &str)] = &[
    (0, "EndpointTypeUnspecified"),
    (1, "WorkloadEndpoint"),
    (2, "HostEndpoint"),
    (3, "NetworkSet"),
    (4, "Network"),
];
const POLICY_KINDS: &[(i64, &str)] = &[
    (0, "KindUnspecified"),
    (1, "CalicoNetworkPolicy"),
    (2, "GlobalNetworkPolicy"),
    (3, "StagedNetworkPolicy"),
    (4, "StagedGlobalNetworkPolicy"),
    (5, "StagedKubernetesNetworkPolicy"),
    (6, "NetworkPolicy"),
    (7, "AdminNetworkPolicy"),
    (8, "BaselineAdminNetworkPolicy"),
    (9, "Profile"),
    (10, "EndOfTier"),
    (11, "ClusterNetworkPolicy"),
];

fn convert(f: Fields, origin: Origin) -> Result<Flow, String> {
    let action_raw = f
        .action
        .as_ref()
        .map(|a| a.name(ACTIONS))
        .unwrap_or_default();
    let action = match action_raw.to_ascii_lowercase().as_str() {
        "allow" => Action::Allowed,
        "deny" => Action::Denied,
        _ => Action::Unknown,
    };
    let direction = match f
        .reporter
        .as_ref()
        .map(|r| r.name(REPORTERS).to_ascii_lowercase())
        .as_deref()
    {
        Some("src") => Direction::Egress,
        Some("dst") => Direction::Ingress,
        _ => Direction::Unknown,
    };
    let protocol = f
        .proto
        .as_deref()
        .or(f.protocol.as_deref())
        .map(parse_protocol)
        .unwrap_or(Protocol::Unknown);
    let enforced = f
        .policies
        .as_ref()
        .map(|p| p.enforced())
        .unwrap_or_default();
    let (policies, drop_reason) = explain(enforced, action);
    let details = details(&f);
    let src = endpoint(
        f.source_type.as_ref(),
        f.source_name.as_deref(),
        f.source_namespace.as_deref(),
        f.source_labels.as_ref(),
        None,
    );
    let mut dst = endpoint(
        f.dest_type.as_ref(),
        f.dest_name.as_deref(),
        f.dest_namespace.as_deref(),
        f.dest_labels.as_ref(),
        port(f.dest_port, "dest_port")?,
    );
    if let (Some(ns), Some(name)) = (
        present(f.dest_service_namespace.as_deref()),
        present(f.dest_service_name.as_deref()),
    ) {
        dst.service = Some(ServiceIdentity {
            namespace: ns.to_string(),
            name: name.to_string(),
        });
    }
    Ok(Flow {
        time: f.start_time.or(f.end_time).map(|t| t.0),
        src,
        dst,
        protocol,
        action,
        action_raw,
        direction,
        node: None,
        drop_reason,
        policies,
        is_reply: None,
        bytes: U64Value::sum(f.bytes_in, f.bytes_out),
        packets: U64Value::sum(f.packets_in, f.packets_out),
        reply_seen: U64Value::both_ways(f.packets_in, f.packets_out),
        count: f.num_connections_started.map_or(1, |n| n.0.max(1)),
        duplicate: false,
        counting: Counting::Aggregated,
        granularity: crate::flow::Granularity::Connection,
        details,
        format: Format::Goldmane,
        origin,
    })
}

/// What the record says beyond the common fields: the counts each way, the connections by
/// state, the pending policies.
fn details(f: &Fields) -> Option<Arc<FlowDetails>> {
    let n = |v: &Option<U64Value>| v.as_ref().map(|v| v.0);
    let counts = DirectionalCounts {
        packets_in: n(&f.packets_in),
        packets_out: n(&f.packets_out),
        bytes_in: n(&f.bytes_in),
        bytes_out: n(&f.bytes_out),
    };
    let connections = ConnectionCounts {
        started: n(&f.num_connections_started),
        completed: n(&f.num_connections_completed),
        live: n(&f.num_connections_live),
    };
    let details = FlowDetails {
        counts: (counts != DirectionalCounts::default()).then_some(counts),
        connections: (connections != ConnectionCounts::default()).then_some(connections),
        pending_policies: f
            .policies
            .as_ref()
            .and_then(|p| p.pending_policies.as_deref())
            .unwrap_or_default()
            .iter()
            .map(Hit::to_ref)
            .filter(|r| !r.name.is_empty())
            .collect(),
        ..FlowDetails::default()
    };
    (details != FlowDetails::default()).then(|| Arc::new(details))
}

fn endpoint(
    kind: Option<&EnumValue>,
    name: Option<&str>,
    namespace: Option<&str>,
    labels: Option<&Value>,
    port: Option<u16>,
) -> Endpoint {
    let name = present(name);
    let identity = match kind.map(|k| k.name(ENDPOINT_TYPES)).as_deref() {
        Some("WorkloadEndpoint") => pod(namespace, name.unwrap_or_default(), labels),
        Some("HostEndpoint") => Identity::Node(NodeIdentity {
            name: name.map(str::to_string),
            host_network_pods: Vec::new(),
        }),
        Some("NetworkSet") => network_set(name, namespace, Vec::new()),
        // Whisker items carry no endpoint type: `PUBLIC NETWORK`/`PRIVATE NETWORK` name the
        // networks, and a namespaced name is a pod.
        _ => match folded_network(name, Vec::new()) {
            Some(network) => network,
            None => match name {
                Some(n) if kind.is_none() && present(namespace).is_some() => {
                    pod(namespace, n, labels)
                }
                _ => Identity::Unknown,
            },
        },
    };
    Endpoint::from_log(None, port, identity, None)
}

/// A pod named by its generate-name prefix; the Deployment is named only when the
/// pod-template-hash label agrees with the name.
fn pod(namespace: Option<&str>, name: &str, labels: Option<&Value>) -> Identity {
    let labels = labels_of(labels);
    Identity::Pod(std::sync::Arc::new(PodIdentity {
        namespace: present(namespace).unwrap_or_default().to_string(),
        name: name.to_string(),
        workload: workload_from_name(name, &labels),
        node: None,
        labels: Arc::new(labels),
    }))
}

/// For a deny: the last enforced hit (by policy index) whose action is Deny — a matched rule
/// or an end of tier, whose trigger is the selecting policy. For an allow: the allow hits.
fn explain(hits: &[Hit], action: Action) -> (Vec<PolicyRef>, Option<String>) {
    let mut sorted: Vec<&Hit> = hits.iter().collect();
    sorted.sort_by_key(|h| h.policy_index.unwrap_or(0));
    let is = |h: &Hit, a: &str| {
        h.action
            .as_ref()
            .is_some_and(|x| x.name(ACTIONS).eq_ignore_ascii_case(a))
    };
    match action {
        Action::Denied => match sorted.iter().rev().find(|h| is(h, "deny")) {
            Some(hit) if hit.kind_name() == "EndOfTier" => {
                let tier = hit.tier.as_deref().filter(|t| !t.is_empty());
                let policies = hit
                    .trigger
                    .as_deref()
                    .map(|trigger| trigger.to_ref_in(tier))
                    .into_iter()
                    .collect();
                let reason = match tier {
                    Some(tier) => format!("end of tier {tier}: no rule matched (default deny)"),
                    None => "end of tier: no rule matched (default deny)".to_string(),
                };
                (policies, Some(reason))
            }
            Some(hit) => (
                vec![hit.to_ref()],
                Some(super::calico_fields::deny_rule_reason(hit.rule_index)),
            ),
            None => (Vec::new(), None),
        },
        _ => (
            sorted
                .iter()
                .filter(|h| is(h, "allow"))
                .map(|h| h.to_ref())
                .collect(),
            None,
        ),
    }
}

/// Every field of a flow, flat (Whisker) or under `Key` (Goldmane), in any spelling.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Fields {
    #[serde(rename = "Key")]
    key: Option<Box<Fields>>,
    #[serde(alias = "sourceName")]
    source_name: Option<String>,
    #[serde(alias = "sourceNamespace")]
    source_namespace: Option<String>,
    #[serde(alias = "sourceType")]
    source_type: Option<EnumValue>,
    #[serde(alias = "sourceLabels")]
    source_labels: Option<Value>,
    #[serde(alias = "destName")]
    dest_name: Option<String>,
    #[serde(alias = "destNamespace")]
    dest_namespace: Option<String>,
    #[serde(alias = "destType")]
    dest_type: Option<EnumValue>,
    #[serde(alias = "destLabels")]
    dest_labels: Option<Value>,
    #[serde(alias = "destPort")]
    dest_port: Option<U64Value>,
    #[serde(alias = "destServiceName")]
    dest_service_name: Option<String>,
    #[serde(alias = "destServiceNamespace")]
    dest_service_namespace: Option<String>,
    proto: Option<String>,
    protocol: Option<String>,
    reporter: Option<EnumValue>,
    action: Option<EnumValue>,
    policies: Option<PolicyTrace>,
    #[serde(alias = "startTime")]
    start_time: Option<TimeValue>,
    #[serde(alias = "endTime")]
    end_time: Option<TimeValue>,
    #[serde(alias = "packetsIn")]
    packets_in: Option<U64Value>,
    #[serde(alias = "packetsOut")]
    packets_out: Option<U64Value>,
    #[serde(alias = "bytesIn")]
    bytes_in: Option<U64Value>,
    #[serde(alias = "bytesOut")]
    bytes_out: Option<U64Value>,
    #[serde(alias = "numConnectionsStarted")]
    num_connections_started: Option<U64Value>,
    #[serde(alias = "numConnectionsCompleted")]
    num_connections_completed: Option<U64Value>,
    #[serde(alias = "numConnectionsLive")]
    num_connections_live: Option<U64Value>,
}

impl Fields {
    /// Takes every field the flat level lacks from `Key`.
    fn fill_from(&mut self, key: Fields) {
        macro_rules! fill {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = key.$f; } )* };
        }
        fill!(
            source_name,
            source_namespace,
            source_type,
            source_labels,
            dest_name,
            dest_namespace,
            dest_type,
            dest_labels,
            dest_port,
            dest_service_name,
            dest_service_namespace,
            proto,
            protocol,
            reporter,
            action,
            policies,
            start_time,
            end_time,
            packets_in,
            packets_out,
            bytes_in,
            bytes_out,
            num_connections_started,
            num_connections_completed,
            num_connections_live
        );
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PolicyTrace {
    #[serde(alias = "enforcedPolicies", alias = "enforced")]
    enforced_policies: Option<Vec<Hit>>,
    #[serde(alias = "pendingPolicies", alias = "pending")]
    pending_policies: Option<Vec<Hit>>,
}

impl PolicyTrace {
    fn enforced(&self) -> &[Hit] {
        self.enforced_policies.as_deref().unwrap_or_default()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Hit {
    kind: Option<EnumValue>,
    namespace: Option<String>,
    name: Option<String>,
    tier: Option<String>,
    action: Option<EnumValue>,
    #[serde(alias = "policyIndex")]
    policy_index: Option<i64>,
    #[serde(alias = "ruleIndex")]
    rule_index: Option<i64>,
    trigger: Option<Box<Hit>>,
}

impl Hit {
    fn kind_name(&self) -> String {
        self.kind
            .as_ref()
            .map(|k| k.name(POLICY_KINDS))
            .unwrap_or_default()
    }

    /// The policy hit, in its own tier (profiles have none).
    fn to_ref(&self) -> PolicyRef {
        self.to_ref_in(None)
    }

    /// The policy hit, in its own tier or else `tier` (an end of tier's trigger may leave its
    /// own empty); profiles belong to no tier.
    fn to_ref_in(&self, tier: Option<&str>) -> PolicyRef {
        let kind = Some(self.kind_name()).filter(|k| !k.is_empty() && k != "KindUnspecified");
        let tier = match kind.as_deref() {
            Some("Profile") => None,
            _ => present(self.tier.as_deref()).or(tier).map(str::to_string),
        };
        let name = self.name.as_deref().unwrap_or_default();
        // A Kubernetes policy by its own name, should a producer keep Felix's `knp.default.`.
        let name = match kind.as_deref() {
            Some("NetworkPolicy" | "StagedKubernetesNetworkPolicy") => {
                name.strip_prefix("knp.default.").unwrap_or(name)
            }
            _ => name,
        };
        PolicyRef {
            namespace: present(self.namespace.as_deref()).map(str::to_string),
            name: name.to_string(),
            kind,
            tier,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_str(s: &str) -> Flow {
        match decode(
            s.as_bytes(),
            Origin {
                input: Arc::from("t"),
                line: 1,
            },
        ) {
            Record::Flow(f, _) => *f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counts_each_way_connections_by_state_and_pending_policies_are_kept() {
        let f = decode_str(
            r#"{"Key":{"source_name":"web-*","source_namespace":"shop","source_type":1,"dest_name":"db-*","dest_namespace":"shop","dest_type":1,"dest_port":5432,"proto":"tcp","reporter":1,"action":1,"policies":{"enforced_policies":[{"kind":6,"namespace":"shop","name":"db","tier":"default","action":1,"rule_index":0}],"pending_policies":[{"kind":3,"namespace":"shop","name":"lockdown","tier":"default","action":2,"rule_index":-1}]}},"start_time":1748772000,"end_time":1748772015,"packets_in":4,"packets_out":5,"bytes_in":400,"bytes_out":500,"num_connections_started":2,"num_connections_completed":1,"num_connections_live":1}"#,
        );
        assert_eq!((f.packets, f.bytes), (Some(9), Some(900)));
        let d = f.details.as_deref().expect("details");
        assert_eq!(
            d.counts,
            Some(DirectionalCounts {
                packets_in: Some(4),
                packets_out: Some(5),
                bytes_in: Some(400),
                bytes_out: Some(500),
            })
        );
        assert_eq!(
            d.connections,
            Some(ConnectionCounts {
                started: Some(2),
                completed: Some(1),
                live: Some(1),
            })
        );
        let pending: Vec<String> = d.pending_policies.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            pending,
            ["shop/lockdown (StagedNetworkPolicy, tier default)"]
        );
    }

    #[test]
    fn emitter_integers_and_end_of_tier_trigger() {
        let f = decode_str(
            r#"{"Key":{"source_name":"shopper-*","source_namespace":"storefront","source_type":1,"dest_name":"ledger-*","dest_namespace":"payments","dest_type":1,"dest_port":8080,"proto":"tcp","reporter":2,"action":2,"policies":{"enforced_policies":[{"kind":10,"tier":"default","action":2,"rule_index":-1,"trigger":{"kind":6,"namespace":"payments","name":"ledger-isolation","tier":"default"}}]}},"start_time":1748772000,"end_time":1748772015,"packets_in":30,"bytes_in":2220,"num_connections_started":3}"#,
        );
        assert_eq!(f.action, Action::Denied);
        assert_eq!(f.direction, Direction::Ingress);
        assert_eq!(f.count, 3);
        assert_eq!(f.policies[0].to_string(), "payments/ledger-isolation");
        assert!(f.drop_reason.unwrap().contains("default deny"));
        assert_eq!(f.dst.port, Some(8080));
        assert_eq!(f.src.identity.to_string(), "storefront/shopper-*");
    }

    #[test]
    fn protojson_and_whisker_spellings() {
        let f = decode_str(
            r#"{"Key":{"sourceName":"a-*","sourceNamespace":"x","sourceType":"WorkloadEndpoint","destName":"b","destNamespace":"x","destType":"WorkloadEndpoint","destPort":"8503","proto":"tcp","reporter":"Src","action":"Allow","policies":{"enforcedPolicies":[{"kind":"CalicoNetworkPolicy","namespace":"x","name":"allow-same","tier":"default","action":"Allow"}]}},"startTime":"1764970845"}"#,
        );
        assert_eq!(f.action, Action::Allowed);
        assert_eq!(f.dst.port, Some(8503));
        assert_eq!(f.direction, Direction::Egress);
        let f = decode_str(
            r#"{"start_time":"2025-06-01T10:00:00Z","action":"Deny","source_name":"s-*","source_namespace":"a","source_labels":"app=s | tier=t","dest_name":"PUBLIC NETWORK","dest_namespace":"","protocol":"tcp","dest_port":443,"reporter":"Src","policies":{"enforced":[{"kind":"GlobalNetworkPolicy","name":"block","namespace":"","tier":"security","action":"Deny","policy_index":0,"rule_index":2,"trigger":null}]}}"#,
        );
        assert_eq!(f.dst.identity, Identity::External);
        assert_eq!(f.src.identity.labels().unwrap()["tier"], "t");
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("deny rule 2 (0-based: the 3rd rule)")
        );
        assert_eq!(
            f.policies[0].to_string(),
            "block (GlobalNetworkPolicy, tier security)"
        );
    }

    #[test]
    fn policy_hits_carry_their_tier_like_calico_enterprise_hits() {
        let f = decode_str(
            r#"{"Key":{"source_name":"shopper-*","source_namespace":"shop","source_type":1,"dest_name":"checkout-*","dest_namespace":"shop","dest_type":1,"dest_port":8080,"proto":"tcp","reporter":2,"action":2,"policies":{"enforced_policies":[{"kind":1,"namespace":"shop","name":"app-tier.checkout","tier":"app-tier","action":2,"policy_index":1,"rule_index":-1,"trigger":null},{"kind":9,"name":"kns.shop","action":1}]}}}"#,
        );
        let p = &f.policies[0];
        assert_eq!(p.tier.as_deref(), Some("app-tier"));
        assert_eq!(
            p.to_string(),
            "shop/app-tier.checkout (CalicoNetworkPolicy, tier app-tier)"
        );
        let f = decode_str(
            r#"{"action":"Allow","reporter":"Src","protocol":"udp","dest_port":53,"source_name":"coredns-*","source_namespace":"kube-system","dest_name":"PRIVATE NETWORK","dest_namespace":"","policies":{"enforced":[{"kind":"Profile","name":"kns.kube-system","namespace":"","tier":"","action":"Allow","policy_index":0,"rule_index":0,"trigger":null}]}}"#,
        );
        assert_eq!(f.policies[0].tier, None);
        assert_eq!(f.policies[0].to_string(), "kns.kube-system (Profile)");
        assert_eq!(f.dst.identity.kind_name(), "network");
        assert_eq!(f.dst.identity.to_string(), "private network");
        assert_eq!(f.dst.identity_source, crate::flow::IdentitySource::Log);
    }

    #[test]
    fn a_kubernetes_policy_is_named_without_felix_prefix() {
        let f = decode_str(
            r#"{"Key":{"source_name":"a-*","source_namespace":"x","source_type":1,"dest_name":"b-*","dest_namespace":"x","dest_type":1,"dest_port":80,"proto":"tcp","reporter":2,"action":2,"policies":{"enforced_policies":[{"kind":6,"namespace":"x","name":"knp.default.isolate","tier":"default","action":2,"rule_index":0}]}}}"#,
        );
        assert_eq!(f.policies[0].name, "isolate");
        assert_eq!(f.policies[0].to_string(), "x/isolate");
    }

    #[test]
    fn an_end_of_tier_trigger_without_a_tier_takes_the_hits() {
        let f = decode_str(
            r#"{"Key":{"source_name":"a-*","source_namespace":"x","source_type":1,"dest_name":"b-*","dest_namespace":"x","dest_type":1,"dest_port":80,"proto":"tcp","reporter":2,"action":2,"policies":{"enforced_policies":[{"kind":10,"tier":"security","action":2,"rule_index":-1,"trigger":{"kind":2,"name":"security.quarantine"}}]}}}"#,
        );
        assert_eq!(
            f.policies[0].to_string(),
            "security.quarantine (GlobalNetworkPolicy, tier security)"
        );
    }

    #[test]
    fn network_peers_are_named_not_unknown() {
        let f = decode_str(
            r#"{"Key":{"source_name":"pvt","source_type":4,"dest_name":"partners","dest_namespace":"shop","dest_type":3,"dest_port":443,"proto":"tcp","reporter":2,"action":1}}"#,
        );
        assert_eq!(f.src.identity.to_string(), "private network");
        assert_eq!(f.dst.identity.to_string(), "networkset shop/partners");
        assert_eq!(f.dst.identity.kind_name(), "network");
    }

    #[test]
    fn a_cut_record_says_an_object_was_expected() {
        let Record::Skip(cause) = decode(
            br#""dest_namespace":"payments"}"#,
            Origin {
                input: Arc::from("t"),
                line: 1,
            },
        ) else {
            panic!("not a skip")
        };
        assert_eq!(
            cause,
            r#"expected a JSON object, found a string: "dest_namespace":"payments"}"#
        );
    }
}
