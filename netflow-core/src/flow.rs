//! The normalized flow record every input format is decoded into.
//!
//! A [`Flow`] says what one log record says, in one vocabulary: who talked to whom
//! ([`Endpoint`]), over what ([`Protocol`]), what the log says happened ([`Action`]), who
//! reported it and where ([`Direction`], node), and where the record came from ([`Origin`]).
//! Nothing here knows about a cluster snapshot; identities filled in from a snapshot replace
//! the log's own with [`IdentitySource::Snapshot`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One flow record as read from a log, normalized across formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// When the record was observed (UTC); `None` when the record carries no usable time.
    pub time: Option<DateTime<Utc>>,
    /// The end that opened the connection (or sent the packet).
    pub src: Endpoint,
    /// The end the connection was addressed to.
    pub dst: Endpoint,
    /// Transport protocol.
    pub protocol: Protocol,
    /// What the log says happened to the traffic.
    pub action: Action,
    /// The log's own spelling of the action (`DROPPED`, `deny`, `FORWARDED`, …).
    pub action_raw: String,
    /// Which side reported or enforced it: egress of the source or ingress of the destination.
    pub direction: Direction,
    /// Node that observed the record (Hubble `node_name`, may be `cluster/node`).
    pub node: Option<String>,
    /// Why the log says the packet was dropped (`POLICY_DENIED`, …), when it says.
    pub drop_reason: Option<String>,
    /// Policies the log itself attributes this record to.
    pub policies: Vec<PolicyRef>,
    /// Whether the log marks this as the reply direction of a connection.
    pub is_reply: Option<bool>,
    /// Bytes the record accounts for, when the format counts them.
    pub bytes: Option<u64>,
    /// Packets the record accounts for, when the format counts them.
    pub packets: Option<u64>,
    /// The record itself proves the connection was answered: the source measured a round
    /// trip (VPC `rtt_msec`, `round_trip_time`) or counted packets both ways (Calico
    /// `packets_in` and `packets_out`). Such a connection was never silently dropped.
    pub reply_seen: bool,
    /// How many connection attempts this record stands for (1 for packet-level events; 0 for a
    /// record that reports the same packet as an earlier one, see [`Flow::duplicate`]).
    pub count: u64,
    /// This record reports the same packet as an earlier record of the same input (Hubble
    /// reports a packet at each observation point, as a policy verdict, a drop and an L7
    /// record).
    pub duplicate: bool,
    /// Whether [`Flow::count`], bytes and packets are exact, folded by the source, or sampled.
    pub counting: Counting,
    /// Whether the record reports a packet or a whole connection.
    pub granularity: Granularity,
    /// The input format the record was read from.
    pub format: crate::format::Format,
    /// Where the record was read.
    pub origin: Origin,
    /// What the record says beyond the fields above (the L7 message, the log's record id, the
    /// observation point, geography, the Cloud Logging resource, …); `None` when it says
    /// nothing more, so that a record without any costs one pointer. Shared: rows and copies
    /// of the flow point at the one value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Arc<FlowDetails>>,
}

