//! The NetworkPolicy engine: exact `networking.k8s.io/v1` verdicts for connections between
//! pods, services, nodes and outside addresses of a [`Snapshot`], each with the explanation of
//! why.
//!
//! A connection is allowed when the source's egress and the destination's ingress both allow
//! it; each side is decided in `eval.rs`. The engine decides who the two ends are (a pod, a
//! node, a Service translated to its backend pods, an outside address), recognises host traffic
//! and memoises results so that a million flows cost only their distinct connections: subjects
//! as callers name them are in `subject.rs`, their resolution to ends and host traffic in
//! `resolve.rs`, Service translation in `service.rs`, and this file holds the [`Engine`] itself,
//! its evaluation of a connection and its memo. Data types are in `verdict.rs`, the text
//! rendering in `explain.rs`.
//!
//! ```
//! use netflow_core::policy::{Engine, Subject, PolicyVerdict};
//! use netflow_core::{Protocol, Snapshot};
//!
//! let cluster = r#"{"kind":"List","items":[
//!   {"kind":"Namespace","metadata":{"name":"vamp","labels":{"role":"core"}}},
//!   {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp","labels":{"app":"es"}},
//!    "status":{"podIP":"10.244.2.10"}},
//!   {"kind":"NetworkPolicy","metadata":{"name":"es-in","namespace":"vamp"},
//!    "spec":{"podSelector":{"matchLabels":{"app":"es"}},"ingress":[]}}]}"#;
//! let snapshot = Snapshot::from_text(cluster, "cluster.json", None)?;
//! let engine = Engine::new(&snapshot);
//! let src = Subject::parse("203.0.113.5")?;
//! let dst = Subject::parse("vamp/es-0")?;
//! let evaluation = engine.evaluate(&src, &dst, 9200, Protocol::Tcp)?;
//! assert_eq!(evaluation.verdict, PolicyVerdict::Deny);
//! assert!(evaluation.to_string().contains("policy has no ingress rules (ingress: [])"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod eval;
mod explain;
pub mod lint;
mod resolve;
mod service;
mod subject;
pub mod suggest;
mod target;
#[cfg(test)]
mod test_support;
pub mod verdict;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::cluster::model::Pod;
use crate::cluster::{Reach, Snapshot};
use crate::flow::Protocol;
use eval::{PolicySet, Probe};
use resolve::{describe, exempt, exemption_of, host_traffic_node, party, peer_of, End};
pub use subject::Subject;
pub use target::{AnyPort, CheckGroup, Checked, PairCheck, Target};
pub use verdict::{
    AlsoSubjectTo, BackendEvaluation, Evaluation, ExcludedBackend, Exemption, HostTraffic,
    NamedPortMiss, NoRules, Party, PeerMiss, PeerReason, PolicyMiss, PolicyType, PolicyVerdict,
    PortMiss, RuleMiss, RuleRef, SelectingPolicy, ServiceTranslation, SideResult, SideVerdict,
};

pub use crate::error::PolicyError;

/// The snapshot an engine evaluates against, borrowed or shared.
#[derive(Debug)]
enum SnapshotRef<'s> {
    Borrowed(&'s Snapshot),
    Shared(Arc<Snapshot>),
}

type MemoKey = (Subject, Subject, u16, Protocol);

/// How many distinct connections [`Engine::evaluate_cached`] remembers at most.
pub const MEMO_CAPACITY: usize = 16_384;

/// Evaluates connections against the NetworkPolicies of one snapshot.
///
/// Built once per snapshot (policies are compiled, grouped by namespace, ipBlocks parsed);
/// `Send + Sync`, so one engine serves every rayon worker.
#[derive(Debug)]
pub struct Engine<'s> {
    snapshot: SnapshotRef<'s>,
    policies: PolicySet,
    services: HashMap<(String, String), usize>,
    memo: RwLock<HashMap<MemoKey, Result<Arc<Evaluation>, PolicyError>>>,
}

/// One direction's result and the connection's verdict towards one destination pod or address.
struct PairResult {
    verdict: PolicyVerdict,
    egress: SideResult,
    ingress: SideResult,
    host_traffic: Option<HostTraffic>,
    also_subject_to: Vec<AlsoSubjectTo>,
}

impl Engine<'static> {
    /// An engine owning a share of the snapshot.
    pub fn shared(snapshot: Arc<Snapshot>) -> Engine<'static> {
        Engine::build(SnapshotRef::Shared(snapshot))
    }
}

