//! Enriched flows as polars DataFrames: one documented schema per row type (see
//! docs/output.md), built batch by batch from the streaming reader so memory stays bounded;
//! aggregates ([`top`]) and Parquet export ([`parquet`]) work on those frames.
//!
//! ```
//! use netflow_core::frame::{FrameBuilder, FLOW_BATCH_ROWS};
//! use netflow_core::query::FlowRow;
//! use netflow_core::ingest::{read_from, InputReader};
//! use netflow_core::ReadOptions;
//!
//! let log = r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"DROPPED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"drop_reason_desc":"POLICY_DENIED"}}"#;
//! let reader = InputReader::from_reader(Box::new(std::io::Cursor::new(log.as_bytes().to_vec())))?;
//! let mut builder = FrameBuilder::<FlowRow>::new();
//! let mut frames = Vec::new();
//! let mut failure = None;
//! read_from("flows.json", reader, &ReadOptions::default(), &mut |flow| {
//!     if let Err(e) = builder.push(&FlowRow::of(&flow)) {
//!         failure.get_or_insert(e);
//!     }
//!     if builder.len() == FLOW_BATCH_ROWS {
//!         frames.extend(builder.take());
//!     }
//! })?;
//! frames.push(builder.take()?);
//! assert_eq!(frames[0].height(), 1);
//! assert_eq!(frames[0].column("dst_port")?.i32()?.get(0), Some(9200));
//! assert_eq!(frames[0].column("verdict")?.str()?.get(0), Some("denied"));
//! # assert!(failure.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
pub mod parquet;
pub mod top;

pub use builder::FrameBuilder;
pub use parquet::ParquetSink;
/// The polars version flowq builds its frames with, for code that works on them.
pub use polars;
pub use top::{TopAggregator, TopQuery};

use polars::prelude::{DataType, Field, PlSmallStr, Schema, TimeUnit, TimeZone};
use serde::Serialize;

use crate::query::{DeniedRow, FlowRow};

/// Rows per DataFrame batch when streaming flows into frames.
pub const FLOW_BATCH_ROWS: usize = 32 * 1024;

/// The type of a column, and how it is stored in a DataFrame and in Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text (`String`); IP addresses are text.
    Text,
    /// 32-bit signed integer (ports).
    Int32,
    /// 64-bit signed integer (counts, bytes, lines); larger values saturate.
    Int64,
    /// Boolean.
    Bool,
    /// Time: `Datetime(µs, "UTC")`, a Parquet timestamp adjusted to UTC.
    Time,
    /// List of text (`List(String)`).
    TextList,
}

impl ColumnType {
    /// The polars data type.
    pub fn dtype(self) -> DataType {
        match self {
            ColumnType::Text => DataType::String,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Time => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
            ColumnType::TextList => DataType::List(Box::new(DataType::String)),
        }
    }
}

/// One declared column: its name (the row's serialized field name) and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column name, as in JSON and CSV output.
    pub name: &'static str,
    /// Column type.
    pub kind: ColumnType,
}

const fn col(name: &'static str, kind: ColumnType) -> ColumnSpec {
    ColumnSpec { name, kind }
}

/// A row type with a declared columnar schema. The serialized fields must be exactly the
/// declared columns, in order ([`FrameBuilder::push`] checks it).
pub trait FrameRow: Serialize {
    /// The columns, in field order.
    const COLUMNS: &'static [ColumnSpec];

    /// The polars schema of the columns.
    fn schema() -> Schema {
        Self::COLUMNS
            .iter()
            .map(|c| Field::new(PlSmallStr::from(c.name), c.kind.dtype()))
            .collect()
    }
}

use ColumnType::{Bool, Int32, Int64, Text, TextList, Time};

