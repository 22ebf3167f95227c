//! "Who is hitting this the most": flows grouped by chosen columns (and optionally by time
//! bucket), with attempts, records, bytes, packets and distinct peers per group, ranked.
//!
//! Flows arrive in batches ([`TOP_BATCH_ROWS`] rows, only the columns
//! the query needs) and are folded into running sums per group and sets of distinct
//! (group, peer) pairs. Key values and peers are kept once each, in dictionaries, and groups
//! are rows of small numbers, so memory grows with the number of groups and of their
//! distinct peers (tens of bytes each), not with the input or the length of names. The
//! ranked result is a polars frame with the declared column types.

use chrono::TimeDelta;
use polars::prelude::*;

use super::{ColumnType, FrameBuilder, FrameRow};
use crate::error::{Error, Result};
use crate::query::FlowRow;

/// The metric columns of a `top` result, after the group keys.
pub const TOP_METRICS: &[&str] = &[
    "count",
    "records",
    "bytes",
    "packets",
    "sources",
    "destinations",
];

/// The flow columns every `top` query reads besides its group columns.
const USED_COLUMNS: &[&str] = &[
    "time",
    "verdict",
    "count",
    "bytes",
    "packets",
    "src_namespace",
    "src_pod",
    "src_ip",
    "src_name",
    "dst_namespace",
    "dst_pod",
    "dst_ip",
    "dst_name",
];

/// Name of the time-bucket column.
pub const BUCKET_COLUMN: &str = "bucket";

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
    bucket: Option<TimeDelta>,
    k: usize,
}

impl TopQuery {
    /// Groups by the flow columns `by` (text, number or boolean columns of
    /// [`FlowRow`]'s schema), per time bucket of width `bucket` when given, keeping the `k`
    /// largest groups by `count` (0 keeps all).
    pub fn new(by: Vec<String>, bucket: Option<TimeDelta>, k: usize) -> Result<TopQuery> {
        let by = if by.is_empty() {
            DEFAULT_TOP_KEYS.iter().map(|k| k.to_string()).collect()
        } else {
            by
        };
        for (i, key) in by.iter().enumerate() {
            let groupable = FlowRow::COLUMNS.iter().any(|c| {
                c.name == key && !matches!(c.kind, ColumnType::TextList | ColumnType::Time)
            });
            if !groupable {
                return Err(Error::Filter {
                    flag: "by".into(),
                    value: key.clone(),
                    detail: format!(
                        "not a column to group by; one of: {}{}",
                        groupable_columns().join(", "),
                        if key == "time" || key == BUCKET_COLUMN {
                            " (for time, use --bucket)"
                        } else {
                            ""
                        }
                    ),
                });
            }
            if by[..i].contains(key) {
                return Err(Error::Filter {
                    flag: "by".into(),
                    value: key.clone(),
                    detail: "given twice".into(),
                });
            }
        }
        if let Some(width) = bucket {
            if width <= TimeDelta::zero() || width.num_microseconds().is_none() {
                return Err(Error::Filter {
                    flag: "bucket".into(),
                    value: width.to_string(),
                    detail: "a bucket must be longer than zero".into(),
                });
            }
        }
        Ok(TopQuery { by, bucket, k })
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

    /// Group columns including the bucket, as they appear in the result.
    fn keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(self.by.len() + 1);
        if self.bucket.is_some() {
            keys.push(BUCKET_COLUMN.to_string());
        }
        keys.extend(self.by.iter().cloned());
        keys
    }
}

/// The flow columns `top` can group by.
pub fn groupable_columns() -> Vec<&'static str> {
    FlowRow::COLUMNS
        .iter()
        .filter(|c| !matches!(c.kind, ColumnType::TextList | ColumnType::Time))
        .map(|c| c.name)
        .collect()
}

/// Accumulates flows for one [`TopQuery`].
pub struct TopAggregator {
    query: TopQuery,
    builder: FrameBuilder<FlowRow>,
    groups: Groups,
}

