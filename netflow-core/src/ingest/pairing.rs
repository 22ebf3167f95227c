//! Counting a packet once however many times its source reports it. Hubble reports one packet
//! at every observation point it passes on a node (traces at `FROM_ENDPOINT`, `TO_PROXY`,
//! `TO_STACK`, `TO_ENDPOINT`, …), again as a policy-verdict event and, when it is denied, as a
//! drop notification, and once more as an L7 record when a proxy reads it. The first report
//! counts; the later ones get `count` 0 and `duplicate`. Runs in the ordered stage of reading,
//! after decoding.
//!
//! What the other end of a connection reports (the other node, or the other pod's side on the
//! same node) is never folded here: `denied` keeps it beside the row.

use std::collections::HashMap;
use std::net::IpAddr;

use super::record::{PacketReport, ReportPoint};
use crate::flow::{Action, Direction, Flow, Protocol};

/// Finds the records that report a packet an earlier record of the same input reported.
///
/// Two records report the same packet when they come from the same node, have the same
/// 5-tuple, direction (`traffic_direction`) and action, the same packet signature (TCP flags,
/// ICMP type and code, when given), are at most [`PAIR_WINDOW_MS`] apart, and were reported at
/// different points (a node reports a packet at most once per point, so a second record at
/// the same point is another packet: a retransmit, the next segment, a second query). Each
/// report joins the earliest packet of its key still missing that point.
///
/// Memory is bounded: packets more than two windows older than the latest are forgotten, at
/// most [`MAX_PENDING_PER_KEY`] packets are remembered per key, and at most
/// [`MAX_PENDING_KEYS`] keys (past that, everything remembered is forgotten at once: later
/// reports of those packets then count, never the other way round).
#[derive(Default)]
pub struct PacketPairer {
    pending: HashMap<PacketKey, Packets, foldhash::fast::FixedState>,
    /// Node numbers by name, so that a key is a few plain values.
    nodes: HashMap<Box<str>, u32, foldhash::fast::FixedState>,
    /// Node names by number.
    node_names: Vec<Box<str>>,
    /// The last node seen (a log holds long runs of one node's records).
    last_node: Option<u32>,
    /// Packets remembered so far, and how many when the next pruning is due (pruning visits
    /// every key, so it waits for as many new packets as there are keys: constant time per
    /// record, at most twice the live keys remembered).
    inserted: u64,
    next_prune: u64,
    /// The latest time seen, in microseconds since the epoch.
    latest: Option<i64>,
}

#[derive(Hash, PartialEq, Eq, Clone, Copy)]
struct PacketKey {
    src: (Option<IpAddr>, Option<u16>),
    dst: (Option<IpAddr>, Option<u16>),
    protocol: Protocol,
    direction: Direction,
    action: Action,
    signature: Option<u16>,
    node: Option<u32>,
}

/// One packet so far: when it was first reported (microseconds since the epoch), and at
/// which points (one bit each).
#[derive(Clone, Copy, Default)]
struct Sighting {
    first: i64,
    points: u32,
}

/// The packets of one key still expecting reports, oldest first (kept inline: most keys see
/// one packet, and a key must not cost an allocation).
#[derive(Default)]
struct Packets {
    seen: [Sighting; MAX_PENDING_PER_KEY],
    len: usize,
}

impl Packets {
    fn live(&self) -> &[Sighting] {
        &self.seen[..self.len]
    }

    /// Forgets the packets first reported before `horizon`.
    fn forget_before(&mut self, horizon: i64) {
        let stale = self.live().iter().take_while(|s| s.first < horizon).count();
        if stale > 0 {
            self.seen.copy_within(stale..self.len, 0);
            self.len -= stale;
        }
    }

    /// Adds `bit` to the earliest packet within `window` of `time` still missing it.
    fn join(&mut self, time: i64, bit: u32, window: i64) -> bool {
        let len = self.len;
        match self.seen[..len]
            .iter_mut()
            .find(|s| s.points & bit == 0 && (time - s.first).abs() <= window)
        {
            Some(seen) => {
                seen.points |= bit;
                true
            }
            None => false,
        }
    }

    /// Remembers a new packet, forgetting the oldest when full.
    fn push(&mut self, sighting: Sighting) {
        if self.len == MAX_PENDING_PER_KEY {
            self.seen.copy_within(1.., 0);
            self.len -= 1;
        }
        self.seen[self.len] = sighting;
        self.len += 1;
    }
}

/// How far apart two reports of one packet may be: the points of one node see a packet within
/// microseconds, a proxy within milliseconds.
pub const PAIR_WINDOW_MS: i64 = 1000;

/// Packets remembered per key at most (a flood on one 5-tuple must not make each record
/// search a long list).
pub const MAX_PENDING_PER_KEY: usize = 8;

