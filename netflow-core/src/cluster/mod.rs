//! Cluster snapshots: what the cluster looked like (namespaces, pods, services, endpoint
//! slices, nodes, network policies) at a point in time, and the identity of an address at the
//! time of a flow.
//!
//! A [`Snapshot`] is one `kubectl get … -o json` dump or folder of manifests; a [`SnapshotSet`]
//! holds several taken at different times and resolves each flow against the one in force at
//! the flow's time.

pub mod calico_selector;
mod index;
mod load;
mod manifests;
pub mod model;
pub mod selector;
pub mod unevaluated;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::flow::{
    Endpoint, Flow, Identity, IdentitySource, NodeIdentity, PodIdentity, ServiceIdentity, Workload,
};
pub use index::{IpIndex, Owner};
pub use manifests::{ManifestProblem, PolicyChange, PolicyEdit, PolicyManifests};
use model::{EndpointSlice, Namespace, NetworkPolicy, Node, Pod, Service, WorkloadObject};
pub use selector::LabelSelector;
pub use unevaluated::{AppliesTo, NamespaceView, Reach, UnevaluatedKind, UnevaluatedPolicy};

/// One cluster snapshot with its IP index.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Where it was loaded from.
    pub source: String,
    /// When it was taken: given with `FILE@TIME`, else the newest timestamp in its objects.
    pub taken_at: Option<DateTime<Utc>>,
    /// Namespaces by name, including ones only referenced by pods (labels then unknown,
    /// see [`Snapshot::namespace_known`]).
    pub(crate) namespaces: BTreeMap<String, Namespace>,
    /// Pods.
    pub(crate) pods: Vec<Pod>,
    /// Services.
    pub(crate) services: Vec<Service>,
    /// EndpointSlices.
    pub(crate) endpoint_slices: Vec<EndpointSlice>,
    /// Nodes.
    pub(crate) nodes: Vec<Node>,
    /// NetworkPolicies.
    pub(crate) policies: Vec<NetworkPolicy>,
    /// Pod CIDRs of the nodes (`spec.podCIDRs`).
    pub(crate) pod_cidrs: Vec<IpNet>,
    /// Policies of kinds flowq recognises but does not evaluate (Cilium, Calico, the Network
    /// Policy API's cluster-wide kinds).
    pub(crate) unevaluated: Vec<UnevaluatedPolicy>,
    /// Workload controllers with their pod templates.
    pub(crate) workloads: Vec<WorkloadObject>,
    /// Problems met while loading (objects skipped, bad addresses, missing namespaces).
    pub warnings: Vec<String>,
    /// Objects of kinds flowq does not use, by kind (never deserialized).
    pub ignored: BTreeMap<String, u64>,
    /// Objects of kinds flowq uses that could not be read, and are left out (each is also a
    /// warning).
    pub skipped: Vec<model::SkippedObject>,
    /// (namespace, kind, name) of a ReplicaSet or Job → its controller (kind, name).
    pub(crate) controllers: HashMap<(String, String, String), (String, String)>,
    declared_namespaces: Vec<String>,
    index: IpIndex,
    host_network_pods: HashMap<String, Vec<usize>>,
    pods_by_name: HashMap<(String, String), usize>,
    /// Identities of the pods, built once (index as in `pods`).
    pod_identities: Vec<Arc<PodIdentity>>,
}

impl Snapshot {
    /// Namespaces by name, including ones only referenced by pods (labels then unknown, see
    /// [`Snapshot::namespace_known`]).
    pub fn namespaces(&self) -> &BTreeMap<String, Namespace> {
        &self.namespaces
    }

    /// The pods.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// The Services.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The EndpointSlices.
    pub fn endpoint_slices(&self) -> &[EndpointSlice] {
        &self.endpoint_slices
    }

    /// The nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The NetworkPolicies.
    pub fn policies(&self) -> &[NetworkPolicy] {
        &self.policies
    }

