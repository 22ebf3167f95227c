//! Google Cloud VPC Flow Logs with GKE metadata (`compute.googleapis.com/vpc_flows` and the
//! Network Management `networkmanagement.googleapis.com/vpc_flows`), as LogEntries (NDJSON
//! sinks, `gcloud logging read --format=json` arrays) or bare payloads.
//!
//! These are sampled observations, not verdicts: the action is `unknown` unless a newer record
//! says `disposition: DROPPED`. Counters are int64 strings (or numbers); `reporter` says which
//! side's VM saw it. Each side's metadata names it: GKE details name pods and workloads (in
//! either the `pod_workload` or the `workload` shape), Services (a list or a single object) and
//! cluster nodes; `*_instance` names VMs, `*_google_service` Google APIs and `*_vpc`
//! subnetworks, kept as [`Identity::Cloud`] when they are not cluster objects.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::cloud_logging::{log_id, sniff_parts, Description, LogEntry};
use super::record::Record;
use super::value::{parse_ip, port, Lenient, Text, TimeValue, U64Value};
use crate::flow::{
    Action, CloudIdentity, CloudResource, Counting, Direction, Endpoint, Flow, FlowDetails,
    GeoLocation, Identity, NodeIdentity, Origin, PodIdentity, Protocol, ServiceIdentity,
    VpcNetwork, Workload,
};
use crate::format::Format;

mod fast;

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

/// Decodes one entry with the fast path alone; gives `origin` back when the entry is left to
/// the serde decoder.
pub fn decode_fast(bytes: &[u8], origin: Origin) -> Result<Record, Origin> {
    let Some((entry, payload)) = fast::scan(bytes) else {
        return Err(origin);
    };
    Ok(Record::single(convert(payload, &entry, origin)))
}

/// Decodes one entry or payload with the serde decoder alone (the reference the fast path is
/// held to).
pub fn decode_general(bytes: &[u8], origin: Origin) -> Record {
    Record::single(
        LogEntry::<Payload>::read(bytes)
            .map_err(|e| format!("invalid VPC flow log: {e}"))
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
        .map_err(|e| format!("invalid VPC flow log: {e}"))?;
    let details = details(&p, entry, described.as_deref());
    let c = p.connection.unwrap_or_default();
    let protocol = match &c.protocol {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .map_or(Protocol::Unknown, Protocol::from_number),
        Some(Value::String(s)) => Protocol::parse(s).unwrap_or(Protocol::Unknown),
        _ => Protocol::Unknown,
    };
    let reporter = p.reporter.as_deref().unwrap_or_default();
    let direction = match reporter {
        "SRC" | "SRC_GATEWAY" => Direction::Egress,
        "DEST" | "DEST_GATEWAY" => Direction::Ingress,
        _ => Direction::Unknown,
    };
    let node = match direction {
        Direction::Egress => p.src_instance.as_ref(),
        Direction::Ingress => p.dest_instance.as_ref(),
        Direction::Unknown => None,
    }
    .and_then(|i| i.vm_name.as_deref().map(str::to_string));
    let disposition = p.disposition.as_deref().unwrap_or_default();
    let action = if disposition.eq_ignore_ascii_case("DROPPED") {
        Action::Dropped
    } else {
        Action::Unknown
    };
    let src = endpoint(
        parse_ip(c.src_ip.as_deref(), "connection.src_ip")?,
        port(c.src_port, "connection.src_port")?,
        Side {
            gke: p.src_gke_details.as_ref(),
            instance: p.src_instance.as_ref(),
            vpc: p.src_vpc.as_ref(),
            google_service: p.src_google_service.as_ref(),
            outside: p.src_location.is_some(),
        },
    );
    let dst = endpoint(
        parse_ip(c.dest_ip.as_deref(), "connection.dest_ip")?,
        port(c.dest_port, "connection.dest_port")?,
        Side {
            gke: p.dest_gke_details.as_ref(),
            instance: p.dest_instance.as_ref(),
            vpc: p.dest_vpc.as_ref(),
            google_service: p.dest_google_service.as_ref(),
            outside: p.dest_location.is_some(),
        },
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
            disposition.to_string()
        },
        direction,
        node,
        drop_reason: None,
        policies: Vec::new(),
        is_reply: None,
        bytes: p.bytes_sent.map(|b| b.0),
        packets: p.packets_sent.map(|b| b.0),
        // A round trip is measured only when the reply came back (and never for a drop).
        reply_seen: action != Action::Dropped
            && (p.rtt_msec.as_ref().is_some_and(|v| !v.is_null())
                || p.round_trip_time
                    .as_ref()
                    .and_then(|r| r.get("median_msec"))
                    .is_some_and(|v| !v.is_null())),
        count: 1,
        duplicate: false,
        counting: Counting::Sampled,
        granularity: crate::flow::Granularity::Connection,
        details,
        format: Format::GkeVpc,
        origin,
    })
}

