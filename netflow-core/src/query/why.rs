//! The WHY of a connection: its NetworkPolicy evaluation against the snapshot in force at the
//! time, summarised, and compared with what the log says (the action and the policies it
//! names). Evaluations are memoised per distinct connection by the policy engine, so many
//! records cost about as much as their distinct connections.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};

use crate::cluster::{Snapshot, SnapshotSet};
use crate::flow::{
    Action, Direction, Endpoint, Flow, Identity, IdentitySource, PolicyRef, Protocol,
};
use crate::policy::verdict::{PolicyType, SideVerdict};
use crate::policy::{Engine, Evaluation, PolicyVerdict, Subject};

/// What the snapshot says about one connection.
#[derive(Debug, Clone)]
pub struct Why {
    /// The computed verdict; `None` when the connection could not be evaluated.
    pub verdict: Option<PolicyVerdict>,
    /// One line: the evaluation's summary, or why there is none.
    pub summary: String,
    /// The evaluation itself (which policies select each end, which rule and clause failed);
    /// `None` when the connection could not be evaluated.
    pub evaluation: Option<Arc<Evaluation>>,
    /// When the log and the snapshot disagree: how, and the likely cause.
    pub mismatch: Option<String>,
}

/// Explains connections against a set of snapshots, one policy engine per snapshot, built on
/// first use. It shares the snapshots, so it can be kept (and sent between threads) on its own.
pub struct Explainer {
    snapshots: SnapshotSet,
    engines: Vec<OnceLock<Engine<'static>>>,
}

/// The cause named when the log denies what the snapshot allows.
pub const LOG_DENIES_SNAPSHOT_ALLOWS: &str = "the log denies but the snapshot allows: policy \
     changed since, snapshot stale, or a CNI-specific policy (Calico/Cilium CRD) not modelled";
/// The cause named when the log allows what the snapshot denies.
pub const LOG_ALLOWS_SNAPSHOT_DENIES: &str = "the log allows but the snapshot denies: policy not \
     enforced (a CNI without NetworkPolicy support, e.g. flannel, or enforcement disabled), or \
     policy changed since";

