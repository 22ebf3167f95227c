//! Google Cloud VPC Flow Logs with GKE metadata (`compute.googleapis.com/vpc_flows` and the
//! Network Management `networkmanagement.googleapis.com/vpc_flows`), as LogEntries (NDJSON
//! sinks, `gcloud logging read --format=json` arrays) or bare payloads.
//!
//! These are sampled observations, not verdicts: the action is `unknown` unless a newer record
//! says `disposition: DROPPED`. Counters are int64 strings (or numbers); `reporter` says which
//! side's VM saw it; GKE details name pods and workloads (in either the `pod_workload` or the
//! `workload` shape) and Services (a list or a single object).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::cloud_logging::{log_id, sniff_parts, LogEntry};
use super::record::{PacketReport, Record};
use super::value::{parse_ip, port, TimeValue, U64Value};
use crate::flow::{
    Action, Counting, Direction, Endpoint, Flow, Identity, NodeIdentity, Origin, PodIdentity,
    Protocol, ServiceIdentity, Workload,
};
use crate::format::Format;

/// Says why a parsed first record looks like a VPC flow log, or `None`.
pub(crate) fn sniff(map: &Map<String, Value>) -> Option<String> {
    let (log_name, payload) = sniff_parts(map);
    if let Some(name) = log_name {
        return log_id(name)
            .ends_with("/vpc_flows")
            .then(|| format!("logName {name:?} is a VPC flow log (gke-vpc)"));
    }
    (payload.get("connection").is_some_and(Value::is_object) && payload.contains_key("reporter"))
        .then(|| {
            "has \"connection\" and \"reporter\": a VPC flow log payload (gke-vpc)".to_string()
        })
}

/// Decodes one VPC flow log entry or payload.
pub fn decode(bytes: &[u8], origin: Origin) -> Record {
    let result = LogEntry::split(bytes)
        .and_then(|(_, payload)| serde_json::from_slice::<Payload>(payload))
        .map_err(|e| format!("invalid VPC flow log: {e}"))
        .and_then(|p| convert(p, origin));
    match result {
        Ok(flow) => Record::Flow(Box::new(flow), PacketReport::Single),
        Err(cause) => Record::Skip(cause),
    }
}

fn convert(p: Payload, origin: Origin) -> Result<Flow, String> {
    let c = p.connection.unwrap_or_default();
    let protocol = match &c.protocol {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .map_or(Protocol::Unknown, Protocol::from_number),
        Some(Value::String(s)) => Protocol::parse(s).unwrap_or(Protocol::Unknown),
        _ => Protocol::Unknown,
    };
    let reporter = p.reporter.unwrap_or_default();
    let direction = match reporter.as_str() {
        "SRC" | "SRC_GATEWAY" => Direction::Egress,
        "DEST" | "DEST_GATEWAY" => Direction::Ingress,
        _ => Direction::Unknown,
    };
    let node = match direction {
        Direction::Egress => p.src_instance.as_ref(),
        Direction::Ingress => p.dest_instance.as_ref(),
        Direction::Unknown => None,
    }
    .and_then(|i| i.vm_name.clone());
    let disposition = p.disposition.unwrap_or_default();
    let action = if disposition.eq_ignore_ascii_case("DROPPED") {
        Action::Dropped
    } else {
        Action::Unknown
    };
    let src = endpoint(
        parse_ip(c.src_ip.as_deref(), "connection.src_ip")?,
        port(c.src_port, "connection.src_port")?,
        p.src_gke_details.as_ref(),
        p.src_instance.as_ref(),
        p.src_location.is_some(),
    );
    let dst = endpoint(
        parse_ip(c.dest_ip.as_deref(), "connection.dest_ip")?,
        port(c.dest_port, "connection.dest_port")?,
        p.dest_gke_details.as_ref(),
        p.dest_instance.as_ref(),
        p.dest_location.is_some(),
    );
    Ok(Flow {
        time: p.start_time.or(p.end_time).map(|t| t.0),
        src,
        dst,
        protocol,
        action,
        action_raw: if disposition.is_empty() {
            format!("observed by {reporter}")
        } else {
            disposition
        },
        direction,
        node,
        drop_reason: None,
        policies: Vec::new(),
        is_reply: None,
        bytes: p.bytes_sent.map(|b| b.0),
        packets: p.packets_sent.map(|b| b.0),
        count: 1,
        duplicate: false,
        counting: Counting::Sampled,
        granularity: crate::flow::Granularity::Connection,
        format: Format::GkeVpc,
        origin,
    })
}

