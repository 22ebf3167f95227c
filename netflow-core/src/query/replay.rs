//! Replaying recorded connections against changed NetworkPolicies: every request record is
//! evaluated against the snapshot in force at its time, as it was (`before`) and with the
//! policies changed (`after`), and grouped into connections as `denied` groups them, one group
//! per verdict change. A connection reported by both ends is one row: the end whose log denied
//! it is the row (the other end's reports beside it), else the end with the most attempts.
//!
//! Memory is that of `denied`: connections, not records; without `all`, only the connections
//! whose verdict changes are kept, the others only counted.

use std::collections::HashMap;

use super::denied::{write_endpoint_key, DeniedAggregator, DeniedConnection, SideReport};
use super::why::Explainer;
use crate::flow::{Action, Flow};
use crate::policy::PolicyVerdict;

/// How a connection's computed verdict changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Denied before, allowed after.
    ToAllow,
    /// Allowed before, denied after.
    ToDeny,
    /// The same verdict before and after.
    Unchanged,
    /// Not evaluated (no port, a protocol NetworkPolicy does not cover, an end the snapshot
    /// cannot place) before or after.
    NotEvaluated,
}

impl Change {
    /// The change from `before` to `after`.
    pub fn of(before: Option<PolicyVerdict>, after: Option<PolicyVerdict>) -> Change {
        match (before, after) {
            (Some(PolicyVerdict::Deny), Some(PolicyVerdict::Allow)) => Change::ToAllow,
            (Some(PolicyVerdict::Allow), Some(PolicyVerdict::Deny)) => Change::ToDeny,
            (Some(_), Some(_)) => Change::Unchanged,
            _ => Change::NotEvaluated,
        }
    }

    /// `denied → allowed`, `allowed → denied`, `unchanged`, `not evaluated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::ToAllow => "denied → allowed",
            Change::ToDeny => "allowed → denied",
            Change::Unchanged => "unchanged",
            Change::NotEvaluated => "not evaluated",
        }
    }
}

/// One recorded connection replayed: its records grouped as `denied` groups them, its computed
/// verdict before and after, and the WHY under the changed policies (in `connection.why`).
#[derive(Debug, Clone)]
pub struct ReplayConnection {
    /// The records of the connection; `why` explains it under the changed policies.
    pub connection: DeniedConnection,
    /// The computed verdict under the snapshot's own policies.
    pub before: Option<PolicyVerdict>,
    /// The computed verdict under the changed policies.
    pub after: Option<PolicyVerdict>,
    /// Why, under the snapshot's own policies, in one line.
    pub explanation_before: Option<String>,
}

impl ReplayConnection {
    /// How the verdict changes.
    pub fn change(&self) -> Change {
        Change::of(self.before, self.after)
    }
}

/// Attempts and connections per change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeCounts {
    /// Connections (rows) that change from denied to allowed.
    pub to_allow: u64,
    /// Connections (rows) that change from allowed to denied.
    pub to_deny: u64,
    /// Attempts of the connections that change from denied to allowed (as their rows count
    /// them: the reports of one end, not both).
    pub to_allow_attempts: u64,
    /// Attempts of the connections that change from allowed to denied.
    pub to_deny_attempts: u64,
    /// Records replayed whose connection keeps its verdict (both ends' reports of one attempt
    /// are two records).
    pub unchanged_records: u64,
    /// Records replayed whose connection could not be evaluated.
    pub not_evaluated_records: u64,
}

/// The groups of one change: records the log denies, and the others.
#[derive(Debug, Default)]
struct Groups {
    denials: DeniedAggregator,
    others: DeniedAggregator,
}

/// Accumulates replayed request records into connections, per change.
pub struct ReplayAggregator<'e> {
    before: &'e Explainer,
    after: &'e Explainer,
    all: bool,
    groups: HashMap<(Option<PolicyVerdict>, Option<PolicyVerdict>), Groups>,
    counts: ChangeCounts,
}

