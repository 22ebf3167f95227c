//! NetworkPolicy manifests proposed as a change (a file or a folder of YAML or JSON, `kubectl
//! apply`-style), and the snapshots they derive: the snapshot's policies replaced by the
//! manifests, or the manifests added to them (one with the same namespace and name replacing
//! the snapshot's). Every bad manifest is reported with its file and object while the others are
//! still used; objects of other kinds are counted and left out. Nothing here evaluates policies.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::model::{NetworkPolicy, NetworkPolicySpec, PolicyRule};
use super::selector::{LabelSelector, Operator};
use super::{Snapshot, SnapshotSet};
pub use crate::error::ManifestProblem;
use crate::error::{Error, Result};
use crate::input::InputReader;

/// NetworkPolicies read from manifests, in the order read, with what could not be used.
#[derive(Debug, Clone, Default)]
pub struct PolicyManifests {
    /// The policies, each once by namespace/name (a later manifest of the same name replaces
    /// an earlier one, which is reported as a problem).
    pub policies: Vec<NetworkPolicy>,
    /// Manifests or objects that could not be used.
    pub problems: Vec<ManifestProblem>,
    /// Objects of other kinds, by kind (left out).
    pub ignored: BTreeMap<String, u64>,
}

/// How manifests change a snapshot's NetworkPolicies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChange {
    /// The snapshot's policies are dropped and the manifests' used instead.
    Replace,
    /// The manifests' policies are added; one with the namespace and name of a snapshot
    /// policy replaces it.
    Add,
}

impl PolicyManifests {
    /// Reads a file (YAML, multi-document YAML, JSON object, List or array; gzip or not) or
    /// every `.yaml`/`.yml`/`.json` file under a folder. A path that does not exist, or a
    /// folder without manifests, is an error; a bad file or object is a problem and the rest
    /// is read.
    pub fn load(path: &Path) -> Result<PolicyManifests> {
        let mut manifests = PolicyManifests::default();
        manifests.add_path(path)?;
        Ok(manifests)
    }

    /// Reads `path` as [`PolicyManifests::load`] does, adding to what was read before.
    pub fn add_path(&mut self, path: &Path) -> Result<()> {
        let problem = |detail: &str| Error::Manifest(problem(path, None, detail.to_string()));
        if !path.exists() {
            return Err(problem("no such file or folder"));
        }
        if path.is_dir() {
            let mut files = Vec::new();
            super::load::collect_manifest_files(path, &mut files)
                .map_err(|e| problem(&format!("cannot list folder: {e}")))?;
            if files.is_empty() {
                return Err(problem("folder holds no .json, .yaml or .yml file"));
            }
            for file in files {
                self.add_file(&file);
            }
        } else {
            self.add_file(path);
        }
        Ok(())
    }

    fn add_file(&mut self, path: &Path) {
        let name = path.to_string_lossy().into_owned();
        let mut text = String::new();
        let read = InputReader::open(&name)
            .map_err(|e| e.to_string())
            .and_then(|mut r| {
                r.read_to_string(&mut text)
                    .map_err(|e| format!("cannot read as UTF-8 text: {e}"))
            });
        if let Err(detail) = read {
            self.problems.push(problem(path, None, detail));
            return;
        }
        self.add_text(&text, path);
    }