/// What a record says beyond the fields every format shares: kept so that a user comparing
/// flowq's output with the raw log finds every fact the log gives. Each decoder fills what
/// its format has; everything is optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowDetails {
    /// The log's own id of the record (Hubble `uuid`, Cloud Logging `insertId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// Where on the node the packet was seen (Hubble `trace_observation_point` of a trace:
    /// `FROM_ENDPOINT`, `TO_STACK`, `TO_ENDPOINT`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_point: Option<Cow<'static, str>>,
    /// Why the datapath traced the packet (Hubble `trace_reason`: `NEW`, `ESTABLISHED`,
    /// `REPLY`, `RELATED`, `REOPENED`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_reason: Option<Cow<'static, str>>,
    /// The network interface the packet was seen on (Hubble `interface`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<Interface>,
    /// The cluster of the source (Hubble `source.cluster_name`, Cluster Mesh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_cluster: Option<String>,
    /// The cluster of the destination (Hubble `destination.cluster_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_cluster: Option<String>,
    /// The application-layer message a proxy read (Hubble `l7`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l7: Option<L7>,
    /// The DSCP value of the packets (VPC `network_service.dscp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dscp: Option<u8>,
    /// Where the source is, for an address outside Google Cloud (VPC `src_location`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_location: Option<GeoLocation>,
    /// Where the destination is (VPC `dest_location`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_location: Option<GeoLocation>,
    /// The VPC subnetwork of the source (VPC `src_vpc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_vpc: Option<VpcNetwork>,
    /// The VPC subnetwork of the destination (VPC `dest_vpc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_vpc: Option<VpcNetwork>,
    /// The AS paths of internet traffic leaving Google Cloud, each as its AS numbers in order
    /// (VPC `internet_routing_details.egress_as_path[].as_details[].asn`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress_as_paths: Vec<Vec<u32>>,
    /// The Cloud Logging entry around the record (`logName`, `resource`, `labels`): shared
    /// by the records of entries that say the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_entry: Option<Arc<LogEntryInfo>>,
    /// Packets and bytes each way, when the source counts them apart (Calico Goldmane
    /// `packets_in`/`packets_out`, `calico-node -flows` `Counts=`); the flow's `bytes` and
    /// `packets` are their sums.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<DirectionalCounts>,
    /// The connections a folded record stands for, by state (Goldmane
    /// `num_connections_started`/`_completed`/`_live`, `calico-node -flows` `Connections=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<ConnectionCounts>,
    /// The policies that would decide the flow once staged changes apply (Calico
    /// `pending_policies`, `calico-node -flows` `Pending:`), as the enforced ones are named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_policies: Vec<PolicyRef>,
}

/// Packets and bytes each way, from the reporting end's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DirectionalCounts {
    /// Packets received by the reporting end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets_in: Option<u64>,
    /// Packets sent by the reporting end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets_out: Option<u64>,
    /// Bytes received by the reporting end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
    /// Bytes sent by the reporting end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
}

/// The connections a folded record stands for, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionCounts {
    /// Connections started in the record's window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
    /// Connections completed in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<u64>,
    /// Connections still open at its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<u64>,
}

/// A network interface a packet was seen on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Interface {
    /// Interface index on the node, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Interface name (`lxc…`, `eth0`), empty when not given.
    pub name: String,
}

/// An application-layer message as a proxy recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct L7 {
    /// `REQUEST`, `RESPONSE` or `SAMPLE` (Hubble `l7.type`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// How long the request took to answer, in nanoseconds (responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ns: Option<u64>,
    /// A DNS message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    /// An HTTP message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    /// A Kafka message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<Kafka>,
}

/// A DNS query or answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Dns {
    /// The name asked for, as the message spells it (with its trailing dot).
    pub query: String,
    /// Query types (`A`, `AAAA`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub qtypes: Vec<String>,
    /// Types of the answer's records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rrtypes: Vec<String>,
    /// Addresses the answer gives.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// CNAMEs the answer gives.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cnames: Vec<String>,
    /// Time to live of the answer, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// Response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, …), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcode: Option<u32>,
}

impl Dns {
    /// The response code's name (`NOERROR`, `NXDOMAIN`, …), or its number.
    pub fn rcode_name(&self) -> Option<String> {
        let code = self.rcode?;
        Some(match code {
            0 => "NOERROR".to_string(),
            1 => "FORMERR".to_string(),
            2 => "SERVFAIL".to_string(),
            3 => "NXDOMAIN".to_string(),
            4 => "NOTIMP".to_string(),
            5 => "REFUSED".to_string(),
            n => format!("RCODE{n}"),
        })
    }
}

/// An HTTP request or response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Http {
    /// Method (`GET`, …), when given.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// URL, when given.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Protocol (`HTTP/1.1`, …), when given.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Status code of a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
}

/// A Kafka request or response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Kafka {
    /// The API key (`produce`, `fetch`, …).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_key: String,
    /// The topic.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub topic: String,
    /// The error code of a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
}

