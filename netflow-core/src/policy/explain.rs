//! The text form of an evaluation: a few short lines saying the verdict, how a service was
//! translated, and for each direction who selects the end and which rule allowed the
//! connection or why each rule missed. Rule numbers are 1-based here (`rule 1`), while peer
//! positions keep the 0-based JSON path form (`from[0]`).
//!
//! Only `Display` impls live here; nothing is decided, and tables are the CLI's business.

use std::collections::BTreeMap;
use std::fmt;

use super::target::Checked;
use super::verdict::{
    Evaluation, Exemption, NoRules, Party, PeerReason, PolicyMiss, PolicyVerdict, PortMiss,
    SelectingPolicy, SideResult, SideVerdict,
};

/// Indentation of the lines under a heading.
const INDENT: &str = "        ";

impl fmt::Display for PolicyVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            PolicyVerdict::Allow => "ALLOWED",
            PolicyVerdict::Deny => "DENIED",
        })
    }
}

impl fmt::Display for SideVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            SideVerdict::Allow => "ALLOWED",
            SideVerdict::Deny => "DENIED",
            SideVerdict::NotApplicable => "NOT APPLICABLE",
        })
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::Pod {
                namespace, name, ..
            } => write!(f, "{namespace}/{name}"),
            Party::Service {
                namespace, name, ..
            } => write!(f, "{namespace}/{name} (service)"),
            Party::Node { name, ip } => write!(f, "node {name} ({ip})"),
            Party::External { ip } => write!(f, "{ip}"),
        }
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => writeln!(
                f,
                "{:<8}{} → {} :{port}/{}",
                self.verdict, self.src, self.dst, self.protocol
            )?,
            None => writeln!(
                f,
                "{:<8}{} → {} {}",
                self.verdict, self.src, self.dst, self.protocol
            )?,
        }
        if let Some(service) = &self.service {
            let namespace = match &self.dst {
                Party::Service { namespace, .. } => namespace.as_str(),
                _ => "",
            };
            let short = |party: &Party| match party {
                Party::Pod {
                    namespace: ns,
                    name,
                    ..
                } if ns == namespace => name.clone(),
                other => other.to_string(),
            };
            let mut groups: BTreeMap<(u16, Option<&str>), Vec<String>> = BTreeMap::new();
            for b in &self.backends {
                groups
                    .entry((b.port, b.port_name.as_deref()))
                    .or_default()
                    .push(short(&b.backend));
            }
            for ((port, name), pods) in groups {
                write!(f, "{INDENT}service port {} → pod port {port}", service.port)?;
                if let Some(name) = name {
                    write!(f, " (named port {name:?})")?;
                }
                writeln!(f, " on {}", pods.join(", "))?;
            }
            for excluded in &service.excluded {
                writeln!(f, "{INDENT}excluded {}: {}", excluded.pod, excluded.reason)?;
            }
            if let Some(problem) = &service.problem {
                writeln!(f, "{INDENT}{problem}")?;
            }
            if self.backends.len() > 1 {
                let list: Vec<String> = self
                    .backends
                    .iter()
                    .map(|b| format!("{} {}", short(&b.backend), b.verdict))
                    .collect();
                writeln!(
                    f,
                    "{INDENT}backends: {} (directions below are for {})",
                    list.join(", "),
                    self.ingress.subject
                )?;
            }
        }
        if let Some(host) = &self.host_traffic {
            writeln!(
                f,
                "{INDENT}{} (from node {}, where the destination pod runs)",
                host.reason, host.node
            )?;
        }
        write!(f, "{}", self.egress)?;
        write!(f, "{}", self.ingress)?;
        for also in &self.also_subject_to {
            writeln!(f, "{INDENT}! {}", also.note)?;
        }
        Ok(())
    }
}