/// Rows gathered before they are folded into the running result: few, since they are held
/// as owned values until then.
pub const TOP_BATCH_ROWS: usize = 4 * 1024;

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// The running result. Every key value and every peer is stored once and named by a small
/// number; a group is a row of those numbers, its sums, and its first source and
/// destination; only further distinct peers of a group take an entry in a set. A group costs
/// about 50 bytes (with five keys), whatever the length of its names.
struct Groups {
    /// One dictionary per key column (`bucket` first when bucketed), in the query's order.
    keys: Vec<KeyValues>,
    /// Key value numbers of every group, `keys.len()` per group, in group-number order.
    members: Blocks<u32>,
    /// Group numbers, found by hashing their key value numbers.
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    sums: Sums,
    peers: FastMap<Box<str>, u32>,
    sources: Peers,
    destinations: Peers,
}

/// Distinct peers per group: the first one inline, the others as `group << 32 | peer`.
#[derive(Default)]
struct Peers {
    first: Blocks<u32>,
    more: FastSet<u64>,
}

impl Peers {
    fn add(&mut self, group: u32, peer: u32) {
        let first = &mut self.first[group as usize];
        if *first == NO_PEER {
            *first = peer;
        } else if *first != peer {
            self.more.insert(u64::from(group) << 32 | u64::from(peer));
        }
    }

    /// How many distinct peers each group has (counted where the first peers were).
    fn into_counts(self) -> Blocks<u32> {
        let mut counts = self.first;
        for g in 0..counts.len() {
            counts[g] = u32::from(counts[g] != NO_PEER);
        }
        for pair in &self.more {
            counts[(pair >> 32) as usize] += 1;
        }
        counts
    }
}

/// Up to this many groups are ranked as they are scanned, without a list of every group.
const SMALL_K: usize = 1000;

/// Groups per block of [`Blocks`].
const BLOCK_ROWS: usize = 64 * 1024;

/// A growable array kept in blocks of a fixed size, so that growing it never copies what it
/// holds (nor needs room for two copies of it, as a doubling vector does).
struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    /// Values per block.
    block: usize,
    len: usize,
}

impl<T> Default for Blocks<T> {
    /// Blocks of [`BLOCK_ROWS`] values.
    fn default() -> Blocks<T> {
        Blocks::with_block(BLOCK_ROWS)
    }
}

impl<T> Blocks<T> {
    /// Blocks of `block` values each.
    fn with_block(block: usize) -> Blocks<T> {
        Blocks {
            blocks: Vec::new(),
            block: block.max(1),
            len: 0,
        }
    }
}

impl<T: Copy> Blocks<T> {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, value: T) {
        match self.blocks.last_mut() {
            Some(last) if last.len() < self.block => last.push(value),
            _ => {
                let mut block = Vec::with_capacity(self.block);
                block.push(value);
                self.blocks.push(block);
            }
        }
        self.len += 1;
    }

    fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self[i])
    }

    fn resize(&mut self, len: usize, value: T) {
        while self.len < len {
            self.push(value);
        }
    }

    /// `len` values from `start`, which must not cross a block boundary.
    fn run(&self, start: usize, len: usize) -> &[T] {
        let offset = start % self.block;
        &self.blocks[start / self.block][offset..offset + len]
    }
}

impl<T> std::ops::Index<usize> for Blocks<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.blocks[i / self.block][i % self.block]
    }
}

impl<T> std::ops::IndexMut<usize> for Blocks<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.blocks[i / self.block][i % self.block]
    }
}

/// Marks a group with no peer yet (peer numbers start at 0, for none).
const NO_PEER: u32 = u32::MAX;

/// The distinct values of one key column; number 0 is null.
enum KeyValues {
    Text(Dictionary<Box<str>>),
    Number(Dictionary<i64>),
}

/// Values and the numbers they are known by.
struct Dictionary<T> {
    numbers: FastMap<T, u32>,
    values: Vec<Option<T>>,
}

impl<T: std::hash::Hash + Eq + Clone> Dictionary<T> {
    fn new() -> Dictionary<T> {
        Dictionary {
            numbers: FastMap::default(),
            values: vec![None],
        }
    }

    fn number<Q>(&mut self, value: Option<&Q>) -> u32
    where
        T: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized + ToOwned,
        Q::Owned: Into<T>,
    {
        let Some(value) = value else { return 0 };
        if let Some(&n) = self.numbers.get(value) {
            return n;
        }
        let n = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        let owned: T = value.to_owned().into();
        self.values.push(Some(owned.clone()));
        self.numbers.insert(owned, n);
        n
    }
}

