//! Calico Enterprise / Calico Cloud flow logs: flat documents written by Felix
//! (`flows.log`, one per line), or served by Linseed (`{"total_hits", "items"}`) and
//! Elasticsearch (`hits.hits[]._source`, unwrapped by the framing layer).
//!
//! Records are aggregated by the source (many connections per row and interval), IPs and
//! ports may be null when aggregated away, names are `-` then and `*_name_aggr` holds the pod
//! name prefix. Policy hits are `index|tier|name|action|rule` strings in `enforced_policies`
//! (preferred) or the legacy `all_policies`; a rule of `-1` is the end of a tier: the default
//! deny of a policy that selected the endpoint but had no matching rule.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::calico_fields::{labels_of, parse_protocol, workload_from_name};
use super::record::{PacketReport, Record};
use super::value::{parse_ip, port, TimeValue, U64Value};
use crate::flow::{
    Action, Counting, Direction, Endpoint, Flow, Identity, NodeIdentity, Origin, PodIdentity,
    PolicyRef, Protocol, ServiceIdentity,
};
use crate::format::Format;

/// Says why a parsed first record looks like a Calico Enterprise flow log, or `None`.
pub(crate) fn sniff(map: &Map<String, Value>) -> Option<String> {
    let has = |k: &str| map.contains_key(k);
    let doc = map.get("_source").and_then(Value::as_object).unwrap_or(map);
    let doc_has = |k: &str| doc.contains_key(k);
    (doc_has("action")
        && doc_has("reporter")
        && (doc_has("proto") || doc_has("source_name_aggr") || doc_has("dest_name_aggr")))
    .then(|| {
        format!(
            "has \"action\", \"reporter\" and \"proto\"/\"*_name_aggr\"{}: a Calico Enterprise flow log (calico)",
            if has("_source") { " under \"_source\"" } else { "" }
        )
    })
}

/// Decodes one Calico Enterprise flow document.
pub fn decode(bytes: &[u8], origin: Origin) -> Record {
    let doc: Document = match serde_json::from_slice::<Document>(bytes) {
        Ok(Document {
            source: Some(inner),
            ..
        }) => *inner,
        Ok(d) => d,
        Err(e) => return Record::Skip(format!("invalid Calico flow log: {e}")),
    };
    match convert(doc, origin) {
        Ok(flow) => Record::Flow(Box::new(flow), PacketReport::Single),
        Err(cause) => Record::Skip(cause),
    }
}

fn convert(doc: Document, origin: Origin) -> Result<Flow, String> {
    let protocol = doc
        .proto
        .as_deref()
        .map(parse_protocol)
        .unwrap_or(Protocol::Unknown);
    let action_raw = doc.action.clone().unwrap_or_default();
    let action = match action_raw.as_str() {
        "allow" => Action::Allowed,
        "deny" => Action::Denied,
        _ => Action::Unknown,
    };
    let direction = match doc.reporter.as_deref() {
        Some("src") => Direction::Egress,
        Some("dst") => Direction::Ingress,
        _ => Direction::Unknown,
    };
    let (policies, drop_reason) = match &doc.policies {
        Some(p) => explain_hits(p.enforced(), action),
        None => (Vec::new(), None),
    };
    let src = endpoint(
        parse_ip(doc.source_ip.as_deref(), "source_ip")?,
        port(doc.source_port, "source_port")?,
        Side {
            kind: doc.source_type.as_deref(),
            name: doc.source_name.as_deref(),
            name_aggr: doc.source_name_aggr.as_deref(),
            namespace: doc.source_namespace.as_deref(),
            labels: doc.source_labels.as_ref(),
        },
    );
    let mut dst = endpoint(
        parse_ip(doc.dest_ip.as_deref(), "dest_ip")?,
        port(doc.dest_port, "dest_port")?,
        Side {
            kind: doc.dest_type.as_deref(),
            name: doc.dest_name.as_deref(),
            name_aggr: doc.dest_name_aggr.as_deref(),
            namespace: doc.dest_namespace.as_deref(),
            labels: doc.dest_labels.as_ref(),
        },
    );
    dst.service = match (
        present(doc.dest_service_namespace.as_deref()),
        present(doc.dest_service_name.as_deref()),
    ) {
        (Some(ns), Some(name)) => Some(ServiceIdentity {
            namespace: ns.to_string(),
            name: name.to_string(),
        }),
        _ => None,
    };
    let count = doc
        .num_flows_started
        .filter(|n| n.0 > 0)
        .or(doc.num_flows)
        .map_or(1, |n| n.0.max(1));
    Ok(Flow {
        time: doc.start_time.or(doc.end_time).map(|t| t.0),
        src,
        dst,
        protocol,
        action,
        action_raw,
        direction,
        node: present(doc.host.as_deref()).map(str::to_string),
        drop_reason,
        policies,
        is_reply: None,
        bytes: U64Value::sum(doc.bytes_in, doc.bytes_out),
        packets: U64Value::sum(doc.packets_in, doc.packets_out),
        count,
        duplicate: false,
        counting: Counting::Aggregated,
        granularity: crate::flow::Granularity::Connection,
        format: Format::Calico,
        origin,
    })
}

