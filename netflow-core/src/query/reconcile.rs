//! Reconciling the two witnesses of a connection: what the log says happened (allowed, denied,
//! dropped, or for logs without verdicts, answered or not) and what the snapshot's
//! NetworkPolicies decide. Every observed connection, grouped like `denied`, is classified —
//! they agree, the log allows what the policies deny, the log denies what the policies allow,
//! or a request went unanswered though the policies allow it — and a disagreement carries the
//! causes the evidence supports, each named with what the snapshot or the log shows.
//!
//! Only the classification lives here; reading, grouping and explaining are the `Session`'s
//! (`Session::reconcile`), so memory stays bounded by distinct connections as in `denied`.
//! Nothing here prints.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::denied::{DenialBasis, DeniedConnection};
use super::rows::{format_time, EndpointColumns};
use super::why::has_no_destination;
use crate::cluster::model::IntOrString;
use crate::cluster::Snapshot;
use crate::flow::{Action, Direction, Endpoint, Identity};
use crate::policy::{Evaluation, Party, PolicyType, PolicyVerdict, SideVerdict};

/// What the log shows of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Observed {
    /// The log says it was allowed.
    Allowed,
    /// The log says a policy denied it.
    Denied,
    /// The log says it was dropped for another reason.
    Dropped,
    /// No verdict in the log, but a reply was seen: it got through.
    Answered,
    /// No verdict in the log and no reply seen within the window.
    Unanswered,
}

impl Observed {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Observed::Allowed => "allowed",
            Observed::Denied => "denied",
            Observed::Dropped => "dropped",
            Observed::Answered => "answered",
            Observed::Unanswered => "unanswered",
        }
    }

    /// Whether the connection got through, as far as the log shows.
    pub fn passed(self) -> bool {
        matches!(self, Observed::Allowed | Observed::Answered)
    }
}

/// How the log and the policies compare for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// The log allows what the policies deny: the policies are not enforced for it.
    LogAllowsPoliciesDeny,
    /// The log denies what the policies allow: something beyond the snapshot's policies.
    LogDeniesPoliciesAllow,
    /// No reply though the policies allow it: not a policy problem.
    UnansweredPoliciesAllow,
    /// The connection could not be evaluated (an address nobody knows, no port).
    NotEvaluated,
    /// The log and the policies say the same.
    Agree,
}

impl Agreement {
    /// Every class, in the order rows and summaries list them (disagreements first).
    pub const ALL: [Agreement; 5] = [
        Agreement::LogAllowsPoliciesDeny,
        Agreement::LogDeniesPoliciesAllow,
        Agreement::UnansweredPoliciesAllow,
        Agreement::NotEvaluated,
        Agreement::Agree,
    ];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::Agree => "agree",
            Agreement::LogAllowsPoliciesDeny => "log_allows_policies_deny",
            Agreement::LogDeniesPoliciesAllow => "log_denies_policies_allow",
            Agreement::UnansweredPoliciesAllow => "unanswered_policies_allow",
            Agreement::NotEvaluated => "not_evaluated",
        }
    }

    /// Words for people.
    pub fn describe(self) -> &'static str {
        match self {
            Agreement::Agree => "agree",
            Agreement::LogAllowsPoliciesDeny => "log allowed, policies deny",
            Agreement::LogDeniesPoliciesAllow => "log denied, policies allow",
            Agreement::UnansweredPoliciesAllow => "unanswered, policies allow",
            Agreement::NotEvaluated => "not evaluated",
        }
    }

    /// Whether the two witnesses disagree.
    pub fn is_mismatch(self) -> bool {
        matches!(
            self,
            Agreement::LogAllowsPoliciesDeny
                | Agreement::LogDeniesPoliciesAllow
                | Agreement::UnansweredPoliciesAllow
        )
    }
}

/// A kind of cause for a disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// A denying policy was created after the traffic: the snapshot is newer than it.
    SnapshotNewer,
    /// The traffic is host traffic (a node address or a hostNetwork pod), which many CNIs do
    /// not police.
    HostNetwork,
    /// The CNI does not enforce NetworkPolicy (flannel, or enforcement turned off).
    NotEnforced,
    /// A policy flowq does not evaluate (Calico, Cilium, cluster-wide kinds) may decide it.
    UnevaluatedPolicy,
    /// The log drops it for a reason that is not a policy.
    NonPolicyDrop,
    /// The snapshot is older than the traffic: a policy may have changed since.
    SnapshotOlder,
    /// The Service has no ready endpoint.
    NoReadyEndpoints,
    /// The Service's targetPort is not a port the selected containers declare.
    TargetPortNotDeclared,
    /// The destination declares no container port for it: nothing may listen.
    NothingListens,
    /// Nothing the snapshot or the log shows explains it.
    Unexplained,
}

