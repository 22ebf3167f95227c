//! The smallest NetworkPolicy change that admits given denied connections: from each
//! connection's [`Evaluation`], an ingress rule on the destination's side and/or an egress rule
//! on the source's, whichever side denied it.
//!
//! Peers are named the way that survives a rollout: pods by their stable labels (never
//! `pod-template-hash`, `controller-revision-hash`, `statefulset.kubernetes.io/pod-name` or
//! other per-pod or per-revision labels) and their namespace by `kubernetes.io/metadata.name`;
//! anything selectors cannot match (nodes, outside addresses, hostNetwork pods) by an ipBlock of
//! its one address. Ports are the pod's port, never a Service port. A rule goes into the policy
//! that already isolates the pod when that policy selects no pod outside the workload;
//! otherwise into a new policy for the workload, unless that new policy would isolate pods
//! that are not isolated yet (then into the narrowest isolating policy). Rules for one peer
//! merge their ports, and peers with the same ports share one rule, so a rule admits exactly
//! its peers on exactly their ports.
//!
//! Nothing here reads flows or checks what else a change admits: the session replays the
//! recorded connections against the change for that.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::eval::effective_types;
use super::verdict::{Evaluation, Party, PolicyType, PolicyVerdict, SideResult, SideVerdict};
use crate::cluster::model::{
    IntOrString, IpBlock, NetworkPolicy, Pod, PolicyPeer, PolicyPort, PolicyRule,
};
use crate::cluster::selector::LabelSelector;
use crate::cluster::Snapshot;
use crate::flow::Protocol;

/// Labels that name one pod or one revision of a workload: a selector on them stops matching
/// after the next rollout or restart.
pub const UNSTABLE_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-completion-index",
];

/// The label the API server puts on every namespace.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// One NetworkPolicy to apply: an existing one with rules added, or a new one.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// The whole policy as it should be applied.
    pub policy: NetworkPolicy,
    /// Whether it patches a policy of the snapshot (else it is new).
    pub patched: bool,
    /// The rules added: direction and 0-based index in the policy's `ingress` or `egress`.
    pub added_rules: Vec<(PolicyType, usize)>,
    /// The connections it was made for, as text.
    pub made_for: Vec<String>,
    /// Caveats (a pod without stable labels, a broader policy patched).
    pub notes: Vec<String>,
}

impl Suggestion {
    /// `namespace/name` of the policy.
    pub fn id(&self) -> String {
        format!("{}/{}", self.policy.namespace, self.policy.name)
    }
}

/// Where rules for one pod's direction go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// The policy at this index of the snapshot's.
    Existing(usize),
    /// A new policy selecting the workload's stable labels.
    New {
        namespace: String,
        name: String,
        selector: BTreeMap<String, String>,
        direction: PolicyType,
    },
}

/// Protocol and port numbers a peer needs, sorted.
type Ports = BTreeSet<(String, u16)>;

/// What one place receives.
#[derive(Debug, Default)]
struct Additions {
    /// Peer (as canonical JSON) → its peer and the ports it needs, per direction.
    peers: BTreeMap<(PolicyType, String), (PolicyPeer, Ports)>,
    made_for: Vec<String>,
    notes: Vec<String>,
}

/// Builds suggestions against one snapshot, one connection at a time.
pub struct Suggester<'s> {
    snapshot: &'s Snapshot,
    places: BTreeMap<Place, Additions>,
}

