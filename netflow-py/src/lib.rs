//! `flowq._native`: the Python extension over netflow-core's `Session`. Each function turns
//! Python arguments into the library's settings (settings.rs), reads with the GIL released,
//! and hands rows back as Arrow ([`table::ArrowTable`], the PyCapsule interface) with the
//! inputs' accounting as JSON text (a few objects per input). The pipeline — reading,
//! joining, filtering, grouping, explaining — is netflow-core's; the Python package
//! (`python/flowq`) wraps these functions into DataFrames, warnings and exceptions.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use netflow_core::input::InputBytes;
use netflow_core::policy::Subject;
use netflow_core::query::filter::parse_protocol;
use netflow_core::query::CheckRow;
use netflow_core::{
    DeclaredRow, DeniedQuery, DeniedRow, Format, InputReport, ReadSummary, Session, SnapshotSet,
    SnapshotSpec, Snapshots,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

mod partial;
mod settings;
mod table;

// Rust's allocations in the extension (Python's own objects keep pymalloc): the flowq CLI's
// allocator, so that a reading costs from Python what it costs from the CLI.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use settings::{check_summary, error, filter_values, flow_filter, raise, FILTERS};
use table::{ArrowTable, BatchBuilder};

/// Cluster snapshots loaded once, to join flows to identities and explain denials in any
/// number of calls.
#[pyclass(module = "flowq._native", name = "Snapshot", frozen)]
struct PySnapshot {
    set: SnapshotSet,
}

#[pymethods]
impl PySnapshot {
    /// Loads each `FILE[@TIME]` (JSON or YAML, gzip or not, or a folder of manifests).
    #[new]
    fn new(py: Python<'_>, specs: Vec<String>) -> PyResult<PySnapshot> {
        if specs.is_empty() {
            return Err(raise(
                "InvalidValueError",
                "a snapshot needs at least one file or folder".into(),
                None,
                None,
            ));
        }
        let specs = specs
            .iter()
            .map(|s| SnapshotSpec::from_str(s).map_err(|e| error(e, Some("snapshot"))))
            .collect::<PyResult<Vec<_>>>()?;
        let set = py
            .detach(|| Snapshots::load(specs))
            .map_err(|e| error(e, None))?;
        Ok(PySnapshot { set })
    }

    /// Where each snapshot was loaded from, oldest first.
    #[getter]
    fn sources(&self) -> Vec<String> {
        self.set
            .snapshots()
            .iter()
            .map(|s| s.source.clone())
            .collect()
    }

    /// When each snapshot was taken, oldest first (`None` when unknown).
    #[getter]
    fn taken_at(&self) -> Vec<Option<DateTime<Utc>>> {
        self.set.snapshots().iter().map(|s| s.taken_at).collect()
    }

    /// Counts of what the newest snapshot holds, by kind.
    fn counts(&self) -> BTreeMap<&'static str, usize> {
        let Some(s) = self.set.snapshots().last() else {
            return BTreeMap::new();
        };
        BTreeMap::from([
            ("namespaces", s.namespaces().len()),
            ("pods", s.pods().len()),
            ("services", s.services().len()),
            ("endpointslices", s.endpoint_slices().len()),
            ("nodes", s.nodes().len()),
            ("networkpolicies", s.policies().len()),
        ])
    }

    fn __repr__(&self) -> String {
        format!("flowq.Snapshot({:?})", self.sources())
    }
}

/// What every read takes besides its query: inputs, snapshots, filters, format, strictness.
struct Reading {
    session: Session,
    strict: bool,
}

/// The bytes of each input when a caller read them already (a Spark task), copied out of
/// Python so that reading runs without the GIL; one per path, which names it. With `part`,
/// each is a byte range of its file cut at line starts (read as records one per line).
fn bytes_of(
    paths: &[String],
    data: Option<Vec<Bound<'_, PyBytes>>>,
    part: bool,
) -> PyResult<Option<Vec<InputBytes>>> {
    let Some(data) = data else {
        return Ok(None);
    };
    if data.len() != paths.len() {
        return Err(raise(
            "InvalidValueError",
            format!(
                "expected the bytes of each of the {} inputs, found {}",
                paths.len(),
                data.len()
            ),
            None,
            None,
        ));
    }
    Ok(Some(
        paths
            .iter()
            .zip(data)
            .map(|(name, bytes)| {
                let input = InputBytes::new(name.clone(), bytes.as_bytes().to_vec());
                if part {
                    input.part_of_file()
                } else {
                    input
                }
            })
            .collect(),
    ))
}

impl Reading {
    fn new(
        paths: Vec<String>,
        snapshot: Option<&PySnapshot>,
        filters: Option<&Bound<'_, PyDict>>,
        allowed: &[&str],
        format: Option<String>,
        strict: bool,
    ) -> PyResult<Reading> {
        Reading::of(paths, None, snapshot, filters, allowed, format, strict)
    }

