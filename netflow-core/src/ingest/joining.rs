//! Joining the records one packet's decision is written in into one flow: kube-network-policies
//! logs an evaluation per pipeline (egress, then ingress) and then a verdict, linked by the
//! packet id, and in klog text the evaluated packet follows its evaluation on the next lines.
//! Runs in the ordered stage of reading, after decoding; the parts of other inputs never meet.
//!
//! A packet's flow is the record of its first evaluation (its line, its time, its pods); the
//! other evaluation and the verdict are counted as events of that flow, so that records read
//! still equal flows + events + skipped. An evaluation whose verdict never comes is still a
//! flow, with an unknown verdict, and counted as incomplete; a verdict with no evaluation
//! before it (a log cut at its start, a restart that reused the id) is counted as an orphan:
//! a well-formed record that cannot make a flow alone. A packet line with no evaluation
//! before it is a skip.

use std::collections::{HashMap, VecDeque};

use super::record::Part;
use crate::flow::{Action, Direction, Endpoint, Flow};

/// Evaluations waiting for their verdict, at most (a verdict follows its evaluation within
/// microseconds: only a log whose verdicts were lost gets near this).
pub const MAX_PENDING: usize = 1 << 16;

/// How long (in the log's time) an evaluation waits for its verdict before it is given up as
/// never to come.
pub const VERDICT_WAIT_MS: i64 = 60_000;

/// What joining a part gave, in input order.
#[derive(Debug)]
pub(super) enum Outcome {
    /// A packet's flow, complete or given up on (`incomplete`).
    Flow {
        /// The flow.
        flow: Box<Flow>,
        /// No verdict came for it.
        incomplete: bool,
    },
    /// A record joined into a flow (the second evaluation, the verdict).
    Folded(&'static str),
    /// A verdict whose packet's evaluation is not in the input before it.
    Orphan,
    /// A record that cannot be used, at its line.
    Skip {
        /// 1-based line of the record.
        line: u64,
        /// Why.
        cause: String,
    },
}

/// One evaluated packet waiting for its verdict.
struct Pending {
    flow: Box<Flow>,
    /// The pipelines whose evaluation was read.
    pipelines: Vec<Direction>,
    /// The packet's addresses are known (klog text gives them on the line after).
    has_packet: bool,
    /// When it was first read, in milliseconds of the log's time (`None` without time).
    at: Option<i64>,
    /// Its place in [`Joiner::order`].
    seq: u64,
}

/// The parts of one input waiting for the rest of their packet.
#[derive(Default)]
pub(super) struct Joiner {
    pending: HashMap<u64, Pending>,
    /// Packet ids in the order they were first read, with the sequence number they had then
    /// (an id given up on and reused later has a new one).
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
    /// The latest time read, in milliseconds.
    latest: Option<i64>,
}

impl Joiner {
    /// Joins one part read at `line`; `out` receives what it completes or gives up on.
    pub(super) fn join(&mut self, part: Part, line: u64, out: &mut Vec<Outcome>) {
        match part {
            Part::Evaluation { id, pipeline, flow } => self.evaluation(id, pipeline, flow, out),
            Part::Packet {
                id,
                src,
                dst,
                protocol,
            } => match self.pending.get_mut(&id) {
                Some(p) if !p.has_packet => {
                    p.has_packet = true;
                    p.flow.src = Endpoint {
                        ip: Some(src.0),
                        port: Some(src.1).filter(|_| protocol.has_ports()),
                        ..std::mem::take(&mut p.flow.src)
                    };
                    p.flow.dst = Endpoint {
                        ip: Some(dst.0),
                        port: Some(dst.1).filter(|_| protocol.has_ports()),
                        ..std::mem::take(&mut p.flow.dst)
                    };
                    p.flow.protocol = protocol;
                }
                // The packet of an evaluation already known (the second pipeline's): part of
                // that record.
                Some(_) => {}
                None => out.push(Outcome::Skip {
                    line,
                    cause: format!(
                        "packet [{id}] with no \"Evaluating packet\" line before it (the log \
                         starts or was cut inside a record)"
                    ),
                }),
            },
            Part::Verdict {
                id,
                mut action,
                direction,
                raw,
                time,
                fallback,
            } => {
                self.note_time(time.map(|t| t.timestamp_millis()));
                match self.pending.remove(&id) {
                    Some(mut p) => {
                        // The controller drops a packet whose evaluation failed: with pipelines
                        // named (the engine writes its own verdicts), a drop it alone reports is
                        // that failure, not a policy's denial.
                        let piped = p.pipelines.iter().any(|d| *d != Direction::Unknown);
                        if fallback && piped && action == Action::Denied {
                            action = Action::Dropped;
                        }
                        p.flow.action = action;
                        p.flow.direction = direction;
                        p.flow.action_raw = raw;
                        out.push(Outcome::Flow {
                            flow: p.flow,
                            incomplete: false,
                        });
                        out.push(Outcome::Folded("packet_verdict"));
                    }
                    // The controller's account of a packet the engine already decided.
                    None if fallback => out.push(Outcome::Folded("packet_finished")),
                    None => out.push(Outcome::Orphan),
                }
                self.give_up_stale(out);
            }
            Part::Continuation => {}
        }
    }