impl<'s> Suggester<'s> {
    /// A suggester over `snapshot` (the one the evaluations were made against).
    pub fn new(snapshot: &'s Snapshot) -> Suggester<'s> {
        Suggester {
            snapshot,
            places: BTreeMap::new(),
        }
    }

    /// Adds what admits the connection `evaluation` describes (`label` names it in the
    /// suggestion). Returns how many sides get a rule, or why none can.
    pub fn admit(&mut self, evaluation: &Evaluation, label: &str) -> Result<usize, String> {
        if evaluation.verdict == PolicyVerdict::Allow {
            return Err(
                "the snapshot's NetworkPolicies already allow it (the log's denial comes \
                        from elsewhere: a CNI-specific policy, or policies changed since)"
                    .to_string(),
            );
        }
        let Some(port) = evaluation.port else {
            return Err(format!(
                "{} has no ports: only a rule without `ports` admits it, and that admits every \
                 protocol and port from the same peers, more than was asked",
                evaluation.protocol
            ));
        };
        let destinations: Vec<(&Party, u16, &SideResult, &SideResult)> =
            if evaluation.backends.is_empty() {
                vec![(
                    &evaluation.dst,
                    port,
                    &evaluation.egress,
                    &evaluation.ingress,
                )]
            } else {
                evaluation
                    .backends
                    .iter()
                    .filter(|b| b.verdict == PolicyVerdict::Deny)
                    .map(|b| (&b.backend, b.port, &b.egress, &b.ingress))
                    .collect()
            };
        let mut opened = 0;
        for (dst, port, egress, ingress) in destinations {
            if egress.verdict == SideVerdict::Deny {
                let pod = self.pod_of(&evaluation.src)?;
                let peer = self.peer(dst, &pod.namespace)?;
                self.add(
                    pod,
                    PolicyType::Egress,
                    peer,
                    evaluation.protocol,
                    port,
                    label,
                );
                opened += 1;
            }
            if ingress.verdict == SideVerdict::Deny {
                let pod = self.pod_of(dst)?;
                let peer = self.peer(&evaluation.src, &pod.namespace)?;
                self.add(
                    pod,
                    PolicyType::Ingress,
                    peer,
                    evaluation.protocol,
                    port,
                    label,
                );
                opened += 1;
            }
        }
        if opened == 0 {
            return Err(match &evaluation.service {
                Some(s) => {
                    format!(
                    "service {} has no backend for this port: no NetworkPolicy rule can admit it{}",
                    s.service,
                    s.problem.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
                )
                }
                None => "no side denies it".to_string(),
            });
        }
        Ok(opened)
    }

    fn pod_of(&self, party: &Party) -> Result<&'s Pod, String> {
        match party {
            Party::Pod {
                namespace, name, ..
            } => self
                .snapshot
                .pod(namespace, name)
                .ok_or_else(|| format!("pod {namespace}/{name} is not in the snapshot")),
            other => Err(format!(
                "{} is not a pod: NetworkPolicy cannot select it",
                party_text(other)
            )),
        }
    }

    /// The peer that matches `party` in a rule of a policy in `namespace`.
    fn peer(&self, party: &Party, namespace: &str) -> Result<PolicyPeer, String> {
        let block = |ip: &IpAddr| PolicyPeer {
            ip_block: Some(IpBlock {
                cidr: match ip {
                    IpAddr::V4(_) => format!("{ip}/32"),
                    IpAddr::V6(_) => format!("{ip}/128"),
                },
                except: None,
            }),
            ..Default::default()
        };
        match party {
            Party::Pod {
                namespace: ns,
                name,
                ip,
                host_network,
            } => {
                let pod = self
                    .snapshot
                    .pod(ns, name)
                    .ok_or_else(|| format!("pod {ns}/{name} is not in the snapshot"))?;
                if *host_network || pod.host_network {
                    // Selectors never match a hostNetwork pod: its traffic is its node's.
                    let ip = ip.or_else(|| pod.ips.first().copied()).ok_or_else(|| {
                        format!("hostNetwork pod {ns}/{name} has no address in the snapshot")
                    })?;
                    return Ok(block(&ip));
                }
                let pod_selector = Some(LabelSelector {
                    match_labels: Some(self.stable_labels(pod)).filter(|l| !l.is_empty()),
                    match_expressions: None,
                });
                let namespace_selector = (ns != namespace).then(|| LabelSelector {
                    match_labels: Some(BTreeMap::from([(NAME_LABEL.to_string(), ns.clone())])),
                    match_expressions: None,
                });
                Ok(PolicyPeer {
                    pod_selector,
                    namespace_selector,
                    ip_block: None,
                })
            }
            Party::External { ip } if self.snapshot.pod_cidrs().iter().any(|c| c.contains(ip)) => {
                // An ipBlock on a pod address admits whichever pod holds it next, and CNIs
                // need not apply ipBlocks to pod traffic at all.
                Err(format!(
                    "{ip} is in the pod network but no pod of the snapshot holds it (a pod \
                     created or gone since): take a snapshot from the time of the connection"
                ))
            }
            Party::Node { ip, .. } | Party::External { ip } => Ok(block(ip)),
            Party::Service { .. } => Err(
                "a Service is not a peer: its backends are (no backend was evaluated)".to_string(),
            ),
        }
    }