impl FrameRow for FlowRow {
    const COLUMNS: &'static [ColumnSpec] = &[
        col("time", Time),
        col("src_ip", Text),
        col("src_port", Int32),
        col("src_kind", Text),
        col("src_namespace", Text),
        col("src_pod", Text),
        col("src_workload", Text),
        col("src_workload_kind", Text),
        col("src_node", Text),
        col("src_name", Text),
        col("src_identity_source", Text),
        col("dst_ip", Text),
        col("dst_port", Int32),
        col("dst_kind", Text),
        col("dst_namespace", Text),
        col("dst_pod", Text),
        col("dst_workload", Text),
        col("dst_workload_kind", Text),
        col("dst_node", Text),
        col("dst_service", Text),
        col("dst_name", Text),
        col("dst_identity_source", Text),
        col("protocol", Text),
        col("verdict", Text),
        col("verdict_raw", Text),
        col("where", Text),
        col("node", Text),
        col("reason", Text),
        col("policies", TextList),
        col("is_reply", Bool),
        col("bytes", Int64),
        col("packets", Int64),
        col("count", Int64),
        col("duplicate", Bool),
        col("counting", Text),
        col("format", Text),
        col("input", Text),
        col("line", Int64),
        col("policy_verdict", Text),
        col("mismatch", Text),
    ];
}

impl FrameRow for DeniedRow {
    const COLUMNS: &'static [ColumnSpec] = &[
        col("src_ip", Text),
        col("src_kind", Text),
        col("src_namespace", Text),
        col("src_pod", Text),
        col("src_workload", Text),
        col("src_workload_kind", Text),
        col("src_node", Text),
        col("src_name", Text),
        col("src_identity_source", Text),
        col("dst_ip", Text),
        col("dst_kind", Text),
        col("dst_namespace", Text),
        col("dst_pod", Text),
        col("dst_workload", Text),
        col("dst_workload_kind", Text),
        col("dst_node", Text),
        col("dst_service", Text),
        col("dst_name", Text),
        col("dst_identity_source", Text),
        col("dst_port", Int32),
        col("protocol", Text),
        col("verdict", Text),
        col("where", Text),
        col("node", Text),
        col("reason", Text),
        col("policies", TextList),
        col("count", Int64),
        col("records", Int64),
        col("first_seen", Time),
        col("last_seen", Time),
        col("counting", Text),
        col("other_reports", TextList),
        col("policy_verdict", Text),
        col("explanation", Text),
        col("mismatch", Text),
    ];
}

