//! The fast path for Calico flow documents (`flows.log` lines, Linseed items): reads the
//! fields a [`Document`] holds straight from the line and skips the rest, then hands the
//! document to the same conversion as the serde decoder.
//!
//! A document is left to serde ([`Unusual`]) when it is an Elasticsearch hit (`_source`),
//! holds a key or a read string with an escape, a repeated key, a value of an unexpected type,
//! a counter or time the serde decoder might read otherwise, or anything that is not valid
//! JSON. `null` is read as serde reads it: an absent value. The document is built with every
//! field named, so a field added to it does not compile until this path reads it.

use serde_json::Value;

use super::Document;
use crate::ingest::scan::{once, Scan, Scanner, Unusual};
use crate::ingest::value::{scan_raw_text, Text, TimeValue, U64Value};

/// Reads one document, or `None` when it is left to the serde decoder.
pub(super) fn scan(line: &[u8]) -> Option<Document<'_>> {
    let text = std::str::from_utf8(line).ok()?;
    let mut s = Scanner::new(text);
    let document = document(&mut s).ok()?;
    s.end().ok()?;
    Some(document)
}

/// The string fields, in the order of [`text_field`].
const TEXT_FIELDS: usize = 16;

/// Where a string field goes among the [`TEXT_FIELDS`], or `None` for another key.
fn text_field(key: &str) -> Option<usize> {
    Some(match key {
        "host" => 0,
        "action" => 1,
        "reporter" => 2,
        "proto" => 3,
        "source_ip" => 4,
        "dest_ip" => 5,
        "source_name" => 6,
        "dest_name" => 7,
        "source_name_aggr" => 8,
        "dest_name_aggr" => 9,
        "source_namespace" => 10,
        "dest_namespace" => 11,
        "source_type" => 12,
        "dest_type" => 13,
        "dest_service_namespace" => 14,
        "dest_service_name" => 15,
        _ => return None,
    })
}

/// The counters, in the order of [`counter_field`].
const COUNTERS: usize = 8;

/// Where a counter goes among the [`COUNTERS`], or `None` for another key.
fn counter_field(key: &str) -> Option<usize> {
    Some(match key {
        "source_port" => 0,
        "dest_port" => 1,
        "bytes_in" => 2,
        "bytes_out" => 3,
        "packets_in" => 4,
        "packets_out" => 5,
        "num_flows" => 6,
        "num_flows_started" => 7,
        _ => return None,
    })
}

/// Bits of the keys seen: the strings, then the counters, then the fields below.
const COUNTER_BIT: u32 = TEXT_FIELDS as u32;
const OTHER_BIT: u32 = COUNTER_BIT + COUNTERS as u32;

fn document<'a>(s: &mut Scanner<'a>) -> Scan<Document<'a>> {
    let mut texts: [Option<Text<'a>>; TEXT_FIELDS] = Default::default();
    let mut counters: [Option<U64Value>; COUNTERS] = [None; COUNTERS];
    let (mut start_time, mut end_time) = (None, None);
    let (mut source_labels, mut dest_labels, mut policies) = (None, None, None);
    let mut dest_domains = None;
    let mut seen = 0u64;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        if let Some(at) = text_field(key) {
            once(&mut seen, at as u32)?;
            texts[at] = s.optional(Text::scan)?;
            continue;
        }
        if let Some(at) = counter_field(key) {
            once(&mut seen, COUNTER_BIT + at as u32)?;
            counters[at] = s.optional(U64Value::scan)?;
            continue;
        }
        match key {
            "start_time" => {
                once(&mut seen, OTHER_BIT)?;
                start_time = s.optional(TimeValue::scan)?;
            }
            "end_time" => {
                once(&mut seen, OTHER_BIT + 1)?;
                end_time = s.optional(TimeValue::scan)?;
            }
            "source_labels" => {
                once(&mut seen, OTHER_BIT + 2)?;
                source_labels = scan_raw_text(s)?;
            }
            "dest_labels" => {
                once(&mut seen, OTHER_BIT + 3)?;
                dest_labels = scan_raw_text(s)?;
            }
            "policies" => {
                once(&mut seen, OTHER_BIT + 4)?;
                policies = scan_raw_text(s)?;
            }
            "dest_domains" => {
                once(&mut seen, OTHER_BIT + 5)?;
                dest_domains = s.optional(domains)?;
            }
            // An Elasticsearch hit: its document is decoded on its own, by serde.
            "_source" => return Err(Unusual),
            _ => s.skip()?,
        }
    }
    let [host, action, reporter, proto, source_ip, dest_ip, source_name, dest_name, source_name_aggr, dest_name_aggr, source_namespace, dest_namespace, source_type, dest_type, dest_service_namespace, dest_service_name] =
        texts;
    let [source_port, dest_port, bytes_in, bytes_out, packets_in, packets_out, num_flows, num_flows_started] =
        counters;
    Ok(Document {
        source: None,
        start_time,
        end_time,
        host,
        action,
        reporter,
        proto,
        source_ip,
        dest_ip,
        source_port,
        dest_port,
        source_name,
        dest_name,
        source_name_aggr,
        dest_name_aggr,
        source_namespace,
        dest_namespace,
        source_type,
        dest_type,
        source_labels,
        dest_labels,
        dest_service_namespace,
        dest_service_name,
        dest_domains,
        policies,
        bytes_in,
        bytes_out,
        packets_in,
        packets_out,
        num_flows,
        num_flows_started,
    })
}

