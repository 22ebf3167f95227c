//! The text `calico-node -flows` prints (Calico OSS 3.30+, for users without Goldmane or
//! Whisker storage): Goldmane flows, one record over several lines — a line opening with
//! `- Time=… Reporter=… Action=…`, then indented `Src=… Dst=… Proto=…`, `Counts=…
//! Connections=…`, and the `Enforced:` and `Pending:` policy hits in protobuf text form.
//!
//! Each line is handed on as a [`Record::Line`]; the reader joins a record's lines in order and
//! [`decode`] reads them as the Goldmane flow they print, through the Goldmane decoder (same
//! endpoints, same policy hits, same end-of-tier trigger), so nothing is decided twice.

use serde_json::{json, Map, Value};

use super::goldmane;
use super::record::Record;
use super::text::{as_text, preview};
use crate::flow::Origin;
use crate::format::Format;

/// How a record opens.
const OPENS: &str = "- Time=";

/// Says why a text line looks like the start of a `calico-node -flows` record, or `None`.
pub(crate) fn sniff_line(line: &str) -> Option<String> {
    (line.starts_with(OPENS) && line.contains(" Reporter=") && line.contains(" Action=")).then(
        || {
            "is \"- Time=… Reporter=… Action=…\": a calico-node -flows record \
             (calico-node-flows)"
                .to_string()
        },
    )
}

/// One line, for the reader to join with the others of its record.
pub fn line(bytes: &[u8]) -> Record {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Record::Blank;
    }
    Record::Line {
        opens: trimmed.starts_with(OPENS.as_bytes()),
        text: trimmed.into(),
    }
}

/// Decodes one whole record (its lines joined by `\n`).
pub fn decode(block: &[u8], origin: Origin) -> Record {
    let flow = as_text(block).and_then(to_goldmane);
    match flow {
        Ok(item) => match goldmane::decode(item.to_string().as_bytes(), origin) {
            Record::Flow(mut flow, report) => {
                flow.format = Format::CalicoNodeFlows;
                Record::Flow(flow, report)
            }
            other => other,
        },
        Err(cause) => Record::Skip(cause),
    }
}

/// The record as the flat (Whisker-style) Goldmane flow it prints.
fn to_goldmane(text: &str) -> Result<Value, String> {
    let mut lines = text.lines().map(str::trim);
    let header = lines
        .next()
        .and_then(|l| l.strip_prefix(OPENS))
        .ok_or_else(|| {
            format!(
                "expected a record opening with \"- Time=\", found {}",
                preview(text)
            )
        })?;
    let (time, rest) = header.split_once(" Reporter=").ok_or_else(|| {
        format!(
            "expected Reporter= after the time, found {}",
            preview(header)
        )
    })?;
    let (reporter, action) = rest.split_once(" Action=").ok_or_else(|| {
        format!(
            "expected Action= after the reporter, found {}",
            preview(rest)
        )
    })?;
    let mut item = Map::new();
    item.insert("start_time".into(), json!(go_time(time)?));
    item.insert("reporter".into(), json!(reporter.trim()));
    item.insert("action".into(), json!(action.trim()));
    let mut section = "";
    let mut enforced: Vec<Value> = Vec::new();
    let mut pending: Vec<Value> = Vec::new();
    for line in lines {
        if line.starts_with("Src=") {
            endpoints(line, &mut item)?;
        } else if line.starts_with("Counts=") {
            counts(line, &mut item)?;
        } else if line == "Enforced:" || line == "Pending:" {
            section = line;
        } else if let Some(hits) = line.strip_prefix("- ") {
            let list = match section {
                "Enforced:" => &mut enforced,
                "Pending:" => &mut pending,
                _ => continue,
            };
            // Several hits of one heading are printed on one line, each after `- `.
            for hit in hits.split("  - ") {
                list.push(policy_hit(hit.trim().trim_start_matches("- "))?);
            }
        } else {
            return Err(format!(
                "an unexpected line in a calico-node record: {}",
                preview(line)
            ));
        }
    }
    item.insert(
        "policies".into(),
        json!({ "enforced_policies": enforced, "pending_policies": pending }),
    );
    Ok(Value::Object(item))
}

