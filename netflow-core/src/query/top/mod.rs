//! "Who is hitting this the most": flows grouped by chosen columns (and optionally by time
//! bucket), with attempts, records, bytes, packets and distinct peers per group, ranked.
//!
//! Rows are folded one by one into running sums per group and sets of distinct (group, peer)
//! pairs (see `groups.rs`), so memory grows with the number of groups and of their distinct
//! peers (tens of bytes each), not with the input or the length of names. The result,
//! [`TopGroups`], has its own columns (the group keys, then [`TOP_METRICS`]) and writes like
//! any other rows.

mod groups;

use std::hash::{Hash, Hasher};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::flow_cells::{End, EndColumn, FlowKey};
use super::rows::{Cell, Column, ColumnType, DeclaredRow, FlowRow, Row};
use super::why::Why;
use crate::error::{Error, Result};
use crate::flow::{Counting, Flow, Identity};
use groups::{Groups, KeyKind, KeyValues, BYTES_KNOWN, PACKETS_KNOWN};

/// The metric columns of a `top` result, after the group keys.
pub const TOP_METRICS: &[&str] = &[
    "count",
    "records",
    "bytes",
    "packets",
    "sources",
    "destinations",
];

const METRIC_COLUMNS: [Column; 6] = [
    metric(
        "count",
        "Attempts: the records' counts for denials, drops and records the source folded, 1 per other record.",
    ),
    metric("records", "Log records in the group."),
    metric("bytes", "Bytes, when the log counts them."),
    metric("packets", "Packets, when the log counts them."),
    metric(
        "sources",
        "Distinct sources (pods by name, others by address).",
    ),
    metric("destinations", "Distinct destinations."),
];

const fn metric(name: &'static str, meaning: &'static str) -> Column {
    Column {
        name,
        kind: ColumnType::Int64,
        meaning,
    }
}

/// Name of the time-bucket column.
pub const BUCKET_COLUMN: &str = "bucket";

const BUCKET: Column = Column {
    name: BUCKET_COLUMN,
    kind: ColumnType::Time,
    meaning: "Start of the time bucket (UTC).",
};

/// The group columns `top` uses when none are given.
pub const DEFAULT_TOP_KEYS: &[&str] = &[
    "src_namespace",
    "src_workload",
    "dst_namespace",
    "dst_workload",
    "dst_port",
];

/// What to group by and how many groups to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct TopQuery {
    by: Vec<String>,
    /// Positions of the `by` columns in [`FlowRow::COLUMNS`].
    by_index: Vec<usize>,
    bucket: Option<TimeDelta>,
    k: usize,
    replies: bool,
}

impl TopQuery {
    /// Groups by the flow columns `by` (text, number or boolean columns of [`FlowRow`]), per
    /// time bucket of width `bucket` when given, keeping the `k` largest groups by `count`
    /// (0 keeps all). No columns means [`DEFAULT_TOP_KEYS`].
    pub fn new(by: Vec<String>, bucket: Option<TimeDelta>, k: usize) -> Result<TopQuery> {
        let by = if by.is_empty() {
            DEFAULT_TOP_KEYS.iter().map(|k| k.to_string()).collect()
        } else {
            by
        };
        let mut by_index = Vec::with_capacity(by.len());
        for (i, key) in by.iter().enumerate() {
            let Some(index) = FlowRow::COLUMNS
                .iter()
                .position(|c| c.name == key && groupable(c))
            else {
                return Err(Error::Invalid {
                    what: "top column",
                    value: key.clone(),
                    detail: format!(
                        "not a column to group by; one of: {}{}",
                        groupable_columns().join(", "),
                        if key == "time" || key == BUCKET_COLUMN {
                            " (for time, group by time buckets)"
                        } else {
                            ""
                        }
                    ),
                });
            };
            if by[..i].contains(key) {
                return Err(Error::Invalid {
                    what: "top column",
                    value: key.clone(),
                    detail: "given twice".into(),
                });
            }
            by_index.push(index);
        }
        if let Some(width) = bucket {
            if width <= TimeDelta::zero() || width.num_microseconds().is_none() {
                return Err(Error::Invalid {
                    what: "time bucket",
                    value: width.to_string(),
                    detail: "a bucket must be longer than zero".into(),
                });
            }
        }
        Ok(TopQuery {
            by,
            by_index,
            bucket,
            k,
            replies: false,
        })
    }

    /// Also groups the records a log marks as replies (left out by default: a reply answers
    /// a connection already counted).
    pub fn include_replies(mut self, yes: bool) -> TopQuery {
        self.replies = yes;
        self
    }

    /// Whether replies are grouped too.
    pub fn includes_replies(&self) -> bool {
        self.replies
    }

    /// The group columns.
    pub fn by(&self) -> &[String] {
        &self.by
    }

    /// The bucket width, if any.
    pub fn bucket(&self) -> Option<TimeDelta> {
        self.bucket
    }