/// Sums per group, one vector per sum (in group-number order). Bytes and packets take room
/// only once some record has them (Hubble records never do).
#[derive(Default)]
struct Sums {
    count: Blocks<i64>,
    records: Blocks<i64>,
    bytes: Blocks<i64>,
    packets: Blocks<i64>,
    /// [`BYTES_KNOWN`] and [`PACKETS_KNOWN`]: whether any record had them.
    known: Blocks<u8>,
}

impl Sums {
    /// Makes room for bytes and packets up to group `g`.
    fn volumes_from(&mut self, g: usize) {
        if self.known.len() <= g {
            let len = self.count.len();
            self.bytes.resize(len, 0);
            self.packets.resize(len, 0);
            self.known.resize(len, 0);
        }
    }

    /// Whether group `g` has a known byte (or packet, with [`PACKETS_KNOWN`]) sum.
    fn has(&self, g: usize, flag: u8) -> bool {
        self.known.get(g).is_some_and(|k| k & flag != 0)
    }
}

const BYTES_KNOWN: u8 = 1;
const PACKETS_KNOWN: u8 = 2;

impl TopAggregator {
    /// An empty aggregator.
    pub fn new(query: TopQuery) -> TopAggregator {
        let mut columns: Vec<&str> = USED_COLUMNS.to_vec();
        columns.extend(query.by.iter().map(String::as_str));
        let builder = FrameBuilder::with_columns(&columns);
        let groups = Groups::new(&query.keys());
        TopAggregator {
            query,
            builder,
            groups,
        }
    }

    /// Adds one flow row; every [`TOP_BATCH_ROWS`] rows are folded into the running result.
    pub fn push(&mut self, row: &FlowRow) -> Result<()> {
        self.builder.push(row)?;
        if self.builder.len() >= TOP_BATCH_ROWS {
            let batch = self.builder.take()?;
            self.push_frame(batch)?;
        }
        Ok(())
    }

    /// Adds a batch of flows with [`FlowRow`]'s schema (or at least the columns the query
    /// uses: the group columns, `time`, `verdict`, `count`, `bytes`, `packets` and the
    /// `namespace`, `pod`, `ip` and `name` of both ends).
    pub fn push_frame(&mut self, flows: DataFrame) -> Result<()> {
        let frame_error = |source| Error::Frame {
            what: format!("group flows by {}", self.query.keys().join(",")),
            source,
        };
        let rows = flows.height();
        // The key value numbers of every row, key after key.
        let width = self.groups.keys.len();
        let mut numbers = vec![0u32; rows * width];
        for (k, key) in self.query.keys().iter().enumerate() {
            let values = &mut self.groups.keys[k];
            let mut set = |row: usize, n: u32| numbers[row * width + k] = n;
            match values {
                KeyValues::Text(dict) => {
                    let column = text_column(&flows, key).map_err(frame_error)?;
                    for (row, v) in column.iter().enumerate() {
                        set(row, dict.number(v));
                    }
                }
                KeyValues::Number(dict) if key == BUCKET_COLUMN => {
                    let width = self
                        .query
                        .bucket
                        .and_then(|w| w.num_microseconds())
                        .unwrap_or(i64::MAX)
                        .max(1);
                    let times = number_column(&flows, "time").map_err(frame_error)?;
                    for (row, t) in times.iter().enumerate() {
                        let bucket = t.map(|t| t.div_euclid(width).saturating_mul(width));
                        set(row, dict.number(bucket.as_ref()));
                    }
                }
                KeyValues::Number(dict) => {
                    let column = number_column(&flows, key).map_err(frame_error)?;
                    for (row, v) in column.iter().enumerate() {
                        set(row, dict.number(v.as_ref()));
                    }
                }
            }
        }
        let verdicts = text_column(&flows, "verdict").map_err(frame_error)?;
        let counts = number_column(&flows, "count").map_err(frame_error)?;
        let bytes = number_column(&flows, "bytes").map_err(frame_error)?;
        let packets = number_column(&flows, "packets").map_err(frame_error)?;
        let sources = peer_column(&flows, "src").map_err(frame_error)?;
        let destinations = peer_column(&flows, "dst").map_err(frame_error)?;
        let mut name = String::new();
        for row in 0..rows {
            let group = self.groups.group(&numbers[row * width..(row + 1) * width]);
            let attempts = match verdicts.get(row) {
                Some("denied" | "dropped") => counts.get(row).unwrap_or(0),
                _ => 1,
            };
            let sums = &mut self.groups.sums;
            let g = group as usize;
            sums.count[g] = sums.count[g].saturating_add(attempts);
            sums.records[g] = sums.records[g].saturating_add(1);
            if let Some(b) = bytes.get(row) {
                sums.volumes_from(g);
                sums.bytes[g] = sums.bytes[g].saturating_add(b);
                sums.known[g] |= BYTES_KNOWN;
            }
            if let Some(p) = packets.get(row) {
                sums.volumes_from(g);
                sums.packets[g] = sums.packets[g].saturating_add(p);
                sums.known[g] |= PACKETS_KNOWN;
            }
            let source = self.groups.peer(sources.name(row, &mut name));
            self.groups.sources.add(group, source);
            let destination = self.groups.peer(destinations.name(row, &mut name));
            self.groups.destinations.add(group, destination);
        }
        Ok(())
    }

