//! GKE Dataplane V2 network policy logs (`policy-action`): node-file lines (the payload
//! alone) and Cloud Logging entries (`jsonPayload`, `k8s_node` resource). Each record is one
//! connection decision with an explicit `disposition`; denies of one connection within the
//! aggregation window are folded into one record with `count`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::cloud_logging::{log_id, sniff_parts, LogEntry};
use super::record::{PacketReport, Record};
use super::value::{parse_ip, port, TimeValue, U64Value};
use crate::flow::{
    Action, Counting, Direction, Endpoint, Flow, FlowDetails, Identity, NodeIdentity, Origin,
    PodIdentity, PolicyRef, Protocol, Workload,
};
use crate::format::Format;

mod fast;

/// Says why a parsed first record looks like a policy-action log, or `None`.
pub(crate) fn sniff(map: &Map<String, Value>) -> Option<String> {
    let (log_name, payload) = sniff_parts(map);
    if let Some(name) = log_name {
        return log_id(name)
            .ends_with("policy-action")
            .then(|| format!("logName {name:?} is a GKE network policy log (gke-policy-action)"));
    }
    (payload.get("connection").is_some_and(Value::is_object)
        && payload.contains_key("disposition")
        && !payload.contains_key("reporter"))
    .then(|| {
        "has \"connection\" and \"disposition\": a GKE network policy log (gke-policy-action)"
            .to_string()
    })
}

/// Decodes one policy-action entry or payload: with the fast path ([`fast`]) when it reads the
/// record, else with the serde decoder. Both give the same record.
pub fn decode(bytes: &[u8], origin: Origin) -> Record {
    match decode_fast(bytes, origin) {
        Ok(record) => record,
        Err(origin) => decode_general(bytes, origin),
    }
}

/// Decodes one entry or payload with the fast path alone; gives `origin` back when the record
/// is left to the serde decoder.
pub fn decode_fast(bytes: &[u8], origin: Origin) -> Result<Record, Origin> {
    let Some((payload, entry)) = fast::scan(bytes) else {
        return Err(origin);
    };
    Ok(match convert(payload, &entry, origin) {
        Ok(flow) => Record::Flow(Box::new(flow), PacketReport::Single),
        Err(cause) => Record::Skip(cause),
    })
}

/// Decodes one entry or payload with the serde decoder alone (the reference the fast path is
/// held to).
pub fn decode_general(bytes: &[u8], origin: Origin) -> Record {
    let result = LogEntry::split(bytes)
        .and_then(|(entry, payload)| {
            super::value::from_json::<Payload>(payload).map(|p| (entry, p))
        })
        .map_err(|e| format!("invalid GKE policy-action record: {e}"))
        .and_then(|(entry, p)| convert(p, &entry, origin));
    match result {
        Ok(flow) => Record::Flow(Box::new(flow), PacketReport::Single),
        Err(cause) => Record::Skip(cause),
    }
}

fn convert(p: Payload, entry: &LogEntry<'_>, origin: Origin) -> Result<Flow, String> {
    let entry_node = entry.node_name().map(str::to_string);
    let log_entry = entry.info();
    let details = (log_entry.is_some()).then(|| {
        Arc::new(FlowDetails {
            record_id: entry.insert_id(),
            log_entry,
            ..FlowDetails::default()
        })
    });
    let c = p.connection.unwrap_or_default();
    let action_raw = p.disposition.unwrap_or_default();
    let action = match action_raw.to_ascii_lowercase().as_str() {
        "allow" => Action::Allowed,
        "deny" => Action::Denied,
        _ => Action::Unknown,
    };
    let direction = match c
        .direction
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("ingress") => Direction::Ingress,
        Some("egress") => Direction::Egress,
        _ => Direction::Unknown,
    };
    let protocol = c
        .protocol
        .as_deref()
        .and_then(Protocol::parse)
        .unwrap_or(Protocol::Unknown);
    let count = p.count.map_or(1, |n| n.0);
    Ok(Flow {
        time: p.timestamp.map(|t| t.0),
        src: endpoint(
            parse_ip(c.src_ip.as_deref(), "connection.src_ip")?,
            port(c.src_port, "connection.src_port")?,
            p.src.as_ref(),
        ),
        dst: endpoint(
            parse_ip(c.dest_ip.as_deref(), "connection.dest_ip")?,
            port(c.dest_port, "connection.dest_port")?,
            p.dest.as_ref(),
        ),
        protocol,
        action,
        action_raw,
        direction,
        node: p.node_name.filter(|n| !n.is_empty()).or(entry_node),
        drop_reason: None,
        policies: p
            .policies
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.name.is_empty())
            .map(|p| PolicyRef {
                namespace: p.namespace.filter(|n| !n.is_empty()),
                name: p.name,
                kind: p.kind.filter(|k| !k.is_empty()),
                tier: None,
            })
            .collect(),
        is_reply: None,
        bytes: None,
        packets: None,
        reply_seen: false,
        count,
        duplicate: false,
        counting: if count > 1 {
            Counting::Aggregated
        } else {
            Counting::Exact
        },
        granularity: crate::flow::Granularity::Connection,
        details,
        format: Format::GkePolicyAction,
        origin,
    })
}

