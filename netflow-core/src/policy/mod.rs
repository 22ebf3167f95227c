//! The NetworkPolicy engine: exact `networking.k8s.io/v1` verdicts for connections between
//! pods, services, nodes and outside addresses of a [`Snapshot`], each with the explanation of
//! why.
//!
//! A connection is allowed when the source's egress and the destination's ingress both allow
//! it; each side is decided in `eval.rs`. This file decides who the two ends are (a pod, a
//! node, a Service translated to its backend pods, an outside address), recognises host traffic
//! and memoises results so that a million flows cost only their distinct connections. Data
//! types are in `verdict.rs`, the text rendering in `explain.rs`.
//!
//! ```
//! use netflow_core::policy::{Engine, Subject, PolicyVerdict};
//! use netflow_core::{Protocol, Snapshot};
//!
//! let cluster = r#"{"kind":"List","items":[
//!   {"kind":"Namespace","metadata":{"name":"vamp","labels":{"role":"core"}}},
//!   {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp","labels":{"app":"es"}},
//!    "status":{"podIP":"10.244.2.10"}},
//!   {"kind":"NetworkPolicy","metadata":{"name":"es-in","namespace":"vamp"},
//!    "spec":{"podSelector":{"matchLabels":{"app":"es"}},"ingress":[]}}]}"#;
//! let snapshot = Snapshot::from_text(cluster, "cluster.json", None)?;
//! let engine = Engine::new(&snapshot);
//! let src = Subject::parse("203.0.113.5")?;
//! let dst = Subject::parse("vamp/es-0")?;
//! let evaluation = engine.evaluate(&src, &dst, 9200, Protocol::Tcp)?;
//! assert_eq!(evaluation.verdict, PolicyVerdict::Deny);
//! assert!(evaluation.to_string().contains("policy has no ingress rules (ingress: [])"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod eval;
mod explain;
pub mod verdict;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};

use crate::cluster::model::{IntOrString, Pod, Service};
use crate::cluster::{Owner, Snapshot};
use crate::flow::{Identity, Protocol};
use eval::{named_port, Peer, PolicySet, Probe};
pub use verdict::{
    BackendEvaluation, Evaluation, ExcludedBackend, Exemption, HostTraffic, NamedPortMiss, NoRules,
    Party, PeerMiss, PeerReason, PolicyMiss, PolicyType, PolicyVerdict, PortMiss, RuleMiss,
    RuleRef, SelectingPolicy, ServiceTranslation, SideResult, SideVerdict,
};

pub use crate::error::PolicyError;

/// One end of a connection as a caller names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// A pod by namespace and name.
    Pod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// An address: a pod's, a node's, a Service ClusterIP or one outside the cluster.
    Ip(IpAddr),
    /// A Service by namespace and name.
    Service {
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
    },
}

impl Subject {
    /// Parses `namespace/pod`, an IP address, or `svc/namespace/name` (also
    /// `service/namespace/name`).
    pub fn parse(text: &str) -> Result<Subject, PolicyError> {
        let bad = |detail: &str| PolicyError::BadSubject {
            text: text.to_string(),
            detail: detail.to_string(),
        };
        let trimmed = text.trim();
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Subject::Ip(ip));
        }
        let parts: Vec<&str> = trimmed.split('/').collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        };
        match parts.as_slice() {
            [kind, namespace, name] if matches!(*kind, "svc" | "service") => {
                if valid(namespace) && valid(name) {
                    Ok(Subject::Service {
                        namespace: namespace.to_string(),
                        name: name.to_string(),
                    })
                } else {
                    Err(bad("expected svc/<namespace>/<name> with non-empty names"))
                }
            }
            [namespace, name] if valid(namespace) && valid(name) => Ok(Subject::Pod {
                namespace: namespace.to_string(),
                name: name.to_string(),
            }),
            _ => Err(bad(
                "expected <namespace>/<pod>, an IP address or svc/<namespace>/<name>",
            )),
        }
    }
}

impl FromStr for Subject {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Subject, PolicyError> {
        Subject::parse(s)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Pod { namespace, name } => write!(f, "{namespace}/{name}"),
            Subject::Ip(ip) => write!(f, "{ip}"),
            Subject::Service { namespace, name } => write!(f, "svc/{namespace}/{name}"),
        }
    }
}

/// The snapshot an engine evaluates against, borrowed or shared.
#[derive(Debug)]
enum SnapshotRef<'s> {
    Borrowed(&'s Snapshot),
    Shared(Arc<Snapshot>),
}

