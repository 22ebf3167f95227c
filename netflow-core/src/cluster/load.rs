//! Loading a snapshot: `kubectl get … -o json` Lists, single objects, and folders of YAML or
//! JSON manifests (multi-document YAML included), gzip or not. Each object is dispatched on its
//! `kind` and only the kinds flowq uses are deserialized; Secrets, ConfigMaps and everything
//! else are counted and dropped unread.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::model::{
    ContainerPort, ContainerProbe, EndpointSlice, IntOrString, Namespace, NetworkPolicy,
    NetworkPolicySpec, Node, ObjectMeta, Pod, ProbeKind, Service, ServicePort, SkippedObject,
    SliceEndpoint, WorkloadObject,
};
use super::unevaluated::{UnevaluatedKind, UnevaluatedPolicy};
use super::Snapshot;
use crate::error::{Error, Result};
use crate::input::InputReader;

/// Collects objects into a snapshot while loading.
#[derive(Default)]
pub(super) struct Loader {
    pub(super) snapshot: Snapshot,
    newest: Option<DateTime<Utc>>,
    objects_seen: usize,
}

impl Loader {
    /// Loads a file or every `.json`/`.yaml`/`.yml` file under a folder.
    pub(super) fn load_path(&mut self, path: &Path) -> Result<()> {
        if path.is_dir() {
            let mut files = Vec::new();
            collect_manifest_files(path, &mut files).map_err(|e| Error::Snapshot {
                path: path.to_path_buf(),
                detail: format!("cannot list folder: {e}"),
            })?;
            if files.is_empty() {
                return Err(Error::Snapshot {
                    path: path.to_path_buf(),
                    detail: "folder holds no .json, .yaml or .yml file".to_string(),
                });
            }
            for file in files {
                self.load_file(&file)?;
            }
            Ok(())
        } else {
            self.load_file(path)
        }
    }

    fn load_file(&mut self, path: &Path) -> Result<()> {
        let name = path.to_string_lossy().into_owned();
        let mut reader = InputReader::open(&name).map_err(|e| Error::Snapshot {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|e| Error::Snapshot {
                path: path.to_path_buf(),
                detail: format!("cannot read as UTF-8 text: {e}"),
            })?;
        self.load_text(&text, path)
    }

    /// Loads the objects of one JSON or YAML text.
    pub(super) fn load_text(&mut self, text: &str, path: &Path) -> Result<()> {
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        let before = self.objects_seen;
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            let raw: &RawValue = serde_json::from_str(trimmed).map_err(|e| Error::Snapshot {
                path: path.to_path_buf(),
                detail: format!("invalid JSON: {e}"),
            })?;
            self.add_raw(raw, path, 0);
        } else {
            for (i, doc) in serde_yaml_ng::Deserializer::from_str(trimmed).enumerate() {
                let value = Value::deserialize(doc).map_err(|e| Error::Snapshot {
                    path: path.to_path_buf(),
                    detail: format!("invalid YAML in document {}: {e}", i + 1),
                })?;
                if !value.is_null() {
                    // YAML goes through JSON text so that both take the same typed path.
                    let text = serde_json::to_string(&value).map_err(|e| Error::Snapshot {
                        path: path.to_path_buf(),
                        detail: format!(
                            "YAML document {} is not representable as JSON: {e}",
                            i + 1
                        ),
                    })?;
                    if let Ok(raw) = serde_json::from_str::<&RawValue>(&text) {
                        self.add_raw(raw, path, 0);
                    }
                }
            }
        }
        if self.objects_seen == before {
            return Err(Error::Snapshot {
                path: path.to_path_buf(),
                detail: "holds no Kubernetes objects (expected a List, an object with \"kind\", \
                         or manifests)"
                    .to_string(),
            });
        }
        Ok(())
    }