impl<'s> Engine<'s> {
    /// An engine borrowing the snapshot.
    pub fn new(snapshot: &'s Snapshot) -> Engine<'s> {
        Engine::build(SnapshotRef::Borrowed(snapshot))
    }

    fn build(snapshot: SnapshotRef<'s>) -> Engine<'s> {
        let s = match &snapshot {
            SnapshotRef::Borrowed(s) => *s,
            SnapshotRef::Shared(s) => s,
        };
        let policies = PolicySet::new(s);
        let services = s
            .services
            .iter()
            .enumerate()
            .map(|(i, svc)| ((svc.namespace.clone(), svc.name.clone()), i))
            .collect();
        Engine {
            snapshot,
            policies,
            services,
            memo: RwLock::new(HashMap::new()),
        }
    }

    /// The snapshot evaluated against.
    pub fn snapshot(&self) -> &Snapshot {
        match &self.snapshot {
            SnapshotRef::Borrowed(s) => s,
            SnapshotRef::Shared(s) => s,
        }
    }

    /// Evaluates a new connection `src → dst:port/protocol`.
    ///
    /// Every protocol is evaluated: isolation applies to all traffic of an isolated pod, a
    /// rule without `ports` admits every protocol, and a rule with `ports` only matches TCP,
    /// UDP or SCTP. For a protocol without ports (ICMP, ICMPv6, any other number) `port` is
    /// ignored and the evaluation's `port` is `None`.
    ///
    /// An address that belongs to a pod is that pod, a node's address is that node (host
    /// traffic when the destination pod runs there), a ClusterIP is its service; any other
    /// address is outside the pod network and its own direction is not evaluated. A service
    /// destination is evaluated per backend pod, on the pod port its `targetPort` gives.
    pub fn evaluate(
        &self,
        src: &Subject,
        dst: &Subject,
        port: u16,
        protocol: Protocol,
    ) -> Result<Evaluation, PolicyError> {
        let src_end = self.resolve(src)?;
        if let End::Service { service, .. } = src_end {
            return Err(PolicyError::ServiceSource {
                namespace: service.namespace.clone(),
                name: service.name.clone(),
            });
        }
        let dst_end = self.resolve(dst)?;
        let src_party = party(src_end);
        let dst_party = party(dst_end);
        let shown_port = protocol.has_ports().then_some(port);
        let End::Service { service, .. } = dst_end else {
            let pair = self.pair(src_end, dst_end, port, protocol);
            return Ok(Evaluation {
                verdict: pair.verdict,
                src: src_party,
                dst: dst_party,
                port: shown_port,
                protocol,
                egress: pair.egress,
                ingress: pair.ingress,
                service: None,
                host_traffic: pair.host_traffic,
                backends: Vec::new(),
                also_subject_to: pair.also_subject_to,
            });
        };
        let (translation, backends) = self.translate(service, port, protocol);
        let mut also_subject_to: Vec<AlsoSubjectTo> = Vec::new();
        let results: Vec<BackendEvaluation> = backends
            .into_iter()
            .map(|b| {
                let pair = self.pair(src_end, b.end, b.port, protocol);
                for also in pair.also_subject_to {
                    if !also_subject_to.contains(&also) {
                        also_subject_to.push(also);
                    }
                }
                BackendEvaluation {
                    backend: party(b.end),
                    port: b.port,
                    port_name: b.port_name,
                    verdict: pair.verdict,
                    egress: pair.egress,
                    ingress: pair.ingress,
                    host_traffic: pair.host_traffic,
                }
            })
            .collect();
        let shown = results
            .iter()
            .find(|b| b.verdict == PolicyVerdict::Deny)
            .or(results.first());
        let (verdict, egress, ingress, host_traffic) = match shown {
            Some(b) => (
                if results.iter().all(|b| b.verdict == PolicyVerdict::Allow) {
                    PolicyVerdict::Allow
                } else {
                    PolicyVerdict::Deny
                },
                b.egress.clone(),
                b.ingress.clone(),
                b.host_traffic.clone(),
            ),
            None => (
                PolicyVerdict::Deny,
                exempt(
                    PolicyType::Egress,
                    describe(src_end),
                    Exemption::NoDestination,
                ),
                exempt(
                    PolicyType::Ingress,
                    describe(dst_end),
                    Exemption::NoDestination,
                ),
                None,
            ),
        };
        Ok(Evaluation {
            verdict,
            src: src_party,
            dst: dst_party,
            port: shown_port,
            protocol,
            egress,
            ingress,
            service: Some(translation),
            host_traffic,
            backends: results,
            also_subject_to,
        })
    }

    /// [`Engine::evaluate`], remembered: each distinct (src, dst, port, protocol) is evaluated
    /// once per engine, errors included. The memory holds at most [`MEMO_CAPACITY`] connections;
    /// past that it starts afresh, so memory stays bounded on inputs with endless distinct
    /// connections while the usual few thousand stay remembered.
    pub fn evaluate_cached(
        &self,
        src: &Subject,
        dst: &Subject,
        port: u16,
        protocol: Protocol,
    ) -> Result<Arc<Evaluation>, PolicyError> {
        // The port of a protocol without ports is ignored: one entry for all of them.
        let port = if protocol.has_ports() { port } else { 0 };
        let key = (src.clone(), dst.clone(), port, protocol);
        if let Some(hit) = self
            .memo
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return hit.clone();
        }
        let result = self.evaluate(src, dst, port, protocol).map(Arc::new);
        let mut memo = self.memo.write().unwrap_or_else(PoisonError::into_inner);
        if memo.len() >= MEMO_CAPACITY {
            memo.clear();
        }
        memo.entry(key).or_insert(result).clone()
    }

    /// How many distinct connections [`Engine::evaluate_cached`] has remembered.
    pub fn cached(&self) -> usize {
        self.memo
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Evaluates the connection towards one destination that is not a service.
    fn pair(&self, src: End<'_>, dst: End<'_>, port: u16, protocol: Protocol) -> PairResult {
        let snapshot = self.snapshot();
        if let Some(node) = host_traffic_node(src, dst) {
            let exemption = Exemption::HostTraffic {
                node: node.to_string(),
            };
            return PairResult {
                verdict: PolicyVerdict::Allow,
                egress: exempt(PolicyType::Egress, describe(src), exemption.clone()),
                ingress: exempt(PolicyType::Ingress, describe(dst), exemption),
                host_traffic: Some(HostTraffic {
                    node: node.to_string(),
                    reason: "host traffic, not subject to NetworkPolicy".to_string(),
                }),
                also_subject_to: Vec::new(),
            };
        }
        let dst_pod = match dst {
            End::Pod { pod, .. } => Some(pod),
            _ => None,
        };
        let probe = Probe {
            dst_pod,
            port,
            protocol,
        };
        let egress = match src {
            End::Pod { pod, .. } => {
                let (peer, note) = peer_of(dst);
                let mut side = self
                    .policies
                    .side(snapshot, PolicyType::Egress, pod, &peer, probe);
                side.notes.extend(note.filter(|_| side.isolated));
                side
            }
            other => exempt(PolicyType::Egress, describe(other), exemption_of(other)),
        };
        let ingress = match dst {
            End::Pod { pod, .. } => {
                let (peer, note) = peer_of(src);
                let mut side = self
                    .policies
                    .side(snapshot, PolicyType::Ingress, pod, &peer, probe);
                side.notes.extend(note.filter(|_| side.isolated));
                side
            }
            other => exempt(PolicyType::Ingress, describe(other), exemption_of(other)),
        };
        let verdict = if egress.verdict == SideVerdict::Deny || ingress.verdict == SideVerdict::Deny
        {
            PolicyVerdict::Deny
        } else {
            PolicyVerdict::Allow
        };
        let mut also_subject_to = Vec::new();
        if let End::Pod { pod, .. } = src {
            also_subject_to.extend(also_subject_to_of(snapshot, pod, PolicyType::Egress));
        }
        if let End::Pod { pod, .. } = dst {
            also_subject_to.extend(also_subject_to_of(snapshot, pod, PolicyType::Ingress));
        }
        PairResult {
            verdict,
            egress,
            ingress,
            host_traffic: None,
            also_subject_to,
        }
    }
}

/// The policies flowq does not evaluate that govern `direction` of `pod`, as notes.
fn also_subject_to_of(snapshot: &Snapshot, pod: &Pod, direction: PolicyType) -> Vec<AlsoSubjectTo> {
    snapshot
        .unevaluated_for(pod)
        .into_iter()
        .filter(|m| match direction {
            PolicyType::Ingress => m.policy.ingress,
            PolicyType::Egress => m.policy.egress,
        })
        .map(|m| {
            let pod_id = format!("{}/{}", pod.namespace, pod.name);
            let kind = m.policy.kind.as_str();
            let id = m.policy.id();
            let field = direction.field();
            let because = match m.reach {
                Reach::Selects => None,
                Reach::MaySelect { because } => Some(because),
            };
            let whom = match &because {
                None => format!("{field} of {pod_id}"),
                Some(why) => format!("{field} of {pod_id}, if it selects the pod: {why}"),
            };
            AlsoSubjectTo {
                kind: kind.to_string(),
                policy: id.clone(),
                pod: pod_id,
                direction,
                selects: because.is_none(),
                note: format!(
                    "also subject to {kind} {id} ({whom}), which flowq does not evaluate: the \
                     verdict may differ"
                ),
                because,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::test_support::{eval, snapshot, subject};
    use super::*;

    #[test]
    fn unknown_pods_and_services_are_errors() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let err = engine
            .evaluate(
                &subject("vamp/nope"),
                &subject("vamp/es-0"),
                80,
                Protocol::Tcp,
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "pod vamp/nope is not in the snapshot");
        let err = engine
            .evaluate(
                &subject("vamp/es-0"),
                &subject("svc/vamp/nope"),
                80,
                Protocol::Tcp,
            )
            .unwrap_err();
        assert!(matches!(err, PolicyError::UnknownService { .. }));
        let err = engine
            .evaluate(
                &subject("svc/vamp/es"),
                &subject("vamp/es-0"),
                80,
                Protocol::Tcp,
            )
            .unwrap_err();
        assert!(matches!(err, PolicyError::ServiceSource { .. }));
    }

    #[test]
    fn traffic_from_the_destination_pods_node_is_host_traffic() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "192.168.0.10", "vamp/es-0", 9200);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert_eq!(
            e.host_traffic.as_ref().unwrap().reason,
            "host traffic, not subject to NetworkPolicy"
        );
        assert_eq!(e.ingress.verdict, SideVerdict::NotApplicable);
        assert!(matches!(e.src, Party::Node { ref name, .. } if name == "n1"));
        let e = eval(&engine, "vamp/agent", "vamp/es-0", 9200);
        assert!(
            e.host_traffic.is_some(),
            "a hostNetwork pod on the same node"
        );
    }

    #[test]
    fn traffic_from_another_node_is_subject_to_ingress_policy() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "192.168.0.11", "vamp/es-0", 9200);
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(e.host_traffic.is_none());
        assert_eq!(e.egress.verdict, SideVerdict::NotApplicable);
        assert!(matches!(e.egress.exemption, Some(Exemption::Node { .. })));
    }

