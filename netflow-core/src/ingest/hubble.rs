//! Cilium Hubble flows: `hubble observe -o json|jsonpb` lines (`{"flow": …, "node_name",
//! "time"}`), exporter files (which interleave `node_status`, `lost_events`, `agent_event` and
//! `debug_event` records), and bare legacy-JSON flows.
//!
//! Every field is optional (exporter field masks strip any of them), enums arrive as names or
//! numbers, 64-bit integers as strings or numbers, and lowerCamelCase aliases are accepted next to
//! the proto field names. A node reports one packet several times — a trace at each observation
//! point, a policy-verdict event (type 5), a drop event (type 1), an L7 proxy record — so each
//! flow says which report it is, and the reader's pairing counts the packet once.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::record::{Observation, PacketReport, Record, ReportPoint};
use super::shared::shared_pod;
use super::value::{parse_ip, port, EnumValue, Lenient, Text, U64Value};
use crate::flow::{
    Action, Direction, Dns, Endpoint, Flow, FlowDetails, Http, Identity, IdentitySource, Interface,
    Kafka, NodeIdentity, Origin, PodIdentity, PolicyRef, Protocol, ServiceIdentity, Workload, L7,
};
use crate::format::Format;

mod fast;

/// Says why a parsed first record looks like Hubble, or `None`.
pub(crate) fn sniff(map: &Map<String, Value>) -> Option<String> {
    const WRAPPER_KEYS: [&str; 10] = [
        "flow",
        "node_status",
        "nodeStatus",
        "lost_events",
        "lostEvents",
        "agent_event",
        "agentEvent",
        "debug_event",
        "debugEvent",
        "flows",
    ];
    if let Some(key) = WRAPPER_KEYS
        .iter()
        .find(|k| **k != "flows" && map.contains_key(**k))
    {
        return Some(format!(
            "has {key:?}: a Hubble observe/exporter record (hubble)"
        ));
    }
    let has = |k: &str| map.contains_key(k);
    if has("verdict") && (has("IP") || has("l4") || has("source") || has("destination")) {
        return Some("has \"verdict\" and \"IP\"/\"l4\": a bare Hubble flow (hubble)".to_string());
    }
    None
}

/// Whether a line may hold a `lost_events` record: a line that opens with a flow object
/// decodes as that flow (or is skipped), and any other needs a `"lost` key.
pub(super) fn may_report_losses(line: &[u8]) -> bool {
    !line.starts_with(br#"{"flow":{"#) && memchr::memmem::find(line, br#""lost"#).is_some()
}

/// Decodes one line with the fast path alone; gives `origin` back when the line is left to the
/// serde decoder.
pub fn decode_line_fast(line: &[u8], origin: Origin) -> Result<Record, Origin> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Record::Blank);
    }
    match fast::scan(trimmed) {
        Some((flow, node, time)) => Ok(flow_record(convert(flow, node, time, origin))),
        None => Err(origin),
    }
}

/// Decodes one line with the serde decoder alone (the reference the fast path is held to).
pub fn decode_line_general(line: &[u8], origin: Origin) -> Record {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Record::Blank;
    }
    let envelope: Envelope = match super::value::from_json(trimmed) {
        Ok(e) => e,
        Err(e) => return Record::Skip(describe_json_error(&e, trimmed)),
    };
    let Envelope {
        flow,
        node_status,
        lost_events,
        agent_event,
        debug_event,
        node_name,
        time,
        verdict,
        ip,
        l4,
    } = envelope;
    if let Some(flow) = flow {
        return flow_record(convert(flow, node_name, time, origin));
    }
    if let Some(lost) = lost_events {
        return Record::Lost {
            count: lost.num_events_lost.map_or(0, |n| n.0),
            source: lost
                .source
                .map(|s| s.name(LOST_EVENT_SOURCES))
                .unwrap_or_else(|| "UNKNOWN_LOST_EVENT_SOURCE".to_string()),
        };
    }
    if node_status.is_some() {
        return Record::Event {
            kind: "node_status",
        };
    }
    if agent_event.is_some() {
        return Record::Event {
            kind: "agent_event",
        };
    }
    if debug_event.is_some() {
        return Record::Event {
            kind: "debug_event",
        };
    }
    if verdict.is_some() || ip.is_some() || l4.is_some() {
        return match super::value::from_json::<RawFlow>(trimmed) {
            Ok(flow) => flow_record(convert(flow, None, None, origin)),
            Err(e) => Record::Skip(describe_json_error(&e, trimmed)),
        };
    }
    Record::Skip(
        "not a Hubble record: no \"flow\", \"node_status\", \"lost_events\", \"agent_event\", \
         \"debug_event\", nor a bare flow's \"verdict\"/\"IP\"/\"l4\""
            .to_string(),
    )
}

fn describe_json_error(e: &serde_json::Error, line: &[u8]) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "truncated JSON: the line ends inside a value".to_string(),
        Category::Syntax if !line.starts_with(b"{") => {
            "expected a JSON object, found something else".to_string()
        }
        _ => format!("invalid record: {e}"),
    }
}

/// The record of a converted flow: with its emitter when the record names one.
fn flow_record(converted: Result<Converted, String>) -> Record {
    match converted {
        Ok((flow, report, Some(emitter))) => Record::Emitted(Box::new(flow), report, emitter),
        Ok((flow, report, None)) => Record::Flow(Box::new(flow), report),
        Err(cause) => Record::Skip(cause),
    }
}

/// A flow, which report of its packet it is, and the program that wrote it when the record
/// says (`emitter`, as `name version`).
type Converted = (Flow, PacketReport, Option<String>);