    /// Adds an object, a List of objects, or an array of either, from raw JSON text.
    fn add_raw(&mut self, raw: &RawValue, path: &Path, depth: usize) {
        // Raw values escape serde_json's recursion limit: without this bound, `[[[[…]]]]` would
        // cost a stack frame and a rescan of the text per level (a stack overflow at 100k).
        if depth > MAX_NESTING {
            self.snapshot.warnings.push(format!(
                "{}: ignored Lists or arrays nested more than {MAX_NESTING} levels deep",
                path.display()
            ));
            return;
        }
        let text = raw.get();
        if text.starts_with('[') {
            match serde_json::from_str::<Vec<&RawValue>>(text) {
                Ok(items) => items
                    .into_iter()
                    .for_each(|item| self.add_raw(item, path, depth + 1)),
                Err(e) => self
                    .snapshot
                    .warnings
                    .push(format!("{}: ignored an array: {e}", path.display())),
            }
            return;
        }
        match serde_json::from_str::<Head>(text) {
            Ok(head) => {
                let kind = head.kind.unwrap_or_default();
                if let Some(items) = head
                    .items
                    .filter(|_| kind == "List" || kind.ends_with("List"))
                {
                    items
                        .into_iter()
                        .for_each(|item| self.add_raw(item, path, depth + 1));
                    return;
                }
                self.add_object(&kind, head.api_version.as_deref().unwrap_or(""), text, path);
            }
            Err(_) => self.snapshot.warnings.push(format!(
                "{}: ignored a value that is not an object",
                path.display()
            )),
        }
    }

    fn add_object(&mut self, kind: &str, api_version: &str, value: &str, path: &Path) {
        if kind.is_empty() {
            self.snapshot.warnings.push(format!(
                "{}: ignored an object without \"kind\"",
                path.display()
            ));
            return;
        }
        self.objects_seen += 1;
        if let Some(policy_kind) = UnevaluatedKind::recognise(api_version, kind) {
            if let Err(e) = self.add_unevaluated(policy_kind, api_version, value) {
                self.snapshot
                    .warnings
                    .push(format!("{}: skipped a {policy_kind}: {e}", path.display()));
            }
            return;
        }
        // A NetworkPolicy of another API group (Antrea's, say) is not a Kubernetes one.
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        if kind == "NetworkPolicy" && !matches!(group, "" | "networking.k8s.io") {
            *self
                .snapshot
                .ignored
                .entry(format!("{kind} ({group})"))
                .or_default() += 1;
            return;
        }
        let result = match kind {
            "Namespace" => self.add_namespace(value),
            "Pod" => self.add_pod(value),
            "Service" => self.add_service(value),
            "EndpointSlice" => self.add_endpoint_slice(value),
            "Node" => self.add_node(value),
            "NetworkPolicy" => self.add_policy(value),
            "ReplicaSet" | "Job" => self
                .add_controller(kind, value)
                .and_then(|()| self.add_workload(kind, value)),
            "Deployment" | "StatefulSet" | "DaemonSet" | "CronJob" => {
                self.add_workload(kind, value)
            }
            _ => {
                *self.snapshot.ignored.entry(kind.to_string()).or_default() += 1;
                Ok(())
            }
        };
        if let Err(e) = result {
            let skipped = skipped_object(kind, value, path, &e);
            let e = &skipped.detail;
            let object = match (&skipped.namespace, &skipped.name) {
                (Some(ns), Some(name)) => format!("{kind} {ns}/{name}"),
                (None, Some(name)) => format!("{kind} {name}"),
                _ => format!("a {kind}"),
            };
            self.snapshot
                .warnings
                .push(format!("{}: skipped {object}: {e}", path.display()));
            self.snapshot.skipped.push(skipped);
        }
    }

    fn note_time(&mut self, t: Option<DateTime<Utc>>) {
        if let Some(t) = t {
            self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
        }
    }

    fn add_namespace(&mut self, value: &str) -> serde_json::Result<()> {
        let raw: RawObject = serde_json::from_str(value)?;
        self.note_time(raw.metadata.creation_timestamp);
        let mut labels = raw.metadata.labels.unwrap_or_default();
        labels
            .entry("kubernetes.io/metadata.name".to_string())
            .or_insert_with(|| raw.metadata.name.clone());
        self.snapshot.namespaces.insert(
            raw.metadata.name.clone(),
            Namespace {
                name: raw.metadata.name,
                labels,
            },
        );
        Ok(())
    }

