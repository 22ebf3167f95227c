//! Grouping denied flow records into denied connections: one per source → destination:port,
//! protocol, enforcing side and node, with attempt counts and first/last times.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::flow::{Action, Direction, Endpoint, Flow, Identity, PolicyRef, Protocol};

/// All denied records of one connection.
#[derive(Debug, Clone, PartialEq)]
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

/// Accumulates denied records into connections.
#[derive(Debug, Default)]
pub struct DeniedAggregator {
    groups: HashMap<ConnectionKey, DeniedConnection>,
}

impl DeniedAggregator {
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
        });
        entry.count += flow.count;
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
