//! Policies of kinds flowq recognises in a snapshot but does not evaluate: Cilium's
//! CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy, Calico's NetworkPolicy and
//! GlobalNetworkPolicy (`projectcalico.org/v3` and `crd.projectcalico.org/v1`), and the
//! Network Policy API's ClusterNetworkPolicy (`policy.networking.k8s.io/v1alpha2`),
//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (`v1alpha1`).
//!
//! Their rules are never evaluated here; what is kept is who they apply to, so that every
//! verdict for a pod one of them selects (or may select) can say the verdict may differ. A
//! subject written with Kubernetes label selectors (the Network Policy API kinds, Cilium's
//! `endpointSelector`) is evaluated; a Calico selector expression is evaluated by
//! [`super::calico_selector`] when it parses, else the policy "may select" every pod in reach.
//! Nothing here decides a verdict.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::calico_selector::CalicoSelector;
use super::model::Pod;
use super::selector::{LabelSelector, Requirement};

/// A policy kind flowq recognises but does not evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum UnevaluatedKind {
    /// `cilium.io/v2` CiliumNetworkPolicy (namespaced).
    CiliumNetworkPolicy,
    /// `cilium.io/v2` CiliumClusterwideNetworkPolicy.
    CiliumClusterwideNetworkPolicy,
    /// Calico `NetworkPolicy` (`projectcalico.org/v3`, `crd.projectcalico.org/v1`; namespaced).
    CalicoNetworkPolicy,
    /// Calico `GlobalNetworkPolicy` (cluster-wide).
    CalicoGlobalNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    ClusterNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy.
    AdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` BaselineAdminNetworkPolicy.
    BaselineAdminNetworkPolicy,
}

impl UnevaluatedKind {
    /// Recognises a policy kind flowq does not evaluate from an object's `apiVersion` and
    /// `kind`; `None` for any other object (a `networking.k8s.io` NetworkPolicy included).
    pub fn recognise(api_version: &str, kind: &str) -> Option<UnevaluatedKind> {
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        Some(match (group, kind) {
            ("cilium.io", "CiliumNetworkPolicy") => UnevaluatedKind::CiliumNetworkPolicy,
            ("cilium.io", "CiliumClusterwideNetworkPolicy") => {
                UnevaluatedKind::CiliumClusterwideNetworkPolicy
            }
            ("projectcalico.org" | "crd.projectcalico.org", "NetworkPolicy") => {
                UnevaluatedKind::CalicoNetworkPolicy
            }
            ("projectcalico.org" | "crd.projectcalico.org", "GlobalNetworkPolicy") => {
                UnevaluatedKind::CalicoGlobalNetworkPolicy
            }
            ("policy.networking.k8s.io", "ClusterNetworkPolicy") => {
                UnevaluatedKind::ClusterNetworkPolicy
            }
            ("policy.networking.k8s.io", "AdminNetworkPolicy") => {
                UnevaluatedKind::AdminNetworkPolicy
            }
            ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy") => {
                UnevaluatedKind::BaselineAdminNetworkPolicy
            }
            _ => return None,
        })
    }

    /// How the kind is named in messages: its Kubernetes kind, with `Calico` before Calico's
    /// own (whose kinds reuse Kubernetes names).
    pub fn as_str(self) -> &'static str {
        match self {
            UnevaluatedKind::CiliumNetworkPolicy => "CiliumNetworkPolicy",
            UnevaluatedKind::CiliumClusterwideNetworkPolicy => "CiliumClusterwideNetworkPolicy",
            UnevaluatedKind::CalicoNetworkPolicy => "Calico NetworkPolicy",
            UnevaluatedKind::CalicoGlobalNetworkPolicy => "Calico GlobalNetworkPolicy",
            UnevaluatedKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            UnevaluatedKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            UnevaluatedKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
        }
    }

    /// Whether policies of this kind are namespaced (select pods of their namespace only).
    pub fn namespaced(self) -> bool {
        matches!(
            self,
            UnevaluatedKind::CiliumNetworkPolicy | UnevaluatedKind::CalicoNetworkPolicy
        )
    }
}

impl fmt::Display for UnevaluatedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A policy of a kind flowq does not evaluate, reduced to who it applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct UnevaluatedPolicy {
    /// Its kind.
    pub kind: UnevaluatedKind,
    /// Its `apiVersion` as written.
    pub api_version: String,
    /// Its namespace; `None` for a cluster-wide kind.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Who it applies to.
    pub applies_to: AppliesTo,
    /// Whether it governs traffic into the pods it selects.
    pub ingress: bool,
    /// Whether it governs traffic out of the pods it selects.
    pub egress: bool,
}

/// Who a policy flowq does not evaluate applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum AppliesTo {
    /// Pods matched by any of these subjects (label selectors flowq evaluates).
    Subjects(Vec<SubjectSelector>),
    /// Pods matched by a Calico selector expression (and, for a GlobalNetworkPolicy, whose
    /// namespace matches `namespace_selector`).
    Calico {
        /// `spec.selector` as written (absent: `all()`).
        selector: String,
        /// `spec.namespaceSelector` as written (GlobalNetworkPolicy only).
        namespace_selector: Option<String>,
    },
    /// Nodes only (a Cilium `nodeSelector` host policy): never a pod.
    Nodes,
}

/// One subject of a policy written with Kubernetes label selectors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubjectSelector {
    /// Namespaces whose pods it selects; `None`: any namespace (within the policy's reach).
    pub namespaces: Option<LabelSelector>,
    /// Pods it selects; `None`: every pod of the selected namespaces.
    pub pods: Option<LabelSelector>,
    /// Whether `pods` is a Cilium endpoint selector, whose keys may carry a source prefix
    /// (`k8s:`) and name the namespace (`io.kubernetes.pod.namespace`) or its labels
    /// (`io.cilium.k8s.namespace.labels.<key>`).
    pub cilium: bool,
}

/// How surely a policy applies to a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reach", rename_all = "snake_case")]
pub enum Reach {
    /// Its subject selects the pod.
    Selects,
    /// It may select the pod: part of its subject cannot be decided from the snapshot.
    MaySelect {
        /// What could not be decided.
        because: String,
    },
}

/// What flowq knows of the namespace of a pod being matched.
#[derive(Debug, Clone, Copy)]
pub struct NamespaceView<'a> {
    /// The namespace's labels (at least `kubernetes.io/metadata.name`).
    pub labels: &'a BTreeMap<String, String>,
    /// Whether the snapshot holds the Namespace object (otherwise only its name label is known).
    pub known: bool,
}

impl UnevaluatedPolicy {
    /// `namespace/name`, or the name of a cluster-wide policy.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether the policy selects `pod` (whose namespace is `namespace`), may select it, or not
    /// (`None`). hostNetwork pods are never selected: these kinds select pods by their own
    /// network identity, which a hostNetwork pod does not have.
    pub fn reach(&self, pod: &Pod, namespace: NamespaceView<'_>) -> Option<Reach> {
        if pod.host_network {
            return None;
        }
        if let Some(ns) = &self.namespace {
            if *ns != pod.namespace {
                return None;
            }
        }
        match &self.applies_to {
            AppliesTo::Nodes => None,
            AppliesTo::Subjects(subjects) => {
                let mut maybe = None;
                for subject in subjects {
                    match subject.reach(pod, namespace) {
                        Some(Reach::Selects) => return Some(Reach::Selects),
                        Some(m) => maybe = maybe.or(Some(m)),
                        None => {}
                    }
                }
                maybe
            }
            AppliesTo::Calico {
                selector,
                namespace_selector,
            } => calico_reach(selector, namespace_selector.as_deref(), pod, namespace),
        }
    }

    /// Reads the subject and directions of a policy of `kind` from the object (as JSON).
    pub(super) fn from_object(
        kind: UnevaluatedKind,
        api_version: String,
        namespace: Option<String>,
        name: String,
        object: &Value,
    ) -> UnevaluatedPolicy {
        let spec = object.get("spec").unwrap_or(&Value::Null);
        let has = |key: &str| spec.get(key).is_some_and(|v| !v.is_null());
        let (applies_to, ingress, egress) = match kind {
            UnevaluatedKind::CiliumNetworkPolicy
            | UnevaluatedKind::CiliumClusterwideNetworkPolicy => cilium_subject(object),
            UnevaluatedKind::CalicoNetworkPolicy | UnevaluatedKind::CalicoGlobalNetworkPolicy => {
                let text = |key: &str| spec.get(key).and_then(Value::as_str).map(str::to_string);
                let (ingress, egress) = match spec.get("types").and_then(Value::as_array) {
                    Some(types) if !types.is_empty() => {
                        let named = |t: &str| {
                            types
                                .iter()
                                .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(t)))
                        };
                        (named("ingress"), named("egress"))
                    }
                    // Calico's default, as Kubernetes': Ingress, plus Egress with egress rules.
                    _ => (true, has("egress")),
                };
                let applies_to = AppliesTo::Calico {
                    selector: text("selector").unwrap_or_default(),
                    namespace_selector: text("namespaceSelector")
                        .filter(|_| kind == UnevaluatedKind::CalicoGlobalNetworkPolicy),
                };
                (applies_to, ingress, egress)
            }
            UnevaluatedKind::ClusterNetworkPolicy
            | UnevaluatedKind::AdminNetworkPolicy
            | UnevaluatedKind::BaselineAdminNetworkPolicy => {
                let subject = spec.get("subject");
                // An absent selector inside a present subject selects everything.
                let selector = |v: Option<&Value>| {
                    Some(
                        v.and_then(|v| serde_json::from_value::<LabelSelector>(v.clone()).ok())
                            .unwrap_or_default(),
                    )
                };
                let subjects = match subject {
                    Some(s) if s.get("namespaces").is_some() => vec![SubjectSelector {
                        namespaces: selector(s.get("namespaces")),
                        pods: None,
                        cilium: false,
                    }],
                    Some(s) if s.get("pods").is_some() => {
                        let pods = s.get("pods");
                        vec![SubjectSelector {
                            namespaces: selector(pods.and_then(|p| p.get("namespaceSelector"))),
                            pods: selector(pods.and_then(|p| p.get("podSelector"))),
                            cilium: false,
                        }]
                    }
                    // No subject the schema knows: assume it may reach every pod.
                    _ => vec![SubjectSelector::default()],
                };
                either_or_both(AppliesTo::Subjects(subjects), has("ingress"), has("egress"))
            }
        };
        UnevaluatedPolicy {
            kind,
            api_version,
            namespace: namespace.filter(|_| kind.namespaced()),
            name,
            applies_to,
            ingress,
            egress,
        }
    }
}

/// A subject with its directions; a policy naming neither direction is taken to govern both.
fn either_or_both(applies_to: AppliesTo, ingress: bool, egress: bool) -> (AppliesTo, bool, bool) {
    if ingress || egress {
        (applies_to, ingress, egress)
    } else {
        (applies_to, true, true)
    }
}

/// The subjects and directions of a Cilium policy: `spec` (one rule) and/or `specs` (several).
fn cilium_subject(object: &Value) -> (AppliesTo, bool, bool) {
    let rules: Vec<&Value> = object
        .get("spec")
        .into_iter()
        .chain(
            object
                .get("specs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .collect();
    let mut subjects = Vec::new();
    let (mut ingress, mut egress, mut nodes) = (false, false, false);
    for rule in rules {
        let has = |key: &str| rule.get(key).is_some_and(|v| !v.is_null());
        ingress |= has("ingress") || has("ingressDeny");
        egress |= has("egress") || has("egressDeny");
        match rule.get("endpointSelector") {
            Some(sel) => subjects.push(SubjectSelector {
                namespaces: None,
                pods: Some(serde_json::from_value(sel.clone()).unwrap_or_default()),
                cilium: true,
            }),
            None => nodes |= has("nodeSelector"),
        }
    }
    let applies_to = if subjects.is_empty() && nodes {
        AppliesTo::Nodes
    } else if subjects.is_empty() {
        // Neither selector: what it selects cannot be told, so every pod may be.
        AppliesTo::Subjects(vec![SubjectSelector::default()])
    } else {
        AppliesTo::Subjects(subjects)
    };
    either_or_both(applies_to, ingress, egress)
}

/// The label Cilium gives an endpoint for its namespace.
const CILIUM_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The prefix under which Cilium gives an endpoint its namespace's labels.
const CILIUM_NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";

impl SubjectSelector {
    fn reach(&self, pod: &Pod, namespace: NamespaceView<'_>) -> Option<Reach> {
        let mut undecided: Vec<String> = Vec::new();
        if let Some(ns) = &self.namespaces {
            // Without the Namespace object only its name label is known: a selector on any
            // other label may or may not select it.
            if !namespace.known && uses_labels_beyond_name(ns) {
                undecided.push(format!(
                    "namespace {} has no Namespace object in the snapshot",
                    pod.namespace
                ));
            } else if !ns.matches(namespace.labels) {
                return None;
            }
        }
        if let Some(pods) = &self.pods {
            if self.cilium {
                let (known, unknown) = cilium_view(pods);
                if !namespace.known && known_uses_namespace_labels(&known) {
                    undecided.push(format!(
                        "namespace {} has no Namespace object in the snapshot",
                        pod.namespace
                    ));
                } else if !known.matches(&cilium_labels(pod, namespace)) {
                    return None;
                }
                if !unknown.is_empty() {
                    undecided.push(format!(
                        "its endpointSelector uses {}, which the snapshot does not give",
                        unknown.join(", ")
                    ));
                }
            } else if !pods.matches(&pod.labels) {
                return None;
            }
        }
        if undecided.is_empty() {
            Some(Reach::Selects)
        } else {
            Some(Reach::MaySelect {
                because: undecided.join("; "),
            })
        }
    }
}

fn uses_labels_beyond_name(selector: &LabelSelector) -> bool {
    let name = "kubernetes.io/metadata.name";
    selector
        .match_labels
        .iter()
        .flatten()
        .any(|(k, _)| k != name)
        || selector
            .match_expressions
            .iter()
            .flatten()
            .any(|r| r.key != name)
}

fn known_uses_namespace_labels(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .chain(selector.match_expressions.iter().flatten().map(|r| &r.key))
        .any(|k| k.starts_with(CILIUM_NAMESPACE_LABELS))
}

/// A Cilium key without its source prefix (`k8s:app` → `app`); `None` when the source is
/// not Kubernetes (`reserved:host`, `cidr:…`) or the key names what a snapshot does not
/// hold (service account, cluster name).
fn cilium_key(key: &str) -> Option<&str> {
    let key = match key.split_once(':') {
        Some(("k8s" | "any", rest)) => rest,
        Some((source, _)) if !source.contains(['.', '/']) => return None,
        _ => key,
    };
    if key.starts_with("io.cilium.k8s.policy.") {
        return None;
    }
    Some(key)
}

/// A Cilium endpoint selector split into what the snapshot can decide (keys stripped of their
/// source prefix) and the keys it cannot.
fn cilium_view(selector: &LabelSelector) -> (LabelSelector, Vec<String>) {
    let mut unknown = Vec::new();
    let match_labels = selector.match_labels.as_ref().map(|labels| {
        labels
            .iter()
            .filter_map(|(k, v)| match cilium_key(k) {
                Some(key) => Some((key.to_string(), v.clone())),
                None => {
                    unknown.push(k.clone());
                    None
                }
            })
            .collect()
    });
    let match_expressions = selector.match_expressions.as_ref().map(|exprs| {
        exprs
            .iter()
            .filter_map(|r| match cilium_key(&r.key) {
                Some(key) => Some(Requirement {
                    key: key.to_string(),
                    ..r.clone()
                }),
                None => {
                    unknown.push(r.key.clone());
                    None
                }
            })
            .collect()
    });
    (
        LabelSelector {
            match_labels,
            match_expressions,
        },
        unknown,
    )
}

/// The labels Cilium gives a pod's endpoint: its own, its namespace's name, and its
/// namespace's labels under [`CILIUM_NAMESPACE_LABELS`].
fn cilium_labels(pod: &Pod, namespace: NamespaceView<'_>) -> BTreeMap<String, String> {
    let mut labels = (*pod.labels).clone();
    labels.insert(CILIUM_NAMESPACE.to_string(), pod.namespace.clone());
    for (k, v) in namespace.labels {
        labels.insert(format!("{CILIUM_NAMESPACE_LABELS}{k}"), v.clone());
    }
    labels
}

/// Whether a Calico policy's selectors select the pod.
fn calico_reach(
    selector: &str,
    namespace_selector: Option<&str>,
    pod: &Pod,
    namespace: NamespaceView<'_>,
) -> Option<Reach> {
    let mut undecided = Vec::new();
    if let Some(ns_selector) = namespace_selector.filter(|s| !s.trim().is_empty()) {
        match CalicoSelector::parse(ns_selector) {
            Ok(_) if !namespace.known => undecided.push(format!(
                "namespace {} has no Namespace object in the snapshot",
                pod.namespace
            )),
            Ok(parsed) => {
                if !parsed.matches(namespace.labels) {
                    return None;
                }
            }
            Err(e) => undecided.push(format!("its namespaceSelector {ns_selector:?} {e}")),
        }
    }
    match CalicoSelector::parse(selector) {
        Ok(parsed) => {
            // Calico gives a pod's endpoint its namespace under `projectcalico.org/namespace`.
            let mut labels = (*pod.labels).clone();
            labels.insert(
                "projectcalico.org/namespace".to_string(),
                pod.namespace.clone(),
            );
            if !parsed.matches(&labels) {
                return None;
            }
        }
        Err(e) => undecided.push(format!("its selector {selector:?} {e}")),
    }
    if undecided.is_empty() {
        Some(Reach::Selects)
    } else {
        Some(Reach::MaySelect {
            because: undecided.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn pod(namespace: &str, labels: &[(&str, &str)]) -> Pod {
        Pod {
            namespace: namespace.to_string(),
            name: "p".to_string(),
            labels: Arc::new(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn ns_labels(name: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.insert("kubernetes.io/metadata.name".into(), name.into());
        labels
    }

    fn policy(api: &str, kind: &str, ns: Option<&str>, body: Value) -> UnevaluatedPolicy {
        UnevaluatedPolicy::from_object(
            UnevaluatedKind::recognise(api, kind).unwrap(),
            api.to_string(),
            ns.map(str::to_string),
            "x".to_string(),
            &body,
        )
    }

    #[test]
    fn kinds_are_recognised_by_group_and_kind_only() {
        use UnevaluatedKind as K;
        let cases = [
            (
                "cilium.io/v2",
                "CiliumNetworkPolicy",
                Some(K::CiliumNetworkPolicy),
            ),
            (
                "cilium.io/v2",
                "CiliumClusterwideNetworkPolicy",
                Some(K::CiliumClusterwideNetworkPolicy),
            ),
            (
                "projectcalico.org/v3",
                "NetworkPolicy",
                Some(K::CalicoNetworkPolicy),
            ),
            (
                "crd.projectcalico.org/v1",
                "NetworkPolicy",
                Some(K::CalicoNetworkPolicy),
            ),
            (
                "crd.projectcalico.org/v1",
                "GlobalNetworkPolicy",
                Some(K::CalicoGlobalNetworkPolicy),
            ),
            (
                "policy.networking.k8s.io/v1alpha2",
                "ClusterNetworkPolicy",
                Some(K::ClusterNetworkPolicy),
            ),
            (
                "policy.networking.k8s.io/v1alpha1",
                "AdminNetworkPolicy",
                Some(K::AdminNetworkPolicy),
            ),
            (
                "policy.networking.k8s.io/v1alpha1",
                "BaselineAdminNetworkPolicy",
                Some(K::BaselineAdminNetworkPolicy),
            ),
            ("networking.k8s.io/v1", "NetworkPolicy", None),
            ("crd.antrea.io/v1beta1", "ClusterNetworkPolicy", None),
            ("v1", "Pod", None),
        ];
        for (api, kind, want) in cases {
            assert_eq!(UnevaluatedKind::recognise(api, kind), want, "{api} {kind}");
        }
    }

    #[test]
    fn a_cilium_endpoint_selector_is_matched_with_its_prefixes_and_namespace_keys() {
        let p = policy(
            "cilium.io/v2",
            "CiliumClusterwideNetworkPolicy",
            None,
            json!({"spec": {"endpointSelector": {"matchLabels": {
                "k8s:app": "web", "k8s:io.kubernetes.pod.namespace": "shop"}},
                "egress": [{}]}}),
        );
        assert!(!p.ingress && p.egress);
        let labels = ns_labels("shop", &[]);
        let view = NamespaceView {
            labels: &labels,
            known: true,
        };
        assert_eq!(
            p.reach(&pod("shop", &[("app", "web")]), view),
            Some(Reach::Selects)
        );
        let other = ns_labels("other", &[]);
        let view_other = NamespaceView {
            labels: &other,
            known: true,
        };
        assert_eq!(p.reach(&pod("other", &[("app", "web")]), view_other), None);
        assert_eq!(p.reach(&pod("shop", &[("app", "db")]), view), None);
    }

    #[test]
    fn a_cilium_selector_on_a_service_account_may_select() {
        let p = policy(
            "cilium.io/v2",
            "CiliumNetworkPolicy",
            Some("shop"),
            json!({"specs": [{"endpointSelector": {"matchLabels": {
                "io.cilium.k8s.policy.serviceaccount": "web"}}, "ingressDeny": [{}]}]}),
        );
        let labels = ns_labels("shop", &[]);
        let view = NamespaceView {
            labels: &labels,
            known: true,
        };
        let reach = p.reach(&pod("shop", &[]), view).unwrap();
        assert!(
            matches!(&reach, Reach::MaySelect { because } if because.contains("serviceaccount")),
            "{reach:?}"
        );
        assert!(p.ingress && !p.egress);
    }

    #[test]
    fn a_cilium_host_policy_selects_no_pod() {
        let p = policy(
            "cilium.io/v2",
            "CiliumClusterwideNetworkPolicy",
            None,
            json!({"spec": {"nodeSelector": {}, "ingress": [{}]}}),
        );
        let labels = ns_labels("shop", &[]);
        let view = NamespaceView {
            labels: &labels,
            known: true,
        };
        assert_eq!(p.reach(&pod("shop", &[]), view), None);
    }

    #[test]
    fn admin_network_policy_subjects_select_by_namespace_or_pod() {
        let by_ns = policy(
            "policy.networking.k8s.io/v1alpha1",
            "AdminNetworkPolicy",
            None,
            json!({"spec": {"priority": 10, "subject": {"namespaces": {"matchLabels": {"env": "prod"}}},
                   "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}}),
        );
        let prod = ns_labels("shop", &[("env", "prod")]);
        let dev = ns_labels("lab", &[("env", "dev")]);
        let known = |labels| NamespaceView {
            labels,
            known: true,
        };
        assert_eq!(
            by_ns.reach(&pod("shop", &[]), known(&prod)),
            Some(Reach::Selects)
        );
        assert_eq!(by_ns.reach(&pod("lab", &[]), known(&dev)), None);
        let unknown_ns = ns_labels("shop", &[]);
        let reach = by_ns.reach(
            &pod("shop", &[]),
            NamespaceView {
                labels: &unknown_ns,
                known: false,
            },
        );
        assert!(
            matches!(&reach, Some(Reach::MaySelect { because }) if because.contains("no Namespace object")),
            "{reach:?}"
        );

        let by_pod = policy(
            "policy.networking.k8s.io/v1alpha2",
            "ClusterNetworkPolicy",
            None,
            json!({"spec": {"tier": "Admin", "priority": 5, "subject": {"pods": {
                "namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "db"}}}},
                "egress": [{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]}}),
        );
        assert!(by_pod.egress && !by_pod.ingress);
        assert_eq!(
            by_pod.reach(&pod("lab", &[("app", "db")]), known(&dev)),
            Some(Reach::Selects)
        );
        assert_eq!(
            by_pod.reach(&pod("lab", &[("app", "web")]), known(&dev)),
            None
        );
    }

    #[test]
    fn calico_policies_match_their_selector_expression_in_their_reach() {
        let np = policy(
            "projectcalico.org/v3",
            "NetworkPolicy",
            Some("shop"),
            json!({"spec": {"selector": "app == 'web'", "types": ["Egress"], "egress": []}}),
        );
        assert!(np.egress && !np.ingress);
        let shop = ns_labels("shop", &[]);
        let view = NamespaceView {
            labels: &shop,
            known: true,
        };
        assert_eq!(
            np.reach(&pod("shop", &[("app", "web")]), view),
            Some(Reach::Selects)
        );
        assert_eq!(np.reach(&pod("shop", &[("app", "db")]), view), None);
        assert_eq!(np.reach(&pod("lab", &[("app", "web")]), view), None);

        let gnp = policy(
            "crd.projectcalico.org/v1",
            "GlobalNetworkPolicy",
            None,
            json!({"spec": {"namespaceSelector": "has(team)", "selector": "weird(syntax"}}),
        );
        assert!(gnp.ingress && !gnp.egress, "defaulted types");
        let team = ns_labels("shop", &[("team", "a")]);
        let reach = gnp
            .reach(
                &pod("shop", &[]),
                NamespaceView {
                    labels: &team,
                    known: true,
                },
            )
            .unwrap();
        assert!(
            matches!(&reach, Reach::MaySelect { because } if because.contains("weird(syntax")),
            "{reach:?}"
        );
        assert_eq!(gnp.reach(&pod("shop", &[]), view), None, "no team label");
    }

    #[test]
    fn host_network_pods_are_never_selected() {
        let p = policy(
            "cilium.io/v2",
            "CiliumClusterwideNetworkPolicy",
            None,
            json!({"spec": {"endpointSelector": {}, "ingress": [{}]}}),
        );
        let mut hn = pod("kube-system", &[]);
        hn.host_network = true;
        let labels = ns_labels("kube-system", &[]);
        let view = NamespaceView {
            labels: &labels,
            known: true,
        };
        assert_eq!(p.reach(&hn, view), None);
    }
}
