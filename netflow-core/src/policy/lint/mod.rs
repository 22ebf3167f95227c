//! `lint`: the pitfalls of NetworkPolicy as the field meets them, found in a snapshot (and, with
//! [`LintObserver`], in recorded flows), each a [`Finding`] with its severity, the objects
//! involved and a one-line fix. One file per family of rules: manifests that could not be read
//! or are invalid (`manifests.rs`), ports (`ports.rs`), selectors (`selectors.rs`), egress
//! allow-lists without DNS or the API server (`egress.rs`), ipBlocks (`blocks.rs`), kubelet
//! probes (`probes.rs`) and what the flows saw (`observed.rs`). The closed list of rules is
//! [`Rule`]; this file holds the vocabulary and the view of the snapshot the rules share.
//!
//! ```
//! use netflow_core::policy::lint::{lint, Rule, Severity};
//! use netflow_core::Snapshot;
//!
//! let cluster = r#"{"kind":"List","items":[
//!   {"kind":"Namespace","metadata":{"name":"shop"}},
//!   {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},
//!    "status":{"phase":"Running","podIP":"10.244.1.5"}},
//!   {"kind":"NetworkPolicy","metadata":{"name":"deny-egress","namespace":"shop"},
//!    "spec":{"podSelector":{},"policyTypes":["Egress"]}}]}"#;
//! let snapshot = Snapshot::from_text(cluster, "cluster.json", None)?;
//! let findings = lint(&snapshot);
//! let dns = findings.iter().find(|f| f.rule == Rule::EgressWithoutDns).unwrap();
//! assert_eq!(dns.severity, Severity::Error);
//! assert_eq!(dns.objects[0].to_string(), "NetworkPolicy shop/deny-egress");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blocks;
mod egress;
mod manifests;
mod observed;
mod ports;
mod probes;
mod selectors;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::eval::{effective_types, PolicySet};
use super::verdict::PolicyType;
use crate::cluster::model::{NetworkPolicy, Pod, PolicyPeer};
use crate::cluster::Snapshot;
use crate::error::Error;
pub use observed::LintObserver;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; often intended.
    Info,
    /// Likely a mistake, or one waiting to happen.
    Warning,
    /// Breaks traffic, or does not do what it says.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Error;

    fn from_str(text: &str) -> Result<Severity, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            _ => Err(Error::Invalid {
                what: "severity",
                value: text.to_string(),
                detail: "expected error, warning or info".to_string(),
            }),
        }
    }
}

/// Every rule lint applies, each with a stable name (the `rule` of a finding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// An object of the snapshot could not be read and is left out.
    BadManifest,
    /// A policy the API server would reject, or parts of it that match nothing.
    InvalidPolicy,
    /// A policy port that is a Service's port instead of its pods' (target) port.
    ServicePort,
    /// A named port no pod on that end declares.
    NamedPort,
    /// A podSelector (of a policy or a peer) that selects no pod.
    PodSelectorMatchesNothing,
    /// A policy covering only part of the backends of a Service it protects.
    SelectorDiffersFromService,
    /// A namespaceSelector that matches no namespace.
    NamespaceSelectorMatchesNothing,
    /// Egress isolation that blocks DNS (UDP and TCP 53 to kube-dns).
    EgressWithoutDns,
    /// Egress isolation that blocks the Kubernetes API server.
    EgressWithoutApiServer,
    /// Pods that no policy selects in a namespace where others are isolated.
    UnselectedPods,
    /// An ipBlock covering pod or node addresses.
    IpBlockCoversPods,
    /// Kubelet probes an ingress policy blocks unless the plugin exempts the pod's node.
    ProbeFromNode,
    /// Flows: DNS queries that were denied.
    DeniedDns,
    /// Flows: connections to the API server that were denied.
    DeniedApiServer,
    /// Flows: kubelet probes from the pod's own node that were denied.
    DeniedProbe,
}

