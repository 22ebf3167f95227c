//! Unanswered connections in logs without verdicts (VPC Flow Logs): a request seen with no
//! reply flow within a time window is "possibly denied". Each direction of a connection is its
//! own flow there, so a request's reply is the flow with the reversed 5-tuple; the two reports
//! of one flow (`SRC` and `DEST`) count once. A request whose own record proves a reply (a
//! measured round trip, packets both ways: [`Flow::reply_seen`]) is never flagged.
//!
//! A distributed reading keeps each reader's reports per 5-tuple ([`UnansweredDetector::
//! into_parts`]); the parts of a 5-tuple and of its reverse meet in one place (routed by
//! [`UnansweredPart::pair`]) and are absorbed in input order into one detector there, which
//! finds what one reader of every input would.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::flow::{Action, Direction, Flow, Protocol};

type Tuple = (IpAddr, u16, IpAddr, u16, Protocol);

/// Whether a record the log gives no verdict for opens a connection rather than answers one:
/// not marked as a reply and, when the log does not say (VPC Flow Logs report each direction
/// as its own flow), addressed to the lower port (the client's port is the ephemeral one).
pub fn looks_like_request(flow: &Flow) -> bool {
    match (flow.is_reply, flow.src.port, flow.dst.port) {
        (Some(reply), _, _) => !reply,
        (None, Some(sp), Some(dp)) => dp < sp,
        (None, _, _) => true,
    }
}

/// Every report of one 5-tuple: the earliest kept whole (what a flagged request is shown
/// as) while the tuple may still be handed on, the others as a few numbers each, so that
/// memory grows by a few dozen bytes per record rather than by a record's names and strings.
/// A tuple that turns out to be a reply is never handed on: it keeps only its reports' times
/// (to answer its request), not a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reports {
    /// The earliest report (by time, then input order), boxed so that the table's entries
    /// stay small; `None` once a report of the tuple is a reply.
    first: Option<Box<Flow>>,
    /// The earliest report's time.
    first_time: Option<DateTime<Utc>>,
    /// Which of `reports` is the earliest.
    first_at: usize,
    /// Every report, in input order.
    reports: ReportList,
    /// Whether some report proves a reply ([`Flow::reply_seen`]).
    proven: bool,
    /// Whether some report is a reply itself (see [`looks_like_request`]).
    replies: bool,
}

/// One report of a 5-tuple.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Report {
    time: Option<DateTime<Utc>>,
    count: u64,
    direction: Direction,
}

/// The reports of one 5-tuple in input order, the first two inline: a connection is usually
/// reported once by each end, and a tuple must not cost an allocation for that.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ReportList {
    head: [Report; 2],
    len: usize,
    more: Vec<Report>,
}

impl ReportList {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, report: Report) {
        match self.head.get_mut(self.len) {
            Some(slot) => *slot = report,
            None => self.more.push(report),
        }
        self.len += 1;
    }

    fn extend(&mut self, other: &ReportList) {
        for report in other.iter() {
            self.push(*report);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Report> {
        self.head[..self.len.min(2)].iter().chain(&self.more)
    }
}

/// What one reader of a share of the inputs saw of one 5-tuple: serializable, to travel to
/// where the parts of that 5-tuple and of its reverse are absorbed
/// ([`UnansweredDetector::absorb`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnansweredPart {
    /// The share's place in input order (parts are absorbed in this order).
    pub order: u64,
    tuple: Tuple,
    reports: Reports,
}

impl UnansweredPart {
    /// Where the part goes: the same number for a 5-tuple and its reverse (a request and its
    /// reply), so that a router that sends parts by this number brings them together.
    pub fn pair(&self) -> u64 {
        let (sip, sp, dip, dp, proto) = self.tuple;
        let key = ((sip, sp), (dip, dp)).min(((dip, dp), (sip, sp)));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (key, proto).hash(&mut hasher);
        hasher.finish()
    }
}

/// Collects observed flows and finds the requests nobody answered.
#[derive(Debug)]
pub struct UnansweredDetector {
    window: Duration,
    seen: HashMap<Tuple, Reports, foldhash::fast::FixedState>,
}

impl UnansweredDetector {
    /// A detector that looks for a reply within `window` of the request.
    pub fn new(window: Duration) -> UnansweredDetector {
        UnansweredDetector {
            window,
            seen: HashMap::default(),
        }
    }