type MemoKey = (Subject, Subject, u16, Protocol);

/// How many distinct connections [`Engine::evaluate_cached`] remembers at most.
pub const MEMO_CAPACITY: usize = 16_384;

/// Evaluates connections against the NetworkPolicies of one snapshot.
///
/// Built once per snapshot (policies are compiled, grouped by namespace, ipBlocks parsed);
/// `Send + Sync`, so one engine serves every rayon worker.
#[derive(Debug)]
pub struct Engine<'s> {
    snapshot: SnapshotRef<'s>,
    policies: PolicySet,
    services: HashMap<(String, String), usize>,
    memo: RwLock<HashMap<MemoKey, Result<Arc<Evaluation>, PolicyError>>>,
}

/// A resolved end of a connection.
#[derive(Debug, Clone, Copy)]
enum End<'a> {
    Pod {
        pod: &'a Pod,
        ip: Option<IpAddr>,
    },
    Node {
        name: &'a str,
        ip: IpAddr,
    },
    Service {
        service: &'a Service,
        ip: Option<IpAddr>,
    },
    External {
        ip: IpAddr,
    },
}

/// One direction's result and the connection's verdict towards one destination pod or address.
struct PairResult {
    verdict: PolicyVerdict,
    egress: SideResult,
    ingress: SideResult,
    host_traffic: Option<HostTraffic>,
}

/// A backend of a service with the pod port the service port translates to.
struct Backend<'a> {
    end: End<'a>,
    port: u16,
    port_name: Option<String>,
}

impl Engine<'static> {
    /// An engine owning a share of the snapshot.
    pub fn shared(snapshot: Arc<Snapshot>) -> Engine<'static> {
        Engine::build(SnapshotRef::Shared(snapshot))
    }
}