    /// The nodes' pod CIDRs (`spec.podCIDRs`).
    pub fn pod_cidrs(&self) -> &[IpNet] {
        &self.pod_cidrs
    }

    /// The workload controllers (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job) with
    /// their pod templates.
    pub fn workloads(&self) -> &[WorkloadObject] {
        &self.workloads
    }

    /// The pods of a workload (`kind` as Kubernetes spells it) that are not finished, found
    /// through their owners (a Deployment's through its ReplicaSets).
    pub fn pods_of_workload(&self, namespace: &str, kind: &str, name: &str) -> Vec<&Pod> {
        self.pods
            .iter()
            .filter(|p| p.namespace == namespace)
            .filter(|p| {
                p.ended.is_none() && !matches!(p.phase.as_deref(), Some("Succeeded" | "Failed"))
            })
            .filter(|p| {
                self.workload_of(p)
                    .is_some_and(|w| w.kind == kind && w.name == name)
            })
            .collect()
    }

    /// The workload object (with its pod template) of that kind and name.
    pub fn workload(&self, namespace: &str, kind: &str, name: &str) -> Option<&WorkloadObject> {
        self.workloads
            .iter()
            .find(|w| w.namespace == namespace && w.kind == kind && w.name == name)
    }

    /// The policies of kinds flowq recognises but does not evaluate (CiliumNetworkPolicy,
    /// CiliumClusterwideNetworkPolicy, Calico NetworkPolicy and GlobalNetworkPolicy,
    /// ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy), in load order.
    pub fn unevaluated_policies(&self) -> &[UnevaluatedPolicy] {
        &self.unevaluated
    }

    /// How many policies of each kind flowq does not evaluate the snapshot holds.
    pub fn unevaluated_counts(&self) -> BTreeMap<UnevaluatedKind, usize> {
        let mut counts = BTreeMap::new();
        for p in &self.unevaluated {
            *counts.entry(p.kind).or_default() += 1;
        }
        counts
    }

