//! Ports: a rule port that is a Service's port rather than the port its pods listen on
//! (`service-port`: policies see connections after the Service is translated, so the Service
//! port never matches unless a container also listens on it), and a named port that the pods
//! on that end do not declare (`named-port`: it matches nothing on them).
//!
//! The pods on "that end" are those the policy selects for an ingress rule, and those the
//! rule's selector peers select for an egress rule.

use std::collections::BTreeSet;

use super::{Cluster, Finding, ObjectRef, Rule, Severity};
use crate::cluster::model::{IntOrString, NetworkPolicy, Pod, PolicyPort, PolicyRule};
use crate::flow::Protocol;
use crate::policy::eval::{entry_protocol, named_port, port_number, rules_of};
use crate::policy::verdict::PolicyType;

pub(super) fn check(cluster: &Cluster<'_>, out: &mut Vec<Finding>) {
    for policy in &cluster.snapshot.policies {
        for direction in [PolicyType::Ingress, PolicyType::Egress] {
            for (r, rule) in rules_of(&policy.spec, direction)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some(pods) = pods_on_port_end(cluster, policy, direction, rule) else {
                    continue;
                };
                if pods.is_empty() {
                    continue;
                }
                let at = format!("{} rule {}", direction.field(), r + 1);
                for entry in rule.ports.iter().flatten() {
                    let (protocol_text, Some(protocol)) = entry_protocol(entry) else {
                        continue;
                    };
                    let Some(port) = entry.port.as_ref() else {
                        continue;
                    };
                    match (port_number(port), port) {
                        (Some(n), _) if entry.end_port.is_none() => {
                            service_port(cluster, policy, &at, rule, &pods, n, protocol, out)
                        }
                        (None, IntOrString::String(name)) => {
                            named(cluster, policy, &at, &pods, name, &protocol_text, out)
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// The pods a rule's ports apply to: those the policy selects (ingress), or those the rule's
/// selector peers select (egress; every pod when the rule names no peer). `None` when only
/// ipBlocks say where the traffic goes.
fn pods_on_port_end<'s>(
    cluster: &Cluster<'s>,
    policy: &NetworkPolicy,
    direction: PolicyType,
    rule: &PolicyRule,
) -> Option<Vec<&'s Pod>> {
    match direction {
        PolicyType::Ingress => Some(cluster.selected(policy)),
        PolicyType::Egress => match rule.peers.as_deref() {
            None | Some([]) => Some(
                cluster
                    .pods
                    .iter()
                    .copied()
                    .filter(|p| !p.host_network)
                    .collect(),
            ),
            Some(peers) => {
                let mut seen = BTreeSet::new();
                let mut pods = Vec::new();
                let mut any = false;
                for peer in peers {
                    if let Some(selected) = cluster.peer_pods(policy, peer) {
                        any = true;
                        for p in selected {
                            if seen.insert((&p.namespace, &p.name)) {
                                pods.push(p);
                            }
                        }
                    }
                }
                any.then_some(pods)
            }
        },
    }
}

fn protocol_of(text: Option<&str>) -> String {
    text.map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or("TCP")
        .to_ascii_uppercase()
}

/// Whether the rule's ports allow `port` on `pod`.
fn allows(rule: &PolicyRule, pod: &Pod, port: i64, protocol: Protocol) -> bool {
    rule.ports.iter().flatten().any(|entry: &PolicyPort| {
        let (text, parsed) = entry_protocol(entry);
        if parsed != Some(protocol) {
            return false;
        }
        match entry.port.as_ref() {
            None => true,
            Some(p) => match port_number(p) {
                Some(n) => n <= port && port <= entry.end_port.unwrap_or(n),
                None => match p {
                    IntOrString::String(name) => {
                        named_port(pod, name, &text).map(i64::from) == Some(port)
                    }
                    IntOrString::Int(_) => false,
                },
            },
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn service_port(
    cluster: &Cluster<'_>,
    policy: &NetworkPolicy,
    at: &str,
    rule: &PolicyRule,
    pods: &[&Pod],
    port: i64,
    protocol: Protocol,
    out: &mut Vec<Finding>,
) {
    let protocol_text = protocol.to_string();
    let declares = |pod: &Pod| {
        pod.container_ports.iter().any(|c| {
            c.container_port == port && protocol_of(c.protocol.as_deref()) == protocol_text
        })
    };
    if pods.iter().any(|p| declares(p)) {
        return;
    }
    for service in &cluster.snapshot.services {
        let Some(selector) = &service.selector else {
            continue;
        };
        let Some(backend) = pods.iter().find(|p| {
            p.namespace == service.namespace
                && selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
        }) else {
            continue;
        };
        for sp in &service.ports {
            if sp.port != port || protocol_of(sp.protocol.as_deref()) != protocol_text {
                continue;
            }
            let (target, how) = match &sp.target_port {
                None => continue,
                Some(IntOrString::Int(t)) => (Some(*t), format!("targetPort {t}")),
                Some(IntOrString::String(s)) => match s.trim().parse::<i64>() {
                    Ok(t) => (Some(t), format!("targetPort {t}")),
                    Err(_) => (
                        named_port(backend, s, &protocol_text).map(i64::from),
                        format!("targetPort {s:?}"),
                    ),
                },
            };
            let Some(target) = target.filter(|t| *t != port) else {
                continue;
            };
            if allows(rule, backend, target, protocol) {
                continue;
            }
            let service_id = format!("{}/{}", service.namespace, service.name);
            let instead = match &sp.target_port {
                Some(IntOrString::String(s)) if s.trim().parse::<i64>().is_err() => {
                    format!("{target} (or the named port {s:?})")
                }
                _ => target.to_string(),
            };
            out.push(
                Finding::new(Rule::ServicePort, Severity::Error, Some(&policy.namespace))
                    .objects([
                        ObjectRef::policy(policy),
                        ObjectRef::new("Service", &service.namespace, &service.name),
                    ])
                    .says(
                        format!(
                            "{}/{} {at} allows {port}/{protocol_text}, the port of Service \
                             {service_id}; its pods listen on {target} ({how}) and policies see \
                             the pod port, so the entry never matches traffic through the Service",
                            policy.namespace, policy.name
                        ),
                        format!(
                            "allow port {instead} instead of {port} in {at} of {}/{}",
                            policy.namespace, policy.name
                        ),
                    ),
            );
        }
    }
}

fn named(
    cluster: &Cluster<'_>,
    policy: &NetworkPolicy,
    at: &str,
    pods: &[&Pod],
    name: &str,
    protocol: &str,
    out: &mut Vec<Finding>,
) {
    let (declaring, lacking): (Vec<&Pod>, Vec<&Pod>) = pods
        .iter()
        .copied()
        .partition(|p| named_port(p, name, protocol).is_some());
    if lacking.is_empty() {
        return;
    }
    let other_protocols: BTreeSet<String> = lacking
        .iter()
        .flat_map(|p| p.container_ports.iter())
        .filter(|c| c.name.as_deref() == Some(name))
        .map(|c| protocol_of(c.protocol.as_deref()))
        .collect();
    let id = format!("{}/{}", policy.namespace, policy.name);
    let fix = if let Some(other) = other_protocols.iter().next() {
        format!("the pods declare {name:?} for {other}: set protocol: {other} in {at} of {id}")
    } else {
        format!(
            "name a containerPort {name:?} ({protocol}) on {}, or use the port number in {at} of {id}",
            cluster.owners_text(&lacking, 3)
        )
    };
    let finding = if declaring.is_empty() {
        Finding::new(Rule::NamedPort, Severity::Error, Some(&policy.namespace)).says(
            format!(
                "{id} {at} allows the named port {name:?} ({protocol}), which {} on that end \
                 ({}) {}: the entry matches nothing",
                if pods.len() == 1 {
                    "the one pod".to_string()
                } else {
                    format!("none of the {} pods", pods.len())
                },
                cluster.owners_text(pods, 3),
                if pods.len() == 1 {
                    "does not declare"
                } else {
                    "declares"
                }
            ),
            fix,
        )
    } else {
        Finding::new(Rule::NamedPort, Severity::Warning, Some(&policy.namespace)).says(
            format!(
                "{id} {at} allows the named port {name:?} ({protocol}), which {} of the {} on \
                 that end ({}) do not declare: it matches nothing on them",
                lacking.len(),
                super::count(pods.len(), "pod"),
                cluster.owners_text(&lacking, 3)
            ),
            fix,
        )
    };
    out.push(finding.objects([ObjectRef::policy(policy)]));
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{findings, namespace, pod, policy, service};
    use super::*;

    fn shop(policy_spec: &str) -> String {
        [
            namespace("shop", "{}"),
            pod(
                "shop",
                "web-0",
                r#"{"app":"web"}"#,
                "10.244.1.5",
                r#"[{"name":"web","ports":[{"containerPort":8080,"name":"http"}]}]"#,
            ),
            service(
                "shop",
                "web",
                "10.96.0.5",
                r#"{"app":"web"}"#,
                r#"[{"port":80,"targetPort":"http"}]"#,
            ),
            policy("shop", "web-in", policy_spec),
        ]
        .join(",")
    }

    #[test]
    fn the_service_port_in_an_ingress_rule_is_an_error_with_the_pod_port_as_fix() {
        let found = findings(
            &shop(
                r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"ports":[{"port":80}]}]}"#,
            ),
            Rule::ServicePort,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.objects[1].to_string(), "Service shop/web");
        assert!(
            f.message.contains("listen on 8080 (targetPort \"http\")"),
            "{}",
            f.message
        );
        assert_eq!(
            f.fix,
            "allow port 8080 (or the named port \"http\") instead of 80 in ingress rule 1 of shop/web-in"
        );
    }

    #[test]
    fn the_pod_port_or_its_name_raises_no_service_port() {
        for ports in [
            r#"[{"port":8080}]"#,
            r#"[{"port":"http"}]"#,
            r#"[{"port":80},{"port":8080}]"#,
        ] {
            let spec = format!(
                r#"{{"podSelector":{{"matchLabels":{{"app":"web"}}}},"ingress":[{{"ports":{ports}}}]}}"#
            );
            assert!(
                findings(&shop(&spec), Rule::ServicePort).is_empty(),
                "{ports}"
            );
        }
    }

    #[test]
    fn the_service_port_in_an_egress_rule_to_its_pods_is_an_error() {
        let mut items = shop(r#"{"podSelector":{}}"#);
        items.push(',');
        items.push_str(&policy(
            "shop",
            "client-out",
            r#"{"podSelector":{"matchLabels":{"app":"client"}},"policyTypes":["Egress"],
               "egress":[{"to":[{"podSelector":{"matchLabels":{"app":"web"}}}],"ports":[{"port":80}]}]}"#,
        ));
        let found = findings(&items, Rule::ServicePort);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("egress rule 1"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_named_port_no_selected_pod_declares_is_an_error() {
        let found = findings(
            &shop(
                r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"ports":[{"port":"metrics"}]}]}"#,
            ),
            Rule::NamedPort,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert!(
            found[0].message.contains("\"metrics\""),
            "{}",
            found[0].message
        );
        assert!(
            found[0].fix.contains("name a containerPort \"metrics\""),
            "{}",
            found[0].fix
        );
    }

    #[test]
    fn a_named_port_declared_for_another_protocol_says_which() {
        let found = findings(
            &shop(r#"{"podSelector":{},"ingress":[{"ports":[{"port":"http","protocol":"UDP"}]}]}"#),
            Rule::NamedPort,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].fix.contains("set protocol: TCP"),
            "{}",
            found[0].fix
        );
    }

    #[test]
    fn a_named_port_the_pods_declare_raises_nothing() {
        let found = findings(
            &shop(r#"{"podSelector":{},"ingress":[{"ports":[{"port":"http"}]}]}"#),
            Rule::NamedPort,
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