impl<'s> Engine<'s> {
    /// An engine borrowing the snapshot.
    pub fn new(snapshot: &'s Snapshot) -> Engine<'s> {
        Engine::build(SnapshotRef::Borrowed(snapshot))
    }

    fn build(snapshot: SnapshotRef<'s>) -> Engine<'s> {
        let s = match &snapshot {
            SnapshotRef::Borrowed(s) => *s,
            SnapshotRef::Shared(s) => s,
        };
        let policies = PolicySet::new(s);
        let services = s
            .services
            .iter()
            .enumerate()
            .map(|(i, svc)| ((svc.namespace.clone(), svc.name.clone()), i))
            .collect();
        Engine {
            snapshot,
            policies,
            services,
            memo: RwLock::new(HashMap::new()),
        }
    }

    /// The snapshot evaluated against.
    pub fn snapshot(&self) -> &Snapshot {
        match &self.snapshot {
            SnapshotRef::Borrowed(s) => s,
            SnapshotRef::Shared(s) => s,
        }
    }

    /// Evaluates a new connection `src → dst:port/protocol`.
    ///
    /// An address that belongs to a pod is that pod, a node's address is that node (host
    /// traffic when the destination pod runs there), a ClusterIP is its service; any other
    /// address is outside the pod network and its own direction is not evaluated. A service
    /// destination is evaluated per backend pod, on the pod port its `targetPort` gives.
    pub fn evaluate(
        &self,
        src: &Subject,
        dst: &Subject,
        port: u16,
        protocol: Protocol,
    ) -> Result<Evaluation, PolicyError> {
        let src_end = self.resolve(src)?;
        if let End::Service { service, .. } = src_end {
            return Err(PolicyError::ServiceSource {
                namespace: service.namespace.clone(),
                name: service.name.clone(),
            });
        }
        let dst_end = self.resolve(dst)?;
        let src_party = party(src_end);
        let dst_party = party(dst_end);
        let End::Service { service, .. } = dst_end else {
            let pair = self.pair(src_end, dst_end, port, protocol);
            return Ok(Evaluation {
                verdict: pair.verdict,
                src: src_party,
                dst: dst_party,
                port,
                protocol,
                egress: pair.egress,
                ingress: pair.ingress,
                service: None,
                host_traffic: pair.host_traffic,
                backends: Vec::new(),
            });
        };
        let (translation, backends) = self.translate(service, port, protocol);
        let results: Vec<BackendEvaluation> = backends
            .into_iter()
            .map(|b| {
                let pair = self.pair(src_end, b.end, b.port, protocol);
                BackendEvaluation {
                    backend: party(b.end),
                    port: b.port,
                    port_name: b.port_name,
                    verdict: pair.verdict,
                    egress: pair.egress,
                    ingress: pair.ingress,
                    host_traffic: pair.host_traffic,
                }
            })
            .collect();
        let shown = results
            .iter()
            .find(|b| b.verdict == PolicyVerdict::Deny)
            .or(results.first());
        let (verdict, egress, ingress, host_traffic) = match shown {
            Some(b) => (
                if results.iter().all(|b| b.verdict == PolicyVerdict::Allow) {
                    PolicyVerdict::Allow
                } else {
                    PolicyVerdict::Deny
                },
                b.egress.clone(),
                b.ingress.clone(),
                b.host_traffic.clone(),
            ),
            None => (
                PolicyVerdict::Deny,
                exempt(
                    PolicyType::Egress,
                    describe(src_end),
                    Exemption::NoDestination,
                ),
                exempt(
                    PolicyType::Ingress,
                    describe(dst_end),
                    Exemption::NoDestination,
                ),
                None,
            ),
        };
        Ok(Evaluation {
            verdict,
            src: src_party,
            dst: dst_party,
            port,
            protocol,
            egress,
            ingress,
            service: Some(translation),
            host_traffic,
            backends: results,
        })
    }

    /// [`Engine::evaluate`], remembered: each distinct (src, dst, port, protocol) is evaluated
    /// once per engine, errors included. The memory holds at most [`MEMO_CAPACITY`] connections;
    /// past that it starts afresh, so memory stays bounded on inputs with endless distinct
    /// connections while the usual few thousand stay remembered.
    pub fn evaluate_cached(
        &self,
        src: &Subject,
        dst: &Subject,
        port: u16,
        protocol: Protocol,
    ) -> Result<Arc<Evaluation>, PolicyError> {
        let key = (src.clone(), dst.clone(), port, protocol);
        if let Some(hit) = self
            .memo
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return hit.clone();
        }
        let result = self.evaluate(src, dst, port, protocol).map(Arc::new);
        let mut memo = self.memo.write().unwrap_or_else(PoisonError::into_inner);
        if memo.len() >= MEMO_CAPACITY {
            memo.clear();
        }
        memo.entry(key).or_insert(result).clone()
    }

    /// How many distinct connections [`Engine::evaluate_cached`] has remembered.
    pub fn cached(&self) -> usize {
        self.memo
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn resolve(&self, subject: &Subject) -> Result<End<'_>, PolicyError> {
        let snapshot = self.snapshot();
        match subject {
            Subject::Pod { namespace, name } => snapshot
                .pod(namespace, name)
                .map(|pod| End::Pod { pod, ip: None })
                .ok_or_else(|| PolicyError::UnknownPod {
                    namespace: namespace.clone(),
                    name: name.clone(),
                }),
            Subject::Service { namespace, name } => self
                .services
                .get(&(namespace.clone(), name.clone()))
                .map(|i| End::Service {
                    service: &snapshot.services[*i],
                    ip: None,
                })
                .ok_or_else(|| PolicyError::UnknownService {
                    namespace: namespace.clone(),
                    name: name.clone(),
                }),
            Subject::Ip(ip) => self.resolve_ip(*ip),
        }
    }

    fn resolve_ip(&self, ip: IpAddr) -> Result<End<'_>, PolicyError> {
        let snapshot = self.snapshot();
        match snapshot.identify(&ip, None) {
            Identity::Pod(p) => Ok(snapshot
                .pod(&p.namespace, &p.name)
                .map_or(End::External { ip }, |pod| End::Pod { pod, ip: Some(ip) })),
            Identity::Service(s) => {
                Ok(self
                    .services
                    .get(&(s.namespace, s.name))
                    .map_or(End::External { ip }, |i| End::Service {
                        service: &snapshot.services[*i],
                        ip: Some(ip),
                    }))
            }
            Identity::Node(_) | Identity::Ambiguous { .. } => {
                // Without a time, a finished pod still "holds" its old address: only the
                // owners that still hold it count.
                let live: Vec<Owner> = snapshot
                    .index()
                    .owners(&ip)
                    .iter()
                    .copied()
                    .filter(|o| match o {
                        Owner::Pod(i) => holds_ip(&snapshot.pods[*i]),
                        Owner::Node(_) | Owner::Service(_) => true,
                    })
                    .collect();
                match live.as_slice() {
                    [Owner::Pod(i)] => Ok(End::Pod {
                        pod: &snapshot.pods[*i],
                        ip: Some(ip),
                    }),
                    [Owner::Node(i)] => Ok(End::Node {
                        name: &snapshot.nodes[*i].name,
                        ip,
                    }),
                    [Owner::Service(i)] => Ok(End::Service {
                        service: &snapshot.services[*i],
                        ip: Some(ip),
                    }),
                    [] => Ok(End::External { ip }),
                    many => Err(PolicyError::AmbiguousIp {
                        ip,
                        candidates: many
                            .iter()
                            .map(|o| match o {
                                Owner::Pod(i) => {
                                    let p = &snapshot.pods[*i];
                                    format!("pod {}/{}", p.namespace, p.name)
                                }
                                Owner::Node(i) => format!("node {}", snapshot.nodes[*i].name),
                                Owner::Service(i) => {
                                    let s = &snapshot.services[*i];
                                    format!("service {}/{}", s.namespace, s.name)
                                }
                            })
                            .collect(),
                    }),
                }
            }
            Identity::External | Identity::Unknown | Identity::Reserved { .. } => {
                Ok(End::External { ip })
            }
        }
    }

