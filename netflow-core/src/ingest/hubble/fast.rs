//! The fast path for Hubble records: a scanner written for the one shape nearly every line of a
//! Hubble log has — `{"flow":{…},"node_name":…,"time":…}` — that reads the fields a [`RawFlow`]
//! holds straight from the line's bytes (strings borrowed, no `serde_json` machinery, no
//! per-field dispatch through visitors) and skips every other value structurally.
//!
//! It fills the same [`RawFlow`] the serde decoder fills and hands it to the same conversion,
//! so the [`Flow`](crate::flow::Flow) cannot differ by construction where it reads a record;
//! and it reads a record only when it reads it exactly as serde would. Anything else is
//! [`Unusual`] and goes to the serde decoder: a line that is not UTF-8, a key or a kept string
//! with an escape, `null`, a number that is not a plain integer where one is kept, a value of
//! an unexpected type, a repeated key (serde rejects it, aliases included), a top-level key
//! other than `flow`/`node_name`/`time` (exporter events, losses, bare flows), an `l7` record,
//! or any JSON error. Every struct is built with all its fields named (no `..Default`), so a
//! field added to [`RawFlow`] or its parts does not compile until this path reads it or leaves
//! such records to serde.

use std::borrow::Cow;

use super::{
    Lenient, RawAggregate, RawEmitter, RawEndpoint, RawEventType, RawFlow, RawIcmp, RawInterface,
    RawIp, RawL4, RawPolicy, RawPorts, RawService, RawTcpFlags, RawWorkload, Text,
};
use crate::ingest::scan::{once, Scan, Scanner, Unusual};
use crate::ingest::value::{EnumValue, U64Value};

/// What the fast path reads from one line: the flow, and the wrapper's node and time.
pub(super) type Scanned<'a> = (RawFlow<'a>, Option<Text<'a>>, Option<Text<'a>>);

/// Reads one trimmed line of a `hubble observe`/exporter flow record, or `None` when the line
/// is left to the serde decoder.
pub(super) fn scan(line: &[u8]) -> Option<Scanned<'_>> {
    let text = std::str::from_utf8(line).ok()?;
    envelope(&mut Scanner::new(text)).ok()
}

fn envelope<'a>(s: &mut Scanner<'a>) -> Scan<Scanned<'a>> {
    let (mut flow, mut node, mut time) = (None, None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "flow" => {
                once(&mut seen, 0)?;
                flow = Some(raw_flow(s)?);
            }
            "node_name" | "nodeName" => {
                once(&mut seen, 1)?;
                node = Some(Text::scan(s)?);
            }
            "time" => {
                once(&mut seen, 2)?;
                time = Some(Text::scan(s)?);
            }
            _ => return Err(Unusual),
        }
    }
    s.end()?;
    Ok((flow.ok_or(Unusual)?, node, time))
}

