//! "Who is hitting this the most": flows grouped by chosen columns (and optionally by time
//! bucket), with attempts, records, bytes, packets and distinct peers per group, ranked.
//!
//! Flows arrive in batches ([`FLOW_BATCH_ROWS`](super::FLOW_BATCH_ROWS) rows, only the columns
//! the query needs); each batch is reduced with polars group-bys to one row per group (the
//! sums), per (group, source) and per (group, destination), and merged into the running
//! partial results, so memory grows with the number of groups and of their distinct peers,
//! not with the input.

use chrono::TimeDelta;
use polars::prelude::*;

use super::{ColumnType, FrameBuilder, FrameRow, FLOW_BATCH_ROWS};
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
    partial: Option<Partial>,
    pending: Vec<Partial>,
}

/// Reduced batches gathered before they are merged into the running result.
const MERGE_EVERY: usize = 8;

/// Running results: sums per group, and the distinct sources and destinations of each group.
struct Partial {
    sums: DataFrame,
    sources: DataFrame,
    destinations: DataFrame,
}

impl TopAggregator {
    /// An empty aggregator.
    pub fn new(query: TopQuery) -> TopAggregator {
        let mut columns: Vec<&str> = USED_COLUMNS.to_vec();
        columns.extend(query.by.iter().map(String::as_str));
        let builder = FrameBuilder::with_columns(&columns);
        TopAggregator {
            query,
            builder,
            partial: None,
            pending: Vec::new(),
        }
    }

    /// Adds one flow row; every [`FLOW_BATCH_ROWS`] rows are reduced into the running result.
    pub fn push(&mut self, row: &FlowRow) -> Result<()> {
        self.builder.push(row)?;
        if self.builder.len() >= FLOW_BATCH_ROWS {
            let batch = self.builder.take()?;
            self.push_frame(batch)?;
        }
        Ok(())
    }

    /// Adds a batch of flows with [`FlowRow`]'s schema (or at least the columns the query
    /// uses: the group columns, `time`, `verdict`, `count`, `bytes`, `packets` and the
    /// `namespace`, `pod`, `ip` and `name` of both ends).
    pub fn push_frame(&mut self, flows: DataFrame) -> Result<()> {
        let keys = self.key_exprs();
        let with_peers = self.with_peers(flows.lazy());
        let reduced = Partial {
            sums: self.collect(self.sums(with_peers.clone(), false))?,
            sources: self.collect(distinct(with_peers.clone(), &keys, "src_peer"))?,
            destinations: self.collect(distinct(with_peers, &keys, "dst_peer"))?,
        };
        self.pending.push(reduced);
        if self.pending.len() >= MERGE_EVERY {
            self.merge_pending()?;
        }
        Ok(())
    }

    /// Folds the reduced batches into the running result (one group-by over all of them, so
    /// the running result is scanned once per [`MERGE_EVERY`] batches, not once per batch).
    fn merge_pending(&mut self) -> Result<()> {
        let mut parts: Vec<Partial> = self.partial.take().into_iter().collect();
        parts.append(&mut self.pending);
        if parts.len() == 1 {
            self.partial = parts.pop();
            return Ok(());
        }
        let keys = self.key_exprs();
        let (mut sums, mut sources, mut destinations) = (Vec::new(), Vec::new(), Vec::new());
        for p in parts {
            sums.push(p.sums.lazy());
            sources.push(p.sources.lazy());
            destinations.push(p.destinations.lazy());
        }
        self.partial = Some(Partial {
            sums: self.collect(self.sums(union(sums)?, true))?,
            sources: self.collect(distinct(union(sources)?, &keys, "src_peer"))?,
            destinations: self.collect(distinct(union(destinations)?, &keys, "dst_peer"))?,
        });
        Ok(())
    }

