//! kube-network-policies packet logs (the NetworkPolicy enforcer of kind and other small
//! clusters), at `-v=2`: per packet, one `"Evaluating packet"` record per pipeline (egress,
//! then ingress unless egress denied) naming both pods and the 5-tuple, then one verdict
//! record (`"Packet denied by egress policy"`, `"… ingress policy"`, `"Packet accepted by
//! policy"`) carrying only the packet id. Read as klog JSON (`--logging-format=json`, one
//! object per line or pretty-printed) or klog text, where the evaluated packet follows on its
//! own lines (`[id] src:port dst:port PROTO`, a hex dump, ` >`).
//!
//! Each record decodes on its own into a [`Part`]; the reader joins the parts of one packet
//! id into one flow (`joining.rs`). Lines may carry what `kubectl logs --prefix` and
//! `--timestamps` or the container runtime's log files put before them. The log names no
//! policy and no node: the snapshot gives both ends' identities where the log says
//! `external`, and the WHY.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::record::{Part, Record};
use super::value::U64Value;
use crate::flow::{
    Action, Counting, Direction, Endpoint, Flow, Granularity, Identity, Origin, PodIdentity,
    Protocol,
};
use crate::format::Format;

const EVALUATING: &str = "Evaluating packet";
const DENIED_EGRESS: &str = "Packet denied by egress policy";
const DENIED_INGRESS: &str = "Packet denied by ingress policy";
const ACCEPTED: &str = "Packet accepted by policy";
const FINISHED: &str = "Finished syncing packet";

/// Says why a parsed JSON record looks like a kube-network-policies record, or `None`.
pub(crate) fn sniff(map: &Map<String, Value>) -> Option<String> {
    let msg = map.get("msg").and_then(Value::as_str)?;
    let caller = map.get("caller").and_then(Value::as_str).unwrap_or("");
    if msg == EVALUATING && map.contains_key("srcPod") {
        return Some(
            "has \"msg\": \"Evaluating packet\" with \"srcPod\": a kube-network-policies \
             packet evaluation (kube-network-policies)"
                .to_string(),
        );
    }
    if verdict_of(msg).is_some() && map.contains_key("id") {
        return Some(format!(
            "has \"msg\": {msg:?} with a packet \"id\": a kube-network-policies verdict \
             (kube-network-policies)"
        ));
    }
    caller.starts_with("networkpolicy/").then(|| {
        format!("has \"caller\": {caller:?}: a kube-network-policies log record (kube-network-policies)")
    })
}

/// Whether a JSON record is a klog JSON record of any program (`ts` and `msg`): not decisive
/// alone, since kube-network-policies writes other messages before its first packet.
pub(crate) fn is_klog_json(map: &Map<String, Value>) -> bool {
    map.get("msg").is_some_and(Value::is_string) && map.contains_key("ts")
}

/// Says why a text line looks like a kube-network-policies klog text record, or `None`.
pub(crate) fn sniff_text(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let (_, rest) = strip_prefixes(text);
    let klog = KlogLine::parse(rest)?;
    let msg = klog.message()?.0;
    (msg == EVALUATING || verdict_of(&msg).is_some()).then(|| {
        format!("a klog line {msg:?}: kube-network-policies' text log (kube-network-policies)")
    })
}

/// Decodes one record: a JSON object or one line of klog text.
pub fn decode(bytes: &[u8], origin: Origin) -> Record {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Record::Blank;
    }
    let Ok(text) = std::str::from_utf8(trimmed) else {
        return Record::Skip("not UTF-8 text".to_string());
    };
    let (prefix_time, rest) = strip_prefixes(text);
    let rest = rest.trim();
    if rest.starts_with('{') {
        return match decode_json(rest, origin) {
            Ok(record) => record,
            Err(cause) => Record::Skip(cause),
        };
    }
    match decode_text(rest, prefix_time, origin) {
        Ok(record) => record,
        Err(cause) => Record::Skip(cause),
    }
}

/// The verdict a message states: the action and the side that decided.
fn verdict_of(msg: &str) -> Option<(Action, Direction)> {
    match msg {
        DENIED_EGRESS => Some((Action::Denied, Direction::Egress)),
        DENIED_INGRESS => Some((Action::Denied, Direction::Ingress)),
        ACCEPTED => Some((Action::Allowed, Direction::Unknown)),
        _ => None,
    }
}

