//! The native steps of `flowq.spark`. `denied`: a worker reads its share of the files (or
//! of a file's byte ranges) into partial denied-connection groups and the other ends'
//! reports (`denied_shares`), keyed by the connection's digest so that Spark can route every
//! part of one connection to one place, and what it saw of each 5-tuple without a verdict,
//! keyed by the 5-tuple pair; the 5-tuple parts meet and become the unanswered requests'
//! groups (`unanswered_merge`); then the groups of a connection are merged and explained
//! once against the snapshot (`denied_merge`), as netflow-core's `unanswered_denials`,
//! `merge_partials` and `DeniedConnection::explain` do. `top`: shares count groups
//! (`top_shares`), the parts of a group meet and each merge hands on its ranked groups
//! (`top_candidates`), the driver ranks those (`top_finish`). `splittable` says whether a
//! file may be cut into byte ranges. The parts travel between the steps as JSON text in an
//! Arrow column: they are flowq's own intermediate state, never shown to a user.

use std::sync::Arc;

use arrow_array::builder::{
    Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use netflow_core::query::{
    endpoint_key, merge_partials, unanswered_denials, Explainer, PartialDenied, PartialTopGroup,
    TopAggregator, UnansweredPart,
};
use netflow_core::{
    Action, DeclaredRow, DeniedQuery, DeniedRow, Direction, Format, InputReport, Protocol, TopQuery,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::settings::{error, raise};
use crate::table::{schema_of, ArrowTable, BatchBuilder};
use crate::{report_json, PySnapshot};

/// The columns of a share's parts: the connection digest (hex), what the part is (`group`
/// or `report`), and the part as JSON.
fn parts_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("pair", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("part", DataType::Utf8, false),
    ]))
}

/// Reads each input as one share (its place in input order from `orders`) and returns the
/// parts of every share, with the inputs' accounting. With `data`, the inputs' bytes as the
/// caller read them (one per path, which names it). With a snapshot, requests without a
/// verdict that the policies deny are groups (computed); with `unanswered`, what each share
/// saw of each 5-tuple without a verdict is a `tuple` part, for `unanswered_merge`. With
/// `part`, each input's bytes are a byte range of its file cut at line starts.
#[pyfunction]
#[pyo3(signature = (paths, orders, snapshot = None, filters = None, format = None,
    strict = false, include_drops = false, data = None, unanswered = true, reply_window = 60,
    part = false))]
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
    data: Option<Vec<Bound<'_, PyBytes>>>,
    unanswered: bool,
    reply_window: u32,
    part: bool,
) -> PyResult<(ArrowTable, String)> {
    check_orders(&orders, paths.len())?;
    let allowed = crate::filters_but_verdict();
    // Checked before any file is read, and when there is none (a driver's check).
    crate::settings::flow_filter(
        &crate::settings::filter_values(filters, &allowed)?,
        chrono::Utc::now(),
    )?;
    let query = DeniedQuery {
        include_drops,
        unanswered_within: unanswered.then(|| chrono::Duration::seconds(reply_window.into())),
        // As `flowq denied`: requests of logs without verdicts that the policies deny are
        // computed denials (the share joins and evaluates with the broadcast snapshot).
        policy_denials: true,
    };
    let mut data = crate::bytes_of(&paths, data, part)?.map(Vec::into_iter);
    let mut out = Parts::default();
    let mut reports: Vec<InputReport> = Vec::new();
    for (path, order) in paths.into_iter().zip(orders) {
        let bytes = data.as_mut().and_then(Iterator::next).map(|b| vec![b]);
        let reading = crate::Reading::of(
            vec![path],
            bytes,
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
            unanswered: tuples,
        } = share;
        for g in groups {
            out.push(g.pair(), "group", &g)?;
        }
        for r in others {
            out.push(r.pair, "report", &r)?;
        }
        for t in tuples {
            out.push(u128::from(t.pair()), "tuple", &t)?;
        }
    }
    Ok((out.finish()?, report_json(&reports)))
}

fn check_orders(orders: &[u64], paths: usize) -> PyResult<()> {
    if orders.len() == paths {
        return Ok(());
    }
    Err(raise(
        "InvalidValueError",
        format!(
            "expected one order per path, found {} for {} paths",
            orders.len(),
            paths
        ),
        None,
        None,
    ))
}