    /// Evaluates the connection towards one destination that is not a service.
    fn pair(&self, src: End<'_>, dst: End<'_>, port: u16, protocol: Protocol) -> PairResult {
        let snapshot = self.snapshot();
        if let Some(node) = host_traffic_node(src, dst) {
            let exemption = Exemption::HostTraffic {
                node: node.to_string(),
            };
            return PairResult {
                verdict: PolicyVerdict::Allow,
                egress: exempt(PolicyType::Egress, describe(src), exemption.clone()),
                ingress: exempt(PolicyType::Ingress, describe(dst), exemption),
                host_traffic: Some(HostTraffic {
                    node: node.to_string(),
                    reason: "host traffic, not subject to NetworkPolicy".to_string(),
                }),
            };
        }
        let dst_pod = match dst {
            End::Pod { pod, .. } => Some(pod),
            _ => None,
        };
        let probe = Probe {
            dst_pod,
            port,
            protocol,
        };
        let egress = match src {
            End::Pod { pod, .. } => {
                let (peer, note) = peer_of(dst);
                let mut side = self
                    .policies
                    .side(snapshot, PolicyType::Egress, pod, &peer, probe);
                side.notes.extend(note.filter(|_| side.isolated));
                side
            }
            other => exempt(PolicyType::Egress, describe(other), exemption_of(other)),
        };
        let ingress = match dst {
            End::Pod { pod, .. } => {
                let (peer, note) = peer_of(src);
                let mut side = self
                    .policies
                    .side(snapshot, PolicyType::Ingress, pod, &peer, probe);
                side.notes.extend(note.filter(|_| side.isolated));
                side
            }
            other => exempt(PolicyType::Ingress, describe(other), exemption_of(other)),
        };
        let verdict = if egress.verdict == SideVerdict::Deny || ingress.verdict == SideVerdict::Deny
        {
            PolicyVerdict::Deny
        } else {
            PolicyVerdict::Allow
        };
        PairResult {
            verdict,
            egress,
            ingress,
            host_traffic: None,
        }
    }

