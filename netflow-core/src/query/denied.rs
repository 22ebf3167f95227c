//! Grouping denied flow records into denied connections: one per source → destination:port,
//! protocol, enforcing side and node, with attempt counts and first/last times.
//!
//! A connection is often reported by both ends (Hubble on both nodes, Calico `src` and `dst`
//! reporters, VPC `SRC` and `DEST`): the end that denied it reports a denial, the other end an
//! allowed packet. The other end's reports are kept beside the row (`other_reports`), never
//! added to its count, so the row says where it was denied and the count is not doubled.
//!
//! Logs without verdicts (VPC Flow Logs) have no denial records; their rows are what the
//! snapshot's policies deny ([`DenialBasis::Snapshot`]) or requests nobody answered
//! ([`DenialBasis::NoReply`]), and say so. The aggregator groups whatever records it is given:
//! `reconcile` feeds it allowed records too.
//!
//! Memory stays small however many connections there are: endpoints are shared between the
//! rows that name them, a row's key is a few numbers, and what every other record reported is
//! kept as a digest and a count.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use foldhash::quality::FixedState;
use hashbrown::HashTable;

use serde::{Deserialize, Serialize};

use super::unanswered::{UnansweredDetector, UnansweredPart};
use super::Explainer;
use crate::flow::{Action, Direction, Endpoint, Flow, Identity, PolicyRef, Protocol};

/// All denied records of one connection.
#[derive(Debug, Clone)]
pub struct DeniedConnection {
    /// Source endpoint (as first seen; port cleared, it varies per attempt), shared with the
    /// other rows from the same source.
    pub src: Arc<Endpoint>,
    /// Destination endpoint, shared with the other rows to the same destination and port.
    pub dst: Arc<Endpoint>,
    /// Protocol.
    pub protocol: Protocol,
    /// What the log says (`denied`, or `dropped` for datapath drops when those are included).
    pub action: Action,
    /// Enforcing side.
    pub direction: Direction,
    /// Enforcing node: the one the log names, else (when the log names none) the node of the
    /// enforcing end's pod in the snapshot.
    pub node: Option<String>,
    /// Drop reasons seen, sorted, each once.
    pub drop_reasons: Vec<String>,
    /// Policies named by the log, sorted, each once.
    pub policies: Vec<PolicyRef>,
    /// Denied attempts (sum of record counts).
    pub count: u64,
    /// Records.
    pub records: u64,
    /// First time seen.
    pub first_seen: Option<DateTime<Utc>>,
    /// Last time seen.
    pub last_seen: Option<DateTime<Utc>>,
    /// Whether any record's count was folded or sampled by the source (not exact).
    pub inexact: bool,
    /// What the other end reported for the same connection (e.g. its egress allowed it).
    pub other_reports: Vec<SideReport>,
    /// What the snapshot's NetworkPolicies say about it, when explained.
    pub why: Option<super::Why>,
    /// Where the denial comes from: the log, the snapshot's policies, or a missing reply.
    pub basis: DenialBasis,
    /// Attempts per reporting side (egress, ingress, unknown): the two ends' reports of one
    /// connection folded into one row (a computed denial) count once, not twice.
    by_reporter: [u64; 3],
}

/// Where a row's denial comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum DenialBasis {
    /// The log says so.
    #[default]
    Log,
    /// The log gives no verdict; the snapshot's NetworkPolicies deny the connection.
    Snapshot,
    /// The log gives no verdict; no reply was seen within the window.
    NoReply,
}

impl DenialBasis {
    /// The JSON spelling: `log`, `snapshot` or `no_reply`.
    pub fn as_str(self) -> &'static str {
        match self {
            DenialBasis::Log => "log",
            DenialBasis::Snapshot => "snapshot",
            DenialBasis::NoReply => "no_reply",
        }
    }
}

impl DeniedConnection {
    /// Explains the connection against the snapshot in force at its last denial.
    pub fn explain(&mut self, explainer: &super::Explainer) {
        self.why = explainer.explain(
            &self.src,
            &self.dst,
            self.protocol,
            self.last_seen,
            self.action,
            self.direction,
            &self.policies,
        );
    }
}

/// What one end reported about a connection that was denied elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SideReport {
    /// Which side reported.
    pub direction: Direction,
    /// Reporting node.
    pub node: Option<String>,
    /// What it says happened.
    pub action: Action,
    /// Attempts it reported.
    pub count: u64,
}

impl std::fmt::Display for SideReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.direction != Direction::Unknown {
            write!(f, "{} ", self.direction)?;
        }
        write!(f, "{}", self.action)?;
        if let Some(node) = &self.node {
            write!(f, " @ {node}")?;
        }
        Ok(())
    }
}

/// Writes who an endpoint is, as a grouping key, into the cleared `out`: the pod, node or
/// service when known, else the address (`pod ns/name`, `node NAME`, `svc ns/name`,
/// `ip ADDRESS`).
pub(super) fn write_endpoint_key(ep: &Endpoint, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    let _ = match &ep.identity {
        Identity::Pod(p) if !p.name.is_empty() => write!(out, "pod {}/{}", p.namespace, p.name),
        Identity::Node(n) if n.name.is_some() => {
            write!(out, "node {}", n.name.as_deref().unwrap_or(""))
        }
        Identity::Service(s) => write!(out, "svc {}/{}", s.namespace, s.name),
        other => match ep.ip {
            Some(ip) => write!(out, "ip {ip}"),
            None => write!(out, "id {other}"),
        },
    };
}