impl fmt::Display for L7 {
    /// One line: `dns request A zipkin.istio-system.svc.cluster.local.`, `dns response
    /// NXDOMAIN …`, `http request GET http://…`, `http response 503 …`, `kafka request fetch
    /// orders`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<String> = Vec::new();
        let kind = self.kind.as_deref().map(str::to_ascii_lowercase);
        if let Some(dns) = &self.dns {
            words.push("dns".into());
            words.extend(kind);
            words.extend(dns.rcode_name());
            words.extend(dns.qtypes.iter().cloned());
            words.push(dns.query.clone());
            if !dns.ips.is_empty() {
                words.push(format!("-> {}", dns.ips.join(",")));
            }
        } else if let Some(http) = &self.http {
            words.push("http".into());
            words.extend(kind);
            words.extend(http.code.map(|c| c.to_string()));
            words.extend([http.method.clone(), http.url.clone()]);
        } else if let Some(kafka) = &self.kafka {
            words.push("kafka".into());
            words.extend(kind);
            words.extend(
                kafka
                    .error_code
                    .filter(|c| *c != 0)
                    .map(|c| format!("error {c}")),
            );
            words.extend([kafka.api_key.clone(), kafka.topic.clone()]);
        } else {
            words.push("l7".into());
            words.extend(kind);
        }
        words.retain(|w| !w.is_empty());
        f.write_str(&words.join(" "))
    }
}

/// Where an address outside Google Cloud is, as VPC Flow Logs geolocate it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GeoLocation {
    /// Continent (`Asia`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continent: Option<String>,
    /// ISO 3166-1 alpha-3 country code (`sgp`, `usa`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Region (`Virginia`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Autonomous system number of the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
}

/// A VPC subnetwork an end belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VpcNetwork {
    /// Project of the VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// VPC network name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// Subnetwork name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnetwork: Option<String>,
    /// Region of the subnetwork.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The Cloud Logging entry a record came in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogEntryInfo {
    /// The decoded log id (`compute.googleapis.com/vpc_flows`), when the entry names its log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_id: Option<String>,
    /// The project of `logName` (`projects/P/logs/…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The monitored resource type (`gce_subnetwork`, `vpc_flow_logs_config`, `k8s_node`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The monitored resource's labels (`project_id`, `location`, `cluster_name`,
    /// `subnetwork_id`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_labels: BTreeMap<String, String>,
    /// The entry's own labels (`target_resource_name`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// What one record of a log stands for, which decides whether a record that does not say it
/// is a reply can be taken for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One packet (Hubble): a packet not marked as a request may be in the middle of a
    /// connection.
    Packet,
    /// A connection or a folded set of connections (Calico, GKE): the record is the request
    /// unless marked as a reply.
    #[default]
    Connection,
}

impl Flow {
    /// Whether the record is a trace of the packet arriving somewhere (Hubble `FROM_ENDPOINT`
    /// as it leaves the source pod, `FROM_NETWORK`, `FROM_OVERLAY`, `FROM_STACK`, `FROM_HOST`,
    /// `FROM_CRYPTO`) before the policies enforced there ran: it says the packet was seen,
    /// not that any end's policy let it through (`FROM_PROXY` comes after the proxy's own
    /// check and is not one).
    pub fn is_arrival_trace(&self) -> bool {
        self.details
            .as_ref()
            .and_then(|d| d.observation_point.as_deref())
            .is_some_and(|point| point.starts_with("FROM_") && point != "FROM_PROXY")
    }

    /// Whether the record opens a connection, so that policies decide it: replies (and packets
    /// not known to be requests) pass whatever the policies say, since conntrack lets them
    /// through.
    pub fn is_request(&self) -> bool {
        match self.granularity {
            Granularity::Packet => self.is_reply == Some(false),
            Granularity::Connection => self.is_reply != Some(true),
        }
    }
}

/// How exact a record's counts are.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// One record per event (Hubble).
    #[default]
    Exact,
    /// The source folded several connections into one record (Calico aggregation, GKE
    /// policy-action `count`): counts are the source's sums.
    Aggregated,
    /// The source samples traffic (VPC Flow Logs): counts are estimates.
    Sampled,
}

impl Counting {
    /// The JSON spelling: `exact`, `aggregated` or `sampled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Counting::Exact => "exact",
            Counting::Aggregated => "aggregated",
            Counting::Sampled => "sampled",
        }
    }
}

