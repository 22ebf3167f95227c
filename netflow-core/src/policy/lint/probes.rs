//! Kubelet probes: the kubelet probes a pod from the pod's own node. Most plugins exempt that
//! host traffic from NetworkPolicy (flowq's engine does too), but where one does not (a host
//! firewall, some eBPF modes), an ingress policy that admits no node address blocks the
//! probes: liveness and startup failures restart the container, readiness failures take the
//! pod out of its Services. Each probe is evaluated as a connection from the node's addresses
//! without the exemption.

use std::collections::BTreeMap;

use super::{Cluster, Finding, ObjectRef, Rule, Severity};
use crate::cluster::model::{IntOrString, Pod, ProbeKind};
use crate::flow::Protocol;
use crate::policy::eval::{named_port, Peer, Probe};
use crate::policy::verdict::{PolicyType, SideVerdict};

/// A probe of a workload: (owner, kind, handler, port).
type Key = (ObjectRef, ProbeKind, &'static str, u16);

/// Where a probe is blocked: the pods, their nodes, the policies isolating them.
type Blocked<'s> = (Vec<&'s Pod>, Vec<String>, Vec<String>);

pub(super) fn check(cluster: &Cluster<'_>, out: &mut Vec<Finding>) {
    let mut blocked: BTreeMap<Key, Blocked<'_>> = BTreeMap::new();
    for pod in cluster.pods.iter().copied() {
        if pod.host_network || pod.probes.is_empty() {
            continue;
        }
        let isolating = cluster.isolating(pod, PolicyType::Ingress);
        if isolating.is_empty() {
            continue;
        }
        let Some(node) = pod
            .node_name
            .as_ref()
            .and_then(|n| cluster.snapshot.nodes.iter().find(|x| &x.name == n))
        else {
            continue;
        };
        if node.internal_ips.is_empty() {
            continue;
        }
        let peer = Peer::Address {
            ips: node.internal_ips.clone(),
            what: format!("node {}", node.name),
        };
        for probe in &pod.probes {
            let port = match &probe.port {
                IntOrString::Int(n) => u16::try_from(*n).ok(),
                IntOrString::String(s) => {
                    s.trim().parse().ok().or_else(|| named_port(pod, s, "TCP"))
                }
            };
            let Some(port) = port else { continue };
            let side = cluster.policies.side(
                cluster.snapshot,
                PolicyType::Ingress,
                pod,
                &peer,
                Probe {
                    dst_pod: Some(pod),
                    port,
                    protocol: Protocol::Tcp,
                },
            );
            if side.verdict != SideVerdict::Deny {
                continue;
            }
            let entry = blocked
                .entry((cluster.owner(pod), probe.kind, probe.handler, port))
                .or_default();
            if !entry.0.iter().any(|p| std::ptr::eq(*p, pod)) {
                entry.0.push(pod);
            }
            if !entry.1.contains(&node.name) {
                entry.1.push(node.name.clone());
            }
            for p in &isolating {
                let id = format!("{}/{}", p.namespace, p.name);
                if !entry.2.contains(&id) {
                    entry.2.push(id);
                }
            }
        }
    }
    for ((owner, kind, handler, port), (pods, nodes, policies)) in blocked {
        let mut addresses: Vec<String> = cluster
            .snapshot
            .nodes
            .iter()
            .filter(|n| nodes.contains(&n.name))
            .flat_map(|n| n.internal_ips.iter())
            .map(|ip| ipnet::IpNet::from(*ip).to_string())
            .collect();
        addresses.sort();
        addresses.dedup();
        let severity = match kind {
            ProbeKind::Readiness => Severity::Info,
            ProbeKind::Liveness | ProbeKind::Startup => Severity::Warning,
        };
        let effect = match kind {
            ProbeKind::Readiness => "the pods would leave their Services",
            ProbeKind::Liveness | ProbeKind::Startup => "the containers would be restarted",
        };
        let namespace = owner.namespace.clone();
        let policy_refs = policies.iter().filter_map(|id| {
            id.split_once('/')
                .map(|(ns, name)| ObjectRef::new("NetworkPolicy", ns, name))
        });
        let mut objects: Vec<ObjectRef> = policy_refs.collect();
        objects.push(owner.clone());
        out.push(
            Finding::new(Rule::ProbeFromNode, severity, namespace.as_deref())
                .objects(objects)
                .says(
                    format!(
                        "the {} probe ({handler} :{port}) of {owner} ({}) comes from the kubelet on \
                         node {}, which no ingress rule of {} admits: where the network plugin does \
                         not exempt traffic from the pod's node, it fails and {effect}",
                        kind.as_str(),
                        super::count(pods.len(), "pod"),
                        super::list(nodes.iter().cloned(), 3),
                        policies.join(", ")
                    ),
                    format!(
                        "confirm the plugin exempts host traffic, or add an ingress rule to {} from \
                         ipBlock {} on TCP {port}",
                        policies[0],
                        super::list(addresses.into_iter(), 3)
                    ),
                ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{findings, namespace, pod, policy, NODE};
    use super::*;

    fn with_policy(spec: &str) -> String {
        [
            namespace("shop", "{}"),
            NODE.to_string(),
            pod(
                "shop",
                "web-0",
                r#"{"app":"web"}"#,
                "10.244.1.5",
                r#"[{"name":"web","ports":[{"containerPort":8080,"name":"http"}],
                     "livenessProbe":{"httpGet":{"path":"/healthz","port":"http"}},
                     "readinessProbe":{"exec":{"command":["true"]}}}]"#,
            ),
            policy("shop", "web-in", spec),
        ]
        .join(",")
    }

    #[test]
    fn a_liveness_probe_a_default_deny_blocks_without_the_node_exemption_is_a_warning() {
        let found = findings(
            &with_policy(r#"{"podSelector":{},"ingress":[{"from":[{"podSelector":{}}]}]}"#),
            Rule::ProbeFromNode,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.message.contains("liveness probe (httpGet :8080)"),
            "{}",
            f.message
        );
        assert!(f.message.contains("node n1"), "{}", f.message);
        assert_eq!(f.objects[0].to_string(), "NetworkPolicy shop/web-in");
        assert!(
            f.fix.ends_with("from ipBlock 10.0.0.11/32 on TCP 8080"),
            "{}",
            f.fix
        );
    }

    #[test]
    fn a_rule_admitting_the_node_or_no_isolation_raises_nothing() {
        for spec in [
            r#"{"podSelector":{},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/24"}}]}]}"#,
            r#"{"podSelector":{},"ingress":[{"ports":[{"port":8080}]}]}"#,
            r#"{"podSelector":{},"policyTypes":["Egress"]}"#,
        ] {
            let found = findings(&with_policy(spec), Rule::ProbeFromNode);
            assert!(found.is_empty(), "{spec}: {found:?}");
        }
    }
}
