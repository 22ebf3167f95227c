//! The Cloud Logging `LogEntry` envelope around GKE records (`gcloud logging read
//! --format=json`, sinks to Cloud Storage): the payload under `jsonPayload` (`json_payload` in
//! BigQuery/Log Analytics exports), the log name, the resource labels and the entry time. A
//! record without an envelope (a node file line) is its own payload.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::value::Lenient;
use crate::flow::LogEntryInfo;

/// The envelope fields flowq reads.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct LogEntry<'a> {
    #[serde(borrow, rename = "jsonPayload", alias = "json_payload")]
    pub json_payload: Option<&'a RawValue>,
    #[serde(rename = "logName", alias = "log_name")]
    pub log_name: Option<String>,
    // What only describes the entry is read leniently: a value of another shape (a bare
    // payload may have keys of these names) never costs the record.
    #[serde(rename = "insertId", alias = "insert_id")]
    pub insert_id: Lenient<String>,
    pub resource: Option<Resource>,
    pub labels: Lenient<BTreeMap<String, Value>>,
    /// Whether a fast path found the payload (it keeps no `RawValue` of it).
    #[serde(skip)]
    pub payload_read: bool,
}

/// The monitored resource of an entry.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Resource {
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
    pub labels: Lenient<BTreeMap<String, Value>>,
}

impl<'a> LogEntry<'a> {
    /// Splits a record into its envelope and the payload bytes.
    pub fn split(bytes: &'a [u8]) -> Result<(LogEntry<'a>, &'a [u8]), serde_json::Error> {
        let entry: LogEntry = super::value::from_json(bytes)?;
        let payload = entry.json_payload.map_or(bytes, |raw| raw.get().as_bytes());
        Ok((entry, payload))
    }

    /// The node named by the resource labels (`k8s_node` resources).
    pub fn node_name(&self) -> Option<&str> {
        self.resource
            .as_ref()?
            .labels
            .0
            .as_ref()?
            .get("node_name")?
            .as_str()
            .filter(|n| !n.is_empty())
    }

    /// What the envelope says of the record (log, project, resource and labels), or `None`
    /// for a record without an envelope.
    pub fn info(&self) -> Option<LogEntryInfo> {
        if self.json_payload.is_none()
            && !self.payload_read
            && self.log_name.is_none()
            && self.resource.is_none()
        {
            return None;
        }
        let texts = |labels: Option<&BTreeMap<String, Value>>| -> BTreeMap<String, String> {
            labels
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        };
        Some(LogEntryInfo {
            log_id: self.log_name.as_deref().map(log_id),
            project: self
                .log_name
                .as_deref()
                .and_then(|n| n.strip_prefix("projects/"))
                .and_then(|n| n.split_once('/'))
                .map(|(project, _)| project.to_string())
                .filter(|p| !p.is_empty()),
            resource_type: self
                .resource
                .as_ref()
                .and_then(|r| r.kind.0.clone())
                .filter(|k| !k.is_empty()),
            resource_labels: texts(self.resource.as_ref().and_then(|r| r.labels.0.as_ref())),
            labels: texts(self.labels.0.as_ref()),
        })
    }

    /// The entry's own id (`insertId`), unless empty.
    pub fn insert_id(&self) -> Option<String> {
        self.insert_id.0.clone().filter(|i| !i.is_empty())
    }
}

/// For detection: an entry's `logName`, if it has one, and its payload object (`jsonPayload`,
/// `json_payload`, or the record itself when it has no envelope).
pub(crate) fn sniff_parts(
    map: &serde_json::Map<String, serde_json::Value>,
) -> (Option<&str>, &serde_json::Map<String, serde_json::Value>) {
    let log_name = map
        .get("logName")
        .or(map.get("log_name"))
        .and_then(serde_json::Value::as_str);
    let payload = map
        .get("jsonPayload")
        .or(map.get("json_payload"))
        .and_then(serde_json::Value::as_object)
        .unwrap_or(map);
    (log_name, payload)
}

/// The decoded log id of a log name (`projects/p/logs/compute.googleapis.com%2Fvpc_flows` →
/// `compute.googleapis.com/vpc_flows`).
pub(crate) fn log_id(log_name: &str) -> String {
    let id = log_name
        .rsplit_once("/logs/")
        .map_or(log_name, |(_, id)| id);
    id.replace("%2F", "/").replace("%2f", "/")
}