impl<'e> ReplayAggregator<'e> {
    /// An aggregator evaluating against `before` and `after` (the same snapshots, with the
    /// policies as they were and as changed); `all` keeps connections that do not change too.
    pub fn new(before: &'e Explainer, after: &'e Explainer, all: bool) -> ReplayAggregator<'e> {
        ReplayAggregator {
            before,
            after,
            all,
            groups: HashMap::new(),
            counts: ChangeCounts::default(),
        }
    }

    fn verdict(explainer: &Explainer, flow: &Flow) -> Option<PolicyVerdict> {
        explainer
            .explain(
                &flow.src,
                &flow.dst,
                flow.protocol,
                flow.time,
                flow.action,
                flow.direction,
                &[],
            )
            .and_then(|w| w.verdict)
    }

    /// Whether a record is replayed: a request, or a denial whose log does not say whether it
    /// is a reply (`denied` counts those as connections too). Replies are left out: conntrack
    /// passes them whatever the policies say.
    pub fn replays(flow: &Flow) -> bool {
        flow.is_request() || (flow.is_reply.is_none() && flow.action == Action::Denied)
    }

    /// Replays one record (see [`ReplayAggregator::replays`]). Returns the change, `None` for
    /// a record not replayed.
    pub fn add(&mut self, flow: &Flow) -> Option<Change> {
        if !Self::replays(flow) {
            return None;
        }
        let before = Self::verdict(self.before, flow);
        let after = Self::verdict(self.after, flow);
        let change = Change::of(before, after);
        match change {
            Change::Unchanged => self.counts.unchanged_records += 1,
            Change::NotEvaluated => self.counts.not_evaluated_records += 1,
            Change::ToAllow | Change::ToDeny => {}
        }
        if self.all || matches!(change, Change::ToAllow | Change::ToDeny) {
            let groups = self.groups.entry((before, after)).or_default();
            if flow.action == Action::Denied {
                groups.denials.add(flow);
            } else {
                groups.denials.observe(flow);
                groups.others.add(flow);
            }
        }
        Some(change)
    }

    /// The connections: those that become allowed, then those that become denied, then (with
    /// `all`) the others; within each, most attempts first. Each is explained against the
    /// changed policies, and in one line against the snapshot's own.
    pub fn finish(self) -> (Vec<ReplayConnection>, ChangeCounts) {
        let ReplayAggregator {
            before,
            after,
            groups,
            mut counts,
            ..
        } = self;
        let mut out = Vec::new();
        for (verdicts, groups) in groups {
            let denials = groups.denials.finish();
            let mut pairs: HashMap<String, usize> = HashMap::new();
            for c in &denials {
                pairs.entry(pair_key(c)).or_insert(0);
            }
            let mut rows = denials;
            let mut merged: HashMap<String, usize> = HashMap::new();
            for c in groups.others.finish() {
                let key = pair_key(&c);
                if pairs.contains_key(&key) {
                    continue;
                }
                match merged.get(&key) {
                    Some(&i) => {
                        let row: &mut DeniedConnection = &mut rows[i];
                        row.other_reports.push(SideReport {
                            direction: c.direction,
                            node: c.node.clone(),
                            action: c.action,
                            count: c.count,
                        });
                        row.other_reports.sort();
                    }
                    None => {
                        merged.insert(key, rows.len());
                        rows.push(c);
                    }
                }
            }
            for mut connection in rows {
                connection.explain(after);
                let explanation_before = before
                    .explain(
                        &connection.src,
                        &connection.dst,
                        connection.protocol,
                        connection.last_seen,
                        connection.action,
                        connection.direction,
                        &[],
                    )
                    .map(|w| w.summary);
                out.push(ReplayConnection {
                    connection,
                    before: verdicts.0,
                    after: verdicts.1,
                    explanation_before,
                });
            }
        }
        let order = |c: &ReplayConnection| match c.change() {
            Change::ToAllow => 0,
            Change::ToDeny => 1,
            Change::Unchanged => 2,
            Change::NotEvaluated => 3,
        };
        out.sort_by(|a, b| {
            order(a)
                .cmp(&order(b))
                .then(b.connection.count.cmp(&a.connection.count))
                .then(a.connection.first_seen.cmp(&b.connection.first_seen))
                .then_with(|| pair_key(&a.connection).cmp(&pair_key(&b.connection)))
                .then_with(|| a.connection.direction.cmp(&b.connection.direction))
                .then_with(|| a.connection.node.cmp(&b.connection.node))
                // One connection can be unchanged as allowed and as denied under two snapshots.
                .then_with(|| {
                    a.before
                        .map(|v| v.as_str())
                        .cmp(&b.before.map(|v| v.as_str()))
                })
        });
        for c in &out {
            let (rows, attempts) = match c.change() {
                Change::ToAllow => (&mut counts.to_allow, &mut counts.to_allow_attempts),
                Change::ToDeny => (&mut counts.to_deny, &mut counts.to_deny_attempts),
                Change::Unchanged | Change::NotEvaluated => continue,
            };
            *rows += 1;
            *attempts = attempts.saturating_add(c.connection.count);
        }
        (out, counts)
    }
}