    /// Reads the manifests of one JSON or YAML text; `path` names it in problems.
    pub fn add_text(&mut self, text: &str, path: &Path) {
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            match serde_json::from_str::<Value>(trimmed) {
                Ok(value) => self.add_value(value, path, None, 0),
                Err(e) => self
                    .problems
                    .push(problem(path, None, format!("invalid JSON: {e}"))),
            }
            return;
        }
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(trimmed).enumerate() {
            let document = format!("document {}", i + 1);
            match Value::deserialize(doc) {
                Ok(Value::Null) => {}
                Ok(value) => self.add_value(value, path, Some(&document), 0),
                Err(e) => {
                    // A YAML syntax error ends the stream: the documents after it are unread.
                    self.problems.push(problem(
                        path,
                        Some(document),
                        format!("invalid YAML (this and later documents not read): {e}"),
                    ));
                    return;
                }
            }
        }
    }

    fn add_value(&mut self, value: Value, path: &Path, document: Option<&str>, depth: usize) {
        if depth > 8 {
            self.problems.push(problem(
                path,
                document.map(str::to_string),
                "Lists nested more than 8 levels deep".to_string(),
            ));
            return;
        }
        match value {
            Value::Array(items) => items
                .into_iter()
                .for_each(|item| self.add_value(item, path, document, depth + 1)),
            Value::Object(mut object) => {
                let kind = object
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if kind.ends_with("List") {
                    if let Some(Value::Array(items)) = object.remove("items") {
                        items
                            .into_iter()
                            .for_each(|item| self.add_value(item, path, document, depth + 1));
                        return;
                    }
                }
                if kind == "NetworkPolicy" {
                    self.add_policy(Value::Object(object), path, document);
                } else if kind.is_empty() {
                    self.problems.push(problem(
                        path,
                        document.map(str::to_string),
                        "expected an object with \"kind\", found none".to_string(),
                    ));
                } else {
                    *self.ignored.entry(kind).or_default() += 1;
                }
            }
            other => self.problems.push(problem(
                path,
                document.map(str::to_string),
                format!("expected a Kubernetes object, found {}", json_type(&other)),
            )),
        }
    }

    fn add_policy(&mut self, value: Value, path: &Path, document: Option<&str>) {
        let meta = value.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_string();
        let object = if name.is_empty() {
            format!(
                "NetworkPolicy{}",
                document.map(|d| format!(" ({d})")).unwrap_or_default()
            )
        } else {
            format!("NetworkPolicy {namespace}/{name}")
        };
        let fail = |detail: String| problem(path, Some(object.clone()), detail);
        if name.is_empty() {
            self.problems
                .push(fail("expected metadata.name, found none".to_string()));
            return;
        }
        if let Some(api) = value.get("apiVersion").and_then(Value::as_str) {
            if api != "networking.k8s.io/v1" {
                self.problems.push(fail(format!(
                    "expected apiVersion networking.k8s.io/v1, found {api:?}"
                )));
                return;
            }
        }
        let spec_value = value.get("spec").cloned().unwrap_or(Value::Null);
        if !spec_value.is_object() {
            self.problems
                .push(fail("expected a spec object, found none".to_string()));
            return;
        }
        let spec: NetworkPolicySpec = match serde_json::from_value(spec_value) {
            Ok(spec) => spec,
            Err(e) => {
                self.problems.push(fail(format!("invalid spec: {e}")));
                return;
            }
        };
        if let Err(detail) = validate(&spec) {
            self.problems.push(fail(detail));
            return;
        }
        if let Some(earlier) = self
            .policies
            .iter_mut()
            .find(|p| p.namespace == namespace && p.name == name)
        {
            self.problems.push(fail(
                "given twice: the later manifest replaces the earlier".to_string(),
            ));
            earlier.spec = spec;
            return;
        }
        self.policies.push(NetworkPolicy {
            namespace,
            name,
            spec,
            // A proposed policy does not exist yet.
            created: None,
        });
    }
}