/// `-` and empty mean "not given" in Calico documents.
fn present(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty() && *s != "-")
}

struct Side<'a> {
    kind: Option<&'a str>,
    name: Option<&'a str>,
    name_aggr: Option<&'a str>,
    namespace: Option<&'a str>,
    labels: Option<&'a Value>,
}

fn endpoint(ip: Option<std::net::IpAddr>, port: Option<u16>, side: Side) -> Endpoint {
    let name = present(side.name).or(present(side.name_aggr));
    let identity = match side.kind {
        Some("wep") => {
            let labels = labels_of(side.labels);
            let workload = name.and_then(|n| workload_from_name(n, &labels));
            Identity::Pod(std::sync::Arc::new(PodIdentity {
                namespace: present(side.namespace).unwrap_or_default().to_string(),
                name: name.unwrap_or_default().to_string(),
                workload,
                node: None,
                labels: Arc::new(labels),
            }))
        }
        Some("hep") => Identity::Node(NodeIdentity {
            name: name.map(str::to_string),
            host_network_pods: Vec::new(),
        }),
        Some("ns") => Identity::Reserved {
            name: format!("networkset {}", name.unwrap_or("?")),
        },
        Some("net") => match present(side.name_aggr) {
            Some("pub") => Identity::External,
            _ => Identity::Unknown,
        },
        _ => Identity::Unknown,
    };
    Endpoint::from_log(ip, port, identity, None)
}

/// One `index|tier|name|action|rule` policy hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyHit {
    index: i64,
    tier: String,
    policy: PolicyRef,
    action: String,
    /// `Some(-1)` end of tier, `Some(n)` rule n, `None` not given (4-field form) or unknown.
    rule: Option<i64>,
}

fn parse_hit(text: &str) -> Option<PolicyHit> {
    let parts: Vec<&str> = text.split('|').collect();
    if parts.len() < 4 {
        return None;
    }
    Some(PolicyHit {
        index: parts[0].trim().parse().ok()?,
        tier: parts[1].to_string(),
        policy: parse_policy_name(parts[2], parts[1]),
        action: parts[3].to_ascii_lowercase(),
        rule: parts
            .get(4)
            .and_then(|r| r.trim().parse().ok())
            .filter(|r| *r != -2),
    })
}