/// Go's `time.Time.String()`: `2025-04-11 21:50:58.123 +0000 UTC` (maybe with a monotonic
/// `m=+…` reading), as RFC 3339.
fn go_time(text: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let parsed = match words.as_slice() {
        [date, time, offset, ..] => chrono::DateTime::parse_from_str(
            &format!("{date} {time} {offset}"),
            "%Y-%m-%d %H:%M:%S%.f %z",
        )
        .ok(),
        _ => None,
    };
    parsed.map(|t| t.to_rfc3339()).ok_or_else(|| {
        format!("the record's time {text:?} is not a Go time (2006-01-02 15:04:05 -0700 MST)")
    })
}

/// `Src={wep(ns/name)} Dst={wep(ns/name) Svc:a/b} Proto={udp(53) Svc:dns/53}`, or the older
/// `Src=wep(ns/name) Dst=wep(ns/name) Svc=a/b Proto=udp(53 svc:dns/53)`.
fn endpoints(line: &str, item: &mut Map<String, Value>) -> Result<(), String> {
    let field = |name: &str| -> Option<&str> {
        let start = line.find(&format!("{name}="))? + name.len() + 1;
        let rest = &line[start..];
        let end = if rest.starts_with('{') {
            rest.find('}').map_or(rest.len(), |i| i + 1)
        } else {
            rest.find(' ').map_or(rest.len(), |i| i)
        };
        Some(rest[..end].trim_start_matches('{').trim_end_matches('}'))
    };
    let src = field("Src").ok_or_else(|| format!("expected Src=, found {}", preview(line)))?;
    let dst = field("Dst").ok_or_else(|| format!("expected Dst=, found {}", preview(line)))?;
    let proto =
        field("Proto").ok_or_else(|| format!("expected Proto=, found {}", preview(line)))?;
    let (src_type, src_ns, src_name) = endpoint(src)?;
    let (dst_type, dst_ns, dst_name) = endpoint(dst)?;
    item.insert("source_type".into(), json!(src_type));
    item.insert("source_namespace".into(), json!(src_ns));
    item.insert("source_name".into(), json!(src_name));
    item.insert("dest_type".into(), json!(dst_type));
    item.insert("dest_namespace".into(), json!(dst_ns));
    item.insert("dest_name".into(), json!(dst_name));
    // The Service: `Svc:a/b` inside Dst, or `Svc=a/b`; printed name/namespace in one release,
    // namespace/name in another: the half that is the destination's namespace is the namespace.
    let service = dst
        .split_once(" Svc:")
        .map(|(_, s)| s)
        .or_else(|| field("Svc"));
    if let Some((a, b)) = service.and_then(|s| s.trim().split_once('/')) {
        let (ns, name) = if a == dst_ns && b != dst_ns {
            (a, b)
        } else {
            (b, a)
        };
        if ns != "-" && name != "-" && !ns.is_empty() && !name.is_empty() {
            item.insert("dest_service_namespace".into(), json!(ns));
            item.insert("dest_service_name".into(), json!(name));
        }
    }
    // `udp(53) Svc:dns/53` or `udp(53 svc:dns/53)`.
    let (protocol, port) = proto
        .split_once('(')
        .map(|(p, rest)| (p, rest.split([')', ' ']).next().unwrap_or("")))
        .ok_or_else(|| {
            format!(
                "expected Proto=<protocol>(<port>), found {}",
                preview(proto)
            )
        })?;
    item.insert("proto".into(), json!(protocol.trim()));
    if let Ok(port) = port.trim().parse::<u64>() {
        item.insert("dest_port".into(), json!(port));
    } else if !port.trim().is_empty() {
        return Err(format!("the destination port {port:?} is not a number"));
    }
    Ok(())
}