    /// Like [`Reading::new`], over inputs already read into memory when `data` is given.
    fn of(
        paths: Vec<String>,
        data: Option<Vec<InputBytes>>,
        snapshot: Option<&PySnapshot>,
        filters: Option<&Bound<'_, PyDict>>,
        allowed: &[&str],
        format: Option<String>,
        strict: bool,
    ) -> PyResult<Reading> {
        if paths.is_empty() {
            return Err(raise(
                "InvalidValueError",
                "no input: expected one or more flow log paths".into(),
                None,
                None,
            ));
        }
        let filter = flow_filter(&filter_values(filters, allowed)?, Utc::now())?;
        let format = format
            .map(|f| {
                f.parse::<Format>()
                    .map_err(|e| raise("InvalidValueError", format!("format: {e}"), None, None))
            })
            .transpose()?;
        let snapshots = snapshot.map_or_else(Snapshots::none, |s| Snapshots::loaded(s.set.clone()));
        let session = match data {
            Some(inputs) => Session::from_bytes(inputs),
            None => Session::new(paths),
        };
        let session = session
            .with_snapshots(snapshots)
            .with_filter(filter)
            .with_format(format)
            .read_every_record(strict);
        Ok(Reading { session, strict })
    }

    /// The inputs' accounting as JSON text, then what stopped an input (or, strict, a skip)
    /// raised.
    fn settle(&self, mut summary: ReadSummary) -> PyResult<String> {
        let report = report_json(&summary.reports);
        check_summary(&mut summary, self.strict)?;
        Ok(report)
    }
}

/// The reports as a JSON array (`InputReport`'s serialized form).
fn report_json(reports: &[InputReport]) -> String {
    serde_json::to_string(reports).unwrap_or_else(|_| "[]".into())
}

/// Filters without `verdict` (denied connections are denials by definition).
fn filters_but_verdict() -> Vec<&'static str> {
    FILTERS
        .iter()
        .copied()
        .filter(|f| *f != "verdict")
        .collect()
}

/// Every flow record passing the filters, as `flowq flows -o parquet` rows. With `data`, the
/// inputs' bytes as a caller read them (one per path; the paths name them).
#[pyfunction]
#[pyo3(signature = (paths, snapshot = None, filters = None, format = None, strict = false,
    data = None))]
fn flows(
    py: Python<'_>,
    paths: Vec<String>,
    snapshot: Option<PyRef<'_, PySnapshot>>,
    filters: Option<&Bound<'_, PyDict>>,
    format: Option<String>,
    strict: bool,
    data: Option<Vec<Bound<'_, PyBytes>>>,
) -> PyResult<(ArrowTable, String)> {
    let data = bytes_of(&paths, data, false)?;
    let reading = Reading::of(
        paths,
        data,
        snapshot.as_deref(),
        filters,
        FILTERS,
        format,
        strict,
    )?;
    let (table, summary) = py
        .detach(|| {
            let mut builder = BatchBuilder::new(netflow_core::FlowRow::COLUMNS);
            let summary = reading
                .session
                .for_each_flow(|flow| -> netflow_core::Result<()> {
                    builder.push(&reading.session.row_of(&flow));
                    Ok(())
                });
            summary.map(|s| (builder.finish(), s))
        })
        .map_err(|e| error(e, None))?;
    let report = reading.settle(summary)?;
    Ok((table, report))
}

/// Denied connections, as `flowq denied -o json` rows.
#[pyfunction]
#[pyo3(signature = (paths, snapshot = None, filters = None, format = None, strict = false,
    include_drops = false, unanswered = true, reply_window = 60))]
#[allow(clippy::too_many_arguments)]
fn denied(
    py: Python<'_>,
    paths: Vec<String>,
    snapshot: Option<PyRef<'_, PySnapshot>>,
    filters: Option<&Bound<'_, PyDict>>,
    format: Option<String>,
    strict: bool,
    include_drops: bool,
    unanswered: bool,
    reply_window: u32,
) -> PyResult<(ArrowTable, String)> {
    let allowed = filters_but_verdict();
    let reading = Reading::new(
        paths,
        snapshot.as_deref(),
        filters,
        &allowed,
        format,
        strict,
    )?;
    let query = DeniedQuery {
        include_drops,
        unanswered_within: unanswered.then(|| chrono::Duration::seconds(reply_window.into())),
        // As `flowq denied`: requests of logs without verdicts that the policies deny are
        // listed, marked as computed (`verdict_from`).
        policy_denials: true,
    };
    let denied = py
        .detach(|| reading.session.denied(&query))
        .map_err(|e| error(e, None))?;
    let mut builder = BatchBuilder::new(DeniedRow::COLUMNS);
    for c in &denied.connections {
        builder.push(&DeniedRow::of(c));
    }
    let report = reading.settle(denied.summary)?;
    Ok((builder.finish(), report))
}

