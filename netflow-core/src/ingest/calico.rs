//! Calico Enterprise / Calico Cloud flow logs: flat documents written by Felix
//! (`flows.log`, one per line), or served by Linseed (`{"total_hits", "items"}`) and
//! Elasticsearch (`hits.hits[]._source`, unwrapped by the framing layer).
//!
//! Records are aggregated by the source (many connections per row and interval), IPs and
//! ports may be null when aggregated away, names are `-` then and `*_name_aggr` holds the pod
//! name prefix. Policy hits are `index|tier|name|action|rule` strings in `enforced_policies`
//! (preferred) or the legacy `all_policies`; a rule of `-1` is the end of a tier: the default
//! deny of a policy that selected the endpoint but had no matching rule.

use std::cell::RefCell;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::calico_fields::{
    describe_json_error, folded_network, labels_of, network_set, parse_protocol, present,
    workload_from_name,
};
use super::record::Record;
use super::shared::{shared, shared_pod, SharedCache};
use super::value::{parse_ip, port, raw_text, Text, TimeValue, U64Value};
use crate::flow::{
    Action, Counting, Direction, Endpoint, Flow, Identity, NodeIdentity, Origin, PodIdentity,
    PolicyRef, Protocol, ServiceIdentity,
};
use crate::format::Format;

mod fast;

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

/// Decodes one document with the fast path alone; gives `origin` back when the document is
/// left to the serde decoder.
pub fn decode_fast(bytes: &[u8], origin: Origin) -> Result<Record, Origin> {
    let Some(document) = fast::scan(bytes) else {
        return Err(origin);
    };
    Ok(Record::single(convert(document, origin)))
}

/// Decodes one document with the serde decoder alone (the reference the fast path is held
/// to).
pub fn decode_general(bytes: &[u8], origin: Origin) -> Record {
    let doc: Document = match super::value::from_json::<Document>(bytes) {
        Ok(d) => d,
        Err(e) => return Record::Skip(describe_json_error(&e, bytes, "Calico flow log")),
    };
    let converted = match &doc.source {
        Some(inner) => match serde_json::from_str::<Document>(inner.get()) {
            Ok(d) => convert(d, origin),
            Err(e) => {
                return Record::Skip(describe_json_error(
                    &e,
                    inner.get().as_bytes(),
                    "Calico flow log",
                ))
            }
        },
        None => convert(doc, origin),
    };
    Record::single(converted)
}

fn convert(doc: Document<'_>, origin: Origin) -> Result<Flow, String> {
    let protocol = doc
        .proto
        .as_deref()
        .map(parse_protocol)
        .unwrap_or(Protocol::Unknown);
    let action_raw = doc.action.as_deref().unwrap_or_default().to_string();
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
    let (policies, drop_reason) = match doc.policies {
        Some(raw) => {
            let decided = decided_by(raw, action);
            match &*decided {
                Ok((policies, reason)) => (policies.clone(), reason.clone()),
                Err(cause) => return Err(cause.clone()),
            }
        }
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
            labels: doc.source_labels,
            domains: Vec::new(),
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
            labels: doc.dest_labels,
            domains: domains_of(doc.dest_domains.as_ref()),
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
        reply_seen: U64Value::both_ways(doc.packets_in, doc.packets_out),
        count,
        duplicate: false,
        counting: Counting::Aggregated,
        granularity: crate::flow::Granularity::Connection,
        details: None,
        format: Format::Calico,
        origin,
    })
}

struct Side<'a> {
    kind: Option<&'a str>,
    name: Option<&'a str>,
    name_aggr: Option<&'a str>,
    namespace: Option<&'a str>,
    /// The labels as the record writes them (parsed only when the pod is new).
    labels: Option<&'a str>,
    /// DNS names the log associates with the address (`dest_domains`).
    domains: Vec<String>,
}