/// Who an endpoint is as a grouping key (`pod ns/name`, `node NAME`, `svc ns/name`,
/// `ip ADDRESS`): the text denied connections are grouped and ordered by after their count
/// and first time, for a caller that orders merged shares the way [`DeniedAggregator::finish`]
/// does.
pub fn endpoint_key(ep: &Endpoint) -> String {
    let mut key = String::new();
    write_endpoint_key(ep, &mut key);
    key
}

/// One connection regardless of who reported it (both ends, port, protocol) reduced to a
/// 128-bit digest. Every record that is not a denial is remembered in case its connection is
/// denied elsewhere (the other end's report may come first, or from another file), and there
/// can be millions of distinct ones: as a digest each costs a few dozen bytes instead of two
/// strings. Two different connections sharing a digest is a 2^-128 event.
type PairDigest = u128;

/// The digest of a connection pair from both ends' keys (each hashed whole, so that equal
/// keys always give equal digests).
fn pair_digest(src: &str, dst: &str, port: Option<u16>, protocol: Protocol) -> u128 {
    let half = |seed: u64| {
        let mut hasher = FixedState::with_seed(seed).build_hasher();
        src.hash(&mut hasher);
        dst.hash(&mut hasher);
        port.hash(&mut hasher);
        protocol.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0x5eed_0001)) << 64) | u128::from(half(0x5eed_0002))
}

/// Attempts one reporter saw per connection pair: 24 bytes a pair (the digest is already
/// uniformly spread, so its low half serves as the hash).
#[derive(Debug, Default)]
struct ReportCounts(HashTable<([u64; 2], u64)>);

impl ReportCounts {
    fn add(&mut self, pair: PairDigest, count: u64) {
        let key = [(pair >> 64) as u64, pair as u64];
        match self.0.find_mut(key[1], |(k, _)| *k == key) {
            Some((_, total)) => *total = total.saturating_add(count),
            None => {
                self.0.insert_unique(key[1], (key, count), |(k, _)| k[1]);
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (PairDigest, u64)> + '_ {
        self.0
            .iter()
            .map(|(k, count)| ((u128::from(k[0]) << 64) | u128::from(k[1]), *count))
    }
}

/// A row's grouping key: both ends and the node as numbers in [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConnectionKey {
    src: u32,
    dst: u32,
    port: Option<u16>,
    protocol: Protocol,
    action: Action,
    direction: Direction,
    node: Option<u32>,
    basis: DenialBasis,
}

/// Distinct texts (endpoint keys, node names), each stored once and known by its number.
#[derive(Debug, Default)]
struct Names {
    texts: Vec<Box<str>>,
    ids: HashTable<u32>,
}

impl Names {
    fn id(&mut self, text: &str) -> u32 {
        let texts = &mut self.texts;
        *self
            .ids
            .entry(
                hash_of(&text),
                |&id| &*texts[id as usize] == text,
                |&id| hash_of(&&*texts[id as usize]),
            )
            .or_insert_with(|| {
                texts.push(text.into());
                (texts.len() - 1) as u32
            })
            .get()
    }

    fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
}

/// Who reported a connection and what it said: side, node, action.
type Reporter = (Direction, Option<String>, Action);

/// A [`Reporter`] as borrowed values, to look one up without building it.
fn reporter_ref(r: &Reporter) -> (Direction, Option<&str>, Action) {
    (r.0, r.1.as_deref(), r.2)
}

/// Accumulates denied records into connections.
#[derive(Debug, Default)]
pub struct DeniedAggregator {
    /// The connections so far, in the order first seen, with their keys.
    rows: Vec<(ConnectionKey, DeniedConnection)>,
    /// Row numbers by key.
    row_index: HashTable<u32>,
    /// Endpoint keys and node names.
    names: Names,
    /// The endpoints rows share, by their key's number and port (endpoints under one key and
    /// port differ only in what the log or snapshot says of them: few).
    endpoints: HashMap<(u32, Option<u16>), Vec<Arc<Endpoint>>, foldhash::fast::FixedState>,
    /// Reused to write endpoint keys (source, destination) without allocating per record.
    keys: [String; 2],
    /// Attempts reported for a connection by an end that did not deny it, per reporter index.
    others: Vec<ReportCounts>,
    /// The distinct reporters (few: nodes × sides × actions), found by their hash.
    reporters: Vec<Reporter>,
    reporter_index: HashTable<u32>,
}

fn hash_of(value: &impl Hash) -> u64 {
    foldhash::fast::FixedState::default().hash_one(value)
}

impl DeniedAggregator {
    /// Notes a record that is not a denial: if its connection is denied elsewhere, the row says
    /// what this end reported. Replies are ignored (they answer another connection), and so
    /// are traces of the packet arriving somewhere before the policies there ran: the source
    /// pod's own `FROM_ENDPOINT` trace of a packet its egress then drops is no report of the
    /// other end, and says nothing of either end's policies ([`Flow::is_arrival_trace`]).
    pub fn observe(&mut self, flow: &Flow) {
        if flow.is_reply == Some(true)
            || flow.action == Action::Unknown
            || flow.dst.port.is_none()
            || flow.is_arrival_trace()
        {
            return;
        }
        let [src, dst] = &mut self.keys;
        write_endpoint_key(&flow.src, src);
        write_endpoint_key(&flow.dst, dst);
        let pair = pair_digest(src, dst, flow.dst.port, flow.protocol);
        let reporter = (flow.direction, flow.node.as_deref(), flow.action);
        let hash = hash_of(&reporter);
        let reporters = &mut self.reporters;
        let index = *self
            .reporter_index
            .entry(
                hash,
                |&i| reporter_ref(&reporters[i as usize]) == reporter,
                |&i| hash_of(&reporter_ref(&reporters[i as usize])),
            )
            .or_insert_with(|| {
                reporters.push((flow.direction, flow.node.clone(), flow.action));
                (reporters.len() - 1) as u32
            })
            .get() as usize;
        if self.others.len() <= index {
            self.others.resize_with(index + 1, ReportCounts::default);
        }
        self.others[index].add(pair, flow.count);
    }

