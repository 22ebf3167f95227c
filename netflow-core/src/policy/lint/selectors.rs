//! Selectors: a podSelector that selects no pod (the policy's own, or a peer's), a policy that
//! covers only part of the backends of a Service (its podSelector differs from the Service's
//! selector and the rest are left open), a namespaceSelector that matches no namespace (most
//! often a label like `name=kube-system` nobody put on the namespace), and pods that no policy
//! selects in a namespace where the others are isolated.

use std::collections::BTreeSet;

use super::{Cluster, Finding, ObjectRef, Rule, Severity};
use crate::cluster::model::{NetworkPolicy, Pod};
use crate::cluster::selector::LabelSelector;
use crate::policy::eval::rules_of;
use crate::policy::verdict::PolicyType;

/// The label the API server sets on every namespace.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub(super) fn check(cluster: &Cluster<'_>, out: &mut Vec<Finding>) {
    for policy in &cluster.snapshot.policies {
        policy_selector(cluster, policy, out);
        peers(cluster, policy, out);
        service_backends(cluster, policy, out);
    }
    unselected(cluster, out);
}

fn selector_text(selector: &LabelSelector) -> String {
    selector.to_string()
}

fn policy_selector(cluster: &Cluster<'_>, policy: &NetworkPolicy, out: &mut Vec<Finding>) {
    let Some(selector) = policy.spec.pod_selector.as_ref().filter(|s| !s.is_empty()) else {
        return;
    };
    if !cluster.selected(policy).is_empty() {
        return;
    }
    let id = format!("{}/{}", policy.namespace, policy.name);
    let running = cluster.pods_in(&policy.namespace).count();
    let (severity, context) = if running == 0 {
        (
            Severity::Info,
            format!("namespace {} has no running pod yet", policy.namespace),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "none of the {} running in {} has those labels",
                super::count(running, "pod"),
                policy.namespace
            ),
        )
    };
    out.push(
        Finding::new(
            Rule::PodSelectorMatchesNothing,
            severity,
            Some(&policy.namespace),
        )
        .objects([ObjectRef::policy(policy)])
        .says(
            format!(
                "{id} selects pods with {}, and {context}: the policy applies to nothing",
                selector_text(selector)
            ),
            format!(
                "make the podSelector of {id} match the labels of the pods it is meant for \
                 (kubectl get pods -n {} --show-labels)",
                policy.namespace
            ),
        ),
    );
}

fn peers(cluster: &Cluster<'_>, policy: &NetworkPolicy, out: &mut Vec<Finding>) {
    let id = format!("{}/{}", policy.namespace, policy.name);
    for direction in [PolicyType::Ingress, PolicyType::Egress] {
        for (r, rule) in rules_of(&policy.spec, direction)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (p, peer) in rule.peers.iter().flatten().enumerate() {
                if peer.ip_block.is_some() {
                    continue;
                }
                let at = format!(
                    "{} rule {} {}[{p}]",
                    direction.field(),
                    r + 1,
                    direction.peers_field()
                );
                if let Some(ns_selector) =
                    peer.namespace_selector.as_ref().filter(|s| !s.is_empty())
                {
                    if cluster.peer_namespaces(policy, peer).is_empty() {
                        out.push(namespace_miss(cluster, policy, &at, ns_selector));
                        continue;
                    }
                }
                let Some(pod_selector) = peer.pod_selector.as_ref().filter(|s| !s.is_empty())
                else {
                    continue;
                };
                if cluster
                    .peer_pods(policy, peer)
                    .is_some_and(|pods| pods.is_empty())
                {
                    let scope = match &peer.namespace_selector {
                        None => format!("namespace {}", policy.namespace),
                        Some(s) => format!("the namespaces matching {}", selector_text(s)),
                    };
                    out.push(
                        Finding::new(
                            Rule::PodSelectorMatchesNothing,
                            Severity::Warning,
                            Some(&policy.namespace),
                        )
                        .objects([ObjectRef::policy(policy)])
                        .says(
                            format!(
                                "{id} {at}: podSelector {} selects no running pod in {scope}",
                                selector_text(pod_selector)
                            ),
                            format!(
                                "match the labels the peers really have in {at} of {id}, or add \
                                 a namespaceSelector when they live in another namespace"
                            ),
                        ),
                    );
                }
            }
        }
    }
}