/// A connection end: address, port and identity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Endpoint {
    /// IP address, when the log gives one.
    pub ip: Option<IpAddr>,
    /// Transport port (TCP/UDP/SCTP); `None` for ICMP or when not given.
    pub port: Option<u16>,
    /// Who the endpoint is.
    pub identity: Identity,
    /// The Service the log or snapshot says this endpoint was reached through.
    pub service: Option<ServiceIdentity>,
    /// Where [`Endpoint::identity`] came from.
    pub identity_source: IdentitySource,
}

impl Endpoint {
    /// An endpoint as a log names it: the identity's source is the log, or none when the log
    /// says nothing about who it is.
    pub fn from_log(
        ip: Option<IpAddr>,
        port: Option<u16>,
        identity: Identity,
        service: Option<ServiceIdentity>,
    ) -> Endpoint {
        let identity_source = if identity == Identity::Unknown {
            IdentitySource::None
        } else {
            IdentitySource::Log
        };
        Endpoint {
            ip,
            port,
            identity,
            service,
            identity_source,
        }
    }
}

/// Where an endpoint's identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// Resolved from a cluster snapshot (which wins over the log when both know the IP).
    Snapshot,
    /// Taken from the names the log record carries.
    Log,
    /// Nobody knows this endpoint.
    #[default]
    None,
}

impl IdentitySource {
    /// The JSON spelling: `snapshot`, `log` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Snapshot => "snapshot",
            IdentitySource::Log => "log",
            IdentitySource::None => "none",
        }
    }
}

/// Who an endpoint is. Never a guess: an address with several possible owners is
/// [`Identity::Ambiguous`], an address nobody knows is [`Identity::Unknown`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Identity {
    /// A pod (shared: the flows of a pod the snapshot knows all point at its one copy).
    Pod(Arc<PodIdentity>),
    /// A node's own address (host traffic, e.g. kubelet probes).
    Node(NodeIdentity),
    /// A Service's virtual address (ClusterIP).
    Service(ServiceIdentity),
    /// An address outside the cluster.
    External,
    /// A network the log names in place of an endpoint it knows no workload for (Calico folds
    /// such peers into its public and private networks, or names the NetworkSet they belong
    /// to), with the DNS names the log associates with the address. Calico's public network
    /// with no DNS names is plain [`Identity::External`].
    Network(NetworkIdentity),
    /// A special identity named by the log (Cilium `reserved:health`, `reserved:init`, …).
    Reserved {
        /// The reserved name, e.g. `health`.
        name: String,
    },
    /// A resource a cloud provider's log names (a VM, a Google service, a VPC subnetwork):
    /// kept as the log names it when no snapshot knows the address.
    Cloud(CloudIdentity),
    /// The snapshot knows several owners of this address at this time.
    Ambiguous {
        /// Every candidate owner, as `kind namespace/name`.
        candidates: Vec<String>,
    },
    /// Nothing is known about this endpoint.
    #[default]
    Unknown,
}

/// Identity of a pod.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PodIdentity {
    /// Namespace of the pod.
    pub namespace: String,
    /// Pod name; empty when the log names only a namespace or an aggregate.
    pub name: String,
    /// Owning workload (Deployment, StatefulSet, DaemonSet, Job, …), when known.
    pub workload: Option<Workload>,
    /// Node the pod runs on, when known.
    pub node: Option<String>,
    /// Pod labels, without the Cilium `k8s:` source prefix.
    pub labels: Arc<BTreeMap<String, String>>,
}

/// A controller owning pods.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Workload {
    /// Kind: `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, `ReplicaSet`, ….
    pub kind: String,
    /// Name of the controller.
    pub name: String,
}

/// Identity of a node address.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// Node name; `None` when the log only says "a node" (Cilium `reserved:remote-node`).
    pub name: Option<String>,
    /// `hostNetwork: true` pods on that node, which share its address (`namespace/name`).
    pub host_network_pods: Vec<String>,
}

/// A network named by a log in place of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkIdentity {
    /// Which network.
    pub scope: NetworkScope,
    /// The NetworkSet's name, `namespace/name` for a namespaced one; `None` for the public and
    /// private networks.
    pub name: Option<String>,
    /// DNS names the log associates with the address (Calico `dest_domains`), as it lists them.
    pub domains: Vec<String>,
}