    /// The shared copy of `endpoint`, whose key has number `id`.
    fn shared(&mut self, id: u32, endpoint: Endpoint) -> Arc<Endpoint> {
        let known = self.endpoints.entry((id, endpoint.port)).or_default();
        if let Some(same) = known.iter().find(|e| ***e == endpoint) {
            return same.clone();
        }
        let shared = Arc::new(endpoint);
        known.push(shared.clone());
        shared
    }

    /// Adds one record (callers pass only the records they want counted as denials).
    pub fn add(&mut self, flow: &Flow) {
        self.add_as(flow, DenialBasis::Log, None);
    }

    /// Adds one record on `basis`, as enforced at `place` (side and node) when given instead
    /// of where the record was reported: a computed denial is placed where the policies deny
    /// it, whichever end's VM reported the packet.
    pub fn add_as(
        &mut self,
        flow: &Flow,
        basis: DenialBasis,
        place: Option<(Direction, Option<&str>)>,
    ) {
        let (direction, node) = place.unwrap_or((flow.direction, flow.node.as_deref()));
        let [src, dst] = &mut self.keys;
        write_endpoint_key(&flow.src, src);
        write_endpoint_key(&flow.dst, dst);
        let key = ConnectionKey {
            src: self.names.id(src),
            dst: self.names.id(dst),
            port: flow.dst.port,
            protocol: flow.protocol,
            action: flow.action,
            direction,
            node: node.map(|n| self.names.id(n)),
            basis,
        };
        let hash = hash_of(&key);
        let rows = &self.rows;
        let found = self
            .row_index
            .find(hash, |&i| rows[i as usize].0 == key)
            .copied();
        let index = match found {
            Some(i) => i as usize,
            None => {
                let src = self.shared(
                    key.src,
                    Endpoint {
                        port: None,
                        ..flow.src.clone()
                    },
                );
                let dst = self.shared(key.dst, flow.dst.clone());
                let row = DeniedConnection {
                    src,
                    dst,
                    protocol: flow.protocol,
                    action: flow.action,
                    direction,
                    node: node.map(str::to_string),
                    drop_reasons: Vec::new(),
                    policies: Vec::new(),
                    count: 0,
                    records: 0,
                    first_seen: flow.time,
                    last_seen: flow.time,
                    inexact: false,
                    other_reports: Vec::new(),
                    why: None,
                    basis,
                    by_reporter: [0; 3],
                };
                let index = self.rows.len();
                self.rows.push((key, row));
                let rows = &self.rows;
                self.row_index
                    .insert_unique(hash, index as u32, |&i| hash_of(&rows[i as usize].0));
                index
            }
        };
        let entry = &mut self.rows[index].1;
        // Aggregating sources (Calico, GKE) may claim any 64-bit count: saturate, never wrap.
        let slot = &mut entry.by_reporter[match flow.direction {
            Direction::Egress => 0,
            Direction::Ingress => 1,
            Direction::Unknown => 2,
        }];
        *slot = slot.saturating_add(flow.count);
        entry.count = entry.by_reporter.iter().copied().max().unwrap_or(0);
        entry.inexact |= flow.counting != crate::flow::Counting::Exact;
        entry.records += 1;
        if let Some(r) = &flow.drop_reason {
            insert_sorted(&mut entry.drop_reasons, r);
        }
        for p in &flow.policies {
            insert_sorted(&mut entry.policies, p);
        }
        if let Some(t) = flow.time {
            entry.first_seen = Some(entry.first_seen.map_or(t, |f| f.min(t)));
            entry.last_seen = Some(entry.last_seen.map_or(t, |l| l.max(t)));
        }
    }