/// Removes what `kubectl logs --prefix` (`[pod/NAME/CONTAINER] `), `--timestamps` (an RFC 3339
/// time) and the container runtime's log files (`TIME stderr F `) put before a line; returns
/// the time they give, if any.
fn strip_prefixes(line: &str) -> (Option<DateTime<Utc>>, &str) {
    let mut rest = line;
    if rest.starts_with("[pod/") {
        if let Some(end) = rest.find("] ") {
            rest = &rest[end + 2..];
        }
    }
    let mut time = None;
    if rest.len() > 20
        && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && rest.as_bytes()[4] == b'-'
    {
        let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
        if let Ok(t) = DateTime::parse_from_rfc3339(word) {
            time = Some(t.with_timezone(&Utc));
            rest = after;
            // CRI log files: the stream and whether the line is whole (`F`) or partial (`P`).
            for stream in ["stdout ", "stderr "] {
                if let Some(after) = rest.strip_prefix(stream) {
                    rest = after
                        .strip_prefix("F ")
                        .or_else(|| after.strip_prefix("P "))
                        .unwrap_or(after);
                }
            }
        }
    }
    (time, rest)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRecord {
    ts: Option<Value>,
    msg: Option<String>,
    id: Option<U64Value>,
    direction: Option<String>,
    #[serde(rename = "srcPod")]
    src_pod: Option<String>,
    #[serde(rename = "dstPod")]
    dst_pod: Option<String>,
    packet: Option<RawPacket>,
    verdict: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPacket {
    #[serde(rename = "ID")]
    id: Option<U64Value>,
    #[serde(rename = "SrcIP")]
    src_ip: Option<String>,
    #[serde(rename = "DstIP")]
    dst_ip: Option<String>,
    #[serde(rename = "Proto")]
    proto: Option<String>,
    #[serde(rename = "SrcPort")]
    src_port: Option<U64Value>,
    #[serde(rename = "DstPort")]
    dst_port: Option<U64Value>,
}

fn decode_json(text: &str, origin: Origin) -> Result<Record, String> {
    let raw: RawRecord = serde_json::from_str(text).map_err(|e| {
        if e.classify() == serde_json::error::Category::Eof {
            "truncated JSON: the record ends inside a value".to_string()
        } else {
            format!("invalid record: {e}")
        }
    })?;
    let Some(msg) = raw.msg.as_deref() else {
        return Err(
            "not a kube-network-policies record: a klog JSON record has a \"msg\"".to_string(),
        );
    };
    let time = raw.ts.as_ref().map(json_time).transpose()?;
    let id = raw
        .id
        .or(raw.packet.as_ref().and_then(|p| p.id))
        .map(|n| n.0);
    if let Some((action, direction)) = verdict_of(msg) {
        let id = id.ok_or_else(|| format!("verdict {msg:?} without a packet \"id\""))?;
        return Ok(Record::Part(Part::Verdict {
            id,
            action,
            direction,
            raw: msg.to_string(),
            time,
            fallback: false,
        }));
    }
    if msg == FINISHED {
        return finished(id, raw.verdict.as_deref(), time);
    }
    if msg != EVALUATING {
        return Ok(Record::Event {
            kind: "log_message",
        });
    }
    // At -v=4 the dataplane and DNS agent also log "Evaluating packet", with no pipeline and
    // no pods: they are not policy decisions.
    let Some(direction) = raw.direction.as_deref() else {
        return Ok(Record::Event {
            kind: "packet_trace",
        });
    };
    let pipeline = pipeline(direction)?;
    let id = id.ok_or("\"Evaluating packet\" without a packet \"id\"")?;
    let packet = raw.packet.unwrap_or_default();
    let protocol = packet
        .proto
        .as_deref()
        .filter(|p| !p.is_empty())
        .map_or(Ok(Protocol::Unknown), |p| {
            Protocol::parse(p).ok_or_else(|| format!("packet Proto {p:?} is not a protocol"))
        })?;
    let ip = |text: &Option<String>, field: &str| super::value::parse_ip(text.as_deref(), field);
    let port = |value: Option<U64Value>, field: &str| -> Result<Option<u16>, String> {
        let port = super::value::port(value, field)?;
        Ok(port.filter(|_| protocol.has_ports()))
    };
    let flow = evaluated_flow(
        time,
        endpoint(
            ip(&packet.src_ip, "packet SrcIP")?,
            port(packet.src_port, "packet SrcPort")?,
            raw.src_pod.as_deref(),
        ),
        endpoint(
            ip(&packet.dst_ip, "packet DstIP")?,
            port(packet.dst_port, "packet DstPort")?,
            raw.dst_pod.as_deref(),
        ),
        protocol,
        origin,
    );
    Ok(Record::Part(Part::Evaluation {
        id,
        pipeline,
        flow: Box::new(flow),
    }))
}

/// The controller's `Finished syncing packet` (`verdict` `accept` or `drop`): the packet's
/// verdict when the engine wrote none (before it wrote its own, or when its evaluation
/// failed); an event otherwise.
fn finished(
    id: Option<u64>,
    verdict: Option<&str>,
    time: Option<DateTime<Utc>>,
) -> Result<Record, String> {
    let action = match verdict.map(str::to_ascii_lowercase).as_deref() {
        Some("accept") => Action::Allowed,
        Some("drop") => Action::Denied,
        _ => {
            return Ok(Record::Event {
                kind: "log_message",
            })
        }
    };
    let id = id.ok_or_else(|| format!("{FINISHED:?} without a packet id"))?;
    Ok(Record::Part(Part::Verdict {
        id,
        action,
        direction: Direction::Unknown,
        raw: format!("{FINISHED}: {}", verdict.unwrap_or_default()),
        time,
        fallback: true,
    }))
}

/// klog JSON `ts`: milliseconds since the epoch as a float; an RFC 3339 text is read too.
fn json_time(ts: &Value) -> Result<DateTime<Utc>, String> {
    match ts {
        Value::Number(n) => n
            .as_f64()
            .filter(|ms| ms.is_finite() && ms.abs() < 1e16)
            .and_then(|ms| DateTime::from_timestamp_micros((ms * 1000.0).round() as i64))
            .ok_or_else(|| format!("ts {n} is not a time in milliseconds since the epoch")),
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("ts {s:?} is not RFC 3339: {e}")),
        other => Err(format!(
            "ts {other} is not a time in milliseconds since the epoch"
        )),
    }
}

fn pipeline(direction: &str) -> Result<Direction, String> {
    match direction.to_ascii_lowercase().as_str() {
        "egress" => Ok(Direction::Egress),
        "ingress" => Ok(Direction::Ingress),
        _ => Err(format!(
            "direction {direction:?} is neither \"Egress\" nor \"Ingress\""
        )),
    }
}

/// An end as the log names it: a pod `namespace/name`, or `external`/`none` for an address
/// that is no pod the enforcer knows (the snapshot may know it).
fn endpoint(ip: Option<IpAddr>, port: Option<u16>, pod: Option<&str>) -> Endpoint {
    let identity = match pod.map(str::trim).and_then(|p| p.split_once('/')) {
        Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => {
            Identity::Pod(Arc::new(PodIdentity {
                namespace: namespace.to_string(),
                name: name.to_string(),
                ..Default::default()
            }))
        }
        _ => Identity::Unknown,
    };
    Endpoint::from_log(ip, port, identity, None)
}

/// The flow of an evaluated packet, before its verdict: only the first packet of a connection
/// reaches the enforcer (conntrack lets the rest through), so it is the connection's request.
fn evaluated_flow(
    time: Option<DateTime<Utc>>,
    src: Endpoint,
    dst: Endpoint,
    protocol: Protocol,
    origin: Origin,
) -> Flow {
    Flow {
        time,
        src,
        dst,
        protocol,
        action: Action::Unknown,
        action_raw: String::new(),
        direction: Direction::Unknown,
        node: None,
        drop_reason: None,
        policies: Vec::new(),
        is_reply: Some(false),
        reply_seen: false,
        bytes: None,
        packets: None,
        count: 1,
        duplicate: false,
        counting: Counting::Exact,
        granularity: Granularity::Connection,
        details: None,
        format: Format::KubeNetworkPolicies,
        origin,
    }
}

/// A klog text header line: `I0712 09:53:52.257809       1 logging.go:67] MESSAGE`.
struct KlogLine<'a> {
    month: u32,
    day: u32,
    hms: (u32, u32, u32),
    micros: u32,
    body: &'a str,
}

