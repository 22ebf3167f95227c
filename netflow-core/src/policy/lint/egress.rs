//! Egress allow-lists: once a pod is isolated for egress, everything it needs must be listed,
//! and two things are forgotten most: DNS (UDP and TCP 53 to kube-dns; TCP carries the large
//! answers) and the Kubernetes API server (which controllers, operators and anything with a
//! client library talk to). Each is checked by evaluating the pod's egress to the real
//! kube-dns pods (or, when the snapshot has none, a stand-in labelled `k8s-app=kube-dns` in
//! kube-system) and to the API server's endpoints, with the engine's exact semantics.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::{Cluster, Finding, ObjectRef, Rule, Severity};
use crate::cluster::model::{ContainerPort, IntOrString, Pod};
use crate::flow::Protocol;
use crate::policy::eval::{Peer, Probe};
use crate::policy::verdict::{PolicyType, SideVerdict};

pub(super) fn check(cluster: &Cluster<'_>, out: &mut Vec<Finding>) {
    let stand_in;
    let dns_pods = kube_dns(cluster);
    let dns_pod: &Pod = match dns_pods.first() {
        Some(p) => p,
        None => {
            stand_in = stand_in_dns();
            &stand_in
        }
    };
    let dns_name = if dns_pods.is_empty() {
        "kube-dns (none in the snapshot: a pod labelled k8s-app=kube-dns in kube-system)"
            .to_string()
    } else {
        format!("kube-dns ({}/{})", dns_pod.namespace, dns_pod.name)
    };
    let api = api_server(cluster);
    // (namespace, isolating policies, udp denied, tcp denied) → pods
    let mut dns: BTreeMap<(String, Vec<String>, bool, bool), Vec<&Pod>> = BTreeMap::new();
    let mut api_denied: BTreeMap<(String, Vec<String>), Vec<&Pod>> = BTreeMap::new();
    for pod in cluster.pods.iter().copied().filter(|p| !p.host_network) {
        let isolating = cluster.isolating(pod, PolicyType::Egress);
        if isolating.is_empty() {
            continue;
        }
        let ids: Vec<String> = isolating
            .iter()
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect();
        let denied = |peer: &Peer<'_>, dst_pod: Option<&Pod>, port: u16, protocol: Protocol| {
            let side = cluster.policies.side(
                cluster.snapshot,
                PolicyType::Egress,
                pod,
                peer,
                Probe {
                    dst_pod,
                    port,
                    protocol,
                },
            );
            side.verdict == SideVerdict::Deny
        };
        // A hostNetwork kube-dns answers from its node's address: only ipBlocks match it.
        let peer = if dns_pod.host_network {
            Peer::Address {
                ips: dns_pod.ips.clone(),
                what: format!("hostNetwork pod {}/{}", dns_pod.namespace, dns_pod.name),
            }
        } else {
            Peer::Pod {
                pod: dns_pod,
                ips: dns_pod.ips.clone(),
            }
        };
        let udp = denied(&peer, Some(dns_pod), 53, Protocol::Udp);
        let tcp = denied(&peer, Some(dns_pod), 53, Protocol::Tcp);
        if udp || tcp {
            dns.entry((pod.namespace.clone(), ids.clone(), udp, tcp))
                .or_default()
                .push(pod);
        }
        // A bare default deny is reported for DNS; the API server is a question for lists of
        // what is allowed, where someone chose what to let out.
        let allow_list = isolating.iter().any(|p| {
            p.spec
                .egress
                .as_ref()
                .is_some_and(|rules| !rules.is_empty())
        });
        if let Some((ips, port)) = api.as_ref().filter(|_| allow_list) {
            let peer = Peer::Address {
                ips: ips.clone(),
                what: "the API server".to_string(),
            };
            if denied(&peer, None, *port, Protocol::Tcp) {
                api_denied
                    .entry((pod.namespace.clone(), ids))
                    .or_default()
                    .push(pod);
            }
        }
    }
    for ((ns, ids, udp, tcp), pods) in dns {
        let (severity, what) = match (udp, tcp) {
            (true, true) => (Severity::Error, "UDP 53 and TCP 53"),
            (true, false) => (Severity::Error, "UDP 53"),
            _ => (Severity::Warning, "TCP 53 (answers too large for UDP fail)"),
        };
        out.push(
            Finding::new(Rule::EgressWithoutDns, severity, Some(&ns))
                .objects(policy_refs(&ids))
                .says(
                    format!(
                        "egress of {} in {ns} ({}) is isolated by {} and denies {what} to {dns_name}: \
                         name lookups fail",
                        super::count(pods.len(), "pod"),
                        cluster.owners_text(&pods, 3),
                        ids.join(", ")
                    ),
                    format!(
                        "add an egress rule to {}: to namespaceSelector {{kubernetes.io/metadata.name: \
                         kube-system}} with podSelector {{k8s-app: kube-dns}}, ports UDP 53 and TCP 53",
                        ids[0]
                    ),
                ),
        );
    }
    if let Some((ips, port)) = &api {
        let addresses: Vec<String> = ips.iter().map(|ip| format!("{ip}:{port}")).collect();
        for ((ns, ids), pods) in api_denied {
            out.push(
                Finding::new(Rule::EgressWithoutApiServer, Severity::Info, Some(&ns))
                    .objects(policy_refs(&ids))
                    .says(
                        format!(
                            "egress of {} in {ns} ({}) is isolated by {} and denies the API \
                             server ({}): fine for most apps, fatal for controllers, operators \
                             and anything using the service account token",
                            super::count(pods.len(), "pod"),
                            cluster.owners_text(&pods, 3),
                            ids.join(", "),
                            super::list(addresses.iter().cloned(), 3)
                        ),
                        format!(
                            "if they talk to the API: add an egress rule to {} with ipBlock {} on TCP {port}",
                            ids[0],
                            super::list(ips.iter().map(|ip| format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 })), 3)
                        ),
                    ),
            );
        }
    }
}