/// Parts being written: `pair` (hex routing key), `kind`, `part` (JSON).
#[derive(Default)]
struct Parts {
    pair: StringBuilder,
    kind: StringBuilder,
    part: StringBuilder,
}

impl Parts {
    fn push(&mut self, pair: u128, kind: &str, part: &impl serde::Serialize) -> PyResult<()> {
        self.pair.append_value(format!("{pair:032x}"));
        self.kind.append_value(kind);
        self.part.append_value(to_json(part)?);
        Ok(())
    }

    fn finish(mut self) -> PyResult<ArrowTable> {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.pair.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.part.finish()),
        ];
        let batch =
            RecordBatch::try_new(parts_schema(), arrays).map_err(crate::table::arrow_error)?;
        Ok(ArrowTable::from_batches(parts_schema(), vec![batch]))
    }
}

/// Turns the `tuple` parts of some 5-tuples and their reverses (all the parts of each) into
/// the unanswered requests' denied-connection groups (`group` parts keyed by connection),
/// leaving out requests the snapshot's policies deny (the shares listed them as computed).
#[pyfunction]
#[pyo3(signature = (parts, snapshot = None, reply_window = 60))]
pub fn unanswered_merge(
    py: Python<'_>,
    parts: Vec<String>,
    snapshot: Option<PyRef<'_, PySnapshot>>,
    reply_window: u32,
) -> PyResult<ArrowTable> {
    let set = snapshot.map(|s| s.set.clone());
    let share = py.detach(|| -> Result<PartialDenied, String> {
        let mut by_pair: std::collections::BTreeMap<u64, Vec<UnansweredPart>> =
            std::collections::BTreeMap::new();
        for (i, part) in parts.iter().enumerate() {
            let part: UnansweredPart =
                serde_json::from_str(part).map_err(|e| format!("partial tuple {i}: {e}"))?;
            by_pair.entry(part.pair()).or_default().push(part);
        }
        let explainer = set.as_ref().filter(|s| !s.is_empty()).map(Explainer::new);
        let window = chrono::Duration::seconds(reply_window.into());
        let mut out = PartialDenied::default();
        for (_, tuples) in by_pair {
            let found = unanswered_denials(tuples, window, explainer.as_ref(), true);
            out.groups.extend(found.groups);
        }
        Ok(out)
    });
    let share = share.map_err(|detail| {
        raise(
            "FlowqError",
            format!("cannot merge unanswered requests: {detail}"),
            None,
            None,
        )
    })?;
    let mut out = Parts::default();
    for g in share.groups {
        out.push(g.pair(), "group", &g)?;
    }
    out.finish()
}

/// The format to read a file in byte ranges with (its name), when its first bytes `head`
/// show records one per line that read on their own; `None`: read it whole.
#[pyfunction]
#[pyo3(signature = (head, format = None))]
pub fn splittable(head: &[u8], format: Option<String>) -> PyResult<Option<String>> {
    let format = format
        .map(|f| {
            f.parse::<Format>()
                .map_err(|e| raise("InvalidValueError", format!("format: {e}"), None, None))
        })
        .transpose()?;
    Ok(netflow_core::ingest::splittable_as(head, format).map(|f| f.name().to_string()))
}

/// The `top` query of the Python arguments (`flowq.top` and the Spark shares alike).
pub(crate) fn top_query(
    by: Vec<String>,
    k: usize,
    bucket: Option<String>,
    include_replies: bool,
) -> PyResult<TopQuery> {
    let bucket = bucket
        .map(|b| {
            netflow_core::query::filter::parse_duration(&b)
                .filter(|d| *d > chrono::TimeDelta::zero())
                .ok_or_else(|| {
                    raise(
                        "InvalidValueError",
                        format!(
                            "invalid bucket value {b:?}: expected a width like 30s, 1m, 5m, 1h or 1d"
                        ),
                        None,
                        None,
                    )
                })
        })
        .transpose()?;
    Ok(TopQuery::new(by, bucket, k)
        .map_err(|e| error(e, Some("by")))?
        .include_replies(include_replies))
}

/// Counts each input's `top` groups as one share (every group, unranked): `group` parts
/// keyed by the group's route (its keys without the bucket), with the inputs' accounting.
/// `data` and `part` as for `denied_shares`.
#[pyfunction]
#[pyo3(signature = (paths, by, k = 10, bucket = None, include_replies = false, snapshot = None,
    filters = None, format = None, strict = false, data = None, part = false))]