impl fmt::Display for Checked {
    /// One block per group of pairs that agree: which pairs, then the explanation of the first
    /// (pod names of the others differ, the reasons do not).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let several = self.pairs.len() > 1;
        for (g, group) in self.groups.iter().enumerate() {
            if g > 0 {
                writeln!(f)?;
            }
            let Some(first) = group.pairs.first().and_then(|i| self.pairs.get(*i)) else {
                continue;
            };
            if several {
                let names: Vec<String> = group
                    .pairs
                    .iter()
                    .filter_map(|i| self.pairs.get(*i))
                    .map(|p| format!("{} → {}", p.evaluation.src, p.evaluation.dst))
                    .collect();
                writeln!(
                    f,
                    "{} of {} pairs {}: {}",
                    group.pairs.len(),
                    self.pairs.len(),
                    group.verdict,
                    names.join(", ")
                )?;
            }
            if let Some(any) = &first.any_port {
                let protocol = first.evaluation.protocol;
                match any.allowed.as_slice() {
                    [] => writeln!(
                        f,
                        "no {protocol} port is allowed (any port asked; {} evaluated)",
                        plural(any.evaluated, "port")
                    )?,
                    [all] if all == "1-65535" => {
                        writeln!(f, "every {protocol} port is allowed (any port asked)")?
                    }
                    allowed => writeln!(
                        f,
                        "allowed on {protocol} {} (any port asked; explained for the first)",
                        allowed.join(", ")
                    )?,
                }
            }
            write!(f, "{}", first.evaluation)?;
        }
        Ok(())
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn policy_list(policies: &[SelectingPolicy]) -> String {
    policies
        .iter()
        .map(|p| {
            let types: Vec<&str> = p.types.iter().map(|t| t.as_str()).collect();
            format!("{} ({})", p.policy, types.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for SideResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.direction.field();
        writeln!(f, "{field:<7} ({})  {}", self.subject, self.verdict)?;
        if let Some(exemption) = &self.exemption {
            match exemption {
                Exemption::External { ip } => writeln!(
                    f,
                    "{INDENT}{ip} is not a pod of the snapshot: its {field} is not subject to \
                     NetworkPolicy"
                )?,
                Exemption::Node { name } => writeln!(
                    f,
                    "{INDENT}node {name} is not a pod: its {field} is not subject to \
                     NetworkPolicy"
                )?,
                Exemption::HostNetwork { pod } => writeln!(
                    f,
                    "{INDENT}{pod} is a hostNetwork pod: NetworkPolicy does not select it, so \
                     it is not isolated"
                )?,
                Exemption::HostTraffic { node } => writeln!(
                    f,
                    "{INDENT}host traffic from node {node}: not subject to NetworkPolicy"
                )?,
                Exemption::NoDestination => writeln!(f, "{INDENT}no backend to evaluate")?,
            }
        } else if !self.isolated {
            if self.policies.is_empty() {
                writeln!(f, "{INDENT}not isolated: no NetworkPolicy selects it")?;
            } else {
                writeln!(
                    f,
                    "{INDENT}not isolated for {field}: selected only by {}",
                    policy_list(&self.policies)
                )?;
            }
        } else {
            writeln!(f, "{INDENT}selected by {}", policy_list(&self.policies))?;
            if let Some(rule) = &self.matched_rule {
                write!(
                    f,
                    "{INDENT}allowed by {}, {field} rule {}",
                    rule.policy,
                    rule.rule + 1
                )?;
                if let Some(peer) = rule.peer {
                    write!(f, " ({}[{peer}])", self.direction.peers_field())?;
                }
                writeln!(f)?;
            } else {
                let several = self.reasons.len() > 1;
                for miss in &self.reasons {
                    let prefix = if several {
                        format!("{}: ", miss.policy)
                    } else {
                        String::new()
                    };
                    self.write_miss(f, &prefix, miss)?;
                }
                writeln!(f, "{INDENT}→ no {field} rule allows this connection")?;
            }
        }
        for note in &self.notes {
            writeln!(f, "{INDENT}note: {note}")?;
        }
        Ok(())
    }
}

impl SideResult {
    fn write_miss(
        &self,
        f: &mut fmt::Formatter<'_>,
        prefix: &str,
        miss: &PolicyMiss,
    ) -> fmt::Result {
        let field = self.direction.field();
        match miss.no_rules {
            Some(NoRules::Empty) => writeln!(
                f,
                "{INDENT}{prefix}policy has no {field} rules ({field}: [])"
            )?,
            Some(NoRules::Absent) => writeln!(
                f,
                "{INDENT}{prefix}policy has no {field} rules (no {field} field)"
            )?,
            None => {}
        }
        for rule in &miss.rules {
            for peer in &rule.peers {
                let reasons: Vec<String> = peer.reasons.iter().map(|r| r.to_string()).collect();
                writeln!(
                    f,
                    "{INDENT}{prefix}rule {} {}[{}]: {}",
                    rule.rule + 1,
                    self.direction.peers_field(),
                    peer.peer,
                    reasons.join("; ")
                )?;
            }
            if let Some(ports) = &rule.ports {
                writeln!(f, "{INDENT}{prefix}rule {} ports: {ports}", rule.rule + 1)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for PeerReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerReason::PodLabels { labels, unmet, .. } => {
                let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                write!(
                    f,
                    "pod labels {{{}}} don't match {}",
                    labels.join(", "),
                    unmet.join(",")
                )
            }
            PeerReason::PodNamespace {
                pod,
                policy_namespace,
            } => write!(
                f,
                "pod {pod} is outside namespace {policy_namespace} (a podSelector alone only \
                 selects pods of the policy's namespace)"
            ),
            PeerReason::NamespaceLabels {
                namespace,
                unmet,
                labels_known,
            } => {
                write!(
                    f,
                    "namespace {namespace} does not match {}",
                    unmet.join(",")
                )?;
                if !labels_known {
                    write!(
                        f,
                        " (no Namespace object in the snapshot: only its \
                         kubernetes.io/metadata.name label is known)"
                    )?;
                }
                Ok(())
            }
            PeerReason::NotAPod { peer } => write!(
                f,
                "{peer} is not a pod: pod and namespace selectors only match pods"
            ),
            PeerReason::IpBlockOutside { cidr, ips } if ips.is_empty() => {
                write!(f, "ipBlock {cidr}: the peer has no IP address")
            }
            PeerReason::IpBlockOutside { cidr, ips } => {
                let ips: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
                write!(f, "ipBlock {cidr} doesn't contain {}", ips.join(", "))
            }
            PeerReason::IpBlockExcept { cidr, except, ip } => {
                write!(f, "{ip} is in the except {except} of ipBlock {cidr}")
            }
            PeerReason::Invalid { detail } => write!(f, "invalid peer: {detail}"),
        }
    }
}

impl fmt::Display for PortMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(
                f,
                "port {}/{port} not in [{}]",
                self.protocol,
                self.allowed.join(", ")
            )?,
            None => write!(
                f,
                "{} has no ports, and a rule with ports [{}] only matches TCP, UDP or SCTP",
                self.protocol,
                self.allowed.join(", ")
            )?,
        }
        for named in &self.named {
            match (&named.pod, named.resolved) {
                (Some(pod), Some(n)) => write!(
                    f,
                    "; named port '{}' is {}/{n} on {pod}",
                    named.name, named.protocol
                )?,
                (Some(pod), None) => write!(
                    f,
                    "; named port '{}' not declared by the destination pod {pod}",
                    named.name
                )?,
                (None, _) => write!(
                    f,
                    "; named port '{}' cannot be resolved: the destination is not a pod",
                    named.name
                )?,
            }
        }
        Ok(())
    }
}

impl Evaluation {
    /// One line saying why, for tables: for a denial, the denying side and, per isolating
    /// policy, the rule that came closest and what it missed; for an allow, what allowed it.
    pub fn summary(&self) -> String {
        if let Some(host) = &self.host_traffic {
            return format!("{} (node {})", host.reason, host.node);
        }
        if let Some(problem) = self.service.as_ref().and_then(|s| s.problem.as_ref()) {
            return problem.clone();
        }
        let service = self.service.as_ref().and_then(|s| {
            let b = self.backends.first()?;
            (b.port != s.port).then(|| {
                format!(
                    "service {} port {} → pod port {}; ",
                    s.service, s.port, b.port
                )
            })
        });
        let sides = match self.verdict {
            PolicyVerdict::Deny => [&self.egress, &self.ingress]
                .into_iter()
                .filter(|s| s.verdict == SideVerdict::Deny)
                .map(SideResult::summary)
                .collect::<Vec<_>>(),
            PolicyVerdict::Allow => [&self.egress, &self.ingress]
                .into_iter()
                .map(SideResult::summary)
                .collect::<Vec<_>>(),
        };
        format!("{}{}", service.unwrap_or_default(), sides.join("; "))
    }
}

impl SideResult {
    /// One line for this direction: what allowed it, or for each isolating policy the closest
    /// rule and what it missed.
    pub fn summary(&self) -> String {
        let field = self.direction.field();
        if let Some(exemption) = &self.exemption {
            return match exemption {
                Exemption::External { .. } => format!("{field}: external, not subject to policy"),
                Exemption::Node { name } => format!("{field}: node {name}, not subject to policy"),
                Exemption::HostNetwork { pod } => {
                    format!("{field}: {pod} is hostNetwork, not isolated")
                }
                Exemption::HostTraffic { node } => {
                    format!("{field}: host traffic from node {node}")
                }
                Exemption::NoDestination => format!("{field}: no backend"),
            };
        }
        if !self.isolated {
            return format!("{field}: not isolated");
        }
        if let Some(rule) = &self.matched_rule {
            return format!("{field}: allowed by {} rule {}", rule.policy, rule.rule + 1);
        }
        let misses: Vec<String> = self
            .reasons
            .iter()
            .map(|miss| {
                if let Some(no_rules) = miss.no_rules {
                    let how = match no_rules {
                        NoRules::Empty => format!("{field}: []"),
                        NoRules::Absent => format!("no {field} field"),
                    };
                    return format!("{} has no {field} rules ({how})", miss.policy);
                }
                let closest = miss.rules.iter().min_by_key(|r| {
                    r.peers.iter().map(|p| p.reasons.len()).min().unwrap_or(0)
                        + usize::from(r.ports.is_some())
                });
                match closest {
                    Some(rule) => {
                        let mut what: Vec<String> = rule
                            .peers
                            .iter()
                            .min_by_key(|p| p.reasons.len())
                            .map(|p| p.reasons.iter().map(|r| r.to_string()).collect())
                            .unwrap_or_default();
                        if let Some(ports) = &rule.ports {
                            what.push(ports.to_string());
                        }
                        format!(
                            "{} rule {}: {}",
                            miss.policy,
                            rule.rule + 1,
                            what.join("; ")
                        )
                    }
                    None => format!("{}: no rule allows it", miss.policy),
                }
            })
            .collect();
        format!("{field} denied by {}", misses.join(" | "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::cluster::Snapshot;
    use crate::flow::Protocol;
    use crate::policy::{Engine, Subject};

    const CLUSTER: &str = r#"{"kind":"List","items":[
      {"kind":"Namespace","metadata":{"name":"vamp","labels":{"role":"core"}}},
      {"kind":"Namespace","metadata":{"name":"tenant-blue","labels":{"team":"blue"}}},
      {"kind":"Pod","metadata":{"name":"elasticsearch-0","namespace":"vamp","labels":{"app":"es"}},
       "spec":{"nodeName":"n1","containers":[{"ports":[{"containerPort":9200,"name":"http"}]}]},
       "status":{"phase":"Running","podIP":"10.1.0.5"}},
      {"kind":"Pod","metadata":{"name":"release-agent-x","namespace":"tenant-blue",
         "labels":{"io.vamp":"release-agent"}},
       "spec":{"nodeName":"n2"},"status":{"phase":"Running","podIP":"10.2.0.7"}},
      {"kind":"Service","metadata":{"name":"elasticsearch","namespace":"vamp"},
       "spec":{"clusterIP":"10.96.0.20","selector":{"app":"es"},
               "ports":[{"port":9200,"targetPort":"http"}]}},
      {"kind":"NetworkPolicy","metadata":{"name":"release-agent-egress-es","namespace":"tenant-blue"},
       "spec":{"podSelector":{},"policyTypes":["Egress"],
               "egress":[{"to":[{"namespaceSelector":{"matchLabels":{"role":"core"}}}]}]}},
      {"kind":"NetworkPolicy","metadata":{"name":"elasticsearch-ingress","namespace":"vamp"},
       "spec":{"podSelector":{"matchLabels":{"app":"es"}},
               "ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"role":"tenant"}}}],
                           "ports":[{"port":9200}]}]}}]}"#;