/// Keys remembered at most (about 150 MB).
pub const MAX_PENDING_KEYS: usize = 1 << 20;

impl ReportPoint {
    /// The point's bit in [`Sighting::points`].
    fn bit(self) -> u32 {
        match self {
            ReportPoint::Trace(n) => 1 << u32::from(n).min(27),
            ReportPoint::PolicyVerdict => 1 << 28,
            ReportPoint::DropNotice => 1 << 29,
            ReportPoint::Proxy => 1 << 30,
        }
    }
}

impl PacketPairer {
    /// Whether `flow` reports a packet an earlier record already reported; remembers it
    /// otherwise. Records without a time, and [`PacketReport::Single`] records, are each
    /// their own.
    pub fn is_repeat(&mut self, flow: &Flow, report: PacketReport) -> bool {
        let PacketReport::Observed(observation) = report else {
            return false;
        };
        let Some(time) = flow.time.map(|t| t.timestamp_micros()) else {
            return false;
        };
        let node = flow.node.as_deref().map(|name| self.node_number(name));
        let key = PacketKey {
            src: (flow.src.ip, flow.src.port),
            dst: (flow.dst.ip, flow.dst.port),
            protocol: flow.protocol,
            direction: flow.direction,
            action: flow.action,
            signature: observation.signature,
            node,
        };
        let bit = observation.point.bit();
        self.latest = Some(self.latest.map_or(time, |l| l.max(time)));
        let window = PAIR_WINDOW_MS * 1000;
        let packets = self.pending.entry(key).or_default();
        packets.forget_before(time.saturating_sub(window));
        if packets.join(time, bit, window) {
            return true;
        }
        packets.push(Sighting {
            first: time,
            points: bit,
        });
        self.inserted += 1;
        if self.inserted >= self.next_prune {
            self.prune();
            self.next_prune = self.inserted + (self.pending.len() as u64).max(4096);
        }
        false
    }

    fn node_number(&mut self, name: &str) -> u32 {
        if let Some(last) = self.last_node {
            if *self.node_names[last as usize] == *name {
                return last;
            }
        }
        let n = match self.nodes.get(name) {
            Some(n) => *n,
            None => {
                let n = self.node_names.len() as u32;
                self.node_names.push(name.into());
                self.nodes.insert(name.into(), n);
                n
            }
        };
        self.last_node = Some(n);
        n
    }

    /// Forgets the packets too old to be reported again, and everything when too many keys
    /// are remembered.
    fn prune(&mut self) {
        let Some(latest) = self.latest else { return };
        let horizon = latest.saturating_sub(2 * PAIR_WINDOW_MS * 1000);
        self.pending.retain(|_, packets| {
            packets.forget_before(horizon);
            packets.len > 0
        });
        if self.pending.len() > MAX_PENDING_KEYS {
            self.pending.clear();
        }
    }

    /// Packets remembered (for tests of the memory bound).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.pending.values().map(|p| p.len).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;

    use super::*;
    use crate::flow::{Endpoint, Origin};
    use crate::ingest::record::Observation;

    const SYN: Option<u16> = Some(0b10);
    const TO_ENDPOINT: ReportPoint = ReportPoint::Trace(0);
    const TO_PROXY: ReportPoint = ReportPoint::Trace(1);
    const TO_STACK: ReportPoint = ReportPoint::Trace(3);
    const FROM_ENDPOINT: ReportPoint = ReportPoint::Trace(5);

    /// A packet 10.0.0.1:40000 → 10.0.0.2:53 over UDP, egress of the source on node-a,
    /// `ms` milliseconds into the minute.
    fn packet(ms: i64) -> Flow {
        let at = |ip: &str, port| Endpoint {
            ip: Some(ip.parse().unwrap()),
            port: Some(port),
            ..Default::default()
        };
        Flow {
            time: Some(DateTime::UNIX_EPOCH + chrono::Duration::milliseconds(ms)),
            src: at("10.0.0.1", 40000),
            dst: at("10.0.0.2", 53),
            protocol: Protocol::Udp,
            action: Action::Allowed,
            action_raw: "FORWARDED".into(),
            direction: Direction::Egress,
            node: Some("node-a".into()),
            drop_reason: None,
            policies: Vec::new(),
            is_reply: Some(false),
            bytes: None,
            packets: None,
            reply_seen: false,
            count: 1,
            duplicate: false,
            counting: crate::flow::Counting::Exact,
            granularity: crate::flow::Granularity::Packet,
            details: None,
            format: crate::format::Format::Hubble,
            origin: Origin {
                input: Arc::from("test"),
                line: 0,
            },
        }
    }

    fn at(point: ReportPoint) -> PacketReport {
        PacketReport::Observed(Observation {
            point,
            signature: None,
        })
    }