/// What the record says beyond its identities and counts: the entry's id and envelope, DSCP,
/// where each end is, each end's subnetwork and cluster, and the AS paths to the internet.
fn details(
    p: &Payload<'_>,
    entry: &LogEntry<'_, Payload<'_>>,
    described: Option<&Description>,
) -> Option<Arc<FlowDetails>> {
    let cluster = |g: &Option<GkeDetails>| {
        g.as_ref()
            .and_then(|g| g.cluster.as_ref())
            .and_then(|c| present(&c.cluster_name))
            .map(str::to_string)
    };
    let details = FlowDetails {
        record_id: entry.insert_id(),
        src_cluster: cluster(&p.src_gke_details),
        dst_cluster: cluster(&p.dest_gke_details),
        dscp: p
            .network_service
            .as_ref()
            .and_then(|n| n.dscp.0)
            .and_then(|d| u8::try_from(d).ok()),
        src_location: p.src_location.as_ref().and_then(Location::to_geo),
        dst_location: p.dest_location.as_ref().and_then(Location::to_geo),
        src_vpc: p.src_vpc.as_ref().and_then(Vpc::network),
        dst_vpc: p.dest_vpc.as_ref().and_then(Vpc::network),
        egress_as_paths: p
            .internet_routing_details
            .as_ref()
            .map(|r| {
                r.egress_as_path
                    .iter()
                    .map(|path| path.as_details.iter().filter_map(|a| a.asn.0).collect())
                    .collect()
            })
            .unwrap_or_default(),
        log_entry: described
            .and_then(|d| d.as_ref().ok())
            .map(|d| d.info.clone()),
        ..FlowDetails::default()
    };
    (details != FlowDetails::default()).then(|| Arc::new(details))
}

/// What the record says about one side: `src_*` or `dest_*` metadata.
struct Side<'a> {
    gke: Option<&'a GkeDetails<'a>>,
    instance: Option<&'a Instance<'a>>,
    vpc: Option<&'a Vpc<'a>>,
    google_service: Option<&'a GoogleService<'a>>,
    outside: bool,
}

/// The most specific identity the record's metadata gives one side: a pod; a Service address;
/// a Google service; a VM (a node when GKE details place it in a cluster); a cluster address
/// with no VM (node-level); an address outside the VPC; a subnetwork address; or unknown.
fn endpoint(ip: Option<std::net::IpAddr>, port: Option<u16>, side: Side<'_>) -> Endpoint {
    let gke = side.gke;
    let pod = gke
        .and_then(|g| g.pod.as_ref())
        .filter(|p| p.pod_name.is_some());
    let service = gke.and_then(|g| g.first_service());
    let vm_name = side.instance.and_then(|i| present(&i.vm_name));
    let in_cluster = gke.is_some_and(|g| g.cluster.is_some());
    let identity = if let Some(pod) = pod {
        Identity::Pod(Arc::new(PodIdentity {
            namespace: pod.pod_namespace.as_deref().unwrap_or_default().to_string(),
            name: pod.pod_name.as_deref().unwrap_or_default().to_string(),
            workload: pod.workload(),
            // The instance of a pod's side is the node VM whose alias range holds its address.
            node: vm_name.map(str::to_string),
            labels: Arc::default(),
        }))
    } else if let (Some(svc), None) = (&service, vm_name) {
        // GKE details with a Service and no pod or VM: the address is the Service's own.
        Identity::Service(svc.clone())
    } else if let Some(google) = side.google_service {
        Identity::Cloud(google.identity())
    } else if let (Some(name), true) = (vm_name, in_cluster) {
        Identity::Node(NodeIdentity {
            name: Some(name.to_string()),
            host_network_pods: Vec::new(),
        })
    } else if let Some(instance) = side.instance.filter(|_| vm_name.is_some()) {
        Identity::Cloud(instance.identity())
    } else if in_cluster {
        // Node-level traffic carries only the cluster: a node, unnamed.
        Identity::Node(NodeIdentity::default())
    } else if side.outside {
        Identity::External
    } else if let Some(vpc) = side.vpc.and_then(Vpc::identity) {
        Identity::Cloud(vpc)
    } else {
        Identity::Unknown
    };
    Endpoint::from_log(ip, port, identity, service)
}

