//! Pairing the two reports a source writes for one packet (Hubble's policy-verdict event and
//! drop notification for one denied packet), so that the packet counts as one attempt. Runs in
//! the ordered stage of reading, after decoding.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::record::PacketReport;
use crate::flow::{Action, Direction, Flow, Protocol};

/// Folds the two reports Hubble writes for one denied packet (a policy-verdict event, type 5,
/// and a drop notification, type 1) into one attempt. Retransmits repeat both, so each event
/// pairs with at most one of the other type, within one second, on the same node, 5-tuple and
/// direction.
#[derive(Default)]
pub struct PacketPairer {
    pending: HashMap<PairKey, VecDeque<(DateTime<Utc>, PacketReport)>>,
    inserted: u64,
    latest: Option<DateTime<Utc>>,
}

#[derive(Hash, PartialEq, Eq)]
struct PairKey {
    src: (Option<IpAddr>, Option<u16>),
    dst: (Option<IpAddr>, Option<u16>),
    protocol: Protocol,
    direction: Direction,
    node: Option<String>,
}

const PAIR_WINDOW_MS: i64 = 1000;

impl PacketPairer {
    /// Whether `flow` is the second report of a packet already seen; remembers it otherwise.
    pub fn is_second_report(&mut self, flow: &Flow, report: PacketReport) -> bool {
        if report == PacketReport::Single || flow.action != Action::Denied {
            return false;
        }
        let Some(time) = flow.time else {
            return false;
        };
        let key = PairKey {
            src: (flow.src.ip, flow.src.port),
            dst: (flow.dst.ip, flow.dst.port),
            protocol: flow.protocol,
            direction: flow.direction,
            node: flow.node.clone(),
        };
        self.latest = Some(self.latest.map_or(time, |l| l.max(time)));
        let queue = self.pending.entry(key).or_default();
        if let Some(pos) = queue.iter().position(|(t, k)| {
            *k != report && (time - *t).num_milliseconds().abs() <= PAIR_WINDOW_MS
        }) {
            queue.remove(pos);
            return true;
        }
        queue.push_back((time, report));
        self.inserted += 1;
        if self.inserted % 4096 == 0 {
            self.prune();
        }
        false
    }

    fn prune(&mut self) {
        let Some(latest) = self.latest else { return };
        let horizon = latest - chrono::Duration::milliseconds(2 * PAIR_WINDOW_MS);
        self.pending.retain(|_, queue| {
            queue.retain(|(t, _)| *t >= horizon);
            !queue.is_empty()
        });
    }
}
