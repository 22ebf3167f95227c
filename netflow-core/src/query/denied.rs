//! Grouping denied flow records into denied connections: one per source → destination:port,
//! protocol, enforcing side and node, with attempt counts and first/last times.
//!
//! A connection is often reported by both ends (Hubble on both nodes, Calico `src` and `dst`
//! reporters, VPC `SRC` and `DEST`): the end that denied it reports a denial, the other end an
//! allowed packet. The other end's reports are kept beside the row (`other_reports`), never
//! added to its count, so the row says where it was denied and the count is not doubled.

use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, Utc};

use crate::flow::{Action, Direction, Endpoint, Flow, Identity, PolicyRef, Protocol};

/// All denied records of one connection.
#[derive(Debug, Clone)]
pub struct DeniedConnection {
    /// Source endpoint (as first seen; port cleared, it varies per attempt).
    pub src: Endpoint,
    /// Destination endpoint.
    pub dst: Endpoint,
    /// Protocol.
    pub protocol: Protocol,
    /// What the log says (`denied`, or `dropped` for datapath drops when those are included).
    pub action: Action,
    /// Enforcing side.
    pub direction: Direction,
    /// Enforcing node.
    pub node: Option<String>,
    /// Drop reasons seen.
    pub drop_reasons: BTreeSet<String>,
    /// Policies named by the log.
    pub policies: BTreeSet<PolicyRef>,
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
}