    /// The connections, most attempts first, then earliest first, then by name: deterministic.
    pub fn finish(self) -> Vec<DeniedConnection> {
        let DeniedAggregator {
            mut rows,
            row_index,
            names,
            endpoints,
            others,
            reporters,
            ..
        } = self;
        drop((row_index, endpoints));
        let mut rows_of_pair: Vec<(PairDigest, u32)> = rows
            .iter()
            .enumerate()
            .map(|(i, (key, _))| {
                let (src, dst) = (names.text(key.src), names.text(key.dst));
                (pair_digest(src, dst, key.port, key.protocol), i as u32)
            })
            .collect();
        rows_of_pair.sort_unstable();
        for (reporter, counts) in others.iter().enumerate() {
            let (direction, node, action) = &reporters[reporter];
            for (pair, count) in counts.iter() {
                let first = rows_of_pair.partition_point(|(p, _)| *p < pair);
                for &(_, i) in rows_of_pair[first..].iter().take_while(|(p, _)| *p == pair) {
                    let row = &mut rows[i as usize].1;
                    if *direction != row.direction {
                        row.other_reports.push(SideReport {
                            direction: *direction,
                            node: node.clone(),
                            action: *action,
                            count,
                        });
                    }
                }
            }
        }
        drop((rows_of_pair, others));
        for (_, row) in &mut rows {
            row.other_reports.sort();
            if row.node.is_none() {
                row.node = enforcing_pod_node(row);
            }
        }
        let node = |id: Option<u32>| id.map(|id| names.text(id));
        rows.sort_by(|(ka, a), (kb, b)| {
            b.count
                .cmp(&a.count)
                .then(a.first_seen.cmp(&b.first_seen))
                .then_with(|| names.text(ka.src).cmp(names.text(kb.src)))
                .then_with(|| names.text(ka.dst).cmp(names.text(kb.dst)))
                .then(ka.port.cmp(&kb.port))
                .then(ka.protocol.cmp(&kb.protocol))
                .then(ka.action.cmp(&kb.action))
                .then(ka.direction.cmp(&kb.direction))
                .then_with(|| node(ka.node).cmp(&node(kb.node)))
                .then(ka.basis.cmp(&kb.basis))
        });
        rows.into_iter().map(|(_, c)| c).collect()
    }
}

/// One denied connection as one reader of a share of the inputs saw it, before the shares
/// are merged: the grouping key as text (so that every reader keys it alike), the
/// endpoints as first seen in that share, and the counts so far. Serializable, to travel
/// between processes (a Spark executor and the one that merges).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialGroup {
    /// The share's place in input order: when shares are merged, the endpoints of the
    /// earliest share are kept, as one reader over all inputs keeps the first seen.
    pub order: u64,
    /// Who the source is, as a grouping key (`pod ns/name`, `node NAME`, `ip ADDRESS`, ...).
    pub src_key: String,
    /// Who the destination is, as a grouping key.
    pub dst_key: String,
    /// The connection: source (port cleared) and destination as first seen in the share.
    pub src: Endpoint,
    /// Destination endpoint.
    pub dst: Endpoint,
    /// Protocol.
    pub protocol: Protocol,
    /// What the log says (`denied`, or `dropped` when drops count as denials).
    pub action: Action,
    /// Enforcing side.
    pub direction: Direction,
    /// Enforcing node.
    pub node: Option<String>,
    /// Drop reasons seen, sorted, each once.
    pub drop_reasons: Vec<String>,
    /// Policies named by the log, sorted, each once.
    pub policies: Vec<PolicyRef>,
    /// Denied attempts.
    pub count: u64,
    /// Records.
    pub records: u64,
    /// First time seen.
    pub first_seen: Option<DateTime<Utc>>,
    /// Last time seen.
    pub last_seen: Option<DateTime<Utc>>,
    /// Whether any record's count was folded or sampled by the source.
    pub inexact: bool,
    /// Where the denial comes from.
    pub basis: DenialBasis,
    /// Attempts per reporting side (egress, ingress, unknown); `count` is the largest.
    pub by_reporter: [u64; 3],
}

impl PartialGroup {
    /// The digest of the connection regardless of who reported it: equal for a group and
    /// for every [`PartialReport`] that belongs beside it, so shares can be routed by it.
    pub fn pair(&self) -> u128 {
        pair_digest(&self.src_key, &self.dst_key, self.dst.port, self.protocol)
    }
}

/// What one end that did not deny a connection reported about it, in one share: counted
/// per connection digest ([`PartialGroup::pair`]) and reporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialReport {
    /// The connection's digest.
    pub pair: u128,
    /// Which side reported.
    pub direction: Direction,
    /// Reporting node.
    pub node: Option<String>,
    /// What it says happened.
    pub action: Action,
    /// Attempts it reported.
    pub count: u64,
}

/// What one reader of a share of the inputs found: its denied connections and the other
/// ends' reports, to be merged with the other shares' by [`merge_partials`]; and, when it
/// looked for unanswered requests, what it saw of each 5-tuple without a verdict, to be
/// turned into denied connections by [`unanswered_denials`] once the parts of a 5-tuple and
/// its reverse are together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialDenied {
    /// The denied connections of the share.
    pub groups: Vec<PartialGroup>,
    /// What ends that did not deny reported, by connection.
    pub reports: Vec<PartialReport>,
    /// The 5-tuples without a verdict the share saw (empty unless it looked for unanswered
    /// requests).
    #[serde(default)]
    pub unanswered: Vec<UnansweredPart>,
}

/// The requests nobody answered among the parts of some 5-tuples and their reverses (all the
/// parts of each, from every share: route them by [`UnansweredPart::pair`]), as denied
/// connections of basis [`DenialBasis::NoReply`] to merge with the other shares' groups
/// ([`merge_partials`]). A reply within `window` answers a request. With `policy_denials`
/// and an explainer, requests the policies deny are left out: the share that read them
/// listed them as computed denials, as one reader of every input does.
pub fn unanswered_denials(
    mut parts: Vec<UnansweredPart>,
    window: chrono::Duration,
    explainer: Option<&Explainer>,
    policy_denials: bool,
) -> PartialDenied {
    parts.sort_by_key(|p| p.order);
    let order = parts.first().map_or(0, |p| p.order);
    let mut detector = UnansweredDetector::new(window);
    for part in parts {
        detector.absorb(part);
    }
    let mut aggregator = DeniedAggregator::default();
    for flow in detector.finish() {
        let computed =
            policy_denials && explainer.is_some_and(|e| e.policy_denial(&flow).is_some());
        if !computed {
            aggregator.add_as(&flow, DenialBasis::NoReply, None);
        }
    }
    aggregator.finish_partial(order)
}