    /// Notes a flow. Only observations without a verdict and with both addresses and ports are
    /// considered.
    pub fn observe(&mut self, flow: &Flow) {
        if flow.action != Action::Unknown || !flow.protocol.has_ports() {
            return;
        }
        let (Some(sip), Some(sp), Some(dip), Some(dp)) =
            (flow.src.ip, flow.src.port, flow.dst.ip, flow.dst.port)
        else {
            return;
        };
        let report = Report {
            time: flow.time,
            count: flow.count,
            direction: flow.direction,
        };
        let seen = self
            .seen
            .entry((sip, sp, dip, dp, flow.protocol))
            .or_insert_with(|| Reports {
                first: None,
                first_time: flow.time,
                first_at: 0,
                reports: ReportList::default(),
                proven: false,
                replies: false,
            });
        let earliest = seen.reports.len() == 0 || flow.time < seen.first_time;
        if earliest {
            seen.first_time = flow.time;
            seen.first_at = seen.reports.len();
        }
        seen.reports.push(report);
        seen.proven |= flow.reply_seen;
        seen.replies |= !looks_like_request(flow);
        if seen.replies {
            seen.first = None;
        } else if earliest {
            match &mut seen.first {
                Some(first) => (**first).clone_from(flow),
                None => seen.first = Some(Box::new(flow.clone())),
            }
        }
    }

    /// What this detector saw, one part per 5-tuple, as a share of a larger reading (`order`
    /// is the share's place in input order).
    pub fn into_parts(self, order: u64) -> Vec<UnansweredPart> {
        let mut parts: Vec<UnansweredPart> = self
            .seen
            .into_iter()
            .map(|(tuple, reports)| UnansweredPart {
                order,
                tuple,
                reports,
            })
            .collect();
        parts.sort_unstable_by_key(|p| p.tuple);
        parts
    }