    /// The ranked groups: the group columns (`bucket` first when bucketed), then
    /// [`TOP_METRICS`]. Sorted by `count`, largest first (per bucket, in time order, when
    /// bucketed: the `k` groups largest over the whole input, in every bucket they occur);
    /// ties are broken by the group columns, in order, nulls last.
    pub fn finish(mut self) -> Result<DataFrame> {
        if !self.builder.is_empty() {
            let batch = self.builder.take()?;
            self.push_frame(batch)?;
        }
        let mut groups = self.groups;
        let source_counts = std::mem::take(&mut groups.sources).into_counts();
        let destination_counts = std::mem::take(&mut groups.destinations).into_counts();
        groups.index = hashbrown::HashTable::new();
        let order = groups.ranked(&self.query);
        let keys = self.query.keys();
        let mut columns: Vec<Column> = Vec::with_capacity(keys.len() + TOP_METRICS.len());
        for (k, key) in keys.iter().enumerate() {
            let pick = |g: &u32| groups.member(*g)[k] as usize;
            let series = match &groups.keys[k] {
                KeyValues::Text(dict) => Series::new(
                    key.as_str().into(),
                    order
                        .iter()
                        .map(|g| dict.values[pick(g)].as_deref())
                        .collect::<Vec<Option<&str>>>(),
                ),
                KeyValues::Number(dict) => Series::new(
                    key.as_str().into(),
                    order
                        .iter()
                        .map(|g| dict.values[pick(g)])
                        .collect::<Vec<Option<i64>>>(),
                ),
            };
            let series = series
                .cast(&key_type(key).dtype())
                .map_err(|source| Error::Frame {
                    what: format!("build the {key} column of top groups"),
                    source,
                })?;
            columns.push(series.into());
        }
        let metric = |name: &str, value: &dyn Fn(usize) -> Option<i64>| -> Column {
            Series::new(
                name.into(),
                order
                    .iter()
                    .map(|g| value(*g as usize))
                    .collect::<Vec<Option<i64>>>(),
            )
            .into()
        };
        let sums = &groups.sums;
        columns.push(metric("count", &|g| Some(sums.count[g])));
        columns.push(metric("records", &|g| Some(sums.records[g])));
        columns.push(metric("bytes", &|g| {
            sums.has(g, BYTES_KNOWN).then(|| sums.bytes[g])
        }));
        columns.push(metric("packets", &|g| {
            sums.has(g, PACKETS_KNOWN).then(|| sums.packets[g])
        }));
        columns.push(metric("sources", &|g| Some(source_counts[g].into())));
        columns.push(metric("destinations", &|g| {
            Some(destination_counts[g].into())
        }));
        DataFrame::new(order.len(), columns).map_err(|source| Error::Frame {
            what: "rank top groups".into(),
            source,
        })
    }
}

impl Groups {
    /// No groups yet, of the key columns `keys`.
    fn new(keys: &[String]) -> Groups {
        Groups {
            keys: keys
                .iter()
                .map(|key| match key_type(key) {
                    ColumnType::Text => KeyValues::Text(Dictionary::new()),
                    _ => KeyValues::Number(Dictionary::new()),
                })
                .collect(),
            // A group's numbers never straddle two blocks.
            members: Blocks::with_block(keys.len().max(1) * BLOCK_ROWS),
            index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            sums: Sums::default(),
            peers: FastMap::default(),
            sources: Peers::default(),
            destinations: Peers::default(),
        }
    }

