//! The parts of Kubernetes objects flowq reads, and nothing more: a snapshot may hold Secrets,
//! environment values and annotations, and none of them are ever deserialized. NetworkPolicy is
//! kept as authored (absent and empty lists are different things), defaults are applied by the
//! evaluator, not here.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::selector::LabelSelector;

/// Object metadata flowq uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// Object name.
    pub name: String,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// When the object was created.
    pub creation_timestamp: Option<DateTime<Utc>>,
    /// When deletion was requested, if it was.
    pub deletion_timestamp: Option<DateTime<Utc>>,
    /// Controllers and other owners.
    pub owner_references: Option<Vec<OwnerReference>>,
}

/// An owner reference.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerReference {
    /// Kind of the owner.
    pub kind: String,
    /// Name of the owner.
    pub name: String,
    /// Whether this owner is the managing controller.
    pub controller: Option<bool>,
}

impl ObjectMeta {
    /// The object's namespace, `default` when absent on a namespaced object.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
    }

    /// The managing controller, or the first owner.
    pub fn controller(&self) -> Option<&OwnerReference> {
        let owners = self.owner_references.as_deref()?;
        owners
            .iter()
            .find(|o| o.controller == Some(true))
            .or_else(|| owners.first())
    }
}

/// A Namespace.
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    /// Namespace name.
    pub name: String,
    /// Labels (the API server adds `kubernetes.io/metadata.name`; flowq adds it too when a
    /// hand-written manifest lacks it).
    pub labels: BTreeMap<String, String>,
}

/// A Pod, reduced to what identity and policy evaluation need.
#[derive(Debug, Clone, Default)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Arc<BTreeMap<String, String>>,
    /// Node the pod is scheduled on.
    pub node_name: Option<String>,
    /// Whether the pod uses its node's network namespace (and so its node's IPs).
    pub host_network: bool,
    /// Every IP of the pod (`status.podIPs`, with `status.podIP`).
    pub ips: Vec<IpAddr>,
    /// Ports declared by its containers (for named ports).
    pub container_ports: Vec<ContainerPort>,
    /// Kubelet probes that connect to the pod (`httpGet`, `tcpSocket`, `grpc`); `exec`
    /// probes run inside the container and are not kept.
    pub probes: Vec<ContainerProbe>,
    /// `status.phase`.
    pub phase: Option<String>,
    /// When the pod was created.
    pub created: Option<DateTime<Utc>>,
    /// When the pod stopped holding its IP, if known (terminal phase: the last container's
    /// finish time; otherwise the deletion time).
    pub ended: Option<DateTime<Utc>>,
    /// Owning controller as recorded on the pod (kind, name).
    pub owner: Option<(String, String)>,
}