/// `wep(ns/name)`: the endpoint type as Goldmane names it, its namespace and name.
fn endpoint(text: &str) -> Result<(&'static str, String, String), String> {
    let text = text.split(" Svc:").next().unwrap_or(text).trim();
    let (kind, rest) = text.split_once('(').ok_or_else(|| {
        format!(
            "expected <type>(<namespace>/<name>), found {}",
            preview(text)
        )
    })?;
    let inner = rest.strip_suffix(')').unwrap_or(rest);
    let (ns, name) = inner.split_once('/').unwrap_or(("-", inner));
    let kind = match kind.trim() {
        "wep" => "WorkloadEndpoint",
        "hep" => "HostEndpoint",
        "ns" => "NetworkSet",
        "net" => "Network",
        _ => "EndpointTypeUnspecified",
    };
    let dash = |s: &str| {
        if s == "-" {
            String::new()
        } else {
            s.to_string()
        }
    };
    Ok((kind, dash(ns), dash(name)))
}

/// `Counts={Ingress: 12Pkts/1818Bytes Egress:12Pkts/960Bytes} Connections={Started:6 …}`.
fn counts(line: &str, item: &mut Map<String, Value>) -> Result<(), String> {
    let braced = |name: &str| -> Option<&str> {
        let start = line.find(&format!("{name}={{"))? + name.len() + 2;
        let rest = &line[start..];
        Some(&rest[..rest.find('}').unwrap_or(rest.len())])
    };
    if let Some(counts) = braced("Counts") {
        let (ingress, egress) = counts.split_once("Egress:").unwrap_or((counts, ""));
        let ingress = ingress.trim().trim_start_matches("Ingress:");
        for (side, packets, bytes) in [
            (ingress, "packets_in", "bytes_in"),
            (egress, "packets_out", "bytes_out"),
        ] {
            // `12Pkts/1818Bytes`
            let Some((p, b)) = side.trim().split_once('/') else {
                continue;
            };
            let number = |text: &str, unit: &str| -> Result<u64, String> {
                let digits = text.trim().strip_suffix(unit).unwrap_or(text).trim();
                digits
                    .parse()
                    .map_err(|_| format!("the count {text:?} is not a number of {unit}"))
            };
            item.insert(packets.into(), json!(number(p, "Pkts")?));
            item.insert(bytes.into(), json!(number(b, "Bytes")?));
        }
    }
    if let Some(connections) = braced("Connections") {
        for (label, key) in [
            ("Started", "num_connections_started"),
            ("Completed", "num_connections_completed"),
            ("Live", "num_connections_live"),
        ] {
            let value = connections
                .split_whitespace()
                .find_map(|field| field.strip_prefix(label)?.strip_prefix(':'));
            if let Some(value) = value {
                let n: u64 = value
                    .parse()
                    .map_err(|_| format!("Connections {label} {value:?} is not a number"))?;
                item.insert(key.into(), json!(n));
            }
        }
    }
    Ok(())
}