    /// The pod's labels that survive a rollout.
    fn stable_labels(&self, pod: &Pod) -> BTreeMap<String, String> {
        let cron = self
            .snapshot
            .workload_of(pod)
            .is_some_and(|w| w.kind == "CronJob");
        pod.labels
            .iter()
            .filter(|(k, _)| !UNSTABLE_LABELS.contains(&k.as_str()))
            // A CronJob's Job, and so its name label, changes every run.
            .filter(|(k, _)| {
                !(cron && matches!(k.as_str(), "job-name" | "batch.kubernetes.io/job-name"))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn add(
        &mut self,
        pod: &Pod,
        direction: PolicyType,
        peer: PolicyPeer,
        protocol: Protocol,
        port: u16,
        label: &str,
    ) {
        let (place, note) = self.place(pod, direction);
        let key = serde_json::to_string(&peer).unwrap_or_default();
        let additions = self.places.entry(place).or_default();
        additions
            .peers
            .entry((direction, key))
            .or_insert_with(|| (peer, BTreeSet::new()))
            .1
            .insert((protocol.to_string().to_ascii_uppercase(), port));
        if !additions.made_for.iter().any(|m| m == label) {
            additions.made_for.push(label.to_string());
        }
        if let Some(note) = note {
            if !additions.notes.contains(&note) {
                additions.notes.push(note);
            }
        }
    }

    /// Which policy receives `pod`'s rules for `direction`, and a caveat when it is broader
    /// than the pod's workload.
    fn place(&self, pod: &Pod, direction: PolicyType) -> (Place, Option<String>) {
        let snapshot = self.snapshot;
        let stable = self.stable_labels(pod);
        let workload = LabelSelector {
            match_labels: Some(stable.clone()),
            match_expressions: None,
        };
        let in_namespace: Vec<&Pod> = snapshot
            .pods()
            .iter()
            .filter(|p| p.namespace == pod.namespace && !p.host_network)
            .collect();
        let applies = |p: &NetworkPolicy| {
            p.namespace == pod.namespace && effective_types(&p.spec).0.contains(&direction)
        };
        let selects = |p: &NetworkPolicy, q: &Pod| {
            p.spec
                .pod_selector
                .as_ref()
                .is_none_or(|s| s.matches(&q.labels))
        };
        let isolating: Vec<(usize, usize)> = snapshot
            .policies()
            .iter()
            .enumerate()
            .filter(|(_, p)| applies(p) && selects(p, pod))
            .map(|(i, p)| {
                let count = in_namespace.iter().filter(|q| selects(p, q)).count();
                (i, count)
            })
            .collect();
        let policy_name = |i: usize| &snapshot.policies()[i].name;
        let narrow = isolating
            .iter()
            .filter(|(i, _)| {
                let p = &snapshot.policies()[*i];
                in_namespace
                    .iter()
                    .filter(|q| selects(p, q))
                    .all(|q| workload.matches(&q.labels))
            })
            .min_by(|a, b| {
                a.1.cmp(&b.1)
                    .then_with(|| policy_name(a.0).cmp(policy_name(b.0)))
            });
        if let Some((i, _)) = narrow {
            return (Place::Existing(*i), None);
        }
        let all_isolated = in_namespace
            .iter()
            .filter(|q| workload.matches(&q.labels))
            .all(|q| {
                snapshot
                    .policies()
                    .iter()
                    .any(|p| applies(p) && selects(p, q))
            });
        let broadest_note = |i: usize| {
            format!(
                "{}/{} selects pods outside {}'s workload: they are admitted too",
                pod.namespace,
                policy_name(i),
                pod.name
            )
        };
        if all_isolated || isolating.is_empty() {
            let mut note = None;
            if stable.is_empty() {
                note = Some(format!(
                    "pod {}/{} has no stable labels: the policy selects every pod of its namespace",
                    pod.namespace, pod.name
                ));
            }
            let base = snapshot
                .workload_of(pod)
                .map(|w| w.name)
                .unwrap_or_else(|| pod.name.clone());
            let suffix = match direction {
                PolicyType::Ingress => "allow-ingress",
                PolicyType::Egress => "allow-egress",
            };
            let mut name = format!("{base}-{suffix}");
            let mut n = 2;
            while snapshot
                .policies()
                .iter()
                .any(|p| p.namespace == pod.namespace && p.name == name)
            {
                name = format!("{base}-{suffix}-{n}");
                n += 1;
            }
            return (
                Place::New {
                    namespace: pod.namespace.clone(),
                    name,
                    selector: stable,
                    direction,
                },
                note,
            );
        }
        let (i, _) = isolating
            .iter()
            .min_by(|a, b| {
                a.1.cmp(&b.1)
                    .then_with(|| policy_name(a.0).cmp(policy_name(b.0)))
            })
            .copied()
            .unwrap_or((0, 0));
        (Place::Existing(i), Some(broadest_note(i)))
    }

    /// The policies to apply, sorted by namespace and name.
    pub fn finish(self) -> Vec<Suggestion> {
        let mut out = Vec::new();
        for (place, additions) in self.places {
            let (mut policy, patched) = match place {
                Place::Existing(i) => (self.snapshot.policies()[i].clone(), true),
                Place::New {
                    namespace,
                    name,
                    selector,
                    direction,
                } => (
                    NetworkPolicy {
                        namespace,
                        name,
                        spec: crate::cluster::model::NetworkPolicySpec {
                            pod_selector: Some(LabelSelector {
                                match_labels: Some(selector).filter(|s| !s.is_empty()),
                                match_expressions: None,
                            }),
                            policy_types: Some(vec![direction.as_str().to_string()]),
                            ingress: None,
                            egress: None,
                        },
                        created: None,
                    },
                    false,
                ),
            };
            // Peers needing the same ports share a rule: the rule then admits exactly them.
            let mut rules: BTreeMap<(PolicyType, Ports), Vec<PolicyPeer>> = BTreeMap::new();
            for ((direction, _), (peer, ports)) in additions.peers {
                rules.entry((direction, ports)).or_default().push(peer);
            }
            let mut added_rules = Vec::new();
            for ((direction, ports), peers) in rules {
                let rule = PolicyRule {
                    peers: Some(peers),
                    ports: Some(
                        ports
                            .into_iter()
                            .map(|(protocol, port)| PolicyPort {
                                protocol: Some(protocol),
                                port: Some(IntOrString::Int(port.into())),
                                end_port: None,
                            })
                            .collect(),
                    ),
                };
                let list = match direction {
                    PolicyType::Ingress => policy.spec.ingress.get_or_insert_with(Vec::new),
                    PolicyType::Egress => policy.spec.egress.get_or_insert_with(Vec::new),
                };
                list.push(rule);
                added_rules.push((direction, list.len() - 1));
            }
            out.push(Suggestion {
                policy,
                patched,
                added_rules,
                made_for: additions.made_for,
                notes: additions.notes,
            });
        }
        out.sort_by_key(Suggestion::id);
        out
    }
}

/// A rule peer in words: `pods io.vamp=release-agent in namespace customer1`, `pods app=web`
/// (the policy's namespace), `ipBlock 10.0.0.11/32`.
pub fn peer_text(peer: &PolicyPeer) -> String {
    let labels = |s: &LabelSelector| {
        if s.is_empty() {
            "all".to_string()
        } else {
            s.to_string()
        }
    };
    if let Some(block) = &peer.ip_block {
        let mut text = format!("ipBlock {}", block.cidr);
        if let Some(except) = block.except.as_ref().filter(|e| !e.is_empty()) {
            text.push_str(&format!(" except {}", except.join(", ")));
        }
        return text;
    }
    let pods = peer.pod_selector.as_ref().map_or("all".to_string(), labels);
    match &peer.namespace_selector {
        None => format!("pods {pods}"),
        Some(ns) => match ns.match_labels.as_ref().and_then(|m| m.get(NAME_LABEL)) {
            Some(name) if ns.match_labels.as_ref().is_some_and(|m| m.len() == 1) => {
                format!("pods {pods} in namespace {name}")
            }
            _ => format!("pods {pods} in namespaces {}", labels(ns)),
        },
    }
}

fn party_text(party: &Party) -> String {
    match party {
        Party::Pod {
            namespace, name, ..
        } => format!("pod {namespace}/{name}"),
        Party::Service {
            namespace, name, ..
        } => format!("service {namespace}/{name}"),
        Party::Node { name, ip } => format!("node {name} ({ip})"),
        Party::External { ip } => format!("address {ip}"),
    }
}

/// A policy as a `kubectl apply`-ready manifest: `apiVersion`, `kind`, `metadata` and the spec
/// with its fields named as Kubernetes names them (`from`/`to`) and absent fields left out.
pub fn manifest(policy: &NetworkPolicy) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    fn clean(value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, clean(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(clean).collect()),
            other => other,
        }
    }
    let rules = |rules: &Option<Vec<PolicyRule>>, peers_field: &str| {
        rules.as_ref().map(|rules| {
            Value::Array(
                rules
                    .iter()
                    .map(|r| {
                        let mut m = Map::new();
                        if let Some(peers) = &r.peers {
                            m.insert(
                                peers_field.to_string(),
                                clean(serde_json::to_value(peers).unwrap_or(Value::Null)),
                            );
                        }
                        if let Some(ports) = &r.ports {
                            m.insert(
                                "ports".to_string(),
                                clean(serde_json::to_value(ports).unwrap_or(Value::Null)),
                            );
                        }
                        Value::Object(m)
                    })
                    .collect(),
            )
        })
    };
    let spec = &policy.spec;
    let mut s = Map::new();
    s.insert(
        "podSelector".to_string(),
        clean(
            serde_json::to_value(spec.pod_selector.clone().unwrap_or_default())
                .unwrap_or(json!({})),
        ),
    );
    if let Some(types) = &spec.policy_types {
        s.insert("policyTypes".to_string(), json!(types));
    }
    if let Some(r) = rules(&spec.ingress, "from") {
        s.insert("ingress".to_string(), r);
    }
    if let Some(r) = rules(&spec.egress, "to") {
        s.insert("egress".to_string(), r);
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": policy.name, "namespace": policy.namespace},
        "spec": Value::Object(s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Engine, Subject};

    const CLUSTER: &str = r#"{"kind":"List","items":[
      {"kind":"Namespace","metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"shop"}}},
      {"kind":"Namespace","metadata":{"name":"tools","labels":{"kubernetes.io/metadata.name":"tools"}}},
      {"kind":"Pod","metadata":{"name":"web-7d4b9c-abcde","namespace":"shop","labels":{"app":"web","pod-template-hash":"7d4b9c"},
        "ownerReferences":[{"kind":"ReplicaSet","name":"web-7d4b9c","controller":true}]},
       "status":{"phase":"Running","podIP":"10.1.0.5"}},
      {"kind":"Pod","metadata":{"name":"db-0","namespace":"shop","labels":{"app":"db","statefulset.kubernetes.io/pod-name":"db-0","controller-revision-hash":"db-5c"},
        "ownerReferences":[{"kind":"StatefulSet","name":"db","controller":true}]},
       "spec":{"containers":[{"ports":[{"name":"pg","containerPort":5432}]}]},
       "status":{"phase":"Running","podIP":"10.1.0.6"}},
      {"kind":"Pod","metadata":{"name":"cache-0","namespace":"shop","labels":{"app":"cache"}},
       "status":{"phase":"Running","podIP":"10.1.0.7"}},
      {"kind":"Pod","metadata":{"name":"debug","namespace":"tools","labels":{"run":"debug"}},
       "status":{"phase":"Running","podIP":"10.1.1.5"}},
      {"kind":"Service","metadata":{"name":"db","namespace":"shop"},
       "spec":{"clusterIP":"10.96.0.6","selector":{"app":"db"},"ports":[{"port":80,"targetPort":"pg"}]}},
      {"kind":"NetworkPolicy","metadata":{"name":"db-in","namespace":"shop"},
       "spec":{"podSelector":{"matchLabels":{"app":"db"}},"policyTypes":["Ingress"],
               "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"web"}}}],"ports":[{"port":"pg"}]}]}},
      {"kind":"NetworkPolicy","metadata":{"name":"default-deny","namespace":"shop"},
       "spec":{"podSelector":{},"policyTypes":["Ingress","Egress"]}}]}"#;

    fn snapshot() -> Snapshot {
        Snapshot::from_text(CLUSTER, "c.json", None).unwrap()
    }

    fn suggest(s: &Snapshot, connections: &[(&str, &str, u16)]) -> Vec<Suggestion> {
        let engine = Engine::new(s);
        let mut suggester = Suggester::new(s);
        for (src, dst, port) in connections {
            let e = engine
                .evaluate(
                    &Subject::parse(src).unwrap(),
                    &Subject::parse(dst).unwrap(),
                    *port,
                    Protocol::Tcp,
                )
                .unwrap();
            suggester.admit(&e, &format!("{src} -> {dst}")).unwrap();
        }
        suggester.finish()
    }

    #[test]
    fn a_rule_goes_into_the_policy_that_selects_only_the_workload_with_stable_labels() {
        let s = snapshot();
        // Through the Service on port 80: the rule names the pod port, 5432.
        let out = suggest(&s, &[("tools/debug", "svc/shop/db", 80)]);
        let db = out
            .iter()
            .find(|x| x.policy.name == "db-in")
            .expect("db-in patched");
        assert!(db.patched);
        assert_eq!(db.added_rules, [(PolicyType::Ingress, 1)]);
        let m = manifest(&db.policy);
        let rule = &m["spec"]["ingress"][1];
        assert_eq!(
            rule["from"][0],
            serde_json::json!({
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "tools"}},
                "podSelector": {"matchLabels": {"run": "debug"}}})
        );
        assert_eq!(
            rule["ports"],
            serde_json::json!([{"port": 5432, "protocol": "TCP"}])
        );
        assert_eq!(
            m["spec"]["ingress"][0]["ports"][0]["port"], "pg",
            "the existing rule is kept"
        );
    }

    #[test]
    fn without_a_narrow_policy_a_new_one_selects_the_workload_never_its_hash() {
        let s = snapshot();
        let out = suggest(&s, &[("shop/web-7d4b9c-abcde", "shop/cache-0", 6379)]);
        // web's egress (default-deny) and cache's ingress (default-deny) both deny it.
        let names: Vec<String> = out.iter().map(Suggestion::id).collect();
        assert_eq!(
            names,
            ["shop/cache-0-allow-ingress", "shop/web-allow-egress"]
        );
        let web = manifest(&out[1].policy);
        assert_eq!(
            web["spec"]["podSelector"],
            serde_json::json!({"matchLabels": {"app": "web"}})
        );
        assert_eq!(web["spec"]["policyTypes"], serde_json::json!(["Egress"]));
        assert_eq!(
            web["spec"]["egress"][0]["to"][0],
            serde_json::json!({"podSelector": {"matchLabels": {"app": "cache"}}})
        );
        assert!(!out[1].patched);
        assert!(!web.to_string().contains("pod-template-hash"));
    }

    #[test]
    fn peers_with_the_same_ports_share_a_rule_and_one_peers_ports_merge() {
        let s = snapshot();
        let out = suggest(
            &s,
            &[
                ("10.9.0.1", "shop/db-0", 5432),
                ("10.9.0.2", "shop/db-0", 5432),
                ("10.9.0.1", "shop/db-0", 5433),
            ],
        );
        let m = manifest(&out[0].policy);
        let added = &m["spec"]["ingress"];
        assert_eq!(added.as_array().unwrap().len(), 3, "{m}");
        let texts: Vec<String> = added.as_array().unwrap()[1..]
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert!(
            texts
                .iter()
                .any(|t| t.contains("10.9.0.1/32") && t.contains("5433") && t.contains("5432")),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("10.9.0.2/32") && !t.contains("5433")),
            "{texts:?}"
        );
    }