impl Rule {
    /// Every rule, in the order findings are sorted by.
    pub const ALL: &'static [Rule] = &[
        Rule::BadManifest,
        Rule::InvalidPolicy,
        Rule::ServicePort,
        Rule::NamedPort,
        Rule::PodSelectorMatchesNothing,
        Rule::SelectorDiffersFromService,
        Rule::NamespaceSelectorMatchesNothing,
        Rule::EgressWithoutDns,
        Rule::EgressWithoutApiServer,
        Rule::UnselectedPods,
        Rule::IpBlockCoversPods,
        Rule::ProbeFromNode,
        Rule::DeniedDns,
        Rule::DeniedApiServer,
        Rule::DeniedProbe,
    ];

    /// The rule's name, as findings and the docs give it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::BadManifest => "bad-manifest",
            Rule::InvalidPolicy => "invalid-policy",
            Rule::ServicePort => "service-port",
            Rule::NamedPort => "named-port",
            Rule::PodSelectorMatchesNothing => "pod-selector-matches-nothing",
            Rule::SelectorDiffersFromService => "selector-differs-from-service",
            Rule::NamespaceSelectorMatchesNothing => "namespace-selector-matches-nothing",
            Rule::EgressWithoutDns => "egress-without-dns",
            Rule::EgressWithoutApiServer => "egress-without-api-server",
            Rule::UnselectedPods => "unselected-pods",
            Rule::IpBlockCoversPods => "ipblock-covers-pods",
            Rule::ProbeFromNode => "probe-from-node",
            Rule::DeniedDns => "denied-dns",
            Rule::DeniedApiServer => "denied-api-server",
            Rule::DeniedProbe => "denied-probe",
        }
    }

    /// Whether the rule reads flows (the others read the snapshot alone).
    pub fn reads_flows(self) -> bool {
        matches!(
            self,
            Rule::DeniedDns | Rule::DeniedApiServer | Rule::DeniedProbe
        )
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Kubernetes object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    /// `NetworkPolicy`, `Service`, `Pod`, `Namespace`, a workload kind, …
    pub kind: String,
    /// Namespace (none for cluster-scoped objects and outside addresses).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    fn new(kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            kind: kind.to_string(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    fn policy(policy: &NetworkPolicy) -> ObjectRef {
        ObjectRef::new("NetworkPolicy", &policy.namespace, &policy.name)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// What the flows showed of a finding: how many attempts and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// Attempts (a packet reported twice counts once).
    pub attempts: u64,
    /// The first one.
    pub first: Option<DateTime<Utc>>,
    /// The last one.
    pub last: Option<DateTime<Utc>>,
}

/// One pitfall found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule that found it.
    pub rule: Rule,
    /// How much it matters.
    pub severity: Severity,
    /// The namespace it is in, when it is in one.
    pub namespace: Option<String>,
    /// The objects involved, the one to change first.
    pub objects: Vec<ObjectRef>,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it, in one line.
    pub fix: String,
    /// For the rules that read flows: what they saw.
    pub seen: Option<Seen>,
    /// The snapshot (or snapshots) it was found in.
    pub snapshot: String,
}

impl Finding {
    fn new(rule: Rule, severity: Severity, namespace: Option<&str>) -> Finding {
        Finding {
            rule,
            severity,
            namespace: namespace.map(str::to_string),
            objects: Vec::new(),
            message: String::new(),
            fix: String::new(),
            seen: None,
            snapshot: String::new(),
        }
    }

    fn objects(mut self, objects: impl IntoIterator<Item = ObjectRef>) -> Finding {
        self.objects.extend(objects);
        self
    }

    fn says(mut self, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        self.message = message.into();
        self.fix = fix.into();
        self
    }
}

/// Every finding of the rules that read the snapshot alone, most severe first.
pub fn lint(snapshot: &Snapshot) -> Vec<Finding> {
    let cluster = Cluster::new(snapshot);
    let mut findings = Vec::new();
    manifests::check(&cluster, &mut findings);
    ports::check(&cluster, &mut findings);
    selectors::check(&cluster, &mut findings);
    egress::check(&cluster, &mut findings);
    blocks::check(&cluster, &mut findings);
    probes::check(&cluster, &mut findings);
    for f in &mut findings {
        f.snapshot = snapshot.source.clone();
    }
    sort(&mut findings);
    findings
}

