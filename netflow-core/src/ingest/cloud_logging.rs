//! The Cloud Logging `LogEntry` envelope around GKE records (`gcloud logging read
//! --format=json`, sinks to Cloud Storage): the payload under `jsonPayload` (`json_payload` in
//! BigQuery/Log Analytics exports), the log name, the resource labels and the entry time. A
//! record without an envelope (a node file line) is its own payload.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::value::Lenient;
use crate::flow::LogEntryInfo;

/// The envelope fields flowq reads, around a payload of type `P`. The payload is decoded in
/// the same pass as the envelope ([`LogEntry::read`] takes it out), never kept as text and
/// parsed again.
#[derive(Deserialize)]
#[serde(default)]
pub(crate) struct LogEntry<P> {
    #[serde(rename = "jsonPayload", alias = "json_payload")]
    pub json_payload: Option<P>,
    #[serde(rename = "logName", alias = "log_name")]
    pub log_name: Option<String>,
    // What only describes the entry is read leniently: a value of another shape (a bare
    // payload may have keys of these names) never costs the record.
    #[serde(rename = "insertId", alias = "insert_id")]
    pub insert_id: Lenient<String>,
    pub resource: Option<Resource>,
    pub labels: Lenient<BTreeMap<String, Value>>,
    /// Whether the entry held its payload (under `jsonPayload`), now taken out of it.
    #[serde(skip)]
    pub payload_read: bool,
}

impl<P> Default for LogEntry<P> {
    fn default() -> Self {
        LogEntry {
            json_payload: None,
            log_name: None,
            insert_id: Lenient::default(),
            resource: None,
            labels: Lenient::default(),
            payload_read: false,
        }
    }
}

/// The monitored resource of an entry.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Resource {
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
    pub labels: Lenient<BTreeMap<String, Value>>,
}

impl<'a, P: Deserialize<'a>> LogEntry<P> {
    /// Decodes a record: an entry and the payload it holds, in one pass; or, for a record
    /// without an envelope (a node file line), the record as its own payload and an empty
    /// envelope.
    pub fn read(bytes: &'a [u8]) -> Result<(LogEntry<P>, P), serde_json::Error> {
        let mut entry: LogEntry<P> = super::value::from_json(bytes)?;
        let payload = match entry.json_payload.take() {
            Some(payload) => {
                entry.payload_read = true;
                payload
            }
            None => super::value::from_json(bytes)?,
        };
        Ok((entry, payload))
    }
}

impl<P> LogEntry<P> {

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
        if !self.payload_read
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
