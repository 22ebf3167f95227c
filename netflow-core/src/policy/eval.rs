//! Evaluation of one direction of a connection: is the pod isolated for ingress (or egress),
//! and if so, does a rule of a policy selecting it allow this peer on this port? The answer is a
//! [`SideResult`] with the matched rule or, for a denial, every rule of every isolating policy
//! with the peer clause or port that missed.
//!
//! Semantics are those of `networking.k8s.io/v1` applied to policies as authored: this file
//! applies the API defaults (policy types, `TCP`) itself. Who the two ends of a connection are,
//! host traffic and Service translation are the engine's business (`resolve.rs`,
//! `service.rs`), not this file's.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::verdict::{
    Exemption, NamedPortMiss, NoRules, PeerMiss, PeerReason, PolicyMiss, PolicyType, PortMiss,
    RuleMiss, RuleRef, SelectingPolicy, SideResult, SideVerdict,
};
use crate::cluster::model::{
    IntOrString, NetworkPolicy, NetworkPolicySpec, Pod, PolicyPeer, PolicyPort, PolicyRule,
};
use crate::cluster::selector::LabelSelector;
use crate::cluster::Snapshot;
use crate::flow::Protocol;

/// The label the API server puts on every namespace: the only one known for a namespace whose
/// Namespace object is missing from the snapshot.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// An ipBlock parsed once: the block and its exceptions, or why it does not parse.
type Block = Result<(IpNet, Vec<IpNet>), String>;

/// A policy with its defaults applied and its ipBlocks parsed.
#[derive(Debug)]
pub(crate) struct CompiledPolicy {
    /// Index in the snapshot's policies.
    index: usize,
    /// `namespace/name`.
    id: String,
    /// Effective policy types.
    types: Vec<PolicyType>,
    /// Whether the types were defaulted.
    defaulted: bool,
    /// Parsed ipBlocks: `[ingress, egress][rule][peer]`.
    blocks: [Vec<Vec<Option<Block>>>; 2],
}

/// Every policy of a snapshot, compiled and grouped by namespace.
#[derive(Debug)]
pub(crate) struct PolicySet {
    policies: Vec<CompiledPolicy>,
    /// Namespace → indices into `policies`, sorted by policy name.
    by_namespace: HashMap<String, Vec<usize>>,
}

/// The other end of a connection, as seen by the policies of the end being evaluated.
#[derive(Debug)]
pub(crate) enum Peer<'a> {
    /// A pod selectors can match.
    Pod {
        /// The pod.
        pod: &'a Pod,
        /// The address used (or every address of the pod when not known).
        ips: Vec<IpAddr>,
    },
    /// Anything only an ipBlock can match: an external address, a node, a hostNetwork pod.
    Address {
        /// Its addresses.
        ips: Vec<IpAddr>,
        /// What it is, as text.
        what: String,
    },
}

impl Peer<'_> {
    fn ips(&self) -> &[IpAddr] {
        match self {
            Peer::Pod { ips, .. } | Peer::Address { ips, .. } => ips,
        }
    }
}

/// The connection being evaluated, from the point of view of one direction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe<'a> {
    /// The pod that receives the connection (named ports resolve against it), when a pod does.
    pub(crate) dst_pod: Option<&'a Pod>,
    /// Destination port on that pod.
    pub(crate) port: u16,
    /// Protocol.
    pub(crate) protocol: Protocol,
}

/// The effective policy types of a spec, and whether they were defaulted: without
/// `policyTypes`, Ingress always, Egress only when there are egress rules.
pub(crate) fn effective_types(spec: &NetworkPolicySpec) -> (Vec<PolicyType>, bool) {
    match spec.policy_types.as_deref() {
        Some(types) if !types.is_empty() => {
            let mut out = Vec::new();
            for t in types {
                let t = t.trim();
                let parsed = if t.eq_ignore_ascii_case("ingress") {
                    PolicyType::Ingress
                } else if t.eq_ignore_ascii_case("egress") {
                    PolicyType::Egress
                } else {
                    continue;
                };
                if !out.contains(&parsed) {
                    out.push(parsed);
                }
            }
            out.sort();
            (out, false)
        }
        _ => {
            let mut out = vec![PolicyType::Ingress];
            if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
                out.push(PolicyType::Egress);
            }
            (out, true)
        }
    }
}

pub(crate) fn rules_of(
    spec: &NetworkPolicySpec,
    direction: PolicyType,
) -> Option<&Vec<PolicyRule>> {
    match direction {
        PolicyType::Ingress => spec.ingress.as_ref(),
        PolicyType::Egress => spec.egress.as_ref(),
    }
}

fn compile_blocks(rules: Option<&Vec<PolicyRule>>) -> Vec<Vec<Option<Block>>> {
    rules
        .into_iter()
        .flatten()
        .map(|rule| {
            rule.peers
                .iter()
                .flatten()
                .map(|peer| peer.ip_block.as_ref().map(|b| b.networks()))
                .collect()
        })
        .collect()
}

impl PolicySet {
    /// Compiles every policy of the snapshot.
    pub(crate) fn new(snapshot: &Snapshot) -> PolicySet {
        let policies: Vec<CompiledPolicy> = snapshot
            .policies
            .iter()
            .enumerate()
            .map(|(index, p)| {
                let (types, defaulted) = effective_types(&p.spec);
                CompiledPolicy {
                    index,
                    id: format!("{}/{}", p.namespace, p.name),
                    types,
                    defaulted,
                    blocks: [
                        compile_blocks(p.spec.ingress.as_ref()),
                        compile_blocks(p.spec.egress.as_ref()),
                    ],
                }
            })
            .collect();
        let mut by_namespace: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in snapshot.policies.iter().enumerate() {
            by_namespace.entry(p.namespace.clone()).or_default().push(i);
        }
        for list in by_namespace.values_mut() {
            list.sort_by(|a, b| policies[*a].id.cmp(&policies[*b].id));
        }
        PolicySet {
            policies,
            by_namespace,
        }
    }

