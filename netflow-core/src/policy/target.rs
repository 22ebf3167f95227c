//! `check` targets as users name them — a pod, a workload, a label selector, a Service, an IP
//! address, a node — parsed ([`Target`]), expanded against a snapshot into the connection ends
//! the engine evaluates (one per pod; a workload without Pod objects is its pod template), and
//! the answer for every pair ([`Checked`]): one verdict per pod pair, grouped when they agree.
//! Without a port, a protocol with ports is asked "is any port allowed?" ([`AnyPort`]).
//! Text rendering is in `explain.rs`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::resolve::End;
use super::verdict::{Evaluation, PolicyVerdict};
use super::{Engine, PolicyError, Subject};
use crate::cluster::model::{IntOrString, Pod};
use crate::cluster::selector::LabelSelector;
use crate::flow::Protocol;

/// Workload kinds a target may name, with the short forms kubectl accepts.
const WORKLOAD_KINDS: [(&str, &[&str]); 6] = [
    ("Deployment", &["deploy", "deployment", "deployments"]),
    ("StatefulSet", &["sts", "statefulset", "statefulsets"]),
    ("DaemonSet", &["ds", "daemonset", "daemonsets"]),
    ("ReplicaSet", &["rs", "replicaset", "replicasets"]),
    ("Job", &["job", "jobs"]),
    ("CronJob", &["cj", "cronjob", "cronjobs"]),
];

/// One end of a `check` as a user names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `namespace/name`: the pod of that name, else the workload of that name (of any kind).
    Named {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// `pod/namespace/name`: a pod, explicitly.
    Pod {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// `deploy/namespace/name` (also `sts/`, `ds/`, `rs/`, `job/` and the long kind names).
    Workload {
        /// `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet` or `Job`.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// `namespace/app=x,tier!=db`: the pods of the namespace matching a label selector.
    Selector {
        /// Namespace.
        namespace: String,
        /// The selector.
        selector: LabelSelector,
        /// The selector as written.
        text: String,
    },
    /// `svc/namespace/name`: a Service (a destination only).
    Service {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// An IP address: a pod's, a node's, a ClusterIP or one outside the cluster.
    Ip(IpAddr),
    /// `node/name`: a node, by its InternalIP (host traffic).
    Node(String),
}

impl Target {
    /// Parses a target: `namespace/name`, `pod/namespace/name`, `deploy/namespace/name` (and
    /// `sts/`, `ds/`, `rs/`, `job/`), `namespace/<label selector>`, `svc/namespace/name`, an
    /// IP address or `node/name`. Explicit kind prefixes win over a namespace of that name.
    pub fn parse(text: &str) -> Result<Target, PolicyError> {
        let bad = |detail: &str| PolicyError::BadSubject {
            text: text.to_string(),
            detail: detail.to_string(),
        };
        let trimmed = text.trim();
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Target::Ip(ip));
        }
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        };
        let Some((first, rest)) = trimmed.split_once('/') else {
            return Err(bad(EXPECTED));
        };
        let lower = first.to_ascii_lowercase();
        if lower == "node" || lower == "nodes" {
            return if valid(rest) {
                Ok(Target::Node(rest.to_string()))
            } else {
                Err(bad("expected node/<name>"))
            };
        }
        let explicit = |rest: &str| match rest.split_once('/') {
            Some((ns, name)) if valid(ns) && valid(name) => {
                Some((ns.to_string(), name.to_string()))
            }
            _ => None,
        };
        if matches!(lower.as_str(), "svc" | "service" | "services") {
            let (namespace, name) = explicit(rest)
                .ok_or_else(|| bad("expected svc/<namespace>/<name> with non-empty names"))?;
            return Ok(Target::Service { namespace, name });
        }
        if matches!(lower.as_str(), "pod" | "pods" | "po") && rest.contains('/') {
            let (namespace, name) =
                explicit(rest).ok_or_else(|| bad("expected pod/<namespace>/<name>"))?;
            return Ok(Target::Pod { namespace, name });
        }
        if let Some((kind, _)) = WORKLOAD_KINDS
            .iter()
            .find(|(_, names)| names.contains(&lower.as_str()))
        {
            if rest.contains('/') {
                let (namespace, name) = explicit(rest).ok_or_else(|| {
                    bad(&format!(
                        "expected {first}/<namespace>/<name> with non-empty names"
                    ))
                })?;
                return Ok(Target::Workload {
                    kind: kind.to_string(),
                    namespace,
                    name,
                });
            }
        }
        if !valid(first) {
            return Err(bad(EXPECTED));
        }
        let namespace = first.to_string();
        if rest.contains(['=', '!']) || rest.contains(" in ") || rest.contains(" notin ") {
            let selector = LabelSelector::parse(rest).map_err(|e| bad(&e.to_string()))?;
            return Ok(Target::Selector {
                namespace,
                selector,
                text: rest.to_string(),
            });
        }
        if valid(rest) {
            Ok(Target::Named {
                namespace,
                name: rest.to_string(),
            })
        } else {
            Err(bad(EXPECTED))
        }
    }
}