fn endpoint(
    ip: Option<std::net::IpAddr>,
    port: Option<u16>,
    raw: Option<&RawEndpoint>,
) -> Endpoint {
    let identity = match raw {
        Some(e) if e.workload_kind.as_deref() == Some("Node") || e.node_name.is_some() => {
            Identity::Node(NodeIdentity {
                name: e.node_name.clone(),
                host_network_pods: Vec::new(),
            })
        }
        Some(e) if e.pod_name.is_some() => Identity::Pod(std::sync::Arc::new(PodIdentity {
            namespace: e
                .pod_namespace
                .clone()
                .or(e.namespace.clone())
                .unwrap_or_default(),
            name: e.pod_name.clone().unwrap_or_default(),
            workload: match (&e.workload_kind, &e.workload_name) {
                (Some(kind), Some(name)) => Some(Workload {
                    kind: kind.clone(),
                    name: name.clone(),
                }),
                _ => None,
            },
            node: None,
            labels: Arc::default(),
        })),
        _ => Identity::Unknown,
    };
    Endpoint::from_log(ip, port, identity, None)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    connection: Option<Connection>,
    disposition: Option<String>,
    policies: Option<Vec<RawPolicy>>,
    src: Option<RawEndpoint>,
    dest: Option<RawEndpoint>,
    count: Option<U64Value>,
    node_name: Option<String>,
    timestamp: Option<TimeValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Connection {
    src_ip: Option<String>,
    dest_ip: Option<String>,
    src_port: Option<U64Value>,
    dest_port: Option<U64Value>,
    protocol: Option<String>,
    direction: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPolicy {
    kind: Option<String>,
    name: String,
    namespace: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEndpoint {
    pod_name: Option<String>,
    pod_namespace: Option<String>,
    namespace: Option<String>,
    workload_kind: Option<String>,
    workload_name: Option<String>,
    node_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folded_deny_counts_its_connections() {
        let line = br#"{"connection":{"src_ip":"10.84.1.8","dest_ip":"10.84.0.11","src_port":45084,"dest_port":8080,"protocol":"tcp","direction":"ingress"},"disposition":"deny","src":{"pod_name":"client-5689846f5b-cq","workload_kind":"ReplicaSet","workload_name":"client-5689846f5b","pod_namespace":"default"},"dest":{"node_name":"gke-n1","workload_kind":"Node"},"count":4,"node_name":"gke-n1","timestamp":"2020-06-13T21:30:22.292379064Z"}"#;
        let Record::Flow(f, _) = decode(
            line,
            Origin {
                input: Arc::from("t"),
                line: 1,
            },
        ) else {
            panic!()
        };
        assert_eq!(f.action, Action::Denied);
        assert_eq!(f.count, 4);
        assert_eq!(f.counting, Counting::Aggregated);
        assert_eq!(f.direction, Direction::Ingress);
        assert!(matches!(f.dst.identity, Identity::Node(_)));
        assert_eq!(f.src.identity.pod().unwrap().namespace, "default");
    }
}