fn endpoint(
    ip: Option<std::net::IpAddr>,
    port: Option<u16>,
    gke: Option<&GkeDetails>,
    instance: Option<&Instance>,
    outside: bool,
) -> Endpoint {
    let pod = gke
        .and_then(|g| g.pod.as_ref())
        .filter(|p| p.pod_name.is_some());
    let service = gke.and_then(|g| g.first_service());
    let identity = if let Some(pod) = pod {
        Identity::Pod(std::sync::Arc::new(PodIdentity {
            namespace: pod.pod_namespace.clone().unwrap_or_default(),
            name: pod.pod_name.clone().unwrap_or_default(),
            workload: pod.workload(),
            node: None,
            labels: Arc::default(),
        }))
    } else if let Some(vm) = instance.and_then(|i| i.vm_name.clone()) {
        Identity::Node(NodeIdentity {
            name: Some(vm),
            host_network_pods: Vec::new(),
        })
    } else if outside {
        Identity::External
    } else {
        Identity::Unknown
    };
    Endpoint::from_log(ip, port, identity, service)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    connection: Option<Connection>,
    reporter: Option<String>,
    disposition: Option<String>,
    bytes_sent: Option<U64Value>,
    packets_sent: Option<U64Value>,
    start_time: Option<TimeValue>,
    end_time: Option<TimeValue>,
    src_instance: Option<Instance>,
    dest_instance: Option<Instance>,
    src_gke_details: Option<GkeDetails>,
    dest_gke_details: Option<GkeDetails>,
    src_location: Option<serde::de::IgnoredAny>,
    dest_location: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Connection {
    src_ip: Option<String>,
    dest_ip: Option<String>,
    src_port: Option<U64Value>,
    dest_port: Option<U64Value>,
    protocol: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Instance {
    vm_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GkeDetails {
    pod: Option<GkePod>,
    service: Option<Value>,
}

impl GkeDetails {
    /// The first Service (a list or a single object); `MANY_SERVICES` names none.
    fn first_service(&self) -> Option<ServiceIdentity> {
        let first = match self.service.as_ref()? {
            Value::Array(items) => items.first()?,
            other => other,
        };
        let name = first.get("service_name")?.as_str()?;
        if name.is_empty() || name == "MANY_SERVICES" {
            return None;
        }
        Some(ServiceIdentity {
            namespace: first
                .get("service_namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: name.to_string(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GkePod {
    pod_name: Option<String>,
    pod_namespace: Option<String>,
    pod_workload: Option<GkeWorkload>,
    workload: Option<GkeWorkload>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GkeWorkload {
    #[serde(alias = "name")]
    workload_name: Option<String>,
    #[serde(alias = "type")]
    workload_type: Option<String>,
}

impl GkePod {
    fn workload(&self) -> Option<Workload> {
        let w = self.pod_workload.as_ref().or(self.workload.as_ref())?;
        Some(Workload {
            kind: workload_kind(w.workload_type.as_deref().unwrap_or_default()),
            name: w.workload_name.clone()?,
        })
    }
}

/// `STATEFUL_SET` → `StatefulSet`.
fn workload_kind(t: &str) -> String {
    t.split('_')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_types_read_as_kubernetes_kinds() {
        assert_eq!(workload_kind("STATEFUL_SET"), "StatefulSet");
        assert_eq!(workload_kind("DEPLOYMENT"), "Deployment");
    }

    #[test]
    fn a_log_entry_with_pod_details_becomes_an_observed_flow() {
        let line = br#"{"jsonPayload":{"connection":{"src_ip":"10.52.1.9","dest_ip":"10.52.3.17","src_port":41872,"dest_port":8080,"protocol":6},"reporter":"DEST","bytes_sent":"5840","packets_sent":"12","start_time":"2025-06-01T10:00:01.1Z","dest_gke_details":{"pod":{"pod_name":"ledger-0","pod_namespace":"payments","workload":{"name":"ledger","type":"STATEFUL_SET"}},"service":{"service_name":"ledger","service_namespace":"payments"}},"dest_instance":{"vm_name":"gke-node-1"}},"logName":"projects/p/logs/compute.googleapis.com%2Fvpc_flows"}"#;
        let Record::Flow(f, _) = decode(
            line,
            Origin {
                input: Arc::from("t"),
                line: 1,
            },
        ) else {
            panic!()
        };
        assert_eq!(f.action, Action::Unknown);
        assert_eq!(f.direction, Direction::Ingress);
        assert_eq!(f.node.as_deref(), Some("gke-node-1"));
        assert_eq!(f.protocol, Protocol::Tcp);
        assert_eq!(f.bytes, Some(5840));
        assert_eq!(f.counting, Counting::Sampled);
        let pod = f.dst.identity.pod().unwrap();
        assert_eq!(pod.workload.as_ref().unwrap().kind, "StatefulSet");
        assert_eq!(f.dst.service.as_ref().unwrap().name, "ledger");
    }
}