    /// A service's backends for `port/protocol`, each with its pod port.
    fn translate<'a>(
        &'a self,
        service: &'a Service,
        port: u16,
        protocol: Protocol,
    ) -> (ServiceTranslation, Vec<Backend<'a>>) {
        let snapshot = self.snapshot();
        let id = format!("{}/{}", service.namespace, service.name);
        let service_port = service
            .ports
            .iter()
            .find(|p| p.port == i64::from(port) && protocol_of(p.protocol.as_deref()) == protocol);
        let mut translation = ServiceTranslation {
            service: id.clone(),
            port,
            protocol,
            port_name: service_port.and_then(|p| p.name.clone()),
            target_port: service_port.and_then(|p| p.target_port.clone()),
            backends_from: if service.selector.is_some() {
                "selector"
            } else {
                "endpoint_slices"
            }
            .to_string(),
            excluded: Vec::new(),
            problem: None,
        };
        let Some(service_port) = service_port else {
            let declared: Vec<String> = service
                .ports
                .iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p.port,
                        p.protocol.as_deref().unwrap_or("TCP").to_ascii_uppercase()
                    )
                })
                .collect();
            translation.problem = Some(format!(
                "service {id} has no port {port}/{protocol} (its ports: {})",
                if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                }
            ));
            return (translation, Vec::new());
        };
        let protocol_text = protocol.to_string();
        let mut ends: Vec<End<'a>> = Vec::new();
        match &service.selector {
            Some(selector) => {
                for pod in &snapshot.pods {
                    if pod.namespace == service.namespace
                        && holds_ip(pod)
                        && selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
                    {
                        ends.push(End::Pod { pod, ip: None });
                    }
                }
            }
            None => {
                let mut seen = BTreeSet::new();
                for slice in &snapshot.endpoint_slices {
                    if slice.namespace != service.namespace
                        || slice.service_name.as_deref() != Some(service.name.as_str())
                    {
                        continue;
                    }
                    for endpoint in &slice.endpoints {
                        let pod = endpoint
                            .pod
                            .as_ref()
                            .and_then(|(ns, name)| snapshot.pod(ns, name));
                        if let Some(pod) = pod {
                            if seen.insert(format!("pod {}/{}", pod.namespace, pod.name)) {
                                ends.push(End::Pod { pod, ip: None });
                            }
                            continue;
                        }
                        for ip in &endpoint.addresses {
                            if seen.insert(format!("ip {ip}")) {
                                match self.resolve_ip(*ip) {
                                    Ok(end @ (End::Pod { .. } | End::External { .. })) => {
                                        ends.push(end)
                                    }
                                    _ => ends.push(End::External { ip: *ip }),
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut backends = Vec::new();
        for end in ends {
            let target = service_port.target_port.as_ref();
            let number = match target {
                None => Some(i64::from(port)),
                Some(IntOrString::Int(n)) => Some(*n),
                Some(IntOrString::String(s)) => s.trim().parse().ok(),
            };
            let resolved = match (number, target, end) {
                (Some(n), _, _) => u16::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(|n| (n, None))
                    .ok_or_else(|| format!("targetPort {n} is not a port number")),
                (None, Some(IntOrString::String(name)), End::Pod { pod, .. }) => {
                    named_port(pod, name, &protocol_text)
                        .map(|n| (n, Some(name.clone())))
                        .ok_or_else(|| {
                            format!(
                                "does not declare a {protocol_text} container port named {name:?}"
                            )
                        })
                }
                (None, Some(IntOrString::String(name)), _) => Err(format!(
                    "is not a pod, so the named targetPort {name:?} cannot be resolved"
                )),
                (None, _, _) => Err("has no usable targetPort".to_string()),
            };
            match resolved {
                Ok((port, port_name)) => backends.push(Backend {
                    end,
                    port,
                    port_name,
                }),
                Err(reason) => translation.excluded.push(ExcludedBackend {
                    pod: describe(end),
                    reason,
                }),
            }
        }
        backends.sort_by_key(|b| describe(b.end));
        if backends.is_empty() {
            translation.problem = Some(if translation.excluded.is_empty() {
                match &service.selector {
                    Some(selector) => format!(
                        "service {id} has no backend: its selector {} matches no pod with an IP \
                         in namespace {}",
                        selector
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(","),
                        service.namespace
                    ),
                    None => format!(
                        "service {id} has no selector and no EndpointSlice endpoint in the \
                         snapshot"
                    ),
                }
            } else {
                format!("service {id} has no backend that can receive port {port}/{protocol}")
            });
        }
        (translation, backends)
    }
}

/// Whether a pod holds its address now (not finished, has an address).
fn holds_ip(pod: &Pod) -> bool {
    pod.ended.is_none()
        && !matches!(pod.phase.as_deref(), Some("Succeeded" | "Failed"))
        && !pod.ips.is_empty()
}

/// The protocol of a service port (TCP when absent).
fn protocol_of(text: Option<&str>) -> Protocol {
    text.and_then(Protocol::parse).unwrap_or(Protocol::Tcp)
}

/// The node whose own traffic this is, when the source is the node the destination pod runs on
/// (its address, or a hostNetwork pod there).
fn host_traffic_node<'a>(src: End<'a>, dst: End<'a>) -> Option<&'a str> {
    let End::Pod { pod: dst_pod, .. } = dst else {
        return None;
    };
    let dst_node = dst_pod.node_name.as_deref()?;
    let src_node = match src {
        End::Node { name, .. } => Some(name),
        End::Pod { pod, .. } if pod.host_network => pod.node_name.as_deref(),
        _ => None,
    };
    (src_node == Some(dst_node)).then_some(dst_node)
}

/// The other end as the policies of the evaluated end see it, with a note when it is a
/// hostNetwork pod.
fn peer_of(end: End<'_>) -> (Peer<'_>, Option<String>) {
    match end {
        End::Pod { pod, ip } => {
            let ips = ip.map_or_else(|| pod.ips.clone(), |ip| vec![ip]);
            if pod.host_network {
                let id = format!("{}/{}", pod.namespace, pod.name);
                (
                    Peer::Address {
                        ips,
                        what: format!("hostNetwork pod {id}"),
                    },
                    Some(format!(
                        "{id} is a hostNetwork pod: its traffic uses its node's address, so \
                         only an ipBlock can match it"
                    )),
                )
            } else {
                (Peer::Pod { pod, ips }, None)
            }
        }
        End::Node { name, ip } => (
            Peer::Address {
                ips: vec![ip],
                what: format!("node {name} ({ip})"),
            },
            None,
        ),
        End::Service { service, ip } => (
            Peer::Address {
                ips: ip.into_iter().collect(),
                what: format!("service {}/{}", service.namespace, service.name),
            },
            None,
        ),
        End::External { ip } => (
            Peer::Address {
                ips: vec![ip],
                what: ip.to_string(),
            },
            None,
        ),
    }
}

fn exemption_of(end: End<'_>) -> Exemption {
    match end {
        End::Node { name, .. } => Exemption::Node {
            name: name.to_string(),
        },
        End::External { ip } => Exemption::External { ip },
        End::Pod { pod, .. } => Exemption::HostNetwork {
            pod: format!("{}/{}", pod.namespace, pod.name),
        },
        End::Service { .. } => Exemption::NoDestination,
    }
}

/// A direction NetworkPolicy does not govern.
fn exempt(direction: PolicyType, subject: String, exemption: Exemption) -> SideResult {
    SideResult {
        direction,
        subject,
        verdict: SideVerdict::NotApplicable,
        isolated: false,
        exemption: Some(exemption),
        policies: Vec::new(),
        matched_rule: None,
        reasons: Vec::new(),
        notes: Vec::new(),
    }
}

fn describe(end: End<'_>) -> String {
    match end {
        End::Pod { pod, .. } => format!("{}/{}", pod.namespace, pod.name),
        End::Node { name, ip } => format!("node {name} ({ip})"),
        End::Service { service, .. } => format!("{}/{} (service)", service.namespace, service.name),
        End::External { ip } => ip.to_string(),
    }
}

fn party(end: End<'_>) -> Party {
    match end {
        End::Pod { pod, ip } => Party::Pod {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            ip: ip.or_else(|| pod.ips.first().copied()),
            host_network: pod.host_network,
        },
        End::Node { name, ip } => Party::Node {
            name: name.to_string(),
            ip,
        },
        End::Service { service, ip } => Party::Service {
            namespace: service.namespace.clone(),
            name: service.name.clone(),
            ip,
        },
        End::External { ip } => Party::External { ip },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Namespace `vamp`: es-0 and es-1 (app=es, container port 9200 named http; es-1 on node
    /// n2), a hostNetwork agent on n1, a deny-all ingress policy except from app=kibana; pod
    /// vamp/kibana-0 (app=kibana) on n2; node n1 (192.168.0.10) and n2 (192.168.0.11);
    /// service es (selector app=es, port 80 → http), service legacy (no selector, one
    /// EndpointSlice pointing at es-0, port 9200).
    const CLUSTER: &str = r#"{"kind":"List","items":[
      {"kind":"Namespace","metadata":{"name":"vamp"}},
      {"kind":"Node","metadata":{"name":"n1"},
       "status":{"addresses":[{"type":"InternalIP","address":"192.168.0.10"}]}},
      {"kind":"Node","metadata":{"name":"n2"},
       "status":{"addresses":[{"type":"InternalIP","address":"192.168.0.11"}]}},
      {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp","labels":{"app":"es"}},
       "spec":{"nodeName":"n1","containers":[{"ports":[{"containerPort":9200,"name":"http"}]}]},
       "status":{"phase":"Running","podIP":"10.1.0.5"}},
      {"kind":"Pod","metadata":{"name":"es-1","namespace":"vamp","labels":{"app":"es"}},
       "spec":{"nodeName":"n2","containers":[{"ports":[{"containerPort":9201,"name":"http"}]}]},
       "status":{"phase":"Running","podIP":"10.1.1.5"}},
      {"kind":"Pod","metadata":{"name":"kibana-0","namespace":"vamp","labels":{"app":"kibana"}},
       "spec":{"nodeName":"n2"},"status":{"phase":"Running","podIP":"10.1.1.9"}},
      {"kind":"Pod","metadata":{"name":"agent","namespace":"vamp","labels":{"app":"agent"}},
       "spec":{"nodeName":"n1","hostNetwork":true},
       "status":{"phase":"Running","podIP":"192.168.0.10"}},
      {"kind":"Service","metadata":{"name":"es","namespace":"vamp"},
       "spec":{"clusterIP":"10.96.0.20","selector":{"app":"es"},
               "ports":[{"name":"web","port":80,"targetPort":"http"}]}},
      {"kind":"Service","metadata":{"name":"legacy","namespace":"vamp"},
       "spec":{"clusterIP":"10.96.0.21","ports":[{"port":9200}]}},
      {"kind":"EndpointSlice","metadata":{"name":"legacy-x","namespace":"vamp",
         "labels":{"kubernetes.io/service-name":"legacy"}},
       "endpoints":[{"addresses":["10.1.0.5"],
                     "targetRef":{"kind":"Pod","name":"es-0","namespace":"vamp"}}]},
      {"kind":"NetworkPolicy","metadata":{"name":"es-in","namespace":"vamp"},
       "spec":{"podSelector":{"matchLabels":{"app":"es"}},
               "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"kibana"}}}]}]}}]}"#;

    fn snapshot() -> Snapshot {
        Snapshot::from_text(CLUSTER, "cluster.json", None).unwrap()
    }

    fn subject(text: &str) -> Subject {
        Subject::parse(text).unwrap()
    }

    fn eval(engine: &Engine<'_>, src: &str, dst: &str, port: u16) -> Evaluation {
        engine
            .evaluate(&subject(src), &subject(dst), port, Protocol::Tcp)
            .unwrap()
    }

    #[test]
    fn subjects_parse_as_pods_addresses_and_services() {
        assert_eq!(
            subject("vamp/es-0"),
            Subject::Pod {
                namespace: "vamp".into(),
                name: "es-0".into()
            }
        );
        assert_eq!(
            subject(" 10.0.0.1 "),
            Subject::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(subject("fd00::1"), Subject::Ip("fd00::1".parse().unwrap()));
        assert_eq!(
            subject("svc/vamp/es"),
            Subject::Service {
                namespace: "vamp".into(),
                name: "es".into()
            }
        );
        assert_eq!(subject("svc/vamp/es").to_string(), "svc/vamp/es");
        for bad in [
            "",
            "es-0",
            "a/b/c",
            "svc/vamp/",
            "vamp/",
            "10.0.0.300",
            "a b/c",
        ] {
            assert!(
                matches!(Subject::parse(bad), Err(PolicyError::BadSubject { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn unknown_pods_and_services_are_errors() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let err = engine
            .evaluate(
                &subject("vamp/nope"),
                &subject("vamp/es-0"),
                80,
                Protocol::Tcp,
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "pod vamp/nope is not in the snapshot");
        let err = engine
            .evaluate(
                &subject("vamp/es-0"),
                &subject("svc/vamp/nope"),
                80,
                Protocol::Tcp,
            )
            .unwrap_err();
        assert!(matches!(err, PolicyError::UnknownService { .. }));
        let err = engine
            .evaluate(
                &subject("svc/vamp/es"),
                &subject("vamp/es-0"),
                80,
                Protocol::Tcp,
            )
            .unwrap_err();
        assert!(matches!(err, PolicyError::ServiceSource { .. }));
    }

    #[test]
    fn traffic_from_the_destination_pods_node_is_host_traffic() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "192.168.0.10", "vamp/es-0", 9200);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert_eq!(
            e.host_traffic.as_ref().unwrap().reason,
            "host traffic, not subject to NetworkPolicy"
        );
        assert_eq!(e.ingress.verdict, SideVerdict::NotApplicable);
        assert!(matches!(e.src, Party::Node { ref name, .. } if name == "n1"));
        let e = eval(&engine, "vamp/agent", "vamp/es-0", 9200);
        assert!(
            e.host_traffic.is_some(),
            "a hostNetwork pod on the same node"
        );
    }

    #[test]
    fn traffic_from_another_node_is_subject_to_ingress_policy() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "192.168.0.11", "vamp/es-0", 9200);
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(e.host_traffic.is_none());
        assert_eq!(e.egress.verdict, SideVerdict::NotApplicable);
        assert!(matches!(e.egress.exemption, Some(Exemption::Node { .. })));
    }

    #[test]
    fn host_network_pods_are_not_isolated_and_only_ipblocks_match_them() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "vamp/kibana-0", "vamp/agent", 80);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert!(!e.ingress.isolated);
        assert!(matches!(
            e.ingress.exemption,
            Some(Exemption::HostNetwork { .. })
        ));
        let e = eval(&engine, "vamp/agent", "vamp/es-1", 9201);
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(e.ingress.notes[0].contains("hostNetwork pod"), "{e}");
    }

    #[test]
    fn a_service_is_translated_to_every_backend_on_its_target_port() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "vamp/kibana-0", "svc/vamp/es", 80);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        let ports: Vec<(String, u16)> = e
            .backends
            .iter()
            .map(|b| (b.backend.to_string(), b.port))
            .collect();
        assert_eq!(
            ports,
            [
                ("vamp/es-0".to_string(), 9200),
                ("vamp/es-1".to_string(), 9201)
            ]
        );
        let text = e.to_string();
        assert!(
            text.contains("service port 80 → pod port 9200 (named port \"http\") on es-0"),
            "{text}"
        );
        let by_ip = eval(&engine, "vamp/kibana-0", "10.96.0.20", 80);
        assert!(matches!(by_ip.dst, Party::Service { ip: Some(_), .. }));
        assert_eq!(by_ip.backends.len(), 2);
    }

    #[test]
    fn a_service_is_allowed_only_when_every_backend_allows() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "203.0.113.5", "svc/vamp/es", 80);
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(e.backends.iter().all(|b| b.verdict == PolicyVerdict::Deny));
        let e = eval(&engine, "192.168.0.10", "svc/vamp/es", 80);
        assert_eq!(
            e.verdict,
            PolicyVerdict::Deny,
            "host traffic only to es-0 on n1"
        );
        assert_eq!(e.backends[0].verdict, PolicyVerdict::Allow);
        assert_eq!(e.backends[1].verdict, PolicyVerdict::Deny);
        assert_eq!(
            e.ingress.subject, "vamp/es-1",
            "the denying backend is shown"
        );
    }

    #[test]
    fn a_service_without_selector_uses_its_endpoint_slices() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "vamp/kibana-0", "svc/vamp/legacy", 9200);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        let t = e.service.as_ref().unwrap();
        assert_eq!(t.backends_from, "endpoint_slices");
        assert_eq!(e.backends.len(), 1);
        assert_eq!(e.backends[0].port, 9200);
    }

    #[test]
    fn a_service_port_that_does_not_exist_is_said() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "vamp/kibana-0", "svc/vamp/es", 9200);
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        let problem = e.service.as_ref().unwrap().problem.as_deref().unwrap();
        assert_eq!(
            problem,
            "service vamp/es has no port 9200/TCP (its ports: 80/TCP)"
        );
        assert!(e.to_string().contains(problem));
        assert!(matches!(
            e.ingress.exemption,
            Some(Exemption::NoDestination)
        ));
    }

    #[test]
    fn cached_evaluations_are_computed_once_per_connection() {
        let engine = Engine::shared(Arc::new(snapshot()));
        let (src, dst) = (subject("vamp/kibana-0"), subject("vamp/es-0"));
        let a = engine
            .evaluate_cached(&src, &dst, 9200, Protocol::Tcp)
            .unwrap();
        let b = engine
            .evaluate_cached(&src, &dst, 9200, Protocol::Tcp)
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        engine
            .evaluate_cached(&src, &dst, 9300, Protocol::Tcp)
            .unwrap();
        let missing = subject("vamp/nope");
        assert!(engine
            .evaluate_cached(&missing, &dst, 1, Protocol::Tcp)
            .is_err());
        assert_eq!(engine.cached(), 3);
    }

    #[test]
    fn the_engine_is_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Engine<'static>>();
        send_sync::<Engine<'_>>();
        let s = snapshot();
        let engine = Engine::new(&s);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let e = engine
                        .evaluate_cached(
                            &subject("vamp/kibana-0"),
                            &subject("svc/vamp/es"),
                            80,
                            Protocol::Tcp,
                        )
                        .unwrap();
                    assert_eq!(e.verdict, PolicyVerdict::Allow);
                });
            }
        });
        assert_eq!(engine.cached(), 1);
    }
}