const EXPECTED: &str =
    "expected <namespace>/<pod or workload>, deploy|sts|ds|rs|job/<namespace>/<name>, \
     <namespace>/<label selector>, svc/<namespace>/<name>, an IP address or node/<name>";

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Named { namespace, name } => write!(f, "{namespace}/{name}"),
            Target::Pod { namespace, name } => write!(f, "pod/{namespace}/{name}"),
            Target::Workload {
                kind,
                namespace,
                name,
            } => write!(f, "{}/{namespace}/{name}", kind.to_ascii_lowercase()),
            Target::Selector {
                namespace, text, ..
            } => write!(f, "{namespace}/{text}"),
            Target::Service { namespace, name } => write!(f, "svc/{namespace}/{name}"),
            Target::Ip(ip) => write!(f, "{ip}"),
            Target::Node(name) => write!(f, "node/{name}"),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Target, PolicyError> {
        Target::parse(s)
    }
}

/// The answer to "is any port allowed?": asked when no port is given for a protocol with
/// ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnyPort {
    /// The ports (and ranges, `8000-8080`) on which the connection is allowed, ascending;
    /// empty when none is. For a Service destination, its service ports.
    pub allowed: Vec<String>,
    /// How many distinct ports were evaluated to decide it (every port where a rule's port
    /// range starts or ends, and every service port).
    pub evaluated: usize,
}

/// One pair of ends checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairCheck {
    /// The evaluation: at the given port; without one, at the first allowed port (else the
    /// lowest port evaluated).
    pub evaluation: Arc<Evaluation>,
    /// Set when no port was given for a protocol with ports.
    pub any_port: Option<AnyPort>,
}

/// Pairs that agree: the same verdict, for the same reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckGroup {
    /// The verdict shared by the group.
    pub verdict: PolicyVerdict,
    /// Indices into [`Checked::pairs`].
    pub pairs: Vec<usize>,
}

/// Every pair of a `check` between two targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    /// The source as given.
    pub from: String,
    /// The destination as given.
    pub to: String,
    /// The port as given (`None`: any port, or a protocol without ports).
    pub port: Option<u16>,
    /// The protocol.
    pub protocol: Protocol,
    /// Every pair, source-major, in the order the ends were found (pods sorted by name).
    pub pairs: Vec<PairCheck>,
    /// The pairs grouped when they agree, in order of their first pair.
    pub groups: Vec<CheckGroup>,
    /// Whether both targets name one end each (a pod, an address, a Service, a node) and the
    /// port was given or is not needed: the answer is then that one evaluation.
    pub one_to_one: bool,
}

impl Checked {
    /// `Allow` when every pair is allowed.
    pub fn verdict(&self) -> PolicyVerdict {
        if self
            .pairs
            .iter()
            .all(|p| p.evaluation.verdict == PolicyVerdict::Allow)
        {
            PolicyVerdict::Allow
        } else {
            PolicyVerdict::Deny
        }
    }
}