impl CauseKind {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CauseKind::SnapshotNewer => "snapshot_newer",
            CauseKind::HostNetwork => "host_network",
            CauseKind::NotEnforced => "not_enforced",
            CauseKind::UnevaluatedPolicy => "unevaluated_policy",
            CauseKind::NonPolicyDrop => "non_policy_drop",
            CauseKind::SnapshotOlder => "snapshot_older",
            CauseKind::NoReadyEndpoints => "no_ready_endpoints",
            CauseKind::TargetPortNotDeclared => "target_port_not_declared",
            CauseKind::NothingListens => "nothing_listens",
            CauseKind::Unexplained => "unexplained",
        }
    }
}

/// One cause the evidence supports, with what shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// What kind of cause.
    pub kind: CauseKind,
    /// What shows it, in words (names, times, ports).
    pub detail: String,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// What the whole log shows about enforcement, which one connection alone cannot.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogEvidence {
    /// Flow records with a verdict (allowed, denied or dropped).
    pub with_verdict: u64,
    /// Flow records the log says a policy denied.
    pub denials: u64,
}

/// One observed connection, classified.
#[derive(Debug, Clone)]
pub struct ReconciledConnection {
    /// The connection: its ends, place, counts, times and the WHY from the snapshot.
    pub connection: DeniedConnection,
    /// What the log shows.
    pub observed: Observed,
    /// How the log and the policies compare.
    pub agreement: Agreement,
    /// For a disagreement, the causes the evidence supports, strongest first.
    pub causes: Vec<Cause>,
}

impl ReconciledConnection {
    /// Classifies `connection` (already explained) with what `snapshot` (the one in force at
    /// its last record) and the whole log (`log`) show. A row whose log verdict is unknown is
    /// answered unless its basis is [`DenialBasis::NoReply`].
    pub fn classify(
        connection: DeniedConnection,
        snapshot: Option<&Snapshot>,
        log: LogEvidence,
    ) -> ReconciledConnection {
        let observed = match (connection.action, connection.basis) {
            (Action::Allowed, _) => Observed::Allowed,
            (Action::Denied, _) => Observed::Denied,
            (Action::Dropped, _) => Observed::Dropped,
            (Action::Unknown, DenialBasis::NoReply) => Observed::Unanswered,
            (Action::Unknown, _) => Observed::Answered,
        };
        let evaluation = connection
            .why
            .as_ref()
            .and_then(|w| w.evaluation.clone())
            .filter(|_| snapshot.is_some());
        let (Some(evaluation), Some(snapshot)) = (evaluation, snapshot) else {
            let detail = connection.why.as_ref().map_or_else(
                || "no snapshot is in force at its time".to_string(),
                |w| w.summary.clone(),
            );
            return ReconciledConnection {
                connection,
                observed,
                agreement: Agreement::NotEvaluated,
                causes: vec![Cause {
                    kind: CauseKind::Unexplained,
                    detail,
                }],
            };
        };
        let policies_allow = has_no_destination(&evaluation)
            || match connection.direction {
                Direction::Egress => evaluation.egress.verdict != SideVerdict::Deny,
                Direction::Ingress => evaluation.ingress.verdict != SideVerdict::Deny,
                Direction::Unknown => evaluation.verdict == PolicyVerdict::Allow,
            };
        let agreement = match (observed, policies_allow) {
            (Observed::Allowed | Observed::Answered, true)
            | (Observed::Denied | Observed::Dropped | Observed::Unanswered, false) => {
                Agreement::Agree
            }
            (Observed::Allowed | Observed::Answered, false) => Agreement::LogAllowsPoliciesDeny,
            (Observed::Denied | Observed::Dropped, true) => Agreement::LogDeniesPoliciesAllow,
            (Observed::Unanswered, true) => Agreement::UnansweredPoliciesAllow,
        };
        let causes = match agreement {
            Agreement::LogAllowsPoliciesDeny => {
                not_enforced_causes(&connection, &evaluation, snapshot, log)
            }
            Agreement::LogDeniesPoliciesAllow => {
                beyond_policy_causes(&connection, observed, &evaluation, snapshot)
            }
            Agreement::UnansweredPoliciesAllow => {
                unanswered_causes(&connection, &evaluation, snapshot)
            }
            Agreement::Agree | Agreement::NotEvaluated => Vec::new(),
        };
        ReconciledConnection {
            connection,
            observed,
            agreement,
            causes,
        }
    }
}