/// `dest_domains`: a list of names, or null; a lone string is taken as one name.
fn domains_of(value: Option<&Value>) -> Vec<String> {
    let names: Vec<&str> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    names
        .into_iter()
        .filter_map(|n| present(Some(n)))
        .map(str::to_string)
        .collect()
}

fn endpoint(ip: Option<std::net::IpAddr>, port: Option<u16>, side: Side) -> Endpoint {
    let name = present(side.name).or(present(side.name_aggr));
    let identity = match side.kind {
        Some("wep") => {
            let namespace = present(side.namespace).unwrap_or_default();
            let labels_text = side.labels.unwrap_or_default();
            // The identity is made of these three alone: records of one pod share it.
            let key = [namespace, name.unwrap_or_default(), labels_text];
            Identity::Pod(shared_pod(&key, None, || {
                let labels = side
                    .labels
                    .and_then(|raw| serde_json::from_str::<Value>(raw).ok());
                let labels = labels_of(labels.as_ref());
                PodIdentity {
                    namespace: namespace.to_string(),
                    name: name.unwrap_or_default().to_string(),
                    workload: name.and_then(|n| workload_from_name(n, &labels)),
                    node: None,
                    labels: Arc::new(labels),
                }
            }))
        }
        Some("hep") => Identity::Node(NodeIdentity {
            name: name.map(str::to_string),
            host_network_pods: Vec::new(),
        }),
        Some("ns") => network_set(name, side.namespace, side.domains),
        // A `net` peer's name is `-` and its network is in `*_name_aggr`.
        Some("net") => {
            folded_network(side.name_aggr.or(side.name), side.domains).unwrap_or(Identity::Unknown)
        }
        _ => Identity::Unknown,
    };
    Endpoint::from_log(ip, port, identity, None)
}

/// The tier Calico writes for profiles, which belong to no tier.
const PROFILE_TIER: &str = "__PROFILE__";

/// One policy hit: `index|tier|name|action|rule`, or one of its shorter shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyHit {
    index: i64,
    /// `None` for a profile and when the hit does not say.
    tier: Option<String>,
    /// `None` for the end-of-tier placeholder, which names no policy.
    policy: Option<PolicyRef>,
    action: String,
    /// `Some(-1)` end of tier, `Some(n)` rule n, `None` not given (4-field form) or unknown.
    rule: Option<i64>,
}

/// Parses the `position`-th hit of a list. Felix writes `index|tier|name|action|rule`; very
/// old records drop the rule (`index|tier|name|action`), and the bare `tier|name|action[|rule]`
/// and `index|name|action` shapes (no tier) are taken too, indexed by their position.
fn parse_hit(text: &str, position: i64) -> Option<PolicyHit> {
    let parts: Vec<&str> = text.split('|').map(str::trim).collect();
    let index = |s: &str| s.parse::<i64>().ok();
    let (index, tier, name, action, rule) = match parts.as_slice() {
        [i, tier, name, action, rule, ..] => (index(i)?, Some(*tier), *name, *action, Some(*rule)),
        [i, tier, name, action] if index(i).is_some() => {
            (index(i)?, Some(*tier), *name, *action, None)
        }
        [tier, name, action, rule] => (position, Some(*tier), *name, *action, Some(*rule)),
        [i, name, action] if index(i).is_some() => (index(i)?, None, *name, *action, None),
        [tier, name, action] => (position, Some(*tier), *name, *action, None),
        _ => return None,
    };
    let tier = tier
        .filter(|t| !t.is_empty() && *t != PROFILE_TIER)
        .map(str::to_string);
    Some(PolicyHit {
        index,
        policy: parse_policy_name(name, tier.as_deref()),
        tier,
        action: action.to_ascii_lowercase(),
        rule: rule.and_then(|r| r.parse().ok()).filter(|r| *r != -2),
    })
}