/// A workload controller (Deployment, StatefulSet, DaemonSet, ReplicaSet or Job) with its pod
/// template: what its pods will look like, for manifests that hold no Pod objects.
#[derive(Debug, Clone, Default)]
pub struct WorkloadObject {
    /// Namespace.
    pub namespace: String,
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`, `Job` or `CronJob`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// A pod made from `spec.template` (a CronJob's `spec.jobTemplate.spec.template`): its labels, container ports and `hostNetwork`, no node
    /// and no address; named `<name> (pod template)`.
    pub template: Pod,
}

/// A container port.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    /// Port name (`IANA_SVC_NAME`), when named.
    pub name: Option<String>,
    /// Port number.
    pub container_port: i64,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
}

/// Which of a container's probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// `livenessProbe`: failing it restarts the container.
    Liveness,
    /// `readinessProbe`: failing it takes the pod out of its Services.
    Readiness,
    /// `startupProbe`: failing it restarts the container before it ever runs.
    Startup,
}

impl ProbeKind {
    /// `liveness`, `readiness` or `startup`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
            ProbeKind::Startup => "startup",
        }
    }
}

/// A kubelet probe that opens a connection to the pod: the kubelet connects from its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerProbe {
    /// Name of the container it belongs to.
    pub container: String,
    /// Liveness, readiness or startup.
    pub kind: ProbeKind,
    /// `httpGet`, `tcpSocket` or `grpc`.
    pub handler: &'static str,
    /// The port probed: a number or the name of a container port.
    pub port: IntOrString,
}

/// An object of the snapshot that could not be read, and was left out of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SkippedObject {
    /// The file it came from.
    pub source: String,
    /// Its `kind`.
    pub kind: String,
    /// Its namespace, when it could be read.
    pub namespace: Option<String>,
    /// Its name, when it could be read.
    pub name: Option<String>,
    /// Why it could not be read.
    pub detail: String,
}

/// A Service.
#[derive(Debug, Clone, Default)]
pub struct Service {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Virtual IPs (`clusterIPs`, with `clusterIP`); empty for headless services.
    pub cluster_ips: Vec<IpAddr>,
    /// Pod selector; `None` for services without one (endpoints managed by hand).
    pub selector: Option<BTreeMap<String, String>>,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// When the service was created.
    pub created: Option<DateTime<Utc>>,
}

/// A Service port.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    /// Port name.
    pub name: Option<String>,
    /// Port the service listens on.
    pub port: i64,
    /// Port (number or container port name) on the backend pods; defaults to `port`.
    pub target_port: Option<IntOrString>,
    /// Protocol, default `TCP`.
    pub protocol: Option<String>,
}

/// A number or a name, as Kubernetes writes ports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// A port number.
    Int(i64),
    /// A port name (or a number written as a string).
    String(String),
}

/// An EndpointSlice, reduced to its service and backends.
#[derive(Debug, Clone, Default)]
pub struct EndpointSlice {
    /// Namespace.
    pub namespace: String,
    /// The Service it belongs to (`kubernetes.io/service-name` label).
    pub service_name: Option<String>,
    /// Backend addresses with the pod they belong to, when given.
    pub endpoints: Vec<SliceEndpoint>,
}

/// One backend of an EndpointSlice.
#[derive(Debug, Clone, Default)]
pub struct SliceEndpoint {
    /// Addresses of the backend.
    pub addresses: Vec<IpAddr>,
    /// `namespace/name` of the target Pod, when the slice names one.
    pub pod: Option<(String, String)>,
    /// `conditions.ready`: whether the backend may receive traffic (absent: unknown, which
    /// Kubernetes reads as ready).
    pub ready: Option<bool>,
}

/// A Node and its addresses.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// Node name.
    pub name: String,
    /// InternalIP addresses.
    pub internal_ips: Vec<IpAddr>,
    /// ExternalIP addresses.
    pub external_ips: Vec<IpAddr>,
    /// When the node was created.
    pub created: Option<DateTime<Utc>>,
}

/// A `networking.k8s.io/v1` NetworkPolicy as authored.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NetworkPolicy {
    /// Namespace of the policy (it only selects pods there).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The policy's spec as written.
    pub spec: NetworkPolicySpec,
    /// When it was created (`metadata.creationTimestamp`), when the snapshot says.
    #[serde(skip)]
    pub created: Option<DateTime<Utc>>,
}

/// A NetworkPolicy spec. `None` is an absent field, `Some(vec![])` an empty list: they
/// differ (`ingress: []` allows nothing, while absent `from` allows every peer).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkPolicySpec {
    /// Pods of the policy's namespace it applies to; `{}` selects all.
    pub pod_selector: Option<LabelSelector>,
    /// `Ingress` and/or `Egress`; when absent, defaulted by the evaluator.
    pub policy_types: Option<Vec<String>>,
    /// Ingress rules.
    pub ingress: Option<Vec<PolicyRule>>,
    /// Egress rules.
    pub egress: Option<Vec<PolicyRule>>,
}

/// An ingress (`from`) or egress (`to`) rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRule {
    /// `from` of an ingress rule or `to` of an egress rule; absent or empty = every peer.
    #[serde(alias = "from", alias = "to")]
    pub peers: Option<Vec<PolicyPeer>>,
    /// Ports; absent or empty = every port.
    pub ports: Option<Vec<PolicyPort>>,
}

/// A peer of a rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyPeer {
    /// Pods (in the policy's namespace, or in the namespaces `namespace_selector` selects).
    pub pod_selector: Option<LabelSelector>,
    /// Namespaces.
    pub namespace_selector: Option<LabelSelector>,
    /// An address block.
    pub ip_block: Option<IpBlock>,
}

/// An `ipBlock` peer.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpBlock {
    /// CIDR as written (host bits may be set).
    pub cidr: String,
    /// CIDRs excluded from it.
    pub except: Option<Vec<String>>,
}

impl IpBlock {
    /// The block's network and exceptions, host bits cleared; an unparsable CIDR is an `Err`
    /// naming it.
    pub fn networks(&self) -> Result<(IpNet, Vec<IpNet>), String> {
        let parse = |s: &str| {
            s.trim()
                .parse::<IpNet>()
                .map(|n| n.trunc())
                .map_err(|_| format!("ipBlock CIDR {s:?} does not parse"))
        };
        let cidr = parse(&self.cidr)?;
        let except = self
            .except
            .iter()
            .flatten()
            .map(|e| parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((cidr, except))
    }
}

/// A port entry of a rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyPort {
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
    /// Port number or named container port; absent = every port of the protocol.
    pub port: Option<IntOrString>,
    /// Last port of a range starting at `port`.
    pub end_port: Option<i64>,
}