fn problem(path: &Path, object: Option<String>, detail: String) -> ManifestProblem {
    ManifestProblem {
        path: path.to_path_buf(),
        object,
        detail,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What the API server would refuse and the evaluator cannot honour: the first problem found.
fn validate(spec: &NetworkPolicySpec) -> std::result::Result<(), String> {
    if spec.pod_selector.is_none() {
        return Err("expected spec.podSelector ({} selects every pod), found none".to_string());
    }
    for t in spec.policy_types.iter().flatten() {
        if t != "Ingress" && t != "Egress" {
            return Err(format!(
                "expected spec.policyTypes of Ingress or Egress, found {t:?}"
            ));
        }
    }
    validate_selector("spec.podSelector", spec.pod_selector.as_ref())?;
    for (field, rules) in [("ingress", &spec.ingress), ("egress", &spec.egress)] {
        for (i, rule) in rules.iter().flatten().enumerate() {
            validate_rule(&format!("spec.{field}[{i}]"), rule)?;
        }
    }
    Ok(())
}

fn validate_rule(at: &str, rule: &PolicyRule) -> std::result::Result<(), String> {
    for (j, peer) in rule.peers.iter().flatten().enumerate() {
        let at = format!("{at} peer {j}");
        let selectors = peer.pod_selector.is_some() || peer.namespace_selector.is_some();
        match (&peer.ip_block, selectors) {
            (Some(_), true) => {
                return Err(format!(
                    "{at}: expected ipBlock alone or selectors, found both"
                ))
            }
            (None, false) => {
                return Err(format!(
                    "{at}: expected podSelector, namespaceSelector or ipBlock, found none"
                ))
            }
            (Some(block), false) => block
                .networks()
                .map(|_| ())
                .map_err(|e| format!("{at}: {e}"))?,
            (None, true) => {
                validate_selector(&format!("{at} podSelector"), peer.pod_selector.as_ref())?;
                validate_selector(
                    &format!("{at} namespaceSelector"),
                    peer.namespace_selector.as_ref(),
                )?;
            }
        }
    }
    for (j, port) in rule.ports.iter().flatten().enumerate() {
        let at = format!("{at} ports[{j}]");
        if let Some(p) = port.protocol.as_deref() {
            if !matches!(p, "TCP" | "UDP" | "SCTP") {
                return Err(format!(
                    "{at}: expected protocol TCP, UDP or SCTP, found {p:?}"
                ));
            }
        }
        let number = match &port.port {
            Some(super::model::IntOrString::Int(n)) => {
                if !(1..=65535).contains(n) {
                    return Err(format!("{at}: expected a port from 1 to 65535, found {n}"));
                }
                Some(*n)
            }
            Some(super::model::IntOrString::String(name)) => {
                if name.trim().is_empty() {
                    return Err(format!("{at}: expected a port number or name, found \"\""));
                }
                name.parse::<i64>().ok()
            }
            None => None,
        };
        if let Some(end) = port.end_port {
            match number {
                Some(start) if end >= start && end <= 65535 => {}
                Some(start) => {
                    return Err(format!(
                        "{at}: expected endPort from port {start} to 65535, found {end}"
                    ))
                }
                None => {
                    return Err(format!(
                        "{at}: endPort needs a numeric port, found {:?}",
                        port.port
                    ))
                }
            }
        }
    }
    Ok(())
}

fn validate_selector(
    at: &str,
    selector: Option<&LabelSelector>,
) -> std::result::Result<(), String> {
    for r in selector
        .and_then(|s| s.match_expressions.as_ref())
        .into_iter()
        .flatten()
    {
        match (&r.operator, r.values.is_empty()) {
            (Operator::Unknown, _) => {
                return Err(format!(
                    "{at}: expected operator In, NotIn, Exists or DoesNotExist for key {:?}",
                    r.key
                ))
            }
            (Operator::In | Operator::NotIn, true) => {
                return Err(format!(
                    "{at}: {} {:?} needs values, found none",
                    op(&r.operator),
                    r.key
                ))
            }
            (Operator::Exists | Operator::DoesNotExist, false) => {
                return Err(format!(
                    "{at}: {} {:?} takes no values, found some",
                    op(&r.operator),
                    r.key
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn op(operator: &Operator) -> &'static str {
    match operator {
        Operator::In => "In",
        Operator::NotIn => "NotIn",
        Operator::Exists => "Exists",
        Operator::DoesNotExist => "DoesNotExist",
        Operator::Unknown => "an unknown operator",
    }
}

/// A change of NetworkPolicies: the snapshot's replaced by some (when `replace` is given), then
/// others added (replacing those of the same namespace and name).
#[derive(Debug, Clone, Default)]
pub struct PolicyEdit {
    /// The policies used instead of the snapshot's, when given.
    pub replace: Option<Vec<NetworkPolicy>>,
    /// Policies added to (or replacing by namespace/name) the snapshot's or `replace`'s.
    pub add: Vec<NetworkPolicy>,
}

impl PolicyEdit {
    /// The set with its policies changed.
    pub fn apply(&self, set: &SnapshotSet) -> SnapshotSet {
        let replaced;
        let base = match &self.replace {
            Some(policies) => {
                replaced = set.with_policies(policies, PolicyChange::Replace);
                &replaced
            }
            None => set,
        };
        base.with_policies(&self.add, PolicyChange::Add)
    }
}

impl Snapshot {
    /// This snapshot with its NetworkPolicies changed by `policies` (everything else shared
    /// by value). A policy in a namespace the snapshot does not have adds that namespace with
    /// only its `kubernetes.io/metadata.name` label, as loading does.
    pub fn with_policies(&self, policies: &[NetworkPolicy], change: PolicyChange) -> Snapshot {
        let mut derived = self.clone();
        match change {
            PolicyChange::Replace => derived.policies = policies.to_vec(),
            PolicyChange::Add => {
                for p in policies {
                    match derived
                        .policies
                        .iter_mut()
                        .find(|q| q.namespace == p.namespace && q.name == p.name)
                    {
                        Some(same) => *same = p.clone(),
                        None => derived.policies.push(p.clone()),
                    }
                }
            }
        }
        for p in policies {
            if !derived.namespaces.contains_key(&p.namespace) {
                derived.warnings.push(format!(
                    "namespace {} has policies but no Namespace object: its labels other than \
                     kubernetes.io/metadata.name are unknown",
                    p.namespace
                ));
                let labels = BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    p.namespace.clone(),
                )]);
                derived.namespaces.insert(
                    p.namespace.clone(),
                    super::model::Namespace {
                        name: p.namespace.clone(),
                        labels,
                    },
                );
            }
        }
        derived
    }
}

impl SnapshotSet {
    /// The newest snapshot alone, shared (not copied).
    pub fn newest_only(&self) -> SnapshotSet {
        SnapshotSet::from_shared(self.snapshots().last().cloned().into_iter().collect())
    }

    /// Every snapshot of the set with its NetworkPolicies changed by `policies` (see
    /// [`Snapshot::with_policies`]); each keeps the time it was taken.
    pub fn with_policies(&self, policies: &[NetworkPolicy], change: PolicyChange) -> SnapshotSet {
        SnapshotSet::new(
            self.snapshots()
                .iter()
                .map(|s| s.with_policies(policies, change))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = r#"{"kind":"List","items":[
      {"kind":"Namespace","metadata":{"name":"shop"}},
      {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},
       "status":{"phase":"Running","podIP":"10.1.0.5"}},
      {"kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"shop"},
       "spec":{"podSelector":{},"policyTypes":["Ingress"]}},
      {"kind":"NetworkPolicy","metadata":{"name":"keep","namespace":"shop"},
       "spec":{"podSelector":{},"policyTypes":["Egress"]}}]}"#;

    fn read(text: &str) -> PolicyManifests {
        let mut m = PolicyManifests::default();
        m.add_text(text, Path::new("change.yaml"));
        m
    }

    #[test]
    fn bad_manifests_are_named_by_file_and_object_and_the_others_still_used() {
        let m = read(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: good, namespace: shop}\n\
             spec: {podSelector: {}, ingress: [{}]}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad-cidr, namespace: shop}\n\
             spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}\n---\n\
             kind: NetworkPolicy\nmetadata: {name: bad-port, namespace: shop}\n\
             spec: {podSelector: {}, egress: [{ports: [{port: 70000}]}]}\n---\n\
             kind: NetworkPolicy\nmetadata: {name: no-selector}\nspec: {ingress: []}\n---\n\
             kind: Deployment\nmetadata: {name: web}\n",
        );
        assert_eq!(m.policies.len(), 1);
        assert_eq!(m.policies[0].name, "good");
        assert_eq!(m.ignored.get("Deployment"), Some(&1));
        let texts: Vec<String> = m.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(
            texts[0].starts_with(
                "change.yaml: NetworkPolicy shop/bad-cidr: spec.ingress[0] peer 0: ipBlock CIDR"
            ),
            "{}",
            texts[0]
        );
        assert!(texts[1].contains("NetworkPolicy shop/bad-port: spec.egress[0] ports[0]: expected a port from 1 to 65535, found 70000"), "{}", texts[1]);
        assert!(
            texts[2].contains("NetworkPolicy default/no-selector: expected spec.podSelector"),
            "{}",
            texts[2]
        );
    }

    #[test]
    fn a_yaml_syntax_error_is_reported_with_its_document() {
        let m = read(
            "kind: NetworkPolicy\nmetadata: {name: a}\nspec: {podSelector: {}}\n---\nkind: [unclosed\n",
        );
        assert_eq!(m.policies.len(), 1);
        assert_eq!(m.problems.len(), 1);
        assert_eq!(m.problems[0].object.as_deref(), Some("document 2"));
        assert!(
            m.problems[0].detail.starts_with("invalid YAML"),
            "{}",
            m.problems[0]
        );
    }

    #[test]
    fn json_lists_and_wrong_api_versions() {
        let m = read(
            r#"{"kind":"List","items":[
              {"kind":"NetworkPolicy","apiVersion":"networking.k8s.io/v1","metadata":{"name":"a","namespace":"x"},"spec":{"podSelector":{}}},
              {"kind":"NetworkPolicy","apiVersion":"projectcalico.org/v3","metadata":{"name":"b"},"spec":{"selector":"all()"}}]}"#,
        );
        assert_eq!(m.policies.len(), 1);
        assert!(m.problems[0].detail.contains("projectcalico.org/v3"));
    }

    #[test]
    fn replacing_drops_the_snapshots_policies_and_adding_keeps_them() {
        let snapshot = Snapshot::from_text(CLUSTER, "c.json", None).unwrap();
        let m = read(
            "kind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}, ingress: [{}]}\n---\n\
             kind: NetworkPolicy\nmetadata: {name: new, namespace: other}\nspec: {podSelector: {}}\n",
        );
        let replaced = snapshot.with_policies(&m.policies, PolicyChange::Replace);
        let names = |s: &Snapshot| {
            s.policies()
                .iter()
                .map(|p| format!("{}/{}", p.namespace, p.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&replaced), ["shop/deny", "other/new"]);
        let added = snapshot.with_policies(&m.policies, PolicyChange::Add);
        assert_eq!(names(&added), ["shop/deny", "shop/keep", "other/new"]);
        assert_eq!(
            added.policies()[0].spec.ingress.as_ref().map(Vec::len),
            Some(1)
        );
        assert_eq!(
            added.namespaces()["other"].labels["kubernetes.io/metadata.name"],
            "other"
        );
        assert_eq!(snapshot.policies().len(), 2, "the original is unchanged");
        assert!(added.pod("shop", "web-0").is_some());
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let e = PolicyManifests::load(Path::new("/no/such/policies")).unwrap_err();
        assert_eq!(e.to_string(), "/no/such/policies: no such file or folder");
    }
}
