//! GKE Dataplane V2 network policy logs (`policy-action`): node-file lines (the payload
//! alone) and Cloud Logging entries (`jsonPayload`, `k8s_node` resource). Each record is one
//! connection decision with an explicit `disposition`; denies of one connection within the
//! aggregation window are folded into one record with `count`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::cloud_logging::{log_id, sniff_parts, LogEntry};
use super::record::Record;
use super::value::{parse_ip, port, Text, TimeValue, U64Value};
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

/// Decodes one entry or payload with the fast path alone; gives `origin` back when the record
/// is left to the serde decoder.
pub fn decode_fast(bytes: &[u8], origin: Origin) -> Result<Record, Origin> {
    let Some((payload, entry)) = fast::scan(bytes) else {
        return Err(origin);
    };
    Ok(Record::single(convert(payload, &entry, origin)))
}

/// Decodes one entry or payload with the serde decoder alone (the reference the fast path is
/// held to).
pub fn decode_general(bytes: &[u8], origin: Origin) -> Record {
    Record::single(
        LogEntry::<Payload>::read(bytes)
            .map_err(|e| format!("invalid GKE policy-action record: {e}"))
            .and_then(|(entry, p)| convert(p, &entry, origin)),
    )
}

fn convert(
    p: Payload<'_>,
    entry: &LogEntry<'_, Payload<'_>>,
    origin: Origin,
) -> Result<Flow, String> {
    let described = entry
        .described()
        .map_err(|e| format!("invalid GKE policy-action record: {e}"))?;
    let described = described.as_deref().and_then(|d| d.as_ref().ok());
    let entry_node = described.and_then(|d| d.node.clone());
    let details = described.map(|d| {
        Arc::new(FlowDetails {
            record_id: entry.insert_id(),
            log_entry: Some(d.info.clone()),
            ..FlowDetails::default()
        })
    });
    let c = p.connection.unwrap_or_default();
    let action_raw = p.disposition.as_deref().unwrap_or_default().to_string();
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
        node: p
            .node_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .or(entry_node),
        drop_reason: None,
        policies: p
            .policies
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.name.is_empty())
            .map(|p| PolicyRef {
                namespace: p
                    .namespace
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
                name: p.name.to_string(),
                kind: p
                    .kind
                    .as_deref()
                    .filter(|k| !k.is_empty())
                    .map(str::to_string),
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
    raw: Option<&RawEndpoint<'_>>,
) -> Endpoint {
    let identity = match raw {
        Some(e) if e.workload_kind.as_deref() == Some("Node") || e.node_name.is_some() => {
            Identity::Node(NodeIdentity {
                name: e.node_name.as_deref().map(str::to_string),
                host_network_pods: Vec::new(),
            })
        }
        Some(e) if e.pod_name.is_some() => Identity::Pod(std::sync::Arc::new(PodIdentity {
            namespace: e
                .pod_namespace
                .as_deref()
                .or(e.namespace.as_deref())
                .unwrap_or_default()
                .to_string(),
            name: e.pod_name.as_deref().unwrap_or_default().to_string(),
            workload: match (&e.workload_kind, &e.workload_name) {
                (Some(kind), Some(name)) => Some(Workload {
                    kind: kind.to_string(),
                    name: name.to_string(),
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
struct Payload<'a> {
    #[serde(borrow)]
    connection: Option<Connection<'a>>,
    #[serde(borrow)]
    disposition: Option<Text<'a>>,
    #[serde(borrow)]
    policies: Option<Vec<RawPolicy<'a>>>,
    #[serde(borrow)]
    src: Option<RawEndpoint<'a>>,
    #[serde(borrow)]
    dest: Option<RawEndpoint<'a>>,
    count: Option<U64Value>,
    #[serde(borrow)]
    node_name: Option<Text<'a>>,
    timestamp: Option<TimeValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Connection<'a> {
    #[serde(borrow)]
    src_ip: Option<Text<'a>>,
    #[serde(borrow)]
    dest_ip: Option<Text<'a>>,
    src_port: Option<U64Value>,
    dest_port: Option<U64Value>,
    #[serde(borrow)]
    protocol: Option<Text<'a>>,
    #[serde(borrow)]
    direction: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPolicy<'a> {
    #[serde(borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEndpoint<'a> {
    #[serde(borrow)]
    pod_name: Option<Text<'a>>,
    #[serde(borrow)]
    pod_namespace: Option<Text<'a>>,
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
    #[serde(borrow)]
    workload_kind: Option<Text<'a>>,
    #[serde(borrow)]
    workload_name: Option<Text<'a>>,
    #[serde(borrow)]
    node_name: Option<Text<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record decoded as the reader decodes it (fast path, else serde).
    fn decode(bytes: &[u8], origin: Origin) -> Record {
        crate::ingest::decode_record(Format::GkePolicyAction, bytes, origin)
    }

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
