//! The AWS VPC CNI network policy agent's flow lines (EKS, `aws-network-policy-agent`), in the
//! three shapes the agent wrote over its versions:
//!
//! - (a) zap JSON with the tuple in keys (`"msg":"Flow Info:  ","Src IP":…,"Verdict":"DENY"`),
//!   v1.0 to v1.2.1, time in `ts` (or `timestamp` on the first builds); no direction;
//! - (b) zap JSON with the tuple in the message (`Flow Info: Src IP: … Verdict DENY Direction
//!   ingress[, Tier T]`, IPv6 with `Proto: P Verdict: V …`), v1.2.2 on, or that message alone;
//! - (c) the CloudWatch message (`Node: N;SIP: …;PolicyVerdict: V[;Tier: T]`), bare, after the
//!   console's or an S3 export's timestamp, or in an `aws logs` JSON event (`message`,
//!   `timestamp` in epoch milliseconds).
//!
//! Every other line of the agent's log (controller, map updates, conntrack cleanup) is an
//! event, not a skip. `EXPIRED/DELETED` verdicts are conntrack events, not decisions. The lines
//! carry addresses and ports only: who the pods are comes from a snapshot, and the policy from
//! the snapshot's evaluation. Nothing here knows of other formats.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::record::{PacketReport, Record};
use super::text::{as_text, labelled, leading_rfc3339, preview, text_ip, text_port};
use super::value::{TimeValue, U64Value};
use crate::flow::{
    Action, Counting, Direction, Endpoint, Flow, Granularity, Identity, Origin, Protocol,
};
use crate::format::Format;

/// The start of every flow message of the node file (shapes a and b).
const FLOW_INFO: &str = "Flow Info:";

/// The kind of event an agent log line that is not a flow is counted as.
const AGENT_LOG: &str = "agent_log";

/// The kind of event a conntrack expiry (`EXPIRED/DELETED`) is counted as.
const CONNTRACK_EXPIRED: &str = "conntrack_expired";

/// The lowest port of Linux's ephemeral range (`net.ipv4.ip_local_port_range`).
const EPHEMERAL_PORTS: u16 = 32768;

/// Says why a parsed JSON line looks like the agent's log, or `None`.
pub(crate) fn sniff(map: &Map<String, Value>) -> Option<String> {
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    if text("msg").is_some_and(|m| m.trim_start().starts_with(FLOW_INFO)) {
        return Some(
            "\"msg\" is \"Flow Info: …\": an AWS network policy agent flow line \
             (aws-network-policy-agent)"
                .to_string(),
        );
    }
    if text("logger") == Some("ebpf-client") {
        return Some(
            "\"logger\" is \"ebpf-client\": an AWS network policy agent log line \
             (aws-network-policy-agent)"
                .to_string(),
        );
    }
    ["message", "log"]
        .into_iter()
        .find_map(|k| text(k).and_then(sniff_line))
        .map(|why| format!("its \"message\" {why}"))
}

/// Says why a text line looks like one of the agent's messages, or `None`.
pub(crate) fn sniff_line(line: &str) -> Option<String> {
    let line = leading_rfc3339(line).map_or(line, |(_, rest)| rest);
    if line.starts_with(FLOW_INFO) && line.contains("Src IP") && line.contains("Verdict") {
        return Some(
            "is a \"Flow Info: Src IP: …\" message: an AWS network policy agent flow \
             (aws-network-policy-agent)"
                .to_string(),
        );
    }
    (line.starts_with("Node:") && line.contains(";SIP:") && line.contains(";PolicyVerdict:")).then(
        || {
            "is a \"Node: …;SIP: …;PolicyVerdict: …\" message: an AWS network policy agent \
             CloudWatch flow (aws-network-policy-agent)"
                .to_string()
        },
    )
}

/// Decodes one line of the agent's log or of a CloudWatch export.
pub fn decode(bytes: &[u8], origin: Origin) -> Record {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Record::Blank;
    }
    let result = if trimmed.starts_with(b"{") {
        decode_json(trimmed, origin, false)
    } else {
        as_text(trimmed).and_then(|text| decode_text(text, None, origin))
    };
    result.unwrap_or_else(Record::Skip)
}