    fn evaluation(
        &mut self,
        id: u64,
        pipeline: Direction,
        flow: Box<Flow>,
        out: &mut Vec<Outcome>,
    ) {
        let at = flow.time.map(|t| t.timestamp_millis());
        self.note_time(at);
        let has_packet = flow.src.ip.is_some() || flow.dst.ip.is_some();
        if let Some(p) = self.pending.get_mut(&id) {
            // The other pipeline's evaluation of the same packet (egress first, then ingress).
            let same_packet = !has_packet
                || !p.has_packet
                || (
                    p.flow.src.ip,
                    p.flow.src.port,
                    p.flow.dst.ip,
                    p.flow.dst.port,
                ) == (flow.src.ip, flow.src.port, flow.dst.ip, flow.dst.port);
            if !p.pipelines.contains(&pipeline) && same_packet {
                p.pipelines.push(pipeline);
                if !p.has_packet && has_packet {
                    p.has_packet = true;
                    p.flow.src.ip = flow.src.ip;
                    p.flow.src.port = flow.src.port;
                    p.flow.dst.ip = flow.dst.ip;
                    p.flow.dst.port = flow.dst.port;
                    p.flow.protocol = flow.protocol;
                }
                out.push(Outcome::Folded("packet_evaluation"));
                return;
            }
            // Another packet with the same id: the one before never got its verdict.
            if let Some(old) = self.pending.remove(&id) {
                out.push(Outcome::Flow {
                    flow: old.flow,
                    incomplete: true,
                });
            }
        }
        if self.pending.len() >= MAX_PENDING {
            self.give_up_oldest(out);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((id, seq));
        self.pending.insert(
            id,
            Pending {
                flow,
                pipelines: vec![pipeline],
                has_packet,
                at,
                seq,
            },
        );
        self.give_up_stale(out);
    }

    fn note_time(&mut self, at: Option<i64>) {
        if let Some(t) = at {
            self.latest = Some(self.latest.map_or(t, |l| l.max(t)));
        }
    }

    /// Gives up on the oldest evaluation still waiting.
    fn give_up_oldest(&mut self, out: &mut Vec<Outcome>) {
        while let Some((id, seq)) = self.order.pop_front() {
            if self.pending.get(&id).is_some_and(|p| p.seq == seq) {
                if let Some(p) = self.pending.remove(&id) {
                    out.push(Outcome::Flow {
                        flow: p.flow,
                        incomplete: true,
                    });
                }
                return;
            }
        }
    }

    /// Gives up on the evaluations that waited longer than [`VERDICT_WAIT_MS`] of log time.
    fn give_up_stale(&mut self, out: &mut Vec<Outcome>) {
        let Some(latest) = self.latest else { return };
        let horizon = latest.saturating_sub(VERDICT_WAIT_MS);
        while let Some(&(id, seq)) = self.order.front() {
            match self.pending.get(&id) {
                Some(p) if p.seq == seq => {
                    if p.at.is_some_and(|at| at < horizon) {
                        self.give_up_oldest(out);
                    } else {
                        return;
                    }
                }
                // Outcome or given up already.
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    /// At the end of the input: every evaluation still waiting, in the order read, as a flow
    /// without a verdict.
    pub(super) fn finish(&mut self, out: &mut Vec<Outcome>) {
        while !self.pending.is_empty() {
            self.give_up_oldest(out);
        }
        self.order.clear();
    }

    /// Evaluations waiting (for tests of the memory bound).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;

    use super::*;
    use crate::flow::{Counting, Granularity, Origin, Protocol};

    fn evaluation(id: u64, pipeline: Direction, ms: i64, port: u16) -> Part {
        let at = |ip: &str, port| Endpoint {
            ip: Some(ip.parse().unwrap()),
            port: Some(port),
            ..Default::default()
        };
        Part::Evaluation {
            id,
            pipeline,
            flow: Box::new(Flow {
                time: Some(DateTime::UNIX_EPOCH + chrono::Duration::milliseconds(ms)),
                src: at("10.0.1.3", 40243),
                dst: at("10.0.2.2", port),
                protocol: Protocol::Tcp,
                action: Action::Unknown,
                action_raw: String::new(),
                direction: Direction::Unknown,
                node: None,
                drop_reason: None,
                policies: Vec::new(),
                is_reply: None,
                reply_seen: false,
                bytes: None,
                packets: None,
                count: 1,
                duplicate: false,
                counting: Counting::Exact,
                granularity: Granularity::Connection,
                details: None,
                format: crate::format::Format::KubeNetworkPolicies,
                origin: Origin {
                    input: Arc::from("test"),
                    line: id,
                },
            }),
        }
    }

    fn verdict(id: u64, action: Action, direction: Direction) -> Part {
        Part::Verdict {
            id,
            action,
            direction,
            raw: "Packet denied by ingress policy".into(),
            time: None,
            fallback: false,
        }
    }

    fn finished(id: u64, action: Action) -> Part {
        Part::Verdict {
            id,
            action,
            direction: Direction::Unknown,
            raw: "Finished syncing packet".into(),
            time: None,
            fallback: true,
        }
    }

    #[test]
    fn the_controllers_verdict_stands_only_where_the_engine_wrote_none() {
        let (_, out) = run(vec![
            evaluation(1, Direction::Egress, 0, 80),
            verdict(1, Action::Denied, Direction::Egress),
            finished(1, Action::Denied),
            // The engine failed on packet 2: the controller dropped it.
            evaluation(2, Direction::Egress, 0, 443),
            finished(2, Action::Denied),
            // Before the engine wrote verdicts: no pipeline, the controller's drop is the policy's.
            evaluation(3, Direction::Unknown, 0, 8080),
            finished(3, Action::Denied),
        ]);
        assert_eq!(
            summary(&out),
            [
                "flow 80 denied egress",
                "packet_verdict",
                "packet_finished",
                "flow 443 dropped unknown",
                "packet_verdict",
                "flow 8080 denied unknown",
                "packet_verdict",
            ]
        );
    }

    fn run(parts: Vec<Part>) -> (Joiner, Vec<Outcome>) {
        let mut joiner = Joiner::default();
        let mut out = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            joiner.join(part, i as u64 + 1, &mut out);
        }
        (joiner, out)
    }

    fn summary(out: &[Outcome]) -> Vec<String> {
        out.iter()
            .map(|j| match j {
                Outcome::Flow { flow, incomplete } => format!(
                    "flow {} {} {}{}",
                    flow.dst.port.unwrap_or(0),
                    flow.action,
                    flow.direction,
                    if *incomplete { " incomplete" } else { "" }
                ),
                Outcome::Folded(kind) => kind.to_string(),
                Outcome::Orphan => "orphan".to_string(),
                Outcome::Skip { line, .. } => format!("skip {line}"),
            })
            .collect()
    }

    #[test]
    fn both_evaluations_and_the_verdict_of_a_packet_are_one_flow() {
        let (_, out) = run(vec![
            evaluation(9, Direction::Egress, 0, 8080),
            evaluation(9, Direction::Ingress, 0, 8080),
            verdict(9, Action::Denied, Direction::Ingress),
        ]);
        assert_eq!(
            summary(&out),
            [
                "packet_evaluation",
                "flow 8080 denied ingress",
                "packet_verdict"
            ]
        );
    }

    #[test]
    fn an_evaluation_without_its_verdict_is_still_reported_and_a_verdict_alone_is_an_orphan() {
        let (mut joiner, mut out) = run(vec![
            verdict(3, Action::Denied, Direction::Egress),
            evaluation(9, Direction::Egress, 0, 8080),
            Part::Packet {
                id: 5,
                src: ("10.0.0.1".parse().unwrap(), 1),
                dst: ("10.0.0.2".parse().unwrap(), 2),
                protocol: Protocol::Tcp,
            },
        ]);
        joiner.finish(&mut out);
        assert_eq!(
            summary(&out),
            ["orphan", "skip 3", "flow 8080 unknown unknown incomplete"]
        );
        let Outcome::Skip { cause, .. } = &out[1] else {
            unreachable!()
        };
        assert!(cause.contains("packet [5]"), "{cause}");
    }

    #[test]
    fn a_reused_id_gives_up_on_the_packet_before_it() {
        let (_, out) = run(vec![
            evaluation(1, Direction::Egress, 0, 80),
            evaluation(1, Direction::Egress, 5, 443),
            verdict(1, Action::Allowed, Direction::Unknown),
        ]);
        assert_eq!(
            summary(&out),
            [
                "flow 80 unknown unknown incomplete",
                "flow 443 allowed unknown",
                "packet_verdict"
            ]
        );
    }

    #[test]
    fn memory_is_bounded_by_count_and_by_log_time() {
        let mut joiner = Joiner::default();
        let mut out = Vec::new();
        for id in 0..(MAX_PENDING as u64 + 10) {
            joiner.join(evaluation(id, Direction::Egress, 0, 80), 1, &mut out);
        }
        assert_eq!(joiner.waiting(), MAX_PENDING);
        assert_eq!(out.len(), 10);
        // A minute later, everything still waiting is given up on.
        joiner.join(
            evaluation(u64::MAX, Direction::Egress, VERDICT_WAIT_MS + 1, 80),
            2,
            &mut out,
        );
        assert_eq!(joiner.waiting(), 1);
        assert_eq!(out.len(), 10 + MAX_PENDING);
        assert!(out.iter().all(|j| matches!(
            j,
            Outcome::Flow {
                incomplete: true,
                ..
            }
        )));
    }
}