    /// Evaluates one direction for `target`: its egress (`peer` is the destination) or its
    /// ingress (`peer` is the source).
    pub(crate) fn side(
        &self,
        snapshot: &Snapshot,
        direction: PolicyType,
        target: &Pod,
        peer: &Peer<'_>,
        probe: Probe<'_>,
    ) -> SideResult {
        let mut result = SideResult {
            direction,
            subject: format!("{}/{}", target.namespace, target.name),
            verdict: SideVerdict::Allow,
            isolated: false,
            exemption: None,
            policies: Vec::new(),
            matched_rule: None,
            reasons: Vec::new(),
            notes: Vec::new(),
        };
        if target.host_network {
            result.exemption = Some(Exemption::HostNetwork {
                pod: result.subject.clone(),
            });
            return result;
        }
        let selecting: Vec<&CompiledPolicy> = self
            .by_namespace
            .get(&target.namespace)
            .into_iter()
            .flatten()
            .map(|i| &self.policies[*i])
            .filter(|cp| {
                snapshot.policies[cp.index]
                    .spec
                    .pod_selector
                    .as_ref()
                    .is_none_or(|s| s.matches(&target.labels))
            })
            .collect();
        result.policies = selecting
            .iter()
            .map(|cp| SelectingPolicy {
                policy: cp.id.clone(),
                types: cp.types.clone(),
                types_defaulted: cp.defaulted,
            })
            .collect();
        let isolating = selecting.iter().filter(|cp| cp.types.contains(&direction));
        for cp in isolating {
            result.isolated = true;
            let policy = &snapshot.policies[cp.index];
            let mut miss = PolicyMiss {
                policy: cp.id.clone(),
                no_rules: None,
                rules: Vec::new(),
            };
            match rules_of(&policy.spec, direction) {
                None => miss.no_rules = Some(NoRules::Absent),
                Some(rules) if rules.is_empty() => miss.no_rules = Some(NoRules::Empty),
                Some(rules) => {
                    for (i, rule) in rules.iter().enumerate() {
                        let ctx = RuleContext {
                            snapshot,
                            policy,
                            compiled: cp,
                            direction,
                            index: i,
                        };
                        match ctx.check(rule, peer, probe) {
                            Ok((matched_peer, notes)) => {
                                result.matched_rule = Some(RuleRef {
                                    policy: cp.id.clone(),
                                    rule: i,
                                    peer: matched_peer,
                                });
                                result.notes.extend(notes);
                                if !probe.protocol.has_ports() {
                                    result.notes.push(plugin_note(probe.protocol));
                                }
                                result.reasons.clear();
                                return result;
                            }
                            Err(rule_miss) => miss.rules.push(rule_miss),
                        }
                    }
                }
            }
            result.reasons.push(miss);
        }
        if result.isolated {
            result.verdict = SideVerdict::Deny;
            result.notes.push(plugin_note(probe.protocol));
        }
        result.notes.retain(|n| !n.is_empty());
        result
    }
}

/// What the Kubernetes API leaves to the network plugin for a protocol without ports, said
/// on an isolated side (empty for TCP, UDP and SCTP, which NetworkPolicy defines).
fn plugin_note(protocol: Protocol) -> String {
    if protocol.has_ports() {
        return String::new();
    }
    format!(
        "NetworkPolicy is defined for TCP, UDP and SCTP; for {protocol} the behaviour may vary \
         across network plugins: this verdict applies isolation to all traffic and lets only \
         rules without ports admit it, as Calico and Cilium do (they drop {protocol} of an \
         isolated pod that no such rule allows)"
    )
}

/// One rule being checked, with where it comes from.
struct RuleContext<'a> {
    snapshot: &'a Snapshot,
    policy: &'a NetworkPolicy,
    compiled: &'a CompiledPolicy,
    direction: PolicyType,
    index: usize,
}

