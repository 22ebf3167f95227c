//! What the flows saw: denied DNS queries (`denied-dns`), denied connections to the API server
//! (`denied-api-server`) and denied kubelet probes from the pod's own node (`denied-probe`).
//! The [`LintObserver`] takes flows one at a time, joined to their identities, and keeps one
//! group per rule and workload, so memory grows with the workloads involved, not the flows.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use super::{Finding, ObjectRef, Rule, Seen, Severity};
use crate::cluster::SnapshotSet;
use crate::flow::{Action, Endpoint, Flow, Identity, Protocol};

/// How many peers and places a finding names before it says "and more".
const SHOWN: usize = 3;

/// Collects, from flows, the denials lint reports: DNS, the API server, kubelet probes.
#[derive(Debug, Default)]
pub struct LintObserver {
    api_ips: HashSet<IpAddr>,
    groups: BTreeMap<(Rule, ObjectRef), Group>,
}

#[derive(Debug, Default)]
struct Group {
    seen: Seen,
    peers: BTreeSet<String>,
    more_peers: bool,
    places: BTreeSet<String>,
    more_places: bool,
    protocols: BTreeSet<String>,
}

fn note(set: &mut BTreeSet<String>, more: &mut bool, value: String) {
    if set.len() < SHOWN || set.contains(&value) {
        set.insert(value);
    } else {
        *more = true;
    }
}

fn shown(set: &BTreeSet<String>, more: bool) -> String {
    let mut text = super::list(set.iter().cloned(), SHOWN);
    if more {
        text.push_str(" and more");
    }
    text
}

/// The object a flow's end stands for: its workload (or pod), else what the log or the
/// snapshot says it is.
fn object_of(ep: &Endpoint) -> ObjectRef {
    match &ep.identity {
        Identity::Pod(p) => match &p.workload {
            Some(w) => ObjectRef::new(&w.kind, &p.namespace, &w.name),
            None => ObjectRef::new("Pod", &p.namespace, &p.name),
        },
        Identity::Unknown | Identity::External => ObjectRef {
            kind: "Address".to_string(),
            namespace: None,
            name: ep.ip.map(|ip| ip.to_string()).unwrap_or_else(|| "?".into()),
        },
        other => ObjectRef {
            kind: other.kind_name().to_string(),
            namespace: None,
            name: other.to_string(),
        },
    }
}

fn describe(ep: &Endpoint) -> String {
    match (&ep.identity, ep.ip) {
        (Identity::Unknown | Identity::External, Some(ip)) => ip.to_string(),
        (identity, _) => identity.to_string(),
    }
}

impl LintObserver {
    /// An observer knowing the API server's addresses from the snapshots (the ClusterIPs of
    /// Service default/kubernetes and its endpoints).
    pub fn new(snapshots: &SnapshotSet) -> LintObserver {
        let mut api_ips = HashSet::new();
        for s in snapshots.snapshots() {
            for service in s.services() {
                if service.namespace == "default" && service.name == "kubernetes" {
                    api_ips.extend(service.cluster_ips.iter().copied());
                }
            }
            for slice in s.endpoint_slices() {
                if slice.namespace == "default"
                    && slice.service_name.as_deref() == Some("kubernetes")
                {
                    api_ips.extend(
                        slice
                            .endpoints
                            .iter()
                            .flat_map(|e| e.addresses.iter().copied()),
                    );
                }
            }
        }
        LintObserver {
            api_ips,
            groups: BTreeMap::new(),
        }
    }

    /// Looks at one flow: a denied request to DNS, the API server, or a pod from its own node
    /// is counted; anything else is ignored.
    pub fn observe(&mut self, flow: &Flow) {
        if flow.action != Action::Denied || flow.is_reply == Some(true) {
            return;
        }
        let to_api = flow.dst.ip.is_some_and(|ip| self.api_ips.contains(&ip))
            || flow
                .dst
                .service
                .as_ref()
                .is_some_and(|s| s.namespace == "default" && s.name == "kubernetes");
        let from_own_node = match (&flow.src.identity, &flow.dst.identity) {
            (Identity::Node(n), Identity::Pod(p)) => n.name.is_some() && n.name == p.node,
            _ => false,
        };
        let dns =
            flow.dst.port == Some(53) && matches!(flow.protocol, Protocol::Udp | Protocol::Tcp);
        let (rule, object, peer) = if to_api {
            (
                Rule::DeniedApiServer,
                object_of(&flow.src),
                describe(&flow.dst),
            )
        } else if from_own_node {
            (Rule::DeniedProbe, object_of(&flow.dst), describe(&flow.src))
        } else if dns {
            (Rule::DeniedDns, object_of(&flow.src), describe(&flow.dst))
        } else {
            return;
        };
        let group = self.groups.entry((rule, object)).or_default();
        group.seen.attempts = group.seen.attempts.saturating_add(flow.count);
        if let Some(t) = flow.time {
            group.seen.first = Some(group.seen.first.map_or(t, |f| f.min(t)));
            group.seen.last = Some(group.seen.last.map_or(t, |l| l.max(t)));
        }
        let port = flow.dst.port.map(|p| format!(" {p}")).unwrap_or_default();
        group.protocols.insert(format!("{}{port}", flow.protocol));
        note(&mut group.peers, &mut group.more_peers, peer);
        let place = match &flow.node {
            Some(node) => format!("{} @ {node}", flow.direction.as_str()),
            None => flow.direction.as_str().to_string(),
        };
        note(&mut group.places, &mut group.more_places, place);
    }

