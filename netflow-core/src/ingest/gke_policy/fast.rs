//! The fast path for GKE policy-action records — node-file lines (the payload alone) and Cloud
//! Logging entries (`jsonPayload` and the envelope around it): reads the fields a [`Payload`]
//! and a [`LogEntry`] hold straight from the line and skips the rest, then hands them to the
//! same conversion as the serde decoder.
//!
//! A record is left to serde ([`Unusual`]) when it holds a key or string with an escape where
//! one is read, `null`, a repeated key (also among an entry's own fields that look like payload
//! fields), a value of an unexpected type, a
//! time the serde decoder would not read, or anything that is not valid JSON. Structs are
//! built with every field named, so a field added to them does not compile until this path
//! reads it.

use super::{Connection, Payload, RawEndpoint, RawPolicy};
use crate::ingest::cloud_logging::{scan_entry, LogEntry};
use crate::ingest::scan::{once, Scan, Scanner};
use crate::ingest::value::{Text, TimeValue, U64Value};

/// Reads one record — a node-file line, or a Cloud Logging entry around one — as the payload
/// and the entry's envelope (empty for a node-file line), or `None` when it is left to the
/// serde decoder.
pub(super) fn scan(line: &[u8]) -> Option<(Payload<'_>, LogEntry<'_, Payload<'_>>)> {
    let text = std::str::from_utf8(line).ok()?;
    let mut s = Scanner::new(text);
    let read = record(&mut s).ok()?;
    s.end().ok()?;
    Some(read)
}

/// The top level: an entry's envelope fields, or the payload's own (a node-file line is its
/// own payload, and an entry's other fields are ignored as serde ignores them).
fn record<'a>(s: &mut Scanner<'a>) -> Scan<(Payload<'a>, LogEntry<'a, Payload<'a>>)> {
    let mut top = Fields::default();
    let (entry, nested) = scan_entry(s, payload, |key, s| top.read(key, s))?;
    let payload = nested.unwrap_or_else(|| top.finish());
    Ok((payload, entry))
}

fn payload<'a>(s: &mut Scanner<'a>) -> Scan<Payload<'a>> {
    let mut fields = Fields::default();
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        if !fields.read(key, s)? {
            s.skip()?;
        }
    }
    Ok(fields.finish())
}

/// The fields of a payload read so far.
#[derive(Default)]
struct Fields<'a> {
    connection: Option<Connection<'a>>,
    disposition: Option<Text<'a>>,
    policies: Option<Vec<RawPolicy<'a>>>,
    src: Option<RawEndpoint<'a>>,
    dest: Option<RawEndpoint<'a>>,
    count: Option<U64Value>,
    node_name: Option<Text<'a>>,
    timestamp: Option<TimeValue>,
    seen: u64,
}

impl<'a> Fields<'a> {
    /// Reads the value of `key` when it is a payload field; `false` when it is not one.
    fn read(&mut self, key: &str, s: &mut Scanner<'a>) -> Scan<bool> {
        let seen = &mut self.seen;
        match key {
            "connection" => {
                once(seen, 0)?;
                self.connection = Some(raw_connection(s)?);
            }
            "disposition" => {
                once(seen, 1)?;
                self.disposition = Some(Text::scan(s)?);
            }
            "policies" => {
                once(seen, 2)?;
                let mut list = Vec::new();
                let mut items = s.array()?;
                while s.item(&mut items)? {
                    list.push(raw_policy(s)?);
                }
                self.policies = Some(list);
            }
            "src" => {
                once(seen, 3)?;
                self.src = Some(raw_endpoint(s)?);
            }
            "dest" => {
                once(seen, 4)?;
                self.dest = Some(raw_endpoint(s)?);
            }
            "count" => {
                once(seen, 5)?;
                self.count = Some(U64Value::scan(s)?);
            }
            "node_name" => {
                once(seen, 6)?;
                self.node_name = Some(Text::scan(s)?);
            }
            "timestamp" => {
                once(seen, 7)?;
                self.timestamp = Some(TimeValue::scan(s)?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(self) -> Payload<'a> {
        Payload {
            connection: self.connection,
            disposition: self.disposition,
            policies: self.policies,
            src: self.src,
            dest: self.dest,
            count: self.count,
            node_name: self.node_name,
            timestamp: self.timestamp,
        }
    }
}

fn raw_connection<'a>(s: &mut Scanner<'a>) -> Scan<Connection<'a>> {
    let (mut src_ip, mut dest_ip) = (None, None);
    let (mut src_port, mut dest_port) = (None, None);
    let (mut protocol, mut direction) = (None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "src_ip" => {
                once(&mut seen, 0)?;
                src_ip = Some(Text::scan(s)?);
            }
            "dest_ip" => {
                once(&mut seen, 1)?;
                dest_ip = Some(Text::scan(s)?);
            }
            "src_port" => {
                once(&mut seen, 2)?;
                src_port = Some(U64Value::scan(s)?);
            }
            "dest_port" => {
                once(&mut seen, 3)?;
                dest_port = Some(U64Value::scan(s)?);
            }
            "protocol" => {
                once(&mut seen, 4)?;
                protocol = Some(Text::scan(s)?);
            }
            "direction" => {
                once(&mut seen, 5)?;
                direction = Some(Text::scan(s)?);
            }
            _ => s.skip()?,
        }
    }
    Ok(Connection {
        src_ip,
        dest_ip,
        src_port,
        dest_port,
        protocol,
        direction,
    })
}