impl RuleContext<'_> {
    /// `Ok((index of the peer that matched, notes))`, or why the rule missed.
    fn check(
        &self,
        rule: &PolicyRule,
        peer: &Peer<'_>,
        probe: Probe<'_>,
    ) -> Result<(Option<usize>, Vec<String>), RuleMiss> {
        let ports = match rule.ports.as_deref() {
            None | Some([]) => None,
            Some(ports) => ports_miss(ports, probe),
        };
        let (peers, matched) = match rule.peers.as_deref() {
            None | Some([]) => (Vec::new(), Some((None, Vec::new()))),
            Some(peers) => {
                let mut misses = Vec::new();
                let mut matched = None;
                for (p, policy_peer) in peers.iter().enumerate() {
                    match self.peer_matches(p, policy_peer, peer) {
                        Ok(notes) => {
                            matched = Some((Some(p), notes));
                            break;
                        }
                        Err(reasons) => misses.push(PeerMiss { peer: p, reasons }),
                    }
                }
                (misses, matched)
            }
        };
        match (matched, ports) {
            (Some(found), None) => Ok(found),
            (Some(_), Some(ports)) => Err(RuleMiss {
                rule: self.index,
                peers: Vec::new(),
                ports: Some(ports),
            }),
            (None, ports) => Err(RuleMiss {
                rule: self.index,
                peers,
                ports,
            }),
        }
    }

    /// Notes when the peer matches, or every clause of it that failed.
    fn peer_matches(
        &self,
        index: usize,
        policy_peer: &PolicyPeer,
        peer: &Peer<'_>,
    ) -> Result<Vec<String>, Vec<PeerReason>> {
        let has_selector =
            policy_peer.pod_selector.is_some() || policy_peer.namespace_selector.is_some();
        if policy_peer.ip_block.is_some() {
            if has_selector {
                return Err(vec![PeerReason::Invalid {
                    detail: "ipBlock combined with a pod or namespace selector in one peer \
                             (the API server rejects it)"
                        .to_string(),
                }]);
            }
            let side = match self.direction {
                PolicyType::Ingress => 0,
                PolicyType::Egress => 1,
            };
            // Every ipBlock peer is compiled with its policy; a missing one would be a bug,
            // reported as an unusable peer rather than a crash.
            let Some(block) = self.compiled.blocks[side]
                .get(self.index)
                .and_then(|rule| rule.get(index))
                .and_then(Option::as_ref)
            else {
                return Err(vec![PeerReason::Invalid {
                    detail: "ipBlock was not compiled".to_string(),
                }]);
            };
            return ip_block_matches(block, peer);
        }
        if !has_selector {
            return Err(vec![PeerReason::Invalid {
                detail: "peer has no podSelector, namespaceSelector or ipBlock (the API server \
                         rejects it)"
                    .to_string(),
            }]);
        }
        let pod = match peer {
            Peer::Pod { pod, .. } => *pod,
            Peer::Address { what, .. } => {
                return Err(vec![PeerReason::NotAPod { peer: what.clone() }]);
            }
        };
        let mut reasons = Vec::new();
        let mut notes = Vec::new();
        match &policy_peer.namespace_selector {
            Some(selector) => {
                let known = self.snapshot.namespace_known(&pod.namespace);
                let fallback;
                let labels = match self.snapshot.namespaces.get(&pod.namespace) {
                    Some(ns) => &ns.labels,
                    None => {
                        fallback = [(NAME_LABEL.to_string(), pod.namespace.clone())]
                            .into_iter()
                            .collect();
                        &fallback
                    }
                };
                let depends_on_unknown = !known && uses_other_labels(selector);
                if selector.matches(labels) {
                    if depends_on_unknown {
                        notes.push(format!(
                            "namespace {} has no Namespace object in the snapshot: only its \
                             {NAME_LABEL} label is known, and namespaceSelector {selector} \
                             matched on that alone",
                            pod.namespace
                        ));
                    }
                } else {
                    reasons.push(PeerReason::NamespaceLabels {
                        namespace: pod.namespace.clone(),
                        unmet: selector.unmet(labels),
                        labels_known: !depends_on_unknown,
                    });
                }
            }
            None if pod.namespace != self.policy.namespace => {
                reasons.push(PeerReason::PodNamespace {
                    pod: format!("{}/{}", pod.namespace, pod.name),
                    policy_namespace: self.policy.namespace.clone(),
                });
            }
            None => {}
        }
        if let Some(selector) = &policy_peer.pod_selector {
            if !selector.matches(&pod.labels) {
                reasons.push(PeerReason::PodLabels {
                    pod: format!("{}/{}", pod.namespace, pod.name),
                    labels: (*pod.labels).clone(),
                    unmet: selector.unmet(&pod.labels),
                });
            }
        }
        if reasons.is_empty() {
            Ok(notes)
        } else {
            Err(reasons)
        }
    }
}

/// Whether a namespace selector's decision may depend on labels other than the name label.
fn uses_other_labels(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .iter()
        .flatten()
        .any(|(k, _)| k != NAME_LABEL)
        || selector
            .match_expressions
            .iter()
            .flatten()
            .any(|r| r.key != NAME_LABEL)
}

fn ip_block_matches(block: &Block, peer: &Peer<'_>) -> Result<Vec<String>, Vec<PeerReason>> {
    let (cidr, except) = match block {
        Ok(parsed) => parsed,
        Err(detail) => {
            return Err(vec![PeerReason::Invalid {
                detail: detail.clone(),
            }])
        }
    };
    let mut excepted = None;
    for ip in peer.ips() {
        if !cidr.contains(ip) {
            continue;
        }
        match except.iter().find(|e| e.contains(ip)) {
            Some(e) => excepted = excepted.or(Some((*e, *ip))),
            None => {
                let notes = match peer {
                    // The Kubernetes documentation leaves it to the network plugin whether
                    // ipBlocks apply to pod IPs, and advises against relying on it.
                    Peer::Pod { pod, .. } => vec![format!(
                        "ipBlock {cidr} matched the pod IP {ip} of {}/{}: the Kubernetes \
                         documentation advises against relying on ipBlocks for pod traffic",
                        pod.namespace, pod.name
                    )],
                    Peer::Address { .. } => Vec::new(),
                };
                return Ok(notes);
            }
        }
    }
    Err(vec![match excepted {
        Some((except, ip)) => PeerReason::IpBlockExcept {
            cidr: cidr.to_string(),
            except: except.to_string(),
            ip,
        },
        None => PeerReason::IpBlockOutside {
            cidr: cidr.to_string(),
            ips: peer.ips().to_vec(),
        },
    }])
}

/// The protocol a port entry names (TCP when absent); `None` for an unknown protocol.
pub(crate) fn entry_protocol(entry: &PolicyPort) -> (String, Option<Protocol>) {
    let text = entry
        .protocol
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or("TCP")
        .to_ascii_uppercase();
    let parsed = match text.as_str() {
        "TCP" => Some(Protocol::Tcp),
        "UDP" => Some(Protocol::Udp),
        "SCTP" => Some(Protocol::Sctp),
        _ => None,
    };
    (text, parsed)
}