    /// Takes in a part of another share, as if its flows were observed here after the ones
    /// already seen: parts are to be absorbed in input order (by [`UnansweredPart::order`]).
    pub fn absorb(&mut self, part: UnansweredPart) {
        let other = part.reports;
        match self.seen.entry(part.tuple) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(other);
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let seen = o.get_mut();
                if other.reports.len() > 0
                    && (seen.reports.len() == 0 || other.first_time < seen.first_time)
                {
                    seen.first_time = other.first_time;
                    seen.first_at = seen.reports.len() + other.first_at;
                    seen.first = other.first;
                }
                seen.reports.extend(&other.reports);
                seen.proven |= other.proven;
                seen.replies |= other.replies;
                if seen.replies {
                    seen.first = None;
                }
            }
        }
    }

    /// Whether a report at `time` of the request whose reply would be `reverse` got one
    /// within the window.
    fn answered(&self, time: Option<DateTime<Utc>>, reverse: &Tuple) -> bool {
        self.seen.get(reverse).is_some_and(|rs| {
            rs.reports.iter().any(|r| match (r.time, time) {
                (Some(a), Some(b)) => (a - b).abs() <= self.window,
                _ => true,
            })
        })
    }

    /// Hands every request record to `each` with whether it was answered: a reply flow
    /// within the window, or a report of its 5-tuple that proves a reply. Records that are
    /// replies themselves (see [`looks_like_request`]) are not handed on. In 5-tuple order,
    /// each tuple's records in input order, so that what is built from them is the same on
    /// every run. A record is handed on as its tuple's earliest record with its own time,
    /// count and reporting side.
    pub fn finish_each(self, mut each: impl FnMut(&Flow, bool)) {
        let mut tuples: Vec<&Tuple> = self.seen.keys().collect();
        tuples.sort_unstable();
        for &(sip, sp, dip, dp, proto) in tuples {
            let seen = &self.seen[&(sip, sp, dip, dp, proto)];
            let Some(first) = seen.first.as_deref().filter(|_| !seen.replies) else {
                continue;
            };
            let reverse = (dip, dp, sip, sp, proto);
            let mut flow = first.clone();
            for r in seen.reports.iter() {
                flow.time = r.time;
                flow.count = r.count;
                flow.direction = r.direction;
                each(&flow, seen.proven || self.answered(r.time, &reverse));
            }
        }
    }

    /// The requests with no reply in the window, one flow per 5-tuple (its first report),
    /// marked with the reason. A flow counts as a request when its destination port is below
    /// its source port (the client's port is the ephemeral one, see [`looks_like_request`]); a
    /// lone flow the other way is a reply whose request was not sampled, and is not flagged;
    /// nor is a request any of whose reports proves a reply.
    pub fn finish(self) -> Vec<Flow> {
        let mut out = Vec::new();
        for (&(sip, sp, dip, dp, proto), seen) in &self.seen {
            let Some(first) = seen.first.as_deref() else {
                continue;
            };
            if seen.proven || seen.replies {
                continue;
            }
            let reverse = (dip, dp, sip, sp, proto);
            let unanswered = seen
                .reports
                .iter()
                .enumerate()
                .filter(|(_, r)| !self.answered(r.time, &reverse))
                .min_by_key(|(i, r)| (r.time, *i != seen.first_at));
            if let Some((i, r)) = unanswered {
                let mut flagged = first.clone();
                if i != seen.first_at {
                    // A later report went unanswered while the first got its reply.
                    flagged.time = r.time;
                }
                flagged.drop_reason = Some(format!(
                    "no reply seen within {}s: possibly denied",
                    self.window.num_seconds()
                ));
                flagged.count = 1;
                out.push(flagged);
            }
        }
        out.sort_by(|a, b| a.time.cmp(&b.time).then(a.origin.line.cmp(&b.origin.line)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_shares_absorbed_in_order_find_what_one_reader_finds() {
        // Requests (to port 80) and replies spread over three shares in every way.
        let flows = [
            observed(("10.0.0.1", 40000), ("10.0.0.2", 80), 0),
            observed(("10.0.0.2", 80), ("10.0.0.1", 40000), 1),
            observed(("10.0.0.1", 40001), ("10.0.0.2", 80), 2),
            observed(("10.0.0.1", 40001), ("10.0.0.2", 80), 500),
            observed(("10.0.0.2", 80), ("10.0.0.1", 40001), 3),
            observed(("10.0.0.3", 40002), ("10.0.0.2", 80), 4),
        ];
        let window = Duration::seconds(60);
        let mut one = UnansweredDetector::new(window);
        for f in &flows {
            one.observe(f);
        }
        let expected: Vec<String> = one.finish().iter().map(|f| format!("{f:?}")).collect();
        assert_eq!(expected.len(), 2);
        for split in [[0, 1, 2], [1, 3, 6], [2, 4, 5], [0, 0, 6]] {
            let mut parts = Vec::new();
            let bounds = [0, split[0], split[1], split[2], flows.len()];
            for (order, w) in bounds.windows(2).enumerate() {
                let mut share = UnansweredDetector::new(window);
                for f in &flows[w[0]..w[1].max(w[0])] {
                    share.observe(f);
                }
                let json = serde_json::to_string(&share.into_parts(order as u64)).unwrap();
                parts.extend(serde_json::from_str::<Vec<UnansweredPart>>(&json).unwrap());
            }
            // A 5-tuple and its reverse are routed together.
            let pairs: std::collections::HashSet<u64> = parts.iter().map(|p| p.pair()).collect();
            assert_eq!(pairs.len(), 3, "{split:?}");
            parts.sort_by_key(|p| p.order);
            let mut merged = UnansweredDetector::new(window);
            for p in parts {
                merged.absorb(p);
            }
            let got: Vec<String> = merged.finish().iter().map(|f| format!("{f:?}")).collect();
            assert_eq!(got, expected, "{split:?}");
        }
    }
    use crate::flow::{Counting, Endpoint, Origin};
    use std::sync::Arc;

    fn observed(src: (&str, u16), dst: (&str, u16), secs: i64) -> Flow {
        Flow {
            time: chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0),
            src: Endpoint {
                ip: src.0.parse().ok(),
                port: Some(src.1),
                ..Default::default()
            },
            dst: Endpoint {
                ip: dst.0.parse().ok(),
                port: Some(dst.1),
                ..Default::default()
            },
            protocol: Protocol::Tcp,
            action: Action::Unknown,
            action_raw: "observed by SRC".into(),
            direction: Direction::Egress,
            node: None,
            drop_reason: None,
            policies: vec![],
            is_reply: None,
            bytes: None,
            packets: None,
            reply_seen: false,
            count: 1,
            duplicate: false,
            counting: Counting::Sampled,
            granularity: crate::flow::Granularity::Connection,
            details: None,
            format: crate::format::Format::GkeVpc,
            origin: Origin {
                input: Arc::from("t"),
                line: 1,
            },
        }
    }

    #[test]
    fn a_request_without_a_reply_is_possibly_denied() {
        let mut d = UnansweredDetector::new(Duration::seconds(60));
        d.observe(&observed(("10.0.0.1", 40000), ("10.0.0.2", 9200), 0));
        d.observe(&observed(("10.0.0.1", 40000), ("10.0.0.2", 9200), 1));
        d.observe(&observed(("10.0.0.3", 40001), ("10.0.0.2", 9200), 0));
        d.observe(&observed(("10.0.0.2", 9200), ("10.0.0.3", 40001), 2));
        d.observe(&observed(("10.0.0.9", 443), ("10.0.0.3", 50000), 2));
        let flagged = d.finish();
        assert_eq!(flagged.len(), 1);
        assert!(looks_like_request(&observed(
            ("10.0.0.1", 40000),
            ("10.0.0.2", 9200),
            0
        )));
        assert!(!looks_like_request(&observed(
            ("10.0.0.2", 9200),
            ("10.0.0.1", 40000),
            0
        )));
        assert_eq!(flagged[0].src.ip, "10.0.0.1".parse().ok());
        assert!(flagged[0]
            .drop_reason
            .as_deref()
            .unwrap()
            .contains("possibly denied"));
    }

    #[test]
    fn a_request_whose_own_record_proves_a_reply_is_never_flagged() {
        let mut d = UnansweredDetector::new(Duration::seconds(60));
        // The reply's flow was not sampled, but the request's DEST report measured a round
        // trip; and a second connection's report counted packets both ways.
        d.observe(&observed(("10.0.0.1", 40000), ("10.0.0.2", 9200), 0));
        let mut measured = observed(("10.0.0.1", 40000), ("10.0.0.2", 9200), 1);
        measured.reply_seen = true;
        d.observe(&measured);
        let mut both_ways = observed(("10.0.0.3", 40001), ("10.0.0.2", 9200), 0);
        both_ways.reply_seen = true;
        d.observe(&both_ways);
        d.observe(&observed(("10.0.0.4", 40002), ("10.0.0.2", 9200), 0));
        // A record the log marks as a reply is one, whatever its ports.
        let mut reply = observed(("10.0.0.5", 50000), ("10.0.0.6", 40000), 0);
        reply.is_reply = Some(true);
        d.observe(&reply);
        let flagged: Vec<_> = d.finish().into_iter().map(|f| f.src.ip).collect();
        assert_eq!(flagged, ["10.0.0.4".parse().ok()]);
    }

    #[test]
    fn every_request_report_is_handed_on_with_whether_it_was_answered() {
        let mut d = UnansweredDetector::new(Duration::seconds(60));
        let mut src = observed(("10.0.0.1", 40000), ("10.0.0.2", 9200), 5);
        src.count = 3;
        let mut dst = observed(("10.0.0.1", 40000), ("10.0.0.2", 9200), 6);
        dst.direction = Direction::Ingress;
        d.observe(&src);
        d.observe(&dst);
        d.observe(&observed(("10.0.0.3", 40001), ("10.0.0.2", 9200), 0));
        d.observe(&observed(("10.0.0.2", 9200), ("10.0.0.3", 40001), 1));
        let mut seen = Vec::new();
        d.finish_each(|f, answered| {
            seen.push((
                f.src.ip.unwrap().to_string(),
                f.direction,
                f.count,
                answered,
            ))
        });
        assert_eq!(
            seen,
            [
                ("10.0.0.1".to_string(), Direction::Egress, 3, false),
                ("10.0.0.1".to_string(), Direction::Ingress, 1, false),
                ("10.0.0.3".to_string(), Direction::Egress, 1, true),
            ],
            "the reply itself is not handed on"
        );
    }

    #[test]
    fn more_reports_than_fit_inline_are_handed_on_in_input_order_as_the_earliest_record() {
        let mut d = UnansweredDetector::new(Duration::seconds(60));
        let times = [5, 3, 7, 4];
        for (i, secs) in times.into_iter().enumerate() {
            let mut f = observed(("10.0.0.1", 40000), ("10.0.0.2", 9200), secs);
            f.node = Some(format!("node-{i}"));
            f.count = i as u64 + 1;
            d.observe(&f);
        }
        let mut seen = Vec::new();
        d.finish_each(|f, answered| {
            seen.push((
                f.time.unwrap().timestamp() - 1_700_000_000,
                f.count,
                f.node.clone().unwrap(),
                answered,
            ))
        });
        // The record shown is the earliest report's (node-1, at 3 s), with each report's
        // own time and count.
        let node = "node-1".to_string();
        assert_eq!(
            seen,
            [
                (5, 1, node.clone(), false),
                (3, 2, node.clone(), false),
                (7, 3, node.clone(), false),
                (4, 4, node, false),
            ]
        );
    }

    #[test]
    fn a_tuple_that_is_a_reply_keeps_no_record() {
        let mut d = UnansweredDetector::new(Duration::seconds(60));
        d.observe(&observed(("10.0.0.1", 40000), ("10.0.0.2", 9200), 0));
        d.observe(&observed(("10.0.0.2", 9200), ("10.0.0.1", 40000), 1));
        // Marked a reply by the log after a first report that looked like a request.
        d.observe(&observed(("10.0.0.3", 40001), ("10.0.0.4", 443), 0));
        let mut marked = observed(("10.0.0.3", 40001), ("10.0.0.4", 443), 1);
        marked.is_reply = Some(true);
        d.observe(&marked);
        let kept: Vec<bool> = {
            let mut tuples: Vec<_> = d.seen.iter().collect();
            tuples.sort_by_key(|(t, _)| **t);
            tuples.iter().map(|(_, r)| r.first.is_some()).collect()
        };
        assert_eq!(kept, [true, false, false], "request, marked reply, reply");
        let flagged = d.finish();
        assert!(flagged.is_empty(), "the request was answered: {flagged:?}");
    }
}