fn convert(
    mut raw: RawFlow<'_>,
    wrapper_node: Option<Text<'_>>,
    wrapper_time: Option<Text<'_>>,
    origin: Origin,
) -> Result<Converted, String> {
    let report = packet_report(&raw);
    let details = details(&mut raw, &report);
    let emitter = raw.emitter.0.as_ref().and_then(RawEmitter::label);
    // An exporter that aggregates writes one record for the flows of a window, with their
    // counts per direction; the record's other fields are those of one of them.
    let (count, counting) = match &raw.aggregate {
        Some(a) => (a.flows(), crate::flow::Counting::Aggregated),
        None => (1, crate::flow::Counting::Exact),
    };
    let time_text = raw.time.or(wrapper_time);
    let time = match time_text.as_deref() {
        Some(t) => Some(parse_time(t)?),
        None => None,
    };
    let node = raw.node_name.or(wrapper_node).filter(|n| !n.is_empty());

    let (src_ip, dst_ip) = match &raw.ip {
        Some(ip) => (
            parse_ip(ip.source.as_deref(), "IP.source")?,
            parse_ip(ip.destination.as_deref(), "IP.destination")?,
        ),
        None => (None, None),
    };
    let (protocol, src_port, dst_port) = match &raw.l4 {
        Some(l4) => l4.protocol_and_ports()?,
        None => (Protocol::Unknown, None, None),
    };

    let verdict = raw.verdict.as_ref().map(|v| v.name(VERDICTS));
    let drop_reason = raw
        .drop_reason_desc
        .as_ref()
        .map(|d| d.name(DROP_REASONS))
        .or_else(|| {
            raw.drop_reason
                .filter(|n| *n != 0)
                .map(|n| EnumValue::Number(n as i64).name(DROP_REASONS))
        })
        .filter(|r| r != "DROP_REASON_UNKNOWN");
    let action = action_of(verdict.as_deref(), drop_reason.as_deref());
    let direction = match raw
        .traffic_direction
        .as_ref()
        .map(|d| d.name(TRAFFIC_DIRECTIONS))
        .as_deref()
    {
        Some("INGRESS") => Direction::Ingress,
        Some("EGRESS") => Direction::Egress,
        _ => Direction::Unknown,
    };

    let mut policies = Vec::new();
    let attributed = if action == Action::Allowed && verdict.as_deref() != Some("AUDIT") {
        [&raw.egress_allowed_by, &raw.ingress_allowed_by]
    } else {
        [&raw.egress_denied_by, &raw.ingress_denied_by]
    };
    for list in attributed.into_iter().flatten() {
        for p in list {
            let r = p.to_ref();
            if !r.name.is_empty() && !policies.contains(&r) {
                policies.push(r);
            }
        }
    }

    let src = endpoint(
        raw.source.as_ref(),
        src_ip,
        src_port,
        raw.source_service.as_ref(),
        node.as_deref(),
    );
    let dst = endpoint(
        raw.destination.as_ref(),
        dst_ip,
        dst_port,
        raw.destination_service.as_ref(),
        node.as_deref(),
    );

    let src_identity_source = source_of(&src.identity);
    let dst_identity_source = source_of(&dst.identity);
    let flow = Flow {
        time,
        src: Endpoint {
            identity_source: src_identity_source,
            ..src
        },
        dst: Endpoint {
            identity_source: dst_identity_source,
            ..dst
        },
        protocol,
        action,
        action_raw: verdict.unwrap_or_default(),
        direction,
        node: node.map(|n| n.0.into_owned()),
        drop_reason,
        policies,
        is_reply: raw.is_reply.or(raw.reply),
        bytes: None,
        packets: None,
        reply_seen: false,
        count,
        duplicate: false,
        counting,
        granularity: crate::flow::Granularity::Packet,
        details,
        format: Format::Hubble,
        origin,
    };
    Ok((flow, report, emitter))
}

/// What the record says beyond the common fields, allocated only when it says something: the
/// record id, where and why the packet was traced, the interface, the ends' clusters and the
/// L7 message.
fn details(raw: &mut RawFlow<'_>, report: &PacketReport) -> Option<Arc<FlowDetails>> {
    let observation_point = match report {
        PacketReport::Observed(Observation {
            point: ReportPoint::Trace(n),
            ..
        }) => point_name(*n).map(Cow::Borrowed).or_else(|| {
            raw.trace_observation_point
                .0
                .as_ref()
                .map(|p| p.static_name(OBSERVATION_POINTS))
        }),
        _ => None,
    };
    let trace_reason = raw
        .trace_reason
        .0
        .as_ref()
        .map(|r| r.static_name(TRACE_REASONS))
        .filter(|r| r != "TRACE_REASON_UNKNOWN");
    let interface = raw
        .interface
        .0
        .take()
        .filter(|i| i.index.is_some() || !i.name.is_empty())
        .map(|i| Interface {
            index: i.index,
            name: i.name,
        });
    let cluster = |ep: &Option<RawEndpoint<'_>>| {
        ep.as_ref()
            .map(|e| e.cluster_name.trim())
            .filter(|c| !c.is_empty())
            .map(str::to_string)
    };
    let details = FlowDetails {
        record_id: raw
            .uuid
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(str::to_string),
        observation_point,
        trace_reason,
        interface,
        src_cluster: cluster(&raw.source),
        dst_cluster: cluster(&raw.destination),
        l7: raw.l7.0.take().map(RawL7::into_l7),
        ..FlowDetails::default()
    };
    (details != FlowDetails::default()).then(|| Arc::new(details))
}

/// The flow.proto name of a trace observation point as the datapath numbers it.
fn point_name(n: u8) -> Option<&'static str> {
    let number = if n == 0 { 101 } else { i64::from(n) };
    OBSERVATION_POINTS
        .iter()
        .find(|(known, _)| *known == number)
        .map(|(_, name)| *name)
}

/// Which report of its packet a flow is: where the node saw it (the monitor event type, and
/// for a trace its observation point) and what the record says of the packet itself.
fn packet_report(raw: &RawFlow<'_>) -> PacketReport {
    let event = raw.event_type.as_ref();
    let kind = event.and_then(|e| e.kind);
    let point = if raw.l7.0.is_some() || kind == Some(EVENT_L7) {
        ReportPoint::Proxy
    } else {
        match (kind, &raw.trace_observation_point.0) {
            (Some(EVENT_DROP), _) => ReportPoint::DropNotice,
            (Some(EVENT_POLICY_VERDICT), _) => ReportPoint::PolicyVerdict,
            (Some(EVENT_TRACE) | None, Some(point)) => ReportPoint::Trace(observation_point(point)),
            // protojson omits a sub-type of 0, which for a trace is `TO_ENDPOINT`.
            (Some(EVENT_TRACE), None) => ReportPoint::Trace(
                event
                    .and_then(|e| e.sub_type.0)
                    .map_or(0, |n| u8::try_from(n).unwrap_or(u8::MAX)),
            ),
            // Another kind of event, or neither the kind nor the point is given (masked):
            // nothing says which report of its packet this is.
            _ => return PacketReport::Single,
        }
    };
    let signature = raw.l4.as_ref().and_then(RawL4::signature);
    PacketReport::Observed(Observation { point, signature })
}

/// A trace observation point as the datapath numbers it (`TO_ENDPOINT` is 101 in flow.proto,
/// 0 in the datapath); 255 for a point this reader does not know.
fn observation_point(point: &EnumValue) -> u8 {
    let number = match point {
        EnumValue::Number(n) => Some(*n),
        EnumValue::Name(name) => OBSERVATION_POINTS
            .iter()
            .find(|(_, known)| *known == name.as_str())
            .map(|(n, _)| *n),
    };
    match number {
        Some(101) => 0,
        Some(n @ 1..=13) => n as u8,
        _ => u8::MAX,
    }
}

