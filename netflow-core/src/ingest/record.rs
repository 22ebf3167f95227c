//! What decoding one input record gives: a flow (and which report of its packet it is), a
//! non-flow event, a loss the source reports, a part of a flow written over several records,
//! a line of a record that spans lines, a blank, or a skip with its cause.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::flow::{Action, Direction, Flow, Protocol};

/// What one input record turned out to be.
#[derive(Debug)]
#[non_exhaustive]
pub enum Record {
    /// A flow, and which report of its packet it is.
    Flow(Box<Flow>, PacketReport),
    /// A flow whose record names the program that wrote it (Hubble `emitter`: Cilium's Hubble,
    /// Retina, …), as `name version`; the input's report counts the flows of each.
    Emitted(Box<Flow>, PacketReport, String),
    /// A part of a flow its source writes over several records (kube-network-policies logs a
    /// packet's evaluation and its verdict apart), joined in input order.
    Part(Part),
    /// A record of the format that is not a flow (Hubble `node_status`, `agent_event`, …).
    Event {
        /// The kind of event, as the format names it.
        kind: &'static str,
    },
    /// The source reports it lost events before they were written (Hubble `lost_events`).
    Lost {
        /// How many events the source lost.
        count: u64,
        /// Where it lost them (e.g. `PERF_EVENT_RING_BUFFER`).
        source: String,
    },
    /// One line of a record that spans several lines (`calico-node -flows`): the reader joins
    /// it, in input order, with the lines after it up to the next line that opens a record, and
    /// decodes them together ([`super::decode_block`]).
    Line {
        /// Whether this line opens a record.
        opens: bool,
        /// The line as read.
        text: Box<[u8]>,
    },
    /// A blank line: not a record.
    Blank,
    /// A record that could not be used, and why.
    Skip(String),
}

impl Record {
    /// The record of a flow converted from a record that reports its packet once, or the skip
    /// with the cause the conversion gave.
    pub(crate) fn single(converted: Result<Flow, String>) -> Record {
        match converted {
            Ok(flow) => Record::Flow(Box::new(flow), PacketReport::Single),
            Err(cause) => Record::Skip(cause),
        }
    }
}

/// Which report of its packet a flow record is, for counting a packet once however many times
/// its source reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketReport {
    /// A record that is the only report of what it stands for (connection logs, events whose
    /// kind the record does not say).
    Single,
    /// One of possibly several reports of one packet on one node (Hubble).
    Observed(Observation),
}

/// Where a node reported a packet, and what tells the packet apart from the others of its
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Observation {
    /// Where on the node the packet was reported.
    pub point: ReportPoint,
    /// What the record says of the packet itself, when it says: TCP flags (bit 0 FIN, 1 SYN,
    /// 2 RST, 3 PSH, 4 ACK, 5 URG, 6 ECE, 7 CWR, 8 NS), or ICMP type × 256 + code.
    pub signature: Option<u16>,
}

/// A place where Hubble reports a packet: each reports one packet at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportPoint {
    /// A datapath trace (monitor event type 4) at an observation point, numbered as the
    /// datapath numbers them (0 `TO_ENDPOINT`, 1 `TO_PROXY`, 2 `TO_HOST`, 3 `TO_STACK`,
    /// 4 `TO_OVERLAY`, 5 `FROM_ENDPOINT`, 6 `FROM_PROXY`, 7 `FROM_HOST`, 8 `FROM_STACK`,
    /// 9 `FROM_OVERLAY`, 10 `FROM_NETWORK`, 11 `TO_NETWORK`, 12 `FROM_CRYPTO`, 13 `TO_CRYPTO`);
    /// a point it does not know by these names (a newer Cilium's) is 255, a point of its own.
    Trace(u8),
    /// A policy-verdict event (monitor event type 5).
    PolicyVerdict,
    /// A drop notification (monitor event type 1).
    DropNotice,
    /// An L7 proxy's record of the message (event type 129).
    Proxy,
}

/// A part of one packet's record, from a source that writes a decision over several records
/// linked by a packet id (kube-network-policies: one evaluation per direction, then a verdict;
/// in klog text, the evaluation's packet on the lines after it). The reader joins the parts of
/// one id into one flow.
#[derive(Debug)]
#[non_exhaustive]
pub enum Part {
    /// A packet's evaluation: the flow as far as it is known, without a verdict yet.
    Evaluation {
        /// The packet id linking the parts.
        id: u64,
        /// Which pipeline evaluated it (egress of the source, ingress of the destination).
        pipeline: Direction,
        /// The flow so far (its action is unknown until the verdict).
        flow: Box<Flow>,
    },
    /// The addresses, ports and protocol of a packet whose evaluation came before (klog text
    /// writes them on the line after the evaluation).
    Packet {
        /// The packet id.
        id: u64,
        /// Source address and port.
        src: (IpAddr, u16),
        /// Destination address and port.
        dst: (IpAddr, u16),
        /// Transport protocol.
        protocol: Protocol,
    },
    /// The verdict on a packet.
    Verdict {
        /// The packet id.
        id: u64,
        /// What happened to the packet.
        action: Action,
        /// The side whose policy denied it (unknown for an accepted packet: both sides let it
        /// through).
        direction: Direction,
        /// The log's own words for it.
        raw: String,
        /// When the verdict was written.
        time: Option<DateTime<Utc>>,
        /// A verdict that stands only when no other came for the packet (the controller's
        /// `Finished syncing packet`, written after the engine's own verdict, if any).
        fallback: bool,
    },
    /// A line that continues the record before it (a payload dump, the closing `>`): part of
    /// that record, not a record of its own.
    Continuation,
}