/// Sorts findings: most severe first, then by rule, namespace, objects and message.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(&b.rule))
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.objects.cmp(&b.objects))
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// Keeps the findings in one of `namespaces` (every finding when it is empty); a finding in no
/// namespace (a cluster-scoped object, an outside address) is kept only when none is given.
pub fn retain_namespaces(findings: &mut Vec<Finding>, namespaces: &[String]) {
    if namespaces.is_empty() {
        return;
    }
    findings.retain(|f| {
        f.namespace
            .as_ref()
            .is_some_and(|ns| namespaces.iter().any(|n| n == ns))
    });
}

/// Merges the findings of several snapshots: one finding found in several is kept once,
/// naming them all.
pub fn merge(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut at: BTreeMap<(Rule, Vec<ObjectRef>, String), usize> = BTreeMap::new();
    for f in findings {
        let key = (f.rule, f.objects.clone(), f.message.clone());
        match at.get(&key) {
            Some(&i) => {
                let names: Vec<&str> = out[i].snapshot.split(", ").collect();
                if !names.contains(&f.snapshot.as_str()) {
                    out[i].snapshot = format!("{}, {}", out[i].snapshot, f.snapshot);
                }
            }
            None => {
                at.insert(key, out.len());
                out.push(f);
            }
        }
    }
    sort(&mut out);
    out
}

/// The snapshot as the rules see it: running pods, compiled policies, and the questions
/// every rule asks.
pub(super) struct Cluster<'s> {
    snapshot: &'s Snapshot,
    policies: PolicySet,
    /// Pods that hold (or will hold) an address: not Succeeded or Failed.
    pods: Vec<&'s Pod>,
    /// Policies by namespace.
    by_namespace: BTreeMap<&'s str, Vec<&'s NetworkPolicy>>,
    /// `pods` by namespace.
    pods_by_namespace: BTreeMap<&'s str, Vec<&'s Pod>>,
}

impl<'s> Cluster<'s> {
    fn new(snapshot: &'s Snapshot) -> Cluster<'s> {
        let mut by_namespace: BTreeMap<&str, Vec<&NetworkPolicy>> = BTreeMap::new();
        for p in &snapshot.policies {
            by_namespace.entry(&p.namespace).or_default().push(p);
        }
        let pods: Vec<&Pod> = snapshot
            .pods
            .iter()
            .filter(|p| !matches!(p.phase.as_deref(), Some("Succeeded" | "Failed")))
            .collect();
        let mut pods_by_namespace: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
        for p in &pods {
            pods_by_namespace.entry(&p.namespace).or_default().push(p);
        }
        Cluster {
            by_namespace,
            pods_by_namespace,
            snapshot,
            policies: PolicySet::new(snapshot),
            pods,
        }
    }

    /// Running pods of a namespace.
    fn pods_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'s Pod> + 'a {
        self.pods_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .copied()
    }

    /// Running pods the policy selects.
    fn selected(&self, policy: &NetworkPolicy) -> Vec<&'s Pod> {
        self.pods_in(&policy.namespace)
            .filter(|p| {
                policy
                    .spec
                    .pod_selector
                    .as_ref()
                    .is_none_or(|s| s.matches(&p.labels))
            })
            .collect()
    }