    #[test]
    fn host_network_pods_are_not_isolated_and_only_ipblocks_match_them() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "vamp/kibana-0", "vamp/agent", 80);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        assert!(!e.ingress.isolated);
        assert!(matches!(
            e.ingress.exemption,
            Some(Exemption::HostNetwork { .. })
        ));
        let e = eval(&engine, "vamp/agent", "vamp/es-1", 9201);
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(e.ingress.notes[0].contains("hostNetwork pod"), "{e}");
    }

    #[test]
    fn cached_evaluations_are_computed_once_per_connection() {
        let engine = Engine::shared(Arc::new(snapshot()));
        let (src, dst) = (subject("vamp/kibana-0"), subject("vamp/es-0"));
        let a = engine
            .evaluate_cached(&src, &dst, 9200, Protocol::Tcp)
            .unwrap();
        let b = engine
            .evaluate_cached(&src, &dst, 9200, Protocol::Tcp)
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        engine
            .evaluate_cached(&src, &dst, 9300, Protocol::Tcp)
            .unwrap();
        let missing = subject("vamp/nope");
        assert!(engine
            .evaluate_cached(&missing, &dst, 1, Protocol::Tcp)
            .is_err());
        assert_eq!(engine.cached(), 3);
    }

    #[test]
    fn the_engine_is_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Engine<'static>>();
        send_sync::<Engine<'_>>();
        let s = snapshot();
        let engine = Engine::new(&s);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let e = engine
                        .evaluate_cached(
                            &subject("vamp/kibana-0"),
                            &subject("svc/vamp/es"),
                            80,
                            Protocol::Tcp,
                        )
                        .unwrap();
                    assert_eq!(e.verdict, PolicyVerdict::Allow);
                });
            }
        });
        assert_eq!(engine.cached(), 1);
    }
}