/// The keys of a zap JSON line flowq reads (shape a keeps the tuple here; shape b has only
/// `msg`); a CloudWatch event has `message` and `timestamp`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Line {
    msg: Option<String>,
    level: Option<String>,
    ts: Option<TimeValue>,
    timestamp: Option<TimeValue>,
    message: Option<String>,
    log: Option<String>,
    #[serde(rename = "Src IP")]
    src_ip: Option<String>,
    #[serde(rename = "Src Port")]
    src_port: Option<U64Value>,
    #[serde(rename = "Dest IP")]
    dst_ip: Option<String>,
    #[serde(rename = "Dest Port")]
    dst_port: Option<U64Value>,
    #[serde(rename = "Proto")]
    proto: Option<String>,
    #[serde(rename = "Verdict")]
    verdict: Option<String>,
}

/// Decodes a JSON line; `nested` when it is the message of another record (read one level
/// deep only).
fn decode_json(bytes: &[u8], origin: Origin, nested: bool) -> Result<Record, String> {
    let line: Line = serde_json::from_slice(bytes)
        .map_err(|e| format!("invalid network policy agent JSON line: {e}"))?;
    let time = line.ts.or(line.timestamp).map(|t| t.0);
    if let Some(verdict) = line.verdict.as_deref() {
        // Shape (a): the tuple in keys.
        let port = |v: Option<U64Value>, field: &str| -> Result<Option<u16>, String> {
            match v.map(|v| v.0) {
                None => Ok(None),
                Some(n) => {
                    let n = u16::try_from(n)
                        .map_err(|_| format!("{field} {n} is out of range (0-65535)"))?;
                    text_port(Some(&n.to_string()), field)
                }
            }
        };
        let tuple = Tuple {
            src_ip: text_ip(line.src_ip.as_deref(), "Src IP")?,
            src_port: port(line.src_port, "Src Port")?,
            dst_ip: text_ip(line.dst_ip.as_deref(), "Dest IP")?,
            dst_port: port(line.dst_port, "Dest Port")?,
            proto: line.proto.as_deref().unwrap_or(""),
            verdict,
            direction: None,
            tier: None,
            node: None,
        };
        return Ok(tuple.record(time, origin));
    }
    if let Some(msg) = line.msg.as_deref() {
        let msg = msg.trim();
        if msg.starts_with(FLOW_INFO) && msg.len() > FLOW_INFO.len() {
            return decode_text(msg, time, origin);
        }
        // Any other line of the agent (or shape a's message without its keys, which no
        // version writes).
        if line.level.is_some() || time.is_some() {
            return Ok(Record::Event { kind: AGENT_LOG });
        }
    }
    // A CloudWatch event (`aws logs filter-log-events`), or a shipper's record around a line.
    if let Some(message) = line.message.as_deref().or(line.log.as_deref()) {
        let inner = message.trim();
        if inner.starts_with('{') && !nested {
            return decode_json(inner.as_bytes(), origin, true);
        }
        return decode_text(inner, time, origin);
    }
    Err(
        "expected a network policy agent line (zap JSON with \"msg\") or a CloudWatch event \
         with \"message\", found neither"
            .to_string(),
    )
}