fn namespace_miss(
    cluster: &Cluster<'_>,
    policy: &NetworkPolicy,
    at: &str,
    selector: &LabelSelector,
) -> Finding {
    let id = format!("{}/{}", policy.namespace, policy.name);
    let namespaces = &cluster.snapshot.namespaces;
    // `name: kube-system` and the like: a namespace's name used as a label it does not carry.
    let by_name = selector
        .match_labels
        .iter()
        .flatten()
        .find(|(k, v)| k.as_str() != NAME_LABEL && namespaces.contains_key(v.as_str()));
    let unknown: Vec<&str> = namespaces
        .keys()
        .filter(|n| !cluster.snapshot.namespace_known(n))
        .map(String::as_str)
        .collect();
    let mut message = format!(
        "{id} {at}: namespaceSelector {} matches none of the {} namespaces",
        selector_text(selector),
        namespaces.len()
    );
    if !unknown.is_empty() {
        message.push_str(&format!(
            " ({} without a Namespace object in the snapshot, whose labels are unknown)",
            super::list(unknown.iter().map(|s| s.to_string()), 3)
        ));
    }
    message.push_str(": the peer matches nothing");
    let fix = match by_name {
        Some((key, value)) => format!(
            "select {NAME_LABEL}={value} (the API server sets it on every namespace) instead of \
             {key}={value}, or kubectl label namespace {value} {key}={value}"
        ),
        None => format!(
            "label the namespaces meant (kubectl label namespace NAME {}) or fix {at} of {id}",
            selector
                .match_labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    };
    Finding::new(
        Rule::NamespaceSelectorMatchesNothing,
        Severity::Warning,
        Some(&policy.namespace),
    )
    .objects([ObjectRef::policy(policy)])
    .says(message, fix)
}

/// A policy isolating part of a Service's backends for ingress, leaving the rest open.
fn service_backends(cluster: &Cluster<'_>, policy: &NetworkPolicy, out: &mut Vec<Finding>) {
    let Some(selector) = policy.spec.pod_selector.as_ref().filter(|s| !s.is_empty()) else {
        return;
    };
    if !super::effective_types(&policy.spec)
        .0
        .contains(&PolicyType::Ingress)
    {
        return;
    }
    let selected = cluster.selected(policy);
    if selected.is_empty() {
        return;
    }
    let id = format!("{}/{}", policy.namespace, policy.name);
    for service in &cluster.snapshot.services {
        let Some(service_selector) = &service.selector else {
            continue;
        };
        if service.namespace != policy.namespace {
            continue;
        }
        let backends: Vec<&Pod> = cluster
            .pods_in(&service.namespace)
            .filter(|p| !p.host_network)
            .filter(|p| {
                service_selector
                    .iter()
                    .all(|(k, v)| p.labels.get(k) == Some(v))
            })
            .collect();
        let covered = backends
            .iter()
            .any(|b| selected.iter().any(|s| std::ptr::eq(*s, *b)));
        if !covered {
            continue;
        }
        let open: Vec<&Pod> = backends
            .iter()
            .copied()
            .filter(|b| cluster.isolating(b, PolicyType::Ingress).is_empty())
            .collect();
        if open.is_empty() {
            continue;
        }
        let service_labels: Vec<String> = service_selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push(
            Finding::new(
                Rule::SelectorDiffersFromService,
                Severity::Warning,
                Some(&policy.namespace),
            )
            .objects([
                ObjectRef::policy(policy),
                ObjectRef::new("Service", &service.namespace, &service.name),
            ])
            .says(
                format!(
                    "{id} selects {} but Service {}/{} selects {}: {} of its {} backends ({}) \
                     are isolated by no ingress policy and accept every connection",
                    selector_text(selector),
                    service.namespace,
                    service.name,
                    service_labels.join(","),
                    open.len(),
                    backends.len(),
                    cluster.owners_text(&open, 3)
                ),
                format!(
                    "select the Service's pods in {id}: podSelector matchLabels {}",
                    service_labels.join(",")
                ),
            ),
        );
    }
}

/// Namespaces where some pods are selected by a policy and others by none.
fn unselected(cluster: &Cluster<'_>, out: &mut Vec<Finding>) {
    let namespaces: BTreeSet<&str> = cluster
        .snapshot
        .policies
        .iter()
        .map(|p| p.namespace.as_str())
        .collect();
    for ns in namespaces {
        let policies: Vec<&NetworkPolicy> = cluster
            .snapshot
            .policies
            .iter()
            .filter(|p| p.namespace == ns)
            .collect();
        let (selected, open): (Vec<&Pod>, Vec<&Pod>) = cluster
            .pods_in(ns)
            .filter(|p| !p.host_network)
            .partition(|p| {
                policies.iter().any(|policy| {
                    policy
                        .spec
                        .pod_selector
                        .as_ref()
                        .is_none_or(|s| s.matches(&p.labels))
                })
            });
        if selected.is_empty() || open.is_empty() {
            continue;
        }
        let owners: BTreeSet<ObjectRef> = open.iter().map(|p| cluster.owner(p)).collect();
        out.push(
            Finding::new(Rule::UnselectedPods, Severity::Warning, Some(ns))
                .objects(owners)
                .says(
                    format!(
                        "{} in {ns} ({}) {} selected by no NetworkPolicy while {} there {} \
                         isolated: {} every connection in and out",
                        super::count(open.len(), "pod"),
                        cluster.owners_text(&open, 3),
                        if open.len() == 1 { "is" } else { "are" },
                        super::count(selected.len(), "other pod"),
                        if selected.len() == 1 { "is" } else { "are" },
                        if open.len() == 1 {
                            "it allows"
                        } else {
                            "they allow"
                        },
                    ),
                    format!(
                        "add a default deny to {ns} (podSelector: {{}}, policyTypes: Ingress, \
                         Egress) and allow what {}, or select {} in an existing policy",
                        if open.len() == 1 {
                            "it needs"
                        } else {
                            "they need"
                        },
                        if open.len() == 1 { "it" } else { "them" },
                    ),
                ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{findings, namespace, pod, policy, service};
    use super::*;

    fn shop(extra: &[String]) -> String {
        let mut items = vec![
            namespace("shop", "{}"),
            namespace("kube-system", "{}"),
            pod(
                "shop",
                "web-0",
                r#"{"app":"web","tier":"front"}"#,
                "10.244.1.5",
                "[]",
            ),
            pod("shop", "web-1", r#"{"app":"web"}"#, "10.244.1.6", "[]"),
            service(
                "shop",
                "web",
                "10.96.0.5",
                r#"{"app":"web"}"#,
                r#"[{"port":80}]"#,
            ),
        ];
        items.extend_from_slice(extra);
        items.join(",")
    }

    #[test]
    fn a_policy_selecting_no_pod_is_a_warning() {
        let items = shop(&[policy(
            "shop",
            "p",
            r#"{"podSelector":{"matchLabels":{"app":"wbe"}}}"#,
        )]);
        let found = findings(&items, Rule::PodSelectorMatchesNothing);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0].message.contains("app=wbe"), "{}", found[0].message);
    }

    #[test]
    fn a_peer_selecting_no_pod_is_a_warning() {
        let items = shop(&[policy(
            "shop",
            "p",
            r#"{"podSelector":{},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"frontend"}}}]}]}"#,
        )]);
        let found = findings(&items, Rule::PodSelectorMatchesNothing);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("ingress rule 1 from[0]"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn selectors_that_select_pods_raise_nothing() {
        let items = shop(&[policy(
            "shop",
            "p",
            r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"web"}}}]}]}"#,
        )]);
        assert!(findings(&items, Rule::PodSelectorMatchesNothing).is_empty());
        assert!(findings(&items, Rule::SelectorDiffersFromService).is_empty());
        assert!(findings(&items, Rule::NamespaceSelectorMatchesNothing).is_empty());
    }

    #[test]
    fn a_namespace_name_used_as_a_label_is_caught_with_the_metadata_name_fix() {
        let items = shop(&[policy(
            "shop",
            "p",
            r#"{"podSelector":{},"policyTypes":["Egress"],"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"name":"kube-system"}}}]}]}"#,
        )]);
        let found = findings(&items, Rule::NamespaceSelectorMatchesNothing);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .fix
                .starts_with("select kubernetes.io/metadata.name=kube-system"),
            "{}",
            found[0].fix
        );
        let fixed = shop(&[policy(
            "shop",
            "p",
            r#"{"podSelector":{},"policyTypes":["Egress"],"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}}}]}]}"#,
        )]);
        assert!(findings(&fixed, Rule::NamespaceSelectorMatchesNothing).is_empty());
    }

    #[test]
    fn a_policy_covering_part_of_a_services_backends_is_a_warning() {
        let items = shop(&[policy(
            "shop",
            "front-in",
            r#"{"podSelector":{"matchLabels":{"tier":"front"}},"ingress":[]}"#,
        )]);
        let found = findings(&items, Rule::SelectorDiffersFromService);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("1 of its 2 backends (Pod web-1)"),
            "{}",
            found[0].message
        );
        assert_eq!(found[0].objects[1].to_string(), "Service shop/web");
    }

    #[test]
    fn pods_left_out_where_others_are_isolated_are_a_warning() {
        let items = shop(&[policy(
            "shop",
            "front-in",
            r#"{"podSelector":{"matchLabels":{"tier":"front"}},"ingress":[]}"#,
        )]);
        let found = findings(&items, Rule::UnselectedPods);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].objects[0].to_string(), "Pod shop/web-1");
        let all = shop(&[policy("shop", "deny", r#"{"podSelector":{},"ingress":[]}"#)]);
        assert!(findings(&all, Rule::UnselectedPods).is_empty());
        assert!(findings(&all, Rule::SelectorDiffersFromService).is_empty());
    }
}