fn raw_policy<'a>(s: &mut Scanner<'a>) -> Scan<RawPolicy<'a>> {
    let (mut kind, mut name, mut namespace) = (None, Text::default(), None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "kind" => {
                once(&mut seen, 0)?;
                kind = Some(Text::scan(s)?);
            }
            "name" => {
                once(&mut seen, 1)?;
                name = Text::scan(s)?;
            }
            "namespace" => {
                once(&mut seen, 2)?;
                namespace = Some(Text::scan(s)?);
            }
            _ => s.skip()?,
        }
    }
    Ok(RawPolicy {
        kind,
        name,
        namespace,
    })
}

fn raw_endpoint<'a>(s: &mut Scanner<'a>) -> Scan<RawEndpoint<'a>> {
    let mut fields: [Option<Text<'a>>; 6] = Default::default();
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        let at = match key {
            "pod_name" => 0,
            "pod_namespace" => 1,
            "namespace" => 2,
            "workload_kind" => 3,
            "workload_name" => 4,
            "node_name" => 5,
            _ => {
                s.skip()?;
                continue;
            }
        };
        once(&mut seen, at)?;
        fields[at as usize] = Some(Text::scan(s)?);
    }
    let [pod_name, pod_namespace, namespace, workload_kind, workload_name, node_name] = fields;
    Ok(RawEndpoint {
        pod_name,
        pod_namespace,
        namespace,
        workload_kind,
        workload_name,
        node_name,
    })
}

#[cfg(test)]
mod tests {
    const LINE: &str = r#"{"connection":{"src_ip":"10.84.1.8","dest_ip":"10.84.0.11","src_port":45084,"dest_port":8080,"protocol":"tcp","direction":"ingress"},"disposition":"deny","src":{"pod_name":"client-5689846f5b-cq","pod_namespace":"default"},"dest":{"node_name":"gke-n1","workload_kind":"Node"},"count":4,"node_name":"gke-n1","timestamp":"2020-06-13T21:30:22.292379064Z"}"#;

    #[test]
    fn node_file_lines_and_entries_are_read_fast_and_odd_ones_left_to_serde() {
        let (_, entry) = super::scan(LINE.as_bytes()).expect("a node-file line is read fast");
        assert!(
            entry.described().expect("no resource to fail").is_none(),
            "a node-file line has no envelope"
        );
        let entry = format!(
            r#"{{"insertId":"x","jsonPayload":{LINE},"logName":"projects/p/logs/policy-action","resource":{{"type":"k8s_node","labels":{{"node_name":"gke-n2","zone":"z"}}}},"labels":{{"a":"1"}}}}"#
        );
        let (_, envelope) = super::scan(entry.as_bytes()).expect("an entry is read fast");
        assert_eq!(envelope.insert_id().as_deref(), Some("x"));
        let described = envelope
            .described()
            .expect("a resource")
            .expect("an envelope");
        let described = (*described).as_ref().expect("a resource");
        assert_eq!(described.node.as_deref(), Some("gke-n2"));
        let info = &described.info;
        assert_eq!(info.log_id.as_deref(), Some("policy-action"));
        assert_eq!(info.resource_labels.len(), 2);
        assert_eq!(info.labels["a"], "1");
        // The resource and labels are kept as text whatever their shape, and described as
        // the serde decoder describes them; an insert id of another shape is left to serde.
        let origin = || crate::flow::Origin {
            input: "t".into(),
            line: 1,
        };
        for (odd, read_fast) in [
            (entry.replace(r#""zone":"z""#, r#""zone":3"#), true),
            (
                entry.replace(r#""labels":{"a":"1"}"#, r#""labels":null"#),
                true,
            ),
            (
                entry.replace(r#""type":"k8s_node""#, r#""type":"k8s_node","type":"x""#),
                true,
            ),
            (entry.replace(r#""insertId":"x""#, r#""insertId":7"#), false),
        ] {
            assert_eq!(super::scan(odd.as_bytes()).is_some(), read_fast, "{odd}");
            if let Ok(fast) = super::super::decode_fast(odd.as_bytes(), origin()) {
                let general = super::super::decode_general(odd.as_bytes(), origin());
                assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{odd}");
            }
        }
        let null_payload = r#"{"jsonPayload":null,"connection":{}}"#;
        assert!(super::scan(null_payload.as_bytes()).is_none());
        for odd in [
            LINE.replace("\"count\":4", "\"count\":null"),
            LINE.replace("\"deny\"", "\"d\\u0065ny\""),
            LINE.replace("\"count\":4", "\"count\":4,\"count\":5"),
            LINE.replace("2020-06-13T21:30:22.292379064Z", "noon"),
            LINE[..LINE.len() - 1].to_string(),
        ] {
            assert!(super::scan(odd.as_bytes()).is_none(), "{odd}");
        }
    }
}