/// Decodes a message: shape (b) `Flow Info: …` or shape (c) `Node: …;SIP: …`, maybe after a
/// timestamp (CloudWatch console copies, S3 exports) that stands when the line has no other.
fn decode_text(text: &str, time: Option<DateTime<Utc>>, origin: Origin) -> Result<Record, String> {
    let (time, text) = match leading_rfc3339(text) {
        Some((t, rest)) => (time.or(Some(t)), rest),
        None => (time, text),
    };
    if let Some(message) = text.strip_prefix(FLOW_INFO) {
        let [sip, sport, dip, dport, proto, verdict, direction, tier] = labelled(
            message,
            [
                "Src IP",
                "Src Port",
                "Dest IP",
                "Dest Port",
                "Proto",
                "Verdict",
                "Direction",
                "Tier",
            ],
        );
        let tuple = Tuple {
            src_ip: text_ip(sip, "Src IP")?,
            src_port: text_port(sport, "Src Port")?,
            dst_ip: text_ip(dip, "Dest IP")?,
            dst_port: text_port(dport, "Dest Port")?,
            proto: proto.unwrap_or(""),
            verdict: verdict
                .ok_or_else(|| format!("a Flow Info message without Verdict: {}", preview(text)))?,
            direction,
            tier,
            node: None,
        };
        return Ok(tuple.record(time, origin));
    }
    if text.starts_with("Node:") {
        let [node, sip, sport, dip, dport, proto, verdict, tier] = labelled(
            text,
            [
                "Node",
                "SIP",
                "SPORT",
                "DIP",
                "DPORT",
                "PROTOCOL",
                "PolicyVerdict",
                "Tier",
            ],
        );
        let tuple = Tuple {
            src_ip: text_ip(sip, "SIP")?,
            src_port: text_port(sport, "SPORT")?,
            dst_ip: text_ip(dip, "DIP")?,
            dst_port: text_port(dport, "DPORT")?,
            proto: proto.unwrap_or(""),
            verdict: verdict.ok_or_else(|| {
                format!(
                    "a CloudWatch message without PolicyVerdict: {}",
                    preview(text)
                )
            })?,
            direction: None,
            tier,
            node: node.filter(|n| !n.is_empty()),
        };
        return Ok(tuple.record(time, origin));
    }
    Err(format!(
        "expected a network policy agent line (zap JSON, a \"Flow Info:\" message or a \
         CloudWatch \"Node: …;SIP: …\" message), found {}",
        preview(text)
    ))
}

/// What one verdict event says, in any shape.
struct Tuple<'a> {
    src_ip: Option<std::net::IpAddr>,
    src_port: Option<u16>,
    dst_ip: Option<std::net::IpAddr>,
    dst_port: Option<u16>,
    proto: &'a str,
    verdict: &'a str,
    direction: Option<&'a str>,
    tier: Option<&'a str>,
    node: Option<&'a str>,
}

impl Tuple<'_> {
    fn record(self, time: Option<DateTime<Utc>>, origin: Origin) -> Record {
        let verdict = self.verdict.trim();
        let action = match verdict.to_ascii_uppercase().as_str() {
            "ACCEPT" => Action::Allowed,
            "DENY" => Action::Denied,
            // Conntrack expired or deleted the entry: the end of a connection, no decision.
            v if v.starts_with("EXPIRED") || v.contains("DELETED") => {
                return Record::Event {
                    kind: CONNTRACK_EXPIRED,
                }
            }
            _ => Action::Unknown,
        };
        let protocol = protocol(self.proto);
        // The agent writes 0 for protocols without ports: only those with ports keep one.
        let keep =
            |p: Option<u16>| p.filter(|_| protocol.has_ports() || protocol == Protocol::Unknown);
        let (src_port, dst_port) = (keep(self.src_port), keep(self.dst_port));
        let direction = match self.direction.map(str::to_ascii_lowercase).as_deref() {
            Some("ingress") => Direction::Ingress,
            Some("egress") => Direction::Egress,
            _ => Direction::Unknown,
        };
        let tier = self.tier.filter(|t| !t.is_empty());
        let flow = Flow {
            time,
            src: Endpoint::from_log(self.src_ip, src_port, Identity::Unknown, None),
            dst: Endpoint::from_log(self.dst_ip, dst_port, Identity::Unknown, None),
            protocol,
            action,
            action_raw: verdict.to_string(),
            direction,
            node: self.node.map(str::to_string),
            // The tier says which layer decided (admin, network policy, baseline, default),
            // never which policy.
            drop_reason: tier
                .filter(|_| action == Action::Denied)
                .map(|t| format!("tier {t}")),
            policies: Vec::new(),
            is_reply: looks_like_reply(src_port, dst_port).then_some(true),
            reply_seen: false,
            bytes: None,
            packets: None,
            count: 1,
            duplicate: false,
            counting: Counting::Exact,
            granularity: Granularity::Connection,
            details: None,
            format: Format::AwsNetworkPolicyAgent,
            origin,
        };
        Record::Flow(Box::new(flow), PacketReport::Single)
    }
}

