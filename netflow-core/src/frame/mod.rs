//! Rows as polars DataFrames (behind the `frames` feature): any row type's declared columns
//! become typed frame columns ([`dtype`]), built batch by batch so memory stays bounded, and
//! written to Parquet ([`parquet`]). Nothing here decides what a row holds: that is
//! `query::rows`.
//!
//! ```
//! use netflow_core::frame::FrameBuilder;
//! use netflow_core::{DeclaredRow, FlowRow, Session};
//!
//! let dir = tempfile::tempdir()?;
//! let log = dir.path().join("flows.json");
//! std::fs::write(&log, r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"DROPPED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"drop_reason_desc":"POLICY_DENIED"}}"#)?;
//! let session = Session::new([log.display().to_string()]);
//! let mut builder = FrameBuilder::new(FlowRow::COLUMNS);
//! session.for_each_flow(|flow| -> netflow_core::Result<()> {
//!     builder.push(&session.row_of(&flow));
//!     Ok(())
//! })?;
//! let frame = builder.take()?;
//! assert_eq!(frame.height(), 1);
//! assert_eq!(frame.column("dst_port")?.i32()?.get(0), Some(9200));
//! assert_eq!(frame.column("verdict")?.str()?.get(0), Some("denied"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
pub mod parquet;

pub use builder::FrameBuilder;
pub use parquet::{ParquetRowWriter, ParquetSink};
/// The polars version flowq builds its frames with, for code that works on them.
pub use polars;

use polars::prelude::{DataFrame, DataType, Expr, Field, PlSmallStr, Schema, TimeUnit, TimeZone};

use crate::query::{Column, ColumnType, Row, TopGroups};

/// Rows per DataFrame batch when streaming flows into frames.
pub const FLOW_BATCH_ROWS: usize = 32 * 1024;

/// The polars type of a column type: text, `Int32`, `Int64`, `Boolean`, `Datetime(µs, UTC)`,
/// `List(String)`; structured data is JSON text.
pub fn dtype(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Time => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        ColumnType::TextList => DataType::List(Box::new(DataType::String)),
        _ => DataType::String,
    }
}

/// The polars schema of `columns`.
pub fn schema_of(columns: &[Column]) -> Schema {
    columns
        .iter()
        .map(|c| Field::new(PlSmallStr::from(c.name), dtype(c.kind)))
        .collect()
}

/// One DataFrame of `rows`, which have `columns`.
pub fn frame_of<R: Row>(columns: &[Column], rows: &[R]) -> crate::Result<DataFrame> {
    let mut builder = FrameBuilder::new(columns);
    for row in rows {
        builder.push(row);
    }
    builder.take()
}

/// The groups of a `top` query as a DataFrame with their columns' types.
pub fn top_frame(groups: &TopGroups) -> crate::Result<DataFrame> {
    frame_of(&groups.columns, &groups.rows)
}

/// `value` rounded down to a multiple of `width` (also below zero: times before 1970), with
/// plain integer operators: how an SQL engine or a polars query buckets the exported `time`
/// column the way `top` does.
pub fn floor_to(value: Expr, width: i64) -> Expr {
    let width = polars::prelude::lit(width.max(1));
    value.clone() - (((value % width.clone()) + width.clone()) % width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, Direction, Flow};
    use crate::query::{
        DeclaredRow, DeniedAggregator, DeniedRow, FlowRow, TopAggregator, TopQuery,
    };

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
    fn denied_columns_are_the_serialized_fields_in_order() {
        let mut agg = DeniedAggregator::default();
        agg.add(&flow(1, 9200, "2026-11-20T19:05:02Z"));
        let row = DeniedRow::of(&agg.finish()[0]);
        let value = serde_json::to_value(&row).unwrap();
        let serialized: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let declared: Vec<&str> = DeniedRow::COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(declared, serialized);
        let df = frame_of(DeniedRow::COLUMNS, &[row]).unwrap();
        assert_eq!(df.schema().as_ref(), &schema_of(DeniedRow::COLUMNS));
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
            tier: None,
        }];
        let b = {
            let mut f = flow(8, 53, "2026-11-20T19:06:00Z");
            f.time = None;
            f.dst.port = None;
            f
        };
        let df = frame_of(FlowRow::COLUMNS, &[FlowRow::of(&a), FlowRow::of(&b)]).unwrap();
        assert_eq!(df.schema().as_ref(), &schema_of(FlowRow::COLUMNS));
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
    fn a_builder_is_reusable_after_take() {
        let mut builder = FrameBuilder::new(FlowRow::COLUMNS);
        builder.push(&FlowRow::of(&flow(1, 80, "2026-11-20T19:05:02Z")));
        assert_eq!(builder.take().unwrap().height(), 1);
        assert!(builder.is_empty());
        assert_eq!(builder.take().unwrap().height(), 0);
        builder.push(&FlowRow::of(&flow(2, 81, "2026-11-20T19:05:03Z")));
        assert_eq!(builder.take().unwrap().height(), 1);
    }

    #[test]
    fn top_groups_become_a_frame_of_their_declared_types() {
        let query = TopQuery::new(
            vec!["dst_port".into()],
            Some(chrono::TimeDelta::minutes(1)),
            0,
        )
        .unwrap();
        let mut agg = TopAggregator::new(query);
        agg.push(&FlowRow::of(&flow(1, 9200, "2026-11-20T19:05:02Z")));
        agg.push(&FlowRow::of(&flow(2, 9200, "2026-11-20T19:05:03Z")));
        let groups = agg.finish();
        let df = top_frame(&groups).unwrap();
        assert_eq!(df.height(), 1);
        assert_eq!(
            df.column("dst_port").unwrap().i32().unwrap().get(0),
            Some(9200)
        );
        assert_eq!(df.column("count").unwrap().i64().unwrap().get(0), Some(2));
        assert!(matches!(
            df.column("bucket").unwrap().dtype(),
            DataType::Datetime(TimeUnit::Microseconds, _)
        ));
    }
}