impl DeniedAggregator {
    /// What was added and observed so far, as one share of a larger reading (`order` is the
    /// share's place in input order), to be merged with the others by [`merge_partials`].
    pub fn finish_partial(self, order: u64) -> PartialDenied {
        let names = &self.names;
        let groups = self
            .rows
            .into_iter()
            .map(|(key, c)| PartialGroup {
                order,
                src_key: names.text(key.src).to_string(),
                dst_key: names.text(key.dst).to_string(),
                src: Arc::unwrap_or_clone(c.src),
                dst: Arc::unwrap_or_clone(c.dst),
                protocol: c.protocol,
                action: c.action,
                direction: c.direction,
                node: c.node,
                drop_reasons: c.drop_reasons,
                policies: c.policies,
                count: c.count,
                records: c.records,
                first_seen: c.first_seen,
                last_seen: c.last_seen,
                inexact: c.inexact,
                basis: c.basis,
                by_reporter: c.by_reporter,
            })
            .collect();
        let mut reports = Vec::new();
        for (i, counts) in self.others.iter().enumerate() {
            let (direction, node, action) = &self.reporters[i];
            for (pair, count) in counts.iter() {
                reports.push(PartialReport {
                    pair,
                    direction: *direction,
                    node: node.clone(),
                    action: *action,
                    count,
                });
            }
        }
        reports.sort_by(|a, b| {
            (a.pair, a.direction, &a.node, a.action).cmp(&(b.pair, b.direction, &b.node, b.action))
        });
        PartialDenied {
            groups,
            reports,
            unanswered: Vec::new(),
        }
    }
}