    /// How many groups are kept (0 = all).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Whether a group column needs the snapshot's verdict on each flow.
    pub fn needs_policy_verdict(&self) -> bool {
        self.by
            .iter()
            .any(|k| matches!(k.as_str(), "policy_verdict" | "mismatch"))
    }

    /// The result's columns: the group columns (`bucket` first when bucketed), then the
    /// metrics.
    pub fn columns(&self) -> Vec<Column> {
        let mut columns = Vec::with_capacity(self.by.len() + 1 + METRIC_COLUMNS.len());
        if self.bucket.is_some() {
            columns.push(BUCKET);
        }
        columns.extend(self.by_index.iter().map(|&i| FlowRow::COLUMNS[i]));
        columns.extend(METRIC_COLUMNS);
        columns
    }

    /// How each key column is interned, `bucket` first when bucketed.
    fn key_kinds(&self) -> Vec<KeyKind> {
        let mut kinds = Vec::with_capacity(self.by.len() + 1);
        if self.bucket.is_some() {
            kinds.push(KeyKind::Number);
        }
        kinds.extend(
            self.by_index
                .iter()
                .map(|&i| match FlowRow::COLUMNS[i].kind {
                    ColumnType::Text => KeyKind::Text,
                    _ => KeyKind::Number,
                }),
        );
        kinds
    }
}

fn groupable(column: &Column) -> bool {
    matches!(
        column.kind,
        ColumnType::Text | ColumnType::Int32 | ColumnType::Int64 | ColumnType::Bool
    )
}

/// The flow columns `top` can group by.
pub fn groupable_columns() -> Vec<&'static str> {
    FlowRow::COLUMNS
        .iter()
        .filter(|c| groupable(c))
        .map(|c| c.name)
        .collect()
}

/// Accumulates flows for one [`TopQuery`].
pub struct TopAggregator {
    query: TopQuery,
    groups: Groups,
    /// The group columns read straight from a flow ([`TopAggregator::push_flow`]); `None`
    /// when one of them cannot be (flows then go through their [`FlowRow`]).
    flow_keys: Option<Vec<FlowKey>>,
    /// Reused per row: the key value numbers of the row's group.
    numbers: Vec<u32>,
    /// Reused per row: a formatted key value or peer (`namespace/name`, an address).
    name: String,
}

/// What `top` reads of one record, from a [`FlowRow`] or from the [`Flow`] itself.
trait TopRecord {
    fn time(&self) -> Option<DateTime<Utc>>;
    /// The `k`-th group column's value (`column` in [`FlowRow::COLUMNS`]).
    fn key<'a>(&'a self, k: usize, column: usize, buf: &'a mut String) -> Cell<'a>;
    /// Attempts: the record's count for denials, drops and folded records, 1 per other
    /// record, 0 for a repeated report of one packet.
    fn attempts(&self) -> i64;
    fn bytes(&self) -> Option<u64>;
    fn packets(&self) -> Option<u64>;
    /// One end's identity: `namespace/pod` for pods, otherwise the address (or the log's
    /// name for it when there is no address).
    fn peer<'a>(&'a self, end: End, buf: &'a mut String) -> Option<&'a str>;
}

/// A repeated report of one packet (Hubble reports a packet at every observation point) is no
/// attempt, whatever its verdict; a record the source folded many flows into (an exporter's
/// aggregate) stands for as many as it says.
fn attempts(duplicate: bool, verdict: &str, aggregated: bool, count: u64) -> i64 {
    match verdict {
        _ if duplicate => 0,
        "denied" | "dropped" => i64::try_from(count).unwrap_or(i64::MAX),
        _ if aggregated => i64::try_from(count).unwrap_or(i64::MAX),
        _ => 1,
    }
}

fn pod_peer<'a>(namespace: Option<&str>, pod: &str, buf: &'a mut String) -> &'a str {
    buf.clear();
    buf.push_str(namespace.unwrap_or(""));
    buf.push('/');
    buf.push_str(pod);
    buf
}

impl TopRecord for FlowRow {
    fn time(&self) -> Option<DateTime<Utc>> {
        self.time
    }

    fn key<'a>(&'a self, _: usize, column: usize, _: &'a mut String) -> Cell<'a> {
        self.cell(column)
    }

    fn attempts(&self) -> i64 {
        attempts(
            self.duplicate,
            self.verdict,
            self.counting == "aggregated",
            self.count,
        )
    }

    fn bytes(&self) -> Option<u64> {
        self.bytes
    }

    fn packets(&self) -> Option<u64> {
        self.packets
    }

    fn peer<'a>(&'a self, end: End, buf: &'a mut String) -> Option<&'a str> {
        let (namespace, pod, ip, other) = match end {
            End::Src => (
                &self.src_namespace,
                &self.src_pod,
                &self.src_ip,
                &self.src_name,
            ),
            End::Dst => (
                &self.dst_namespace,
                &self.dst_pod,
                &self.dst_ip,
                &self.dst_name,
            ),
        };
        match pod {
            Some(pod) => Some(pod_peer(namespace.as_deref(), pod, buf)),
            None => ip.as_deref().or(other.as_deref()),
        }
    }
}