/// Which network a [`NetworkIdentity`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkScope {
    /// Addresses outside the private ranges that no endpoint owns (Calico `pub`): external.
    #[default]
    Public,
    /// Private (RFC 1918) addresses that no endpoint owns (Calico `pvt`).
    Private,
    /// A Calico NetworkSet or GlobalNetworkSet the address belongs to (Calico `ns`).
    NetworkSet,
}

impl fmt::Display for NetworkIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.scope, &self.name) {
            (NetworkScope::Public, _) => f.write_str("public network")?,
            (NetworkScope::Private, _) => f.write_str("private network")?,
            (NetworkScope::NetworkSet, Some(name)) => write!(f, "networkset {name}")?,
            (NetworkScope::NetworkSet, None) => f.write_str("networkset")?,
        }
        if !self.domains.is_empty() {
            write!(f, " ({})", self.domains.join(", "))?;
        }
        Ok(())
    }
}

/// Identity of a Service virtual IP.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceIdentity {
    /// Namespace of the Service.
    pub namespace: String,
    /// Service name.
    pub name: String,
}

/// A resource as a cloud provider's flow log names it (VPC Flow Logs `*_instance`,
/// `*_google_service`, `*_vpc`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CloudIdentity {
    /// What the resource is.
    pub resource: CloudResource,
    /// Its name: the VM name; the service name (`logging.googleapis.com`), or the service type
    /// (`GOOGLE_API`) when the log names no service; `network/subnetwork`. Empty when the log
    /// gives none.
    pub name: String,
    /// Zone (VMs) or region (subnetworks), when the log says.
    pub location: Option<String>,
    /// Cloud project, when the log says.
    pub project: Option<String>,
    /// Managed instance group of a VM, when the log says.
    pub group: Option<String>,
    /// Google service type (`GOOGLE_API`, `GOOGLE_VPC_HOSTED_SERVICE`, …), when the log says.
    pub service_type: Option<String>,
    /// How a Google service was reached (`PUBLIC_IP`, `PRIVATE_GOOGLE_ACCESS`, …), when the
    /// log says.
    pub connectivity: Option<String>,
}

/// The kinds of resource a [`CloudIdentity`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudResource {
    /// A virtual machine that is not known as a cluster node.
    #[default]
    Vm,
    /// A Google API or Google-hosted service.
    GoogleService,
    /// An address of a VPC subnetwork that the log ties to no VM or service.
    Network,
}

impl CloudResource {
    /// The kind's name in rows: `vm`, `google_service` or `network`.
    pub fn as_str(self) -> &'static str {
        match self {
            CloudResource::Vm => "vm",
            CloudResource::GoogleService => "google_service",
            CloudResource::Network => "network",
        }
    }
}

impl fmt::Display for CloudIdentity {
    /// `vm NAME (ZONE, project P, group G)`, `google-service NAME (TYPE, CONNECTIVITY)`,
    /// `network VPC/SUBNET (REGION, project P)`: what the log gives, most telling first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.resource {
            CloudResource::Vm => "vm",
            CloudResource::GoogleService => "google-service",
            CloudResource::Network => "network",
        })?;
        if !self.name.is_empty() {
            write!(f, " {}", self.name)?;
        }
        let type_is_name = self.service_type.as_deref() == Some(self.name.as_str());
        let details: Vec<String> = [
            self.service_type.clone().filter(|_| !type_is_name),
            self.connectivity.clone(),
            self.location.clone(),
            self.project.as_ref().map(|p| format!("project {p}")),
            self.group.as_ref().map(|g| format!("group {g}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

impl Identity {
    /// Namespace of a pod or service identity.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Identity::Pod(p) => Some(&p.namespace),
            Identity::Service(s) => Some(&s.namespace),
            _ => None,
        }
    }

    /// The pod identity, if this is a pod.
    pub fn pod(&self) -> Option<&PodIdentity> {
        match self {
            Identity::Pod(p) => Some(p),
            _ => None,
        }
    }

    /// Labels known for this identity (pods only).
    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.pod().map(|p| p.labels.as_ref())
    }

    /// A short name of the identity kind: `pod`, `node`, `service`, `external` (also a named
    /// public network), `network` (a private network or a NetworkSet), …; for a cloud
    /// resource, its kind (`vm`, `google_service`, `network`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Identity::Pod(_) => "pod",
            Identity::Node(_) => "node",
            Identity::Service(_) => "service",
            Identity::External => "external",
            Identity::Network(n) if n.scope == NetworkScope::Public => "external",
            Identity::Network(_) => "network",
            Identity::Reserved { .. } => "reserved",
            Identity::Cloud(c) => c.resource.as_str(),
            Identity::Ambiguous { .. } => "ambiguous",
            Identity::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Pod(p) if p.name.is_empty() => write!(f, "{}/*", p.namespace),
            Identity::Pod(p) => write!(f, "{}/{}", p.namespace, p.name),
            Identity::Node(n) => match &n.name {
                Some(name) => write!(f, "node {name}"),
                None => f.write_str("node"),
            },
            Identity::Service(s) => write!(f, "svc {}/{}", s.namespace, s.name),
            Identity::External => f.write_str("external"),
            Identity::Network(n) => n.fmt(f),
            Identity::Reserved { name } => write!(f, "reserved:{name}"),
            Identity::Cloud(c) => c.fmt(f),
            Identity::Ambiguous { candidates } => {
                write!(f, "ambiguous ({})", candidates.join(" | "))
            }
            Identity::Unknown => f.write_str("unknown"),
        }
    }
}