/// The log allowed what the policies deny. In order of strength: a denying policy created
/// after the traffic (the snapshot is newer); host traffic; then what the whole log shows
/// about enforcement.
fn not_enforced_causes(
    c: &DeniedConnection,
    evaluation: &Evaluation,
    snapshot: &Snapshot,
    log: LogEvidence,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let denying: Vec<&str> = [&evaluation.egress, &evaluation.ingress]
        .into_iter()
        .chain(
            evaluation
                .backends
                .iter()
                .flat_map(|b| [&b.egress, &b.ingress]),
        )
        .filter(|side| side.verdict == SideVerdict::Deny)
        .flat_map(|side| side.reasons.iter().map(|r| r.policy.as_str()))
        .collect();
    let last = c.last_seen;
    for name in denying
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let created = snapshot
            .policies()
            .iter()
            .find(|p| format!("{}/{}", p.namespace, p.name) == name)
            .and_then(|p| p.created);
        if let (Some(created), Some(last)) = (created, last) {
            if created > last {
                causes.push(Cause {
                    kind: CauseKind::SnapshotNewer,
                    detail: format!(
                        "{name} was created at {}, after this traffic (last seen {}): the \
                         snapshot is newer than the log",
                        format_time(&created),
                        format_time(&last)
                    ),
                });
            }
        }
    }
    if !causes.is_empty() {
        return causes;
    }
    // A Calico policy in a tier before the Kubernetes ones, or an admin policy, may allow it.
    causes.extend(unevaluated_causes(
        evaluation,
        c.direction,
        "may allow what the NetworkPolicies deny",
    ));
    if let Some(host) = host_end(evaluation) {
        causes.push(Cause {
            kind: CauseKind::HostNetwork,
            detail: format!("{host}: many CNIs do not apply NetworkPolicy to host traffic"),
        });
    }
    let detail = if log.with_verdict > 0 && log.denials == 0 {
        format!(
            "the log denies nothing in {} records with a verdict while the policies deny this: \
             the CNI does not enforce NetworkPolicy (flannel, or enforcement turned off)",
            log.with_verdict
        )
    } else if log.with_verdict == 0 {
        "it was answered though the policies deny it: NetworkPolicy is not enforced for it (a \
         CNI without NetworkPolicy support, or enforcement turned off)"
            .to_string()
    } else {
        let taken = snapshot.taken_at.zip(last).filter(|(t, l)| t > l);
        format!(
            "the log denies other connections, so enforcement works elsewhere: this node does \
             not enforce it, or the policy came after the traffic{}",
            taken.map_or(String::new(), |(t, _)| format!(
                " (the snapshot was taken at {})",
                format_time(&t)
            ))
        )
    };
    causes.push(Cause {
        kind: CauseKind::NotEnforced,
        detail,
    });
    causes
}

/// The end of the connection that is host traffic, in words, when one is.
fn host_end(evaluation: &Evaluation) -> Option<String> {
    if let Some(host) = &evaluation.host_traffic {
        return Some(format!("the connection comes from node {}", host.node));
    }
    [
        (&evaluation.src, "source"),
        (&evaluation.dst, "destination"),
    ]
    .into_iter()
    .find_map(|(party, end)| match party {
        Party::Node { name, .. } => Some(format!("the {end} is node {name}'s own address")),
        Party::Pod {
            namespace,
            name,
            host_network: true,
            ..
        } => Some(format!("the {end} {namespace}/{name} is a hostNetwork pod")),
        _ => None,
    })
}