    /// The groups to show, in order.
    fn ranked(&self, query: &TopQuery) -> Vec<u32> {
        let all = 0..self.len();
        let k = match query.k {
            0 => usize::MAX,
            k => k,
        };
        // Orders key number rows `a` and `b` that start at key column `first`.
        let by_keys = |a: &[u32], b: &[u32], first: usize| {
            (0..a.len())
                .map(|i| self.keys[first + i].compare(a[i], b[i]))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        if query.bucket.is_none() {
            let rank = |a: &u32, b: &u32| {
                let (a, b) = (*a as usize, *b as usize);
                self.sums.count[b]
                    .cmp(&self.sums.count[a])
                    .then_with(|| by_keys(self.member(a as u32), self.member(b as u32), 0))
            };
            if k <= SMALL_K {
                // The k best so far, in order: most groups are not better than the last.
                let mut best: Vec<u32> = Vec::with_capacity(k + 1);
                for g in all {
                    if best.len() == k && best.last().is_some_and(|w| rank(&g, w).is_ge()) {
                        continue;
                    }
                    let at = best.partition_point(|b| rank(b, &g).is_lt());
                    best.insert(at, g);
                    best.truncate(k);
                }
                return best;
            }
            let mut order: Vec<u32> = all.collect();
            if k < order.len() {
                order.select_nth_unstable_by(k, rank);
                order.truncate(k);
            }
            order.sort_unstable_by(rank);
            return order;
        }
        // Bucketed: the k largest groups over the whole input (keys without the bucket),
        // then every bucket they occur in.
        let mut totals: FastMap<&[u32], i64> = FastMap::default();
        for g in 0..self.len() {
            let total = totals.entry(&self.member(g)[1..]).or_default();
            *total = total.saturating_add(self.sums.count[g as usize]);
        }
        let mut largest: Vec<(&[u32], i64)> = totals.into_iter().collect();
        let rank =
            |a: &(&[u32], i64), b: &(&[u32], i64)| b.1.cmp(&a.1).then_with(|| by_keys(a.0, b.0, 1));
        if k < largest.len() {
            largest.select_nth_unstable_by(k, rank);
            largest.truncate(k);
        }
        let kept: FastMap<&[u32], i64> = largest.into_iter().collect();
        let mut order: Vec<(u32, i64)> = all
            .filter_map(|g| kept.get(&self.member(g)[1..]).map(|total| (g, *total)))
            .collect();
        order.sort_unstable_by(|(a, ta), (b, tb)| {
            let (ma, mb) = (self.member(*a), self.member(*b));
            self.keys[0]
                .compare(ma[0], mb[0])
                .then_with(|| tb.cmp(ta))
                .then_with(|| by_keys(&ma[1..], &mb[1..], 1))
        });
        order.into_iter().map(|(g, _)| g).collect()
    }

    /// How many groups there are.
    fn len(&self) -> u32 {
        u32::try_from(self.sums.count.len()).unwrap_or(u32::MAX)
    }

    /// The key value numbers of group `g`.
    fn member(&self, g: u32) -> &[u32] {
        let width = self.keys.len();
        self.members.run(g as usize * width, width)
    }

    /// The number of the group with these key value numbers (a new group if unseen).
    fn group(&mut self, members: &[u32]) -> u32 {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(members);
        let width = self.keys.len();
        let all = &self.members;
        let same = |g: &u32| all.run(*g as usize * width, width) == members;
        if let Some(&g) = self.index.find(hash, same) {
            return g;
        }
        let g = self.len();
        members.iter().for_each(|m| self.members.push(*m));
        let (all, hasher) = (&self.members, &self.hasher);
        self.index.insert_unique(hash, g, |g| {
            hasher.hash_one(all.run(*g as usize * width, width))
        });
        let sums = &mut self.sums;
        sums.count.push(0);
        sums.records.push(0);
        if !sums.known.is_empty() {
            sums.bytes.push(0);
            sums.packets.push(0);
            sums.known.push(0);
        }
        self.sources.first.push(NO_PEER);
        self.destinations.first.push(NO_PEER);
        g
    }

    /// The number of a peer (0 for none).
    fn peer(&mut self, name: Option<&str>) -> u32 {
        let Some(name) = name else { return 0 };
        if let Some(&n) = self.peers.get(name) {
            return n;
        }
        let n = u32::try_from(self.peers.len() + 1).unwrap_or(u32::MAX);
        self.peers.insert(name.into(), n);
        n
    }
}

impl KeyValues {
    /// Orders two value numbers by their values, nulls last.
    fn compare(&self, a: u32, b: u32) -> std::cmp::Ordering {
        fn by<T: Ord>(a: &Option<T>, b: &Option<T>) -> std::cmp::Ordering {
            match (a, b) {
                (Some(a), Some(b)) => a.cmp(b),
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
            }
        }
        match self {
            KeyValues::Text(d) => by(&d.values[a as usize], &d.values[b as usize]),
            KeyValues::Number(d) => by(&d.values[a as usize], &d.values[b as usize]),
        }
    }
}

/// The declared type of a key column (`bucket` is a time).
fn key_type(key: &str) -> ColumnType {
    if key == BUCKET_COLUMN {
        return ColumnType::Time;
    }
    FlowRow::COLUMNS
        .iter()
        .find(|c| c.name == key)
        .map_or(ColumnType::Text, |c| c.kind)
}

/// A text column of a batch.
fn text_column(flows: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    Ok(flows
        .column(name)?
        .as_materialized_series()
        .cast(&DataType::String)?
        .str()?
        .clone())
}

/// A number, boolean or time column of a batch, as 64-bit integers.
fn number_column(flows: &DataFrame, name: &str) -> PolarsResult<Int64Chunked> {
    let series = flows.column(name)?.as_materialized_series();
    let series = match series.dtype() {
        DataType::Datetime(..) => series.to_physical_repr().into_owned(),
        _ => series.clone(),
    };
    Ok(series.cast(&DataType::Int64)?.i64()?.clone())
}

/// One end's columns of a batch, naming it for counting distinct peers.
struct PeerColumns {
    namespace: StringChunked,
    pod: StringChunked,
    ip: StringChunked,
    name: StringChunked,
}

fn peer_column(flows: &DataFrame, side: &str) -> PolarsResult<PeerColumns> {
    Ok(PeerColumns {
        namespace: text_column(flows, &format!("{side}_namespace"))?,
        pod: text_column(flows, &format!("{side}_pod"))?,
        ip: text_column(flows, &format!("{side}_ip"))?,
        name: text_column(flows, &format!("{side}_name"))?,
    })
}

impl PeerColumns {
    /// One end's identity: `namespace/pod` for pods, otherwise the address (or the log's
    /// name for it when there is no address); `None` when nothing names it.
    fn name<'a>(&'a self, row: usize, buf: &'a mut String) -> Option<&'a str> {
        if let Some(pod) = self.pod.get(row) {
            buf.clear();
            buf.push_str(self.namespace.get(row).unwrap_or(""));
            buf.push('/');
            buf.push_str(pod);
            return Some(buf.as_str());
        }
        self.ip.get(row).or_else(|| self.name.get(row))
    }
}

/// `value` rounded down to a multiple of `width` (also below zero: times before 1970), with
/// plain integer operators.
pub fn floor_to(value: Expr, width: i64) -> Expr {
    let width = lit(width.max(1));
    value.clone() - (((value % width.clone()) + width.clone()) % width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, Flow, Identity, PodIdentity};

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

    fn top(query: TopQuery, flows: &[Flow]) -> DataFrame {
        let mut agg = TopAggregator::new(query);
        for f in flows {
            agg.push(&FlowRow::of(f)).unwrap();
        }
        agg.finish().unwrap()
    }

    fn texts(df: &DataFrame, name: &str) -> Vec<Option<String>> {
        df.column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    fn ints(df: &DataFrame, name: &str) -> Vec<Option<i64>> {
        df.column(name).unwrap().i64().unwrap().iter().collect()
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
            df.get_column_names(),
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
        let ports: Vec<Option<i32>> = df
            .column("dst_port")
            .unwrap()
            .i32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(ports, [Some(9200), Some(80)]);
        // The duplicate report counts 0; allowed records count 1 each, whatever their count.
        assert_eq!(ints(&df, "count"), [Some(3), Some(2)]);
        assert_eq!(ints(&df, "records"), [Some(4), Some(2)]);
        assert_eq!(ints(&df, "bytes"), [None, Some(200)]);
        assert_eq!(ints(&df, "packets"), [None, None]);
        assert_eq!(ints(&df, "sources"), [Some(2), Some(1)]);
        assert_eq!(ints(&df, "destinations"), [Some(2), Some(1)]);
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
        let groups = BLOCK_ROWS + 1000;
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
        assert_eq!(df.height(), groups);
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
    fn blocks_index_across_block_boundaries() {
        let mut b: Blocks<u32> = Blocks::default();
        for i in 0..(2 * BLOCK_ROWS as u32 + 5) {
            b.push(i);
        }
        assert_eq!(b.len(), 2 * BLOCK_ROWS + 5);
        assert_eq!(b[BLOCK_ROWS - 1], BLOCK_ROWS as u32 - 1);
        assert_eq!(b[BLOCK_ROWS], BLOCK_ROWS as u32);
        assert_eq!(
            b.run(BLOCK_ROWS, 3),
            [
                BLOCK_ROWS as u32,
                BLOCK_ROWS as u32 + 1,
                BLOCK_ROWS as u32 + 2
            ]
        );
        assert_eq!(b.get(2 * BLOCK_ROWS + 5), None);
        b[7] = 70;
        assert_eq!(b[7], 70);
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
        assert_eq!(df.get_column_names()[..2], ["bucket", "dst_pod"]);
        let buckets: Vec<String> = df
            .column("bucket")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .iter()
            .map(|us| {
                chrono::DateTime::from_timestamp_micros(us.unwrap())
                    .unwrap()
                    .format("%H:%M")
                    .to_string()
            })
            .collect();
        assert_eq!(buckets, ["19:00", "19:05", "19:10"]);
        assert_eq!(ints(&df, "count"), [Some(1), Some(2), Some(1)]);
        assert!(texts(&df, "dst_pod")
            .iter()
            .all(|p| p.as_deref() == Some("es")));
    }

    #[test]
    fn batches_merge_into_the_same_answer() {
        let t = "2026-11-20T19:05:02Z";
        let flows: Vec<Flow> = (0..10)
            .map(|i| pod_flow(&format!("s{}", i % 3), "es", 9200, t, Action::Denied))
            .collect();
        let query = TopQuery::new(vec!["dst_pod".into()], None, 0).unwrap();
        let mut agg = TopAggregator::new(query.clone());
        // One flow per batch: more batches than are gathered before a merge.
        for chunk in flows.chunks(1) {
            let rows: Vec<FlowRow> = chunk.iter().map(FlowRow::of).collect();
            agg.push_frame(super::super::frame_of(&rows).unwrap())
                .unwrap();
        }
        let batched = agg.finish().unwrap();
        assert_eq!(batched, top(query, &flows));
        assert_eq!(ints(&batched, "count"), [Some(10)]);
        assert_eq!(ints(&batched, "sources"), [Some(3)]);
    }

    #[test]
    fn floor_to_rounds_down_on_both_sides_of_zero() {
        let df = DataFrame::new(4, vec![Column::new("v".into(), [-7i64, -5, 0, 7])]).unwrap();
        let out = df
            .lazy()
            .select([floor_to(col("v"), 5).alias("v")])
            .collect()
            .unwrap();
        assert_eq!(ints(&out, "v"), [Some(-10), Some(-5), Some(0), Some(5)]);
    }

    #[test]
    fn nothing_in_gives_an_empty_table_with_the_columns() {
        let df = top(TopQuery::new(vec![], None, 20).unwrap(), &[]);
        assert_eq!(df.height(), 0);
        assert_eq!(df.width(), DEFAULT_TOP_KEYS.len() + TOP_METRICS.len());
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
        assert!(err.contains("--bucket"), "{err}");
        assert!(TopQuery::new(vec!["dst_port".into(), "dst_port".into()], None, 0).is_err());
        assert!(TopQuery::new(vec![], Some(TimeDelta::zero()), 0).is_err());
    }
}