/// Merges the shares of one reading into its denied connections, exactly as one
/// [`DeniedAggregator`] over all the inputs in order would have found them: counts and
/// records summed, first and last seen widened, reasons and policies united, the endpoints
/// of the earliest share kept, the other ends' reports attached, most attempts first.
/// Shares may be merged in any order and in stages (merge a subset, then the rest), as long
/// as every share whose reports or groups name a connection is in the same final merge.
pub fn merge_partials(parts: impl IntoIterator<Item = PartialDenied>) -> Vec<DeniedConnection> {
    let mut agg = DeniedAggregator::default();
    let mut orders: Vec<u64> = Vec::new();
    for part in parts {
        for g in part.groups {
            let key = ConnectionKey {
                src: agg.names.id(&g.src_key),
                dst: agg.names.id(&g.dst_key),
                port: g.dst.port,
                protocol: g.protocol,
                action: g.action,
                direction: g.direction,
                node: g.node.as_deref().map(|n| agg.names.id(n)),
                basis: g.basis,
            };
            let hash = hash_of(&key);
            let rows = &agg.rows;
            let found = agg
                .row_index
                .find(hash, |&i| rows[i as usize].0 == key)
                .copied();
            match found {
                None => {
                    let src = agg.shared(key.src, g.src);
                    let dst = agg.shared(key.dst, g.dst);
                    let index = agg.rows.len();
                    agg.rows.push((
                        key,
                        DeniedConnection {
                            src,
                            dst,
                            protocol: g.protocol,
                            action: g.action,
                            direction: g.direction,
                            node: g.node,
                            drop_reasons: g.drop_reasons,
                            policies: g.policies,
                            count: g.count,
                            records: g.records,
                            first_seen: g.first_seen,
                            last_seen: g.last_seen,
                            inexact: g.inexact,
                            other_reports: Vec::new(),
                            why: None,
                            basis: g.basis,
                            by_reporter: g.by_reporter,
                        },
                    ));
                    orders.push(g.order);
                    let rows = &agg.rows;
                    agg.row_index
                        .insert_unique(hash, index as u32, |&i| hash_of(&rows[i as usize].0));
                }
                Some(i) => {
                    let i = i as usize;
                    if g.order < orders[i] {
                        orders[i] = g.order;
                        let src = agg.shared(key.src, g.src);
                        let dst = agg.shared(key.dst, g.dst);
                        let row = &mut agg.rows[i].1;
                        row.src = src;
                        row.dst = dst;
                    }
                    let row = &mut agg.rows[i].1;
                    for (slot, n) in row.by_reporter.iter_mut().zip(g.by_reporter) {
                        *slot = slot.saturating_add(n);
                    }
                    row.count = row.by_reporter.iter().copied().max().unwrap_or(0);
                    row.records = row.records.saturating_add(g.records);
                    row.inexact |= g.inexact;
                    for r in &g.drop_reasons {
                        insert_sorted(&mut row.drop_reasons, r);
                    }
                    for p in &g.policies {
                        insert_sorted(&mut row.policies, p);
                    }
                    row.first_seen = match (row.first_seen, g.first_seen) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    row.last_seen = match (row.last_seen, g.last_seen) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        for r in part.reports {
            let reporter = (r.direction, r.node.as_deref(), r.action);
            let hash = hash_of(&reporter);
            let reporters = &mut agg.reporters;
            let index = *agg
                .reporter_index
                .entry(
                    hash,
                    |&i| reporter_ref(&reporters[i as usize]) == reporter,
                    |&i| hash_of(&reporter_ref(&reporters[i as usize])),
                )
                .or_insert_with(|| {
                    reporters.push((r.direction, r.node.clone(), r.action));
                    (reporters.len() - 1) as u32
                })
                .get() as usize;
            if agg.others.len() <= index {
                agg.others.resize_with(index + 1, ReportCounts::default);
            }
            agg.others[index].add(r.pair, r.count);
        }
    }
    agg.finish()
}

/// The node of the pod at the enforcing end, for logs that do not name the node they were
/// written on (a node file of the EKS network policy agent, OVN, Antrea): these enforcers act
/// on the pod's own node, so the snapshot's pod says where.
fn enforcing_pod_node(row: &DeniedConnection) -> Option<String> {
    let end = match row.direction {
        Direction::Ingress => &row.dst,
        Direction::Egress => &row.src,
        Direction::Unknown => return None,
    };
    end.identity.pod().and_then(|p| p.node.clone())
}

/// Inserts a clone of `value` into the sorted `list` unless it is there already.
fn insert_sorted<T: Ord + Clone>(list: &mut Vec<T>, value: &T) {
    if let Err(at) = list.binary_search(value) {
        list.insert(at, value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Origin, PodIdentity};
    use std::sync::Arc;

    fn denied(src_pod: &str, port: u16, time: &str, count: u64) -> Flow {
        let pod = |name: &str| Endpoint {
            identity: Identity::Pod(std::sync::Arc::new(PodIdentity {
                namespace: "ns".into(),
                name: name.into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        Flow {
            time: time.parse().ok(),
            src: Endpoint {
                port: Some(40000),
                ..pod(src_pod)
            },
            dst: Endpoint {
                port: Some(port),
                ..pod("es-0")
            },
            protocol: Protocol::Tcp,
            action: Action::Denied,
            action_raw: "DROPPED".into(),
            direction: Direction::Ingress,
            node: Some("n1".into()),
            drop_reason: Some("POLICY_DENIED".into()),
            policies: vec![],
            is_reply: None,
            bytes: None,
            packets: None,
            reply_seen: false,
            count,
            duplicate: count == 0,
            counting: crate::flow::Counting::Exact,
            granularity: crate::flow::Granularity::Packet,
            details: None,
            format: crate::format::Format::Hubble,
            origin: Origin {
                input: Arc::from("t"),
                line: 1,
            },
        }
    }

    #[test]
    fn a_log_that_names_no_node_is_placed_on_the_enforcing_pods_node() {
        let on_node = |ep: &Endpoint, node: &str| {
            let mut pod = ep.identity.pod().unwrap().clone();
            pod.node = Some(node.into());
            Endpoint {
                identity: Identity::Pod(Arc::new(pod)),
                ..ep.clone()
            }
        };
        let mut flow = denied("web-1", 9200, "2026-01-01T00:00:00Z", 1);
        flow.node = None;
        flow.src = on_node(&flow.src, "node-a");
        flow.dst = on_node(&flow.dst, "node-b");
        let mut egress = flow.clone();
        egress.direction = Direction::Egress;
        let mut unknown = flow.clone();
        unknown.direction = Direction::Unknown;
        let mut named = flow.clone();
        named.node = Some("from-the-log".into());
        let mut aggregator = DeniedAggregator::default();
        for f in [&flow, &egress, &unknown, &named] {
            aggregator.add(f);
        }
        let mut nodes: Vec<(Direction, Option<String>)> = aggregator
            .finish()
            .into_iter()
            .map(|c| (c.direction, c.node))
            .collect();
        nodes.sort();
        assert_eq!(
            nodes,
            [
                (Direction::Egress, Some("node-a".into())),
                (Direction::Ingress, Some("from-the-log".into())),
                (Direction::Ingress, Some("node-b".into())),
                (Direction::Unknown, None),
            ]
        );
    }

    #[test]
    fn the_other_ends_report_is_kept_beside_the_row_not_counted() {
        let mut agg = DeniedAggregator::default();
        agg.add(&denied("a", 9200, "2026-11-20T10:00:02Z", 1));
        let mut allowed = denied("a", 9200, "2026-11-20T10:00:02Z", 1);
        allowed.action = Action::Allowed;
        allowed.direction = Direction::Egress;
        allowed.node = Some("n0".into());
        agg.observe(&allowed);
        let rows = agg.finish();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].count, 1);
        assert_eq!(rows[0].other_reports.len(), 1);
        assert_eq!(rows[0].other_reports[0].to_string(), "egress allowed @ n0");
    }

    #[test]
    fn a_trace_of_the_packet_leaving_the_source_pod_is_no_other_ends_report() {
        let trace_at = |point: &str| {
            let mut trace = denied("a", 9200, "2026-11-20T10:00:02Z", 1);
            trace.action = Action::Allowed;
            trace.direction = Direction::Egress;
            trace.node = Some("n1".into());
            trace.details = Some(Arc::new(crate::flow::FlowDetails {
                observation_point: Some(point.to_string().into()),
                ..Default::default()
            }));
            trace
        };
        let mut agg = DeniedAggregator::default();
        let mut drop = denied("a", 9200, "2026-11-20T10:00:02Z", 1);
        drop.direction = Direction::Unknown;
        agg.observe(&trace_at("FROM_ENDPOINT"));
        agg.add(&drop);
        let rows = agg.finish();
        assert!(
            rows[0].other_reports.is_empty(),
            "{:?}",
            rows[0].other_reports
        );
        // A trace after the source's egress policy (leaving the node) is its report.
        let mut agg = DeniedAggregator::default();
        agg.observe(&trace_at("TO_OVERLAY"));
        agg.add(&denied("a", 9200, "2026-11-20T10:00:02Z", 1));
        let rows = agg.finish();
        assert_eq!(rows[0].other_reports[0].to_string(), "egress allowed @ n1");
    }

    #[test]
    fn the_other_ends_reports_attach_to_their_connection_only_whatever_the_order() {
        let mut agg = DeniedAggregator::default();
        let mut allowed = denied("a", 9200, "2026-11-20T10:00:01Z", 1);
        allowed.action = Action::Allowed;
        allowed.direction = Direction::Egress;
        allowed.node = Some("n0".into());
        // Seen before the denial (another file, or an earlier node's log), twice.
        agg.observe(&allowed);
        agg.observe(&allowed);
        // Another connection's report, and one from the denying side itself: neither attaches.
        let mut elsewhere = allowed.clone();
        elsewhere.dst.port = Some(9300);
        agg.observe(&elsewhere);
        let mut same_side = allowed.clone();
        same_side.direction = Direction::Ingress;
        agg.observe(&same_side);
        agg.add(&denied("a", 9200, "2026-11-20T10:00:02Z", 1));
        agg.add(&denied("b", 9200, "2026-11-20T10:00:02Z", 1));
        let rows = agg.finish();
        let row_a = rows
            .iter()
            .find(|r| r.src.identity.to_string() == "ns/a")
            .unwrap();
        assert_eq!(
            row_a.other_reports,
            [SideReport {
                direction: Direction::Egress,
                node: Some("n0".into()),
                action: Action::Allowed,
                count: 2,
            }]
        );
        let row_b = rows
            .iter()
            .find(|r| r.src.identity.to_string() == "ns/b")
            .unwrap();
        assert!(row_b.other_reports.is_empty());
    }

    #[test]
    fn rows_share_their_endpoints_and_keep_reasons_and_policies_sorted_once() {
        let mut agg = DeniedAggregator::default();
        let mut first = denied("a", 9200, "2026-11-20T10:00:02Z", 1);
        first.policies = vec![PolicyRef {
            namespace: Some("ns".into()),
            name: "zeta".into(),
            kind: None,
            tier: None,
        }];
        let mut second = denied("a", 9200, "2026-11-20T10:00:03Z", 1);
        second.drop_reason = Some("AUTH_REQUIRED".into());
        second.policies = vec![
            PolicyRef {
                namespace: Some("ns".into()),
                name: "alpha".into(),
                kind: None,
                tier: None,
            },
            first.policies[0].clone(),
        ];
        agg.add(&first);
        agg.add(&second);
        agg.add(&denied("a", 9300, "2026-11-20T10:00:04Z", 1));
        let rows = agg.finish();
        assert_eq!(rows.len(), 2);
        assert!(
            Arc::ptr_eq(&rows[0].src, &rows[1].src),
            "one source, one copy"
        );
        assert!(!Arc::ptr_eq(&rows[0].dst, &rows[1].dst), "the ports differ");
        assert_eq!(rows[0].drop_reasons, ["AUTH_REQUIRED", "POLICY_DENIED"]);
        let names: Vec<&str> = rows[0].policies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
    }

    #[test]
    fn a_port_scan_keeps_one_shared_endpoint_per_port_and_key() {
        // Endpoints used to be looked up by key alone, comparing each port's copy in turn: a
        // scan of every port of one address cost ports² comparisons.
        let mut agg = DeniedAggregator::default();
        for port in 1..=2000 {
            agg.add(&denied("a", port, "2026-11-20T10:00:02Z", 1));
        }
        assert_eq!(agg.endpoints.values().map(Vec::len).max(), Some(1));
        assert_eq!(agg.finish().len(), 2000);
    }

    #[test]
    fn the_same_key_text_pairs_reports_however_its_parts_are_split() {
        // "pod a/b/c" is one row whoever's namespace holds the middle part; the other end's
        // report must pair with it too (hostile names can hold a slash).
        let ep = |namespace: &str, name: &str, port: Option<u16>| Endpoint {
            identity: Identity::Pod(Arc::new(PodIdentity {
                namespace: namespace.into(),
                name: name.into(),
                ..Default::default()
            })),
            port,
            ..Default::default()
        };
        let mut agg = DeniedAggregator::default();
        let mut row = denied("x", 80, "2026-11-20T10:00:02Z", 1);
        row.src = ep("a", "b/c", Some(1));
        agg.add(&row);
        let mut allowed = row.clone();
        allowed.src = ep("a/b", "c", Some(1));
        allowed.action = Action::Allowed;
        allowed.direction = Direction::Egress;
        agg.observe(&allowed);
        let rows = agg.finish();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].other_reports.len(), 1);
    }

    #[test]
    fn aggregated_counts_saturate_instead_of_overflowing() {
        // A Calico or GKE record may claim any 64-bit count; two of them used to overflow.
        let mut agg = DeniedAggregator::default();
        agg.add(&denied("a", 9200, "2026-11-20T10:00:02Z", u64::MAX));
        agg.add(&denied("a", 9200, "2026-11-20T10:00:03Z", u64::MAX));
        let mut allowed = denied("a", 9200, "2026-11-20T10:00:02Z", u64::MAX);
        allowed.action = Action::Allowed;
        allowed.direction = Direction::Egress;
        agg.observe(&allowed);
        agg.observe(&allowed);
        let rows = agg.finish();
        assert_eq!(rows[0].count, u64::MAX);
        assert_eq!(rows[0].records, 2);
        assert_eq!(rows[0].other_reports[0].count, u64::MAX);
    }

    /// Records of several files: denials of one connection in two files, its other end's
    /// report in a third, an unrelated denial, and a destination seen differently (another
    /// identity source) in the later file.
    fn shares() -> Vec<Vec<(Flow, bool)>> {
        let allowed = |mut f: Flow, node: &str| {
            f.action = Action::Allowed;
            f.direction = Direction::Egress;
            f.node = Some(node.into());
            f
        };
        let mut later = denied("a", 9200, "2026-11-20T09:59:00Z", 1);
        later.dst.identity_source = crate::flow::IdentitySource::Log;
        later.drop_reason = Some("AUTH_REQUIRED".into());
        later.policies = vec![PolicyRef {
            namespace: Some("ns".into()),
            name: "deny-all".into(),
            kind: None,
            tier: None,
        }];
        vec![
            vec![
                (denied("a", 9200, "2026-11-20T10:00:02Z", 1), true),
                (denied("b", 9300, "2026-11-20T10:00:09Z", 2), true),
                (
                    allowed(denied("b", 9300, "2026-11-20T10:00:09Z", 1), "n0"),
                    false,
                ),
            ],
            vec![
                (later, true),
                (denied("a", 9200, "2026-11-20T10:00:05Z", u64::MAX), true),
            ],
            vec![
                (
                    allowed(denied("a", 9200, "2026-11-20T10:00:01Z", 3), "n0"),
                    false,
                ),
                (
                    allowed(denied("c", 80, "2026-11-20T10:00:01Z", 1), "n9"),
                    false,
                ),
            ],
        ]
    }

    fn aggregate(flows: &[(Flow, bool)], agg: &mut DeniedAggregator) {
        for (flow, is_denial) in flows {
            if *is_denial {
                agg.add(flow);
            } else {
                agg.observe(flow);
            }
        }
    }

    #[test]
    fn merged_shares_equal_one_reading_of_all_inputs_in_any_merge_order() {
        let shares = shares();
        let mut whole = DeniedAggregator::default();
        for share in &shares {
            aggregate(share, &mut whole);
        }
        let expected = whole.finish();
        let parts: Vec<PartialDenied> = shares
            .iter()
            .enumerate()
            .map(|(i, share)| {
                let mut agg = DeniedAggregator::default();
                aggregate(share, &mut agg);
                agg.finish_partial(i as u64)
            })
            .collect();
        let shown = |rows: &[DeniedConnection]| {
            rows.iter()
                .map(|c| {
                    format!(
                        "{:?} {:?} {} {} {:?} {:?} {:?} {:?} {:?}",
                        c.src,
                        c.dst,
                        c.count,
                        c.records,
                        c.first_seen,
                        c.last_seen,
                        c.drop_reasons,
                        c.policies,
                        c.other_reports
                    )
                })
                .collect::<Vec<_>>()
        };
        let merged = merge_partials(parts.clone());
        assert_eq!(shown(&merged), shown(&expected));
        let mut reversed = parts.clone();
        reversed.reverse();
        assert_eq!(shown(&merge_partials(reversed)), shown(&expected));
        // The first file's view of the destination is kept, as one reader keeps the first.
        assert_eq!(
            merged[0].dst.identity_source,
            crate::flow::IdentitySource::None
        );
        assert_eq!(merged[0].count, u64::MAX, "saturates across shares");
        assert_eq!(merged[0].other_reports[0].count, 3);
    }

    #[test]
    fn partial_shares_travel_as_json_and_read_back_the_same() {
        let mut agg = DeniedAggregator::default();
        aggregate(&shares()[1], &mut agg);
        let mut part = agg.finish_partial(7);
        part.groups[0].protocol = Protocol::Other(47);
        let text = serde_json::to_string(&part).unwrap();
        let back: PartialDenied = serde_json::from_str(&text).unwrap();
        assert_eq!(back, part);
        assert_eq!(back.groups[0].pair(), part.groups[0].pair());
    }

    #[test]
    fn records_of_one_connection_fold_into_one_row_counting_attempts() {
        let mut agg = DeniedAggregator::default();
        agg.add(&denied("a", 9200, "2026-11-20T10:00:02Z", 1));
        agg.add(&denied("a", 9200, "2026-11-20T10:00:02Z", 0));
        agg.add(&denied("a", 9200, "2026-11-20T10:00:01Z", 1));
        agg.add(&denied("b", 9200, "2026-11-20T09:00:00Z", 1));
        agg.add(&denied("a", 9300, "2026-11-20T09:00:00Z", 1));
        let rows = agg.finish();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].count, 2);
        assert_eq!(rows[0].records, 3);
        assert_eq!(rows[0].first_seen, "2026-11-20T10:00:01Z".parse().ok());
        assert_eq!(rows[0].last_seen, "2026-11-20T10:00:02Z".parse().ok());
        assert_eq!(rows[0].src.port, None);
    }

    #[test]
    fn a_computed_denial_reported_by_both_ends_counts_once() {
        // A VPC connection is reported by the source's VM and by the destination's: placed
        // where the policies deny it, both reports fold into one row of one attempt each.
        let mut agg = DeniedAggregator::default();
        let mut src_report = denied("a", 9200, "2026-11-20T10:00:02Z", 1);
        src_report.action = Action::Unknown;
        src_report.direction = Direction::Egress;
        src_report.node = Some("n0".into());
        let mut dst_report = src_report.clone();
        dst_report.direction = Direction::Ingress;
        dst_report.node = Some("n1".into());
        let place = Some((Direction::Ingress, Some("n1")));
        for _ in 0..2 {
            agg.add_as(&src_report, DenialBasis::Snapshot, place);
            agg.add_as(&dst_report, DenialBasis::Snapshot, place);
        }
        // Not the same row as a request nobody answered, even at the same place.
        agg.add_as(&dst_report, DenialBasis::NoReply, None);
        let rows = agg.finish();
        assert_eq!(rows.len(), 2);
        let computed = rows
            .iter()
            .find(|r| r.basis == DenialBasis::Snapshot)
            .unwrap();
        assert_eq!((computed.count, computed.records), (2, 4));
        assert_eq!(computed.direction, Direction::Ingress);
        assert_eq!(computed.node.as_deref(), Some("n1"));
    }
}