/// The agent logs a verdict for packets conntrack did not know, first packets of connections
/// but also replies after a conntrack race or an agent restart (aws-network-policy-agent
/// #127, #175): a packet from a port below Linux's ephemeral range to one in it is taken for
/// such a reply, so that it is not explained as a connection of its own. The agent never says.
fn looks_like_reply(src_port: Option<u16>, dst_port: Option<u16>) -> bool {
    matches!((src_port, dst_port), (Some(s), Some(d)) if s < EPHEMERAL_PORTS && d >= EPHEMERAL_PORTS)
}

/// The agent's protocol names (`GetProtocol`): `ANY PROTOCOL` (254) and `RESERVED` (255) are its
/// own numbers; `UNKNOWN` is anything else, ICMPv6 included.
fn protocol(name: &str) -> Protocol {
    match name.trim().to_ascii_uppercase().as_str() {
        "ANY PROTOCOL" => Protocol::Other(254),
        "RESERVED" => Protocol::Other(255),
        "UNKNOWN" | "" => Protocol::Unknown,
        other => Protocol::parse(other).unwrap_or(Protocol::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn origin() -> Origin {
        Origin {
            input: Arc::from("t"),
            line: 1,
        }
    }

    fn flow(line: &str) -> Flow {
        match decode(line.as_bytes(), origin()) {
            Record::Flow(f, _) => *f,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn the_old_json_shape_reads_the_tuple_from_keys() {
        let f = flow(
            r#"{"level":"info","ts":"2025-04-17T18:08:21.960Z","logger":"ebpf-client","caller":"events/events.go:191","msg":"Flow Info:  ","Src IP":"10.1.0.4","Src Port":38940,"Dest IP":"10.1.0.9","Dest Port":8080,"Proto":"TCP","Verdict":"DENY"}"#,
        );
        assert_eq!(f.action, Action::Denied);
        assert_eq!(f.src.ip, "10.1.0.4".parse().ok());
        assert_eq!((f.src.port, f.dst.port), (Some(38940), Some(8080)));
        assert_eq!(f.protocol, Protocol::Tcp);
        assert_eq!(f.direction, Direction::Unknown);
        assert_eq!(
            f.time.unwrap().to_rfc3339(),
            "2025-04-17T18:08:21.960+00:00"
        );
        assert!(f.is_request());
        // The first builds' `timestamp` key.
        let f = flow(
            r#"{"level":"info","timestamp":"2023-09-01T10:00:00.000Z","logger":"ebpf-client","msg":"Flow Info: ","Src IP":"10.1.0.4","Src Port":1,"Dest IP":"10.1.0.9","Dest Port":53,"Proto":"UDP","Verdict":"ACCEPT"}"#,
        );
        assert_eq!((f.action, f.protocol), (Action::Allowed, Protocol::Udp));
        assert!(f.time.is_some());
    }

    #[test]
    fn the_message_shape_gives_direction_and_tier_in_both_families() {
        let f = flow(
            r#"{"level":"info","ts":"2025-11-21T03:25:54.751Z","caller":"runtime/asm_arm64.s:1223","msg":"Flow Info: Src IP: 10.5.0.8 Src Port: 59622 Dest IP: 10.5.0.9 Dest Port: 8080 Proto TCP Verdict DENY Direction ingress, Tier NETWORK_POLICY"}"#,
        );
        assert_eq!(f.direction, Direction::Ingress);
        assert_eq!(f.drop_reason.as_deref(), Some("tier NETWORK_POLICY"));
        assert_eq!(f.dst.port, Some(8080));
        let f = flow("Flow Info: Src IP: fd00::8 Src Port: 40000 Dest IP: fd00::9 Dest Port: 443 Proto: TCP Verdict: ACCEPT Direction: egress Tier: ADMIN");
        assert_eq!(f.direction, Direction::Egress);
        assert_eq!(f.src.ip, "fd00::8".parse().ok());
        assert_eq!(f.action, Action::Allowed);
        assert_eq!(f.drop_reason, None);
        let f = flow("Flow Info: Src IP: 10.0.0.1 Src Port: 0 Dest IP: 10.0.0.2 Dest Port: 0 Proto ANY PROTOCOL Verdict DENY Direction egress");
        assert_eq!(f.protocol, Protocol::Other(254));
        assert_eq!((f.src.port, f.dst.port), (None, None));
    }

    #[test]
    fn cloudwatch_messages_name_the_node_and_take_a_leading_time() {
        let f = flow("2023-12-06T14:25:58.455-06:00   Node: ip-172-27-44-11.ec2.internal;SIP: 172.27.32.157;SPORT: 60476;DIP: 172.27.38.227;DPORT: 5003;PROTOCOL: TCP;PolicyVerdict: ACCEPT");
        assert_eq!(f.node.as_deref(), Some("ip-172-27-44-11.ec2.internal"));
        assert_eq!(
            f.time.unwrap().to_rfc3339(),
            "2023-12-06T20:25:58.455+00:00"
        );
        assert_eq!(f.direction, Direction::Unknown);
        let f = flow(
            r#"{"logStreamName":"aws-network-policy-agent-audit-1","timestamp":1701894358455,"message":"Node: n1;SIP: fd00::1;SPORT: 1234;DIP: fd00::2;DPORT: 80;PROTOCOL: TCP;PolicyVerdict: DENY;Tier: BASELINE","ingestionTime":1701894359000,"eventId":"1"}"#,
        );
        assert_eq!(f.node.as_deref(), Some("n1"));
        assert_eq!(f.time.unwrap().timestamp_millis(), 1701894358455);
        assert_eq!(f.drop_reason.as_deref(), Some("tier BASELINE"));
    }

    #[test]
    fn replies_are_told_by_their_ports() {
        let f = flow("Node: n;SIP: 10.0.68.172;SPORT: 4000;DIP: 10.0.74.123;DPORT: 39816;PROTOCOL: TCP;PolicyVerdict: DENY");
        assert_eq!(f.is_reply, Some(true));
        assert!(!f.is_request());
    }

    #[test]
    fn other_agent_lines_are_events_and_expiries_are_not_flows() {
        let event = |l: &str| match decode(l.as_bytes(), origin()) {
            Record::Event { kind } => kind,
            other => panic!("{l}: {other:?}"),
        };
        assert_eq!(
            event(
                r#"{"level":"info","ts":"2024-04-10T20:38:06.940Z","logger":"ebpf-client","caller":"wait/backoff.go:227","msg":"Check for any stale entries in the conntrack map"}"#
            ),
            AGENT_LOG
        );
        assert_eq!(
            event("Flow Info: Src IP: 10.0.0.1 Src Port: 1 Dest IP: 10.0.0.2 Dest Port: 2 Proto TCP Verdict EXPIRED/DELETED Direction egress"),
            CONNTRACK_EXPIRED
        );
    }

    #[test]
    fn bad_lines_are_skips_saying_what_was_expected() {
        let skip = |l: &[u8]| match decode(l, origin()) {
            Record::Skip(cause) => cause,
            other => panic!("{other:?}"),
        };
        assert!(skip(b"hello").contains("expected a network policy agent line"));
        assert!(skip(b"Flow Info: Src IP: 999.0.0.1 Verdict DENY").contains("999.0.0.1"));
        assert!(skip(b"Node: n;SIP: 10.0.0.1;DPORT: 70000;PolicyVerdict: DENY").contains("70000"));
        assert!(skip(br#"{"Verdict":"DENY","Src Port":-1}"#).contains("invalid"));
        assert!(skip(b"\xff\xfe").contains("UTF-8"));
    }
}
