//! Fields both Calico flow formats (Enterprise flow logs and OSS Goldmane flows) spell the
//! same way: protocol names, label lists, aggregated pod names, the networks Calico names in
//! place of endpoints, and what a record that is not a JSON object is called.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::flow::{Identity, NetworkIdentity, NetworkScope, Protocol, Workload};

/// The reason of a deny hit at rule `index` of a policy. Calico counts a policy's rules from 0
/// (in the direction that applied); the text says so, so that "rule 0" is not read as "no rule".
pub(super) fn deny_rule_reason(index: Option<i64>) -> String {
    match index {
        Some(n) if n >= 0 => {
            let ordinal = n + 1;
            let suffix = match (ordinal % 10, ordinal % 100) {
                (1, 11) | (2, 12) | (3, 13) => "th",
                (1, _) => "st",
                (2, _) => "nd",
                (3, _) => "rd",
                _ => "th",
            };
            format!("deny rule {n} (0-based: the {ordinal}{suffix} rule)")
        }
        _ => "deny rule (index not given)".to_string(),
    }
}

/// `-` and empty mean "not given" in Calico records.
pub(super) fn present(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty() && *s != "-")
}

/// The identity of a peer Calico folds into a network: `pub` (the Whisker backend writes
/// `PUBLIC NETWORK`) is external, named by its DNS names when the log gives some; `pvt`
/// (`PRIVATE NETWORK`) a private network. `None` for any other name.
pub(super) fn folded_network(name: Option<&str>, domains: Vec<String>) -> Option<Identity> {
    let scope = match present(name)? {
        "pub" | "PUBLIC NETWORK" => NetworkScope::Public,
        "pvt" | "PRIVATE NETWORK" => NetworkScope::Private,
        _ => return None,
    };
    if scope == NetworkScope::Public && domains.is_empty() {
        return Some(Identity::External);
    }
    Some(Identity::Network(NetworkIdentity {
        scope,
        name: None,
        domains,
    }))
}

/// A NetworkSet (namespaced: `namespace/name`) or GlobalNetworkSet peer.
pub(super) fn network_set(
    name: Option<&str>,
    namespace: Option<&str>,
    domains: Vec<String>,
) -> Identity {
    let name = present(name).map(|name| match present(namespace) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    });
    Identity::Network(NetworkIdentity {
        scope: NetworkScope::NetworkSet,
        name,
        domains,
    })
}

/// Why a record could not be decoded: a record that is not a JSON object (a line cut before
/// its opening brace reads as a string) says what it starts with, a record cut inside a value
/// says so, and anything else gives serde's reason prefixed with `what`.
pub(super) fn describe_json_error(e: &serde_json::Error, record: &[u8], what: &str) -> String {
    let record = record.trim_ascii();
    let found = match record.first() {
        Some(b'{') => {
            return match e.classify() {
                serde_json::error::Category::Eof => {
                    "truncated JSON: the record ends inside a value".to_string()
                }
                _ => format!("invalid {what}: {e}"),
            }
        }
        None => return "expected a JSON object, found nothing".to_string(),
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(_) => "something else",
    };
    const SHOWN: usize = 40;
    let text = String::from_utf8_lossy(&record[..record.len().min(SHOWN)]);
    let text = text.trim_end_matches('\u{fffd}');
    let more = if record.len() > SHOWN { "…" } else { "" };
    format!("expected a JSON object, found {found}: {text}{more}")
}

/// Calico's protocol names, or a decimal number.
pub(super) fn parse_protocol(p: &str) -> Protocol {
    match p.to_ascii_lowercase().as_str() {
        "icmp6" => Protocol::Icmpv6,
        "esp" => Protocol::Other(50),
        "ipip" => Protocol::Other(4),
        other => Protocol::parse(other).unwrap_or(Protocol::Unknown),
    }
}

/// The Deployment of an aggregated `<deployment>-<hash>-*` name, when the pod-template-hash
/// label agrees; the name alone is never trusted.
pub(super) fn workload_from_name(
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Option<Workload> {
    let hash = labels.get("pod-template-hash")?;
    let stem = name.strip_suffix("-*").unwrap_or(name);
    let deployment = stem.strip_suffix(&format!("-{hash}")).or_else(|| {
        stem.rsplit_once('-')
            .and_then(|(rs, _)| rs.strip_suffix(&format!("-{hash}")))
    })?;
    (!deployment.is_empty()).then(|| Workload {
        kind: "Deployment".to_string(),
        name: deployment.to_string(),
    })
}

/// Labels as `{"labels": ["k=v", …]}`, a list, a map, or (older Felix) a JSON string of those.
pub(super) fn labels_of(value: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let pairs = |items: &[Value], out: &mut BTreeMap<String, String>| {
        for item in items.iter().filter_map(Value::as_str) {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            out.insert(k.trim().to_string(), v.trim().to_string());
        }
    };
    match value {
        Some(Value::Object(map)) => match map.get("labels") {
            Some(Value::Array(items)) => pairs(items, &mut out),
            _ => {
                for (k, v) in map {
                    if let Some(v) = v.as_str() {
                        out.insert(k.clone(), v.to_string());
                    }
                }
            }
        },
        Some(Value::Array(items)) => pairs(items, &mut out),
        Some(Value::String(s)) => {
            if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                return labels_of(Some(&parsed));
            }
            for part in s.split(" | ").filter(|p| !p.trim().is_empty()) {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                out.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deny_rule_reason_says_the_index_counts_from_zero() {
        assert_eq!(
            deny_rule_reason(Some(0)),
            "deny rule 0 (0-based: the 1st rule)"
        );
        assert_eq!(
            deny_rule_reason(Some(11)),
            "deny rule 11 (0-based: the 12th rule)"
        );
        assert_eq!(
            deny_rule_reason(Some(21)),
            "deny rule 21 (0-based: the 22nd rule)"
        );
        assert_eq!(deny_rule_reason(None), "deny rule (index not given)");
    }
}
