//! The two native steps of `flowq.spark.denied`: a worker reads its share of the files into
//! partial denied-connection groups and the other ends' reports (`denied_shares`), keyed by
//! the connection's digest so that Spark can route every part of one connection to one
//! place; there the parts are merged and each connection explained once against the
//! snapshot (`denied_merge`), as netflow-core's `merge_partials` and `DeniedConnection::
//! explain` do. The parts travel between the steps as JSON text in an Arrow column: they are
//! flowq's own intermediate state, never shown to a user.

use std::sync::Arc;

use arrow_array::builder::{
    Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use netflow_core::query::{endpoint_key, merge_partials, Explainer, PartialDenied};
use netflow_core::{Action, DeclaredRow, DeniedQuery, DeniedRow, Direction, InputReport, Protocol};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::settings::{error, raise};
use crate::table::{schema_of, ArrowTable, BatchBuilder};
use crate::{report_json, PySnapshot, Reading};

/// The columns of a share's parts: the connection digest (hex), what the part is (`group`
/// or `report`), and the part as JSON.
fn parts_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("pair", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("part", DataType::Utf8, false),
    ]))
}

/// Reads each file as one share (its place in input order from `orders`) and returns the
/// parts of every share, with the files' accounting.
#[pyfunction]
#[pyo3(signature = (paths, orders, snapshot = None, filters = None, format = None,
    strict = false, include_drops = false))]
#[allow(clippy::too_many_arguments)]
pub fn denied_shares(
    py: Python<'_>,
    paths: Vec<String>,
    orders: Vec<u64>,
    snapshot: Option<PyRef<'_, PySnapshot>>,
    filters: Option<&Bound<'_, PyDict>>,
    format: Option<String>,
    strict: bool,
    include_drops: bool,
) -> PyResult<(ArrowTable, String)> {
    if orders.len() != paths.len() {
        return Err(raise(
            "InvalidValueError",
            format!(
                "expected one order per path, found {} for {} paths",
                orders.len(),
                paths.len()
            ),
            None,
            None,
        ));
    }
    let allowed = crate::filters_but_verdict();
    // Checked before any file is read, and when there is none (a driver's check).
    crate::settings::flow_filter(
        &crate::settings::filter_values(filters, &allowed)?,
        chrono::Utc::now(),
    )?;
    let query = DeniedQuery {
        include_drops,
        unanswered_within: None,
        // Shares are read without the snapshot (it joins and explains once, after the merge),
        // so verdict-less records are not turned into computed denials here.
        policy_denials: false,
    };
    let (mut pair, mut kind, mut part) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut reports: Vec<InputReport> = Vec::new();
    for (path, order) in paths.into_iter().zip(orders) {
        let reading = Reading::new(
            vec![path],
            snapshot.as_deref(),
            filters,
            &allowed,
            format.clone(),
            strict,
        )?;
        let (share, mut summary) = py
            .detach(|| reading.session.denied_partial(&query, order))
            .map_err(|e| error(e, None))?;
        crate::settings::check_summary(&mut summary, strict)?;
        reports.append(&mut summary.reports);
        let PartialDenied {
            groups,
            reports: others,
        } = share;
        for g in groups {
            pair.append_value(format!("{:032x}", g.pair()));
            kind.append_value("group");
            part.append_value(to_json(&g)?);
        }
        for r in others {
            pair.append_value(format!("{:032x}", r.pair));
            kind.append_value("report");
            part.append_value(to_json(&r)?);
        }
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(pair.finish()),
        Arc::new(kind.finish()),
        Arc::new(part.finish()),
    ];
    let batch = RecordBatch::try_new(parts_schema(), arrays).map_err(crate::table::arrow_error)?;
    Ok((
        ArrowTable::from_batches(parts_schema(), vec![batch]),
        report_json(&reports),
    ))
}

fn to_json(value: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| {
        raise(
            "FlowqError",
            format!("cannot write a partial group: {e}"),
            None,
            None,
        )
    })
}

/// The columns `denied_merge` adds after the `flowq denied` row columns, to order the merged
/// connections as `flowq denied` does: most attempts first, then earliest, then by the ends'
/// keys, port, protocol, verdict, side and node.
pub const ORDER_COLUMNS: &[&str] = &[
    "_order_count",
    "_order_first",
    "_order_src",
    "_order_dst",
    "_order_port",
    "_order_protocol",
    "_order_action",
    "_order_direction",
    "_order_node",
];

/// Where a protocol sorts among protocols (the order `flowq denied` uses).
fn protocol_rank(p: Protocol) -> i32 {
    match p {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
        Protocol::Icmpv4 => 3,
        Protocol::Icmpv6 => 4,
        Protocol::Other(n) => 5 + i32::from(n),
        Protocol::Unknown => 1000,
    }
}

fn action_rank(a: Action) -> i32 {
    match a {
        Action::Allowed => 0,
        Action::Denied => 1,
        Action::Dropped => 2,
        Action::Unknown => 3,
    }
}

fn direction_rank(d: Direction) -> i32 {
    match d {
        Direction::Egress => 0,
        Direction::Ingress => 1,
        Direction::Unknown => 2,
    }
}