    #[test]
    fn an_address_of_the_pod_network_no_pod_holds_is_not_turned_into_an_ip_block() {
        let text = CLUSTER.replace(
            r#"{"kind":"Service","#,
            r#"{"kind":"Node","metadata":{"name":"n1"},"spec":{"podCIDR":"10.1.0.0/16"}},{"kind":"Service","#,
        );
        let s = Snapshot::from_text(&text, "c.json", None).unwrap();
        let engine = Engine::new(&s);
        let e = engine
            .evaluate(
                &Subject::parse("10.1.9.9").unwrap(),
                &Subject::parse("shop/db-0").unwrap(),
                5432,
                Protocol::Tcp,
            )
            .unwrap();
        let mut suggester = Suggester::new(&s);
        let why = suggester.admit(&e, "10.1.9.9 -> db").unwrap_err();
        assert!(why.contains("in the pod network but no pod"), "{why}");
        assert!(suggester.finish().is_empty());
    }

    #[test]
    fn only_the_side_that_denies_gets_a_rule_and_an_allowed_connection_none() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = engine
            .evaluate(
                &Subject::parse("shop/web-7d4b9c-abcde").unwrap(),
                &Subject::parse("shop/db-0").unwrap(),
                5432,
                Protocol::Tcp,
            )
            .unwrap();
        // web's egress is denied by default-deny; db's ingress admits web.
        let mut suggester = Suggester::new(&s);
        assert_eq!(suggester.admit(&e, "web -> db"), Ok(1));
        let out = suggester.finish();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].added_rules, [(PolicyType::Egress, 0)]);
        let allowed = engine
            .evaluate(
                &Subject::parse("tools/debug").unwrap(),
                &Subject::parse("203.0.113.9").unwrap(),
                443,
                Protocol::Tcp,
            )
            .unwrap();
        let mut suggester = Suggester::new(&s);
        assert!(suggester
            .admit(&allowed, "debug -> out")
            .unwrap_err()
            .contains("already allow"));
        assert!(suggester.finish().is_empty());
    }
}