/// A string the log gives, unless empty.
fn present<'s>(s: &'s Option<Text<'_>>) -> Option<&'s str> {
    s.as_deref().filter(|s| !s.is_empty())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload<'a> {
    #[serde(borrow)]
    connection: Option<Connection<'a>>,
    #[serde(borrow)]
    reporter: Option<Text<'a>>,
    #[serde(borrow)]
    disposition: Option<Text<'a>>,
    bytes_sent: Option<U64Value>,
    packets_sent: Option<U64Value>,
    // Kept as values: only whether the source measured a round trip matters, and a value of
    // an unexpected shape must not cost the record.
    rtt_msec: Option<Value>,
    round_trip_time: Option<Value>,
    start_time: Option<TimeValue>,
    end_time: Option<TimeValue>,
    #[serde(borrow)]
    src_instance: Option<Instance<'a>>,
    #[serde(borrow)]
    dest_instance: Option<Instance<'a>>,
    #[serde(borrow)]
    src_gke_details: Option<GkeDetails<'a>>,
    #[serde(borrow)]
    dest_gke_details: Option<GkeDetails<'a>>,
    #[serde(borrow)]
    src_vpc: Option<Vpc<'a>>,
    #[serde(borrow)]
    dest_vpc: Option<Vpc<'a>>,
    #[serde(borrow)]
    src_google_service: Option<GoogleService<'a>>,
    #[serde(borrow)]
    dest_google_service: Option<GoogleService<'a>>,
    #[serde(borrow)]
    src_location: Option<Location<'a>>,
    #[serde(borrow)]
    dest_location: Option<Location<'a>>,
    network_service: Option<NetworkService>,
    internet_routing_details: Option<RoutingDetails>,
}

/// `network_service`: the DSCP value (read leniently: it only describes the packets).
#[derive(Deserialize, Default)]
#[serde(default)]
struct NetworkService {
    dscp: Lenient<u32>,
}

/// `*_location`: where an address outside Google Cloud is.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Location<'a> {
    #[serde(borrow)]
    continent: Option<Text<'a>>,
    #[serde(borrow)]
    country: Option<Text<'a>>,
    #[serde(borrow)]
    region: Option<Text<'a>>,
    #[serde(borrow)]
    city: Option<Text<'a>>,
    asn: Lenient<u32>,
}

impl Location<'_> {
    fn to_geo(&self) -> Option<GeoLocation> {
        let geo = GeoLocation {
            continent: present(&self.continent).map(str::to_string),
            country: present(&self.country).map(str::to_string),
            region: present(&self.region).map(str::to_string),
            city: present(&self.city).map(str::to_string),
            asn: self.asn.0,
        };
        (geo != GeoLocation::default()).then_some(geo)
    }
}