/// A policy named by a log record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct PolicyRef {
    /// Namespace of a namespaced policy.
    pub namespace: Option<String>,
    /// Policy name: the object's name as the log writes it (Calico's tiered policies keep
    /// their `tier.` prefix; a Kubernetes NetworkPolicy has its own name, without Calico's
    /// `knp.default.`).
    pub name: String,
    /// Kind when the log says (`NetworkPolicy`, `CiliumNetworkPolicy`, `CalicoNetworkPolicy`,
    /// `GlobalNetworkPolicy`, `StagedNetworkPolicy`, `Profile`, …).
    pub kind: Option<String>,
    /// The Calico tier the policy belongs to, when the log says (`default`, `security`, …).
    pub tier: Option<String>,
}

impl PolicyRef {
    /// Whether this names a Kubernetes (`networking.k8s.io`) NetworkPolicy, or a policy of no
    /// stated kind: the only policies a cluster snapshot holds. Calico's own policies (tiered,
    /// global, staged) and profiles are not.
    pub fn is_network_policy(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            None | Some("") | Some("NetworkPolicy")
        )
    }

    /// Whether the policy is staged (Calico `Staged*` kinds): logged as it would act, never
    /// enforced.
    pub fn is_staged(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.starts_with("Staged"))
    }
}

impl fmt::Display for PolicyRef {
    /// `namespace/name`, then in parentheses the kind unless a NetworkPolicy, and the tier
    /// unless a Kubernetes policy's `default`: `shop/app-tier.checkout (CalicoNetworkPolicy,
    /// tier app-tier)`, `payments/ledger-isolation`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => write!(f, "{ns}/{}", self.name)?,
            _ => f.write_str(&self.name)?,
        }
        let kind = self.kind.as_deref().filter(|k| !k.is_empty());
        let kubernetes = matches!(
            kind,
            None | Some("NetworkPolicy") | Some("StagedKubernetesNetworkPolicy")
        );
        // A Kubernetes policy is always in Calico's `default` tier: saying so is noise.
        let implied = |t: &str| t.is_empty() || (kubernetes && t == "default");
        let tier = self.tier.as_deref().filter(|t| !implied(t));
        match (kind.filter(|k| *k != "NetworkPolicy"), tier) {
            (None, None) => Ok(()),
            (Some(kind), None) => write!(f, " ({kind})"),
            (None, Some(tier)) => write!(f, " (tier {tier})"),
            (Some(kind), Some(tier)) => write!(f, " ({kind}, tier {tier})"),
        }
    }
}

/// Transport protocol of a flow.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// SCTP (132).
    Sctp,
    /// ICMP for IPv4 (1).
    Icmpv4,
    /// ICMP for IPv6 (58).
    Icmpv6,
    /// Any other IANA protocol number.
    Other(u8),
    /// The record does not say.
    #[default]
    Unknown,
}