/// The log denied what the policies allow: a policy flowq does not evaluate, a drop that is
/// not a policy's, or a snapshot older than a change.
fn beyond_policy_causes(
    c: &DeniedConnection,
    observed: Observed,
    evaluation: &Evaluation,
    snapshot: &Snapshot,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    if observed == Observed::Dropped {
        causes.push(Cause {
            kind: CauseKind::NonPolicyDrop,
            detail: format!(
                "the log drops it for {}, which is not a policy",
                if c.drop_reasons.is_empty() {
                    "a reason it does not give".to_string()
                } else {
                    c.drop_reasons.join(", ")
                }
            ),
        });
    }
    for p in c.policies.iter().filter(|p| !p.is_network_policy()) {
        causes.push(Cause {
            kind: CauseKind::UnevaluatedPolicy,
            detail: format!("the log names {p}, which flowq does not evaluate"),
        });
    }
    causes.extend(unevaluated_causes(
        evaluation,
        c.direction,
        "may deny what the NetworkPolicies allow",
    ));
    if let Some(mismatch) = c.why.as_ref().and_then(|w| w.mismatch.as_deref()) {
        if let Some(note) = mismatch
            .split("; ")
            .find(|m| m.starts_with("the log names"))
        {
            causes.push(Cause {
                kind: CauseKind::SnapshotOlder,
                detail: format!("{note}: the snapshot is older than a change"),
            });
        }
    }
    if let (Some(taken), Some(first)) = (snapshot.taken_at, c.first_seen) {
        if taken < first && !causes.iter().any(|k| k.kind == CauseKind::SnapshotOlder) {
            causes.push(Cause {
                kind: CauseKind::SnapshotOlder,
                detail: format!(
                    "the snapshot was taken at {}, before this traffic (first seen {}): a \
                     policy may have changed since",
                    format_time(&taken),
                    format_time(&first)
                ),
            });
        }
    }
    if causes.is_empty() {
        causes.push(Cause {
            kind: CauseKind::Unexplained,
            detail: "nothing in the snapshot explains it: a policy kept outside it \
                     (Calico or Cilium CRDs not exported) or a change since"
                .to_string(),
        });
    }
    causes
}

/// The policies of kinds flowq does not evaluate that select (or may select) the end the row
/// speaks for — the source for an egress report, the destination for an ingress one, either
/// when the side is unknown — each a cause: it may decide otherwise than the NetworkPolicies
/// (`what` says how).
fn unevaluated_causes(evaluation: &Evaluation, direction: Direction, what: &str) -> Vec<Cause> {
    let mut causes: Vec<Cause> = Vec::new();
    for a in &evaluation.also_subject_to {
        let governs = match direction {
            Direction::Egress => a.direction == PolicyType::Egress,
            Direction::Ingress => a.direction == PolicyType::Ingress,
            Direction::Unknown => true,
        };
        let detail = format!(
            "{} {} {} {}, which flowq does not evaluate: it {what}",
            a.kind,
            a.policy,
            if a.selects { "selects" } else { "may select" },
            a.pod
        );
        if governs && !causes.iter().any(|c| c.detail == detail) {
            causes.push(Cause {
                kind: CauseKind::UnevaluatedPolicy,
                detail,
            });
        }
    }
    causes
}