fn raw_flow<'a>(s: &mut Scanner<'a>) -> Scan<RawFlow<'a>> {
    let mut time = None;
    let mut verdict = None;
    let mut drop_reason_desc = None;
    let mut drop_reason = None;
    let mut ip = None;
    let mut l4 = None;
    let mut source = None;
    let mut destination = None;
    let mut node_name = None;
    let mut event_type = None;
    let mut trace_observation_point = Lenient(None);
    let mut traffic_direction = None;
    let mut is_reply = None;
    let mut reply = None;
    let mut source_service = None;
    let mut destination_service = None;
    let mut egress_allowed_by = None;
    let mut ingress_allowed_by = None;
    let mut egress_denied_by = None;
    let mut ingress_denied_by = None;
    let mut aggregate = None;
    let mut emitter = Lenient(None);
    let mut uuid = None;
    let mut trace_reason = Lenient(None);
    let mut interface = Lenient(None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "time" => {
                once(&mut seen, 0)?;
                time = Some(Text::scan(s)?);
            }
            "verdict" => {
                once(&mut seen, 1)?;
                verdict = Some(enum_value(s)?);
            }
            "drop_reason_desc" | "dropReasonDesc" => {
                once(&mut seen, 2)?;
                drop_reason_desc = Some(enum_value(s)?);
            }
            "drop_reason" | "dropReason" => {
                once(&mut seen, 3)?;
                drop_reason = Some(s.u64()?);
            }
            "IP" => {
                once(&mut seen, 4)?;
                ip = Some(raw_ip(s)?);
            }
            "l4" => {
                once(&mut seen, 5)?;
                l4 = Some(raw_l4(s)?);
            }
            "source" => {
                once(&mut seen, 6)?;
                source = Some(raw_endpoint(s)?);
            }
            "destination" => {
                once(&mut seen, 7)?;
                destination = Some(raw_endpoint(s)?);
            }
            "node_name" | "nodeName" => {
                once(&mut seen, 8)?;
                node_name = Some(Text::scan(s)?);
            }
            "event_type" | "eventType" => {
                once(&mut seen, 9)?;
                event_type = Some(raw_event_type(s)?);
            }
            "trace_observation_point" | "traceObservationPoint" => {
                once(&mut seen, 10)?;
                trace_observation_point = Lenient(Some(enum_value(s)?));
            }
            "traffic_direction" | "trafficDirection" => {
                once(&mut seen, 11)?;
                traffic_direction = Some(enum_value(s)?);
            }
            "is_reply" | "isReply" => {
                once(&mut seen, 12)?;
                is_reply = Some(s.bool()?);
            }
            "reply" => {
                once(&mut seen, 13)?;
                reply = Some(s.bool()?);
            }
            "source_service" | "sourceService" => {
                once(&mut seen, 14)?;
                source_service = Some(raw_service(s)?);
            }
            "destination_service" | "destinationService" => {
                once(&mut seen, 15)?;
                destination_service = Some(raw_service(s)?);
            }
            "egress_allowed_by" | "egressAllowedBy" => {
                once(&mut seen, 16)?;
                egress_allowed_by = Some(raw_policies(s)?);
            }
            "ingress_allowed_by" | "ingressAllowedBy" => {
                once(&mut seen, 17)?;
                ingress_allowed_by = Some(raw_policies(s)?);
            }
            "egress_denied_by" | "egressDeniedBy" => {
                once(&mut seen, 18)?;
                egress_denied_by = Some(raw_policies(s)?);
            }
            "ingress_denied_by" | "ingressDeniedBy" => {
                once(&mut seen, 19)?;
                ingress_denied_by = Some(raw_policies(s)?);
            }
            "aggregate" => {
                once(&mut seen, 20)?;
                aggregate = Some(raw_aggregate(s)?);
            }
            "emitter" => {
                once(&mut seen, 21)?;
                emitter = Lenient(Some(raw_emitter(s)?));
            }
            "uuid" => {
                once(&mut seen, 22)?;
                uuid = Some(Text::scan(s)?);
            }
            "trace_reason" | "traceReason" => {
                once(&mut seen, 23)?;
                trace_reason = Lenient(Some(enum_value(s)?));
            }
            "interface" => {
                once(&mut seen, 24)?;
                interface = Lenient(Some(raw_interface(s)?));
            }
            // An L7 record is rare, and its payload is where new fields are most likely to be
            // read from: serde decodes it.
            "l7" => return Err(Unusual),
            _ => s.skip()?,
        }
    }
    Ok(RawFlow {
        time,
        verdict,
        drop_reason_desc,
        drop_reason,
        ip,
        l4,
        source,
        destination,
        node_name,
        event_type,
        trace_observation_point,
        l7: Lenient(None),
        uuid,
        trace_reason,
        interface,
        traffic_direction,
        is_reply,
        reply,
        source_service,
        destination_service,
        egress_allowed_by,
        ingress_allowed_by,
        egress_denied_by,
        ingress_denied_by,
        aggregate,
        emitter,
    })
}

fn cow<'a>(s: &mut Scanner<'a>) -> Scan<Cow<'a, str>> {
    Ok(Cow::Borrowed(s.string()?))
}

/// An enum as a name, or as a non-negative number (serde's `EnumValue` clamps it to `i64`).
fn enum_value(s: &mut Scanner<'_>) -> Scan<EnumValue> {
    match s.next_byte()? {
        b'"' => Ok(EnumValue::Name(s.string()?.to_string())),
        b'0'..=b'9' => Ok(EnumValue::Number(s.u64()?.min(i64::MAX as u64) as i64)),
        _ => Err(Unusual),
    }
}

fn raw_ip<'a>(s: &mut Scanner<'a>) -> Scan<RawIp<'a>> {
    let (mut source, mut destination) = (None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "source" => {
                once(&mut seen, 0)?;
                source = Some(Text::scan(s)?);
            }
            "destination" => {
                once(&mut seen, 1)?;
                destination = Some(Text::scan(s)?);
            }
            _ => s.skip()?,
        }
    }
    Ok(RawIp {
        source,
        destination,
    })
}

