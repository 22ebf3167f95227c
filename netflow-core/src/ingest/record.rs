//! What decoding one input record gives: a flow (and which report of its packet it is), a
//! non-flow event, a loss the source reports, a blank, or a skip with its cause.

use crate::flow::Flow;

/// What one input record turned out to be.
#[derive(Debug)]
#[non_exhaustive]
pub enum Record {
    /// A flow, and which report of its packet it is.
    Flow(Box<Flow>, PacketReport),
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
    /// A blank line: not a record.
    Blank,
    /// A record that could not be used, and why.
    Skip(String),
}

/// Which kind of report of a packet a flow record is, for pairing the two reports of one
/// denied packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketReport {
    /// A record that has no twin (traces, L7 events, other formats).
    Single,
    /// A Hubble policy-verdict event (monitor event type 5).
    PolicyVerdict,
    /// A Hubble drop notification (monitor event type 1).
    DropNotice,
}