fn source_of(identity: &Identity) -> IdentitySource {
    if matches!(identity, Identity::Unknown) {
        IdentitySource::None
    } else {
        IdentitySource::Log
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("time {text:?} is not RFC 3339: {e}"))
}

/// Maps a Hubble verdict and drop reason to what flowq calls the action.
fn action_of(verdict: Option<&str>, drop_reason: Option<&str>) -> Action {
    match verdict {
        Some("FORWARDED" | "AUDIT" | "REDIRECTED" | "TRACED" | "TRANSLATED") => Action::Allowed,
        Some("DROPPED") => match drop_reason {
            // No reason: a policy-verdict event or an L7 proxy denial, both policy.
            None => Action::Denied,
            Some(reason) if is_policy_drop(reason) => Action::Denied,
            Some(_) => Action::Dropped,
        },
        _ => Action::Unknown,
    }
}

/// Whether a Hubble drop reason is a policy decision rather than a datapath condition.
pub fn is_policy_drop(reason: &str) -> bool {
    matches!(
        reason,
        "POLICY_DENIED" | "POLICY_DENY" | "AUTH_REQUIRED" | "DENIED_BY_LB_SRC_RANGE_CHECK"
    )
}

fn endpoint(
    raw: Option<&RawEndpoint<'_>>,
    ip: Option<IpAddr>,
    port: Option<u16>,
    service: Option<&RawService<'_>>,
    node: Option<&str>,
) -> Endpoint {
    // Cluster Mesh writes `cluster/node`; the node's own name is the part after the slash.
    let node_name = node.map(|n| n.rsplit_once('/').map_or(n, |(_, name)| name));
    let identity = raw.map_or(Identity::Unknown, |r| r.identity(node_name));
    let service = service
        .filter(|s| !s.name.is_empty())
        .map(|s| ServiceIdentity {
            namespace: s.namespace.to_string(),
            name: s.name.to_string(),
        });
    Endpoint {
        ip,
        port,
        identity,
        service,
        identity_source: IdentitySource::None,
    }
}

const EVENT_DROP: u32 = 1;
const EVENT_TRACE: u32 = 4;
const EVENT_POLICY_VERDICT: u32 = 5;
const EVENT_L7: u32 = 129;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    #[serde(borrow)]
    flow: Option<RawFlow<'a>>,
    #[serde(default, alias = "nodeStatus")]
    node_status: Option<IgnoredAny>,
    #[serde(default, alias = "lostEvents")]
    lost_events: Option<RawLost>,
    #[serde(default, alias = "agentEvent")]
    agent_event: Option<IgnoredAny>,
    #[serde(default, alias = "debugEvent")]
    debug_event: Option<IgnoredAny>,
    #[serde(default, borrow, alias = "nodeName")]
    node_name: Option<Text<'a>>,
    #[serde(default, borrow)]
    time: Option<Text<'a>>,
    // Keys that mark a bare legacy flow.
    #[serde(default)]
    verdict: Option<IgnoredAny>,
    #[serde(default, rename = "IP")]
    ip: Option<IgnoredAny>,
    #[serde(default)]
    l4: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawLost {
    #[serde(default)]
    source: Option<EnumValue>,
    #[serde(default, alias = "numEventsLost")]
    num_events_lost: Option<U64Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawFlow<'a> {
    #[serde(borrow)]
    time: Option<Text<'a>>,
    verdict: Option<EnumValue>,
    #[serde(alias = "dropReasonDesc")]
    drop_reason_desc: Option<EnumValue>,
    #[serde(alias = "dropReason")]
    drop_reason: Option<u64>,
    #[serde(rename = "IP", borrow)]
    ip: Option<RawIp<'a>>,
    l4: Option<RawL4>,
    #[serde(borrow)]
    source: Option<RawEndpoint<'a>>,
    #[serde(borrow)]
    destination: Option<RawEndpoint<'a>>,
    #[serde(alias = "nodeName", borrow)]
    node_name: Option<Text<'a>>,
    #[serde(alias = "eventType")]
    event_type: Option<RawEventType>,
    #[serde(alias = "traceObservationPoint")]
    trace_observation_point: Lenient<EnumValue>,
    l7: Lenient<RawL7>,
    #[serde(borrow)]
    uuid: Option<Text<'a>>,
    #[serde(alias = "traceReason")]
    trace_reason: Lenient<EnumValue>,
    interface: Lenient<RawInterface>,
    #[serde(alias = "trafficDirection")]
    traffic_direction: Option<EnumValue>,
    #[serde(alias = "isReply")]
    is_reply: Option<bool>,
    reply: Option<bool>,
    #[serde(alias = "sourceService", borrow)]
    source_service: Option<RawService<'a>>,
    #[serde(alias = "destinationService", borrow)]
    destination_service: Option<RawService<'a>>,
    #[serde(alias = "egressAllowedBy", borrow)]
    egress_allowed_by: Option<Vec<RawPolicy<'a>>>,
    #[serde(alias = "ingressAllowedBy", borrow)]
    ingress_allowed_by: Option<Vec<RawPolicy<'a>>>,
    #[serde(alias = "egressDeniedBy", borrow)]
    egress_denied_by: Option<Vec<RawPolicy<'a>>>,
    #[serde(alias = "ingressDeniedBy", borrow)]
    ingress_denied_by: Option<Vec<RawPolicy<'a>>>,
    aggregate: Option<RawAggregate>,
    emitter: Lenient<RawEmitter>,
}

/// The counts of a Cilium 1.19+ exporter's aggregated record (zero counts are omitted).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAggregate {
    #[serde(alias = "ingressFlowCount")]
    ingress_flow_count: Option<U64Value>,
    #[serde(alias = "egressFlowCount")]
    egress_flow_count: Option<U64Value>,
    #[serde(alias = "unknownDirectionFlowCount")]
    unknown_direction_flow_count: Option<U64Value>,
}

impl RawAggregate {
    /// The flows the record stands for: the sum of its counts, at least the one it shows.
    fn flows(&self) -> u64 {
        [
            &self.ingress_flow_count,
            &self.egress_flow_count,
            &self.unknown_direction_flow_count,
        ]
        .into_iter()
        .flatten()
        .fold(0u64, |total, n| total.saturating_add(n.0))
        .max(1)
    }
}

/// The program that wrote a flow (`emitter`, Cilium 1.19+: `{"name":"Hubble","version":…}`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEmitter {
    name: String,
    version: String,
}