impl Protocol {
    /// The protocol for an IANA protocol number.
    pub fn from_number(n: u8) -> Protocol {
        match n {
            1 => Protocol::Icmpv4,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            58 => Protocol::Icmpv6,
            132 => Protocol::Sctp,
            n => Protocol::Other(n),
        }
    }

    /// Parses a protocol name (`tcp`, `UDP`, `icmpv6`, `sctp`) or an IANA number.
    pub fn parse(s: &str) -> Option<Protocol> {
        let lower = s.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            "icmp" | "icmpv4" | "icmp4" => Protocol::Icmpv4,
            "icmpv6" | "icmp6" | "ipv6-icmp" => Protocol::Icmpv6,
            other => Protocol::from_number(other.parse().ok()?),
        })
    }

    /// Whether the protocol has ports.
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp | Protocol::Sctp)
    }
}

impl FromStr for Protocol {
    type Err = UnknownValue;

    /// Parses a protocol name (`tcp`, `UDP`, `icmpv6`, `sctp`) or an IANA number.
    fn from_str(s: &str) -> Result<Protocol, UnknownValue> {
        Protocol::parse(s).ok_or_else(|| UnknownValue {
            what: "protocol",
            value: s.to_string(),
            expected: "tcp, udp, sctp, icmpv4, icmpv6 or an IANA protocol number",
        })
    }
}

/// A word that names none of a type's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}: expected {expected}")]
pub struct UnknownValue {
    /// What was being parsed (`protocol`, `action`).
    pub what: &'static str,
    /// The text as given.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Sctp => f.write_str("SCTP"),
            Protocol::Icmpv4 => f.write_str("ICMPv4"),
            Protocol::Icmpv6 => f.write_str("ICMPv6"),
            Protocol::Other(n) => write!(f, "proto-{n}"),
            Protocol::Unknown => f.write_str("unknown"),
        }
    }
}

impl From<Protocol> for String {
    fn from(p: Protocol) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for Protocol {
    type Error = UnknownValue;

    /// The text [`Protocol`]'s `Display` writes (`TCP`, `proto-47`, `unknown`) or any name
    /// [`Protocol::parse`] takes, so that a serialized protocol reads back as itself.
    fn try_from(text: String) -> Result<Protocol, UnknownValue> {
        if text == "unknown" {
            return Ok(Protocol::Unknown);
        }
        match text.strip_prefix("proto-").map(str::parse::<u8>) {
            Some(Ok(n)) => Ok(Protocol::from_number(n)),
            _ => text.parse(),
        }
    }
}

/// What the log says happened to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Let through (Hubble `FORWARDED`, `AUDIT`, …; Calico `allow`).
    Allowed,
    /// Denied by policy (Hubble `DROPPED` for a policy reason or an L7 proxy denial; `deny`).
    Denied,
    /// Dropped by the datapath for a reason that is not policy (Hubble `STALE_OR_UNROUTABLE_IP`,
    /// `INVALID_SOURCE_IP`, …): not a denial, reported apart.
    Dropped,
    /// The log does not say.
    Unknown,
}

impl Action {
    /// The JSON spelling: `allowed`, `denied`, `dropped` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allowed => "allowed",
            Action::Denied => "denied",
            Action::Dropped => "dropped",
            Action::Unknown => "unknown",
        }
    }
}

impl FromStr for Action {
    type Err = UnknownValue;

    /// Parses `allowed`/`allow`, `denied`/`deny`, `dropped` or `unknown`, ignoring case.
    fn from_str(s: &str) -> Result<Action, UnknownValue> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allowed" | "allow" => Ok(Action::Allowed),
            "denied" | "deny" => Ok(Action::Denied),
            "dropped" => Ok(Action::Dropped),
            "unknown" => Ok(Action::Unknown),
            _ => Err(UnknownValue {
                what: "verdict",
                value: s.to_string(),
                expected: "allowed, denied, dropped or unknown",
            }),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of a connection reported or enforced the record.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Egress of the source (its node saw it leave, its egress policy applied).
    Egress,
    /// Ingress of the destination.
    Ingress,
    /// Not said by the log.
    #[default]
    Unknown,
}