/// A Calico policy name in either generation: kind-prefixed (`knp:ns/name`, `gnp:tier.name`,
/// `pro:kns.ns`, …) or legacy (`ns/knp.default.name`, `ns/tier.name`, `tier.name`,
/// `__PROFILE__.kns.ns`, with `staged:` before the name for staged policies).
pub(crate) fn parse_policy_name(text: &str, tier: &str) -> PolicyRef {
    const KINDS: [(&str, &str); 10] = [
        ("knp", "NetworkPolicy"),
        ("np", "CalicoNetworkPolicy"),
        ("gnp", "GlobalNetworkPolicy"),
        ("snp", "StagedNetworkPolicy"),
        ("sgnp", "StagedGlobalNetworkPolicy"),
        ("sknp", "StagedKubernetesNetworkPolicy"),
        ("kcnp", "ClusterNetworkPolicy"),
        ("pro", "Profile"),
        ("eot", "EndOfTier"),
        ("anp", "AdminNetworkPolicy"),
    ];
    let split_ns = |s: &str| match s.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, s.to_string()),
    };
    if let Some((prefix, rest)) = text.split_once(':') {
        if let Some((_, kind)) = KINDS.iter().find(|(p, _)| *p == prefix) {
            let (namespace, name) = split_ns(rest);
            return PolicyRef {
                namespace,
                name,
                kind: Some((*kind).to_string()),
            };
        }
    }
    if let Some(profile) = text.strip_prefix("__PROFILE__.") {
        return PolicyRef {
            namespace: None,
            name: profile.to_string(),
            kind: Some("Profile".to_string()),
        };
    }
    let (namespace, rest) = split_ns(text);
    let (staged, rest) = match rest.strip_prefix("staged:") {
        Some(r) => (true, r.to_string()),
        None => (false, rest),
    };
    let (kind, name) = if let Some(name) = rest.strip_prefix("knp.default.") {
        (
            if staged {
                "StagedKubernetesNetworkPolicy"
            } else {
                "NetworkPolicy"
            },
            name.to_string(),
        )
    } else {
        let name = rest
            .strip_prefix(&format!("{tier}."))
            .map(str::to_string)
            .unwrap_or(rest.clone());
        let kind = match (namespace.is_some(), staged) {
            (true, false) => "CalicoNetworkPolicy",
            (true, true) => "StagedNetworkPolicy",
            (false, false) => "GlobalNetworkPolicy",
            (false, true) => "StagedGlobalNetworkPolicy",
        };
        (kind, name)
    };
    PolicyRef {
        namespace,
        name,
        kind: Some(kind.to_string()),
    }
}