impl RawEmitter {
    /// `name version`, or the name alone; `None` when the record names nothing.
    fn label(&self) -> Option<String> {
        let name = self.name.trim();
        let version = self.version.trim();
        match (name.is_empty(), version.is_empty()) {
            (true, true) => None,
            (false, true) => Some(name.to_string()),
            (true, false) => Some(format!("unnamed {version}")),
            (false, false) => Some(format!("{name} {version}")),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawIp<'a> {
    #[serde(borrow)]
    source: Option<Text<'a>>,
    #[serde(borrow)]
    destination: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawL4 {
    #[serde(rename = "TCP")]
    tcp: Option<RawPorts>,
    #[serde(rename = "UDP")]
    udp: Option<RawPorts>,
    #[serde(rename = "SCTP")]
    sctp: Option<RawPorts>,
    #[serde(rename = "ICMPv4")]
    icmpv4: Option<RawIcmp>,
    #[serde(rename = "ICMPv6")]
    icmpv6: Option<RawIcmp>,
    #[serde(rename = "VRRP")]
    vrrp: Option<IgnoredAny>,
    #[serde(rename = "IGMP")]
    igmp: Option<IgnoredAny>,
}

type L4Parts = (Protocol, Option<u16>, Option<u16>);

impl RawL4 {
    fn protocol_and_ports(&self) -> Result<L4Parts, String> {
        let with_ports = |p: Protocol, ports: &RawPorts| -> Result<L4Parts, String> {
            Ok((
                p,
                port(ports.source_port, "source_port")?,
                port(ports.destination_port, "destination_port")?,
            ))
        };
        if let Some(p) = &self.tcp {
            return with_ports(Protocol::Tcp, p);
        }
        if let Some(p) = &self.udp {
            return with_ports(Protocol::Udp, p);
        }
        if let Some(p) = &self.sctp {
            return with_ports(Protocol::Sctp, p);
        }
        let protocol = if self.icmpv4.is_some() {
            Protocol::Icmpv4
        } else if self.icmpv6.is_some() {
            Protocol::Icmpv6
        } else if self.vrrp.is_some() {
            Protocol::Other(112)
        } else if self.igmp.is_some() {
            Protocol::Other(2)
        } else {
            Protocol::Unknown
        };
        Ok((protocol, None, None))
    }

    /// What tells this packet apart from the others of its connection: its TCP flags, or its
    /// ICMP type and code.
    fn signature(&self) -> Option<u16> {
        if let Some(flags) = self.tcp.as_ref().and_then(|t| t.flags.0.as_ref()) {
            return Some(flags.bits());
        }
        let icmp = self.icmpv4.as_ref().or(self.icmpv6.as_ref())?;
        let byte = |n: Option<u32>| n.map_or(0, |n| n.min(255) as u16);
        Some(byte(icmp.kind.0) << 8 | byte(icmp.code.0))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPorts {
    #[serde(alias = "sourcePort")]
    source_port: Option<U64Value>,
    #[serde(alias = "destinationPort")]
    destination_port: Option<U64Value>,
    flags: Lenient<RawTcpFlags>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawTcpFlags {
    #[serde(rename = "FIN")]
    fin: bool,
    #[serde(rename = "SYN")]
    syn: bool,
    #[serde(rename = "RST")]
    rst: bool,
    #[serde(rename = "PSH")]
    psh: bool,
    #[serde(rename = "ACK")]
    ack: bool,
    #[serde(rename = "URG")]
    urg: bool,
    #[serde(rename = "ECE")]
    ece: bool,
    #[serde(rename = "CWR")]
    cwr: bool,
    #[serde(rename = "NS")]
    ns: bool,
}

impl RawTcpFlags {
    /// The flags as bits, FIN first (see [`Observation::signature`]).
    fn bits(&self) -> u16 {
        [
            self.fin, self.syn, self.rst, self.psh, self.ack, self.urg, self.ece, self.cwr, self.ns,
        ]
        .iter()
        .enumerate()
        .fold(0, |bits, (i, set)| bits | u16::from(*set) << i)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawIcmp {
    #[serde(rename = "type")]
    kind: Lenient<u32>,
    code: Lenient<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEventType {
    #[serde(rename = "type")]
    kind: Option<u32>,
    #[serde(alias = "subType")]
    sub_type: Lenient<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawService<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    namespace: Cow<'a, str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPolicy<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    namespace: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
}

impl RawPolicy<'_> {
    fn to_ref(&self) -> PolicyRef {
        PolicyRef {
            namespace: Some(self.namespace.to_string()).filter(|n| !n.is_empty()),
            name: self.name.to_string(),
            kind: Some(self.kind.to_string()).filter(|k| !k.is_empty()),
            tier: None,
        }
    }
}

/// The network interface of a trace (`interface`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawInterface {
    index: Option<u32>,
    name: String,
}

/// The L7 message of a proxy record (`l7`); read leniently, since a field of an unexpected
/// type must not cost the flow.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawL7 {
    #[serde(rename = "type")]
    kind: Option<EnumValue>,
    #[serde(alias = "latencyNs")]
    latency_ns: Option<U64Value>,
    dns: Option<RawDns>,
    http: Option<RawHttp>,
    kafka: Option<RawKafka>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawDns {
    query: String,
    ips: Vec<String>,
    ttl: Option<u32>,
    cnames: Vec<String>,
    rcode: Option<u32>,
    qtypes: Vec<String>,
    rrtypes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawHttp {
    code: Option<u32>,
    method: String,
    url: String,
    protocol: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawKafka {
    #[serde(alias = "errorCode")]
    error_code: Option<i32>,
    #[serde(alias = "apiKey")]
    api_key: String,
    topic: String,
}

impl RawL7 {
    fn into_l7(self) -> L7 {
        L7 {
            kind: self
                .kind
                .as_ref()
                .map(|k| k.name(L7_TYPES))
                .filter(|k| k != "UNKNOWN_L7_TYPE"),
            latency_ns: self.latency_ns.as_ref().map(|n| n.0).filter(|n| *n != 0),
            dns: self.dns.map(|d| Dns {
                query: d.query,
                qtypes: d.qtypes,
                rrtypes: d.rrtypes,
                ips: d.ips,
                cnames: d.cnames,
                ttl: d.ttl,
                rcode: d.rcode,
            }),
            http: self.http.map(|h| Http {
                method: h.method,
                url: h.url,
                protocol: h.protocol,
                code: h.code.filter(|c| *c != 0),
            }),
            kafka: self.kafka.map(|k| Kafka {
                api_key: k.api_key,
                topic: k.topic,
                error_code: k.error_code,
            }),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEndpoint<'a> {
    #[serde(rename = "ID")]
    id: Option<u32>,
    identity: Option<u32>,
    #[serde(borrow)]
    namespace: Cow<'a, str>,
    #[serde(borrow)]
    labels: Option<Vec<Text<'a>>>,
    #[serde(alias = "podName", borrow)]
    pod_name: Cow<'a, str>,
    #[serde(borrow)]
    workloads: Option<Vec<RawWorkload<'a>>>,
    #[serde(alias = "clusterName", borrow)]
    cluster_name: Cow<'a, str>,
    /// The endpoint object's text, when the fast path read it: the key pod identities are
    /// shared by.
    #[serde(skip)]
    text: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawWorkload<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
}

impl RawEndpoint<'_> {
    fn identity(&self, observing_node: Option<&str>) -> Identity {
        let labels = self.labels.as_deref().unwrap_or_default();
        // The names the log gives win over a reserved label: with L7 visibility (GKE) Hubble
        // labels many in-cluster endpoints `reserved:world` while the same endpoint object
        // still names its namespace and pod.
        if !self.namespace.is_empty() && !self.pod_name.is_empty() {
            return self.pod_identity(labels, observing_node);
        }
        let reserved = labels
            .iter()
            .find_map(|l| l.strip_prefix("reserved:"))
            .map(str::to_string)
            .or_else(|| {
                self.identity
                    .and_then(reserved_name_of_identity)
                    .map(str::to_string)
            });
        if let Some(name) = reserved {
            return match name.as_str() {
                // `reserved:host` is the node that observed the flow.
                "host" => Identity::Node(NodeIdentity {
                    name: observing_node.map(str::to_string),
                    host_network_pods: Vec::new(),
                }),
                "remote-node" => Identity::Node(NodeIdentity::default()),
                "world" | "world-ipv4" | "world-ipv6" => Identity::External,
                _ => Identity::Reserved { name },
            };
        }
        if labels
            .iter()
            .any(|l| l.starts_with("cidr:") || l.starts_with("fqdn:"))
        {
            return Identity::External;
        }
        if self.namespace.is_empty() && self.pod_name.is_empty() {
            return Identity::Unknown;
        }
        self.pod_identity(labels, observing_node)
    }

    /// The pod (or the namespace, without a pod name) the endpoint names: shared with the
    /// records before that held the same endpoint object, when the fast path read it.
    fn pod_identity(&self, labels: &[Text<'_>], observing_node: Option<&str>) -> Identity {
        // Only endpoints local to the observing node carry an endpoint ID.
        let node = self.id.filter(|id| *id != 0).and(observing_node);
        let build = || PodIdentity {
            namespace: self.namespace.to_string(),
            name: self.pod_name.to_string(),
            workload: self
                .workloads
                .as_deref()
                .unwrap_or_default()
                .iter()
                .find(|w| !w.name.is_empty())
                .map(|w| Workload {
                    kind: w.kind.to_string(),
                    name: w.name.to_string(),
                }),
            node: node.map(str::to_string),
            labels: Arc::new(pod_labels(labels)),
        };
        Identity::Pod(match self.text {
            Some(text) => shared_pod(&[text], node, build),
            None => Arc::new(build()),
        })
    }
}

/// The pod's own labels from Cilium's label list: `k8s:` labels other than the ones Cilium
/// derives (policy cluster/serviceaccount, namespace labels, the namespace itself).
fn pod_labels(labels: &[Text<'_>]) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter_map(|l| l.strip_prefix("k8s:"))
        .filter(|l| {
            !l.starts_with("io.cilium.k8s.")
                && !l.starts_with("io.kubernetes.pod.namespace=")
                && !l.starts_with("io.cilium.")
        })
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

fn reserved_name_of_identity(id: u32) -> Option<&'static str> {
    Some(match id {
        1 => "host",
        2 => "world",
        3 => "unmanaged",
        4 => "health",
        5 => "init",
        6 => "remote-node",
        7 => "kube-apiserver",
        8 => "ingress",
        9 => "world-ipv4",
        10 => "world-ipv6",
        _ => return None,
    })
}

const VERDICTS: &[(i64, &str)] = &[
    (0, "VERDICT_UNKNOWN"),
    (1, "FORWARDED"),
    (2, "DROPPED"),
    (3, "ERROR"),
    (4, "AUDIT"),
    (5, "REDIRECTED"),
    (6, "TRACED"),
    (7, "TRANSLATED"),
];

const TRAFFIC_DIRECTIONS: &[(i64, &str)] = &[
    (0, "TRAFFIC_DIRECTION_UNKNOWN"),
    (1, "INGRESS"),
    (2, "EGRESS"),
];

const OBSERVATION_POINTS: &[(i64, &str)] = &[
    (0, "UNKNOWN_POINT"),
    (1, "TO_PROXY"),
    (2, "TO_HOST"),
    (3, "TO_STACK"),
    (4, "TO_OVERLAY"),
    (101, "TO_ENDPOINT"),
    (5, "FROM_ENDPOINT"),
    (6, "FROM_PROXY"),
    (7, "FROM_HOST"),
    (8, "FROM_STACK"),
    (9, "FROM_OVERLAY"),
    (10, "FROM_NETWORK"),
    (11, "TO_NETWORK"),
    (12, "FROM_CRYPTO"),
    (13, "TO_CRYPTO"),
];

const TRACE_REASONS: &[(i64, &str)] = &[
    (0, "TRACE_REASON_UNKNOWN"),
    (1, "NEW"),
    (2, "ESTABLISHED"),
    (3, "REPLY"),
    (4, "RELATED"),
    (5, "REOPENED"),
    (6, "SRV6_ENCAP"),
    (7, "SRV6_DECAP"),
    (8, "ENCRYPT_OVERLAY"),
];

const L7_TYPES: &[(i64, &str)] = &[
    (0, "UNKNOWN_L7_TYPE"),
    (1, "REQUEST"),
    (2, "RESPONSE"),
    (3, "SAMPLE"),
];

const LOST_EVENT_SOURCES: &[(i64, &str)] = &[
    (0, "UNKNOWN_LOST_EVENT_SOURCE"),
    (1, "PERF_EVENT_RING_BUFFER"),
    (2, "OBSERVER_EVENTS_QUEUE"),
    (3, "HUBBLE_RING_BUFFER"),
];

/// Cilium's `DropReason` enum (flow.proto), for logs that write it as a number.
const DROP_REASONS: &[(i64, &str)] = &[
    (0, "DROP_REASON_UNKNOWN"),
    (130, "INVALID_SOURCE_MAC"),
    (131, "INVALID_DESTINATION_MAC"),
    (132, "INVALID_SOURCE_IP"),
    (133, "POLICY_DENIED"),
    (134, "INVALID_PACKET_DROPPED"),
    (135, "CT_TRUNCATED_OR_INVALID_HEADER"),
    (136, "CT_MISSING_TCP_ACK_FLAG"),
    (137, "CT_UNKNOWN_L4_PROTOCOL"),
    (138, "CT_CANNOT_CREATE_ENTRY_FROM_PACKET"),
    (139, "UNSUPPORTED_L3_PROTOCOL"),
    (140, "MISSED_TAIL_CALL"),
    (141, "ERROR_WRITING_TO_PACKET"),
    (142, "UNKNOWN_L4_PROTOCOL"),
    (143, "UNKNOWN_ICMPV4_CODE"),
    (144, "UNKNOWN_ICMPV4_TYPE"),
    (145, "UNKNOWN_ICMPV6_CODE"),
    (146, "UNKNOWN_ICMPV6_TYPE"),
    (147, "ERROR_RETRIEVING_TUNNEL_KEY"),
    (148, "ERROR_RETRIEVING_TUNNEL_OPTIONS"),
    (149, "INVALID_GENEVE_OPTION"),
    (150, "UNKNOWN_L3_TARGET_ADDRESS"),
    (151, "STALE_OR_UNROUTABLE_IP"),
    (152, "NO_MATCHING_LOCAL_CONTAINER_FOUND"),
    (153, "ERROR_WHILE_CORRECTING_L3_CHECKSUM"),
    (154, "ERROR_WHILE_CORRECTING_L4_CHECKSUM"),
    (155, "CT_MAP_INSERTION_FAILED"),
    (156, "INVALID_IPV6_EXTENSION_HEADER"),
    (157, "IP_FRAGMENTATION_NOT_SUPPORTED"),
    (158, "SERVICE_BACKEND_NOT_FOUND"),
    (160, "NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT"),
    (161, "FAILED_TO_INSERT_INTO_PROXYMAP"),
    (162, "REACHED_EDT_RATE_LIMITING_DROP_HORIZON"),
    (163, "UNKNOWN_CONNECTION_TRACKING_STATE"),
    (164, "LOCAL_HOST_IS_UNREACHABLE"),
    (165, "NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION"),
    (166, "UNSUPPORTED_L2_PROTOCOL"),
    (167, "NO_MAPPING_FOR_NAT_MASQUERADE"),
    (168, "UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE"),
    (169, "FIB_LOOKUP_FAILED"),
    (170, "ENCAPSULATION_TRAFFIC_IS_PROHIBITED"),
    (171, "INVALID_IDENTITY"),
    (172, "UNKNOWN_SENDER"),
    (173, "NAT_NOT_NEEDED"),
    (174, "IS_A_CLUSTERIP"),
    (175, "FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND"),
    (176, "FORBIDDEN_ICMPV6_MESSAGE"),
    (177, "DENIED_BY_LB_SRC_RANGE_CHECK"),
    (178, "SOCKET_LOOKUP_FAILED"),
    (179, "SOCKET_ASSIGN_FAILED"),
    (180, "PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL"),
    (181, "POLICY_DENY"),
    (182, "VLAN_FILTERED"),
    (183, "INVALID_VNI"),
    (184, "INVALID_TC_BUFFER"),
    (185, "NO_SID"),
    (186, "MISSING_SRV6_STATE"),
    (187, "NAT46"),
    (188, "NAT64"),
    (189, "AUTH_REQUIRED"),
    (190, "CT_NO_MAP_FOUND"),
    (191, "SNAT_NO_MAP_FOUND"),
    (192, "INVALID_CLUSTER_ID"),
    (193, "UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP"),
    (194, "NO_EGRESS_GATEWAY"),
    (195, "UNENCRYPTED_TRAFFIC"),
    (196, "TTL_EXCEEDED"),
    (197, "NO_NODE_ID"),
    (198, "DROP_RATE_LIMITED"),
    (199, "IGMP_HANDLED"),
    (200, "IGMP_SUBSCRIBED"),
    (201, "MULTICAST_HANDLED"),
    (202, "DROP_HOST_NOT_READY"),
    (203, "DROP_EP_NOT_READY"),
    (204, "DROP_NO_EGRESS_IP"),
    (205, "DROP_PUNT_PROXY"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A line decoded as the reader decodes it (fast path, else serde).
    fn decode_line(line: &[u8], origin: Origin) -> Record {
        crate::ingest::decode_record(Format::Hubble, line, origin)
    }

    fn origin() -> Origin {
        Origin {
            input: Arc::from("test"),
            line: 1,
        }
    }

    fn decode(line: &str) -> (Flow, PacketReport) {
        match decode_line(line.as_bytes(), origin()) {
            Record::Flow(flow, report) => (*flow, report),
            other => panic!("expected a flow, found {other:?}"),
        }
    }

    #[test]
    fn an_aggregated_record_counts_the_flows_its_counters_say() {
        let line = trace(
            r#","aggregate":{"ingress_flow_count":40,"egress_flow_count":"2","unknown_direction_flow_count":1}"#,
        );
        let (flow, _) = decode(&line);
        assert_eq!(flow.count, 43);
        assert_eq!(flow.counting, crate::flow::Counting::Aggregated);
        // Zero counters are omitted: an empty aggregate still stands for the flow it shows.
        let (flow, _) = decode(&trace(r#","aggregate":{}"#));
        assert_eq!(
            (flow.count, flow.counting),
            (1, crate::flow::Counting::Aggregated)
        );
        let (flow, _) = decode(&trace(""));
        assert_eq!(
            (flow.count, flow.counting),
            (1, crate::flow::Counting::Exact)
        );
        let huge = trace(
            r#","aggregate":{"ingressFlowCount":"18446744073709551615","egressFlowCount":9}"#,
        );
        assert_eq!(decode(&huge).0.count, u64::MAX);
        let bad = trace(r#","aggregate":{"ingress_flow_count":-3}"#);
        assert!(matches!(
            decode_line(bad.as_bytes(), origin()),
            Record::Skip(_)
        ));
    }

    #[test]
    fn the_emitter_is_kept_and_a_malformed_one_never_costs_the_flow() {
        let line = trace(r#","emitter":{"name":"Hubble","version":"1.19.1+gd0d0c879"}"#);
        match decode_line(line.as_bytes(), origin()) {
            Record::Emitted(flow, _, emitter) => {
                assert_eq!(emitter, "Hubble 1.19.1+gd0d0c879");
                assert_eq!(flow.dst.port, Some(8080));
            }
            other => panic!("expected an emitted flow, found {other:?}"),
        }
        let retina = trace(r#","emitter":{"name":"Retina"}"#);
        assert!(matches!(
            decode_line(retina.as_bytes(), origin()),
            Record::Emitted(_, _, e) if e == "Retina"
        ));
        for odd in [r#","emitter":"Hubble""#, r#","emitter":{}"#] {
            assert!(matches!(
                decode_line(trace(odd).as_bytes(), origin()),
                Record::Flow(..)
            ));
        }
    }

    /// A forwarded TCP trace from 10.8.0.5:41000 to 10.8.1.9:8080 on `node-a`, with `extra`
    /// fields added to the flow.
    fn trace(extra: &str) -> String {
        format!(
            r#"{{"flow":{{"time":"2024-05-02T08:00:00.000001Z","verdict":"FORWARDED","IP":{{"source":"10.8.0.5","destination":"10.8.1.9"}},"l4":{{"TCP":{{"source_port":41000,"destination_port":8080,"flags":{{"SYN":true}}}}}},"traffic_direction":"EGRESS","node_name":"node-a"{extra}}}}}"#
        )
    }

    #[test]
    fn a_record_without_more_to_say_has_no_details() {
        let (flow, _) = decode(&trace(""));
        assert_eq!(flow.details, None);
    }

    #[test]
    fn the_trace_id_point_reason_interface_and_clusters_are_kept() {
        let (flow, _) = decode(&trace(
            r#","uuid":"60e8fedd-6d98-49d8-b7f6-cb84455757ab","event_type":{"type":4},"trace_observation_point":"TO_ENDPOINT","trace_reason":"REPLY","interface":{"index":98,"name":"lxc8308dc5301b3"},"source":{"cluster_name":"east","namespace":"a","pod_name":"p"},"destination":{"clusterName":"west"}"#,
        ));
        let d = flow.details.expect("details");
        assert_eq!(
            d.record_id.as_deref(),
            Some("60e8fedd-6d98-49d8-b7f6-cb84455757ab")
        );
        assert_eq!(d.observation_point.as_deref(), Some("TO_ENDPOINT"));
        assert_eq!(d.trace_reason.as_deref(), Some("REPLY"));
        assert_eq!(
            d.interface,
            Some(Interface {
                index: Some(98),
                name: "lxc8308dc5301b3".into()
            })
        );
        assert_eq!(
            (d.src_cluster.as_deref(), d.dst_cluster.as_deref()),
            (Some("east"), Some("west"))
        );
        // A point and reason given as numbers, the point only by the event's sub-type.
        let (flow, _) = decode(&trace(
            r#","event_type":{"type":4,"sub_type":5},"trace_reason":1"#,
        ));
        let d = flow.details.expect("details");
        assert_eq!(d.observation_point.as_deref(), Some("FROM_ENDPOINT"));
        assert_eq!(d.trace_reason.as_deref(), Some("NEW"));
        // A policy-verdict event has no observation point; an unknown reason is none.
        let (flow, _) = decode(&trace(
            r#","event_type":{"type":5},"trace_reason":"TRACE_REASON_UNKNOWN""#,
        ));
        assert_eq!(flow.details, None);
    }

    #[test]
    fn a_dns_message_is_kept_whole_and_reads_as_one_line() {
        let (flow, _) = decode(&trace(
            r#","event_type":{"type":129},"l7":{"type":"RESPONSE","latency_ns":"2500000","dns":{"query":"zipkin.istio-system.svc.cluster.local.","ttl":4294967295,"rcode":3,"qtypes":["A"],"observation_source":"proxy"}}"#,
        ));
        let l7 = flow.details.unwrap().l7.clone().expect("l7");
        assert_eq!(l7.kind.as_deref(), Some("RESPONSE"));
        assert_eq!(l7.latency_ns, Some(2_500_000));
        let dns = l7.dns.as_ref().unwrap();
        assert_eq!(
            (dns.rcode, dns.ttl, dns.ips.len()),
            (Some(3), Some(u32::MAX), 0)
        );
        assert_eq!(dns.rcode_name().as_deref(), Some("NXDOMAIN"));
        assert_eq!(
            l7.to_string(),
            "dns response NXDOMAIN A zipkin.istio-system.svc.cluster.local."
        );
        let (flow, _) = decode(&trace(
            r#","l7":{"type":2,"dns":{"query":"istiod.istio-system.svc.cluster.local.","ips":["10.160.0.203"],"ttl":30,"qtypes":["A"],"rrtypes":["A"]}}"#,
        ));
        assert_eq!(
            flow.details.unwrap().l7.clone().unwrap().to_string(),
            "dns response A istiod.istio-system.svc.cluster.local. -> 10.160.0.203"
        );
    }

    #[test]
    fn http_and_kafka_messages_read_as_one_line() {
        let (flow, _) = decode(&trace(
            r#","l7":{"type":"RESPONSE","http":{"code":503,"method":"GET","url":"http://cart.shop:8080/items","protocol":"HTTP/1.1"}}"#,
        ));
        let l7 = flow.details.unwrap().l7.clone().unwrap();
        assert_eq!(l7.http.as_ref().unwrap().protocol, "HTTP/1.1");
        assert_eq!(
            l7.to_string(),
            "http response 503 GET http://cart.shop:8080/items"
        );
        let (flow, _) = decode(&trace(
            r#","l7":{"type":"REQUEST","kafka":{"api_key":"fetch","topic":"orders","error_code":0}}"#,
        ));
        assert_eq!(
            flow.details.unwrap().l7.clone().unwrap().to_string(),
            "kafka request fetch orders"
        );
    }

    #[test]
    fn an_l7_message_of_an_unexpected_shape_never_costs_the_flow() {
        for odd in [
            r#","l7":"REQUEST""#,
            r#","l7":{"dns":{"query":7}}"#,
            r#","l7":{"type":"REQUEST","dns":{"query":"x.","ttl":-1}}"#,
            r#","interface":{"index":"lxc0"}"#,
            r#","trace_reason":{"odd":true}"#,
        ] {
            let line = trace(odd);
            assert!(
                matches!(decode_line(line.as_bytes(), origin()), Record::Flow(..)),
                "{odd}"
            );
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_decode_as_they_did_before_the_whole_line_check() {
        // A byte that is not UTF-8 in a field the reader ignores: the line is not a string, so
        // it is parsed from bytes, and the ignored field does not stop the flow.
        let mut line = trace(r#","Summary":"TCP Flags: SYN XX""#).into_bytes();
        let at = line.windows(2).position(|w| w == b"XX").unwrap();
        line[at] = 0xff;
        match decode_line(&line, origin()) {
            Record::Flow(flow, _) => assert_eq!(flow.dst.port, Some(8080)),
            other => panic!("expected a flow, found {other:?}"),
        }
        // The same byte in a field it reads is an error naming the line's problem.
        let mut line = trace("").into_bytes();
        let at = line.windows(6).position(|w| w == b"node-a").unwrap();
        line[at] = 0xff;
        match decode_line(&line, origin()) {
            Record::Skip(cause) => assert!(cause.contains("invalid"), "{cause}"),
            other => panic!("expected a skip, found {other:?}"),
        }
    }

    #[test]
    fn the_names_the_log_gives_win_over_a_reserved_world_label() {
        // GKE with L7 visibility labels in-cluster endpoints `reserved:world` while the same
        // endpoint still names its namespace and pod.
        let (flow, _) = decode(&trace(
            r#","source":{"identity":2,"namespace":"shop","pod_name":"cart-7d9f-x2k4q","labels":["reserved:world"],"workloads":[{"name":"cart","kind":"Deployment"}]},"destination":{"ID":88,"identity":2,"namespace":"shop","pod_name":"redis-0","labels":["reserved:world","k8s:app=redis"]}"#,
        ));
        let src = flow
            .src
            .identity
            .pod()
            .expect("the source is the pod the log names");
        assert_eq!(
            (src.namespace.as_str(), src.name.as_str()),
            ("shop", "cart-7d9f-x2k4q")
        );
        assert_eq!(src.workload.as_ref().unwrap().name, "cart");
        assert_eq!(flow.src.identity_source, IdentitySource::Log);
        let dst = flow
            .dst
            .identity
            .pod()
            .expect("the destination is the pod the log names");
        assert_eq!(dst.name, "redis-0");
        assert_eq!(dst.node.as_deref(), Some("node-a"));
        assert_eq!(dst.labels.get("app").map(String::as_str), Some("redis"));
        assert_eq!(flow.dst.identity_source, IdentitySource::Log);
    }

    #[test]
    fn reserved_labels_decide_when_the_log_names_no_pod() {
        let (flow, _) = decode(&trace(
            r#","source":{"identity":2,"labels":["reserved:world"]},"destination":{"identity":4,"namespace":"shop","labels":["reserved:health"]}"#,
        ));
        assert_eq!(flow.src.identity, Identity::External);
        assert_eq!(
            flow.dst.identity,
            Identity::Reserved {
                name: "health".into()
            }
        );
        let (flow, _) = decode(&trace(r#","source":{"identity":1},"destination":{}"#));
        assert_eq!(flow.src.identity.to_string(), "node node-a");
        assert_eq!(flow.dst.identity, Identity::Unknown);
        assert_eq!(flow.dst.identity_source, IdentitySource::None);
    }

    fn point_of(extra: &str) -> PacketReport {
        decode(&trace(extra)).1
    }

    fn observed(point: ReportPoint, signature: Option<u16>) -> PacketReport {
        PacketReport::Observed(Observation { point, signature })
    }

    #[test]
    fn a_trace_is_reported_at_its_observation_point_by_name_number_or_sub_type() {
        const SYN: Option<u16> = Some(0b10);
        for extra in [
            r#","event_type":{"type":4,"sub_type":3},"trace_observation_point":"TO_STACK""#,
            r#","eventType":{"type":4},"traceObservationPoint":3"#,
            r#","event_type":{"type":4,"sub_type":3}"#,
        ] {
            assert_eq!(
                point_of(extra),
                observed(ReportPoint::Trace(3), SYN),
                "{extra}"
            );
        }
        // protojson omits sub-type 0: `TO_ENDPOINT`, 101 in flow.proto.
        for extra in [
            r#","event_type":{"type":4}"#,
            r#","event_type":{"type":4},"trace_observation_point":"TO_ENDPOINT""#,
            r#","trace_observation_point":101"#,
        ] {
            assert_eq!(
                point_of(extra),
                observed(ReportPoint::Trace(0), SYN),
                "{extra}"
            );
        }
        assert_eq!(
            point_of(r#","event_type":{"type":4},"trace_observation_point":"TO_WORMHOLE""#),
            observed(ReportPoint::Trace(u8::MAX), SYN)
        );
    }

    #[test]
    fn verdicts_drops_and_proxy_records_are_reports_of_their_own_kind() {
        const SYN: Option<u16> = Some(0b10);
        assert_eq!(
            point_of(r#","event_type":{"type":5}"#),
            observed(ReportPoint::PolicyVerdict, SYN)
        );
        assert_eq!(
            point_of(r#","event_type":{"type":1,"sub_type":133}"#),
            observed(ReportPoint::DropNotice, SYN)
        );
        assert_eq!(
            point_of(r#","event_type":{"type":129},"l7":{"type":"REQUEST"}"#),
            observed(ReportPoint::Proxy, SYN)
        );
        assert_eq!(
            point_of(r#","event_type":{"type":7}"#),
            PacketReport::Single
        );
        assert_eq!(
            point_of(""),
            PacketReport::Single,
            "masked: nothing says which"
        );
    }

    #[test]
    fn odd_values_where_a_packet_is_told_apart_are_ignored_not_skipped() {
        let (flow, report) = decode(
            r#"{"flow":{"time":"2024-05-02T08:00:00Z","verdict":"FORWARDED","IP":{"source":"10.8.0.5","destination":"10.8.1.9"},"l4":{"TCP":{"source_port":1,"destination_port":2,"flags":{"SYN":"yes"}}},"event_type":{"type":4,"sub_type":-3},"trace_observation_point":{"deep":[1]}}}"#,
        );
        assert_eq!(flow.protocol, Protocol::Tcp);
        assert_eq!(report, observed(ReportPoint::Trace(0), None));
        let (flow, report) = decode(
            r#"{"flow":{"time":"2024-05-02T08:00:00Z","verdict":"FORWARDED","IP":{"source":"10.8.0.5","destination":"10.8.1.9"},"l4":{"ICMPv6":{"type":"128","code":-1}},"event_type":{"type":4,"sub_type":3}}}"#,
        );
        assert_eq!(flow.protocol, Protocol::Icmpv6);
        assert_eq!(report, observed(ReportPoint::Trace(3), Some(0)));
    }

    #[test]
    fn the_packet_signature_is_its_tcp_flags_or_icmp_type_and_code() {
        let (_, report) = decode(
            r#"{"flow":{"time":"2024-05-02T08:00:00Z","verdict":"FORWARDED","IP":{"source":"10.8.0.5","destination":"10.8.1.9"},"l4":{"TCP":{"source_port":1,"destination_port":2,"flags":{"PSH":true,"ACK":true}}},"event_type":{"type":4}}}"#,
        );
        assert_eq!(report, observed(ReportPoint::Trace(0), Some(0b1_1000)));
        let (_, report) = decode(
            r#"{"flow":{"time":"2024-05-02T08:00:00Z","verdict":"FORWARDED","IP":{"source":"10.8.0.5","destination":"10.8.1.9"},"l4":{"ICMPv4":{"type":8}},"event_type":{"type":4}}}"#,
        );
        assert_eq!(report, observed(ReportPoint::Trace(0), Some(8 << 8)));
        let (_, report) = decode(
            r#"{"flow":{"time":"2024-05-02T08:00:00Z","verdict":"FORWARDED","IP":{"source":"10.8.0.5","destination":"10.8.1.9"},"l4":{"UDP":{"source_port":1,"destination_port":53}},"event_type":{"type":4}}}"#,
        );
        assert_eq!(report, observed(ReportPoint::Trace(0), None));
    }
}
