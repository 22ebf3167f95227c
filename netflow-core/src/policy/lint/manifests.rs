//! Manifests: objects of the snapshot that could not be read (`bad-manifest`), and policies the
//! API server would reject or whose parts can never match (`invalid-policy`): an unknown
//! policy type or protocol, an ipBlock that does not parse or sits in a peer with a selector,
//! a peer with nothing in it, an `endPort` without a numeric `port` or below it, a selector
//! requirement with an unknown operator or `In`/`NotIn` without values.

use super::{Cluster, Finding, ObjectRef, Rule, Severity};
use crate::cluster::model::{IntOrString, NetworkPolicy, PolicyRule};
use crate::cluster::selector::{LabelSelector, Operator};
use crate::policy::eval::{entry_protocol, port_number, rules_of};
use crate::policy::verdict::PolicyType;

pub(super) fn check(cluster: &Cluster<'_>, out: &mut Vec<Finding>) {
    for skipped in &cluster.snapshot.skipped {
        let object = ObjectRef {
            kind: skipped.kind.clone(),
            namespace: skipped.namespace.clone(),
            name: skipped
                .name
                .clone()
                .unwrap_or_else(|| "(unnamed)".to_string()),
        };
        out.push(
            Finding::new(
                Rule::BadManifest,
                Severity::Error,
                skipped.namespace.as_deref(),
            )
            .objects([object.clone()])
            .says(
                format!(
                    "{object} in {} could not be read and is left out of every answer: {}",
                    skipped.source, skipped.detail
                ),
                format!("correct {object} (kubectl apply --dry-run=server -f … shows what the API server says)"),
            ),
        );
    }
    for policy in &cluster.snapshot.policies {
        let problems = problems_of(policy);
        if problems.is_empty() {
            continue;
        }
        let object = ObjectRef::policy(policy);
        for (problem, fix) in problems {
            out.push(
                Finding::new(
                    Rule::InvalidPolicy,
                    Severity::Error,
                    Some(&policy.namespace),
                )
                .objects([object.clone()])
                .says(format!("{object}: {problem}"), fix),
            );
        }
    }
}

/// Every problem of the policy, each with its fix.
fn problems_of(policy: &NetworkPolicy) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in policy.spec.policy_types.iter().flatten() {
        let t = t.trim();
        if !t.eq_ignore_ascii_case("ingress") && !t.eq_ignore_ascii_case("egress") {
            out.push((
                format!("policyTypes holds {t:?}, which is neither Ingress nor Egress"),
                "write policyTypes as Ingress and/or Egress".to_string(),
            ));
        }
    }
    if let Some(selector) = &policy.spec.pod_selector {
        selector_problems("podSelector", selector, &mut out);
    }
    for direction in [PolicyType::Ingress, PolicyType::Egress] {
        for (r, rule) in rules_of(&policy.spec, direction)
            .into_iter()
            .flatten()
            .enumerate()
        {
            rule_problems(direction, r, rule, &mut out);
        }
    }
    out
}

/// A requirement with an operator Kubernetes does not know, or `In`/`NotIn` without values
/// (the API server rejects both; flowq matches nothing with the first).
fn selector_problems(at: &str, selector: &LabelSelector, out: &mut Vec<(String, String)>) {
    for r in selector.match_expressions.iter().flatten() {
        match r.operator {
            Operator::Unknown => out.push((
                format!(
                    "{at} has a requirement on {:?} with an operator that is not In, NotIn, \
                     Exists or DoesNotExist: it matches nothing",
                    r.key
                ),
                "use In, NotIn, Exists or DoesNotExist (case matters)".to_string(),
            )),
            Operator::In | Operator::NotIn if r.values.is_empty() => out.push((
                format!(
                    "{at} has an In/NotIn requirement on {:?} without values",
                    r.key
                ),
                "give the values, or use Exists/DoesNotExist".to_string(),
            )),
            _ => {}
        }
    }
}