    fn add_pod(&mut self, value: &str) -> serde_json::Result<()> {
        let raw: RawPod = serde_json::from_str(value)?;
        let meta = raw.metadata;
        self.note_time(meta.creation_timestamp);
        let status = raw.status;
        self.note_time(status.start_time);
        let mut finished: Option<DateTime<Utc>> = None;
        for cs in status
            .container_statuses
            .iter()
            .flatten()
            .chain(status.init_container_statuses.iter().flatten())
        {
            self.note_time(cs.state.running.as_ref().and_then(|r| r.started_at));
            let f = cs.state.terminated.as_ref().and_then(|t| t.finished_at);
            self.note_time(f);
            if let Some(f) = f {
                finished = Some(finished.map_or(f, |x| x.max(f)));
            }
        }
        for c in status.conditions.iter().flatten() {
            self.note_time(c.last_transition_time);
        }
        let mut ips = Vec::new();
        let mut bad_ips = Vec::new();
        for text in status
            .pod_ip
            .iter()
            .chain(status.pod_ips.iter().flatten().map(|p| &p.ip))
            // `podIP: ""` is how some dumps write a pod that has no address yet.
            .filter(|text| !text.trim().is_empty())
        {
            match text.parse::<IpAddr>() {
                Ok(ip) if !ips.contains(&ip) => ips.push(ip),
                Ok(_) => {}
                Err(_) => bad_ips.push(text.clone()),
            }
        }
        let namespace = meta.namespace_or_default().to_string();
        for bad in bad_ips {
            self.snapshot.warnings.push(format!(
                "pod {namespace}/{}: podIP {bad:?} is not an IP address",
                meta.name
            ));
        }
        let terminal = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        let ended = if terminal {
            finished.or(meta.deletion_timestamp)
        } else {
            None
        };
        let container_ports = raw
            .spec
            .containers
            .iter()
            .flatten()
            .chain(raw.spec.init_containers.iter().flatten())
            .flat_map(|c| c.ports.iter().flatten().cloned())
            .collect();
        let probes = raw
            .spec
            .containers
            .iter()
            .flatten()
            .flat_map(RawContainer::probes)
            .collect();
        let owner = meta.controller().map(|o| (o.kind.clone(), o.name.clone()));
        self.snapshot.pods.push(Pod {
            namespace,
            name: meta.name,
            labels: Arc::new(meta.labels.unwrap_or_default()),
            node_name: raw.spec.node_name.filter(|n| !n.is_empty()),
            host_network: raw.spec.host_network.unwrap_or(false),
            ips,
            container_ports,
            probes,
            phase: status.phase,
            created: meta.creation_timestamp,
            ended,
            owner,
        });
        Ok(())
    }

    fn add_service(&mut self, value: &str) -> serde_json::Result<()> {
        let raw: RawService = serde_json::from_str(value)?;
        self.note_time(raw.metadata.creation_timestamp);
        let mut cluster_ips = Vec::new();
        for text in raw
            .spec
            .cluster_ip
            .iter()
            .chain(raw.spec.cluster_ips.iter().flatten())
        {
            if let Ok(ip) = text.parse::<IpAddr>() {
                if !cluster_ips.contains(&ip) {
                    cluster_ips.push(ip);
                }
            }
        }
        let namespace = raw.metadata.namespace_or_default().to_string();
        self.snapshot.services.push(Service {
            namespace,
            name: raw.metadata.name,
            cluster_ips,
            selector: raw.spec.selector.filter(|s| !s.is_empty()),
            ports: raw.spec.ports.unwrap_or_default(),
            created: raw.metadata.creation_timestamp,
        });
        Ok(())
    }

    fn add_endpoint_slice(&mut self, value: &str) -> serde_json::Result<()> {
        let raw: RawEndpointSlice = serde_json::from_str(value)?;
        self.note_time(raw.metadata.creation_timestamp);
        let namespace = raw.metadata.namespace_or_default().to_string();
        let service_name = raw
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name").cloned());
        let endpoints = raw
            .endpoints
            .into_iter()
            .flatten()
            .map(|e| SliceEndpoint {
                addresses: e
                    .addresses
                    .iter()
                    .flatten()
                    .filter_map(|a| a.parse().ok())
                    .collect(),
                ready: e.conditions.as_ref().and_then(|c| c.ready),
                pod: e.target_ref.filter(|t| t.kind == "Pod").map(|t| {
                    (
                        t.namespace
                            .filter(|n| !n.is_empty())
                            .unwrap_or_else(|| namespace.clone()),
                        t.name,
                    )
                }),
            })
            .collect();
        self.snapshot.endpoint_slices.push(EndpointSlice {
            namespace,
            service_name,
            endpoints,
        });
        Ok(())
    }