fn policy_refs(ids: &[String]) -> Vec<ObjectRef> {
    ids.iter()
        .filter_map(|id| id.split_once('/'))
        .map(|(ns, name)| ObjectRef::new("NetworkPolicy", ns, name))
        .collect()
}

/// The kube-dns pods: the backends of Service kube-system/kube-dns, else pods labelled
/// `k8s-app=kube-dns`.
fn kube_dns<'s>(cluster: &Cluster<'s>) -> Vec<&'s Pod> {
    let selector = cluster
        .snapshot
        .services
        .iter()
        .find(|s| s.namespace == "kube-system" && s.name == "kube-dns")
        .and_then(|s| s.selector.clone())
        .unwrap_or_else(|| {
            [("k8s-app".to_string(), "kube-dns".to_string())]
                .into_iter()
                .collect()
        });
    cluster
        .pods_in("kube-system")
        .filter(|p| selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
        .collect()
}

/// What kube-dns looks like on nearly every cluster, when the snapshot holds no kube-system pods.
fn stand_in_dns() -> Pod {
    let port = |name: &str, protocol: &str| ContainerPort {
        name: Some(name.to_string()),
        container_port: 53,
        protocol: Some(protocol.to_string()),
    };
    Pod {
        namespace: "kube-system".to_string(),
        name: "kube-dns".to_string(),
        labels: Arc::new(
            [("k8s-app".to_string(), "kube-dns".to_string())]
                .into_iter()
                .collect(),
        ),
        container_ports: vec![port("dns", "UDP"), port("dns-tcp", "TCP")],
        ..Default::default()
    }
}