fn rule_problems(
    direction: PolicyType,
    r: usize,
    rule: &PolicyRule,
    out: &mut Vec<(String, String)>,
) {
    let at = format!("{} rule {}", direction.field(), r + 1);
    for (p, peer) in rule.peers.iter().flatten().enumerate() {
        let at = format!("{at} {}[{p}]", direction.peers_field());
        let selector = peer.pod_selector.is_some() || peer.namespace_selector.is_some();
        if let Some(s) = &peer.pod_selector {
            selector_problems(&format!("{at} podSelector"), s, out);
        }
        if let Some(s) = &peer.namespace_selector {
            selector_problems(&format!("{at} namespaceSelector"), s, out);
        }
        match &peer.ip_block {
            Some(block) => {
                if selector {
                    out.push((
                        format!("{at} combines ipBlock with a selector in one peer"),
                        "split it into two peers: one ipBlock, one selector".to_string(),
                    ));
                }
                if let Err(e) = block.networks() {
                    out.push((
                        format!("{at}: {e}, so the peer matches nothing"),
                        "write the CIDR as address/prefix (10.0.0.0/8)".to_string(),
                    ));
                }
            }
            None if !selector => out.push((
                format!("{at} has no podSelector, namespaceSelector or ipBlock"),
                "give the peer a selector or an ipBlock (an empty list of peers means every peer)"
                    .to_string(),
            )),
            None => {}
        }
    }
    for (i, entry) in rule.ports.iter().flatten().enumerate() {
        let at = format!("{at} ports[{i}]");
        let (protocol, parsed) = entry_protocol(entry);
        if parsed.is_none() {
            out.push((
                format!("{at} has protocol {protocol:?}, which is not TCP, UDP or SCTP"),
                "use TCP, UDP or SCTP".to_string(),
            ));
        }
        if let Some(end) = entry.end_port {
            match entry.port.as_ref().map(|p| (p, port_number(p))) {
                Some((_, Some(start))) if end < start => out.push((
                    format!("{at} has endPort {end} below its port {start}"),
                    format!("set endPort to {start} or more"),
                )),
                Some((IntOrString::String(name), None)) => out.push((
                    format!("{at} has endPort {end} with the named port {name:?}"),
                    "use a numeric port with endPort".to_string(),
                )),
                None => out.push((
                    format!("{at} has endPort {end} without a port"),
                    "give the first port of the range in port".to_string(),
                )),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{findings, namespace, policy};
    use super::*;

    #[test]
    fn an_unreadable_policy_is_an_error_naming_it_and_its_file() {
        let items = [
            namespace("shop", "{}"),
            policy("shop", "broken", r#"{"podSelector":"app=web"}"#),
            policy("shop", "fine", r#"{"podSelector":{}}"#),
        ]
        .join(",");
        let found = findings(&items, Rule::BadManifest);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].objects[0].to_string(), "NetworkPolicy shop/broken");
        assert!(
            found[0].message.contains("cluster.json"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn readable_manifests_raise_no_bad_manifest() {
        let items = [
            namespace("shop", "{}"),
            policy("shop", "fine", r#"{"podSelector":{}}"#),
        ]
        .join(",");
        assert!(findings(&items, Rule::BadManifest).is_empty());
    }

    #[test]
    fn parts_the_api_server_rejects_are_invalid_policy_errors() {
        let spec = r#"{"podSelector":{},"policyTypes":["Ingres"],
          "ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/33"}},{},
                              {"ipBlock":{"cidr":"10.0.0.0/8"},"podSelector":{}}],
                      "ports":[{"port":9000,"endPort":8000},{"protocol":"ICMP"},{"port":"http","endPort":90}]}]}"#;
        let items = [namespace("shop", "{}"), policy("shop", "odd", spec)].join(",");
        let found = findings(&items, Rule::InvalidPolicy);
        let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(found.len(), 7, "{messages:#?}");
        for needle in [
            "\"Ingres\"",
            "from[0]: ipBlock CIDR \"10.0.0.0/33\" does not parse",
            "from[1] has no podSelector",
            "from[2] combines ipBlock",
            "endPort 8000 below its port 9000",
            "\"ICMP\"",
            "endPort 90 with the named port \"http\"",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(needle)),
                "{needle}: {messages:#?}"
            );
        }
    }

    #[test]
    fn unknown_selector_operators_and_empty_value_lists_are_invalid_policy_errors() {
        let spec = r#"{"podSelector":{"matchExpressions":[{"key":"app","operator":"in","values":["web"]}]},
          "ingress":[{"from":[{"namespaceSelector":{"matchExpressions":[{"key":"team","operator":"NotIn"}]}}]}]}"#;
        let items = [namespace("shop", "{}"), policy("shop", "sel", spec)].join(",");
        let found = findings(&items, Rule::InvalidPolicy);
        let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(found.len(), 2, "{messages:#?}");
        assert!(
            messages[1].contains("podSelector has a requirement on \"app\""),
            "{messages:#?}"
        );
        assert!(
            messages[0].contains("ingress rule 1 from[0] namespaceSelector has an In/NotIn"),
            "{messages:#?}"
        );
    }

    #[test]
    fn a_valid_policy_raises_no_invalid_policy() {
        let spec = r#"{"podSelector":{},"policyTypes":["Ingress","Egress"],
          "ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],
                      "ports":[{"port":8000,"endPort":9000},{"protocol":"UDP","port":"dns"}]}],
          "egress":[{}]}"#;
        let items = [namespace("shop", "{}"), policy("shop", "ok", spec)].join(",");
        assert!(findings(&items, Rule::InvalidPolicy).is_empty());
    }
}