    fn add_node(&mut self, value: &str) -> serde_json::Result<()> {
        let raw: RawNode = serde_json::from_str(value)?;
        self.note_time(raw.metadata.creation_timestamp);
        let mut node = Node {
            name: raw.metadata.name,
            created: raw.metadata.creation_timestamp,
            ..Default::default()
        };
        for a in raw.status.addresses.into_iter().flatten() {
            let Ok(ip) = a.address.parse::<IpAddr>() else {
                continue;
            };
            match a.kind.as_str() {
                "InternalIP" => node.internal_ips.push(ip),
                "ExternalIP" => node.external_ips.push(ip),
                _ => {}
            }
        }
        for cidr in raw
            .spec
            .pod_cidr
            .iter()
            .chain(raw.spec.pod_cidrs.iter().flatten())
        {
            if let Ok(net) = cidr.parse::<ipnet::IpNet>() {
                if !self.snapshot.pod_cidrs.contains(&net) {
                    self.snapshot.pod_cidrs.push(net);
                }
            }
        }
        self.snapshot.nodes.push(node);
        Ok(())
    }

    fn add_policy(&mut self, value: &str) -> serde_json::Result<()> {
        let raw: RawPolicy = serde_json::from_str(value)?;
        self.note_time(raw.metadata.creation_timestamp);
        self.snapshot.policies.push(NetworkPolicy {
            namespace: raw.metadata.namespace_or_default().to_string(),
            created: raw.metadata.creation_timestamp,
            name: raw.metadata.name,
            spec: raw.spec,
        });
        Ok(())
    }

    fn add_unevaluated(
        &mut self,
        kind: UnevaluatedKind,
        api_version: &str,
        value: &str,
    ) -> serde_json::Result<()> {
        let object: Value = serde_json::from_str(value)?;
        let meta: ObjectMeta =
            serde_json::from_value(object.get("metadata").cloned().unwrap_or(Value::Null))
                .unwrap_or_default();
        self.note_time(meta.creation_timestamp);
        let namespace = meta.namespace_or_default().to_string();
        self.snapshot
            .unevaluated
            .push(UnevaluatedPolicy::from_object(
                kind,
                api_version.to_string(),
                Some(namespace),
                meta.name,
                &object,
            ));
        Ok(())
    }

    fn add_workload(&mut self, kind: &str, value: &str) -> serde_json::Result<()> {
        let raw: RawWorkload = serde_json::from_str(value)?;
        self.note_time(raw.metadata.creation_timestamp);
        let namespace = raw.metadata.namespace_or_default().to_string();
        // A CronJob's pod template is one level down, in its Job template.
        let template = match raw.spec.job_template {
            Some(job) if kind == "CronJob" => job.spec.template,
            _ => raw.spec.template,
        };
        let container_ports = template
            .spec
            .containers
            .iter()
            .flatten()
            .chain(template.spec.init_containers.iter().flatten())
            .flat_map(|c| c.ports.iter().flatten().cloned())
            .collect();
        self.snapshot.workloads.push(WorkloadObject {
            namespace: namespace.clone(),
            kind: kind.to_string(),
            name: raw.metadata.name.clone(),
            template: Pod {
                namespace,
                name: format!("{} (pod template)", raw.metadata.name),
                labels: Arc::new(template.metadata.labels.unwrap_or_default()),
                host_network: template.spec.host_network.unwrap_or(false),
                container_ports,
                owner: Some((kind.to_string(), raw.metadata.name)),
                ..Default::default()
            },
        });
        Ok(())
    }

    fn add_controller(&mut self, kind: &str, value: &str) -> serde_json::Result<()> {
        let raw: RawObject = serde_json::from_str(value)?;
        self.note_time(raw.metadata.creation_timestamp);
        if let Some(owner) = raw.metadata.controller() {
            self.snapshot.controllers.insert(
                (
                    raw.metadata.namespace_or_default().to_string(),
                    kind.to_string(),
                    raw.metadata.name.clone(),
                ),
                (owner.kind.clone(), owner.name.clone()),
            );
        }
        Ok(())
    }

    /// Finishes loading: the snapshot's time is the newest timestamp seen unless given.
    pub(super) fn finish(mut self, taken_at: Option<DateTime<Utc>>) -> Snapshot {
        self.snapshot.taken_at = taken_at.or(self.newest);
        self.snapshot.finish();
        self.snapshot
    }
}

pub(super) fn collect_manifest_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_manifest_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml" | "gz")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// How deep Lists and arrays may nest in a snapshot; `kubectl` writes at most two levels.
const MAX_NESTING: usize = 32;