impl<'a> KlogLine<'a> {
    fn parse(line: &'a str) -> Option<KlogLine<'a>> {
        let b = line.as_bytes();
        if b.len() < 22 || !matches!(b[0], b'I' | b'W' | b'E' | b'F') {
            return None;
        }
        let digits = |s: &str| -> Option<u32> {
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let month = digits(line.get(1..3)?)?;
        let day = digits(line.get(3..5)?)?;
        let rest = line.get(5..)?.strip_prefix(' ')?;
        let (clock, rest) = rest.split_once(' ')?;
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
        let mut parts = hms.split(':');
        let (h, m, s) = (
            digits(parts.next()?)?,
            digits(parts.next()?)?,
            digits(parts.next()?)?,
        );
        let frac = frac.get(..frac.len().min(6))?;
        let micros = digits(frac)? * 10u32.pow(6 - frac.len() as u32);
        // The thread id, then `file:line]`.
        let rest = rest.trim_start();
        let (_thread, rest) = rest.split_once(' ')?;
        let (_caller, body) = rest.split_once("] ")?;
        Some(KlogLine {
            month,
            day,
            hms: (h, m, s),
            micros,
            body,
        })
    }

    /// The structured message (`"Evaluating packet" key=value …`) and the rest after it, or
    /// the plain message of a printf-style line.
    fn message(&self) -> Option<(String, &'a str)> {
        let body = self.body;
        if body.starts_with('"') {
            let (msg, rest) = quoted(body)?;
            Some((msg, rest))
        } else {
            Some((body.trim_end().to_string(), ""))
        }
    }

    /// The time of the line: klog text writes no year, so the one given before the line is
    /// taken when there is one, else the latest year that does not put it in the future
    /// (with a day of slack for clocks and time zones).
    fn time(&self, given: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        if let Some(t) = given {
            return Some(t);
        }
        let now: DateTime<Utc> = std::time::SystemTime::now().into();
        let at = |year: i32| {
            let date = NaiveDate::from_ymd_opt(year, self.month, self.day)?;
            let (h, m, s) = self.hms;
            let t = date.and_hms_micro_opt(h, m, s, self.micros)?;
            Some(Utc.from_utc_datetime(&t))
        };
        let slack = chrono::Duration::days(1);
        (0..8)
            .map(|back| now.year() - back)
            .filter_map(at)
            .find(|t| *t <= now + slack)
    }
}

/// A Go-quoted string at the start of `text` (`"…"` with `\"`, `\\`, `\n`, `\t` escapes), and
/// what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.strip_prefix('"')?.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &text[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The `key=value` pairs after a structured message: values are Go-quoted strings, `<` (a
/// value written on the lines after), or bare words.
fn pairs(mut text: &str) -> Result<Vec<(&str, String)>, String> {
    let mut out = Vec::new();
    loop {
        text = text.trim_start();
        if text.is_empty() {
            return Ok(out);
        }
        let (key, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, found {:?}", preview(text)))?;
        if key.is_empty() || key.contains(' ') {
            return Err(format!("expected key=value, found {:?}", preview(text)));
        }
        if rest.starts_with('"') {
            let (value, after) =
                quoted(rest).ok_or_else(|| format!("the value of {key} is not closed"))?;
            out.push((key, value));
            text = after;
        } else {
            let (value, after) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push((key, value.to_string()));
            text = after;
        }
    }
}

fn preview(text: &str) -> String {
    text.chars().take(32).collect()
}

fn decode_text(
    line: &str,
    given_time: Option<DateTime<Utc>>,
    origin: Origin,
) -> Result<Record, String> {
    if let Some(klog) = KlogLine::parse(line) {
        return decode_klog(&klog, given_time, origin);
    }
    // The evaluated packet, on the lines after its evaluation: `[id] src:port dst:port PROTO`.
    if line.starts_with('[') {
        let (id, src, dst, protocol) = packet_line(line)?;
        return Ok(Record::Part(Part::Packet {
            id,
            src,
            dst,
            protocol,
        }));
    }
    // Its payload's hex dump (`00000000  00 00 a0 02 …  |…|`) and the closing `>`.
    let hex_offset = line.len() > 10
        && line.as_bytes()[..8].iter().all(u8::is_ascii_hexdigit)
        && line[8..].starts_with("  ");
    if line == ">" || hex_offset {
        return Ok(Record::Part(Part::Continuation));
    }
    Err(format!(
        "not a kube-network-policies record: expected a klog line \
         (\"I0712 09:53:52.257809 1 logging.go:67] …\"), a packet line (\"[9] 10.0.1.3:40243 \
         10.0.2.2:8080 TCP\") or JSON, found {:?}",
        preview(line)
    ))
}

fn decode_klog(
    klog: &KlogLine<'_>,
    given_time: Option<DateTime<Utc>>,
    origin: Origin,
) -> Result<Record, String> {
    let (msg, rest) = klog
        .message()
        .ok_or("the klog message's quotes are not closed")?;
    let time = klog.time(given_time);
    if let Some((action, direction)) = verdict_of(&msg) {
        let pairs = pairs(rest)?;
        let id = id_of(&pairs).ok_or_else(|| format!("verdict {msg:?} without a packet id="))?;
        return Ok(Record::Part(Part::Verdict {
            id,
            action,
            direction,
            raw: msg,
            time,
            fallback: false,
        }));
    }
    if msg == FINISHED {
        let pairs = pairs(rest)?;
        let verdict = pairs
            .iter()
            .find(|(k, _)| *k == "verdict")
            .map(|(_, v)| v.as_str());
        return finished(id_of(&pairs), verdict, time);
    }
    // Before the 2025 refactor: `Evaluating packet [id] src:port dst:port PROTO` inline, with no
    // pipeline and no pods.
    if let Some(packet) = msg.strip_prefix("Evaluating packet [") {
        let (id, src, dst, protocol) = packet_line(&format!("[{packet}"))?;
        let flow = evaluated_flow(
            time,
            endpoint(
                Some(src.0),
                Some(src.1).filter(|_| protocol.has_ports()),
                None,
            ),
            endpoint(
                Some(dst.0),
                Some(dst.1).filter(|_| protocol.has_ports()),
                None,
            ),
            protocol,
            origin,
        );
        return Ok(Record::Part(Part::Evaluation {
            id,
            pipeline: Direction::Unknown,
            flow: Box::new(flow),
        }));
    }
    if msg != EVALUATING {
        return Ok(Record::Event {
            kind: "log_message",
        });
    }
    let pairs = pairs(rest)?;
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    };
    let Some(direction) = get("direction") else {
        return Ok(Record::Event {
            kind: "packet_trace",
        });
    };
    let pipeline = pipeline(direction)?;
    let id = id_of(&pairs).ok_or("\"Evaluating packet\" without a packet id=")?;
    // The packet is on the lines after (`packet=<`), or inline when written on one line.
    let (src, dst, protocol) = match get("packet").filter(|p| p.starts_with('[')) {
        Some(inline) => {
            let (_, src, dst, protocol) = packet_line(inline.lines().next().unwrap_or(""))?;
            (
                (Some(src.0), Some(src.1).filter(|_| protocol.has_ports())),
                (Some(dst.0), Some(dst.1).filter(|_| protocol.has_ports())),
                protocol,
            )
        }
        None => ((None, None), (None, None), Protocol::Unknown),
    };
    let flow = evaluated_flow(
        time,
        endpoint(src.0, src.1, get("srcPod")),
        endpoint(dst.0, dst.1, get("dstPod")),
        protocol,
        origin,
    );
    Ok(Record::Part(Part::Evaluation {
        id,
        pipeline,
        flow: Box::new(flow),
    }))
}

fn id_of(pairs: &[(&str, String)]) -> Option<u64> {
    pairs
        .iter()
        .find(|(k, _)| *k == "id")
        .and_then(|(_, v)| v.parse().ok())
}

type Address = (IpAddr, u16);

/// `[id] src:port dst:port PROTO` (IPv6 addresses are written without brackets: the port is
/// after the last colon; the protocol is empty when the packet has none the enforcer reads).
fn packet_line(line: &str) -> Result<(u64, Address, Address, Protocol), String> {
    let bad = || {
        format!(
            "expected a packet \"[id] src:port dst:port PROTO\", found {:?}",
            preview(line)
        )
    };
    let (id, rest) = line
        .strip_prefix('[')
        .and_then(|l| l.split_once("] "))
        .ok_or_else(bad)?;
    let id: u64 = id.parse().map_err(|_| bad())?;
    let mut words = rest.split_whitespace();
    let address = |word: Option<&str>| -> Result<Address, String> {
        let (ip, port) = word.and_then(|w| w.rsplit_once(':')).ok_or_else(bad)?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        Ok((
            ip.parse()
                .map_err(|_| format!("{ip:?} is not an IP address"))?,
            port.parse()
                .map_err(|_| format!("port {port:?} is not a port number"))?,
        ))
    };
    let src = address(words.next())?;
    let dst = address(words.next())?;
    let protocol = match words.next() {
        None => Protocol::Unknown,
        Some(p) => Protocol::parse(p).ok_or_else(|| format!("{p:?} is not a protocol"))?,
    };
    Ok((id, src, dst, protocol))
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    fn origin() -> Origin {
        Origin {
            input: Arc::from("test"),
            line: 1,
        }
    }

    fn part(line: &str) -> Part {
        match decode(line.as_bytes(), origin()) {
            Record::Part(p) => p,
            other => panic!("expected a part, found {other:?}"),
        }
    }

    #[test]
    fn a_json_evaluation_names_both_pods_and_the_packet() {
        let line = r#"{"ts":1720777151838.3552,"caller":"networkpolicy/logging.go:67","msg":"Evaluating packet","id":9,"direction":"Egress","srcPod":"default/frontend","dstPod":"external","packet":{"ID":9,"Family":"IPv6","SrcIP":"fd00:10:244::3","DstIP":"2001:db8::7","Proto":"UDP","SrcPort":40243,"DstPort":53}}"#;
        let Part::Evaluation { id, pipeline, flow } = part(line) else {
            panic!("not an evaluation")
        };
        assert_eq!((id, pipeline), (9, Direction::Egress));
        assert_eq!(flow.src.identity.to_string(), "default/frontend");
        assert_eq!(flow.dst.identity, Identity::Unknown);
        assert_eq!(flow.dst.ip, Some("2001:db8::7".parse().unwrap()));
        assert_eq!((flow.protocol, flow.dst.port), (Protocol::Udp, Some(53)));
        assert_eq!(
            flow.time.unwrap().to_rfc3339(),
            "2024-07-12T09:39:11.838355+00:00"
        );
        assert!(flow.is_request());
    }

    #[test]
    fn verdicts_say_the_side_that_denied() {
        let verdict = |msg: &str| {
            let line = format!(
                r#"{{"ts":1720777151838.4001,"caller":"networkpolicy/engine.go:57","msg":"{msg}","v":2,"id":9}}"#
            );
            match part(&line) {
                Part::Verdict {
                    id,
                    action,
                    direction,
                    ..
                } => (id, action, direction),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            verdict(DENIED_EGRESS),
            (9, Action::Denied, Direction::Egress)
        );
        assert_eq!(
            verdict(DENIED_INGRESS),
            (9, Action::Denied, Direction::Ingress)
        );
        assert_eq!(verdict(ACCEPTED), (9, Action::Allowed, Direction::Unknown));
    }

    #[test]
    fn other_messages_are_events_and_broken_records_are_skips() {
        let event = |line: &str| match decode(line.as_bytes(), origin()) {
            Record::Event { kind } => kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            event(r#"{"ts":1,"caller":"app/main.go:1","msg":"Starting controller"}"#),
            "log_message"
        );
        assert_eq!(
            event(
                r#"{"ts":1,"caller":"dataplane/controller.go:9","msg":"Evaluating packet","packet":{"ID":3}}"#
            ),
            "packet_trace"
        );
        for bad in [
            r#"{"ts":1,"msg":"Packet denied by egress policy"}"#,
            r#"{"ts":1,"msg":"Evaluating packet","id":1,"direction":"Sideways"}"#,
            r#"{"ts":"noon","msg":"Evaluating packet","id":1,"direction":"Egress"}"#,
            r#"{"ts":1,"msg":"Evaluating packet","id":1,"direction":"Egress","packet":{"SrcIP":"10.0.0.999"}}"#,
            r#"{"ts":1,"caller":"x"}"#,
            r#"{"ts":1,"msg":"Evaluating"#,
            "hello world",
        ] {
            match decode(bad.as_bytes(), origin()) {
                Record::Skip(cause) => assert!(!cause.is_empty()),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn klog_text_evaluation_packet_and_dump_lines_are_parts_of_one_record() {
        let header = r#"I0712 09:53:52.257809       1 logging.go:67] "Evaluating packet" id=9 direction="Ingress" srcPod="default/frontend" dstPod="default/backend" packet=<"#;
        let Part::Evaluation { id, pipeline, flow } = part(header) else {
            panic!()
        };
        assert_eq!((id, pipeline), (9, Direction::Ingress));
        assert_eq!(flow.dst.identity.to_string(), "default/backend");
        assert_eq!(flow.src.ip, None);
        let t = flow.time.unwrap();
        assert_eq!(
            (t.month(), t.day(), t.hour(), t.nanosecond()),
            (7, 12, 9, 257_809_000)
        );
        let Part::Packet {
            id,
            src,
            dst,
            protocol,
        } = part("        [9] fd00:10:244::3:40243 10.0.2.2:8080 TCP")
        else {
            panic!()
        };
        assert_eq!(id, 9);
        assert_eq!(src, ("fd00:10:244::3".parse().unwrap(), 40243));
        assert_eq!((dst.1, protocol), (8080, Protocol::Tcp));
        for line in [
            "        00000000  00 00 a0 02 fa f0 19 33  00 00 02 04 05 b4 04 02  |.......3........|",
            " >",
        ] {
            assert!(matches!(part(line), Part::Continuation), "{line}");
        }
        let Part::Verdict { id, action, .. } = part(
            r#"I0712 09:53:52.257900       1 engine.go:57] "Packet denied by ingress policy" id=9"#,
        ) else {
            panic!()
        };
        assert_eq!((id, action), (9, Action::Denied));
    }

    #[test]
    fn the_controllers_finished_line_is_a_fallback_verdict() {
        let json = r#"{"ts":1,"caller":"networkpolicy/controller.go:410","msg":"Finished syncing packet","v":2,"id":7,"duration":"1ms","verdict":"drop"}"#;
        let text = r#"I0712 09:53:52.257809       1 controller.go:410] "Finished syncing packet" id=7 duration="112.5µs" verdict="accept""#;
        for (line, want) in [(json, Action::Denied), (text, Action::Allowed)] {
            let Part::Verdict {
                id,
                action,
                fallback,
                ..
            } = part(line)
            else {
                panic!("{line}")
            };
            assert_eq!((id, action, fallback), (7, want, true));
        }
        let other = r#"{"ts":1,"msg":"Finished syncing packet","id":7,"verdict":"Verdict(9)"}"#;
        assert!(matches!(
            decode(other.as_bytes(), origin()),
            Record::Event {
                kind: "log_message"
            }
        ));
    }

    #[test]
    fn the_older_one_line_evaluation_reads_without_pipeline_or_pods() {
        let line = r#"I0712 09:53:52.257809       1 controller.go:301] Evaluating packet [12] 10.0.1.3:40243 10.0.2.2:8080 UDP"#;
        let Part::Evaluation { id, pipeline, flow } = part(line) else {
            panic!()
        };
        assert_eq!((id, pipeline), (12, Direction::Unknown));
        assert_eq!((flow.protocol, flow.dst.port), (Protocol::Udp, Some(8080)));
        assert_eq!(flow.src.identity, Identity::Unknown);
    }

    #[test]
    fn kubectl_and_runtime_prefixes_give_the_year() {
        let line = r#"2024-07-12T09:53:52.257809123Z stderr F I0712 09:53:52.257809       1 engine.go:57] "Packet accepted by policy" id=4"#;
        let Part::Verdict { time, .. } = part(line) else {
            panic!()
        };
        assert_eq!(
            time.unwrap().to_rfc3339(),
            "2024-07-12T09:53:52.257809123+00:00"
        );
        let prefixed = r#"[pod/kube-network-policies-x7k2p/kube-network-policies] I0712 09:53:52.257809       1 engine.go:57] "Packet accepted by policy" id=4"#;
        assert!(matches!(part(prefixed), Part::Verdict { id: 4, .. }));
    }

    #[test]
    fn detection_needs_a_packet_record() {
        let map = |text: &str| match serde_json::from_str::<Value>(text).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        assert!(sniff(&map(r#"{"msg":"Evaluating packet","srcPod":"a/b"}"#)).is_some());
        assert!(sniff(&map(r#"{"msg":"Packet accepted by policy","id":1}"#)).is_some());
        let startup = map(r#"{"ts":1,"caller":"app/main.go:1","msg":"Starting"}"#);
        assert!(sniff(&startup).is_none() && is_klog_json(&startup));
        assert!(sniff_text(
            br#"I0712 09:53:52.257809       1 engine.go:57] "Packet denied by egress policy" id=9"#
        )
        .is_some());
        assert!(sniff_text(br#"I0712 09:53:52.257809       1 main.go:57] "Starting""#).is_none());
        assert!(sniff_text(b"ACCEPT 10.0.0.1").is_none());
    }
}