    /// The ranked groups: the group columns (`bucket` first when bucketed), then
    /// [`TOP_METRICS`]. Sorted by `count`, largest first (per bucket, in time order, when
    /// bucketed: the `k` groups largest over the whole input, in every bucket they occur).
    pub fn finish(mut self) -> Result<DataFrame> {
        if !self.builder.is_empty() || (self.partial.is_none() && self.pending.is_empty()) {
            let batch = self.builder.take()?;
            self.push_frame(batch)?;
        }
        self.merge_pending()?;
        let partial = self.partial.take().ok_or_else(|| Error::Frame {
            what: "rank top groups".into(),
            source: PolarsError::NoData("no partial result".into()),
        })?;
        let keys = self.query.keys();
        let key_exprs = self.key_exprs();
        let mut args = JoinArgs::new(JoinType::Left);
        args.nulls_equal = true;
        let count_peers = |frame: DataFrame, name: &str| {
            frame
                .lazy()
                .group_by(key_exprs.clone())
                .agg([len().cast(DataType::Int64).alias(name)])
        };
        let known = |name: &str| {
            when(col(format!("{name}_known")).gt(lit(0)))
                .then(col(name))
                .otherwise(lit(NULL).cast(DataType::Int64))
                .alias(name)
        };
        let groups = partial
            .sums
            .lazy()
            .join(
                count_peers(partial.sources, "sources"),
                key_exprs.clone(),
                key_exprs.clone(),
                args.clone(),
            )
            .join(
                count_peers(partial.destinations, "destinations"),
                key_exprs.clone(),
                key_exprs.clone(),
                args,
            )
            .with_columns([known("bytes"), known("packets")]);
        let by: Vec<PlSmallStr> = self.query.by.iter().map(|k| k.as_str().into()).collect();
        let ranked = match self.query.bucket {
            None => {
                let mut order: Vec<PlSmallStr> = vec!["count".into()];
                order.extend(by.iter().cloned());
                let ranked = groups.sort(order.clone(), ranking(order.len(), &[0]));
                match self.query.k {
                    0 => ranked,
                    k => ranked.limit(IdxSize::try_from(k).unwrap_or(IdxSize::MAX)),
                }
            }
            Some(_) => {
                let mut order: Vec<PlSmallStr> = vec!["total".into()];
                order.extend(by.iter().cloned());
                let by_exprs: Vec<Expr> = by.iter().map(|k| col(k.clone())).collect();
                let mut largest = groups
                    .clone()
                    .group_by(by_exprs.clone())
                    .agg([col("count").sum().alias("total")])
                    .sort(order.clone(), ranking(order.len(), &[0]));
                if self.query.k > 0 {
                    largest =
                        largest.limit(IdxSize::try_from(self.query.k).unwrap_or(IdxSize::MAX));
                }
                let mut args = JoinArgs::new(JoinType::Inner);
                args.nulls_equal = true;
                let mut order: Vec<PlSmallStr> = vec![BUCKET_COLUMN.into(), "total".into()];
                order.extend(by.iter().cloned());
                groups
                    .join(largest, by_exprs.clone(), by_exprs, args)
                    .sort(order.clone(), ranking(order.len(), &[1]))
            }
        };
        let mut columns: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
        columns.extend(TOP_METRICS.iter().map(|m| col(*m)));
        self.collect(ranked.select(columns))
    }

    fn key_exprs(&self) -> Vec<Expr> {
        self.query.keys().iter().map(|k| col(k.as_str())).collect()
    }

    /// The batch with its bucket (when bucketed) and the identities of both ends.
    fn with_peers(&self, flows: LazyFrame) -> LazyFrame {
        let mut flows = flows.with_columns([peer("src"), peer("dst")]);
        if let Some(width) = self.query.bucket {
            let width = width.num_microseconds().unwrap_or(i64::MAX).max(1);
            flows = flows.with_column(
                floor_to(col("time").cast(DataType::Int64), width)
                    .cast(ColumnType::Time.dtype())
                    .alias(BUCKET_COLUMN),
            );
        }
        flows
    }