    /// The policies flowq does not evaluate that select `pod` or may select it (see
    /// [`Reach`]), sorted by kind and name: a verdict for this pod may differ from what its
    /// NetworkPolicies alone decide.
    pub fn unevaluated_for(&self, pod: &Pod) -> Vec<UnevaluatedMatch<'_>> {
        let fallback;
        let labels = match self.namespaces.get(&pod.namespace) {
            Some(ns) => &ns.labels,
            None => {
                fallback = BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    pod.namespace.clone(),
                )]);
                &fallback
            }
        };
        let view = NamespaceView {
            labels,
            known: self.namespace_known(&pod.namespace),
        };
        let mut found: Vec<UnevaluatedMatch<'_>> = self
            .unevaluated
            .iter()
            .filter_map(|policy| {
                policy
                    .reach(pod, view)
                    .map(|reach| UnevaluatedMatch { policy, reach })
            })
            .collect();
        found.sort_by_key(|m| (m.policy.kind, m.policy.id()));
        found
    }

    /// Loads a snapshot from a file (JSON `List`, single object, YAML manifests; gzip or not) or
    /// a folder of manifests.
    pub fn load(path: &Path, taken_at: Option<DateTime<Utc>>) -> Result<Snapshot> {
        if !path.exists() {
            return Err(Error::Snapshot {
                path: path.to_path_buf(),
                detail: "no such file or folder".to_string(),
            });
        }
        let mut loader = load::Loader::default();
        loader.snapshot.source = path.display().to_string();
        loader.load_path(path)?;
        Ok(loader.finish(taken_at))
    }

    /// Builds a snapshot from JSON or YAML text (`name` is used in messages).
    pub fn from_text(text: &str, name: &str, taken_at: Option<DateTime<Utc>>) -> Result<Snapshot> {
        let mut loader = load::Loader::default();
        loader.snapshot.source = name.to_string();
        loader.load_text(text, Path::new(name))?;
        Ok(loader.finish(taken_at))
    }

    fn finish(&mut self) {
        self.declared_namespaces = self.namespaces.keys().cloned().collect();
        let referenced: Vec<String> = self
            .pods
            .iter()
            .map(|p| p.namespace.clone())
            .chain(self.policies.iter().map(|p| p.namespace.clone()))
            .collect();
        for ns in referenced {
            if !self.namespaces.contains_key(&ns) {
                self.warnings.push(format!(
                    "namespace {ns} has pods or policies but no Namespace object: its labels \
                     other than kubernetes.io/metadata.name are unknown"
                ));
                let labels =
                    BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.clone())]);
                self.namespaces
                    .insert(ns.clone(), Namespace { name: ns, labels });
            }
        }
        for p in &self.pods {
            if p.ips.is_empty()
                && !matches!(p.phase.as_deref(), Some("Pending" | "Succeeded" | "Failed"))
            {
                self.warnings.push(format!(
                    "pod {}/{} has no IP in the snapshot",
                    p.namespace, p.name
                ));
            }
        }
        self.index = IpIndex::build(&self.pods, &self.nodes, &self.services);
        self.pod_identities = self
            .pods
            .iter()
            .map(|p| Arc::new(self.pod_identity(p)))
            .collect();
        self.host_network_pods.clear();
        self.pods_by_name.clear();
        for (i, pod) in self.pods.iter().enumerate() {
            self.pods_by_name
                .insert((pod.namespace.clone(), pod.name.clone()), i);
            if let (true, Some(node)) = (pod.host_network, &pod.node_name) {
                self.host_network_pods
                    .entry(node.clone())
                    .or_default()
                    .push(i);
            }
        }
        let mut shared: Vec<String> = self
            .index
            .shared()
            .map(|(ip, owners)| {
                let names: Vec<String> = owners.iter().map(|o| self.describe_owner(*o)).collect();
                format!(
                    "address {ip} is held by {} in the snapshot: flows to or from it are \
                     ambiguous unless their time or the log tells them apart",
                    names.join(" and ")
                )
            })
            .collect();
        shared.sort();
        self.warnings.extend(shared);
    }

    /// Whether the namespace's Namespace object is in the snapshot (else its labels are unknown).
    pub fn namespace_known(&self, name: &str) -> bool {
        self.declared_namespaces.iter().any(|n| n == name)
    }

    /// The IP index.
    pub fn index(&self) -> &IpIndex {
        &self.index
    }

    /// Looks a pod up by namespace and name.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods_by_name
            .get(&(namespace.to_string(), name.to_string()))
            .map(|i| &self.pods[*i])
    }

    /// The workload owning a pod: Deployment (through its ReplicaSet), StatefulSet, DaemonSet,
    /// Job (or CronJob through its Job), or the bare owner.
    pub fn workload_of(&self, pod: &Pod) -> Option<Workload> {
        let (kind, name) = pod.owner.clone()?;
        let parent = self
            .controllers
            .get(&(pod.namespace.clone(), kind.clone(), name.clone()));
        match (kind.as_str(), parent) {
            ("ReplicaSet" | "Job", Some((pk, pn))) => Some(Workload {
                kind: pk.clone(),
                name: pn.clone(),
            }),
            ("ReplicaSet", None) => {
                // Without the ReplicaSet object, `<deployment>-<pod-template-hash>` is how the
                // Deployment controller names it; only trust that when the hash label agrees.
                let hash = pod.labels.get("pod-template-hash");
                match hash.and_then(|h| name.strip_suffix(&format!("-{h}"))) {
                    Some(deployment) if !deployment.is_empty() => Some(Workload {
                        kind: "Deployment".to_string(),
                        name: deployment.to_string(),
                    }),
                    _ => Some(Workload { kind, name }),
                }
            }
            _ => Some(Workload { kind, name }),
        }
    }

    /// The identity of `ip` at `time` according to this snapshot.
    pub fn identify(&self, ip: &IpAddr, time: Option<DateTime<Utc>>) -> Identity {
        let mut owners = self
            .index
            .owners_at(ip, time, &self.pods, &self.nodes, &self.services);
        match (owners.next(), owners.next()) {
            (None, _) => {
                if is_global(ip) && !self.pod_cidrs.iter().any(|c| c.contains(ip)) {
                    Identity::External
                } else {
                    Identity::Unknown
                }
            }
            (Some(owner), None) => self.identity_of_owner(owner, time),
            (Some(first), Some(second)) => Identity::Ambiguous {
                candidates: [first, second]
                    .into_iter()
                    .chain(owners)
                    .map(|o| self.describe_owner(o))
                    .collect(),
            },
        }
    }

    fn identity_of_owner(&self, owner: Owner, time: Option<DateTime<Utc>>) -> Identity {
        match owner {
            Owner::Pod(i) => Identity::Pod(self.pod_identities[i].clone()),
            Owner::Node(i) => {
                let node = &self.nodes[i];
                let host_network_pods = self
                    .host_network_pods
                    .get(&node.name)
                    .into_iter()
                    .flatten()
                    .map(|p| &self.pods[*p])
                    .filter(|p| {
                        time.is_none_or(|t| {
                            p.created.is_none_or(|c| c <= t) && p.ended.is_none_or(|e| t <= e)
                        })
                    })
                    .map(|p| format!("{}/{}", p.namespace, p.name))
                    .collect();
                Identity::Node(NodeIdentity {
                    name: Some(node.name.clone()),
                    host_network_pods,
                })
            }
            Owner::Service(i) => {
                let s = &self.services[i];
                Identity::Service(ServiceIdentity {
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                })
            }
        }
    }

    /// The identity of a pod of this snapshot.
    pub fn pod_identity(&self, pod: &Pod) -> PodIdentity {
        PodIdentity {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            workload: self.workload_of(pod),
            node: pod.node_name.clone(),
            labels: pod.labels.clone(),
        }
    }

    fn describe_owner(&self, owner: Owner) -> String {
        match owner {
            Owner::Pod(i) => format!("pod {}/{}", self.pods[i].namespace, self.pods[i].name),
            Owner::Node(i) => format!("node {}", self.nodes[i].name),
            Owner::Service(i) => format!(
                "service {}/{}",
                self.services[i].namespace, self.services[i].name
            ),
        }
    }

    /// Resolves an endpoint's identity in place: the snapshot wins when it knows the address;
    /// the log's identity stays when it doesn't. An ambiguous address is resolved only when the
    /// log itself names one of the candidate pods.
    pub fn resolve_endpoint(&self, endpoint: &mut Endpoint, time: Option<DateTime<Utc>>) {
        let Some(ip) = endpoint.ip else { return };
        let found = self.identify(&ip, time);
        let resolved = match found {
            Identity::Unknown => return,
            Identity::External if endpoint.identity_source == IdentitySource::Log => return,
            Identity::Ambiguous { candidates } => {
                // The log's own pod name settles it when it is one of the candidates.
                let named = endpoint
                    .identity
                    .pod()
                    .filter(|p| !p.name.is_empty())
                    .filter(|p| candidates.contains(&format!("pod {}/{}", p.namespace, p.name)))
                    .and_then(|p| {
                        self.pods_by_name
                            .get(&(p.namespace.clone(), p.name.clone()))
                    });
                match named {
                    Some(&i) => Identity::Pod(self.pod_identities[i].clone()),
                    None => Identity::Ambiguous { candidates },
                }
            }
            other => other,
        };
        if let Identity::Service(s) = &resolved {
            endpoint.service = Some(s.clone());
        }
        endpoint.identity = resolved;
        endpoint.identity_source = IdentitySource::Snapshot;
    }
}