/// The key of a flow's connection, whoever reported it: both ends, port and protocol.
pub fn flow_pair_key(flow: &Flow) -> String {
    let (mut src, mut dst) = (String::new(), String::new());
    write_endpoint_key(&flow.src, &mut src);
    write_endpoint_key(&flow.dst, &mut dst);
    format!("{src}|{dst}|{:?}|{}", flow.dst.port, flow.protocol)
}

/// A connection in words: `customer1/release-agent-… → vamp/elasticsearch-0:9200/TCP`; an end
/// the snapshot does not name is its address.
pub fn connection_text(c: &DeniedConnection) -> String {
    let end = |ep: &crate::flow::Endpoint| match (&ep.identity, ep.ip) {
        (crate::flow::Identity::Pod(p), _) if !p.name.is_empty() => ep.identity.to_string(),
        (crate::flow::Identity::Node(n), Some(ip)) if n.name.is_some() => {
            format!("{} ({ip})", ep.identity)
        }
        (crate::flow::Identity::Service(_), _) => ep.identity.to_string(),
        (_, Some(ip)) => ip.to_string(),
        (other, None) => other.to_string(),
    };
    let port = c.dst.port.map(|p| format!(":{p}")).unwrap_or_default();
    format!("{} → {}{port}/{}", end(&c.src), end(&c.dst), c.protocol)
}