    /// Which of `reports` count (are not repeats), in order.
    fn counted(reports: &[(Flow, PacketReport)]) -> Vec<bool> {
        let mut pairer = PacketPairer::default();
        reports
            .iter()
            .map(|(flow, report)| !pairer.is_repeat(flow, *report))
            .collect()
    }

    #[test]
    fn one_packet_seen_at_several_points_and_by_the_proxy_counts_once() {
        let reports = [
            (packet(0), at(FROM_ENDPOINT)),
            (packet(0), at(ReportPoint::PolicyVerdict)),
            (packet(1), at(TO_PROXY)),
            (packet(3), at(ReportPoint::Proxy)),
            (packet(4), at(TO_STACK)),
        ];
        assert_eq!(counted(&reports), [true, false, false, false, false]);
    }

    #[test]
    fn a_second_report_at_the_same_point_is_another_packet() {
        // glibc sends the A and AAAA queries from one socket: one 5-tuple, two packets.
        let reports = [
            (packet(0), at(FROM_ENDPOINT)),
            (packet(0), at(FROM_ENDPOINT)),
            (packet(1), at(TO_PROXY)),
            (packet(1), at(TO_PROXY)),
            (packet(2), at(ReportPoint::Proxy)),
        ];
        assert_eq!(counted(&reports), [true, true, false, false, false]);
    }

    #[test]
    fn the_two_ends_reports_are_never_folded() {
        let mut other_node = packet(1);
        other_node.node = Some("node-b".into());
        let mut other_side = packet(1);
        other_side.direction = Direction::Ingress;
        let reports = [
            (packet(0), at(FROM_ENDPOINT)),
            (other_node, at(TO_ENDPOINT)),
            (other_side, at(TO_ENDPOINT)),
        ];
        assert_eq!(counted(&reports), [true, true, true]);
    }

    #[test]
    fn reports_that_disagree_on_the_packet_or_the_verdict_are_different_packets() {
        let mut dropped = packet(1);
        dropped.action = Action::Dropped;
        let syn = PacketReport::Observed(Observation {
            point: FROM_ENDPOINT,
            signature: SYN,
        });
        let syn_ack = PacketReport::Observed(Observation {
            point: TO_STACK,
            signature: Some(0b1_0010),
        });
        let reports = [
            (packet(0), syn),
            (packet(0), syn_ack),
            (dropped, at(ReportPoint::DropNotice)),
        ];
        assert_eq!(counted(&reports), [true, true, true]);
    }

    #[test]
    fn reports_more_than_a_second_apart_are_different_packets() {
        let reports = [
            (packet(0), at(ReportPoint::PolicyVerdict)),
            (packet(PAIR_WINDOW_MS + 1), at(ReportPoint::DropNotice)),
            (packet(PAIR_WINDOW_MS + 2), at(ReportPoint::PolicyVerdict)),
        ];
        assert_eq!(counted(&reports), [true, true, false]);
    }

    #[test]
    fn a_denied_packet_pairs_its_verdict_and_its_drop_once_per_retransmit() {
        let denied = |ms| {
            let mut f = packet(ms);
            f.action = Action::Denied;
            f
        };
        let reports = [
            (denied(0), at(ReportPoint::PolicyVerdict)),
            (denied(0), at(ReportPoint::DropNotice)),
            (denied(1000), at(ReportPoint::PolicyVerdict)),
            (denied(1000), at(ReportPoint::DropNotice)),
        ];
        assert_eq!(counted(&reports), [true, false, true, false]);
    }

    #[test]
    fn single_records_and_records_without_time_are_their_own() {
        let mut untimed = packet(0);
        untimed.time = None;
        let reports = [
            (packet(0), PacketReport::Single),
            (packet(0), PacketReport::Single),
            (untimed.clone(), at(FROM_ENDPOINT)),
            (untimed, at(TO_STACK)),
        ];
        assert_eq!(counted(&reports), [true, true, true, true]);
    }

    #[test]
    fn memory_stays_bounded_by_time_and_per_key() {
        let mut pairer = PacketPairer::default();
        for i in 0..20_000i64 {
            let mut flow = packet(i * 10);
            flow.src.port = Some((i % 30_000) as u16);
            pairer.is_repeat(&flow, at(FROM_ENDPOINT));
        }
        // 2 s of packets at one every 10 ms, plus what arrived since the last pruning.
        assert!(pairer.remembered() <= 200 + 4096, "{}", pairer.remembered());
        let mut pairer = PacketPairer::default();
        for _ in 0..1000 {
            pairer.is_repeat(&packet(0), at(FROM_ENDPOINT));
        }
        assert_eq!(pairer.remembered(), MAX_PENDING_PER_KEY);
    }
}