#[allow(clippy::too_many_arguments)]
pub fn top_shares(
    py: Python<'_>,
    paths: Vec<String>,
    by: Vec<String>,
    k: usize,
    bucket: Option<String>,
    include_replies: bool,
    snapshot: Option<PyRef<'_, PySnapshot>>,
    filters: Option<&Bound<'_, PyDict>>,
    format: Option<String>,
    strict: bool,
    data: Option<Vec<Bound<'_, PyBytes>>>,
    part: bool,
) -> PyResult<(ArrowTable, String)> {
    let query = top_query(by, k, bucket, include_replies)?;
    let bucketed = query.bucket().is_some();
    let mut data = crate::bytes_of(&paths, data, part)?.map(Vec::into_iter);
    let mut out = Parts::default();
    let mut reports: Vec<InputReport> = Vec::new();
    for path in paths {
        let bytes = data.as_mut().and_then(Iterator::next).map(|b| vec![b]);
        let reading = crate::Reading::of(
            vec![path],
            bytes,
            snapshot.as_deref(),
            filters,
            crate::settings::FILTERS,
            format.clone(),
            strict,
        )?;
        let (groups, mut summary) = py
            .detach(|| reading.session.top_partial(&query))
            .map_err(|e| error(e, None))?;
        crate::settings::check_summary(&mut summary, strict)?;
        reports.append(&mut summary.reports);
        for g in groups {
            out.push(u128::from(g.route(bucketed)), "group", &g)?;
        }
    }
    Ok((out.finish()?, report_json(&reports)))
}

/// An aggregator holding the groups of `parts` merged.
fn top_merged(query: &TopQuery, parts: &[String]) -> PyResult<TopAggregator> {
    let mut aggregator = TopAggregator::new(query.clone());
    for (i, part) in parts.iter().enumerate() {
        let group: PartialTopGroup = serde_json::from_str(part).map_err(|e| {
            raise(
                "FlowqError",
                format!("cannot merge top groups: partial group {i}: {e}"),
                None,
                None,
            )
        })?;
        aggregator.absorb(&group);
    }
    Ok(aggregator)
}

/// Merges the `group` parts of some groups (every part of each) and returns the groups a
/// `top` over them would show, as parts: the only ones that can be among the whole input's.
#[pyfunction]
#[pyo3(signature = (parts, by, k = 10, bucket = None, include_replies = false))]
pub fn top_candidates(
    py: Python<'_>,
    parts: Vec<String>,
    by: Vec<String>,
    k: usize,
    bucket: Option<String>,
    include_replies: bool,
) -> PyResult<ArrowTable> {
    let query = top_query(by, k, bucket, include_replies)?;
    let bucketed = query.bucket().is_some();
    let aggregator = top_merged(&query, &parts)?;
    let groups = py.detach(|| aggregator.finish_partial(true));
    let mut out = Parts::default();
    for g in groups {
        out.push(u128::from(g.route(bucketed)), "group", &g)?;
    }
    out.finish()
}

/// The `top` rows (as `flowq top -o json`) of the candidate parts of every merge.
#[pyfunction]
#[pyo3(signature = (parts, by, k = 10, bucket = None, include_replies = false))]
pub fn top_finish(
    py: Python<'_>,
    parts: Vec<String>,
    by: Vec<String>,
    k: usize,
    bucket: Option<String>,
    include_replies: bool,
) -> PyResult<ArrowTable> {
    let query = top_query(by, k, bucket, include_replies)?;
    let aggregator = top_merged(&query, &parts)?;
    let groups = py.detach(|| aggregator.finish());
    let mut builder = BatchBuilder::new(&groups.columns);
    for row in &groups.rows {
        builder.push(row);
    }
    Ok(builder.finish())
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
    m.add_function(wrap_pyfunction!(unanswered_merge, m)?)?;
    m.add_function(wrap_pyfunction!(splittable, m)?)?;
    m.add_function(wrap_pyfunction!(top_shares, m)?)?;
    m.add_function(wrap_pyfunction!(top_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(top_finish, m)?)?;
    m.add_function(wrap_pyfunction!(denied_merge, m)?)?;
    m.add_function(wrap_pyfunction!(denied_merge_columns, m)?)?;
    m.add_function(wrap_pyfunction!(flow_columns, m)?)?;
    Ok(())
}