/// A request went unanswered though the policies allow it: what the snapshot shows of the
/// destination — a Service without ready endpoints, a targetPort the selected containers do
/// not declare, a port nothing declares.
fn unanswered_causes(
    c: &DeniedConnection,
    evaluation: &Evaluation,
    snapshot: &Snapshot,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let port = c.dst.port.or(evaluation.port);
    let protocol = c.protocol.to_string();
    if let Some(t) = &evaluation.service {
        if let Some(problem) = &t.problem {
            let kind = if t.excluded.is_empty() {
                CauseKind::NoReadyEndpoints
            } else {
                CauseKind::TargetPortNotDeclared
            };
            let excluded: Vec<String> = t
                .excluded
                .iter()
                .map(|e| format!("{} {}", e.pod, e.reason))
                .collect();
            causes.push(Cause {
                kind,
                detail: if excluded.is_empty() {
                    problem.clone()
                } else {
                    format!("{problem}: {}", excluded.join("; "))
                },
            });
        }
    }
    let service = service_of(&c.dst, evaluation);
    if let Some((namespace, name)) = &service {
        if let Some(detail) = no_ready_endpoint(snapshot, namespace, name, dst_pod(&c.dst)) {
            causes.push(Cause {
                kind: CauseKind::NoReadyEndpoints,
                detail,
            });
        }
    }
    // Without a port (ICMP and other protocols) there is no container port to look for.
    if let (Some(port), Some((namespace, pod_name))) = (port, dst_pod(&c.dst)) {
        if let Some(pod) = snapshot.pod(namespace, pod_name) {
            let declares = |p: &crate::cluster::model::ContainerPort| {
                p.container_port == i64::from(port)
                    && p.protocol
                        .as_deref()
                        .unwrap_or("TCP")
                        .eq_ignore_ascii_case(&protocol)
            };
            if !pod.container_ports.iter().any(declares) {
                let declared: Vec<String> = pod
                    .container_ports
                    .iter()
                    .map(|p| {
                        format!(
                            "{}/{}",
                            p.container_port,
                            p.protocol.as_deref().unwrap_or("TCP").to_ascii_uppercase()
                        )
                    })
                    .collect();
                let through = service
                    .as_ref()
                    .and_then(|(ns, name)| target_port_of(snapshot, ns, name, port));
                let (kind, lead) = match through {
                    Some(text) => (CauseKind::TargetPortNotDeclared, text),
                    None => (
                        CauseKind::NothingListens,
                        format!("nothing may listen on {port}/{protocol}"),
                    ),
                };
                causes.push(Cause {
                    kind,
                    detail: format!(
                        "{lead}: {namespace}/{pod_name} declares no container port \
                         {port}/{protocol} (its ports: {})",
                        if declared.is_empty() {
                            "none".to_string()
                        } else {
                            declared.join(", ")
                        }
                    ),
                });
            }
        }
    }
    if causes.is_empty() {
        causes.push(Cause {
            kind: CauseKind::Unexplained,
            detail: "the snapshot shows nothing wrong with the destination: the server did not \
                     answer, or something outside Kubernetes (a firewall) dropped it"
                .to_string(),
        });
    }
    causes
}

/// `namespace/name` of the destination pod, when it is one.
fn dst_pod(ep: &Endpoint) -> Option<(&str, &str)> {
    match &ep.identity {
        Identity::Pod(p) if !p.name.is_empty() => Some((p.namespace.as_str(), p.name.as_str())),
        _ => None,
    }
}

/// The Service the destination is or was reached through.
fn service_of(ep: &Endpoint, evaluation: &Evaluation) -> Option<(String, String)> {
    if let Party::Service {
        namespace, name, ..
    } = &evaluation.dst
    {
        return Some((namespace.clone(), name.clone()));
    }
    match &ep.identity {
        Identity::Service(s) => Some((s.namespace.clone(), s.name.clone())),
        _ => ep
            .service
            .as_ref()
            .map(|s| (s.namespace.clone(), s.name.clone())),
    }
}

/// Why the Service has no ready endpoint for `pod` (or at all), from its EndpointSlices;
/// `None` when it has one, or the snapshot has no slice for it (nothing to say).
fn no_ready_endpoint(
    snapshot: &Snapshot,
    namespace: &str,
    name: &str,
    pod: Option<(&str, &str)>,
) -> Option<String> {
    let endpoints: Vec<_> = snapshot
        .endpoint_slices()
        .iter()
        .filter(|s| s.namespace == namespace && s.service_name.as_deref() == Some(name))
        .flat_map(|s| s.endpoints.iter())
        .collect();
    let slices = snapshot
        .endpoint_slices()
        .iter()
        .any(|s| s.namespace == namespace && s.service_name.as_deref() == Some(name));
    if !slices {
        return None;
    }
    let ready = |e: &&crate::cluster::model::SliceEndpoint| e.ready != Some(false);
    if !endpoints.iter().any(ready) {
        return Some(format!(
            "service {namespace}/{name} has no ready endpoint ({} in its EndpointSlices, none \
             ready)",
            endpoints.len()
        ));
    }
    let (pod_ns, pod_name) = pod?;
    endpoints
        .iter()
        .find(|e| {
            e.pod
                .as_ref()
                .is_some_and(|(ns, n)| ns == pod_ns && n == pod_name)
        })
        .filter(|e| e.ready == Some(false))
        .map(|_| {
            format!(
                "{pod_ns}/{pod_name} is not ready in the endpoints of service {namespace}/{name}"
            )
        })
}