fn raw_l4(s: &mut Scanner<'_>) -> Scan<RawL4> {
    let (mut tcp, mut udp, mut sctp) = (None, None, None);
    let (mut icmpv4, mut icmpv6) = (None, None);
    let (mut vrrp, mut igmp) = (None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "TCP" => {
                once(&mut seen, 0)?;
                tcp = Some(raw_ports(s)?);
            }
            "UDP" => {
                once(&mut seen, 1)?;
                udp = Some(raw_ports(s)?);
            }
            "SCTP" => {
                once(&mut seen, 2)?;
                sctp = Some(raw_ports(s)?);
            }
            "ICMPv4" => {
                once(&mut seen, 3)?;
                icmpv4 = Some(raw_icmp(s)?);
            }
            "ICMPv6" => {
                once(&mut seen, 4)?;
                icmpv6 = Some(raw_icmp(s)?);
            }
            "VRRP" => {
                once(&mut seen, 5)?;
                vrrp = Some(present(s)?);
            }
            "IGMP" => {
                once(&mut seen, 6)?;
                igmp = Some(present(s)?);
            }
            _ => s.skip()?,
        }
    }
    Ok(RawL4 {
        tcp,
        udp,
        sctp,
        icmpv4,
        icmpv6,
        vrrp,
        igmp,
    })
}

/// A value whose presence is all that is read (`null` would be absence: left to serde).
fn present(s: &mut Scanner<'_>) -> Scan<serde::de::IgnoredAny> {
    if s.next_byte()? == b'n' {
        return Err(Unusual);
    }
    s.skip()?;
    Ok(serde::de::IgnoredAny)
}

fn raw_ports(s: &mut Scanner<'_>) -> Scan<RawPorts> {
    let (mut source_port, mut destination_port) = (None, None);
    let mut flags = Lenient(None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "source_port" | "sourcePort" => {
                once(&mut seen, 0)?;
                source_port = Some(U64Value::scan(s)?);
            }
            "destination_port" | "destinationPort" => {
                once(&mut seen, 1)?;
                destination_port = Some(U64Value::scan(s)?);
            }
            "flags" => {
                once(&mut seen, 2)?;
                flags = Lenient(Some(raw_tcp_flags(s)?));
            }
            _ => s.skip()?,
        }
    }
    Ok(RawPorts {
        source_port,
        destination_port,
        flags,
    })
}

fn raw_tcp_flags(s: &mut Scanner<'_>) -> Scan<RawTcpFlags> {
    let mut bits = [false; 9];
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        let bit = match key {
            "FIN" => 0,
            "SYN" => 1,
            "RST" => 2,
            "PSH" => 3,
            "ACK" => 4,
            "URG" => 5,
            "ECE" => 6,
            "CWR" => 7,
            "NS" => 8,
            _ => {
                s.skip()?;
                continue;
            }
        };
        once(&mut seen, bit)?;
        bits[bit as usize] = s.bool()?;
    }
    let [fin, syn, rst, psh, ack, urg, ece, cwr, ns] = bits;
    Ok(RawTcpFlags {
        fin,
        syn,
        rst,
        psh,
        ack,
        urg,
        ece,
        cwr,
        ns,
    })
}

fn raw_icmp(s: &mut Scanner<'_>) -> Scan<RawIcmp> {
    let (mut kind, mut code) = (Lenient(None), Lenient(None));
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "type" => {
                once(&mut seen, 0)?;
                kind = Lenient(Some(s.u32()?));
            }
            "code" => {
                once(&mut seen, 1)?;
                code = Lenient(Some(s.u32()?));
            }
            _ => s.skip()?,
        }
    }
    Ok(RawIcmp { kind, code })
}

/// An endpoint with the text it was read from, by which its identity is shared.
fn raw_endpoint<'a>(s: &mut Scanner<'a>) -> Scan<RawEndpoint<'a>> {
    let (endpoint, text) = s.spanned(endpoint_fields)?;
    Ok(RawEndpoint {
        text: Some(text),
        ..endpoint
    })
}