impl Engine<'_> {
    /// The connection ends a target stands for: one pod, the pods of a workload or selector
    /// (not finished ones; a workload or matching template without pods is its pod
    /// template), a Service, an address, a node's InternalIP.
    pub fn expand(&self, target: &Target) -> Result<Vec<Subject>, PolicyError> {
        let snapshot = self.snapshot();
        let pod_subject = |p: &Pod| Subject::Pod {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
        };
        match target {
            Target::Pod { namespace, name } => {
                self.resolve(&Subject::Pod {
                    namespace: namespace.clone(),
                    name: name.clone(),
                })?;
                Ok(vec![Subject::Pod {
                    namespace: namespace.clone(),
                    name: name.clone(),
                }])
            }
            Target::Named { namespace, name } => {
                if snapshot.pod(namespace, name).is_some() {
                    return Ok(vec![Subject::Pod {
                        namespace: namespace.clone(),
                        name: name.clone(),
                    }]);
                }
                let mut kinds: BTreeSet<String> = snapshot
                    .workloads()
                    .iter()
                    .filter(|w| &w.namespace == namespace && &w.name == name)
                    .map(|w| w.kind.clone())
                    .collect();
                kinds.extend(
                    snapshot
                        .pods()
                        .iter()
                        .filter(|p| &p.namespace == namespace)
                        .filter_map(|p| snapshot.workload_of(p))
                        .filter(|w| &w.name == name)
                        .map(|w| w.kind),
                );
                // A Deployment's ReplicaSets share its pods: the Deployment is what was meant.
                if kinds.contains("Deployment") {
                    kinds.remove("ReplicaSet");
                }
                match kinds.len() {
                    0 => Err(PolicyError::NoMatch {
                        target: target.to_string(),
                        detail: format!(
                            "no pod {namespace}/{name} and no workload of that name in \
                             namespace {namespace}"
                        ),
                    }),
                    1 => self.expand(&Target::Workload {
                        kind: kinds.into_iter().next().unwrap_or_default(),
                        namespace: namespace.clone(),
                        name: name.clone(),
                    }),
                    _ => Err(PolicyError::AmbiguousName {
                        namespace: namespace.clone(),
                        name: name.clone(),
                        candidates: kinds
                            .iter()
                            .map(|k| format!("{}/{namespace}/{name}", short_kind(k)))
                            .collect(),
                    }),
                }
            }
            Target::Workload {
                kind,
                namespace,
                name,
            } => {
                let pods = snapshot.pods_of_workload(namespace, kind, name);
                if !pods.is_empty() {
                    return Ok(sorted(pods.into_iter().map(pod_subject).collect()));
                }
                match snapshot.workload(namespace, kind, name) {
                    Some(_) => Ok(vec![Subject::Template {
                        namespace: namespace.clone(),
                        kind: kind.clone(),
                        name: name.clone(),
                    }]),
                    None => Err(PolicyError::UnknownWorkload {
                        kind: kind.clone(),
                        namespace: namespace.clone(),
                        name: name.clone(),
                    }),
                }
            }
            Target::Selector {
                namespace,
                selector,
                ..
            } => {
                let live = |p: &&Pod| {
                    p.ended.is_none() && !matches!(p.phase.as_deref(), Some("Succeeded" | "Failed"))
                };
                let mut found: Vec<Subject> = snapshot
                    .pods()
                    .iter()
                    .filter(|p| &p.namespace == namespace && selector.matches(&p.labels))
                    .filter(live)
                    .map(pod_subject)
                    .collect();
                // Workloads with no pod in the snapshot stand in by their templates.
                for w in snapshot.workloads() {
                    if &w.namespace == namespace
                        && selector.matches(&w.template.labels)
                        && snapshot
                            .pods_of_workload(namespace, &w.kind, &w.name)
                            .is_empty()
                        && !owned_by_another_workload(snapshot, w)
                    {
                        found.push(Subject::Template {
                            namespace: namespace.clone(),
                            kind: w.kind.clone(),
                            name: w.name.clone(),
                        });
                    }
                }
                if found.is_empty() {
                    return Err(PolicyError::NoMatch {
                        target: target.to_string(),
                        detail: format!(
                            "no pod or pod template of namespace {namespace} has labels matching \
                             {selector}"
                        ),
                    });
                }
                Ok(sorted(found))
            }
            Target::Service { namespace, name } => Ok(vec![Subject::Service {
                namespace: namespace.clone(),
                name: name.clone(),
            }]),
            Target::Ip(ip) => Ok(vec![Subject::Ip(*ip)]),
            Target::Node(name) => {
                let node = snapshot
                    .nodes()
                    .iter()
                    .find(|n| &n.name == name)
                    .ok_or_else(|| PolicyError::NoMatch {
                        target: target.to_string(),
                        detail: format!("no node {name}"),
                    })?;
                let ip = node
                    .internal_ips
                    .first()
                    .or(node.external_ips.first())
                    .ok_or_else(|| PolicyError::NoMatch {
                        target: target.to_string(),
                        detail: format!("node {name} has no address in the snapshot"),
                    })?;
                Ok(vec![Subject::Ip(*ip)])
            }
        }
    }

    /// Checks every pair of the ends `from` and `to` stand for. With `port`, on that port;
    /// without one, a protocol with ports asks "is any port allowed?" and a protocol without
    /// ports needs none.
    pub fn check(
        &self,
        from: &Target,
        to: &Target,
        port: Option<u16>,
        protocol: Protocol,
    ) -> Result<Checked, PolicyError> {
        let sources = self.expand(from)?;
        let destinations = self.expand(to)?;
        let single = |t: &Target| match t {
            Target::Pod { .. } | Target::Service { .. } | Target::Ip(_) | Target::Node(_) => true,
            Target::Named { namespace, name } => self.snapshot().pod(namespace, name).is_some(),
            Target::Workload { .. } | Target::Selector { .. } => false,
        };
        let one_to_one = single(from) && single(to) && (port.is_some() || !protocol.has_ports());
        let mut pairs = Vec::new();
        for src in &sources {
            for dst in &destinations {
                pairs.push(match (port, protocol.has_ports()) {
                    (Some(port), _) => PairCheck {
                        evaluation: self.evaluate_cached(src, dst, port, protocol)?,
                        any_port: None,
                    },
                    (None, false) => PairCheck {
                        evaluation: self.evaluate_cached(src, dst, 0, protocol)?,
                        any_port: None,
                    },
                    (None, true) => self.any_port(src, dst, protocol)?,
                });
            }
        }
        let mut groups: Vec<(GroupKey, CheckGroup)> = Vec::new();
        for (i, pair) in pairs.iter().enumerate() {
            let key = group_key(pair);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, group)) => group.pairs.push(i),
                None => groups.push((
                    key,
                    CheckGroup {
                        verdict: pair.evaluation.verdict,
                        pairs: vec![i],
                    },
                )),
            }
        }
        Ok(Checked {
            from: from.to_string(),
            to: to.to_string(),
            port: port.filter(|_| protocol.has_ports()),
            protocol,
            pairs,
            groups: groups.into_iter().map(|(_, g)| g).collect(),
            one_to_one,
        })
    }

    /// "Is any port allowed?": the verdict changes only where a rule's port range starts or
    /// ends (or a named port resolves), so evaluating those ports decides every port.
    fn any_port(
        &self,
        src: &Subject,
        dst: &Subject,
        protocol: Protocol,
    ) -> Result<PairCheck, PolicyError> {
        let (candidates, discrete) = self.port_boundaries(dst, protocol)?;
        let mut verdicts = Vec::with_capacity(candidates.len());
        for &port in &candidates {
            verdicts.push((port, self.evaluate_cached(src, dst, port, protocol)?));
        }
        let mut allowed: Vec<(u16, u16)> = Vec::new();
        for (i, (port, e)) in verdicts.iter().enumerate() {
            if e.verdict != PolicyVerdict::Allow {
                continue;
            }
            let end = if discrete {
                *port
            } else {
                verdicts
                    .get(i + 1)
                    .map_or(u16::MAX, |(next, _)| next.saturating_sub(1))
            };
            match allowed.last_mut() {
                Some(last) if !discrete && last.1.checked_add(1) == Some(*port) => last.1 = end,
                _ => allowed.push((*port, end)),
            }
        }
        let shown = verdicts
            .iter()
            .find(|(_, e)| e.verdict == PolicyVerdict::Allow)
            .or(verdicts.first())
            .map(|(_, e)| e.clone());
        let evaluation = match shown {
            Some(e) => e,
            // A Service without a port of this protocol: its translation says so.
            None => self.evaluate_cached(src, dst, 0, protocol)?,
        };
        Ok(PairCheck {
            evaluation,
            any_port: Some(AnyPort {
                allowed: allowed
                    .into_iter()
                    .map(|(a, b)| {
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        }
                    })
                    .collect(),
                evaluated: candidates.len(),
            }),
        })
    }

    /// The ports where a verdict may change for `protocol` towards `dst`, ascending, and
    /// whether they are discrete (a Service's ports) rather than starts of ranges.
    fn port_boundaries(
        &self,
        dst: &Subject,
        protocol: Protocol,
    ) -> Result<(Vec<u16>, bool), PolicyError> {
        let snapshot = self.snapshot();
        let end = self.resolve(dst)?;
        if let End::Service { service, .. } = end {
            let ports: BTreeSet<u16> = service
                .ports
                .iter()
                .filter(|p| {
                    Protocol::parse(p.protocol.as_deref().unwrap_or("TCP")) == Some(protocol)
                })
                .filter_map(|p| u16::try_from(p.port).ok())
                .collect();
            return Ok((ports.into_iter().collect(), true));
        }
        let dst_pod = match end {
            End::Pod { pod, .. } => Some(pod),
            _ => None,
        };
        let mut bounds: BTreeSet<u16> = BTreeSet::from([1]);
        let mut add_range = |start: i64, end: i64| {
            if let Ok(start) = u16::try_from(start) {
                bounds.insert(start.max(1));
            }
            if let Ok(next) = u16::try_from(end + 1) {
                bounds.insert(next.max(1));
            }
        };
        for policy in snapshot.policies() {
            for rule in policy
                .spec
                .ingress
                .iter()
                .flatten()
                .chain(policy.spec.egress.iter().flatten())
            {
                for entry in rule.ports.iter().flatten() {
                    let entry_protocol = entry.protocol.as_deref().unwrap_or("TCP");
                    if Protocol::parse(entry_protocol) != Some(protocol) {
                        continue;
                    }
                    match &entry.port {
                        Some(IntOrString::Int(n)) => add_range(*n, entry.end_port.unwrap_or(*n)),
                        Some(IntOrString::String(s)) => match s.trim().parse::<i64>() {
                            Ok(n) => add_range(n, entry.end_port.unwrap_or(n)),
                            Err(_) => {
                                if let Some(n) = dst_pod.and_then(|p| {
                                    super::eval::named_port(p, s, &protocol.to_string())
                                }) {
                                    add_range(i64::from(n), i64::from(n));
                                }
                            }
                        },
                        None => {}
                    }
                }
            }
        }
        Ok((bounds.into_iter().collect(), false))
    }
}