/// `internet_routing_details`: the AS paths of traffic leaving Google Cloud.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RoutingDetails {
    egress_as_path: Vec<AsPath>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AsPath {
    as_details: Vec<AsDetail>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AsDetail {
    asn: Lenient<u32>,
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
    protocol: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Instance<'a> {
    #[serde(borrow)]
    vm_name: Option<Text<'a>>,
    #[serde(borrow)]
    project_id: Option<Text<'a>>,
    #[serde(borrow)]
    zone: Option<Text<'a>>,
    #[serde(borrow)]
    region: Option<Text<'a>>,
    #[serde(borrow)]
    managed_instance_group: Option<InstanceGroup<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InstanceGroup<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
}

impl Instance<'_> {
    fn identity(&self) -> CloudIdentity {
        CloudIdentity {
            resource: CloudResource::Vm,
            name: present(&self.vm_name).unwrap_or_default().to_string(),
            location: present(&self.zone)
                .or(present(&self.region))
                .map(str::to_string),
            project: present(&self.project_id).map(str::to_string),
            group: self
                .managed_instance_group
                .as_ref()
                .and_then(|g| present(&g.name))
                .map(str::to_string),
            ..CloudIdentity::default()
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Vpc<'a> {
    #[serde(borrow)]
    project_id: Option<Text<'a>>,
    #[serde(borrow)]
    vpc_name: Option<Text<'a>>,
    #[serde(borrow)]
    subnetwork_name: Option<Text<'a>>,
    #[serde(borrow)]
    subnetwork_region: Option<Text<'a>>,
}

impl Vpc<'_> {
    /// The subnetwork as the log names it, or `None` when it names nothing.
    fn network(&self) -> Option<VpcNetwork> {
        let network = VpcNetwork {
            project: present(&self.project_id).map(str::to_string),
            vpc: present(&self.vpc_name).map(str::to_string),
            subnetwork: present(&self.subnetwork_name).map(str::to_string),
            region: present(&self.subnetwork_region).map(str::to_string),
        };
        (network != VpcNetwork::default()).then_some(network)
    }

    /// `network/subnetwork` (or whichever the log names), or `None` when it names neither.
    fn identity(&self) -> Option<CloudIdentity> {
        let name = match (present(&self.vpc_name), present(&self.subnetwork_name)) {
            (Some(vpc), Some(subnet)) => format!("{vpc}/{subnet}"),
            (Some(one), None) | (None, Some(one)) => one.to_string(),
            (None, None) => return None,
        };
        Some(CloudIdentity {
            resource: CloudResource::Network,
            name,
            location: present(&self.subnetwork_region).map(str::to_string),
            project: present(&self.project_id).map(str::to_string),
            ..CloudIdentity::default()
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GoogleService<'a> {
    #[serde(rename = "type")]
    #[serde(borrow)]
    service_type: Option<Text<'a>>,
    #[serde(borrow)]
    service_name: Option<Text<'a>>,
    #[serde(borrow)]
    connectivity: Option<Text<'a>>,
}

impl GoogleService<'_> {
    /// Named by its service name, or by its type when the log gives no name.
    fn identity(&self) -> CloudIdentity {
        let service_type = present(&self.service_type).map(str::to_string);
        CloudIdentity {
            resource: CloudResource::GoogleService,
            name: present(&self.service_name)
                .map(str::to_string)
                .or(service_type.clone())
                .unwrap_or_default(),
            service_type,
            connectivity: present(&self.connectivity).map(str::to_string),
            ..CloudIdentity::default()
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GkeDetails<'a> {
    #[serde(borrow)]
    cluster: Option<GkeCluster<'a>>,
    #[serde(borrow)]
    pod: Option<GkePod<'a>>,
    service: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GkeCluster<'a> {
    #[serde(borrow)]
    cluster_name: Option<Text<'a>>,
}

impl GkeDetails<'_> {
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
struct GkePod<'a> {
    #[serde(borrow)]
    pod_name: Option<Text<'a>>,
    #[serde(borrow)]
    pod_namespace: Option<Text<'a>>,
    #[serde(borrow)]
    pod_workload: Option<GkeWorkload<'a>>,
    #[serde(borrow)]
    workload: Option<GkeWorkload<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GkeWorkload<'a> {
    #[serde(alias = "name")]
    #[serde(borrow)]
    workload_name: Option<Text<'a>>,
    #[serde(alias = "type")]
    #[serde(borrow)]
    workload_type: Option<Text<'a>>,
}

impl GkePod<'_> {
    fn workload(&self) -> Option<Workload> {
        let w = self.pod_workload.as_ref().or(self.workload.as_ref())?;
        Some(Workload {
            kind: workload_kind(w.workload_type.as_deref().unwrap_or_default()),
            name: w.workload_name.as_deref()?.to_string(),
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

    /// An entry decoded as the reader decodes it (fast path, else serde).
    fn decode(bytes: &[u8], origin: Origin) -> Record {
        crate::ingest::decode_record(Format::GkeVpc, bytes, origin)
    }

    fn flow_of(line: &str) -> Flow {
        match decode(
            line.as_bytes(),
            Origin {
                input: Arc::from("t"),
                line: 1,
            },
        ) {
            Record::Flow(f, _) => *f,
            other => panic!("not a flow: {other:?}"),
        }
    }

    fn cloud(ep: &Endpoint) -> &CloudIdentity {
        match &ep.identity {
            Identity::Cloud(c) => c,
            other => panic!("not a cloud resource: {other:?}"),
        }
    }

    #[test]
    fn dscp_geography_subnetworks_paths_and_the_log_entry_are_kept() {
        let f = flow_of(
            r#"{"insertId":"4qnf","jsonPayload":{"connection":{"src_ip":"10.0.0.2","dest_ip":"203.0.113.2","src_port":22,"dest_port":52388,"protocol":6},"reporter":"SRC","network_service":{"dscp":32},"src_vpc":{"project_id":"p1","vpc_name":"default","subnetwork_name":"sub","subnetwork_region":"asia-south1"},"dest_location":{"continent":"Asia","asn":137718,"country":"chn"},"internet_routing_details":{"egress_as_path":[{"as_details":[{"asn":58453},{"asn":137718}]}]},"src_gke_details":{"cluster":{"cluster_name":"c3","cluster_location":"asia-south1"}}},"resource":{"type":"vpc_flow_logs_config","labels":{"name":"cfg","location":"global"}},"labels":{"target_resource_name":"projects/1/global/networks/default"},"logName":"projects/p1/logs/networkmanagement.googleapis.com%2Fvpc_flows"}"#,
        );
        let d = f.details.expect("details");
        assert_eq!(d.record_id.as_deref(), Some("4qnf"));
        assert_eq!(d.dscp, Some(32));
        assert_eq!(d.src_cluster.as_deref(), Some("c3"));
        let geo = d.dst_location.as_ref().unwrap();
        assert_eq!(
            (geo.continent.as_deref(), geo.country.as_deref(), geo.asn),
            (Some("Asia"), Some("chn"), Some(137718))
        );
        assert_eq!(d.src_location, None);
        let vpc = d.src_vpc.as_ref().unwrap();
        assert_eq!(
            (vpc.vpc.as_deref(), vpc.subnetwork.as_deref()),
            (Some("default"), Some("sub"))
        );
        assert_eq!(d.egress_as_paths, vec![vec![58453, 137718]]);
        let entry = d.log_entry.as_ref().unwrap();
        assert_eq!(
            entry.log_id.as_deref(),
            Some("networkmanagement.googleapis.com/vpc_flows")
        );
        assert_eq!(entry.project.as_deref(), Some("p1"));
        assert_eq!(entry.resource_type.as_deref(), Some("vpc_flow_logs_config"));
        assert_eq!(entry.resource_labels["name"], "cfg");
        assert_eq!(
            entry.labels["target_resource_name"],
            "projects/1/global/networks/default"
        );
    }

    #[test]
    fn an_envelope_field_of_another_shape_never_costs_the_record() {
        let f = flow_of(
            r#"{"insertId":7,"labels":"x","resource":{"type":["gce_subnetwork"],"labels":[1]},"logName":"projects/p/logs/compute.googleapis.com%2Fvpc_flows","jsonPayload":{"connection":{"src_ip":"10.0.0.2","dest_ip":"10.0.0.3","src_port":1,"dest_port":2,"protocol":6},"reporter":"SRC"}}"#,
        );
        let entry = f.details.as_deref().unwrap().log_entry.as_ref().unwrap();
        assert_eq!(entry.resource_type, None);
        assert!(entry.resource_labels.is_empty() && entry.labels.is_empty());
        assert_eq!(
            entry.log_id.as_deref(),
            Some("compute.googleapis.com/vpc_flows")
        );
    }

    #[test]
    fn a_bare_payload_without_more_to_say_has_no_details_and_odd_values_cost_nothing() {
        let f = flow_of(
            r#"{"connection":{"src_ip":"10.0.0.2","dest_ip":"10.0.0.3","src_port":1,"dest_port":2,"protocol":6},"reporter":"SRC"}"#,
        );
        assert_eq!(f.details, None);
        let f = flow_of(
            r#"{"connection":{"src_ip":"10.0.0.2","dest_ip":"10.0.0.3","src_port":1,"dest_port":2,"protocol":6},"reporter":"SRC","network_service":{"dscp":"high"},"src_location":{"asn":"x","country":"usa"}}"#,
        );
        let d = f.details.expect("details");
        assert_eq!(d.dscp, None);
        assert_eq!(
            d.src_location
                .as_ref()
                .map(|l| (l.country.as_deref(), l.asn)),
            Some((Some("usa"), None))
        );
    }

    #[test]
    fn a_google_service_is_named_with_its_type_and_connectivity() {
        let f = flow_of(
            r#"{"jsonPayload":{"connection":{"src_ip":"10.52.1.9","dest_ip":"199.36.153.8","src_port":40112,"dest_port":443,"protocol":6},"reporter":"SRC","dest_google_service":{"type":"GOOGLE_API","service_name":"logging.googleapis.com","connectivity":"PRIVATE_GOOGLE_ACCESS","private_domain":"private.googleapis.com"}}}"#,
        );
        let google = cloud(&f.dst);
        assert_eq!(google.resource, CloudResource::GoogleService);
        assert_eq!(google.name, "logging.googleapis.com");
        assert_eq!(google.service_type.as_deref(), Some("GOOGLE_API"));
        assert_eq!(
            google.connectivity.as_deref(),
            Some("PRIVATE_GOOGLE_ACCESS")
        );
        assert_eq!(f.dst.identity_source, crate::flow::IdentitySource::Log);
        assert_eq!(f.dst.identity.kind_name(), "google_service");
        assert_eq!(
            f.dst.identity.to_string(),
            "google-service logging.googleapis.com (GOOGLE_API, PRIVATE_GOOGLE_ACCESS)"
        );
    }

    #[test]
    fn a_google_service_without_a_name_is_named_by_its_type() {
        let f = flow_of(
            r#"{"jsonPayload":{"connection":{"src_ip":"173.194.193.95","dest_ip":"10.10.0.2","src_port":443,"dest_port":55502,"protocol":6},"reporter":"DEST","src_google_service":{"connectivity":"PUBLIC_IP","type":"GOOGLE_API"}}}"#,
        );
        assert_eq!(cloud(&f.src).name, "GOOGLE_API");
        assert_eq!(
            f.src.identity.to_string(),
            "google-service GOOGLE_API (PUBLIC_IP)"
        );
    }

    #[test]
    fn a_vm_outside_any_cluster_is_named_with_zone_project_and_group() {
        let f = flow_of(
            r#"{"jsonPayload":{"connection":{"src_ip":"10.10.0.3","dest_ip":"10.10.0.2","src_port":52368,"dest_port":22,"protocol":6},"reporter":"DEST","src_instance":{"project_id":"proj-a","region":"us-central1","vm_name":"bastion-7q2w","zone":"us-central1-f","managed_instance_group":{"name":"bastion-mig","region":"us-central1"}},"src_vpc":{"project_id":"proj-a","vpc_name":"net-a","subnetwork_name":"sub-a"}}}"#,
        );
        let vm = cloud(&f.src);
        assert_eq!(vm.resource, CloudResource::Vm);
        assert_eq!(vm.name, "bastion-7q2w");
        assert_eq!(vm.location.as_deref(), Some("us-central1-f"));
        assert_eq!(vm.project.as_deref(), Some("proj-a"));
        assert_eq!(vm.group.as_deref(), Some("bastion-mig"));
        assert_eq!(
            f.src.identity.to_string(),
            "vm bastion-7q2w (us-central1-f, project proj-a, group bastion-mig)"
        );
        assert_eq!(f.dst.identity, Identity::Unknown);
    }

    #[test]
    fn a_vm_the_gke_details_place_in_a_cluster_is_a_node() {
        let f = flow_of(
            r#"{"jsonPayload":{"connection":{"src_ip":"34.118.64.229","dest_ip":"10.0.0.4","src_port":443,"dest_port":45950,"protocol":6},"reporter":"DEST","src_location":{"country":"pol","asn":15169},"dest_gke_details":{"cluster":{"cluster_location":"europe-central2-a","cluster_name":"c3"}},"dest_instance":{"vm_name":"gke-c3-pool-4e35-tdhx","zone":"europe-central2-a"}}}"#,
        );
        assert_eq!(f.src.identity, Identity::External);
        assert_eq!(
            f.dst.identity,
            Identity::Node(NodeIdentity {
                name: Some("gke-c3-pool-4e35-tdhx".into()),
                host_network_pods: Vec::new(),
            })
        );
    }

    #[test]
    fn a_cluster_address_with_no_vm_is_an_unnamed_node() {
        let f = flow_of(
            r#"{"connection":{"src_ip":"10.0.0.9","dest_ip":"10.0.0.4","protocol":1},"reporter":"SRC","src_gke_details":{"cluster":{"cluster_name":"c3"}}}"#,
        );
        assert_eq!(f.src.identity, Identity::Node(NodeIdentity::default()));
        assert_eq!(f.src.identity_source, crate::flow::IdentitySource::Log);
    }

    #[test]
    fn a_pods_node_is_the_instance_of_its_side() {
        let f = flow_of(
            r#"{"connection":{"src_ip":"10.52.1.9","dest_ip":"10.52.3.17","src_port":41872,"dest_port":8080,"protocol":6},"reporter":"SRC","src_gke_details":{"cluster":{"cluster_name":"prod"},"pod":{"pod_name":"shopper-6fd8-bxqfc","pod_namespace":"storefront"}},"src_instance":{"vm_name":"gke-prod-pool-9fzp"},"dest_gke_details":{"cluster":{"cluster_name":"prod"},"pod":{"pod_name":"ledger-0","pod_namespace":"payments"}}}"#,
        );
        let src = f.src.identity.pod().unwrap();
        assert_eq!(src.node.as_deref(), Some("gke-prod-pool-9fzp"));
        assert_eq!(f.dst.identity.pod().unwrap().node, None);
    }

    #[test]
    fn a_service_address_without_pod_or_vm_is_the_service() {
        let f = flow_of(
            r#"{"connection":{"src_ip":"10.52.1.9","dest_ip":"10.56.0.10","src_port":50111,"dest_port":53,"protocol":17},"reporter":"SRC","dest_gke_details":{"cluster":{"cluster_name":"prod"},"service":[{"service_name":"kube-dns","service_namespace":"kube-system"}]}}"#,
        );
        let kube_dns = ServiceIdentity {
            namespace: "kube-system".into(),
            name: "kube-dns".into(),
        };
        assert_eq!(f.dst.identity, Identity::Service(kube_dns.clone()));
        assert_eq!(f.dst.service, Some(kube_dns));
    }

    #[test]
    fn a_service_on_a_node_address_keeps_the_node() {
        let f = flow_of(
            r#"{"connection":{"src_ip":"35.191.240.44","dest_ip":"10.128.0.7","src_port":47036,"dest_port":30080,"protocol":6},"reporter":"DEST","dest_gke_details":{"cluster":{"cluster_name":"prod"},"service":[{"service_name":"web","service_namespace":"shop"}]},"dest_instance":{"vm_name":"gke-prod-pool-x7kq"}}"#,
        );
        assert!(matches!(f.dst.identity, Identity::Node(_)));
        assert_eq!(f.dst.service.as_ref().unwrap().name, "web");
    }

    #[test]
    fn a_subnetwork_address_with_no_vm_is_named_by_its_network() {
        let f = flow_of(
            r#"{"connection":{"src_ip":"10.128.0.60","dest_ip":"10.128.0.43","src_port":41000,"dest_port":443,"protocol":6},"reporter":"DEST","src_vpc":{"project_id":"host-proj","vpc_name":"shared","subnetwork_name":"apps","subnetwork_region":"us-central1"}}"#,
        );
        let net = cloud(&f.src);
        assert_eq!(net.resource, CloudResource::Network);
        assert_eq!(
            f.src.identity.to_string(),
            "network shared/apps (us-central1, project host-proj)"
        );
    }

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

    #[test]
    fn a_measured_round_trip_proves_a_reply() {
        let base = r#"{"connection":{"src_ip":"10.52.1.9","dest_ip":"10.52.3.17","src_port":41872,"dest_port":8080,"protocol":6},"reporter":"SRC""#;
        let with = |extra: &str| flow_of(&format!("{base}{extra}}}")).reply_seen;
        assert!(!with(""), "no round trip, no proof");
        assert!(with(r#","rtt_msec":"3""#));
        assert!(with(r#","rtt_msec":0"#), "measured, however short");
        assert!(with(r#","round_trip_time":{"median_msec":0.4}"#));
        assert!(!with(r#","round_trip_time":{}"#));
        assert!(!with(r#","rtt_msec":null"#));
        assert!(
            !with(r#","rtt_msec":"3","disposition":"DROPPED""#),
            "a drop has no round trip whatever the record claims"
        );
    }
}