/// Builds one DataFrame from a slice of rows.
pub fn frame_of<R: FrameRow>(rows: &[R]) -> crate::Result<polars::prelude::DataFrame> {
    let mut builder = FrameBuilder::<R>::new();
    for row in rows {
        builder.push(row)?;
    }
    builder.take()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, Direction, Flow};
    use crate::query::DeniedAggregator;

    fn flow(line: u64, dst_port: u16, time: &str) -> Flow {
        let mut f = Flow::test_flow("10.0.0.1", "10.0.0.2", dst_port);
        f.action = Action::Denied;
        f.direction = Direction::Ingress;
        f.time = Some(time.parse().unwrap());
        f.origin.line = line;
        f.policies = vec![];
        f
    }

    #[test]
    fn flow_columns_are_the_serialized_fields_in_order() {
        let row = FlowRow::of(&flow(1, 80, "2026-11-20T19:05:02Z"));
        let value = serde_json::to_value(&row).unwrap();
        let names: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut declared: Vec<&str> = FlowRow::COLUMNS.iter().map(|c| c.name).collect();
        let mut serialized = names.clone();
        declared.sort_unstable();
        serialized.sort_unstable();
        assert_eq!(declared, serialized);
        // The order is checked by the builder itself: a push succeeds only in declared order.
        frame_of(&[row]).unwrap();
    }

    #[test]
    fn denied_columns_are_the_serialized_fields() {
        let mut agg = DeniedAggregator::default();
        agg.add(&flow(1, 9200, "2026-11-20T19:05:02Z"));
        let row = DeniedRow::of(&agg.finish()[0]);
        let value = serde_json::to_value(&row).unwrap();
        let mut serialized: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut declared: Vec<&str> = DeniedRow::COLUMNS.iter().map(|c| c.name).collect();
        declared.sort_unstable();
        serialized.sort_unstable();
        assert_eq!(declared, serialized);
        let df = frame_of(&[row]).unwrap();
        assert_eq!(df.schema().as_ref(), &DeniedRow::schema());
        assert_eq!(df.column("count").unwrap().i64().unwrap().get(0), Some(1));
    }

    #[test]
    fn frames_carry_typed_values_and_nulls() {
        let mut a = flow(7, 9200, "2026-11-20T19:05:02.123456789Z");
        a.bytes = Some(u64::MAX);
        a.policies = vec![crate::flow::PolicyRef {
            namespace: Some("vamp".into()),
            name: "es-ingress".into(),
            kind: None,
        }];
        let b = {
            let mut f = flow(8, 53, "2026-11-20T19:06:00Z");
            f.time = None;
            f.dst.port = None;
            f
        };
        let df = frame_of(&[FlowRow::of(&a), FlowRow::of(&b)]).unwrap();
        assert_eq!(df.schema().as_ref(), &FlowRow::schema());
        let time = df.column("time").unwrap().datetime().unwrap();
        assert_eq!(
            time.physical().get(0),
            Some(
                "2026-11-20T19:05:02.123456Z"
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .unwrap()
                    .timestamp_micros()
            )
        );
        assert_eq!(time.physical().get(1), None);
        assert_eq!(df.column("dst_port").unwrap().i32().unwrap().get(1), None);
        assert_eq!(
            df.column("bytes").unwrap().i64().unwrap().get(0),
            Some(i64::MAX)
        );
        assert_eq!(df.column("line").unwrap().i64().unwrap().get(1), Some(8));
        let policies = df.column("policies").unwrap().list().unwrap();
        let first = policies.get_as_series(0).unwrap();
        assert_eq!(first.str().unwrap().get(0), Some("vamp/es-ingress"));
        assert_eq!(policies.get_as_series(1).unwrap().len(), 0);
    }

    #[test]
    fn a_builder_keeps_only_the_selected_columns() {
        let mut builder = FrameBuilder::<FlowRow>::with_columns(&["dst_port", "time", "nope"]);
        builder
            .push(&FlowRow::of(&flow(1, 80, "2026-11-20T19:05:02Z")))
            .unwrap();
        let df = builder.take().unwrap();
        assert_eq!(df.get_column_names(), ["time", "dst_port"]);
        assert_eq!(
            df.column("dst_port").unwrap().i32().unwrap().get(0),
            Some(80)
        );
    }

    #[test]
    fn a_builder_is_reusable_after_take() {
        let mut builder = FrameBuilder::<FlowRow>::new();
        builder
            .push(&FlowRow::of(&flow(1, 80, "2026-11-20T19:05:02Z")))
            .unwrap();
        assert_eq!(builder.take().unwrap().height(), 1);
        assert!(builder.is_empty());
        assert_eq!(builder.take().unwrap().height(), 0);
        builder
            .push(&FlowRow::of(&flow(2, 81, "2026-11-20T19:05:03Z")))
            .unwrap();
        assert_eq!(builder.take().unwrap().height(), 1);
    }

    #[derive(Serialize)]
    struct Pair {
        a: i64,
        b: &'static str,
    }

    impl FrameRow for Pair {
        const COLUMNS: &'static [ColumnSpec] = &[col("a", Int64), col("b", Int32)];
    }

    #[test]
    fn a_row_that_does_not_fit_leaves_the_columns_aligned() {
        let mut row = FlowRow::of(&flow(1, 80, "2026-11-20T19:05:02Z"));
        row.time = Some("yesterday-ish".into());
        let mut builder = FrameBuilder::<FlowRow>::new();
        let err = builder.push(&row).unwrap_err().to_string();
        assert!(err.contains("column time"), "{err}");
        let good = FlowRow::of(&flow(2, 80, "2026-11-20T19:05:02Z"));
        builder.push(&good).unwrap();
        let df = builder.take().unwrap();
        assert_eq!(df.height(), 1);
        assert_eq!(df.column("line").unwrap().i64().unwrap().get(0), Some(2));

        // A failure in the second column takes back the first column's cell.
        let mut pairs = FrameBuilder::<Pair>::new();
        let err = pairs.push(&Pair { a: 1, b: "x" }).unwrap_err().to_string();
        assert!(err.contains("column b cannot hold text"), "{err}");
        assert!(pairs.is_empty());
        assert_eq!(pairs.take().unwrap().column("a").unwrap().len(), 0);
    }
}