fn endpoint_fields<'a>(s: &mut Scanner<'a>) -> Scan<RawEndpoint<'a>> {
    let (mut id, mut identity) = (None, None);
    let (mut namespace, mut pod_name) = (Cow::Borrowed(""), Cow::Borrowed(""));
    let (mut labels, mut workloads) = (None, None);
    let mut cluster_name = Cow::Borrowed("");
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "ID" => {
                once(&mut seen, 0)?;
                id = Some(s.u32()?);
            }
            "identity" => {
                once(&mut seen, 1)?;
                identity = Some(s.u32()?);
            }
            "namespace" => {
                once(&mut seen, 2)?;
                namespace = cow(s)?;
            }
            "labels" => {
                once(&mut seen, 3)?;
                let mut list = Vec::with_capacity(8);
                let mut items = s.array()?;
                while s.item(&mut items)? {
                    list.push(Text::scan(s)?);
                }
                labels = Some(list);
            }
            "pod_name" | "podName" => {
                once(&mut seen, 4)?;
                pod_name = cow(s)?;
            }
            "workloads" => {
                once(&mut seen, 5)?;
                let mut list = Vec::new();
                let mut items = s.array()?;
                while s.item(&mut items)? {
                    list.push(raw_workload(s)?);
                }
                workloads = Some(list);
            }
            "cluster_name" | "clusterName" => {
                once(&mut seen, 6)?;
                cluster_name = cow(s)?;
            }
            _ => s.skip()?,
        }
    }
    Ok(RawEndpoint {
        id,
        identity,
        namespace,
        labels,
        pod_name,
        workloads,
        cluster_name,
        text: None,
    })
}

/// The interface of a trace (`{"index":98,"name":"lxc…"}`); anything else about it (a null,
/// a name that is not a string) is left to serde, which reads it leniently.
fn raw_interface(s: &mut Scanner<'_>) -> Scan<RawInterface> {
    let (mut index, mut name) = (None, String::new());
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "index" => {
                once(&mut seen, 0)?;
                index = Some(s.u32()?);
            }
            "name" => {
                once(&mut seen, 1)?;
                name = s.string()?.to_string();
            }
            _ => s.skip()?,
        }
    }
    Ok(RawInterface { index, name })
}

fn raw_workload<'a>(s: &mut Scanner<'a>) -> Scan<RawWorkload<'a>> {
    let [name, kind] = strings(s, ["name", "kind"])?;
    Ok(RawWorkload { name, kind })
}

fn raw_service<'a>(s: &mut Scanner<'a>) -> Scan<RawService<'a>> {
    let [name, namespace] = strings(s, ["name", "namespace"])?;
    Ok(RawService { name, namespace })
}

/// An object of string members, of which those named in `keys` are read (empty when absent)
/// and the rest skipped.
fn strings<'a, const N: usize>(s: &mut Scanner<'a>, keys: [&str; N]) -> Scan<[Cow<'a, str>; N]> {
    let mut values = [const { Cow::Borrowed("") }; N];
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match keys.iter().position(|k| *k == key) {
            Some(i) => {
                once(&mut seen, i as u32)?;
                values[i] = cow(s)?;
            }
            None => s.skip()?,
        }
    }
    Ok(values)
}

fn raw_policies<'a>(s: &mut Scanner<'a>) -> Scan<Vec<RawPolicy<'a>>> {
    let mut list = Vec::new();
    let mut items = s.array()?;
    while s.item(&mut items)? {
        let (mut name, mut namespace, mut kind) =
            (Cow::Borrowed(""), Cow::Borrowed(""), Cow::Borrowed(""));
        let mut seen = 0;
        let mut members = s.object()?;
        while let Some(key) = s.key(&mut members)? {
            match key {
                "name" => {
                    once(&mut seen, 0)?;
                    name = cow(s)?;
                }
                "namespace" => {
                    once(&mut seen, 1)?;
                    namespace = cow(s)?;
                }
                "kind" => {
                    once(&mut seen, 2)?;
                    kind = cow(s)?;
                }
                _ => s.skip()?,
            }
        }
        list.push(RawPolicy {
            name,
            namespace,
            kind,
        });
    }
    Ok(list)
}

fn raw_event_type(s: &mut Scanner<'_>) -> Scan<RawEventType> {
    let (mut kind, mut sub_type) = (None, Lenient(None));
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "type" => {
                once(&mut seen, 0)?;
                kind = Some(s.u32()?);
            }
            "sub_type" | "subType" => {
                once(&mut seen, 1)?;
                sub_type = Lenient(Some(s.u32()?));
            }
            _ => s.skip()?,
        }
    }
    Ok(RawEventType { kind, sub_type })
}

fn raw_aggregate(s: &mut Scanner<'_>) -> Scan<RawAggregate> {
    let mut counts = [None; 3];
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        let at = match key {
            "ingress_flow_count" | "ingressFlowCount" => 0,
            "egress_flow_count" | "egressFlowCount" => 1,
            "unknown_direction_flow_count" | "unknownDirectionFlowCount" => 2,
            _ => {
                s.skip()?;
                continue;
            }
        };
        once(&mut seen, at)?;
        counts[at as usize] = Some(U64Value::scan(s)?);
    }
    let [ingress_flow_count, egress_flow_count, unknown_direction_flow_count] = counts;
    Ok(RawAggregate {
        ingress_flow_count,
        egress_flow_count,
        unknown_direction_flow_count,
    })
}