/// A policy flowq does not evaluate that selects, or may select, a pod.
#[derive(Debug, Clone, PartialEq)]
pub struct UnevaluatedMatch<'a> {
    /// The policy.
    pub policy: &'a UnevaluatedPolicy,
    /// How surely it applies to the pod.
    pub reach: Reach,
}

/// Whether an address is globally routable (not private, loopback, link-local, shared CGNAT,
/// unique-local, multicast or unspecified).
fn is_global(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Several snapshots taken at different times.
#[derive(Debug, Default, Clone)]
pub struct SnapshotSet {
    snapshots: Vec<Arc<Snapshot>>,
}

impl SnapshotSet {
    /// Builds the set; snapshots are ordered by the time they were taken (unknown first).
    pub fn new(snapshots: Vec<Snapshot>) -> SnapshotSet {
        let mut snapshots: Vec<Arc<Snapshot>> = snapshots.into_iter().map(Arc::new).collect();
        snapshots.sort_by_key(|s| s.taken_at);
        SnapshotSet { snapshots }
    }

    /// Builds the set from snapshots already shared; ordered as [`SnapshotSet::new`] orders.
    pub fn from_shared(mut snapshots: Vec<Arc<Snapshot>>) -> SnapshotSet {
        snapshots.sort_by_key(|s| s.taken_at);
        SnapshotSet { snapshots }
    }

    /// Whether the set holds no snapshot.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The snapshots, oldest first (shared: an engine may keep one).
    pub fn snapshots(&self) -> &[Arc<Snapshot>] {
        &self.snapshots
    }

    /// The snapshot in force at `time`: the latest taken at or before it, else the earliest.
    pub fn at(&self, time: Option<DateTime<Utc>>) -> Option<&Snapshot> {
        self.index_at(time).map(|i| &*self.snapshots[i])
    }

    /// The position in [`SnapshotSet::snapshots`] of the snapshot in force at `time`.
    pub fn index_at(&self, time: Option<DateTime<Utc>>) -> Option<usize> {
        if self.snapshots.is_empty() {
            return None;
        }
        let Some(t) = time else {
            return Some(self.snapshots.len() - 1);
        };
        Some(
            self.snapshots
                .iter()
                .rposition(|s| s.taken_at.is_some_and(|taken| taken <= t))
                .unwrap_or(0),
        )
    }

    /// Resolves both endpoints of a flow against the snapshot in force at its time.
    pub fn enrich(&self, flow: &mut Flow) {
        if let Some(snapshot) = self.at(flow.time) {
            snapshot.resolve_endpoint(&mut flow.src, flow.time);
            snapshot.resolve_endpoint(&mut flow.dst, flow.time);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"{
      "apiVersion": "v1", "kind": "List", "items": [
        {"kind": "Namespace", "metadata": {"name": "vamp", "labels": {"role": "core"}}},
        {"kind": "Pod", "metadata": {"name": "es-0", "namespace": "vamp", "labels": {"app": "es"},
           "creationTimestamp": "2026-11-20T10:00:00Z",
           "ownerReferences": [{"kind": "StatefulSet", "name": "es", "controller": true}]},
         "spec": {"nodeName": "n1", "containers": [{"env": [{"name": "PASSWORD", "value": "hunter2"}],
           "ports": [{"containerPort": 9200, "name": "http"}]}]},
         "status": {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}]}},
        {"kind": "Pod", "metadata": {"name": "web-7d4b9c-abcde", "namespace": "shop",
           "labels": {"pod-template-hash": "7d4b9c"},
           "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d4b9c", "controller": true}]},
         "spec": {"nodeName": "n1"}, "status": {"phase": "Running", "podIP": "10.1.0.6"}},
        {"kind": "Pod", "metadata": {"name": "kube-proxy-x", "namespace": "kube-system"},
         "spec": {"nodeName": "n1", "hostNetwork": true}, "status": {"phase": "Running", "podIP": "192.168.0.10"}},
        {"kind": "Node", "metadata": {"name": "n1", "creationTimestamp": "2026-11-01T00:00:00Z"},
         "spec": {"podCIDR": "10.1.0.0/24"},
         "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}, {"type": "Hostname", "address": "n1"}]}},
        {"kind": "Service", "metadata": {"name": "es", "namespace": "vamp"},
         "spec": {"clusterIP": "10.96.0.20", "selector": {"app": "es"}, "ports": [{"port": 80, "targetPort": "http"}]}},
        {"kind": "Secret", "metadata": {"name": "s", "namespace": "vamp"}, "data": {"password": "aHVudGVyMg=="}}
      ]}"#;

    fn snapshot() -> Snapshot {
        Snapshot::from_text(LIST, "list.json", None).unwrap()
    }

    #[test]
    fn a_kubectl_list_loads_every_kind_it_needs() {
        let s = snapshot();
        assert_eq!(s.pods.len(), 3);
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(s.services.len(), 1);
        assert_eq!(s.ignored.get("Secret"), Some(&1));
        assert_eq!(s.taken_at, Some("2026-11-20T10:00:00Z".parse().unwrap()));
        assert_eq!(s.pods[0].ips.len(), 2);
        assert!(s.namespace_known("vamp"));
        assert!(
            !s.namespace_known("shop"),
            "shop is only referenced by a pod"
        );
        assert_eq!(
            s.namespaces["shop"].labels["kubernetes.io/metadata.name"],
            "shop"
        );
    }

    #[test]
    fn identities_cover_pods_nodes_services_and_outside_addresses() {
        let s = snapshot();
        let id = |ip: &str| s.identify(&ip.parse().unwrap(), None);
        match id("10.1.0.5") {
            Identity::Pod(p) => {
                assert_eq!(p.name, "es-0");
                assert_eq!(p.workload.as_ref().unwrap().kind, "StatefulSet");
                assert_eq!(p.node.as_deref(), Some("n1"));
            }
            other => panic!("{other:?}"),
        }
        match id("fd00::5") {
            Identity::Pod(p) => assert_eq!(p.name, "es-0"),
            other => panic!("{other:?}"),
        }
        match id("10.1.0.6") {
            Identity::Pod(p) => assert_eq!(
                p.workload,
                Some(Workload {
                    kind: "Deployment".into(),
                    name: "web".into()
                })
            ),
            other => panic!("{other:?}"),
        }
        match id("192.168.0.10") {
            Identity::Node(n) => {
                assert_eq!(n.name.as_deref(), Some("n1"));
                assert_eq!(n.host_network_pods, ["kube-system/kube-proxy-x"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(id("10.96.0.20"), Identity::Service(_)));
        assert_eq!(id("8.8.8.8"), Identity::External);
        assert_eq!(id("10.1.0.99"), Identity::Unknown);
    }

    #[test]
    fn a_pod_created_after_the_flow_does_not_own_its_ip() {
        let s = snapshot();
        let before = "2026-11-20T09:00:00Z".parse().ok();
        assert_eq!(
            s.identify(&"10.1.0.5".parse().unwrap(), before),
            Identity::Unknown
        );
    }

    #[test]
    fn duplicate_pod_ips_are_ambiguous_unless_the_log_names_one() {
        let text = r#"{"kind":"List","items":[
          {"kind":"Pod","metadata":{"name":"a","namespace":"x"},"status":{"phase":"Running","podIP":"10.0.0.1"}},
          {"kind":"Pod","metadata":{"name":"b","namespace":"x"},"status":{"phase":"Running","podIP":"10.0.0.1"}}]}"#;
        let s = Snapshot::from_text(text, "dup.json", None).unwrap();
        let mut ep = Endpoint {
            ip: "10.0.0.1".parse().ok(),
            ..Default::default()
        };
        s.resolve_endpoint(&mut ep, None);
        assert!(
            matches!(ep.identity, Identity::Ambiguous { ref candidates } if candidates.len() == 2)
        );
        let mut ep = Endpoint {
            ip: "10.0.0.1".parse().ok(),
            identity: Identity::Pod(std::sync::Arc::new(PodIdentity {
                namespace: "x".into(),
                name: "b".into(),
                ..Default::default()
            })),
            identity_source: IdentitySource::Log,
            ..Default::default()
        };
        s.resolve_endpoint(&mut ep, None);
        assert_eq!(ep.identity.pod().unwrap().name, "b");
        assert_eq!(ep.identity_source, IdentitySource::Snapshot);
    }

    #[test]
    fn yaml_manifests_with_several_documents_load() {
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n\
                    apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: a\n\
                    spec:\n  podSelector: {}\n  ingress: []\n";
        let s = Snapshot::from_text(yaml, "m.yaml", None).unwrap();
        assert_eq!(s.namespaces.len(), 1);
        assert_eq!(s.policies.len(), 1);
        assert!(s.policies[0].spec.ingress.as_ref().unwrap().is_empty());
    }

    #[test]
    fn snapshot_in_force_is_the_latest_taken_before_the_flow() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().ok();
        let mk = |name: &str, at: Option<DateTime<Utc>>| Snapshot {
            source: name.to_string(),
            taken_at: at,
            ..Default::default()
        };
        let set = SnapshotSet::new(vec![
            mk("late", t("2026-11-20T19:00:00Z")),
            mk("early", t("2026-11-20T10:00:00Z")),
        ]);
        assert_eq!(set.at(t("2026-11-20T09:00:00Z")).unwrap().source, "early");
        assert_eq!(set.at(t("2026-11-20T12:00:00Z")).unwrap().source, "early");
        assert_eq!(set.at(t("2026-11-20T19:00:00Z")).unwrap().source, "late");
    }

    #[test]
    fn policies_flowq_does_not_evaluate_are_kept_counted_and_matched_to_pods() {
        let text = r#"{"kind":"List","items":[
          {"kind":"Namespace","metadata":{"name":"shop","labels":{"env":"prod"}}},
          {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},
           "status":{"phase":"Running","podIP":"10.0.0.1"}},
          {"apiVersion":"projectcalico.org/v3","kind":"NetworkPolicy",
           "metadata":{"name":"web-egress","namespace":"shop"},
           "spec":{"selector":"app == 'web'","types":["Egress"],"egress":[{"action":"Deny"}]}},
          {"apiVersion":"crd.antrea.io/v1beta1","kind":"NetworkPolicy",
           "metadata":{"name":"antrea","namespace":"shop"},"spec":{}},
          {"apiVersion":"policy.networking.k8s.io/v1alpha1","kind":"AdminNetworkPolicy",
           "metadata":{"name":"prod-guard"},
           "spec":{"priority":1,"subject":{"namespaces":{"matchLabels":{"env":"prod"}}},
                   "ingress":[{"action":"Deny","from":[{"namespaces":{}}]}]}},
          {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
           "metadata":{"name":"k8s","namespace":"shop"},"spec":{"podSelector":{}}}]}"#;
        let s = Snapshot::from_text(text, "extra.json", None).unwrap();
        assert_eq!(
            s.policies.len(),
            1,
            "only the Kubernetes NetworkPolicy is evaluated"
        );
        assert_eq!(s.ignored.get("NetworkPolicy (crd.antrea.io)"), Some(&1));
        assert_eq!(
            s.unevaluated_counts(),
            BTreeMap::from([
                (UnevaluatedKind::CalicoNetworkPolicy, 1),
                (UnevaluatedKind::AdminNetworkPolicy, 1)
            ])
        );
        let web = s.pod("shop", "web-0").unwrap();
        let found: Vec<(String, String, Reach)> = s
            .unevaluated_for(web)
            .into_iter()
            .map(|m| (m.policy.kind.to_string(), m.policy.id(), m.reach))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "Calico NetworkPolicy".to_string(),
                    "shop/web-egress".to_string(),
                    Reach::Selects
                ),
                (
                    "AdminNetworkPolicy".to_string(),
                    "prod-guard".to_string(),
                    Reach::Selects
                ),
            ]
        );
    }

    #[test]
    fn not_a_snapshot_is_a_clear_error() {
        let e = Snapshot::from_text("{\"flow\": {}}", "flows.json", None).unwrap_err();
        assert!(e.to_string().contains("no Kubernetes objects"), "{e}");
    }
}