/// Merges parts (`kinds[i]` is `group` or `report`, `parts[i]` its JSON) into denied
/// connections, explains each once against the snapshot, and returns them as `flowq denied`
/// rows followed by the [`ORDER_COLUMNS`].
#[pyfunction]
#[pyo3(signature = (kinds, parts, snapshot = None))]
pub fn denied_merge(
    py: Python<'_>,
    kinds: Vec<String>,
    parts: Vec<String>,
    snapshot: Option<PyRef<'_, PySnapshot>>,
) -> PyResult<ArrowTable> {
    let set = snapshot.map(|s| s.set.clone());
    let result = py.detach(|| -> Result<ArrowTable, String> {
        let mut share = PartialDenied::default();
        for (i, (kind, part)) in kinds.iter().zip(&parts).enumerate() {
            let bad = |e: serde_json::Error| format!("partial {kind} {i}: {e}");
            match kind.as_str() {
                "group" => share.groups.push(serde_json::from_str(part).map_err(bad)?),
                "report" => share.reports.push(serde_json::from_str(part).map_err(bad)?),
                other => return Err(format!("expected a group or a report, found {other:?}")),
            }
        }
        let mut connections = merge_partials([share]);
        if let Some(set) = set.as_ref().filter(|s| !s.is_empty()) {
            let explainer = Explainer::new(set);
            for c in &mut connections {
                c.explain(&explainer);
            }
        }
        let mut builder = BatchBuilder::new(DeniedRow::COLUMNS);
        let mut order = OrderColumns::default();
        for c in &connections {
            builder.push(&DeniedRow::of(c));
            order
                .count
                .append_value(i64::try_from(c.count).unwrap_or(i64::MAX));
            order
                .first
                .append_option(c.first_seen.map(|t| t.timestamp_micros()));
            order.src.append_value(endpoint_key(&c.src));
            order.dst.append_value(endpoint_key(&c.dst));
            order.port.append_option(c.dst.port.map(i32::from));
            order.protocol.append_value(protocol_rank(c.protocol));
            order.action.append_value(action_rank(c.action));
            order.direction.append_value(direction_rank(c.direction));
            order.node.append_option(c.node.as_deref());
        }
        let rows = builder.finish();
        rows.with_columns(order.finish()).map_err(|e| e.to_string())
    });
    result.map_err(|detail| {
        raise(
            "FlowqError",
            format!("cannot merge denied connections: {detail}"),
            None,
            None,
        )
    })
}

/// The builders of the [`ORDER_COLUMNS`].
#[derive(Default)]
struct OrderColumns {
    count: Int64Builder,
    first: TimestampMicrosecondBuilder,
    src: StringBuilder,
    dst: StringBuilder,
    port: Int32Builder,
    protocol: Int32Builder,
    action: Int32Builder,
    direction: Int32Builder,
    node: StringBuilder,
}

impl OrderColumns {
    fn finish(mut self) -> Vec<(Field, ArrayRef)> {
        let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.count.finish()),
            Arc::new(self.first.finish().with_timezone("UTC")),
            Arc::new(self.src.finish()),
            Arc::new(self.dst.finish()),
            Arc::new(self.port.finish()),
            Arc::new(self.protocol.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.direction.finish()),
            Arc::new(self.node.finish()),
        ];
        ORDER_COLUMNS
            .iter()
            .zip(arrays)
            .map(|(name, array)| {
                let kind = if *name == "_order_first" {
                    time.clone()
                } else {
                    array.data_type().clone()
                };
                (Field::new(*name, kind, true), array)
            })
            .collect()
    }
}

/// The schema `denied_merge` returns, for Spark's `mapInArrow` (the `flowq denied` columns
/// and the order columns).
#[pyfunction]
pub fn denied_merge_columns() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = schema_of(DeniedRow::COLUMNS)
        .fields()
        .iter()
        .map(|f| (f.name().clone(), spark_type(f.data_type())))
        .collect();
    for name in ORDER_COLUMNS {
        let kind = match *name {
            "_order_count" => "bigint",
            "_order_first" => "timestamp",
            "_order_src" | "_order_dst" | "_order_node" => "string",
            _ => "int",
        };
        out.push((name.to_string(), kind.to_string()));
    }
    out
}

/// The Spark SQL type of an Arrow type this module writes.
fn spark_type(t: &DataType) -> String {
    match t {
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Timestamp(..) => "timestamp".into(),
        DataType::List(_) => "array<string>".into(),
        _ => "string".into(),
    }
}

/// The Spark SQL types of `flowq flows` rows, for `mapInArrow`.
#[pyfunction]
pub fn flow_columns() -> Vec<(String, String)> {
    schema_of(netflow_core::FlowRow::COLUMNS)
        .fields()
        .iter()
        .map(|f| (f.name().clone(), spark_type(f.data_type())))
        .collect()
}

/// Registers the functions in the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(denied_shares, m)?)?;
    m.add_function(wrap_pyfunction!(denied_merge, m)?)?;
    m.add_function(wrap_pyfunction!(denied_merge_columns, m)?)?;
    m.add_function(wrap_pyfunction!(flow_columns, m)?)?;
    Ok(())
}