fn raw_emitter(s: &mut Scanner<'_>) -> Scan<RawEmitter> {
    let (mut name, mut version) = (String::new(), String::new());
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "name" => {
                once(&mut seen, 0)?;
                name = s.string()?.to_string();
            }
            "version" => {
                once(&mut seen, 1)?;
                version = s.string()?.to_string();
            }
            _ => s.skip()?,
        }
    }
    Ok(RawEmitter { name, version })
}

#[cfg(test)]
mod tests {
    fn origin() -> crate::flow::Origin {
        crate::flow::Origin {
            input: std::sync::Arc::from("test"),
            line: 3,
        }
    }

    /// A `hubble observe` line whose flow holds `fields` after its time.
    fn line(fields: &str) -> String {
        format!(
            r#"{{"flow":{{"time":"2024-05-02T08:00:00Z"{fields}}},"node_name":"prod/node-a","time":"2024-05-02T08:00:00Z"}}"#
        )
    }

    /// Whether the fast path reads `text`; when it does, its record must be serde's.
    fn read_fast(text: &str) -> bool {
        match super::super::decode_line_fast(text.as_bytes(), origin()) {
            Ok(fast) => {
                let general = super::super::decode_line_general(text.as_bytes(), origin());
                assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{text}");
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn usual_records_are_read_fast_in_every_spelling() {
        for fields in [
            "",
            r#","verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"}"#,
            // Enums as numbers, 64-bit numbers as strings, camelCase keys.
            r#","verdict":2,"dropReason":133,"l4":{"TCP":{"sourcePort":"41000","destinationPort":"8080"}},"trafficDirection":1"#,
            // Unicode kept as it is, escapes and nesting in values the flow does not keep.
            r#","source":{"namespace":"ünï","pod_name":"caf€-0","labels":["k8s:app=ünï"]},"Summary":"a \"b\" \\ \u00e9""#,
            r#","extensions":{"a":[[1,[2,{"b":[]}]],-1.5e-3,true,null]},"uuid":"x""#,
            // Missing fields are absent, as serde leaves them.
            r#","source":{},"destination":{"labels":[]},"l4":{}"#,
            // Values that make the flow a skip are still the same skip.
            r#","IP":{"source":"10.0.0.300"}"#,
        ] {
            assert!(read_fast(&line(fields)), "{fields}");
        }
        // Whitespace anywhere JSON allows it.
        assert!(read_fast(
            " {\n \"flow\" : { \"verdict\" : \"FORWARDED\" , \"l4\" : { } } \t}\r"
        ));
    }

    #[test]
    fn unusual_records_are_left_to_serde() {
        for fields in [
            // An escape in a string the flow keeps, or in a key.
            r#","node_name":"node\u002da""#,
            r#","verd\u0069ct":"DROPPED""#,
            // A repeated key, also through an alias (serde rejects both).
            r#","verdict":"DROPPED","verdict":"FORWARDED""#,
            r#","is_reply":true,"isReply":false"#,
            // null, numbers that are not plain integers, unexpected types.
            r#","verdict":null"#,
            r#","drop_reason":133.0"#,
            r#","drop_reason":"133""#,
            r#","event_type":{"type":4,"sub_type":-3}"#,
            r#","l4":{"ICMPv6":{"type":"128"}}"#,
            r#","source":{"identity":"2"}"#,
            r#","source":{"labels":["k8s:a=b",3]}"#,
            // An L7 record.
            r#","l7":{"type":"REQUEST"}"#,
        ] {
            assert!(!read_fast(&line(fields)), "{fields}");
        }
        // Not a flow record, not JSON, cut short, or something after the record.
        let whole = line(r#","verdict":"FORWARDED""#);
        for text in [
            r#"{"lost_events":{"source":1,"num_events_lost":"3"}}"#,
            r#"{"node_status":{}}"#,
            r#"{"verdict":"FORWARDED","IP":{"source":"10.0.0.1"}}"#,
            &whole[..whole.len() - 1],
            &whole[..40],
            &format!("{whole} x"),
            &format!("{whole}{whole}"),
            "[]",
        ] {
            assert!(!read_fast(text), "{text}");
        }
        // Bytes that are not UTF-8.
        let mut bytes = whole.into_bytes();
        bytes[20] = 0xff;
        assert!(super::super::decode_line_fast(&bytes, origin()).is_err());
    }
}
