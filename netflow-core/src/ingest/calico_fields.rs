//! Fields both Calico flow formats (Enterprise flow logs and OSS Goldmane flows) spell the
//! same way: protocol names, label lists, and aggregated pod names.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::flow::{Protocol, Workload};

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