/// The `top` groups: flows grouped by columns (and time buckets), ranked by count.
#[pyfunction]
#[pyo3(signature = (paths, by, k = 10, bucket = None, include_replies = false, snapshot = None,
    filters = None, format = None, strict = false))]
#[allow(clippy::too_many_arguments)]
fn top(
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
) -> PyResult<(ArrowTable, String)> {
    let query = partial::top_query(by, k, bucket, include_replies)?;
    let reading = Reading::new(paths, snapshot.as_deref(), filters, FILTERS, format, strict)?;
    let top = py
        .detach(|| reading.session.top(&query))
        .map_err(|e| error(e, None))?;
    let mut builder = BatchBuilder::new(&top.groups.columns);
    for row in &top.groups.rows {
        builder.push(row);
    }
    let report = reading.settle(top.summary)?;
    Ok((builder.finish(), report))
}

/// What each input is and what became of its records (`flowq inspect -o json` rows).
#[pyfunction]
#[pyo3(signature = (paths, filters = None, format = None))]
fn inspect(
    py: Python<'_>,
    paths: Vec<String>,
    filters: Option<&Bound<'_, PyDict>>,
    format: Option<String>,
) -> PyResult<(ArrowTable, String)> {
    let reading = Reading::new(paths, None, filters, FILTERS, format, false)?;
    let (rows, summary) = py
        .detach(|| reading.session.inspect())
        .map_err(|e| error(e, None))?;
    let mut builder = BatchBuilder::new(netflow_core::InputRow::COLUMNS);
    for row in &rows {
        builder.push(row);
    }
    // An input that could not be read is in the rows (its error column); only a snapshot
    // failure raised above stops inspection.
    Ok((builder.finish(), report_json(&summary.reports)))
}

/// One connection checked against the snapshot: the `flowq check -o json` object as JSON
/// text, and its one-row table.
#[pyfunction]
#[pyo3(signature = (snapshot, src, dst, port, protocol = "TCP", at = None))]
fn check(
    py: Python<'_>,
    snapshot: PyRef<'_, PySnapshot>,
    src: &str,
    dst: &str,
    port: u16,
    protocol: &str,
    at: Option<String>,
) -> PyResult<(String, ArrowTable)> {
    let protocol = parse_protocol(protocol).map_err(|e| error(e, Some("protocol")))?;
    let at = at
        .map(|t| {
            netflow_core::query::filter::parse_time(&t, Utc::now())
                .map_err(|e| error(e, Some("at")))
        })
        .transpose()?;
    let from = Subject::parse(src).map_err(|e| error(e.into(), Some("src")))?;
    let to = Subject::parse(dst).map_err(|e| error(e.into(), Some("dst")))?;
    let session =
        Session::new(Vec::<String>::new()).with_snapshots(Snapshots::loaded(snapshot.set.clone()));
    let evaluation = py
        .detach(|| session.check(&from, &to, port, protocol, at))
        .map_err(|e| error(e, None))?;
    let json = serde_json::to_string(&*evaluation).map_err(|e| {
        raise(
            "FlowqError",
            format!("cannot write the evaluation: {e}"),
            None,
            None,
        )
    })?;
    let mut builder = BatchBuilder::new(CheckRow::COLUMNS);
    builder.push(&CheckRow::of(&evaluation));
    Ok((json, builder.finish()))
}

/// Checks filter keywords and values (and a format name) as a read would, without reading:
/// a driver's check before work is sent elsewhere. `verdict` is a filter only when
/// `with_verdict`.
#[pyfunction]
#[pyo3(signature = (filters, with_verdict, format = None))]
fn check_filters(
    filters: Option<&Bound<'_, PyDict>>,
    with_verdict: bool,
    format: Option<String>,
) -> PyResult<()> {
    let allowed = if with_verdict {
        FILTERS.to_vec()
    } else {
        filters_but_verdict()
    };
    Reading::new(vec!["-".into()], None, filters, &allowed, format, false).map(|_| ())
}

/// The names of the columns `top` can group by.
#[pyfunction]
fn groupable_columns() -> Vec<&'static str> {
    netflow_core::query::groupable_columns()
}

/// The input formats flowq reads, by name.
#[pyfunction]
fn formats() -> Vec<&'static str> {
    Format::ALL.iter().map(|f| f.name()).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySnapshot>()?;
    m.add_class::<ArrowTable>()?;
    m.add_function(wrap_pyfunction!(flows, m)?)?;
    m.add_function(wrap_pyfunction!(denied, m)?)?;
    m.add_function(wrap_pyfunction!(top, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(check_filters, m)?)?;
    m.add_function(wrap_pyfunction!(groupable_columns, m)?)?;
    m.add_function(wrap_pyfunction!(formats, m)?)?;
    partial::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
