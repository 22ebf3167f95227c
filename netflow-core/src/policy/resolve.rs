//! Who the two ends of a connection are: a [`Subject`] resolved against the snapshot to an
//! [`End`] (a pod, a node, a Service, an outside address), and what follows from an end alone:
//! whether traffic is host traffic, the peer the other end's policies see, the exemption of a
//! direction NetworkPolicy does not govern, and the end's description and [`Party`].

use std::net::IpAddr;

use super::eval::Peer;
use super::verdict::{Exemption, Party, PolicyType, SideResult, SideVerdict};
use super::{Engine, PolicyError, Subject};
use crate::cluster::model::{Pod, Service};
use crate::cluster::Owner;
use crate::flow::Identity;

/// A resolved end of a connection.
#[derive(Debug, Clone, Copy)]
pub(super) enum End<'a> {
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

impl<'s> Engine<'s> {
    pub(super) fn resolve(&self, subject: &Subject) -> Result<End<'_>, PolicyError> {
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
            Subject::Template {
                namespace,
                kind,
                name,
            } => snapshot
                .workload(namespace, kind, name)
                .map(|w| End::Pod {
                    pod: &w.template,
                    ip: None,
                })
                .ok_or_else(|| PolicyError::UnknownWorkload {
                    kind: kind.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                }),
        }
    }

    pub(super) fn resolve_ip(&self, ip: IpAddr) -> Result<End<'_>, PolicyError> {
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
            Identity::External
            | Identity::Network(_)
            | Identity::Unknown
            | Identity::Reserved { .. }
            | Identity::Cloud(_) => Ok(End::External { ip }),
        }
    }
}

/// Whether a pod holds its address now (not finished, has an address).
pub(super) fn holds_ip(pod: &Pod) -> bool {
    pod.ended.is_none()
        && !matches!(pod.phase.as_deref(), Some("Succeeded" | "Failed"))
        && !pod.ips.is_empty()
}

/// The node whose own traffic this is, when the source is the node the destination pod runs on
/// (its address, or a hostNetwork pod there).
pub(super) fn host_traffic_node<'a>(src: End<'a>, dst: End<'a>) -> Option<&'a str> {
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
pub(super) fn peer_of(end: End<'_>) -> (Peer<'_>, Option<String>) {
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

pub(super) fn exemption_of(end: End<'_>) -> Exemption {
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
pub(super) fn exempt(direction: PolicyType, subject: String, exemption: Exemption) -> SideResult {
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

pub(super) fn describe(end: End<'_>) -> String {
    match end {
        End::Pod { pod, .. } => format!("{}/{}", pod.namespace, pod.name),
        End::Node { name, ip } => format!("node {name} ({ip})"),
        End::Service { service, .. } => format!("{}/{} (service)", service.namespace, service.name),
        End::External { ip } => ip.to_string(),
    }
}

pub(super) fn party(end: End<'_>) -> Party {
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