    /// Sums per group: of flows (`merge` false) or of partial sums (`merge` true).
    fn sums(&self, frame: LazyFrame, merge: bool) -> LazyFrame {
        let aggs = if merge {
            vec![
                col("count").sum(),
                col("records").sum(),
                col("bytes").sum(),
                col("bytes_known").sum(),
                col("packets").sum(),
                col("packets_known").sum(),
            ]
        } else {
            let verdict = col("verdict");
            let attempts = when(
                verdict
                    .clone()
                    .eq(lit("denied"))
                    .or(verdict.eq(lit("dropped"))),
            )
            .then(col("count"))
            .otherwise(lit(1i64));
            vec![
                attempts.sum().alias("count"),
                len().cast(DataType::Int64).alias("records"),
                col("bytes").sum().alias("bytes"),
                col("bytes")
                    .count()
                    .cast(DataType::Int64)
                    .alias("bytes_known"),
                col("packets").sum().alias("packets"),
                col("packets")
                    .count()
                    .cast(DataType::Int64)
                    .alias("packets_known"),
            ]
        };
        frame.group_by(self.key_exprs()).agg(aggs)
    }

    fn collect(&self, frame: LazyFrame) -> Result<DataFrame> {
        frame.collect().map_err(|source| Error::Frame {
            what: format!("group flows by {}", self.query.keys().join(",")),
            source,
        })
    }
}

/// The distinct (group, `peer`) rows of `frame`.
fn distinct(frame: LazyFrame, keys: &[Expr], peer: &str) -> LazyFrame {
    let mut by = keys.to_vec();
    by.push(col(peer));
    frame
        .group_by(by)
        .agg([len().alias("n")])
        .select(keys.iter().cloned().chain([col(peer)]).collect::<Vec<_>>())
}

/// Frames of one schema, one after the other.
fn union(frames: Vec<LazyFrame>) -> Result<LazyFrame> {
    concat(frames, UnionArgs::default()).map_err(|source| Error::Frame {
        what: "merge top groups".into(),
        source,
    })
}

/// `value` rounded down to a multiple of `width` (also below zero: times before 1970), with
/// plain integer operators.
pub fn floor_to(value: Expr, width: i64) -> Expr {
    let width = lit(width.max(1));
    value.clone() - (((value % width.clone()) + width.clone()) % width)
}

/// One end's identity for counting distinct peers: `namespace/pod` for pods, otherwise the
/// address (or the log's name for it when there is no address).
fn peer(side: &str) -> Expr {
    let pod = col(format!("{side}_pod"));
    when(pod.clone().is_not_null())
        .then(col(format!("{side}_namespace")).fill_null(lit("")) + lit("/") + pod)
        .otherwise(
            when(col(format!("{side}_ip")).is_not_null())
                .then(col(format!("{side}_ip")))
                .otherwise(col(format!("{side}_name"))),
        )
        .alias(format!("{side}_peer"))
}

/// Sort options for `n` columns, descending at the positions in `descending`, nulls last,
/// stable.
fn ranking(n: usize, descending: &[usize]) -> SortMultipleOptions {
    SortMultipleOptions::default()
        .with_order_descending_multi((0..n).map(|i| descending.contains(&i)))
        .with_nulls_last(true)
        .with_maintain_order(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, Flow, Identity, PodIdentity};

    fn pod_flow(src_pod: &str, dst_pod: &str, port: u16, time: &str, action: Action) -> Flow {
        let mut f = Flow::test_flow("10.0.0.1", "10.0.0.2", port);
        f.src.identity = Identity::Pod(PodIdentity {
            namespace: "a".into(),
            name: src_pod.into(),
            ..Default::default()
        });
        f.dst.identity = Identity::Pod(PodIdentity {
            namespace: "b".into(),
            name: dst_pod.into(),
            ..Default::default()
        });
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