    fn evaluate(dst: &str) -> crate::policy::Evaluation {
        let snapshot = Snapshot::from_text(CLUSTER, "cluster.json", None).unwrap();
        Engine::new(&snapshot)
            .evaluate(
                &Subject::parse("tenant-blue/release-agent-x").unwrap(),
                &Subject::parse(dst).unwrap(),
                9200,
                Protocol::Tcp,
            )
            .unwrap()
    }

    #[test]
    fn a_denial_through_a_service_reads_as_short_text() {
        let text = evaluate("svc/vamp/elasticsearch").to_string();
        let expected = "\
DENIED  tenant-blue/release-agent-x → vamp/elasticsearch (service) :9200/TCP
        service port 9200 → pod port 9200 (named port \"http\") on elasticsearch-0
egress  (tenant-blue/release-agent-x)  ALLOWED
        selected by tenant-blue/release-agent-egress-es (Egress)
        allowed by tenant-blue/release-agent-egress-es, egress rule 1 (to[0])
ingress (vamp/elasticsearch-0)  DENIED
        selected by vamp/elasticsearch-ingress (Ingress)
        rule 1 from[0]: namespace tenant-blue does not match role=tenant
        → no ingress rule allows this connection
";
        assert_eq!(text, expected);
    }

    #[test]
    fn an_unlisted_port_and_a_missing_rule_list_are_explained() {
        let snapshot = Snapshot::from_text(CLUSTER, "cluster.json", None).unwrap();
        let engine = Engine::new(&snapshot);
        let e = engine
            .evaluate(
                &Subject::parse("vamp/elasticsearch-0").unwrap(),
                &Subject::parse("vamp/elasticsearch-0").unwrap(),
                9300,
                Protocol::Tcp,
            )
            .unwrap();
        let text = e.to_string();
        assert!(
            text.contains("rule 1 from[0]: namespace vamp does not match role=tenant"),
            "{text}"
        );
        assert!(
            text.contains("rule 1 ports: port TCP/9300 not in [TCP/9200]"),
            "{text}"
        );
        let e = engine
            .evaluate(
                &Subject::parse("tenant-blue/release-agent-x").unwrap(),
                &Subject::parse("203.0.113.5").unwrap(),
                443,
                Protocol::Tcp,
            )
            .unwrap();
        let text = e.to_string();
        assert!(
            text.contains("rule 1 to[0]: 203.0.113.5 is not a pod: pod and namespace selectors"),
            "{text}"
        );
        assert!(
            text.contains("203.0.113.5 is not a pod of the snapshot: its ingress is not subject"),
            "{text}"
        );
    }

    #[test]
    fn json_has_zero_based_rule_indices_and_snake_case_verdicts() {
        let e = evaluate("svc/vamp/elasticsearch");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["verdict"], "deny");
        assert_eq!(v["protocol"], "TCP");
        assert_eq!(v["src"]["kind"], "pod");
        assert_eq!(v["dst"]["kind"], "service");
        assert_eq!(v["egress"]["verdict"], "allow");
        assert_eq!(
            v["egress"]["matched_rule"],
            json!({"policy": "tenant-blue/release-agent-egress-es", "rule": 0, "peer": 0})
        );
        assert_eq!(v["ingress"]["verdict"], "deny");
        assert_eq!(v["ingress"]["isolated"], true);
        assert_eq!(
            v["ingress"]["reasons"][0]["rules"][0]["peers"][0]["reasons"][0],
            json!({"kind": "namespace_labels", "namespace": "tenant-blue",
                   "unmet": ["role=tenant"], "labels_known": true})
        );
        assert_eq!(v["ingress"]["policies"][0]["types"], json!(["Ingress"]));
        assert_eq!(v["service"]["target_port"], "http");
        assert_eq!(v["backends"][0]["port"], 9200);
        assert_eq!(v["backends"][0]["port_name"], "http");
        assert_eq!(v["host_traffic"], serde_json::Value::Null);
    }
}