    /// Whether some policy isolates the pod in `direction`, and which do.
    fn isolating(&self, pod: &Pod, direction: PolicyType) -> Vec<&'s NetworkPolicy> {
        self.by_namespace
            .get(pod.namespace.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|p| {
                p.spec
                    .pod_selector
                    .as_ref()
                    .is_none_or(|s| s.matches(&pod.labels))
            })
            .filter(|p| effective_types(&p.spec).0.contains(&direction))
            .collect()
    }

    /// The namespaces a selector peer reaches: those its namespaceSelector matches, or the
    /// policy's own.
    fn peer_namespaces(&self, policy: &NetworkPolicy, peer: &PolicyPeer) -> Vec<&'s str> {
        match &peer.namespace_selector {
            Some(selector) => self
                .snapshot
                .namespaces
                .values()
                .filter(|ns| selector.matches(&ns.labels))
                .map(|ns| ns.name.as_str())
                .collect(),
            None => self
                .snapshot
                .namespaces
                .get(&policy.namespace)
                .map(|ns| vec![ns.name.as_str()])
                .unwrap_or_default(),
        }
    }

    /// The running pods a selector peer selects; `None` for an ipBlock (or invalid) peer.
    fn peer_pods(&self, policy: &NetworkPolicy, peer: &PolicyPeer) -> Option<Vec<&'s Pod>> {
        if peer.ip_block.is_some()
            || (peer.pod_selector.is_none() && peer.namespace_selector.is_none())
        {
            return None;
        }
        let namespaces: BTreeSet<&str> = self.peer_namespaces(policy, peer).into_iter().collect();
        Some(
            namespaces
                .into_iter()
                .flat_map(|ns| self.pods_in(ns))
                .filter(|p| !p.host_network)
                .filter(|p| {
                    peer.pod_selector
                        .as_ref()
                        .is_none_or(|s| s.matches(&p.labels))
                })
                .collect(),
        )
    }

    /// The workload a pod belongs to, as an object (the pod itself when it has none).
    fn owner(&self, pod: &Pod) -> ObjectRef {
        match self.snapshot.workload_of(pod) {
            Some(w) => ObjectRef::new(&w.kind, &pod.namespace, &w.name),
            None => ObjectRef::new("Pod", &pod.namespace, &pod.name),
        }
    }

    /// The workloads of `pods`, each once, as `Kind name` text (at most `limit`, then a count).
    fn owners_text(&self, pods: &[&Pod], limit: usize) -> String {
        let owners: BTreeSet<String> = pods
            .iter()
            .map(|p| {
                let o = self.owner(p);
                format!("{} {}", o.kind, o.name)
            })
            .collect();
        list(owners.into_iter(), limit)
    }
}

/// `a, b and c`, or `a, b, c and 4 more` past `limit` items.
fn list(items: impl Iterator<Item = String>, limit: usize) -> String {
    let items: Vec<String> = items.collect();
    let shown = &items[..items.len().min(limit)];
    let more = items.len() - shown.len();
    match (shown, more) {
        ([], _) => String::new(),
        ([one], 0) => one.clone(),
        (many, 0) => format!(
            "{} and {}",
            many[..many.len() - 1].join(", "),
            many[many.len() - 1]
        ),
        (some, more) => format!("{} and {more} more", some.join(", ")),
    }
}

/// `1 pod` / `3 pods`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
pub(super) mod test_support {
    //! Building small snapshots for the rules' tests.

    use super::{lint, Finding, Rule};
    use crate::cluster::Snapshot;

    /// A snapshot of `items` (JSON objects, comma-separated).
    pub(crate) fn snapshot(items: &str) -> Snapshot {
        Snapshot::from_text(
            &format!(r#"{{"kind":"List","items":[{items}]}}"#),
            "cluster.json",
            None,
        )
        .unwrap()
    }

    /// The findings of one rule.
    pub(crate) fn findings(items: &str, rule: Rule) -> Vec<Finding> {
        lint(&snapshot(items))
            .into_iter()
            .filter(|f| f.rule == rule)
            .collect()
    }

    /// A namespace with labels (JSON object text).
    pub(crate) fn namespace(name: &str, labels: &str) -> String {
        format!(r#"{{"kind":"Namespace","metadata":{{"name":"{name}","labels":{labels}}}}}"#)
    }

    /// A running pod with labels, an IP, a node and containers (JSON array text).
    pub(crate) fn pod(ns: &str, name: &str, labels: &str, ip: &str, containers: &str) -> String {
        format!(
            r#"{{"kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}","labels":{labels}}},
               "spec":{{"nodeName":"n1","containers":{containers}}},
               "status":{{"phase":"Running","podIP":"{ip}"}}}}"#
        )
    }

    /// A NetworkPolicy with a spec (JSON object text).
    pub(crate) fn policy(ns: &str, name: &str, spec: &str) -> String {
        format!(
            r#"{{"kind":"NetworkPolicy","metadata":{{"name":"{name}","namespace":"{ns}"}},"spec":{spec}}}"#
        )
    }