/// The API server's addresses and port: the endpoints of Service default/kubernetes, on its
/// target port. `None` when the snapshot does not have them.
fn api_server(cluster: &Cluster<'_>) -> Option<(Vec<IpAddr>, u16)> {
    let service = cluster
        .snapshot
        .services
        .iter()
        .find(|s| s.namespace == "default" && s.name == "kubernetes")?;
    let port = service
        .ports
        .iter()
        .find(|p| p.name.as_deref() == Some("https"))
        .or(service.ports.first())?;
    let target = match &port.target_port {
        Some(IntOrString::Int(t)) => *t,
        Some(IntOrString::String(s)) => s.trim().parse().ok()?,
        None => port.port,
    };
    let mut ips: Vec<IpAddr> = cluster
        .snapshot
        .endpoint_slices
        .iter()
        .filter(|s| s.namespace == "default" && s.service_name.as_deref() == Some("kubernetes"))
        .flat_map(|s| s.endpoints.iter().flat_map(|e| e.addresses.iter().copied()))
        .collect();
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        return None;
    }
    Some((ips, u16::try_from(target).ok()?))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{findings, namespace, pod, policy, service};
    use super::*;

    fn cluster(policies: &[String]) -> String {
        let mut items = vec![
            namespace("shop", "{}"),
            namespace("kube-system", "{}"),
            pod("shop", "web-0", r#"{"app":"web"}"#, "10.244.1.5", "[]"),
            pod(
                "kube-system",
                "coredns-0",
                r#"{"k8s-app":"kube-dns"}"#,
                "10.244.1.2",
                r#"[{"name":"coredns","ports":[{"containerPort":53,"protocol":"UDP","name":"dns"},{"containerPort":53,"name":"dns-tcp"}]}]"#,
            ),
            service(
                "kube-system",
                "kube-dns",
                "10.96.0.10",
                r#"{"k8s-app":"kube-dns"}"#,
                r#"[{"port":53,"protocol":"UDP"}]"#,
            ),
            service(
                "default",
                "kubernetes",
                "10.96.0.1",
                "null",
                r#"[{"name":"https","port":443,"targetPort":6443}]"#,
            ),
            r#"{"kind":"EndpointSlice","metadata":{"name":"kubernetes","namespace":"default",
                "labels":{"kubernetes.io/service-name":"kubernetes"}},
               "endpoints":[{"addresses":["172.16.0.2"]}]}"#
                .to_string(),
        ];
        items.extend_from_slice(policies);
        items.join(",")
    }

    const DNS_RULE: &str = r#"{"to":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}},"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}}],"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]}"#;

    #[test]
    fn a_default_deny_egress_without_dns_is_an_error() {
        let items = cluster(&[policy(
            "shop",
            "deny-out",
            r#"{"podSelector":{},"policyTypes":["Egress"]}"#,
        )]);
        let found = findings(&items, Rule::EgressWithoutDns);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(
            found[0].objects[0].to_string(),
            "NetworkPolicy shop/deny-out"
        );
        assert!(
            found[0]
                .message
                .contains("UDP 53 and TCP 53 to kube-dns (kube-system/coredns-0)"),
            "{}",
            found[0].message
        );
        assert!(
            findings(&items, Rule::EgressWithoutApiServer).is_empty(),
            "a bare default deny is no allow-list"
        );
    }

    #[test]
    fn dns_over_udp_only_is_a_warning_about_tcp() {
        let udp_only = r#"{"to":[{"namespaceSelector":{},"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}}],"ports":[{"port":53,"protocol":"UDP"}]}"#;
        let items = cluster(&[policy(
            "shop",
            "out",
            &format!(r#"{{"podSelector":{{}},"policyTypes":["Egress"],"egress":[{udp_only}]}}"#),
        )]);
        let found = findings(&items, Rule::EgressWithoutDns);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Warning);
    }

    #[test]
    fn an_egress_list_with_dns_raises_no_dns_finding_but_notes_the_api_server() {
        let items = cluster(&[policy(
            "shop",
            "out",
            &format!(r#"{{"podSelector":{{}},"policyTypes":["Egress"],"egress":[{DNS_RULE}]}}"#),
        )]);
        assert!(findings(&items, Rule::EgressWithoutDns).is_empty());
        let api = findings(&items, Rule::EgressWithoutApiServer);
        assert_eq!(api.len(), 1, "{api:?}");
        assert_eq!(api[0].severity, Severity::Info);
        assert!(
            api[0].message.contains("172.16.0.2:6443"),
            "{}",
            api[0].message
        );
        assert!(
            api[0].fix.contains("ipBlock 172.16.0.2/32 on TCP 6443"),
            "{}",
            api[0].fix
        );
    }

    #[test]
    fn an_egress_list_with_the_api_server_raises_nothing_about_it() {
        let api_rule = r#"{"to":[{"ipBlock":{"cidr":"172.16.0.2/32"}}],"ports":[{"port":6443}]}"#;
        let items = cluster(&[policy(
            "shop",
            "out",
            &format!(
                r#"{{"podSelector":{{}},"policyTypes":["Egress"],"egress":[{DNS_RULE},{api_rule}]}}"#
            ),
        )]);
        assert!(findings(&items, Rule::EgressWithoutApiServer).is_empty());
        let open = cluster(&[policy(
            "shop",
            "in-only",
            r#"{"podSelector":{},"ingress":[]}"#,
        )]);
        assert!(findings(&open, Rule::EgressWithoutApiServer).is_empty());
        assert!(findings(&open, Rule::EgressWithoutDns).is_empty());
    }

    #[test]
    fn a_host_network_kube_dns_is_matched_by_ip_blocks_only() {
        let selector_rule = policy(
            "shop",
            "out",
            &format!(r#"{{"podSelector":{{}},"policyTypes":["Egress"],"egress":[{DNS_RULE}]}}"#),
        );
        let items = cluster(&[selector_rule]).replace(
            r#""spec":{"nodeName":"n1","containers":[{"name":"coredns""#,
            r#""spec":{"nodeName":"n1","hostNetwork":true,"containers":[{"name":"coredns""#,
        );
        assert!(items.contains("hostNetwork"), "the fixture changed");
        let found = findings(&items, Rule::EgressWithoutDns);
        assert_eq!(found.len(), 1, "{found:?}");
        let block_rule = r#"{"to":[{"ipBlock":{"cidr":"10.244.1.2/32"}}],"ports":[{"port":53,"protocol":"UDP"},{"port":53}]}"#;
        let items = cluster(&[policy(
            "shop",
            "out",
            &format!(r#"{{"podSelector":{{}},"policyTypes":["Egress"],"egress":[{block_rule}]}}"#),
        )])
        .replace(
            r#""spec":{"nodeName":"n1","containers":[{"name":"coredns""#,
            r#""spec":{"nodeName":"n1","hostNetwork":true,"containers":[{"name":"coredns""#,
        );
        assert!(findings(&items, Rule::EgressWithoutDns).is_empty());
    }

    #[test]
    fn without_kube_dns_in_the_snapshot_a_stand_in_is_evaluated() {
        let items = [
            namespace("shop", "{}"),
            pod("shop", "web-0", r#"{"app":"web"}"#, "10.244.1.5", "[]"),
            policy(
                "shop",
                "out",
                &format!(
                    r#"{{"podSelector":{{}},"policyTypes":["Egress"],"egress":[{DNS_RULE}]}}"#
                ),
            ),
        ]
        .join(",");
        assert!(findings(&items, Rule::EgressWithoutDns).is_empty());
        let items = items.replace("kube-dns\"}}}]", "coredns\"}}}]");
        let found = findings(&items, Rule::EgressWithoutDns);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("none in the snapshot"),
            "{}",
            found[0].message
        );
    }
}