/// Felix's short policy kinds (Calico 3.32 names), as the full kinds Goldmane writes.
const SHORT_KINDS: [(&str, &str); 11] = [
    ("knp", "NetworkPolicy"),
    ("np", "CalicoNetworkPolicy"),
    ("gnp", "GlobalNetworkPolicy"),
    ("snp", "StagedNetworkPolicy"),
    ("sgnp", "StagedGlobalNetworkPolicy"),
    ("sknp", "StagedKubernetesNetworkPolicy"),
    ("kcnp", "ClusterNetworkPolicy"),
    ("anp", "AdminNetworkPolicy"),
    ("banp", "BaselineAdminNetworkPolicy"),
    ("pro", "Profile"),
    ("eot", "EndOfTier"),
];

/// The name Felix gives a Kubernetes NetworkPolicy (`knp.default.<name>`), and the prefixes of
/// the Kubernetes admin policies, each with the kind it stands for.
const KUBERNETES_PREFIXES: [(&str, &str); 3] = [
    ("knp.default.", "NetworkPolicy"),
    ("kanp.adminnetworkpolicy.", "AdminNetworkPolicy"),
    (
        "kbanp.baselineadminnetworkpolicy.",
        "BaselineAdminNetworkPolicy",
    ),
];

/// A Calico policy name in either generation, in `tier` (`None` for profiles): kind-prefixed
/// (`knp:ns/name`, `gnp:name`, `snp:ns/name`, `pro:kns.ns`, …) or legacy (`ns/knp.default.name`,
/// `ns/tier.name`, `tier.name`, `staged:` before or inside the name, `__PROFILE__.kns.ns`).
/// A Kubernetes NetworkPolicy gets its own name back (without `knp.default.`); Calico's own
/// policies keep the name as written, `tier.` prefix included, since that is the object's name
/// in tiered Calico. `None` for the end-of-tier placeholder (`eot:…`, `__NO_MATCH__`), which
/// names no policy.
pub(crate) fn parse_policy_name(text: &str, tier: Option<&str>) -> Option<PolicyRef> {
    let text = text.trim();
    let split_ns = |s: &str| match s.split_once('/') {
        Some((ns, name)) => (
            Some(ns.to_string()).filter(|ns| !ns.is_empty()),
            name.to_string(),
        ),
        None => (None, s.to_string()),
    };
    let policy = |namespace, name: String, kind: &str| {
        let placeholder = name.is_empty() || name.ends_with("__NO_MATCH__");
        (!placeholder && kind != "EndOfTier").then(|| PolicyRef {
            namespace,
            name,
            kind: Some(kind.to_string()),
            tier: tier.filter(|_| kind != "Profile").map(str::to_string),
        })
    };
    if let Some((prefix, rest)) = text.split_once(':') {
        if let Some((_, kind)) = SHORT_KINDS.iter().find(|(p, _)| *p == prefix) {
            let (namespace, name) = split_ns(rest);
            let name = name.replacen("staged:", "", 1);
            let name = match name.strip_prefix("knp.default.") {
                Some(own)
                    if kind.ends_with("KubernetesNetworkPolicy") || *kind == "NetworkPolicy" =>
                {
                    own.to_string()
                }
                _ => name,
            };
            return policy(namespace, name, kind);
        }
    }
    if let Some(profile) = text.strip_prefix("__PROFILE__.") {
        return policy(None, profile.to_string(), "Profile");
    }
    let (namespace, rest) = split_ns(text);
    let staged = rest.contains("staged:");
    let name = rest.replacen("staged:", "", 1);
    if let Some((own, kind)) = KUBERNETES_PREFIXES
        .iter()
        .find_map(|(prefix, kind)| name.strip_prefix(prefix).map(|own| (own, *kind)))
    {
        let kind = match (kind, staged) {
            ("NetworkPolicy", true) => "StagedKubernetesNetworkPolicy",
            (kind, _) => kind,
        };
        return policy(namespace, own.to_string(), kind);
    }
    let kind = match (namespace.is_some(), staged) {
        (true, false) => "CalicoNetworkPolicy",
        (true, true) => "StagedNetworkPolicy",
        (false, false) => "GlobalNetworkPolicy",
        (false, true) => "StagedGlobalNetworkPolicy",
    };
    policy(namespace, name, kind)
}