impl Explainer {
    /// An explainer over `snapshots` (a cheap copy: the snapshots are shared).
    pub fn new(snapshots: &SnapshotSet) -> Explainer {
        Explainer {
            snapshots: snapshots.clone(),
            engines: (0..snapshots.snapshots().len())
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// The policy engine of the snapshot in force at `time`, built on first use.
    pub fn engine_at(&self, time: Option<DateTime<Utc>>) -> Option<&Engine<'static>> {
        let index = self.snapshots.index_at(time)?;
        let snapshot: &Arc<Snapshot> = &self.snapshots.snapshots()[index];
        Some(self.engines[index].get_or_init(|| Engine::shared(snapshot.clone())))
    }

    /// Evaluates `src` → `dst` (its port) over `protocol` at `time`, and compares with what the
    /// log says: `action` taken on the `direction` side (a record from one end speaks for that
    /// end only; an unknown side speaks for the whole connection) and the policies it names.
    /// `None` without snapshots.
    #[allow(clippy::too_many_arguments)]
    pub fn explain(
        &self,
        src: &Endpoint,
        dst: &Endpoint,
        protocol: Protocol,
        time: Option<DateTime<Utc>>,
        action: Action,
        direction: Direction,
        log_policies: &[PolicyRef],
    ) -> Option<Why> {
        let engine = self.engine_at(time)?;
        let snapshot = engine.snapshot();
        let not_evaluated = |summary: String| {
            Some(Why {
                verdict: None,
                summary,
                evaluation: None,
                mismatch: None,
            })
        };
        if protocol == Protocol::Unknown {
            return not_evaluated("not evaluated: the log gives no protocol".to_string());
        }
        // ICMP and other protocols without ports are evaluated too (isolation covers all
        // traffic); their port is ignored.
        let port = match dst.port {
            Some(port) => port,
            None if !protocol.has_ports() => 0,
            None => return not_evaluated("not evaluated: no destination port".to_string()),
        };
        let (from, to) = match (subject(src), subject(dst)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return not_evaluated(format!("not evaluated: {e}")),
        };
        let evaluation = match engine.evaluate_cached(&from, &to, port, protocol) {
            Ok(e) => e,
            Err(e) => return not_evaluated(format!("not evaluated: {e}")),
        };
        let side_allows = match direction {
            Direction::Egress => evaluation.egress.verdict != SideVerdict::Deny,
            Direction::Ingress => evaluation.ingress.verdict != SideVerdict::Deny,
            Direction::Unknown => evaluation.verdict == PolicyVerdict::Allow,
        };
        // The policies flowq does not evaluate that govern the side the log speaks for: when
        // the log and the snapshot disagree, they are the first suspects.
        let unevaluated: Vec<String> = evaluation
            .also_subject_to
            .iter()
            .filter(|a| match direction {
                Direction::Egress => a.direction == PolicyType::Egress,
                Direction::Ingress => a.direction == PolicyType::Ingress,
                Direction::Unknown => true,
            })
            .map(|a| format!("{} {}", a.kind, a.policy))
            .fold(Vec::new(), |mut list, p| {
                if !list.contains(&p) {
                    list.push(p);
                }
                list
            });
        let mut mismatch = match (action, side_allows) {
            (Action::Denied, true) if !unevaluated.is_empty() => Some(format!(
                "the log denies but the snapshot allows: also subject to {}, which flowq does \
                 not evaluate (the likely cause); or policy changed since, or snapshot stale",
                unevaluated.join(", ")
            )),
            (Action::Denied, true) => Some(LOG_DENIES_SNAPSHOT_ALLOWS.to_string()),
            (Action::Allowed, false) if !unevaluated.is_empty() => Some(format!(
                "{LOG_ALLOWS_SNAPSHOT_DENIES}; or also subject to {}, which flowq does not \
                 evaluate and may allow it",
                unevaluated.join(", ")
            )),
            (Action::Allowed, false) => Some(LOG_ALLOWS_SNAPSHOT_DENIES.to_string()),
            _ => None,
        };
        // Only Kubernetes NetworkPolicies are in a snapshot: Calico's own policies (tiered,
        // global, staged) and profiles live in Calico's datastore, so they cannot be missing.
        let missing: Vec<String> = log_policies
            .iter()
            .filter(|p| p.is_network_policy())
            .filter(|p| {
                !snapshot.policies.iter().any(|np| {
                    np.name == p.name && p.namespace.as_deref().is_none_or(|ns| ns == np.namespace)
                })
            })
            .map(|p| p.to_string())
            .collect();
        if !missing.is_empty() {
            let note = format!(
                "the log names {} that the snapshot does not have",
                missing.join(", ")
            );
            mismatch = Some(match mismatch {
                Some(m) => format!("{m}; {note}"),
                None => note,
            });
        }
        Some(Why {
            verdict: Some(evaluation.verdict),
            summary: evaluation.summary(),
            evaluation: Some(evaluation),
            mismatch,
        })
    }
}

impl Explainer {
    /// Explains one flow record, when it opens a connection ([`Flow::is_request`]): replies
    /// pass whatever the policies say, since conntrack lets them through, so they are not
    /// evaluated; neither are records whose log gives no verdict.
    pub fn explain_flow(&self, flow: &Flow) -> Option<Why> {
        if !flow.is_request() || !matches!(flow.action, Action::Allowed | Action::Denied) {
            return None;
        }
        self.explain(
            &flow.src,
            &flow.dst,
            flow.protocol,
            flow.time,
            flow.action,
            flow.direction,
            &flow.policies,
        )
    }
}

impl Explainer {
    /// Where the snapshot's policies deny a connection whose log gives no verdict: the side
    /// (the source's egress when it denies, else the destination's ingress) and the node of
    /// that end when known. `None` when they allow it, cannot evaluate it, or it has nowhere
    /// to go (a Service without backends is no policy's doing).
    pub fn policy_denial(&self, flow: &Flow) -> Option<(Direction, Option<String>)> {
        let why = self.explain(
            &flow.src,
            &flow.dst,
            flow.protocol,
            flow.time,
            Action::Unknown,
            Direction::Unknown,
            &[],
        )?;
        let evaluation = why.evaluation.as_ref()?;
        if why.verdict != Some(PolicyVerdict::Deny) || has_no_destination(evaluation) {
            return None;
        }
        let (side, end) = if evaluation.egress.verdict == SideVerdict::Deny {
            (Direction::Egress, &flow.src)
        } else {
            (Direction::Ingress, &flow.dst)
        };
        let node = match &end.identity {
            Identity::Pod(p) => p.node.clone(),
            _ => None,
        };
        Some((side, node))
    }
}

/// Whether an evaluation denies only because there was nothing to evaluate: a Service with
/// no backend that can take the port.
pub fn has_no_destination(evaluation: &Evaluation) -> bool {
    matches!(
        evaluation.ingress.exemption,
        Some(crate::policy::Exemption::NoDestination)
    )
}

/// The policy engine's view of an endpoint: a pod or service the snapshot knows, or an address.
fn subject(ep: &Endpoint) -> Result<Subject, String> {
    match (&ep.identity, ep.identity_source) {
        (Identity::Pod(p), IdentitySource::Snapshot) => Ok(Subject::Pod {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
        }),
        (Identity::Pod(p), _) => Err(format!("{}/{} is not in the snapshot", p.namespace, p.name)),
        (Identity::Service(s), IdentitySource::Snapshot) => Ok(Subject::Service {
            namespace: s.namespace.clone(),
            name: s.name.clone(),
        }),
        (Identity::Ambiguous { candidates }, _) => Err(format!(
            "the address is ambiguous ({})",
            candidates.join(" | ")
        )),
        _ => match ep.ip {
            Some(ip) => Ok(Subject::Ip(ip)),
            None => Err("the log gives no address and the snapshot no name".to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = r#"{"kind":"List","items":[
      {"kind":"Namespace","metadata":{"name":"shop"}},
      {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},
       "status":{"phase":"Running","podIP":"10.1.0.5"}},
      {"kind":"Pod","metadata":{"name":"checkout-0","namespace":"shop","labels":{"app":"checkout"}},
       "status":{"phase":"Running","podIP":"10.1.0.6"}},
      {"kind":"NetworkPolicy","metadata":{"name":"isolate","namespace":"shop"},
       "spec":{"podSelector":{"matchLabels":{"app":"checkout"}},"policyTypes":["Ingress"]}}]}"#;

    fn policy(namespace: Option<&str>, name: &str, kind: &str, tier: Option<&str>) -> PolicyRef {
        PolicyRef {
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            kind: Some(kind.to_string()),
            tier: tier.map(str::to_string),
        }
    }

    fn mismatch_of(policies: &[PolicyRef]) -> Option<String> {
        let snapshot = Snapshot::from_text(CLUSTER, "cluster.json", None).unwrap();
        let explainer = Explainer::new(&SnapshotSet::new(vec![snapshot]));
        let at = |ip: &str, port| Endpoint {
            ip: ip.parse().ok(),
            port,
            ..Default::default()
        };
        explainer
            .explain(
                &at("10.1.0.5", None),
                &at("10.1.0.6", Some(8080)),
                Protocol::Tcp,
                None,
                Action::Denied,
                Direction::Ingress,
                policies,
            )
            .unwrap()
            .mismatch
    }

    #[test]
    fn calico_native_policies_are_never_reported_missing_from_the_snapshot() {
        let calico = [
            policy(Some("shop"), "isolate", "NetworkPolicy", Some("default")),
            policy(
                Some("shop"),
                "app-tier.checkout",
                "CalicoNetworkPolicy",
                Some("app-tier"),
            ),
            policy(
                None,
                "security.block",
                "GlobalNetworkPolicy",
                Some("security"),
            ),
            policy(
                Some("shop"),
                "lockdown",
                "StagedKubernetesNetworkPolicy",
                Some("default"),
            ),
            policy(None, "kns.shop", "Profile", None),
        ];
        assert_eq!(mismatch_of(&calico), None);
    }

    #[test]
    fn a_kubernetes_policy_the_snapshot_lacks_is_named() {
        let mismatch = mismatch_of(&[policy(
            Some("shop"),
            "gone",
            "NetworkPolicy",
            Some("default"),
        )]);
        assert_eq!(
            mismatch.as_deref(),
            Some("the log names shop/gone that the snapshot does not have")
        );
    }

    #[test]
    fn a_policy_denial_is_placed_at_the_denying_side_and_a_missing_backend_is_none() {
        let cluster = CLUSTER.replace(
            r#""status":{"phase":"Running","podIP":"10.1.0.6"}},"#,
            r#""spec":{"nodeName":"node-2"},"status":{"phase":"Running","podIP":"10.1.0.6"}},
              {"kind":"Service","metadata":{"name":"empty","namespace":"shop"},
               "spec":{"clusterIP":"10.96.0.9","selector":{"app":"nobody"},"ports":[{"port":80}]}},"#,
        );
        let set = SnapshotSet::new(vec![Snapshot::from_text(&cluster, "c.json", None).unwrap()]);
        let explainer = Explainer::new(&set);
        let mut flow = Flow::test_flow("10.1.0.5", "10.1.0.6", 8080);
        flow.action = Action::Unknown;
        set.enrich(&mut flow);
        assert_eq!(
            explainer.policy_denial(&flow),
            Some((Direction::Ingress, Some("node-2".to_string())))
        );
        let mut to_service = Flow::test_flow("10.1.0.5", "10.96.0.9", 80);
        to_service.action = Action::Unknown;
        set.enrich(&mut to_service);
        assert_eq!(
            explainer.policy_denial(&to_service),
            None,
            "no policy's doing"
        );
        let mut allowed = Flow::test_flow("10.1.0.6", "10.1.0.5", 8080);
        allowed.action = Action::Unknown;
        set.enrich(&mut allowed);
        assert_eq!(explainer.policy_denial(&allowed), None);
    }

    #[test]
    fn icmp_is_evaluated_and_an_unknown_protocol_is_not() {
        let snapshot = Snapshot::from_text(CLUSTER, "cluster.json", None).unwrap();
        let explainer = Explainer::new(&SnapshotSet::new(vec![snapshot]));
        let at = |ip: &str| Endpoint {
            ip: ip.parse().ok(),
            ..Default::default()
        };
        let why = |protocol| {
            explainer
                .explain(
                    &at("10.1.0.5"),
                    &at("10.1.0.6"),
                    protocol,
                    None,
                    Action::Denied,
                    Direction::Ingress,
                    &[],
                )
                .unwrap()
        };
        let icmp = why(Protocol::Icmpv4);
        assert_eq!(icmp.verdict, Some(PolicyVerdict::Deny), "{}", icmp.summary);
        assert_eq!(icmp.mismatch, None);
        assert_eq!(icmp.evaluation.unwrap().port, None);
        let unknown = why(Protocol::Unknown);
        assert_eq!(unknown.verdict, None);
        assert_eq!(unknown.summary, "not evaluated: the log gives no protocol");
    }
}