/// What decides how an object is read: its kind, and the items of a List.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObject {
    #[serde(default)]
    metadata: ObjectMeta,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWorkload {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: RawWorkloadSpec,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawWorkloadSpec {
    template: RawTemplate,
    job_template: Option<RawJobTemplate>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawJobTemplate {
    spec: RawWorkloadSpecTemplateOnly,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawWorkloadSpecTemplateOnly {
    template: RawTemplate,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawTemplate {
    metadata: ObjectMeta,
    spec: RawPodSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPod {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: RawPodSpec,
    #[serde(default)]
    status: RawPodStatus,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawPodSpec {
    node_name: Option<String>,
    host_network: Option<bool>,
    containers: Option<Vec<RawContainer>>,
    init_containers: Option<Vec<RawContainer>>,
}

/// Only the name, `ports` and the probes: env, args and volumes are never read.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawContainer {
    name: String,
    ports: Option<Vec<ContainerPort>>,
    liveness_probe: Option<RawProbe>,
    readiness_probe: Option<RawProbe>,
    startup_probe: Option<RawProbe>,
}

impl RawContainer {
    /// The container's probes that connect to it over the network.
    fn probes(&self) -> Vec<ContainerProbe> {
        [
            (ProbeKind::Liveness, &self.liveness_probe),
            (ProbeKind::Readiness, &self.readiness_probe),
            (ProbeKind::Startup, &self.startup_probe),
        ]
        .into_iter()
        .filter_map(|(kind, probe)| {
            let probe = probe.as_ref()?;
            let (handler, port) = if let Some(port) = probe.http_get.as_ref() {
                ("httpGet", port.port.clone()?)
            } else if let Some(port) = probe.tcp_socket.as_ref() {
                ("tcpSocket", port.port.clone()?)
            } else {
                ("grpc", IntOrString::Int(probe.grpc.as_ref()?.port?))
            };
            Some(ContainerProbe {
                container: self.name.clone(),
                kind,
                handler,
                port,
            })
        })
        .collect()
    }
}

/// A probe; `exec` probes are not read (they run inside the container).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawProbe {
    http_get: Option<RawProbePort>,
    tcp_socket: Option<RawProbePort>,
    grpc: Option<RawGrpcProbe>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawProbePort {
    port: Option<IntOrString>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGrpcProbe {
    port: Option<i64>,
}

/// What is known of an object that could not be read: its kind and, when its metadata reads,
/// its namespace and name.
fn skipped_object(
    kind: &str,
    value: &str,
    path: &Path,
    error: &serde_json::Error,
) -> SkippedObject {
    let value: Option<Value> = serde_json::from_str(value).ok();
    let field = |key: &str| {
        value
            .as_ref()
            .and_then(|v| v.get("metadata"))
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let name = field("name");
    let namespace = field("namespace").or_else(|| {
        (name.is_some() && !matches!(kind, "Namespace" | "Node")).then(|| "default".to_string())
    });
    SkippedObject {
        source: path.display().to_string(),
        kind: kind.to_string(),
        namespace,
        name,
        // The position serde gives is within the object's own text, not the file: it would
        // mislead, the object's name says where it is.
        detail: error
            .to_string()
            .trim_end_matches(&format!(
                " at line {} column {}",
                error.line(),
                error.column()
            ))
            .to_string(),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawPodStatus {
    phase: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<RawPodIp>>,
    start_time: Option<DateTime<Utc>>,
    conditions: Option<Vec<RawCondition>>,
    container_statuses: Option<Vec<RawContainerStatus>>,
    init_container_statuses: Option<Vec<RawContainerStatus>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPodIp {
    ip: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawCondition {
    last_transition_time: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawContainerStatus {
    state: RawContainerState,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawContainerState {
    running: Option<RawStateTimes>,
    terminated: Option<RawStateTimes>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawStateTimes {
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawService {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: RawServiceSpec,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawServiceSpec {
    #[serde(rename = "clusterIP")]
    cluster_ip: Option<String>,
    #[serde(rename = "clusterIPs")]
    cluster_ips: Option<Vec<String>>,
    selector: Option<BTreeMap<String, String>>,
    ports: Option<Vec<ServicePort>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEndpointSlice {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    endpoints: Option<Vec<RawSliceEndpoint>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawSliceEndpoint {
    addresses: Option<Vec<String>>,
    target_ref: Option<RawTargetRef>,
    conditions: Option<RawEndpointConditions>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawEndpointConditions {
    ready: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawTargetRef {
    kind: String,
    name: String,
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNode {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: RawNodeSpec,
    #[serde(default)]
    status: RawNodeStatus,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawNodeSpec {
    #[serde(rename = "podCIDR")]
    pod_cidr: Option<String>,
    #[serde(rename = "podCIDRs")]
    pod_cidrs: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawNodeStatus {
    addresses: Option<Vec<RawNodeAddress>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawNodeAddress {
    #[serde(rename = "type")]
    kind: String,
    address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPolicy {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: NetworkPolicySpec,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Snapshot> {
        let mut loader = Loader::default();
        loader.load_text(text, Path::new("t.json"))?;
        Ok(loader.finish(None))
    }

    #[test]
    fn an_empty_pod_ip_is_no_ip_not_a_bad_one() {
        let s = load(
            r#"{"kind":"Pod","metadata":{"name":"p","namespace":"n"},"status":{"phase":"Running","podIP":"","podIPs":[{"ip":""}]}}"#,
        )
        .unwrap();
        assert!(s.pods[0].ips.is_empty());
        assert_eq!(
            s.warnings,
            [
                "namespace n has pods or policies but no Namespace object: its labels other than \
                 kubernetes.io/metadata.name are unknown",
                "pod n/p has no IP in the snapshot"
            ]
        );
    }

    #[test]
    fn an_unreadable_object_is_named_and_the_others_are_kept() {
        let s = load(
            r#"{"kind":"List","items":[
              {"kind":"NetworkPolicy","metadata":{"name":"bad","namespace":"shop"},"spec":{"podSelector":"app=web"}},
              {"kind":"NetworkPolicy","metadata":{"name":"good","namespace":"shop"},"spec":{"podSelector":{}}}]}"#,
        )
        .unwrap();
        assert_eq!(s.policies.len(), 1);
        assert_eq!(s.policies[0].name, "good");
        assert_eq!(s.skipped.len(), 1);
        let skipped = &s.skipped[0];
        assert_eq!(skipped.kind, "NetworkPolicy");
        assert_eq!(skipped.namespace.as_deref(), Some("shop"));
        assert_eq!(skipped.name.as_deref(), Some("bad"));
        assert_eq!(skipped.source, "t.json");
        assert!(
            skipped.detail.contains("expected struct"),
            "{}",
            skipped.detail
        );
        assert!(
            s.warnings
                .iter()
                .any(|w| w.starts_with("t.json: skipped NetworkPolicy shop/bad: ")),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn network_probes_are_kept_and_exec_probes_are_not() {
        let s = load(
            r#"{"kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"containers":[
              {"name":"web","ports":[{"containerPort":8080,"name":"http"}],
               "livenessProbe":{"httpGet":{"path":"/healthz","port":"http"}},
               "readinessProbe":{"tcpSocket":{"port":8080}},
               "startupProbe":{"exec":{"command":["true"]}}},
              {"name":"rpc","startupProbe":{"grpc":{"port":9090}}}]},
              "status":{"phase":"Running","podIP":"10.0.0.1"}}"#,
        )
        .unwrap();
        let probes = &s.pods[0].probes;
        assert_eq!(probes.len(), 3);
        assert_eq!(probes[0].kind, ProbeKind::Liveness);
        assert_eq!(probes[0].handler, "httpGet");
        assert_eq!(probes[0].port, IntOrString::String("http".into()));
        assert_eq!(probes[1].port, IntOrString::Int(8080));
        assert_eq!(probes[2].container, "rpc");
        assert_eq!(probes[2].handler, "grpc");
        assert_eq!(probes[2].kind, ProbeKind::Startup);
    }

    #[test]
    fn deeply_nested_arrays_and_lists_are_refused_without_overflowing_the_stack() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = load(&deep).unwrap_err().to_string();
        assert!(err.contains("holds no Kubernetes objects"), "{err}");

        let pod = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"n"}}"#;
        let nest = |levels: usize| {
            let open = r#"{"kind":"List","items":["#.repeat(levels);
            format!("{open}{pod}{}", "]}".repeat(levels))
        };
        let ok = load(&nest(3)).unwrap();
        assert_eq!(ok.pods.len(), 1);
        let err = load(&format!("[{},{}]", nest(50_000), nest(1))).unwrap();
        assert_eq!(err.pods.len(), 1, "the shallow pod is still read");
        assert!(
            err.warnings.iter().any(|w| w.contains("nested more than")),
            "{:?}",
            err.warnings
        );
    }
}