    /// The findings, one per rule and workload.
    pub fn finish(self) -> Vec<Finding> {
        let mut out = Vec::new();
        for ((rule, object), g) in self.groups {
            let attempts = match g.seen.attempts {
                1 => "1 attempt".to_string(),
                n => format!("{n} attempts"),
            };
            let peers = shown(&g.peers, g.more_peers);
            let places = shown(&g.places, g.more_places);
            let protocols = super::list(g.protocols.iter().cloned(), SHOWN);
            let namespace = object.namespace.clone();
            let (message, fix) = match rule {
                Rule::DeniedDns => (
                    format!(
                        "{object} was denied DNS ({protocols}) to {peers} at {places}: {attempts}"
                    ),
                    format!(
                        "allow UDP and TCP 53 to kube-dns in the egress policies selecting {object}"
                    ),
                ),
                Rule::DeniedApiServer => (
                    format!(
                        "{object} was denied the API server ({protocols} to {peers}) at \
                         {places}: {attempts}"
                    ),
                    format!(
                        "allow the API server's endpoints (ipBlock /32 on its port) in the egress \
                         policies selecting {object}"
                    ),
                ),
                _ => (
                    format!(
                        "kubelet probes ({protocols}) from {peers} to {object} on its own node \
                         were denied at {places}: {attempts}; the plugin does not exempt the node here"
                    ),
                    format!(
                        "admit the node addresses (ipBlock) on the probe port in the ingress \
                         policies selecting {object}"
                    ),
                ),
            };
            let mut finding = Finding::new(rule, Severity::Error, namespace.as_deref())
                .objects([object])
                .says(message, fix);
            finding.seen = Some(g.seen);
            out.push(finding);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::Snapshot;
    use crate::flow::{NodeIdentity, PodIdentity, ServiceIdentity, Workload};

    fn pod(ns: &str, name: &str, node: &str) -> Identity {
        Identity::Pod(Arc::new(PodIdentity {
            namespace: ns.into(),
            name: name.into(),
            workload: Some(Workload {
                kind: "Deployment".into(),
                name: "web".into(),
            }),
            node: Some(node.into()),
            ..Default::default()
        }))
    }

    fn denied(src: Identity, dst_ip: &str, port: u16, protocol: Protocol) -> Flow {
        let mut flow = Flow::test_flow("10.244.1.5", dst_ip, port);
        flow.action = Action::Denied;
        flow.protocol = protocol;
        flow.src.identity = src;
        flow.count = 1;
        flow.node = Some("n1".into());
        flow
    }

    fn observer() -> LintObserver {
        let cluster = r#"{"kind":"List","items":[
          {"kind":"Service","metadata":{"name":"kubernetes","namespace":"default"},
           "spec":{"clusterIP":"10.96.0.1","ports":[{"name":"https","port":443,"targetPort":6443}]}}]}"#;
        LintObserver::new(&SnapshotSet::new(vec![Snapshot::from_text(
            cluster, "c.json", None,
        )
        .unwrap()]))
    }

    #[test]
    fn denied_dns_api_and_probes_are_counted_per_workload() {
        let mut o = observer();
        o.observe(&denied(
            pod("shop", "web-0", "n1"),
            "10.96.0.10",
            53,
            Protocol::Udp,
        ));
        o.observe(&denied(
            pod("shop", "web-1", "n1"),
            "10.96.0.10",
            53,
            Protocol::Udp,
        ));
        o.observe(&denied(
            pod("shop", "web-0", "n1"),
            "10.96.0.1",
            443,
            Protocol::Tcp,
        ));
        let mut probe = denied(
            Identity::Node(NodeIdentity {
                name: Some("n1".into()),
                host_network_pods: Vec::new(),
            }),
            "10.244.1.5",
            8080,
            Protocol::Tcp,
        );
        probe.dst.identity = pod("shop", "web-0", "n1");
        o.observe(&probe);
        let found = o.finish();
        let rules: Vec<Rule> = found.iter().map(|f| f.rule).collect();
        assert_eq!(
            rules,
            [Rule::DeniedDns, Rule::DeniedApiServer, Rule::DeniedProbe]
        );
        assert_eq!(found[0].seen.as_ref().unwrap().attempts, 2);
        assert_eq!(found[0].objects[0].to_string(), "Deployment shop/web");
        assert!(found[0].message.contains("UDP 53"), "{}", found[0].message);
        assert!(found[2].message.contains("node n1"), "{}", found[2].message);
        assert!(found.iter().all(|f| f.severity == Severity::Error));
    }

    #[test]
    fn allowed_flows_replies_and_other_denials_are_not_findings() {
        let mut o = observer();
        let mut allowed = denied(pod("shop", "web-0", "n1"), "10.96.0.10", 53, Protocol::Udp);
        allowed.action = Action::Allowed;
        o.observe(&allowed);
        let mut reply = denied(pod("shop", "web-0", "n1"), "10.96.0.10", 53, Protocol::Udp);
        reply.is_reply = Some(true);
        o.observe(&reply);
        o.observe(&denied(
            pod("shop", "web-0", "n1"),
            "10.244.2.9",
            9200,
            Protocol::Tcp,
        ));
        let mut other_node = denied(
            Identity::Node(NodeIdentity {
                name: Some("n2".into()),
                host_network_pods: Vec::new(),
            }),
            "10.244.1.5",
            8080,
            Protocol::Tcp,
        );
        other_node.dst.identity = pod("shop", "web-0", "n1");
        o.observe(&other_node);
        let mut to_service = denied(pod("shop", "web-0", "n1"), "10.1.2.3", 443, Protocol::Tcp);
        to_service.dst.service = Some(ServiceIdentity {
            namespace: "shop".into(),
            name: "api".into(),
        });
        o.observe(&to_service);
        assert!(o.finish().is_empty());
    }
}