/// The policies that decided the record and, for a deny, the log's reason: the last deny hit
/// in traversal order (a matched deny rule, or the end of a tier whose policy selected the
/// endpoint); for an allow, the allow hits.
fn explain_hits(hits: &[String], action: Action) -> (Vec<PolicyRef>, Option<String>) {
    let mut parsed: Vec<PolicyHit> = hits.iter().filter_map(|h| parse_hit(h)).collect();
    parsed.sort_by_key(|h| h.index);
    match action {
        Action::Denied => match parsed.iter().rev().find(|h| h.action == "deny") {
            Some(hit) => {
                let reason = match hit.rule {
                    Some(-1) => format!("end of tier {}: no rule matched (default deny)", hit.tier),
                    Some(n) => format!("deny rule {n}"),
                    None => "deny".to_string(),
                };
                (vec![hit.policy.clone()], Some(reason))
            }
            None => (Vec::new(), None),
        },
        _ => (
            parsed
                .iter()
                .filter(|h| h.action == "allow")
                .map(|h| h.policy.clone())
                .collect(),
            None,
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Document {
    #[serde(rename = "_source")]
    source: Option<Box<Document>>,
    start_time: Option<TimeValue>,
    end_time: Option<TimeValue>,
    host: Option<String>,
    action: Option<String>,
    reporter: Option<String>,
    proto: Option<String>,
    source_ip: Option<String>,
    dest_ip: Option<String>,
    source_port: Option<U64Value>,
    dest_port: Option<U64Value>,
    source_name: Option<String>,
    dest_name: Option<String>,
    source_name_aggr: Option<String>,
    dest_name_aggr: Option<String>,
    source_namespace: Option<String>,
    dest_namespace: Option<String>,
    source_type: Option<String>,
    dest_type: Option<String>,
    source_labels: Option<Value>,
    dest_labels: Option<Value>,
    dest_service_namespace: Option<String>,
    dest_service_name: Option<String>,
    policies: Option<Policies>,
    bytes_in: Option<U64Value>,
    bytes_out: Option<U64Value>,
    packets_in: Option<U64Value>,
    packets_out: Option<U64Value>,
    num_flows: Option<U64Value>,
    num_flows_started: Option<U64Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Policies {
    enforced_policies: Option<Vec<String>>,
    all_policies: Option<Vec<String>>,
}

impl Policies {
    fn enforced(&self) -> &[String] {
        self.enforced_policies
            .as_deref()
            .filter(|p| !p.is_empty())
            .or(self.all_policies.as_deref())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            input: Arc::from("t"),
            line: 1,
        }
    }

    #[test]
    fn policy_names_of_both_generations_parse() {
        let p = parse_policy_name("payments/knp.default.ledger-api-isolation", "default");
        assert_eq!(p.to_string(), "payments/ledger-api-isolation");
        let p = parse_policy_name("gnp:security.block-egress", "security");
        assert_eq!(p.kind.as_deref(), Some("GlobalNetworkPolicy"));
        assert_eq!(p.name, "security.block-egress");
        let p = parse_policy_name("ns2/staged:tier1.policy1", "tier2");
        assert_eq!(p.kind.as_deref(), Some("StagedNetworkPolicy"));
        let p = parse_policy_name("knp:vamp/es-ingress", "default");
        assert_eq!(p.to_string(), "vamp/es-ingress");
        let p = parse_policy_name("__PROFILE__.kns.default", "__PROFILE__");
        assert_eq!(p.kind.as_deref(), Some("Profile"));
    }

    #[test]
    fn an_end_of_tier_deny_names_the_selecting_policy() {
        let line = br#"{"start_time":1748772000,"end_time":1748772300,"source_ip":null,"source_name":"-","source_name_aggr":"shopper-6fd84cfbb4-*","source_namespace":"storefront","source_port":null,"source_type":"wep","source_labels":{"labels":["app=shopper","pod-template-hash=6fd84cfbb4"]},"dest_ip":"10.0.0.9","dest_name":"ledger-0","dest_namespace":"payments","dest_port":8080,"dest_type":"wep","proto":"tcp","action":"deny","reporter":"dst","policies":{"enforced_policies":["0|default|payments/knp.default.ledger-isolation|deny|-1"]},"bytes_in":10,"bytes_out":0,"num_flows":3,"num_flows_started":3,"host":"node-2"}"#;
        let Record::Flow(flow, _) = decode(line, origin()) else {
            panic!("not a flow")
        };
        assert_eq!(flow.action, Action::Denied);
        assert_eq!(flow.direction, Direction::Ingress);
        assert_eq!(flow.count, 3);
        assert_eq!(flow.counting, Counting::Aggregated);
        assert_eq!(flow.node.as_deref(), Some("node-2"));
        assert_eq!(flow.policies[0].to_string(), "payments/ledger-isolation");
        assert!(flow
            .drop_reason
            .as_deref()
            .unwrap()
            .contains("default deny"));
        let src = flow.src.identity.pod().unwrap();
        assert_eq!(src.name, "shopper-6fd84cfbb4-*");
        assert_eq!(src.workload.as_ref().unwrap().name, "shopper");
        assert_eq!(flow.src.ip, None);
        assert_eq!(flow.dst.port, Some(8080));
    }

    #[test]
    fn labels_in_every_encoding() {
        let v: Value = serde_json::json!("[\"a=b\",\"c=d\"]");
        assert_eq!(labels_of(Some(&v)).len(), 2);
        let v: Value = serde_json::json!("app=x | tier=y");
        assert_eq!(labels_of(Some(&v))["tier"], "y");
    }
}