    /// A Service with a selector and ports (JSON text).
    pub(crate) fn service(ns: &str, name: &str, ip: &str, selector: &str, ports: &str) -> String {
        format!(
            r#"{{"kind":"Service","metadata":{{"name":"{name}","namespace":"{ns}"}},
               "spec":{{"clusterIP":"{ip}","selector":{selector},"ports":{ports}}}}}"#
        )
    }

    /// Node n1 at 10.0.0.11 with pod CIDR 10.244.1.0/24.
    pub(crate) const NODE: &str = r#"{"kind":"Node","metadata":{"name":"n1"},
        "spec":{"podCIDR":"10.244.1.0/24"},
        "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.11"}]}}"#;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
        assert_eq!("WARNING".parse::<Severity>().unwrap(), Severity::Warning);
        assert!("fatal".parse::<Severity>().is_err());
    }

    #[test]
    fn every_rule_has_a_distinct_name_and_the_json_uses_it() {
        let names: BTreeSet<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
        for rule in Rule::ALL {
            assert_eq!(
                serde_json::to_value(rule).unwrap(),
                serde_json::json!(rule.name())
            );
        }
    }

    #[test]
    fn findings_are_kept_by_namespace_only_when_namespaces_are_given() {
        let f = |ns: Option<&str>| Finding::new(Rule::UnselectedPods, Severity::Warning, ns);
        let all = vec![f(Some("a")), f(Some("b")), f(None)];
        let mut kept = all.clone();
        retain_namespaces(&mut kept, &[]);
        assert_eq!(kept, all);
        retain_namespaces(&mut kept, &["b".to_string()]);
        assert_eq!(kept, [f(Some("b"))]);
    }

    #[test]
    fn lists_are_written_in_words_and_cut_past_the_limit() {
        let items = |n: usize| (1..=n).map(|i| i.to_string());
        assert_eq!(list(items(1), 3), "1");
        assert_eq!(list(items(3), 3), "1, 2 and 3");
        assert_eq!(list(items(5), 3), "1, 2, 3 and 2 more");
    }

    #[test]
    fn odd_values_are_findings_or_nothing_never_a_panic() {
        use test_support::*;
        let items = [
            namespace("shop", "{}"),
            NODE.to_string(),
            pod(
                "shop",
                "web-0",
                r#"{"app":"web"}"#,
                "10.244.1.5",
                r#"[{"name":"w","ports":[{"containerPort":-1,"name":""}],
                     "livenessProbe":{"tcpSocket":{"port":-1}},
                     "readinessProbe":{"grpc":{"port":99999}},
                     "startupProbe":{"httpGet":{"port":""}}}]"#,
            ),
            service(
                "shop",
                "web",
                "10.96.0.5",
                r#"{"app":"web"}"#,
                r#"[{"port":0,"targetPort":""},{"port":-5,"targetPort":70000},{"port":1}]"#,
            ),
            service("default", "kubernetes", "10.96.0.1", "null", r#"[{"port":443,"targetPort":"https"}]"#),
            policy(
                "shop",
                "odd",
                r#"{"podSelector":{"matchExpressions":[{"key":"app","operator":"Sideways"}]},
                    "policyTypes":[],
                    "ingress":[{"from":[{"ipBlock":{"cidr":"::/0","except":["10.0.0.0/8"]}}],
                                "ports":[{"port":0},{"port":-5},{"port":""},{"port":"99999999999999999999"},
                                         {"port":1,"endPort":-3}]}],
                    "egress":[{"to":[{"namespaceSelector":{}}],"ports":[{"port":"x","protocol":""}]}]}"#,
            ),
            policy("shop", "all", r#"{"podSelector":{},"ingress":[{"ports":[{"port":0}]}],"egress":[]}"#),
        ]
        .join(",");
        let findings = lint(&test_support::snapshot(&items));
        for f in &findings {
            assert!(!f.objects.is_empty() && !f.message.is_empty(), "{f:?}");
        }
        assert!(findings.iter().any(|f| f.rule == Rule::InvalidPolicy));
    }

    #[test]
    fn a_finding_of_two_snapshots_is_kept_once_naming_both() {
        let f = |snapshot: &str| Finding {
            snapshot: snapshot.to_string(),
            ..Finding::new(Rule::UnselectedPods, Severity::Warning, Some("a")).says("m", "f")
        };
        let merged = merge(vec![f("one.json"), f("two.json"), f("one.json")]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].snapshot, "one.json, two.json");
    }
}