/// `service ns/name sends port P to targetPort T` for the service port whose target is
/// `pod_port`, when the service has one.
fn target_port_of(
    snapshot: &Snapshot,
    namespace: &str,
    name: &str,
    pod_port: u16,
) -> Option<String> {
    let service = snapshot
        .services()
        .iter()
        .find(|s| s.namespace == namespace && s.name == name)?;
    service.ports.iter().find_map(|p| {
        let target = match &p.target_port {
            None => p.port,
            Some(IntOrString::Int(n)) => *n,
            Some(IntOrString::String(s)) => s.trim().parse().ok()?,
        };
        (target == i64::from(pod_port)).then(|| {
            format!(
                "service {namespace}/{name} sends port {} to targetPort {target}",
                p.port
            )
        })
    })
}

/// Counts per class for one source namespace → destination namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairCounts {
    /// Connections in each class, in the order of [`Agreement::ALL`].
    pub by_class: [u64; 5],
}

impl PairCounts {
    /// Connections in `class`.
    pub fn get(&self, class: Agreement) -> u64 {
        let i = Agreement::ALL.iter().position(|a| *a == class).unwrap_or(0);
        self.by_class[i]
    }

    /// Connections in every class.
    pub fn total(&self) -> u64 {
        self.by_class.iter().sum()
    }
}

/// The namespace (or, for an end that is not in one, its kind) summaries group by.
pub fn namespace_of(ep: &Endpoint) -> String {
    let c = EndpointColumns::of(ep);
    c.namespace.unwrap_or_else(|| format!("({})", c.kind))
}

/// Counts per namespace pair, sorted by pair.
pub fn summarize(rows: &[ReconciledConnection]) -> BTreeMap<(String, String), PairCounts> {
    let mut pairs: BTreeMap<(String, String), PairCounts> = BTreeMap::new();
    for r in rows {
        let key = (
            namespace_of(&r.connection.src),
            namespace_of(&r.connection.dst),
        );
        let i = Agreement::ALL
            .iter()
            .position(|a| *a == r.agreement)
            .unwrap_or(0);
        pairs.entry(key).or_default().by_class[i] += 1;
    }
    pairs
}

declare_row! {
    /// One observed connection classified against the snapshot (`flowq reconcile`).
    pub struct ReconcileRow {
        class: &'static str => Text, "How the log and the policies compare: agree, log_allows_policies_deny, log_denies_policies_allow, unanswered_policies_allow or not_evaluated.";
        mismatch: bool => Bool, "Whether the log and the policies disagree (the first three classes).";
        src_ip: Option<String> => Text, "Source address (the first seen).";
        src_kind: &'static str => Text, "Source identity kind.";
        src_namespace: Option<String> => Text, "Source namespace.";
        src_pod: Option<String> => Text, "Source pod.";
        src_workload: Option<String> => Text, "Source workload name.";
        src_workload_kind: Option<String> => Text, "Source workload kind.";
        src_name: Option<String> => Text, "Other source identity.";
        dst_ip: Option<String> => Text, "Destination address.";
        dst_kind: &'static str => Text, "Destination identity kind.";
        dst_namespace: Option<String> => Text, "Destination namespace.";
        dst_pod: Option<String> => Text, "Destination pod.";
        dst_workload: Option<String> => Text, "Destination workload name.";
        dst_workload_kind: Option<String> => Text, "Destination workload kind.";
        dst_service: Option<String> => Text, "Service the destination is or was reached through.";
        dst_name: Option<String> => Text, "Other destination identity.";
        dst_port: Option<u16> => Int32, "Destination port.";
        protocol: String => Text, "Protocol.";
        observed: &'static str => Text, "What the log shows: allowed, denied, dropped, or for a log without verdicts answered or unanswered.";
        where_ as "where": &'static str => Text, "Side that reported it: egress, ingress or unknown (both ends' reports of a log without verdicts fold into one unknown row).";
        node: Option<String> => Text, "Node that reported it.";
        reason: Option<String> => Text, "Drop reasons the log gives, joined with \", \".";
        policies: Vec<String> => TextList, "Policies the log names.";
        count: u64 => Int64, "Attempts (a packet reported twice counts once).";
        records: u64 => Int64, "Log records behind the row.";
        first_seen: Option<DateTime<Utc>> => Time, "First record (RFC 3339 UTC).";
        last_seen: Option<DateTime<Utc>> => Time, "Last record (RFC 3339 UTC); the snapshot in force then is the one compared.";
        policy_verdict: Option<&'static str> => Text, "What the snapshot's NetworkPolicies decide for the side that reported it (allow or deny); null when not evaluated.";
        explanation: Option<String> => Text, "Why, from the snapshot: the denying rule and what it missed, or what allowed it.";
        cause_kinds: Vec<String> => TextList, "For a disagreement, the kinds of cause the evidence supports, strongest first: snapshot_newer, unevaluated_policy, host_network, not_enforced, non_policy_drop, snapshot_older, no_ready_endpoints, target_port_not_declared, nothing_listens, unexplained.";
        causes: Vec<String> => TextList, "The same causes in words, with what shows each.";
        evaluation: Option<Arc<Evaluation>> => Json, "The evaluation as data (the object of flowq check -o json).";
    }
}

