//! The Cloud Logging `LogEntry` envelope around GKE records (`gcloud logging read
//! --format=json`, sinks to Cloud Storage): the payload under `jsonPayload` (`json_payload` in
//! BigQuery/Log Analytics exports), the log name, the resource labels and the entry time. A
//! record without an envelope (a node file line) is its own payload.

use serde::Deserialize;
use serde_json::value::RawValue;

/// The envelope fields flowq reads.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct LogEntry<'a> {
    #[serde(borrow, rename = "jsonPayload", alias = "json_payload")]
    pub json_payload: Option<&'a RawValue>,
    #[serde(rename = "logName", alias = "log_name")]
    pub log_name: Option<String>,
    pub resource: Option<Resource>,
}

/// The monitored resource of an entry.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Resource {
    pub labels: Option<ResourceLabels>,
}

/// Resource labels flowq uses.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ResourceLabels {
    pub node_name: Option<String>,
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
            .as_ref()?
            .node_name
            .as_deref()
            .filter(|n| !n.is_empty())
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