/// What a record's `policies` say decided it ([`explain_hits`]), or why they are not policy
/// hits at all.
type Decided = Result<(Vec<PolicyRef>, Option<String>), String>;

thread_local! {
    /// The answers for the `policies` texts this thread read lately: a log repeats a few
    /// texts millions of times, and parsing the hits was a tenth of decoding a record.
    static DECIDED: RefCell<SharedCache<Decided>> = const { RefCell::new(SharedCache::new()) };
}

/// What the `policies` object written as `text` says decided a record of `action`: shared by
/// the records of this thread that hold the same text.
fn decided_by(text: &str, action: Action) -> Arc<Decided> {
    let deny = action == Action::Denied;
    // Only whether the record is a denial changes the answer.
    shared(
        &DECIDED,
        &[text],
        Some(if deny { "deny" } else { "" }),
        || {
            serde_json::from_str::<Policies>(text)
                .map(|p| explain_hits(p.enforced(), action))
                .map_err(|e| format!("invalid Calico flow log: {e}"))
        },
    )
}

/// The policies that decided the record and, for a deny, the log's reason: the last deny hit
/// in traversal order (a matched deny rule, or the end of a tier whose policy selected the
/// endpoint); for an allow, the allow hits.
fn explain_hits(hits: &[String], action: Action) -> (Vec<PolicyRef>, Option<String>) {
    let mut parsed: Vec<PolicyHit> = (0..)
        .zip(hits)
        .filter_map(|(position, h)| parse_hit(h, position))
        .collect();
    parsed.sort_by_key(|h| h.index);
    match action {
        Action::Denied => match parsed.iter().rev().find(|h| h.action == "deny") {
            Some(hit) => {
                let reason = match (hit.rule, &hit.tier) {
                    (Some(-1), Some(tier)) => {
                        format!("end of tier {tier}: no rule matched (default deny)")
                    }
                    (Some(-1), None) => "end of tier: no rule matched (default deny)".to_string(),
                    (rule, _) => super::calico_fields::deny_rule_reason(rule),
                };
                (hit.policy.iter().cloned().collect(), Some(reason))
            }
            None => (Vec::new(), None),
        },
        _ => (
            parsed
                .iter()
                .filter(|h| h.action == "allow")
                .filter_map(|h| h.policy.clone())
                .collect(),
            None,
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Document<'a> {
    /// An Elasticsearch hit's document, decoded on its own (one level: held as raw JSON so
    /// that a hostile `{"_source": {"_source": …}}` or `[[[…` cannot recurse through this
    /// type, whose frames are large).
    #[serde(rename = "_source", borrow)]
    source: Option<&'a RawValue>,
    start_time: Option<TimeValue>,
    end_time: Option<TimeValue>,
    #[serde(borrow)]
    host: Option<Text<'a>>,
    #[serde(borrow)]
    action: Option<Text<'a>>,
    #[serde(borrow)]
    reporter: Option<Text<'a>>,
    #[serde(borrow)]
    proto: Option<Text<'a>>,
    #[serde(borrow)]
    source_ip: Option<Text<'a>>,
    #[serde(borrow)]
    dest_ip: Option<Text<'a>>,
    source_port: Option<U64Value>,
    dest_port: Option<U64Value>,
    #[serde(borrow)]
    source_name: Option<Text<'a>>,
    #[serde(borrow)]
    dest_name: Option<Text<'a>>,
    #[serde(borrow)]
    source_name_aggr: Option<Text<'a>>,
    #[serde(borrow)]
    dest_name_aggr: Option<Text<'a>>,
    #[serde(borrow)]
    source_namespace: Option<Text<'a>>,
    #[serde(borrow)]
    dest_namespace: Option<Text<'a>>,
    #[serde(borrow)]
    source_type: Option<Text<'a>>,
    #[serde(borrow)]
    dest_type: Option<Text<'a>>,
    /// The labels as written (decoded only for a pod not seen yet).
    #[serde(borrow, deserialize_with = "raw_text")]
    source_labels: Option<&'a str>,
    #[serde(borrow, deserialize_with = "raw_text")]
    dest_labels: Option<&'a str>,
    #[serde(borrow)]
    dest_service_namespace: Option<Text<'a>>,
    #[serde(borrow)]
    dest_service_name: Option<Text<'a>>,
    dest_domains: Option<Value>,
    /// The policy hits as written (decoded by [`decided_by`]).
    #[serde(borrow, deserialize_with = "raw_text")]
    policies: Option<&'a str>,
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

    /// A document decoded as the reader decodes it (fast path, else serde).
    fn decode(bytes: &[u8], origin: Origin) -> Record {
        crate::ingest::decode_record(Format::Calico, bytes, origin)
    }

    fn origin() -> Origin {
        Origin {
            input: Arc::from("t"),
            line: 1,
        }
    }

    #[test]
    fn policy_hits_are_decided_once_per_text_and_kind_of_action() {
        let text = r#"{"enforced_policies":["0|default|shop/knp.default.web|allow|0","1|default|shop/knp.default.db|deny|-1"]}"#;
        let allowed = decided_by(text, Action::Allowed);
        assert!(Arc::ptr_eq(&allowed, &decided_by(text, Action::Allowed)));
        let (policies, reason) = allowed.as_ref().as_ref().expect("hits");
        assert_eq!(policies[0].to_string(), "shop/web");
        assert_eq!(*reason, None);
        let denied = decided_by(text, Action::Denied);
        let (policies, reason) = denied.as_ref().as_ref().expect("hits");
        assert_eq!(policies[0].to_string(), "shop/db");
        assert!(reason.as_deref().unwrap().contains("end of tier default"));
        let line = br#"{"action":"allow","reporter":"src","proto":"tcp","policies":"allow-all"}"#;
        let Record::Skip(cause) = decode(line, origin()) else {
            panic!("policies that are not hits make the record unusable");
        };
        assert!(
            cause.starts_with("invalid Calico flow log: invalid type: string"),
            "{cause}"
        );
    }

    /// The parsed name as `kind namespace/name tier`, for compact assertions.
    fn parsed(text: &str, tier: &str) -> String {
        let tier = Some(tier).filter(|t| *t != PROFILE_TIER);
        let Some(p) = parse_policy_name(text, tier) else {
            return "none".to_string();
        };
        format!(
            "{} {}{} {}",
            p.kind.unwrap_or_default(),
            p.namespace.map(|ns| format!("{ns}/")).unwrap_or_default(),
            p.name,
            p.tier.as_deref().unwrap_or("-")
        )
    }

    #[test]
    fn legacy_names_keep_the_calico_object_name_and_its_tier() {
        assert_eq!(
            parsed("shop/app-tier.checkout", "app-tier"),
            "CalicoNetworkPolicy shop/app-tier.checkout app-tier"
        );
        assert_eq!(
            parsed("kube-system/allow-tigera.cluster-dns", "allow-tigera"),
            "CalicoNetworkPolicy kube-system/allow-tigera.cluster-dns allow-tigera"
        );
        assert_eq!(
            parsed("security.block-egress", "security"),
            "GlobalNetworkPolicy security.block-egress security"
        );
        assert_eq!(
            parsed("policy-demo/default.access-nginx", "default"),
            "CalicoNetworkPolicy policy-demo/default.access-nginx default"
        );
    }

    #[test]
    fn legacy_kubernetes_policies_get_their_own_name_back() {
        assert_eq!(
            parsed("payments/knp.default.ledger-api-isolation", "default"),
            "NetworkPolicy payments/ledger-api-isolation default"
        );
        assert_eq!(
            parsed(
                "payments/staged:knp.default.ledger-api-isolation",
                "default"
            ),
            "StagedKubernetesNetworkPolicy payments/ledger-api-isolation default"
        );
        assert_eq!(
            parsed(
                "kanp.adminnetworkpolicy.cluster-guard",
                "adminnetworkpolicy"
            ),
            "AdminNetworkPolicy cluster-guard adminnetworkpolicy"
        );
    }

    #[test]
    fn staged_marker_is_found_before_or_inside_the_name() {
        assert_eq!(
            parsed("ns2/staged:tier1.policy1", "tier2"),
            "StagedNetworkPolicy ns2/tier1.policy1 tier2"
        );
        assert_eq!(
            parsed("ns2/tier1.staged:policy1", "tier1"),
            "StagedNetworkPolicy ns2/tier1.policy1 tier1"
        );
        assert_eq!(
            parsed("security.staged:lockdown", "security"),
            "StagedGlobalNetworkPolicy security.lockdown security"
        );
    }

    #[test]
    fn profiles_belong_to_no_tier() {
        assert_eq!(
            parsed("__PROFILE__.kns.kube-system", PROFILE_TIER),
            "Profile kns.kube-system -"
        );
        assert_eq!(
            parsed("pro:ksa.default.builder", PROFILE_TIER),
            "Profile ksa.default.builder -"
        );
    }

    #[test]
    fn kind_prefixed_names_are_taken_as_written() {
        assert_eq!(
            parsed("knp:vamp/es-ingress", "default"),
            "NetworkPolicy vamp/es-ingress default"
        );
        assert_eq!(
            parsed("np:shop/checkout", "app-tier"),
            "CalicoNetworkPolicy shop/checkout app-tier"
        );
        assert_eq!(
            parsed("gnp:security.block-egress", "security"),
            "GlobalNetworkPolicy security.block-egress security"
        );
        assert_eq!(
            parsed("sgnp:lockdown", "security"),
            "StagedGlobalNetworkPolicy lockdown security"
        );
        assert_eq!(
            parsed("sknp:shop/isolate", "default"),
            "StagedKubernetesNetworkPolicy shop/isolate default"
        );
    }

    #[test]
    fn end_of_tier_placeholders_name_no_policy() {
        assert_eq!(parsed("eot:__NO_MATCH__", "security"), "none");
        assert_eq!(parsed("security.__NO_MATCH__", "security"), "none");
    }

    #[test]
    fn hits_of_every_shape_parse() {
        let hit = parse_hit("0|app-tier|shop/app-tier.checkout|deny|-1", 5).unwrap();
        assert_eq!((hit.index, hit.rule), (0, Some(-1)));
        assert_eq!(hit.tier.as_deref(), Some("app-tier"));
        let hit = parse_hit("2|default|policy-demo/default.access-nginx|allow", 0).unwrap();
        assert_eq!(
            (hit.index, hit.rule, hit.action.as_str()),
            (2, None, "allow")
        );
        let hit = parse_hit("app-tier|shop/app-tier.checkout|deny|3", 1).unwrap();
        assert_eq!((hit.index, hit.rule), (1, Some(3)));
        assert_eq!(hit.tier.as_deref(), Some("app-tier"));
        let hit = parse_hit("security|security.block|deny", 4).unwrap();
        assert_eq!((hit.index, hit.tier.as_deref()), (4, Some("security")));
        let hit = parse_hit("7|security.block|deny", 0).unwrap();
        assert_eq!((hit.index, hit.tier), (7, None));
        assert_eq!(
            hit.policy.unwrap().kind.as_deref(),
            Some("GlobalNetworkPolicy")
        );
        let hit = parse_hit("1|__PROFILE__|__PROFILE__.kns.kube-system|allow|0", 0).unwrap();
        assert_eq!(hit.tier, None);
        assert_eq!(parse_hit("allow", 0), None);
        assert_eq!(parse_hit("x|t|n|allow|0", 0), None);
    }

    #[test]
    fn a_tiered_deny_is_shown_with_its_real_name_and_tier() {
        let hits = [
            "1|default|shop/knp.default.isolate|allow|0".to_string(),
            "0|app-tier|shop/app-tier.checkout|deny|-1".to_string(),
        ];
        let (policies, reason) = explain_hits(&hits, Action::Denied);
        assert_eq!(
            policies[0].to_string(),
            "shop/app-tier.checkout (CalicoNetworkPolicy, tier app-tier)"
        );
        assert_eq!(
            reason.as_deref(),
            Some("end of tier app-tier: no rule matched (default deny)")
        );
        let (policies, reason) = explain_hits(
            &["0|security|eot:__NO_MATCH__|deny|-1".to_string()],
            Action::Denied,
        );
        assert!(policies.is_empty());
        assert_eq!(
            reason.as_deref(),
            Some("end of tier security: no rule matched (default deny)")
        );
    }

    #[test]
    fn a_line_cut_before_its_brace_says_an_object_was_expected() {
        let Record::Skip(cause) = decode(
            br#""source_namespace":"storefront","source_port":null}"#,
            origin(),
        ) else {
            panic!("not a skip")
        };
        assert_eq!(
            cause,
            r#"expected a JSON object, found a string: "source_namespace":"storefront","source_…"#
        );
        let Record::Skip(cause) = decode(
            br#"{"action":"deny","reporter":"dst","proto":"tc"#,
            origin(),
        ) else {
            panic!("not a skip")
        };
        assert_eq!(cause, "truncated JSON: the record ends inside a value");
    }

    #[test]
    fn aggregated_networks_and_network_sets_keep_what_the_log_says() {
        let line = |src: &str, dst: &str| {
            let text = format!(
                r#"{{"start_time":1748772000,{src},{dst},"proto":"tcp","dest_port":443,"action":"allow","reporter":"src"}}"#
            );
            match decode(text.as_bytes(), origin()) {
                Record::Flow(f, _) => f,
                other => panic!("{other:?}"),
            }
        };
        let pod = r#""source_type":"wep","source_name":"-","source_name_aggr":"shopper-*","source_namespace":"storefront""#;
        let f = line(
            pod,
            r#""dest_type":"net","dest_name":"-","dest_name_aggr":"pub","dest_ip":"203.0.113.10","dest_domains":["api.example.com","cdn.example.com"]"#,
        );
        assert_eq!(f.dst.identity.kind_name(), "external");
        assert_eq!(
            f.dst.identity.to_string(),
            "public network (api.example.com, cdn.example.com)"
        );
        assert_eq!(f.dst.identity_source, crate::flow::IdentitySource::Log);
        let f = line(
            pod,
            r#""dest_type":"net","dest_name":"-","dest_name_aggr":"pub","dest_domains":null"#,
        );
        assert_eq!(f.dst.identity, Identity::External);
        let f = line(
            r#""source_type":"net","source_name":"-","source_name_aggr":"pvt","source_namespace":"-""#,
            r#""dest_type":"ns","dest_name":"-","dest_name_aggr":"partners","dest_namespace":"shop""#,
        );
        assert_eq!(f.src.identity.kind_name(), "network");
        assert_eq!(f.src.identity.to_string(), "private network");
        assert_eq!(f.src.identity_source, crate::flow::IdentitySource::Log);
        assert_eq!(f.dst.identity.to_string(), "networkset shop/partners");
        let f = line(
            pod,
            r#""dest_type":"ns","dest_name":"-","dest_name_aggr":"saas-ips","dest_namespace":"-","dest_domains":["login.example.com"]"#,
        );
        assert_eq!(
            f.dst.identity.to_string(),
            "networkset saas-ips (login.example.com)"
        );
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