impl ReconcileRow {
    /// The row of a classified connection.
    pub fn of(r: &ReconciledConnection) -> ReconcileRow {
        let c = &r.connection;
        let s = EndpointColumns::of(&c.src);
        let d = EndpointColumns::of(&c.dst);
        let side_verdict = c.why.as_ref().and_then(|w| w.evaluation.as_ref()).map(|e| {
            let allows = match c.direction {
                Direction::Egress => e.egress.verdict != SideVerdict::Deny,
                Direction::Ingress => e.ingress.verdict != SideVerdict::Deny,
                Direction::Unknown => e.verdict == PolicyVerdict::Allow || has_no_destination(e),
            };
            if allows {
                PolicyVerdict::Allow
            } else {
                PolicyVerdict::Deny
            }
        });
        ReconcileRow {
            class: r.agreement.as_str(),
            mismatch: r.agreement.is_mismatch(),
            src_ip: s.ip,
            src_kind: s.kind,
            src_namespace: s.namespace,
            src_pod: s.pod,
            src_workload: s.workload,
            src_workload_kind: s.workload_kind,
            src_name: s.name,
            dst_ip: d.ip,
            dst_kind: d.kind,
            dst_namespace: d.namespace,
            dst_pod: d.pod,
            dst_workload: d.workload,
            dst_workload_kind: d.workload_kind,
            dst_service: d.service,
            dst_name: d.name,
            dst_port: c.dst.port,
            protocol: c.protocol.to_string(),
            observed: r.observed.as_str(),
            where_: c.direction.as_str(),
            node: c.node.clone(),
            reason: Some(c.drop_reasons.join(", ")).filter(|r| !r.is_empty()),
            policies: c.policies.iter().map(|p| p.to_string()).collect(),
            count: c.count,
            records: c.records,
            first_seen: c.first_seen,
            last_seen: c.last_seen,
            policy_verdict: side_verdict.map(PolicyVerdict::as_str),
            explanation: c.why.as_ref().map(|w| w.summary.clone()),
            cause_kinds: r
                .causes
                .iter()
                .map(|k| k.kind.as_str().to_string())
                .collect(),
            causes: r.causes.iter().map(|k| k.detail.clone()).collect(),
            evaluation: c.why.as_ref().and_then(|w| w.evaluation.clone()),
        }
    }
}

declare_row! {
    /// Connections per class for one source namespace → destination namespace.
    pub struct ReconcileSummaryRow {
        src_namespace: String => Text, "Source namespace (or the kind of an end outside any, in parentheses: (external), (node)).";
        dst_namespace: String => Text, "Destination namespace (or kind).";
        connections: u64 => Int64, "Observed connections (rows).";
        agree: u64 => Int64, "Connections where the log and the policies agree.";
        log_allows_policies_deny: u64 => Int64, "Connections the log allows and the policies deny.";
        log_denies_policies_allow: u64 => Int64, "Connections the log denies and the policies allow.";
        unanswered_policies_allow: u64 => Int64, "Requests unanswered though the policies allow them.";
        not_evaluated: u64 => Int64, "Connections that could not be evaluated.";
    }
}