/// A port number written as a number or as a string of digits.
pub(crate) fn port_number(port: &IntOrString) -> Option<i64> {
    match port {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(s) => s.trim().parse().ok(),
    }
}

fn render_entry(entry: &PolicyPort) -> String {
    let (protocol, _) = entry_protocol(entry);
    match &entry.port {
        None => format!("{protocol}/any"),
        Some(port) => match (port_number(port), entry.end_port) {
            (Some(n), Some(end)) => format!("{protocol}/{n}-{end}"),
            (Some(n), None) => format!("{protocol}/{n}"),
            (None, _) => match port {
                IntOrString::String(name) => format!("{protocol}/{name}"),
                IntOrString::Int(n) => format!("{protocol}/{n}"),
            },
        },
    }
}

/// The container port `name` declares on `pod` for `protocol`.
pub(crate) fn named_port(pod: &Pod, name: &str, protocol: &str) -> Option<u16> {
    pod.container_ports
        .iter()
        .find(|c| {
            c.name.as_deref() == Some(name)
                && c.protocol
                    .as_deref()
                    .unwrap_or("TCP")
                    .eq_ignore_ascii_case(protocol)
        })
        .and_then(|c| u16::try_from(c.container_port).ok())
}

/// `None` when an entry allows the probe's port and protocol, else why none does. A protocol
/// without ports (ICMP, …) never matches a rule with ports: their `protocol` field only takes
/// TCP, UDP and SCTP.
fn ports_miss(ports: &[PolicyPort], probe: Probe<'_>) -> Option<PortMiss> {
    if !probe.protocol.has_ports() {
        return Some(PortMiss {
            port: None,
            protocol: probe.protocol,
            allowed: ports.iter().map(render_entry).collect(),
            named: Vec::new(),
        });
    }
    let wanted = i64::from(probe.port);
    let mut named = Vec::new();
    for entry in ports {
        let (protocol_text, protocol) = entry_protocol(entry);
        let protocol_ok = protocol == Some(probe.protocol);
        let Some(port) = &entry.port else {
            if protocol_ok {
                return None;
            }
            continue;
        };
        match (port_number(port), port) {
            (Some(n), _) => {
                let last = entry.end_port.unwrap_or(n);
                if protocol_ok && n <= wanted && wanted <= last {
                    return None;
                }
            }
            (None, IntOrString::String(name)) => {
                let resolved = probe
                    .dst_pod
                    .and_then(|pod| named_port(pod, name, &protocol_text));
                if protocol_ok && resolved == Some(probe.port) {
                    return None;
                }
                if protocol_ok {
                    named.push(NamedPortMiss {
                        name: name.clone(),
                        protocol: protocol_text,
                        pod: probe.dst_pod.map(|p| format!("{}/{}", p.namespace, p.name)),
                        resolved,
                    });
                }
            }
            (None, IntOrString::Int(_)) => {}
        }
    }
    Some(PortMiss {
        port: Some(probe.port),
        protocol: probe.protocol,
        allowed: ports.iter().map(render_entry).collect(),
        named,
    })
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use serde_json::{json, Value};

    use crate::cluster::Snapshot;
    use crate::flow::Protocol;
    use crate::policy::verdict::{
        Exemption, NoRules, PeerReason, PolicyType, PolicyVerdict, SideVerdict,
    };
    use crate::policy::{Engine, Evaluation, Subject};

    fn ns(name: &str, labels: Value) -> Value {
        let mut labels = labels.as_object().cloned().unwrap_or_default();
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        json!({"kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    }

    fn pod(namespace: &str, name: &str, labels: Value, ip: &str, ports: Value) -> Value {
        json!({"kind": "Pod",
               "metadata": {"name": name, "namespace": namespace, "labels": labels},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports}]},
               "status": {"phase": "Running", "podIP": ip}})
    }

    fn policy(namespace: &str, name: &str, spec: Value) -> Value {
        json!({"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace},
               "spec": spec})
    }

    /// Namespaces `a` (team=a) and `b` (team=b); pods a/web (app=web, 10.0.0.1, port 80
    /// named http, 53/UDP named dns), a/db (app=db, 10.0.0.2) and b/client (app=client,
    /// 10.0.1.1); plus the given policies.
    fn snapshot(policies: Vec<Value>) -> Snapshot {
        let mut items = vec![
            ns("a", json!({"team": "a"})),
            ns("b", json!({"team": "b"})),
            pod(
                "a",
                "web",
                json!({"app": "web"}),
                "10.0.0.1",
                json!([{"containerPort": 80, "name": "http"},
                       {"containerPort": 53, "name": "dns", "protocol": "UDP"}]),
            ),
            pod("a", "db", json!({"app": "db"}), "10.0.0.2", json!([])),
            pod(
                "b",
                "client",
                json!({"app": "client"}),
                "10.0.1.1",
                json!([]),
            ),
        ];
        items.extend(policies);
        let text = json!({"kind": "List", "items": items}).to_string();
        Snapshot::from_text(&text, "test.json", None).unwrap()
    }

    fn eval(snapshot: &Snapshot, src: &str, dst: &str, port: u16, protocol: &str) -> Evaluation {
        Engine::new(snapshot)
            .evaluate(
                &Subject::parse(src).unwrap(),
                &Subject::parse(dst).unwrap(),
                port,
                Protocol::parse(protocol).unwrap(),
            )
            .unwrap()
    }

    fn verdict(
        snapshot: &Snapshot,
        src: &str,
        dst: &str,
        port: u16,
        protocol: &str,
    ) -> PolicyVerdict {
        eval(snapshot, src, dst, port, protocol).verdict
    }

    fn deny_ingress_to_web(rule: Value) -> Snapshot {
        snapshot(vec![policy(
            "a",
            "web-in",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [rule]}),
        )])
    }

    #[test]
    fn pods_without_policies_are_not_isolated() {
        let s = snapshot(vec![]);
        let e = eval(&s, "b/client", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert!(!e.egress.isolated && !e.ingress.isolated);
        assert!(e.ingress.policies.is_empty());
    }

    #[test]
    fn empty_pod_selector_selects_all_pods_of_the_namespace() {
        for selector in [json!({}), Value::Null] {
            let mut spec = json!({"ingress": []});
            if !selector.is_null() {
                spec["podSelector"] = selector;
            }
            let s = snapshot(vec![policy("a", "deny", spec)]);
            assert_eq!(
                verdict(&s, "b/client", "a/web", 80, "TCP"),
                PolicyVerdict::Deny
            );
            assert_eq!(
                verdict(&s, "b/client", "a/db", 80, "TCP"),
                PolicyVerdict::Deny
            );
            assert_eq!(
                verdict(&s, "a/web", "b/client", 80, "TCP"),
                PolicyVerdict::Allow
            );
        }
    }

    #[test]
    fn a_policy_only_selects_pods_of_its_own_namespace() {
        let s = snapshot(vec![policy("b", "deny", json!({"podSelector": {}}))]);
        assert_eq!(
            verdict(&s, "b/client", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        assert_eq!(
            verdict(&s, "a/web", "b/client", 80, "TCP"),
            PolicyVerdict::Deny
        );
    }

    #[test]
    fn policy_types_default_to_ingress_and_egress_only_with_egress_rules() {
        let s = snapshot(vec![policy(
            "a",
            "only-dns-out",
            json!({"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}),
        )]);
        let e = eval(&s, "a/web", "b/client", 80, "TCP");
        assert_eq!(e.egress.verdict, SideVerdict::Deny);
        assert_eq!(
            e.egress.policies[0].types,
            [PolicyType::Ingress, PolicyType::Egress]
        );
        assert!(e.egress.policies[0].types_defaulted);
        assert_eq!(
            verdict(&s, "a/web", "b/client", 53, "UDP"),
            PolicyVerdict::Allow
        );
        assert_eq!(
            eval(&s, "b/client", "a/web", 80, "TCP").ingress.verdict,
            SideVerdict::Deny,
            "Ingress is always among the defaulted types"
        );
    }

    #[test]
    fn empty_egress_list_without_policy_types_adds_no_egress_isolation() {
        let s = snapshot(vec![policy(
            "a",
            "p",
            json!({"podSelector": {}, "egress": [], "ingress": [{}]}),
        )]);
        let e = eval(&s, "a/web", "b/client", 80, "TCP");
        assert_eq!(e.egress.verdict, SideVerdict::Allow);
        assert!(!e.egress.isolated);
        assert_eq!(e.egress.policies[0].types, [PolicyType::Ingress]);
    }

    #[test]
    fn explicit_egress_type_without_egress_rules_denies_all_egress() {
        let s = snapshot(vec![policy(
            "a",
            "p",
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
        )]);
        let e = eval(&s, "a/web", "b/client", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert_eq!(e.egress.reasons[0].no_rules, Some(NoRules::Absent));
        assert_eq!(
            eval(&s, "b/client", "a/web", 80, "TCP").verdict,
            PolicyVerdict::Allow,
            "an Egress-only policy does not isolate for ingress"
        );
    }

    #[test]
    fn empty_ingress_list_allows_nothing() {
        let s = snapshot(vec![policy(
            "a",
            "p",
            json!({"podSelector": {}, "ingress": []}),
        )]);
        let e = eval(&s, "a/db", "a/web", 80, "TCP");
        assert_eq!(e.ingress.verdict, SideVerdict::Deny);
        assert_eq!(e.ingress.reasons[0].no_rules, Some(NoRules::Empty));
    }

    #[test]
    fn a_rule_without_peers_or_ports_allows_everything() {
        for rule in [json!({}), json!({"from": []}), json!({"ports": []})] {
            let s = deny_ingress_to_web(rule);
            let e = eval(&s, "b/client", "a/web", 443, "UDP");
            assert_eq!(e.verdict, PolicyVerdict::Allow);
            let matched = e.ingress.matched_rule.unwrap();
            assert_eq!((matched.rule, matched.peer), (0, None));
        }
    }

    #[test]
    fn pod_selector_peer_selects_pods_of_the_policy_namespace_only() {
        let s = deny_ingress_to_web(json!({"from": [{"podSelector": {}}]}));
        assert_eq!(
            verdict(&s, "a/db", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        let e = eval(&s, "b/client", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(matches!(
            &e.ingress.reasons[0].rules[0].peers[0].reasons[0],
            PeerReason::PodNamespace { policy_namespace, .. } if policy_namespace == "a"
        ));
    }

    #[test]
    fn pod_labels_failing_the_selector_are_reported() {
        let s = deny_ingress_to_web(
            json!({"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}]}),
        );
        let e = eval(&s, "a/db", "a/web", 80, "TCP");
        match &e.ingress.reasons[0].rules[0].peers[0].reasons[0] {
            PeerReason::PodLabels { unmet, labels, .. } => {
                assert_eq!(unmet, &["app=frontend"]);
                assert_eq!(labels["app"], "db");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn namespace_selector_alone_selects_every_pod_of_matching_namespaces() {
        let s = deny_ingress_to_web(
            json!({"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}]}),
        );
        assert_eq!(
            verdict(&s, "b/client", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        let e = eval(&s, "a/db", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(matches!(
            &e.ingress.reasons[0].rules[0].peers[0].reasons[0],
            PeerReason::NamespaceLabels { namespace, unmet, labels_known: true }
                if namespace == "a" && unmet == &["team=b"]
        ));
    }

    #[test]
    fn namespace_and_pod_selector_in_one_peer_must_both_match() {
        let s = deny_ingress_to_web(json!({"from": [{
            "namespaceSelector": {"matchLabels": {"team": "b"}},
            "podSelector": {"matchLabels": {"app": "client"}}}]}));
        assert_eq!(
            verdict(&s, "b/client", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        assert_eq!(verdict(&s, "a/db", "a/web", 80, "TCP"), PolicyVerdict::Deny);
        let s = deny_ingress_to_web(json!({"from": [{
            "namespaceSelector": {"matchLabels": {"team": "b"}},
            "podSelector": {"matchLabels": {"app": "other"}}}]}));
        assert_eq!(
            verdict(&s, "b/client", "a/web", 80, "TCP"),
            PolicyVerdict::Deny
        );
    }

    #[test]
    fn separate_peers_of_a_rule_are_ored() {
        let s = deny_ingress_to_web(json!({"from": [
            {"namespaceSelector": {"matchLabels": {"team": "b"}}},
            {"podSelector": {"matchLabels": {"app": "db"}}}]}));
        assert_eq!(
            verdict(&s, "b/client", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        let e = eval(&s, "a/db", "a/web", 80, "TCP");
        assert_eq!(e.ingress.matched_rule.unwrap().peer, Some(1));
    }

    #[test]
    fn rules_of_every_selecting_policy_are_unioned() {
        let s = snapshot(vec![
            policy("a", "deny-all", json!({"podSelector": {}, "ingress": []})),
            policy(
                "a",
                "allow-b",
                json!({"podSelector": {"matchLabels": {"app": "web"}},
                       "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}]}]}),
            ),
        ]);
        let e = eval(&s, "b/client", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert_eq!(e.ingress.policies.len(), 2);
        assert_eq!(e.ingress.matched_rule.unwrap().policy, "a/allow-b");
        let e = eval(&s, "a/db", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        let policies: Vec<&str> = e.ingress.reasons.iter().map(|r| &*r.policy).collect();
        assert_eq!(policies, ["a/allow-b", "a/deny-all"]);
    }

    #[test]
    fn ip_block_matches_external_addresses_with_its_exceptions_and_host_bits() {
        let s = deny_ingress_to_web(json!({"from": [{"ipBlock": {
            "cidr": "203.0.113.77/24", "except": ["203.0.113.128/25"]}}]}));
        assert_eq!(
            verdict(&s, "203.0.113.5", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        let e = eval(&s, "203.0.113.200", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(matches!(
            &e.ingress.reasons[0].rules[0].peers[0].reasons[0],
            PeerReason::IpBlockExcept { cidr, except, .. }
                if cidr == "203.0.113.0/24" && except == "203.0.113.128/25"
        ));
        let e = eval(&s, "198.51.100.1", "a/web", 80, "TCP");
        assert!(matches!(
            &e.ingress.reasons[0].rules[0].peers[0].reasons[0],
            PeerReason::IpBlockOutside { .. }
        ));
    }

    #[test]
    fn selector_peers_never_match_an_external_address() {
        let s = deny_ingress_to_web(json!({"from": [{"namespaceSelector": {}}]}));
        assert_eq!(
            verdict(&s, "b/client", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        let e = eval(&s, "203.0.113.5", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(matches!(
            &e.ingress.reasons[0].rules[0].peers[0].reasons[0],
            PeerReason::NotAPod { .. }
        ));
    }

    #[test]
    fn ip_block_matching_a_pod_ip_allows_with_a_note() {
        let s = snapshot(vec![policy(
            "a",
            "out",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
                   "egress": [{"to": [{"ipBlock": {"cidr": "10.0.1.0/24"}}]}]}),
        )]);
        let e = eval(&s, "a/web", "b/client", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert!(
            e.egress.notes[0].contains("advises against"),
            "{:?}",
            e.egress
        );
        assert_eq!(verdict(&s, "a/web", "a/db", 80, "TCP"), PolicyVerdict::Deny);
    }

    #[test]
    fn an_external_source_skips_the_egress_check_and_an_external_destination_the_ingress() {
        let s = snapshot(vec![policy(
            "a",
            "deny",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        )]);
        let e = eval(&s, "203.0.113.5", "b/client", 80, "TCP");
        assert_eq!(e.egress.verdict, SideVerdict::NotApplicable);
        assert!(matches!(
            e.egress.exemption,
            Some(Exemption::External { .. })
        ));
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        let e = eval(&s, "b/client", "203.0.113.5", 80, "TCP");
        assert_eq!(e.ingress.verdict, SideVerdict::NotApplicable);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert_eq!(
            verdict(&s, "a/web", "203.0.113.5", 80, "TCP"),
            PolicyVerdict::Deny
        );
    }

    #[test]
    fn ports_absent_or_empty_allow_every_port() {
        for ports in [Value::Null, json!([])] {
            let mut rule = json!({"from": [{"podSelector": {}}]});
            if !ports.is_null() {
                rule["ports"] = ports;
            }
            let s = deny_ingress_to_web(rule);
            assert_eq!(
                verdict(&s, "a/db", "a/web", 5432, "SCTP"),
                PolicyVerdict::Allow
            );
        }
    }

    #[test]
    fn port_protocol_defaults_to_tcp() {
        let s = deny_ingress_to_web(json!({"ports": [{"port": 80}]}));
        assert_eq!(
            verdict(&s, "a/db", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        let e = eval(&s, "a/db", "a/web", 80, "UDP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        let miss = e.ingress.reasons[0].rules[0].ports.as_ref().unwrap();
        assert_eq!(miss.allowed, ["TCP/80"]);
        assert!(e.ingress.reasons[0].rules[0].peers.is_empty());
    }

    #[test]
    fn sctp_and_udp_ports_match_only_their_protocol() {
        let s = deny_ingress_to_web(json!({"ports": [
            {"port": 80, "protocol": "SCTP"}, {"port": 81, "protocol": "UDP"}]}));
        assert_eq!(
            verdict(&s, "a/db", "a/web", 80, "SCTP"),
            PolicyVerdict::Allow
        );
        assert_eq!(
            verdict(&s, "a/db", "a/web", 81, "UDP"),
            PolicyVerdict::Allow
        );
        assert_eq!(verdict(&s, "a/db", "a/web", 80, "TCP"), PolicyVerdict::Deny);
        assert_eq!(
            verdict(&s, "a/db", "a/web", 81, "SCTP"),
            PolicyVerdict::Deny
        );
    }

    #[test]
    fn a_port_entry_with_only_a_protocol_matches_every_port_of_it() {
        let s = deny_ingress_to_web(json!({"ports": [{"protocol": "UDP"}]}));
        assert_eq!(verdict(&s, "a/db", "a/web", 1, "UDP"), PolicyVerdict::Allow);
        assert_eq!(
            verdict(&s, "a/db", "a/web", 65535, "UDP"),
            PolicyVerdict::Allow
        );
        assert_eq!(verdict(&s, "a/db", "a/web", 80, "TCP"), PolicyVerdict::Deny);
    }

    #[test]
    fn end_port_makes_an_inclusive_range() {
        let s = deny_ingress_to_web(json!({"ports": [{"port": 32000, "endPort": 32768}]}));
        for (port, expected) in [
            (31999, PolicyVerdict::Deny),
            (32000, PolicyVerdict::Allow),
            (32768, PolicyVerdict::Allow),
            (32769, PolicyVerdict::Deny),
        ] {
            assert_eq!(
                verdict(&s, "a/db", "a/web", port, "TCP"),
                expected,
                "{port}"
            );
        }
    }

    #[test]
    fn named_ports_resolve_against_the_destination_pod_with_their_protocol() {
        let s = deny_ingress_to_web(
            json!({"ports": [{"port": "http"}, {"port": "dns", "protocol": "UDP"}]}),
        );
        assert_eq!(
            verdict(&s, "a/db", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        assert_eq!(
            verdict(&s, "a/db", "a/web", 53, "UDP"),
            PolicyVerdict::Allow
        );
        assert_eq!(verdict(&s, "a/db", "a/web", 53, "TCP"), PolicyVerdict::Deny);
        let e = eval(&s, "a/db", "a/web", 8080, "TCP");
        let miss = e.ingress.reasons[0].rules[0].ports.as_ref().unwrap();
        assert_eq!(miss.named[0].resolved, Some(80));
    }

    #[test]
    fn a_named_port_the_destination_does_not_declare_matches_nothing() {
        let s = deny_ingress_to_web(json!({"ports": [{"port": "metrics"}]}));
        let e = eval(&s, "a/db", "a/web", 9090, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        let miss = e.ingress.reasons[0].rules[0].ports.as_ref().unwrap();
        assert_eq!(miss.named[0].name, "metrics");
        assert_eq!(miss.named[0].resolved, None);
        assert_eq!(miss.named[0].pod.as_deref(), Some("a/web"));
    }

    #[test]
    fn egress_named_ports_resolve_against_the_peer_pod() {
        let s = snapshot(vec![policy(
            "b",
            "out",
            json!({"podSelector": {}, "policyTypes": ["Egress"],
                   "egress": [{"ports": [{"port": "http"}]}]}),
        )]);
        assert_eq!(
            verdict(&s, "b/client", "a/web", 80, "TCP"),
            PolicyVerdict::Allow
        );
        assert_eq!(
            verdict(&s, "b/client", "a/db", 80, "TCP"),
            PolicyVerdict::Deny
        );
        let e = eval(&s, "b/client", "203.0.113.5", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        let miss = e.egress.reasons[0].rules[0].ports.as_ref().unwrap();
        assert_eq!(miss.named[0].pod, None);
    }

    #[test]
    fn a_namespace_without_its_object_has_only_its_name_label() {
        let s = snapshot(vec![
            pod("ghost", "g", json!({}), "10.0.2.1", json!([])),
            policy(
                "a",
                "in",
                json!({"podSelector": {}, "ingress": [{"from": [
                    {"namespaceSelector": {"matchLabels": {"team": "ghost"}}}]}]}),
            ),
        ]);
        let e = eval(&s, "ghost/g", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(matches!(
            &e.ingress.reasons[0].rules[0].peers[0].reasons[0],
            PeerReason::NamespaceLabels {
                labels_known: false,
                ..
            }
        ));
        let s = snapshot(vec![
            pod("ghost", "g", json!({}), "10.0.2.1", json!([])),
            policy(
                "a",
                "in",
                json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {
                    "matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}}]}]}),
            ),
        ]);
        let e = eval(&s, "ghost/g", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert!(e.ingress.notes[0].contains("no Namespace object"));
    }

    #[test]
    fn selection_by_the_namespace_name_label_works_without_the_namespace_object() {
        let s = snapshot(vec![
            pod("ghost", "g", json!({}), "10.0.2.1", json!([])),
            policy(
                "a",
                "in",
                json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector":
                    {"matchLabels": {"kubernetes.io/metadata.name": "ghost"}}}]}]}),
            ),
        ]);
        let e = eval(&s, "ghost/g", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert!(e.ingress.notes.is_empty());
    }

    #[test]
    fn a_pod_given_by_its_ip_is_that_pod() {
        let s = deny_ingress_to_web(json!({"from": [{"podSelector": {}}]}));
        let e = eval(&s, "10.0.0.2", "a/web", 80, "TCP");
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert_eq!(
            e.src,
            crate::policy::Party::Pod {
                namespace: "a".into(),
                name: "db".into(),
                ip: "10.0.0.2".parse::<IpAddr>().ok(),
                host_network: false
            }
        );
    }

    /// Whether any note of the side says what is left to the network plugin.
    fn plugin_noted(side: &crate::policy::SideResult) -> bool {
        side.notes
            .iter()
            .any(|n| n.contains("may vary across network plugins"))
    }

    #[test]
    fn icmp_between_pods_no_policy_selects_is_allowed_both_ways() {
        let s = snapshot(vec![]);
        for (src, dst) in [("b/client", "a/web"), ("a/web", "b/client")] {
            for protocol in ["ICMP", "ICMPv6", "47"] {
                let e = eval(&s, src, dst, 0, protocol);
                assert_eq!(e.verdict, PolicyVerdict::Allow, "{src} → {dst} {protocol}");
                assert_eq!(e.port, None);
                assert!(!plugin_noted(&e.egress) && !plugin_noted(&e.ingress));
            }
        }
    }

    #[test]
    fn icmp_to_an_ingress_isolated_pod_is_denied_by_a_rule_with_ports() {
        let s = deny_ingress_to_web(json!({"ports": [{"port": 80}]}));
        let tcp = eval(&s, "b/client", "a/web", 80, "TCP");
        assert_eq!(tcp.verdict, PolicyVerdict::Allow);
        for protocol in ["ICMP", "ICMPv6", "132-not-a-number", "47"] {
            let Some(proto) = Protocol::parse(protocol) else {
                continue;
            };
            let e = Engine::new(&s)
                .evaluate(
                    &Subject::parse("b/client").unwrap(),
                    &Subject::parse("a/web").unwrap(),
                    0,
                    proto,
                )
                .unwrap();
            assert_eq!(e.verdict, PolicyVerdict::Deny, "{protocol}");
            assert_eq!(e.ingress.verdict, SideVerdict::Deny);
            let ports = e.ingress.reasons[0].rules[0].ports.as_ref().unwrap();
            assert_eq!(ports.port, None);
            assert_eq!(ports.allowed, ["TCP/80"]);
            let text = e.to_string();
            assert!(
                text.contains(&format!(
                    "rule 1 ports: {proto} has no ports, and a rule with ports [TCP/80] only \
                     matches TCP, UDP or SCTP"
                )),
                "{text}"
            );
            assert!(plugin_noted(&e.ingress), "{text}");
            assert!(
                text.starts_with(&format!("DENIED  b/client → a/web {proto}\n")),
                "{text}"
            );
        }
        // The other way, out of the isolated pod, nothing isolates web's egress.
        let back = eval(&s, "a/web", "b/client", 0, "ICMP");
        assert_eq!(back.verdict, PolicyVerdict::Allow);
    }

    #[test]
    fn a_rule_without_ports_admits_icmp_and_every_protocol() {
        let s = deny_ingress_to_web(json!({"from": [{"namespaceSelector":
            {"matchLabels": {"team": "b"}}}]}));
        for protocol in ["ICMP", "ICMPv6", "47", "UDP"] {
            let e = eval(&s, "b/client", "a/web", 53, protocol);
            assert_eq!(e.verdict, PolicyVerdict::Allow, "{protocol}");
            assert!(e.ingress.matched_rule.is_some());
        }
        let e = eval(&s, "b/client", "a/web", 0, "ICMP");
        assert!(plugin_noted(&e.ingress), "{e}");
        let from_a = eval(&s, "a/db", "a/web", 0, "ICMP");
        assert_eq!(from_a.verdict, PolicyVerdict::Deny, "a is not team=b");
    }

    #[test]
    fn default_deny_egress_denies_a_ping_to_the_internet() {
        let s = snapshot(vec![policy(
            "a",
            "deny-egress",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"]}),
        )]);
        let e = eval(&s, "a/web", "8.8.8.8", 0, "ICMP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert_eq!(e.egress.reasons[0].no_rules, Some(NoRules::Absent));
        assert_eq!(e.ingress.verdict, SideVerdict::NotApplicable);
        assert!(plugin_noted(&e.egress));
        assert!(
            e.summary().contains("a/deny-egress has no egress rules"),
            "{}",
            e.summary()
        );
        let unselected = eval(&s, "a/db", "8.8.8.8", 0, "ICMP");
        assert_eq!(unselected.verdict, PolicyVerdict::Allow);
        // A ping from outside to the isolated-for-egress pod: its ingress is not isolated.
        let inbound = eval(&s, "8.8.8.8", "a/web", 0, "ICMPv6");
        assert_eq!(inbound.verdict, PolicyVerdict::Allow);
    }

    #[test]
    fn icmp_to_a_service_never_reaches_a_backend() {
        let mut items = vec![
            json!({"kind": "Service", "metadata": {"name": "web", "namespace": "a"},
            "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"},
                     "ports": [{"port": 80}]}}),
        ];
        items.push(policy(
            "a",
            "none",
            json!({"podSelector": {"matchLabels": {"app": "x"}}}),
        ));
        let s = snapshot(items);
        let e = eval(&s, "b/client", "svc/a/web", 0, "ICMP");
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        let problem = e.service.as_ref().unwrap().problem.as_deref().unwrap();
        assert!(problem.contains("forwards only its ports"), "{problem}");
    }
}