impl Direction {
    /// The JSON spelling: `egress`, `ingress` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Egress => "egress",
            Direction::Ingress => "ingress",
            Direction::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record was read: input name and 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Input name as given (a path, or `-` for standard input).
    pub input: Arc<str>,
    /// 1-based line of the record in the (decompressed) input.
    pub line: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.input, self.line)
    }
}

#[cfg(test)]
impl Flow {
    /// A denied TCP flow between two unattributed addresses, for unit tests elsewhere.
    pub(crate) fn test_flow(src_ip: &str, dst_ip: &str, dst_port: u16) -> Flow {
        Flow {
            time: None,
            src: Endpoint {
                ip: src_ip.parse().ok(),
                ..Default::default()
            },
            dst: Endpoint {
                ip: dst_ip.parse().ok(),
                port: Some(dst_port),
                ..Default::default()
            },
            protocol: Protocol::Tcp,
            action: Action::Denied,
            action_raw: "DROPPED".into(),
            direction: Direction::Ingress,
            node: Some("node-b".into()),
            drop_reason: Some("POLICY_DENIED".into()),
            policies: vec![],
            is_reply: Some(false),
            bytes: None,
            packets: None,
            reply_seen: false,
            count: 1,
            duplicate: false,
            counting: Counting::Exact,
            granularity: Granularity::Packet,
            details: None,
            format: crate::format::Format::Hubble,
            origin: Origin {
                input: Arc::from("test"),
                line: 1,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_parses_names_and_numbers() {
        assert_eq!(Protocol::parse("tcp"), Some(Protocol::Tcp));
        assert_eq!(Protocol::parse("ICMPv6"), Some(Protocol::Icmpv6));
        assert_eq!(Protocol::parse("17"), Some(Protocol::Udp));
        assert_eq!(Protocol::parse("47"), Some(Protocol::Other(47)));
        assert_eq!(Protocol::parse("bogus"), None);
    }

    #[test]
    fn identity_display_is_short_and_exact() {
        let pod = Identity::Pod(std::sync::Arc::new(PodIdentity {
            namespace: "vamp".into(),
            name: "es-0".into(),
            ..Default::default()
        }));
        assert_eq!(pod.to_string(), "vamp/es-0");
        assert_eq!(Identity::External.to_string(), "external");
    }

    #[test]
    fn named_networks_show_their_name_and_domains() {
        let public = Identity::Network(NetworkIdentity {
            scope: NetworkScope::Public,
            name: None,
            domains: vec!["api.example.com".into()],
        });
        assert_eq!(public.kind_name(), "external");
        assert_eq!(public.to_string(), "public network (api.example.com)");
        let set = Identity::Network(NetworkIdentity {
            scope: NetworkScope::NetworkSet,
            name: Some("shop/partners".into()),
            domains: vec![],
        });
        assert_eq!(set.kind_name(), "network");
        assert_eq!(set.to_string(), "networkset shop/partners");
    }

    #[test]
    fn policy_display_shows_kind_and_tier_but_not_the_obvious() {
        let p = |ns: Option<&str>, name: &str, kind: &str, tier: Option<&str>| PolicyRef {
            namespace: ns.map(str::to_string),
            name: name.to_string(),
            kind: Some(kind.to_string()),
            tier: tier.map(str::to_string),
        };
        let tiered = p(
            Some("shop"),
            "app-tier.checkout",
            "CalicoNetworkPolicy",
            Some("app-tier"),
        );
        assert_eq!(
            tiered.to_string(),
            "shop/app-tier.checkout (CalicoNetworkPolicy, tier app-tier)"
        );
        assert!(!tiered.is_network_policy());
        let knp = p(Some("shop"), "isolate", "NetworkPolicy", Some("default"));
        assert_eq!(knp.to_string(), "shop/isolate");
        assert!(knp.is_network_policy() && !knp.is_staged());
        let staged = p(
            None,
            "security.lockdown",
            "StagedGlobalNetworkPolicy",
            Some("security"),
        );
        assert_eq!(
            staged.to_string(),
            "security.lockdown (StagedGlobalNetworkPolicy, tier security)"
        );
        assert!(staged.is_staged());
        assert_eq!(
            p(None, "kns.default", "Profile", None).to_string(),
            "kns.default (Profile)"
        );
    }
}