/// A policy hit in protobuf text form: `kind:NetworkPolicy namespace:"ns" name:"n" tier:"t"
/// action:Deny policy_index:1 rule_index:-1 trigger:{kind:… name:"…"}`.
fn policy_hit(text: &str) -> Result<Value, String> {
    let mut hit = Map::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once(':').ok_or_else(|| {
            format!(
                "expected key:value in a policy hit, found {}",
                preview(rest)
            )
        })?;
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| format!("an unclosed string in a policy hit: {}", preview(after)))?;
            (json!(&quoted[..end]), &quoted[end + 1..])
        } else if let Some(nested) = after.strip_prefix('{') {
            let end = nested.rfind('}').ok_or_else(|| {
                format!("an unclosed trigger in a policy hit: {}", preview(after))
            })?;
            (policy_hit(&nested[..end])?, &nested[end + 1..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            let word = &after[..end];
            let value = word
                .parse::<i64>()
                .map_or_else(|_| json!(word), |n| json!(n));
            (value, &after[end..])
        };
        hit.insert(key.trim().to_string(), value);
        rest = next.trim_start();
    }
    Ok(Value::Object(hit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, Direction, Protocol};
    use std::sync::Arc;

    fn flow(text: &str) -> crate::flow::Flow {
        let origin = Origin {
            input: Arc::from("flows.txt"),
            line: 1,
        };
        match decode(text.as_bytes(), origin) {
            Record::Flow(f, _) => *f,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn a_deny_names_the_policy_whose_tier_ended() {
        let f = flow(concat!(
            "- Time=2025-06-01 10:00:00.5 +0200 CEST m=+12.5 Reporter=Dst Action=Deny\n",
            "Src={wep(storefront/shopper-7d9c-*)} Dst={wep(payments/ledger-*) Svc:payments/ledger} Proto={tcp(8080) Svc:http/8080}\n",
            "Counts={Ingress: 3Pkts/180Bytes Egress:0Pkts/0Bytes} Connections={Started:3 Completed:0 Live:0}\n",
            "Enforced:\n",
            "- kind:EndOfTier tier:\"default\" action:Deny policy_index:1 rule_index:-1 trigger:{kind:NetworkPolicy namespace:\"payments\" name:\"ledger-isolation\" tier:\"default\"}\n",
            "Pending:\n",
            "- kind:EndOfTier tier:\"default\" action:Deny rule_index:-1",
        ));
        assert_eq!(
            (f.action, f.direction),
            (Action::Denied, Direction::Ingress)
        );
        assert_eq!(
            f.time.unwrap().to_rfc3339(),
            "2025-06-01T08:00:00.500+00:00"
        );
        assert_eq!(f.policies[0].to_string(), "payments/ledger-isolation");
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("end of tier default: no rule matched (default deny)")
        );
        assert_eq!(
            (f.protocol, f.dst.port, f.count),
            (Protocol::Tcp, Some(8080), 3)
        );
        assert_eq!(f.dst.service.as_ref().unwrap().name, "ledger");
        assert_eq!(f.src.identity.to_string(), "storefront/shopper-7d9c-*");
        assert_eq!(f.format, Format::CalicoNodeFlows);
    }

    #[test]
    fn the_older_layout_without_braces_reads_too() {
        let f = flow(concat!(
            "- Time=2025-04-01 09:00:00 +0000 UTC Reporter=Src Action=Allow\n",
            "Src=wep(default/web-*) Dst=net(-/pub) Svc=-/- Proto=tcp(443 svc:-/0)\n",
            "Counts={Ingress: 1Pkts/60Bytes Egress:2Pkts/120Bytes} Connections={Started:1 Completed:1 Live:0}\n",
            "Enforced:\n",
            "- kind:CalicoNetworkPolicy namespace:\"default\" name:\"allow-out\" tier:\"default\" action:Allow  - kind:GlobalNetworkPolicy name:\"audit\" tier:\"security\" action:Allow policy_index:1",
        ));
        assert_eq!(
            (f.action, f.direction),
            (Action::Allowed, Direction::Egress)
        );
        assert_eq!(f.dst.port, Some(443));
        assert!(f.dst.service.is_none());
        assert_eq!(f.policies.len(), 2, "{:?}", f.policies);
        assert_eq!((f.packets, f.bytes), (Some(3), Some(180)));
    }

    #[test]
    fn broken_records_are_skips_saying_why() {
        let origin = || Origin {
            input: Arc::from("t"),
            line: 1,
        };
        let skip = |t: &str| match decode(t.as_bytes(), origin()) {
            Record::Skip(c) => c,
            other => panic!("{other:?}"),
        };
        assert!(skip("- Time=noon Reporter=Src Action=Allow").contains("not a Go time"));
        assert!(skip("- Time=2025-04-01 09:00:00 +0000 UTC Action=Allow").contains("Reporter="));
        assert!(
            skip("- Time=2025-04-01 09:00:00 +0000 UTC Reporter=Src Action=Allow\nwhat")
                .contains("unexpected line")
        );
        assert!(matches!(
            line(b"  Enforced:"),
            Record::Line { opens: false, .. }
        ));
        assert!(matches!(
            line(b"- Time=x"),
            Record::Line { opens: true, .. }
        ));
    }
}