/// Kubectl's short name of a workload kind.
fn short_kind(kind: &str) -> &str {
    WORKLOAD_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(kind, |(_, names)| names[0])
}

/// A ReplicaSet a Deployment owns (a Job a CronJob owns) is that owner's, not a workload of
/// its own: its template is the owner's.
pub(super) fn owned_by_another_workload(
    snapshot: &crate::cluster::Snapshot,
    w: &crate::cluster::model::WorkloadObject,
) -> bool {
    snapshot
        .workload_of(&w.template)
        .is_some_and(|owner| owner.kind != w.kind)
}

fn sorted(mut subjects: Vec<Subject>) -> Vec<Subject> {
    subjects.sort();
    subjects.dedup();
    subjects
}

/// What makes two pairs agree: the verdict, what decided each side, and the policies flowq
/// does not evaluate — pod names aside.
type GroupKey = (
    PolicyVerdict,
    String,
    String,
    Option<Vec<String>>,
    Vec<String>,
);

fn group_key(pair: &PairCheck) -> GroupKey {
    let e = &pair.evaluation;
    let side = |s: &super::verdict::SideResult| {
        let decided = match (&s.matched_rule, s.isolated, &s.exemption) {
            (_, _, Some(exemption)) => format!("{:?}", std::mem::discriminant(exemption)),
            (Some(rule), _, _) => format!("allowed by {} rule {}", rule.policy, rule.rule),
            (None, true, _) => {
                let policies: Vec<&str> = s.reasons.iter().map(|r| r.policy.as_str()).collect();
                format!("denied: {}", policies.join(","))
            }
            (None, false, _) => "not isolated".to_string(),
        };
        format!("{:?} {decided}", s.verdict)
    };
    (
        e.verdict,
        side(&e.egress),
        side(&e.ingress),
        pair.any_port.as_ref().map(|a| a.allowed.clone()),
        e.also_subject_to
            .iter()
            .map(|a| format!("{} {} {:?}", a.kind, a.policy, a.direction))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::Snapshot;

    fn parse(text: &str) -> Target {
        Target::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn targets_parse_in_every_form_users_write() {
        let named = |ns: &str, name: &str| Target::Named {
            namespace: ns.into(),
            name: name.into(),
        };
        assert_eq!(parse("shop/web"), named("shop", "web"));
        assert_eq!(
            parse("pod/shop/web-0"),
            Target::Pod {
                namespace: "shop".into(),
                name: "web-0".into()
            }
        );
        for (text, kind) in [
            ("deploy/shop/web", "Deployment"),
            ("deployment/shop/web", "Deployment"),
            ("sts/shop/web", "StatefulSet"),
            ("ds/shop/web", "DaemonSet"),
            ("rs/shop/web", "ReplicaSet"),
            ("job/shop/web", "Job"),
            ("cj/shop/web", "CronJob"),
        ] {
            assert_eq!(
                parse(text),
                Target::Workload {
                    kind: kind.into(),
                    namespace: "shop".into(),
                    name: "web".into()
                },
                "{text}"
            );
        }
        match parse("shop/app.kubernetes.io/name=web,tier!=db") {
            Target::Selector {
                namespace, text, ..
            } => {
                assert_eq!(namespace, "shop");
                assert_eq!(text, "app.kubernetes.io/name=web,tier!=db");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse("svc/shop/db"),
            Target::Service {
                namespace: "shop".into(),
                name: "db".into()
            }
        );
        assert_eq!(parse("10.0.0.1"), Target::Ip("10.0.0.1".parse().unwrap()));
        assert_eq!(parse("node/n1"), Target::Node("n1".into()));
        // A namespace called like a kind is still a namespace when two parts are given.
        assert_eq!(parse("deploy/web"), named("deploy", "web"));
        for bad in ["", "web", "shop/", "svc/shop", "node/", "shop/=x", "a b/c"] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse("sts/shop/db").to_string(), "statefulset/shop/db");
    }

    fn snapshot() -> Snapshot {
        let pod = |name: &str, labels: serde_json::Value, ip: &str, owner: &str| {
            json!({"kind": "Pod", "metadata": {"name": name, "namespace": "shop", "labels": labels,
                   "ownerReferences": [{"kind": "ReplicaSet", "name": owner, "controller": true}]},
                   "spec": {"nodeName": "n1", "containers": [{"ports": [{"containerPort": 8080}]}]},
                   "status": {"phase": "Running", "podIP": ip}})
        };
        let items = json!([
            {"kind": "Namespace", "metadata": {"name": "shop"}},
            pod("web-5d9c7-a", json!({"app": "web", "pod-template-hash": "5d9c7"}), "10.0.0.1", "web-5d9c7"),
            pod("web-5d9c7-b", json!({"app": "web", "pod-template-hash": "5d9c7"}), "10.0.0.2", "web-5d9c7"),
            pod("api-0", json!({"app": "api"}), "10.0.0.3", "none"),
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "cache", "namespace": "shop"},
             "spec": {"template": {"metadata": {"labels": {"app": "cache"}},
                      "spec": {"containers": [{"ports": [{"containerPort": 6379}]}]}}}},
            {"kind": "NetworkPolicy", "metadata": {"name": "api-in", "namespace": "shop"},
             "spec": {"podSelector": {"matchLabels": {"app": "api"}},
                      "ingress": [{"ports": [{"port": 8080}, {"port": 9000, "endPort": 9100}]}]}}
        ]);
        Snapshot::from_text(
            &json!({"kind": "List", "items": items}).to_string(),
            "t.json",
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_workload_expands_to_its_pods_or_else_its_pod_template() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let names = |t: &str| -> Vec<String> {
            engine
                .expand(&parse(t))
                .unwrap()
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        assert_eq!(names("shop/web"), ["shop/web-5d9c7-a", "shop/web-5d9c7-b"]);
        assert_eq!(names("deploy/shop/web"), names("shop/web"));
        assert_eq!(names("shop/web-5d9c7-a"), ["shop/web-5d9c7-a"]);
        assert_eq!(
            names("shop/cache"),
            ["statefulset/shop/cache (pod template)"]
        );
        assert_eq!(
            names("shop/app in (web,cache)"),
            [
                "shop/web-5d9c7-a",
                "shop/web-5d9c7-b",
                "statefulset/shop/cache (pod template)"
            ]
        );
        let err = engine
            .expand(&parse("shop/nothing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no pod shop/nothing and no workload"), "{err}");
        let err = engine.expand(&parse("sts/shop/web")).unwrap_err();
        assert!(matches!(err, PolicyError::UnknownWorkload { .. }), "{err}");
        let err = engine.expand(&parse("shop/app=none")).unwrap_err();
        assert!(matches!(err, PolicyError::NoMatch { .. }), "{err}");
    }

    #[test]
    fn without_a_port_the_allowed_ports_are_given_as_ranges() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let checked = engine
            .check(
                &parse("shop/web"),
                &parse("shop/api-0"),
                None,
                Protocol::Tcp,
            )
            .unwrap();
        assert_eq!(checked.pairs.len(), 2);
        assert_eq!(checked.groups.len(), 1, "both web pods agree");
        assert!(!checked.one_to_one);
        let any = checked.pairs[0].any_port.as_ref().unwrap();
        assert_eq!(any.allowed, ["8080", "9000-9100"]);
        assert_eq!(checked.pairs[0].evaluation.port, Some(8080));
        assert_eq!(checked.verdict(), PolicyVerdict::Allow);
        let svc = Snapshot::from_text(
            &json!({"kind": "List", "items": [
                {"kind": "Pod", "metadata": {"name": "a", "namespace": "n", "labels": {"app": "a"}},
                 "status": {"phase": "Running", "podIP": "10.1.0.1"}},
                {"kind": "Service", "metadata": {"name": "s", "namespace": "n"},
                 "spec": {"clusterIP": "10.96.1.1", "selector": {"app": "a"},
                          "ports": [{"port": 80}, {"port": 443}, {"port": 53, "protocol": "UDP"}]}}]})
            .to_string(),
            "svc.json",
            None,
        )
        .unwrap();
        let svc_engine = Engine::new(&svc);
        let any = |protocol| {
            svc_engine
                .check(&parse("n/a"), &parse("svc/n/s"), None, protocol)
                .unwrap()
        };
        let tcp = any(Protocol::Tcp);
        assert_eq!(
            tcp.pairs[0].any_port.as_ref().unwrap().allowed,
            ["80", "443"]
        );
        let sctp = any(Protocol::Sctp);
        assert_eq!(sctp.verdict(), PolicyVerdict::Deny);
        let problem = sctp.pairs[0]
            .evaluation
            .service
            .as_ref()
            .unwrap()
            .problem
            .clone();
        assert_eq!(
            problem.as_deref(),
            Some("service n/s has no SCTP port (its ports: 80/TCP, 443/TCP, 53/UDP)")
        );
        let udp = engine
            .check(
                &parse("shop/web"),
                &parse("shop/api-0"),
                None,
                Protocol::Udp,
            )
            .unwrap();
        assert!(udp.pairs[0].any_port.as_ref().unwrap().allowed.is_empty());
        assert_eq!(udp.verdict(), PolicyVerdict::Deny);
        let open = engine
            .check(
                &parse("shop/api-0"),
                &parse("shop/web"),
                None,
                Protocol::Tcp,
            )
            .unwrap();
        assert_eq!(
            open.pairs[0].any_port.as_ref().unwrap().allowed,
            ["1-65535"]
        );
        let one = engine
            .check(
                &parse("shop/api-0"),
                &parse("10.0.0.1"),
                Some(80),
                Protocol::Tcp,
            )
            .unwrap();
        assert!(one.one_to_one);
    }

    #[test]
    fn pairs_that_disagree_are_grouped_apart() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let checked = engine
            .check(
                &parse("shop/app in (web,api)"),
                &parse("shop/api-0"),
                Some(7000),
                Protocol::Tcp,
            )
            .unwrap();
        assert_eq!(checked.pairs.len(), 3);
        // api-0 → api-0 and the web pods → api-0 are all denied by the same policy: one group.
        assert_eq!(checked.groups.len(), 1);
        let checked = engine
            .check(
                &parse("shop/app in (web,api)"),
                &parse("shop/web"),
                Some(80),
                Protocol::Tcp,
            )
            .unwrap();
        assert_eq!(checked.pairs.len(), 6);
        assert!(checked
            .groups
            .iter()
            .all(|g| g.verdict == PolicyVerdict::Allow));
        let text = checked.to_string();
        assert!(text.starts_with("6 of 6 pairs ALLOWED: "), "{text}");
    }
}