impl ReconcileSummaryRow {
    /// The summary rows of classified connections, one per namespace pair, sorted by pair.
    pub fn of_all(rows: &[ReconciledConnection]) -> Vec<ReconcileSummaryRow> {
        summarize(rows)
            .into_iter()
            .map(|((src, dst), counts)| ReconcileSummaryRow {
                src_namespace: src,
                dst_namespace: dst,
                connections: counts.total(),
                agree: counts.get(Agreement::Agree),
                log_allows_policies_deny: counts.get(Agreement::LogAllowsPoliciesDeny),
                log_denies_policies_allow: counts.get(Agreement::LogDeniesPoliciesAllow),
                unanswered_policies_allow: counts.get(Agreement::UnansweredPoliciesAllow),
                not_evaluated: counts.get(Agreement::NotEvaluated),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::SnapshotSet;
    use crate::flow::Flow;
    use crate::query::{DeniedAggregator, Explainer};

    const CLUSTER: &str = r#"{"kind":"List","items":[
      {"kind":"Namespace","metadata":{"name":"shop"}},
      {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},
       "spec":{"containers":[{"name":"w","ports":[{"containerPort":8080}]}]},
       "status":{"phase":"Running","podIP":"10.1.0.5"}},
      {"kind":"Pod","metadata":{"name":"db-0","namespace":"shop","labels":{"app":"db"}},
       "status":{"phase":"Running","podIP":"10.1.0.6"}},
      {"kind":"NetworkPolicy","metadata":{"name":"db-isolated","namespace":"shop"},
       "spec":{"podSelector":{"matchLabels":{"app":"db"}},"policyTypes":["Ingress"]}}]}"#;

    /// Classifies one record from web-0 to `dst_ip:port`, with `action` at the ingress.
    fn classify(dst_ip: &str, port: u16, action: Action, log: LogEvidence) -> ReconciledConnection {
        let snapshot = Snapshot::from_text(CLUSTER, "cluster.json", None).unwrap();
        let set = SnapshotSet::new(vec![snapshot]);
        let explainer = Explainer::new(&set);
        let mut flow = Flow::test_flow("10.1.0.5", dst_ip, port);
        flow.action = action;
        set.enrich(&mut flow);
        let mut aggregator = DeniedAggregator::default();
        aggregator.add(&flow);
        let mut c = aggregator.finish().remove(0);
        c.explain(&explainer);
        let engine = explainer.engine_at(None).unwrap();
        ReconciledConnection::classify(c, Some(engine.snapshot()), log)
    }

    #[test]
    fn an_allowed_record_the_policies_deny_blames_enforcement_as_far_as_the_log_shows() {
        let nothing_denied = LogEvidence {
            with_verdict: 12,
            denials: 0,
        };
        let r = classify("10.1.0.6", 5432, Action::Allowed, nothing_denied);
        assert_eq!(r.observed, Observed::Allowed);
        assert_eq!(r.agreement, Agreement::LogAllowsPoliciesDeny);
        assert_eq!(r.causes.len(), 1);
        assert_eq!(r.causes[0].kind, CauseKind::NotEnforced);
        assert!(r.causes[0].detail.contains("denies nothing in 12 records"));
        // Where the log denies elsewhere, enforcement works: the cause says so instead.
        let some_denied = LogEvidence {
            with_verdict: 12,
            denials: 3,
        };
        let r = classify("10.1.0.6", 5432, Action::Allowed, some_denied);
        assert!(r.causes[0].detail.contains("enforcement works elsewhere"));
    }

    #[test]
    fn a_denial_the_policies_allow_with_nothing_to_show_is_unexplained_not_guessed() {
        let r = classify("10.1.0.5", 8080, Action::Denied, LogEvidence::default());
        assert_eq!(r.agreement, Agreement::LogDeniesPoliciesAllow);
        let kinds: Vec<CauseKind> = r.causes.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [CauseKind::Unexplained]);
        let agree = classify("10.1.0.6", 5432, Action::Denied, LogEvidence::default());
        assert_eq!(agree.agreement, Agreement::Agree);
        assert!(agree.causes.is_empty());
    }

    #[test]
    fn summaries_count_each_class_per_namespace_pair() {
        let rows = vec![
            classify("10.1.0.6", 5432, Action::Allowed, LogEvidence::default()),
            classify("10.1.0.6", 5432, Action::Denied, LogEvidence::default()),
            classify("203.0.113.9", 443, Action::Allowed, LogEvidence::default()),
        ];
        let pairs = summarize(&rows);
        let shop = &pairs[&("shop".to_string(), "shop".to_string())];
        assert_eq!(shop.total(), 2);
        assert_eq!(shop.get(Agreement::LogAllowsPoliciesDeny), 1);
        assert_eq!(shop.get(Agreement::Agree), 1);
        let out = &pairs[&("shop".to_string(), "(external)".to_string())];
        assert_eq!(out.get(Agreement::Agree), 1);
        assert!(Agreement::ALL[..3].iter().all(|a| a.is_mismatch()));
    }
}