/// A flow read in place, with its keys.
struct FlowRecord<'f> {
    flow: &'f Flow,
    why: Option<&'f Why>,
    keys: &'f [FlowKey],
}

impl TopRecord for FlowRecord<'_> {
    fn time(&self) -> Option<DateTime<Utc>> {
        self.flow.time
    }

    fn key<'a>(&'a self, k: usize, _: usize, buf: &'a mut String) -> Cell<'a> {
        self.keys[k].cell(self.flow, self.why, buf)
    }

    fn attempts(&self) -> i64 {
        attempts(
            self.flow.duplicate,
            self.flow.action.as_str(),
            self.flow.counting == Counting::Aggregated,
            self.flow.count,
        )
    }

    fn bytes(&self) -> Option<u64> {
        self.flow.bytes
    }

    fn packets(&self) -> Option<u64> {
        self.flow.packets
    }

    fn peer<'a>(&'a self, end: End, buf: &'a mut String) -> Option<&'a str> {
        let ep = match end {
            End::Src => &self.flow.src,
            End::Dst => &self.flow.dst,
        };
        if let Identity::Pod(p) = &ep.identity {
            if !p.name.is_empty() {
                return Some(pod_peer(Some(&p.namespace), &p.name, buf));
            }
        }
        // Not a named pod: the address, else the name the row gives other identities (none
        // for a pod without a name, which then counts as the null peer).
        let key = if ep.ip.is_some() {
            EndColumn::Ip
        } else {
            EndColumn::Name
        };
        match FlowKey::End(end, key).cell(self.flow, self.why, buf) {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl TopAggregator {
    /// An empty aggregator.
    pub fn new(query: TopQuery) -> TopAggregator {
        let groups = Groups::new(&query.key_kinds());
        let flow_keys = query.by.iter().map(|name| FlowKey::of(name)).collect();
        TopAggregator {
            query,
            groups,
            flow_keys,
            numbers: Vec::new(),
            name: String::new(),
        }
    }

    /// Adds one flow row.
    pub fn push(&mut self, row: &FlowRow) {
        self.add(row);
    }

    /// Adds one flow, with what the snapshot says about its connection (needed when a group
    /// column is `policy_verdict` or `mismatch`). The same as pushing its
    /// [`FlowRow`]`::of(flow).with_why(why)`, without building the row.
    pub fn push_flow(&mut self, flow: &Flow, why: Option<&Why>) {
        match self.flow_keys.take() {
            Some(keys) => {
                self.add(&FlowRecord {
                    flow,
                    why,
                    keys: &keys,
                });
                self.flow_keys = Some(keys);
            }
            None => self.add(&FlowRow::of(flow).with_why(why)),
        }
    }

    fn add(&mut self, record: &impl TopRecord) {
        let bucketed = usize::from(self.query.bucket.is_some());
        self.numbers.clear();
        if let Some(width) = self.query.bucket {
            let width = width.num_microseconds().unwrap_or(i64::MAX).max(1);
            let bucket = record
                .time()
                .map(|t| t.timestamp_micros().div_euclid(width).saturating_mul(width));
            let KeyValues::Number(dict) = &mut self.groups.keys[0] else {
                unreachable!("the bucket is a number key")
            };
            self.numbers.push(dict.number(bucket.as_ref()));
        }
        for (k, &column) in self.query.by_index.iter().enumerate() {
            let cell = record.key(k, column, &mut self.name);
            let n = match &mut self.groups.keys[bucketed + k] {
                KeyValues::Text(dict) => dict.number(match cell {
                    Cell::Text(s) => Some(s),
                    _ => None,
                }),
                KeyValues::Number(dict) => dict.number(cell.as_i64().as_ref()),
            };
            self.numbers.push(n);
        }
        let group = self.groups.group(&self.numbers);
        let attempts = record.attempts();
        let sums = &mut self.groups.sums;
        let g = group as usize;
        sums.count[g] = sums.count[g].saturating_add(attempts);
        sums.records[g] = sums.records[g].saturating_add(1);
        if let Some(b) = record.bytes() {
            sums.volumes_from(g);
            sums.bytes[g] = sums.bytes[g].saturating_add(i64::try_from(b).unwrap_or(i64::MAX));
            sums.known[g] |= BYTES_KNOWN;
        }
        if let Some(p) = record.packets() {
            sums.volumes_from(g);
            sums.packets[g] = sums.packets[g].saturating_add(i64::try_from(p).unwrap_or(i64::MAX));
            sums.known[g] |= PACKETS_KNOWN;
        }
        for end in [End::Src, End::Dst] {
            let peer = record.peer(end, &mut self.name);
            let peer = self.groups.peer(peer);
            if end == End::Src {
                self.groups.sources.add(group, peer);
            } else {
                self.groups.destinations.add(group, peer);
            }
        }
    }

    /// The ranked groups: sorted by `count`, largest first (per bucket, in time order, when
    /// bucketed: the `k` groups largest over the whole input, in every bucket they occur);
    /// ties are broken by the group columns, in order, nulls last.
    pub fn finish(self) -> TopGroups {
        let mut groups = self.groups;
        let source_counts = std::mem::take(&mut groups.sources).into_counts();
        let destination_counts = std::mem::take(&mut groups.destinations).into_counts();
        groups.index = hashbrown::HashTable::new();
        let order = groups.ranked(&self.query);
        let columns = self.query.columns();
        let rows = order
            .iter()
            .map(|&g| {
                let keys = groups
                    .member(g)
                    .iter()
                    .zip(&groups.keys)
                    .zip(&columns)
                    .map(|((&n, values), column)| match values {
                        KeyValues::Text(dict) => dict.values[n as usize]
                            .as_deref()
                            .map_or(KeyValue::Null, |s| KeyValue::Text(s.into())),
                        KeyValues::Number(dict) => match (dict.values[n as usize], column.kind) {
                            (None, _) => KeyValue::Null,
                            (Some(v), ColumnType::Bool) => KeyValue::Bool(v != 0),
                            (Some(v), ColumnType::Time) => DateTime::from_timestamp_micros(v)
                                .map_or(KeyValue::Null, KeyValue::Time),
                            (Some(v), _) => KeyValue::Int(v),
                        },
                    })
                    .collect();
                let g = g as usize;
                let sums = &groups.sums;
                TopGroup {
                    keys,
                    count: sums.count[g],
                    records: sums.records[g],
                    bytes: sums.has(g, BYTES_KNOWN).then(|| sums.bytes[g]),
                    packets: sums.has(g, PACKETS_KNOWN).then(|| sums.packets[g]),
                    sources: source_counts[g].into(),
                    destinations: destination_counts[g].into(),
                }
            })
            .collect();
        TopGroups { columns, rows }
    }
}

/// A key value of a [`PartialTopGroup`]: text, or a whole number (numbers, booleans as 0/1,
/// a time bucket's start in microseconds).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PartialKey {
    /// A text value.
    Text(String),
    /// A whole number.
    Number(i64),
}

/// One group of a `top` query as one reader of a share of the inputs (or one merge of such
/// shares) counted it: its key values, sums and distinct peers by name, so that shares merge
/// into exactly what one reader of every input counts ([`TopAggregator::absorb`]).
/// Serializable, to travel between processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialTopGroup {
    /// Key values in the order of the query's key columns (`bucket` first when bucketed).
    pub keys: Vec<Option<PartialKey>>,
    /// Attempts.
    pub count: i64,
    /// Records.
    pub records: i64,
    /// Bytes, when any record counted them.
    pub bytes: Option<i64>,
    /// Packets, when any record counted them.
    pub packets: Option<i64>,
    /// Distinct sources (`None`: an end with neither a pod, an address nor a name).
    pub sources: Vec<Option<String>>,
    /// Distinct destinations.
    pub destinations: Vec<Option<String>>,
}