/// Both ends, port and protocol of a connection, whoever reported it.
pub(crate) fn pair_key(c: &DeniedConnection) -> String {
    let (mut src, mut dst) = (String::new(), String::new());
    write_endpoint_key(&c.src, &mut src);
    write_endpoint_key(&c.dst, &mut dst);
    format!("{src}|{dst}|{:?}|{}", c.dst.port, c.protocol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{PolicyChange, PolicyManifests, Snapshot, SnapshotSet};
    use crate::flow::{Direction, Granularity};

    const CLUSTER: &str = r#"{"kind":"List","items":[
      {"kind":"Namespace","metadata":{"name":"shop"}},
      {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},
       "status":{"phase":"Running","podIP":"10.1.0.5"}},
      {"kind":"Pod","metadata":{"name":"db-0","namespace":"shop","labels":{"app":"db"}},
       "status":{"phase":"Running","podIP":"10.1.0.6"}},
      {"kind":"NetworkPolicy","metadata":{"name":"db-in","namespace":"shop"},
       "spec":{"podSelector":{"matchLabels":{"app":"db"}},"policyTypes":["Ingress"]}}]}"#;

    fn flow(src: &str, dst: &str, port: u16, action: Action, direction: Direction) -> Flow {
        let mut f = Flow::test_flow(src, dst, port);
        f.action = action;
        f.direction = direction;
        f.granularity = Granularity::Packet;
        f.is_reply = Some(false);
        f.time = "2026-11-20T10:00:00Z".parse().ok();
        f.node = Some(match direction {
            Direction::Egress => "node-a".into(),
            _ => "node-b".into(),
        });
        f
    }

    fn snapshots() -> SnapshotSet {
        SnapshotSet::new(vec![Snapshot::from_text(CLUSTER, "c.json", None).unwrap()])
    }

    /// The explainers before and after adding the manifests of `change`.
    fn explainers(change: &str) -> (Explainer, Explainer) {
        let set = snapshots();
        let mut m = PolicyManifests::default();
        m.add_text(change, std::path::Path::new("change.yaml"));
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let after = set.with_policies(&m.policies, PolicyChange::Add);
        (Explainer::new(&set), Explainer::new(&after))
    }

    /// A request record joined to the snapshot.
    fn request(src: &str, dst: &str, port: u16, action: Action, direction: Direction) -> Flow {
        let mut f = flow(src, dst, port, action, direction);
        snapshots().enrich(&mut f);
        f
    }

    #[test]
    fn both_ends_of_a_denied_connection_that_becomes_allowed_are_one_row() {
        let (before, after) = explainers(
            "kind: NetworkPolicy\nmetadata: {name: db-in, namespace: shop}\n\
             spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]}\n",
        );
        let mut agg = ReplayAggregator::new(&before, &after, false);
        let egress = request(
            "10.1.0.5",
            "10.1.0.6",
            5432,
            Action::Allowed,
            Direction::Egress,
        );
        let ingress = request(
            "10.1.0.5",
            "10.1.0.6",
            5432,
            Action::Denied,
            Direction::Ingress,
        );
        assert_eq!(agg.add(&egress), Some(Change::ToAllow));
        assert_eq!(agg.add(&ingress), Some(Change::ToAllow));
        let mut reply = ingress.clone();
        reply.is_reply = Some(true);
        assert_eq!(agg.add(&reply), None);
        let (rows, counts) = agg.finish();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].connection.direction, Direction::Ingress);
        assert_eq!(rows[0].connection.other_reports.len(), 1);
        assert_eq!(rows[0].before, Some(PolicyVerdict::Deny));
        assert_eq!(rows[0].after, Some(PolicyVerdict::Allow));
        let why = rows[0].connection.why.as_ref().unwrap();
        assert_eq!(why.verdict, Some(PolicyVerdict::Allow));
        assert!(rows[0]
            .explanation_before
            .as_deref()
            .unwrap()
            .contains("shop/db-in"));
        assert_eq!(counts.to_allow, 1);
        assert_eq!(
            counts.to_allow_attempts, 1,
            "the denying end's attempts, not both ends'"
        );
        assert_eq!(counts.to_deny, 0);
    }

    #[test]
    fn a_denial_not_marked_as_request_or_reply_is_replayed_and_replies_are_not() {
        // Field-masked exporter lines carry no reply flag: `denied` counts such a denial as a
        // connection, so replay must evaluate it too (it used to skip it, and a suggestion
        // for it then admitted nothing).
        let mut unmarked = flow(
            "10.1.0.5",
            "10.1.0.6",
            5432,
            Action::Denied,
            Direction::Ingress,
        );
        unmarked.is_reply = None;
        assert!(!unmarked.is_request());
        assert!(ReplayAggregator::replays(&unmarked));
        let mut allowed = unmarked.clone();
        allowed.action = Action::Allowed;
        assert!(!ReplayAggregator::replays(&allowed), "may be a reply");
        let mut reply = unmarked.clone();
        reply.is_reply = Some(true);
        assert!(!ReplayAggregator::replays(&reply));
    }

    #[test]
    fn an_allowed_connection_a_new_policy_isolates_becomes_denied_and_unchanged_ones_only_count() {
        let (before, after) = explainers(
            "kind: NetworkPolicy\nmetadata: {name: web-out, namespace: shop}\n\
             spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress]}\n",
        );
        let mut agg = ReplayAggregator::new(&before, &after, false);
        // db → web: web's ingress is not isolated and db's egress neither: unchanged.
        let unchanged = request(
            "10.1.0.6",
            "10.1.0.5",
            80,
            Action::Allowed,
            Direction::Ingress,
        );
        // web → 203.0.113.9: web's egress becomes isolated.
        let out = request(
            "10.1.0.5",
            "203.0.113.9",
            443,
            Action::Allowed,
            Direction::Egress,
        );
        assert_eq!(agg.add(&unchanged), Some(Change::Unchanged));
        assert_eq!(agg.add(&out), Some(Change::ToDeny));
        let (rows, counts) = agg.finish();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].change(), Change::ToDeny);
        assert_eq!(counts.to_deny, 1);
        assert_eq!(counts.unchanged_records, 1);
    }
}