impl DeniedConnection {
    /// Explains the connection against the snapshot in force at its last denial.
    pub fn explain(&mut self, explainer: &super::Explainer) {
        let policies: Vec<PolicyRef> = self.policies.iter().cloned().collect();
        self.why = explainer.explain(
            &self.src,
            &self.dst,
            self.protocol,
            self.last_seen,
            self.action,
            self.direction,
            &policies,
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

/// One connection regardless of who reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct PairKey {
    src: String,
    dst: String,
    port: Option<u16>,
    protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ConnectionKey {
    src: String,
    dst: String,
    port: Option<u16>,
    protocol: Protocol,
    action: Action,
    direction: Direction,
    node: Option<String>,
}

/// Who an endpoint is, as a grouping key: the pod, node or service when known, else the address.
fn endpoint_key(ep: &Endpoint) -> String {
    match &ep.identity {
        Identity::Pod(p) if !p.name.is_empty() => format!("pod {}/{}", p.namespace, p.name),
        Identity::Node(n) if n.name.is_some() => {
            format!("node {}", n.name.as_deref().unwrap_or(""))
        }
        Identity::Service(s) => format!("svc {}/{}", s.namespace, s.name),
        other => match ep.ip {
            Some(ip) => format!("ip {ip}"),
            None => format!("id {other}"),
        },
    }
}

/// Who reported a connection and what it said: side, node, action.
type Reporter = (Direction, Option<String>, Action);

/// A [`PairKey`] reduced to a 128-bit digest. Every record that is not a denial is remembered in
/// case its connection is denied elsewhere (the other end's report may come first, or from
/// another file), and there can be millions of distinct ones: as a digest each costs a few dozen
/// bytes instead of two strings and a map, which keeps memory bounded on multi-GB inputs.
/// Two different connections sharing a digest is a 2^-128 event.
type PairDigest = u128;

fn digest(key: &PairKey) -> PairDigest {
    let half = |salt: u8| {
        let mut hasher = DefaultHasher::new();
        salt.hash(&mut hasher);
        key.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// Attempts one reporter saw per connection pair: 24 bytes a pair (the digest is already
/// uniformly spread, so its low half serves as the hash).
#[derive(Debug, Default)]
struct ReportCounts(hashbrown::HashTable<([u64; 2], u64)>);

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

/// Accumulates denied records into connections.
#[derive(Debug, Default)]
pub struct DeniedAggregator {
    groups: HashMap<ConnectionKey, DeniedConnection>,
    /// Attempts reported for a connection by an end that did not deny it, per reporter index.
    others: Vec<ReportCounts>,
    /// The distinct reporters (few: nodes × sides × actions) and their indices.
    reporters: Vec<Reporter>,
    reporter_index: HashMap<Reporter, usize>,
}

impl DeniedAggregator {
    /// Notes a record that is not a denial: if its connection is denied elsewhere, the row says
    /// what this end reported. Replies are ignored (they answer another connection).
    pub fn observe(&mut self, flow: &Flow) {
        if flow.is_reply == Some(true) || flow.action == Action::Unknown || flow.dst.port.is_none()
        {
            return;
        }
        let key = PairKey {
            src: endpoint_key(&flow.src),
            dst: endpoint_key(&flow.dst),
            port: flow.dst.port,
            protocol: flow.protocol,
        };
        let reporter = (flow.direction, flow.node.clone(), flow.action);
        let index = match self.reporter_index.get(&reporter) {
            Some(i) => *i,
            None => {
                self.reporters.push(reporter.clone());
                self.reporter_index
                    .insert(reporter, self.reporters.len() - 1);
                self.reporters.len() - 1
            }
        };
        if self.others.len() <= index {
            self.others.resize_with(index + 1, ReportCounts::default);
        }
        self.others[index].add(digest(&key), flow.count);
    }

    /// Adds one record (callers pass only the records they want counted as denials).
    pub fn add(&mut self, flow: &Flow) {
        let key = ConnectionKey {
            src: endpoint_key(&flow.src),
            dst: endpoint_key(&flow.dst),
            port: flow.dst.port,
            protocol: flow.protocol,
            action: flow.action,
            direction: flow.direction,
            node: flow.node.clone(),
        };
        let entry = self.groups.entry(key).or_insert_with(|| DeniedConnection {
            src: Endpoint {
                port: None,
                ..flow.src.clone()
            },
            dst: flow.dst.clone(),
            protocol: flow.protocol,
            action: flow.action,
            direction: flow.direction,
            node: flow.node.clone(),
            drop_reasons: BTreeSet::new(),
            policies: BTreeSet::new(),
            count: 0,
            records: 0,
            first_seen: flow.time,
            last_seen: flow.time,
            inexact: false,
            other_reports: Vec::new(),
            why: None,
        });
        // Aggregating sources (Calico, GKE) may claim any 64-bit count: saturate, never wrap.
        entry.count = entry.count.saturating_add(flow.count);
        entry.inexact |= flow.counting != crate::flow::Counting::Exact;
        entry.records += 1;
        if let Some(r) = &flow.drop_reason {
            if !entry.drop_reasons.contains(r) {
                entry.drop_reasons.insert(r.clone());
            }
        }
        for p in &flow.policies {
            if !entry.policies.contains(p) {
                entry.policies.insert(p.clone());
            }
        }
        if let Some(t) = flow.time {
            entry.first_seen = Some(entry.first_seen.map_or(t, |f| f.min(t)));
            entry.last_seen = Some(entry.last_seen.map_or(t, |l| l.max(t)));
        }
    }

    /// The connections, most attempts first, then earliest first, then by name: deterministic.
    pub fn finish(self) -> Vec<DeniedConnection> {
        let mut rows: Vec<(ConnectionKey, DeniedConnection)> = self.groups.into_iter().collect();
        let mut rows_of_pair: HashMap<PairDigest, Vec<usize>> = HashMap::new();
        for (i, (key, _)) in rows.iter().enumerate() {
            let pair = PairKey {
                src: key.src.clone(),
                dst: key.dst.clone(),
                port: key.port,
                protocol: key.protocol,
            };
            rows_of_pair.entry(digest(&pair)).or_default().push(i);
        }
        for (reporter, counts) in self.others.iter().enumerate() {
            let (direction, node, action) = &self.reporters[reporter];
            for (pair, count) in counts.iter() {
                for &i in rows_of_pair.get(&pair).into_iter().flatten() {
                    let row = &mut rows[i].1;
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
        for (_, row) in &mut rows {
            row.other_reports.sort();
        }
        rows.sort_by(|(ka, a), (kb, b)| {
            b.count
                .cmp(&a.count)
                .then(a.first_seen.cmp(&b.first_seen))
                .then(ka.cmp(kb))
        });
        rows.into_iter().map(|(_, c)| c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Origin, PodIdentity};
    use std::sync::Arc;

    fn denied(src_pod: &str, port: u16, time: &str, count: u64) -> Flow {
        let pod = |name: &str| Endpoint {
            identity: Identity::Pod(PodIdentity {
                namespace: "ns".into(),
                name: name.into(),
                ..Default::default()
            }),
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
            count,
            duplicate: count == 0,
            counting: crate::flow::Counting::Exact,
            format: crate::ingest::Format::Hubble,
            origin: Origin {
                input: Arc::from("t"),
                line: 1,
            },
        }
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
}