impl PartialTopGroup {
    /// Where the group goes to be merged: the same number for every part of the group and,
    /// when `bucketed`, for every bucket of the same keys (ranking by bucket needs a group's
    /// total over all its buckets in one place).
    pub fn route(&self, bucketed: bool) -> u64 {
        let keys = if bucketed && !self.keys.is_empty() {
            &self.keys[1..]
        } else {
            &self.keys[..]
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        keys.hash(&mut hasher);
        hasher.finish()
    }
}

impl TopAggregator {
    /// The groups counted so far as parts to merge elsewhere: every group, or with `ranked`
    /// only those [`TopAggregator::finish`] would show. Once every part of a group is in one
    /// aggregator (routed by [`PartialTopGroup::route`]), the groups it ranks are the only
    /// ones that can be among the whole input's: a merge of many such aggregators needs only
    /// their ranked groups.
    pub fn finish_partial(self, ranked: bool) -> Vec<PartialTopGroup> {
        let groups = &self.groups;
        let chosen: Vec<u32> = if ranked {
            groups.ranked(&self.query)
        } else {
            (0..groups.len()).collect()
        };
        let names = groups.peer_names();
        let sources = groups.sources.of_groups(&chosen);
        let destinations = groups.destinations.of_groups(&chosen);
        let peers = |list: Option<&Vec<u32>>| -> Vec<Option<String>> {
            list.map(|l| {
                l.iter()
                    .map(|&p| names.get(p as usize).copied().flatten().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
        };
        chosen
            .iter()
            .map(|&g| {
                let keys = groups
                    .member(g)
                    .iter()
                    .zip(&groups.keys)
                    .map(|(&n, values)| match values {
                        KeyValues::Text(dict) => dict.values[n as usize]
                            .as_deref()
                            .map(|s| PartialKey::Text(s.to_string())),
                        KeyValues::Number(dict) => dict.values[n as usize].map(PartialKey::Number),
                    })
                    .collect();
                let i = g as usize;
                let sums = &groups.sums;
                PartialTopGroup {
                    keys,
                    count: sums.count[i],
                    records: sums.records[i],
                    bytes: sums.has(i, BYTES_KNOWN).then(|| sums.bytes[i]),
                    packets: sums.has(i, PACKETS_KNOWN).then(|| sums.packets[i]),
                    sources: peers(sources.get(&g)),
                    destinations: peers(destinations.get(&g)),
                }
            })
            .collect()
    }

    /// Adds a group another aggregator of the same query counted (a share of the inputs):
    /// sums add up, distinct peers are counted once over all the parts.
    pub fn absorb(&mut self, part: &PartialTopGroup) {
        self.numbers.clear();
        for (values, key) in self.groups.keys.iter_mut().zip(&part.keys) {
            let n = match (values, key) {
                (KeyValues::Text(dict), Some(PartialKey::Text(s))) => dict.number(Some(s.as_str())),
                (KeyValues::Number(dict), Some(PartialKey::Number(v))) => dict.number(Some(v)),
                // A value of the other kind cannot come from the same query: null.
                _ => 0,
            };
            self.numbers.push(n);
        }
        let group = self.groups.group(&self.numbers);
        let g = group as usize;
        let sums = &mut self.groups.sums;
        sums.count[g] = sums.count[g].saturating_add(part.count);
        sums.records[g] = sums.records[g].saturating_add(part.records);
        if let Some(b) = part.bytes {
            sums.volumes_from(g);
            sums.bytes[g] = sums.bytes[g].saturating_add(b);
            sums.known[g] |= BYTES_KNOWN;
        }
        if let Some(p) = part.packets {
            sums.volumes_from(g);
            sums.packets[g] = sums.packets[g].saturating_add(p);
            sums.known[g] |= PACKETS_KNOWN;
        }
        for name in &part.sources {
            let peer = self.groups.peer(name.as_deref());
            self.groups.sources.add(group, peer);
        }
        for name in &part.destinations {
            let peer = self.groups.peer(name.as_deref());
            self.groups.destinations.add(group, peer);
        }
    }

    /// The query.
    pub fn query(&self) -> &TopQuery {
        &self.query
    }
}

/// One key value of a group.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    /// No value (e.g. an end without a pod).
    Null,
    /// Text.
    Text(Box<str>),
    /// A whole number.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A time bucket's start.
    Time(DateTime<Utc>),
}

/// One group of a `top` result.
#[derive(Debug, Clone, PartialEq)]
pub struct TopGroup {
    /// The group's key values, in the order of the result's key columns.
    pub keys: Vec<KeyValue>,
    /// Attempts: the records' counts for denials, drops and folded records, 1 per other record (0 for a
    /// repeated report of one packet).
    pub count: i64,
    /// Records.
    pub records: i64,
    /// Bytes, when any record counted them.
    pub bytes: Option<i64>,
    /// Packets, when any record counted them.
    pub packets: Option<i64>,
    /// Distinct sources.
    pub sources: i64,
    /// Distinct destinations.
    pub destinations: i64,
}

impl Row for TopGroup {
    fn cell(&self, column: usize) -> Cell<'_> {
        if let Some(key) = self.keys.get(column) {
            return match key {
                KeyValue::Null => Cell::Null,
                KeyValue::Text(s) => Cell::Text(s),
                KeyValue::Int(n) => Cell::Int(*n),
                KeyValue::Bool(b) => Cell::Bool(*b),
                KeyValue::Time(t) => Cell::Time(*t),
            };
        }
        match column - self.keys.len() {
            0 => Cell::Int(self.count),
            1 => Cell::Int(self.records),
            2 => self.bytes.map_or(Cell::Null, Cell::Int),
            3 => self.packets.map_or(Cell::Null, Cell::Int),
            4 => Cell::Int(self.sources),
            5 => Cell::Int(self.destinations),
            _ => Cell::Null,
        }
    }
}

/// The ranked groups of a `top` query, with their columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TopGroups {
    /// The group columns (`bucket` first when bucketed), then [`TOP_METRICS`].
    pub columns: Vec<Column>,
    /// The groups, in rank order.
    pub rows: Vec<TopGroup>,
}

impl TopGroups {
    /// The values of column `name`, one per group.
    pub fn column(&self, name: &str) -> Option<Vec<Cell<'_>>> {
        let i = self.columns.iter().position(|c| c.name == name)?;
        Some(self.rows.iter().map(|r| r.cell(i)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, Flow, Identity, PodIdentity};
    use crate::query::rows::Cell;

    fn pod_flow(src_pod: &str, dst_pod: &str, port: u16, time: &str, action: Action) -> Flow {
        let mut f = Flow::test_flow("10.0.0.1", "10.0.0.2", port);
        f.src.identity = Identity::Pod(std::sync::Arc::new(PodIdentity {
            namespace: "a".into(),
            name: src_pod.into(),
            ..Default::default()
        }));
        f.dst.identity = Identity::Pod(std::sync::Arc::new(PodIdentity {
            namespace: "b".into(),
            name: dst_pod.into(),
            ..Default::default()
        }));
        f.time = Some(time.parse().unwrap());
        f.action = action;
        f
    }

    fn top(query: TopQuery, flows: &[Flow]) -> TopGroups {
        let mut agg = TopAggregator::new(query);
        for f in flows {
            agg.push(&FlowRow::of(f));
        }
        agg.finish()
    }

    fn texts(groups: &TopGroups, name: &str) -> Vec<Option<String>> {
        groups
            .column(name)
            .unwrap()
            .iter()
            .map(|c| match c {
                Cell::Text(s) => Some(s.to_string()),
                _ => None,
            })
            .collect()
    }

    fn ints(groups: &TopGroups, name: &str) -> Vec<Option<i64>> {
        groups
            .column(name)
            .unwrap()
            .iter()
            .map(Cell::as_i64)
            .collect()
    }

    fn names(groups: &TopGroups) -> Vec<&str> {
        groups.columns.iter().map(|c| c.name).collect()
    }

    /// Flows over several pods, ports, verdicts, minutes and byte counts.
    fn many_flows() -> Vec<Flow> {
        let mut flows = Vec::new();
        for i in 0..60u16 {
            let action = if i % 3 == 0 {
                Action::Allowed
            } else {
                Action::Denied
            };
            let time = format!("2026-11-20T19:{:02}:{:02}Z", i % 4, i % 60);
            let mut f = pod_flow(
                &format!("src-{}", i % 7),
                &format!("dst-{}", i % 5),
                [80, 443, 9200][usize::from(i % 3)],
                &time,
                action,
            );
            f.count = u64::from(i % 4) + 1;
            if i % 2 == 0 {
                f.bytes = Some(u64::from(i) * 10);
            }
            flows.push(f);
        }
        flows
    }

    #[test]
    fn shares_merged_from_their_parts_count_what_one_reader_counts() {
        let flows = many_flows();
        let queries = [
            TopQuery::new(vec!["dst_pod".into(), "dst_port".into()], None, 3).unwrap(),
            TopQuery::new(vec!["src_pod".into()], Some(TimeDelta::minutes(1)), 2).unwrap(),
            TopQuery::new(vec!["verdict".into(), "dst_port".into()], None, 0).unwrap(),
        ];
        for query in queries {
            let expected = top(query.clone(), &flows);
            assert!(!expected.rows.is_empty());
            let bucketed = query.bucket().is_some();
            for shares in [1, 2, 7] {
                // Each share counts its flows; parts travel as JSON, are routed to one of
                // three merges by their keys, and each merge hands on only its ranked groups.
                let mut routed: Vec<TopAggregator> =
                    (0..3).map(|_| TopAggregator::new(query.clone())).collect();
                for share in flows.chunks(flows.len().div_ceil(shares)) {
                    let mut agg = TopAggregator::new(query.clone());
                    for f in share {
                        agg.push(&FlowRow::of(f));
                    }
                    let json = serde_json::to_string(&agg.finish_partial(false)).unwrap();
                    for part in serde_json::from_str::<Vec<PartialTopGroup>>(&json).unwrap() {
                        routed[(part.route(bucketed) % 3) as usize].absorb(&part);
                    }
                }
                let mut last = TopAggregator::new(query.clone());
                for merge in routed {
                    for part in merge.finish_partial(true) {
                        last.absorb(&part);
                    }
                }
                assert_eq!(last.finish(), expected, "{query:?} in {shares} shares");
            }
        }
    }

    #[test]
    fn groups_rank_by_attempts_with_distinct_peers() {
        let t = "2026-11-20T19:05:02Z";
        let mut dup = pod_flow("x", "es-0", 9200, t, Action::Denied);
        dup.count = 0;
        dup.duplicate = true;
        let mut bytes = pod_flow("y", "web", 80, t, Action::Allowed);
        bytes.bytes = Some(100);
        bytes.count = 7;
        let flows = vec![
            pod_flow("x", "es-0", 9200, t, Action::Denied),
            dup,
            pod_flow("y", "es-1", 9200, t, Action::Denied),
            pod_flow("x", "es-1", 9200, t, Action::Denied),
            bytes.clone(),
            bytes,
        ];
        let df = top(
            TopQuery::new(vec!["dst_port".into()], None, 0).unwrap(),
            &flows,
        );
        assert_eq!(
            names(&df),
            [
                "dst_port",
                "count",
                "records",
                "bytes",
                "packets",
                "sources",
                "destinations"
            ]
        );
        assert_eq!(ints(&df, "dst_port"), [Some(9200), Some(80)]);
        assert_eq!(df.columns[0].kind, ColumnType::Int32);
        // The duplicate report counts 0; allowed records count 1 each, whatever their count.
        assert_eq!(ints(&df, "count"), [Some(3), Some(2)]);
        assert_eq!(ints(&df, "records"), [Some(4), Some(2)]);
        assert_eq!(ints(&df, "bytes"), [None, Some(200)]);
        assert_eq!(ints(&df, "packets"), [None, None]);
        assert_eq!(ints(&df, "sources"), [Some(2), Some(1)]);
        assert_eq!(ints(&df, "destinations"), [Some(2), Some(1)]);
    }

    #[test]
    fn a_repeated_report_of_an_allowed_packet_is_no_attempt() {
        let t = "2026-11-20T19:05:02Z";
        let query = pod_flow("x", "kube-dns", 53, t, Action::Allowed);
        let mut seen_again = query.clone();
        seen_again.count = 0;
        seen_again.duplicate = true;
        let df = top(
            TopQuery::new(vec!["dst_pod".into()], None, 0).unwrap(),
            &[query, seen_again],
        );
        assert_eq!(ints(&df, "count"), [Some(1)]);
        assert_eq!(ints(&df, "records"), [Some(2)]);
    }

    #[test]
    fn a_record_standing_for_many_flows_counts_them_whatever_its_verdict() {
        let t = "2026-11-20T19:05:02Z";
        let mut folded = pod_flow("x", "web", 80, t, Action::Allowed);
        folded.count = 250;
        folded.counting = crate::flow::Counting::Aggregated;
        let mut exact = pod_flow("x", "web", 80, t, Action::Allowed);
        exact.count = 9;
        let df = top(
            TopQuery::new(vec!["dst_pod".into()], None, 0).unwrap(),
            &[folded, exact],
        );
        assert_eq!(ints(&df, "count"), [Some(251)]);
        assert_eq!(ints(&df, "records"), [Some(2)]);
    }

    #[test]
    fn k_keeps_the_largest_and_ties_break_on_the_keys() {
        let t = "2026-11-20T19:05:02Z";
        let flows: Vec<Flow> = ["c", "a", "b", "b", "a"]
            .iter()
            .map(|dst| pod_flow("x", dst, 80, t, Action::Denied))
            .collect();
        let df = top(
            TopQuery::new(vec!["dst_pod".into()], None, 2).unwrap(),
            &flows,
        );
        assert_eq!(texts(&df, "dst_pod"), [Some("a".into()), Some("b".into())]);
    }

    #[test]
    fn unnamed_ends_rank_after_named_ones_and_count_as_one_peer() {
        let t = "2026-11-20T19:05:02Z";
        let mut external = Flow::test_flow("10.0.0.1", "192.0.2.7", 443);
        external.time = Some(t.parse().unwrap());
        external.action = Action::Denied;
        let flows = vec![
            external.clone(),
            external,
            pod_flow("x", "a", 443, t, Action::Denied),
            pod_flow("y", "a", 443, t, Action::Denied),
        ];
        let df = top(
            TopQuery::new(vec!["dst_pod".into()], None, 0).unwrap(),
            &flows,
        );
        // Equal counts: the pod first, the group without a pod name (null) last.
        assert_eq!(texts(&df, "dst_pod"), [Some("a".into()), None]);
        assert_eq!(ints(&df, "count"), [Some(2), Some(2)]);
        assert_eq!(ints(&df, "sources"), [Some(2), Some(1)]);
        assert_eq!(ints(&df, "destinations"), [Some(1), Some(1)]);
    }

    #[test]
    fn bucketed_k_ranks_groups_over_the_whole_input() {
        // "db" is the largest over the input, so it comes first in every bucket, even where
        // "es" had more; "web" is not among the two largest.
        let flows = vec![
            pod_flow("x", "es", 9200, "2026-11-20T19:00:10Z", Action::Denied),
            pod_flow("x", "es", 9200, "2026-11-20T19:00:20Z", Action::Denied),
            pod_flow("x", "db", 5432, "2026-11-20T19:00:30Z", Action::Denied),
            pod_flow("x", "db", 5432, "2026-11-20T19:01:10Z", Action::Denied),
            pod_flow("x", "db", 5432, "2026-11-20T19:01:20Z", Action::Denied),
            pod_flow("x", "web", 80, "2026-11-20T19:01:30Z", Action::Denied),
        ];
        let query = TopQuery::new(vec!["dst_pod".into()], Some(TimeDelta::minutes(1)), 2).unwrap();
        let df = top(query, &flows);
        assert_eq!(
            texts(&df, "dst_pod"),
            [Some("db".into()), Some("es".into()), Some("db".into())]
        );
        assert_eq!(ints(&df, "count"), [Some(1), Some(2), Some(2)]);
    }

    #[test]
    fn more_groups_than_a_block_holds_keep_their_own_sums() {
        let t = "2026-11-20T19:05:02Z";
        let groups = groups::BLOCK_ROWS + 1000;
        let mut flows: Vec<Flow> = (0..groups)
            .map(|i| pod_flow("x", &format!("p{i}"), 80, t, Action::Denied))
            .collect();
        // The last group, in the second block, twice more; the first once more.
        flows.push(pod_flow(
            "y",
            &format!("p{}", groups - 1),
            80,
            t,
            Action::Denied,
        ));
        flows.push(pod_flow(
            "z",
            &format!("p{}", groups - 1),
            80,
            t,
            Action::Denied,
        ));
        flows.push(pod_flow("y", "p0", 80, t, Action::Denied));
        let df = top(
            TopQuery::new(vec!["dst_pod".into()], None, 0).unwrap(),
            &flows,
        );
        assert_eq!(df.rows.len(), groups);
        let pods = texts(&df, "dst_pod");
        assert_eq!(
            pods[0].as_deref(),
            Some(format!("p{}", groups - 1).as_str())
        );
        assert_eq!(pods[1].as_deref(), Some("p0"));
        assert_eq!(ints(&df, "count")[..3], [Some(3), Some(2), Some(1)]);
        assert_eq!(ints(&df, "sources")[..3], [Some(3), Some(2), Some(1)]);
        assert_eq!(
            ints(&df, "count").iter().flatten().sum::<i64>(),
            flows.len() as i64
        );
    }

    #[test]
    fn buckets_show_when_it_started_for_the_largest_groups() {
        let flows = vec![
            pod_flow("x", "es", 9200, "2026-11-20T19:04:59Z", Action::Denied),
            pod_flow("x", "es", 9200, "2026-11-20T19:05:00Z", Action::Denied),
            pod_flow("x", "es", 9200, "2026-11-20T19:09:59Z", Action::Denied),
            pod_flow("x", "es", 9200, "2026-11-20T19:10:00Z", Action::Denied),
            pod_flow("x", "db", 5432, "2026-11-20T19:05:30Z", Action::Denied),
        ];
        let query = TopQuery::new(vec!["dst_pod".into()], Some(TimeDelta::minutes(5)), 1).unwrap();
        let df = top(query, &flows);
        assert_eq!(names(&df)[..2], ["bucket", "dst_pod"]);
        let buckets: Vec<String> = df
            .column("bucket")
            .unwrap()
            .iter()
            .map(|c| match c {
                Cell::Time(t) => t.format("%H:%M").to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(buckets, ["19:00", "19:05", "19:10"]);
        assert_eq!(ints(&df, "count"), [Some(1), Some(2), Some(1)]);
        assert!(texts(&df, "dst_pod")
            .iter()
            .all(|p| p.as_deref() == Some("es")));
    }

    #[test]
    fn boolean_keys_group_as_booleans() {
        let t = "2026-11-20T19:05:02Z";
        let mut reply = pod_flow("x", "a", 80, t, Action::Allowed);
        reply.is_reply = Some(true);
        let flows = vec![
            reply.clone(),
            reply,
            pod_flow("x", "a", 80, t, Action::Allowed),
        ];
        let df = top(
            TopQuery::new(vec!["is_reply".into()], None, 0).unwrap(),
            &flows,
        );
        assert_eq!(
            df.column("is_reply").unwrap(),
            [Cell::Bool(true), Cell::Bool(false)]
        );
    }

    #[test]
    fn nothing_in_gives_an_empty_table_with_the_columns() {
        let df = top(TopQuery::new(vec![], None, 20).unwrap(), &[]);
        assert!(df.rows.is_empty());
        assert_eq!(df.columns.len(), DEFAULT_TOP_KEYS.len() + TOP_METRICS.len());
    }

    #[test]
    fn pushing_a_flow_groups_as_pushing_its_row() {
        let mut flows = super::super::flow_cells::tests::varied_flows();
        // Repeats, so that groups and peers are met again.
        flows.extend(super::super::flow_cells::tests::varied_flows());
        for (i, f) in flows.iter_mut().enumerate() {
            f.time =
                Some(DateTime::from_timestamp(1_795_201_500 + 37 * i as i64, 0).expect("a time"));
        }
        let whys = super::super::flow_cells::tests::whys();
        let mut queries = vec![
            TopQuery::new(vec![], None, 0).unwrap(),
            TopQuery::new(vec![], Some(TimeDelta::minutes(1)), 2).unwrap(),
        ];
        queries.extend(
            groupable_columns()
                .into_iter()
                .map(|c| TopQuery::new(vec![c.to_string()], None, 0).unwrap()),
        );
        for query in queries {
            let mut rows = TopAggregator::new(query.clone());
            let mut in_place = TopAggregator::new(query.clone());
            for (i, flow) in flows.iter().enumerate() {
                let why = whys[i % whys.len()].as_ref();
                rows.push(&FlowRow::of(flow).with_why(why));
                in_place.push_flow(flow, why);
            }
            assert_eq!(rows.finish(), in_place.finish(), "{:?}", query.by());
        }
    }

    #[test]
    fn bad_keys_are_refused_with_the_choices() {
        let err = TopQuery::new(vec!["policies".into()], None, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a column to group by"), "{err}");
        assert!(err.contains("src_namespace"), "{err}");
        let err = TopQuery::new(vec!["time".into()], None, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("time buckets"), "{err}");
        assert!(TopQuery::new(vec!["dst_port".into(), "dst_port".into()], None, 0).is_err());
        assert!(TopQuery::new(vec![], Some(TimeDelta::zero()), 0).is_err());
    }
}