/// `dest_domains` as serde reads it into a `Value`, for the shapes Calico writes: a list of
/// strings, or one string.
fn domains(s: &mut Scanner<'_>) -> Scan<Value> {
    if s.next_byte()? == b'"' {
        return Ok(Value::String(s.string()?.to_string()));
    }
    let mut names = Vec::new();
    let mut items = s.array()?;
    while s.item(&mut items)? {
        names.push(Value::String(s.string()?.to_string()));
    }
    Ok(Value::Array(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"start_time":1795201500,"end_time":1795201800,"source_ip":"10.100.16.129","source_name":"worker-296c55870-f6a3f","source_name_aggr":"worker-296c55870-*","source_namespace":"ns-025","source_port":null,"source_type":"wep","source_labels":{"labels":["app=worker"]},"dest_ip":"10.100.4.0","dest_name":"svc02-354b59e2d-512d1","dest_name_aggr":"svc02-354b59e2d-*","dest_namespace":"ns-024","dest_port":10074,"dest_type":"wep","dest_labels":{"labels":["app=svc02"]},"dest_service_namespace":"-","dest_service_name":"-","dest_service_port":"-","dest_service_port_num":null,"dest_domains":["db.example.com"],"proto":"tcp","action":"allow","reporter":"dst","policies":{"enforced_policies":["0|default|ns-024/knp.default.svc02-ingress|allow|0"]},"bytes_in":12844,"bytes_out":"62098","num_flows":1,"num_flows_started":5,"num_flows_completed":1,"packets_in":10,"packets_out":9,"host":"node-24","@timestamp":1795201800000}"#;

    #[test]
    fn documents_are_read_fast_and_odd_ones_left_to_serde() {
        let d = scan(LINE.as_bytes()).expect("a Felix document is read fast");
        assert_eq!(d.host.as_deref(), Some("node-24"));
        assert_eq!(d.source_port.map(|p| p.0), None);
        assert_eq!(d.dest_port.map(|p| p.0), Some(10074));
        assert_eq!(d.bytes_out.map(|p| p.0), Some(62098));
        assert_eq!(d.source_labels, Some(r#"{"labels":["app=worker"]}"#));
        assert!(d.policies.is_some_and(|p| p.contains("svc02-ingress")));
        assert_eq!(d.dest_domains, Some(serde_json::json!(["db.example.com"])));
        for odd in [
            LINE.replace(r#""host":"node-24""#, r#""host":"node\u002d24""#),
            LINE.replace(r#""host":"node-24""#, r#""host":"node-24","host":"x""#),
            LINE.replace(r#""dest_port":10074"#, r#""dest_port":10074.0"#),
            LINE.replace(r#""bytes_out":"62098""#, r#""bytes_out":"+62098""#),
            LINE.replace(r#""proto":"tcp""#, r#""proto":6"#),
            LINE.replace(r#"["db.example.com"]"#, r#"[1]"#),
            format!(r#"{{"_source":{LINE}}}"#),
            LINE[..LINE.len() - 1].to_string(),
        ] {
            assert!(scan(odd.as_bytes()).is_none(), "{odd}");
        }
    }
}
