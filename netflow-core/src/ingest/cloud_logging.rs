//! The Cloud Logging `LogEntry` envelope around GKE records (`gcloud logging read
//! --format=json`, sinks to Cloud Storage): the payload under `jsonPayload` (`json_payload` in
//! BigQuery/Log Analytics exports), the log name, the resource labels and the entry time. A
//! record without an envelope (a node file line) is its own payload.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::scan::{once, Scan, Scanner};
use super::shared::{shared, SharedCache};
use super::value::{raw_text, scan_raw_text, Lenient, Text};
use crate::flow::LogEntryInfo;

/// The envelope fields flowq reads, around a payload of type `P`. The payload is decoded in
/// the same pass as the envelope ([`LogEntry::read`] takes it out), never kept as text and
/// parsed again. The resource and the labels are kept as text: every entry of a log repeats
/// them, and what they say is decoded once per thread ([`LogEntry::described`]).
#[derive(Deserialize)]
#[serde(default)]
pub(crate) struct LogEntry<'a, P> {
    #[serde(rename = "jsonPayload", alias = "json_payload")]
    pub json_payload: Option<P>,
    #[serde(borrow, rename = "logName", alias = "log_name")]
    pub log_name: Option<Text<'a>>,
    // What only describes the entry is read leniently: a value of another shape (a bare
    // payload may have keys of these names) never costs the record.
    #[serde(rename = "insertId", alias = "insert_id")]
    pub insert_id: Lenient<String>,
    /// The monitored resource, as written (decoded as a [`Resource`]).
    #[serde(borrow, deserialize_with = "raw_text")]
    pub resource: Option<&'a str>,
    /// The entry's labels, as written (decoded leniently as a map).
    #[serde(borrow, deserialize_with = "raw_text")]
    pub labels: Option<&'a str>,
    /// Whether the entry held its payload (under `jsonPayload`), now taken out of it.
    #[serde(skip)]
    pub payload_read: bool,
}

impl<P> Default for LogEntry<'_, P> {
    fn default() -> Self {
        LogEntry {
            json_payload: None,
            log_name: None,
            insert_id: Lenient::default(),
            resource: None,
            labels: None,
            payload_read: false,
        }
    }
}

/// The monitored resource of an entry.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Resource {
    #[serde(rename = "type")]
    kind: Lenient<String>,
    labels: Lenient<BTreeMap<String, Value>>,
}

/// What an entry's envelope says of its record: shared by the entries that hold the same log
/// name, resource and labels.
#[derive(Debug)]
pub(crate) struct Described {
    /// The log, project, resource and labels.
    pub info: Arc<LogEntryInfo>,
    /// The node named by the resource labels (`k8s_node` resources), unless empty.
    pub node: Option<String>,
}

/// What an envelope says, or why its resource is not one (serde's message).
pub(crate) type Description = Result<Described, String>;

thread_local! {
    static DESCRIPTIONS: RefCell<SharedCache<Description>> = const {
        RefCell::new(SharedCache::new())
    };
}

impl<'a, P: Deserialize<'a>> LogEntry<'a, P> {
    /// Decodes a record: an entry and the payload it holds, in one pass; or, for a record
    /// without an envelope (a node file line), the record as its own payload and an empty
    /// envelope.
    pub fn read(bytes: &'a [u8]) -> Result<(LogEntry<'a, P>, P), serde_json::Error> {
        let mut entry: LogEntry<'a, P> = super::value::from_json(bytes)?;
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

impl<P> LogEntry<'_, P> {
    /// What the envelope says of the record (log, project, resource and labels, and the node
    /// the resource names), or `None` for a record without an envelope; an error when the
    /// resource is not a resource at all.
    pub fn described(&self) -> Result<Option<Arc<Description>>, String> {
        if !self.payload_read && self.log_name.is_none() && self.resource.is_none() {
            return Ok(None);
        }
        let (resource, labels) = (self.resource, self.labels);
        // A value's text is never empty: "" stands for an absent one.
        let key = [resource.unwrap_or(""), labels.unwrap_or("")];
        let log_name = self.log_name.as_deref();
        let described = shared(&DESCRIPTIONS, &key, log_name, || {
            describe(log_name, resource, labels)
        });
        match &*described {
            Ok(_) => Ok(Some(described)),
            Err(e) => Err(e.clone()),
        }
    }

    /// The entry's own id (`insertId`), unless empty.
    pub fn insert_id(&self) -> Option<String> {
        self.insert_id.0.clone().filter(|i| !i.is_empty())
    }
}

/// Reads a Cloud Logging entry for a fast path, as serde reads a [`LogEntry`]: the envelope's
/// fields, and the payload under `jsonPayload` with `payload`. Every other key is offered to
/// `other` (a node-file line is its own payload, its fields top-level keys), which says
/// whether it read the value; the values it does not read are skipped. The entry is given
/// with its payload taken out, as [`LogEntry::read`] gives it.
pub(crate) fn scan_entry<'a, P>(
    s: &mut Scanner<'a>,
    mut payload: impl FnMut(&mut Scanner<'a>) -> Scan<P>,
    mut other: impl FnMut(&'a str, &mut Scanner<'a>) -> Scan<bool>,
) -> Scan<(LogEntry<'a, P>, Option<P>)> {
    let mut nested = None;
    let (mut log_name, mut insert_id, mut resource, mut labels) = (None, None, None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "jsonPayload" | "json_payload" => {
                once(&mut seen, 0)?;
                nested = Some(payload(s)?);
            }
            "logName" | "log_name" => {
                once(&mut seen, 1)?;
                log_name = Some(Text::scan(s)?);
            }
            "insertId" | "insert_id" => {
                once(&mut seen, 2)?;
                insert_id = Some(s.string()?.to_string());
            }
            "resource" => {
                once(&mut seen, 3)?;
                resource = scan_raw_text(s)?;
            }
            "labels" => {
                once(&mut seen, 4)?;
                labels = scan_raw_text(s)?;
            }
            _ => {
                if !other(key, s)? {
                    s.skip()?;
                }
            }
        }
    }
    let entry = LogEntry {
        json_payload: None,
        payload_read: nested.is_some(),
        log_name,
        insert_id: Lenient(insert_id),
        resource,
        labels,
    };
    Ok((entry, nested))
}

/// Decodes what an envelope says from its log name and the texts of its resource and labels.
fn describe(log_name: Option<&str>, resource: Option<&str>, labels: Option<&str>) -> Description {
    let resource: Option<Resource> = match resource {
        Some(text) => serde_json::from_str(text).map_err(|e| e.to_string())?,
        None => None,
    };
    let labels: Lenient<BTreeMap<String, Value>> = match labels {
        Some(text) => serde_json::from_str(text).unwrap_or_default(),
        None => Lenient::default(),
    };
    let resource_labels = resource.as_ref().and_then(|r| r.labels.0.as_ref());
    let node = resource_labels
        .and_then(|l| l.get("node_name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
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
    let info = LogEntryInfo {
        log_id: log_name.map(log_id),
        project: log_name
            .and_then(|n| n.strip_prefix("projects/"))
            .and_then(|n| n.split_once('/'))
            .map(|(project, _)| project.to_string())
            .filter(|p| !p.is_empty()),
        resource_type: resource
            .as_ref()
            .and_then(|r| r.kind.0.clone())
            .filter(|k| !k.is_empty()),
        resource_labels: texts(resource_labels),
        labels: texts(labels.0.as_ref()),
    };
    Ok(Described {
        info: Arc::new(info),
        node,
    })
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
