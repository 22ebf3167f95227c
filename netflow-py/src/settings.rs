//! Python arguments resolved once into netflow-core types, and netflow-core errors as the
//! Python exceptions of `flowq._errors`: the bindings' counterpart of the CLI's settings.rs.
//! Filters keep the CLI's names with `_` for `-` (`dst_port`, `to_namespace`, `since`), a
//! repeated filter is a list of values (ORed), different filters AND. A bad value is named by
//! its keyword; nothing here reads a log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use netflow_core::cluster::selector::LabelSelector;
use netflow_core::query::filter::{parse_ip_or_cidr, parse_protocol, parse_time};
use netflow_core::query::{FlowFilter, NodePattern, PodPattern, PortRange, VerdictFilter};
use netflow_core::{Error, PolicyError, ReadSummary};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The filter keywords, in the order the CLI lists its flags.
pub const FILTERS: &[&str] = &[
    "namespace",
    "from_namespace",
    "to_namespace",
    "from_pod",
    "to_pod",
    "ip",
    "from_ip",
    "to_ip",
    "dst_port",
    "protocol",
    "from_label",
    "to_label",
    "node",
    "verdict",
    "since",
    "until",
];

/// A raised Python exception of `flowq._errors`, class `class`, with `file` and `line`.
pub fn raise(class: &str, message: String, file: Option<String>, line: Option<u64>) -> PyErr {
    Python::attach(|py| {
        let made = || -> PyResult<PyErr> {
            let errors = py.import("flowq._errors")?;
            let value = errors.getattr(class)?.call1((message.clone(),))?;
            value.setattr("file", file.clone())?;
            value.setattr("line", line)?;
            Ok(PyErr::from_value(value))
        };
        made().unwrap_or_else(|e| e)
    })
}

/// A netflow-core error as the matching `flowq` exception, carrying the file and line it is
/// about. `keyword` names the argument a bad value came from, when there is one.
pub fn error(e: Error, keyword: Option<&str>) -> PyErr {
    let message = match (&e, keyword) {
        (Error::Invalid { value, detail, .. }, Some(k)) => {
            format!("invalid {k} value {value:?}: {detail}")
        }
        (_, Some(k)) => format!("{k}: {e}"),
        _ => e.to_string(),
    };
    match &e {
        Error::Io { input, .. } | Error::UnknownFormat { input, .. } => {
            raise("InputError", message, Some(input.clone()), None)
        }
        Error::NotTheFormat { input, .. } => {
            raise("InputError", message, Some(input.clone()), None)
        }
        Error::Decompress { input, line, .. } => {
            raise("InputError", message, Some(input.clone()), Some(*line))
        }
        Error::Snapshot { path, .. } => raise(
            "SnapshotError",
            message,
            Some(path.display().to_string()).filter(|p| !p.is_empty()),
            None,
        ),
        Error::Selector { .. } | Error::Invalid { .. } => {
            raise("InvalidValueError", message, None, None)
        }
        Error::Policy(PolicyError::BadSubject { .. }) => {
            raise("InvalidValueError", message, None, None)
        }
        Error::Policy(_) => raise("PolicyError", message, None, None),
        _ => raise("FlowqError", message, None, None),
    }
}

/// The values of one keyword: a string, a number, or a list of them.
fn values_of(keyword: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let one = |v: &Bound<'_, PyAny>| -> PyResult<String> {
        if let Ok(s) = v.extract::<String>() {
            return Ok(s);
        }
        if v.is_instance_of::<pyo3::types::PyBool>() {
            return Err(PyTypeError::new_err(format!(
                "{keyword} takes text or a number, not a bool"
            )));
        }
        if let Ok(n) = v.extract::<i64>() {
            return Ok(n.to_string());
        }
        if let Ok(t) = v.extract::<DateTime<Utc>>() {
            return Ok(t.to_rfc3339());
        }
        Err(PyTypeError::new_err(format!(
            "{keyword} takes text, a number or a list of them, not {}",
            v.get_type().name()?
        )))
    };
    if value.is_none() {
        return Ok(Vec::new());
    }
    if value.extract::<String>().is_err()
        && (value.is_instance_of::<pyo3::types::PyList>()
            || value.is_instance_of::<pyo3::types::PyTuple>()
            || value.is_instance_of::<pyo3::types::PySet>())
    {
        return value.try_iter()?.map(|v| one(&v?)).collect();
    }
    Ok(vec![one(value)?])
}

/// The filter keywords given, as text values by keyword; an unknown keyword is a `TypeError`
/// naming the known ones, as Python does for a function's arguments.
pub fn filter_values(
    filters: Option<&Bound<'_, PyDict>>,
    allowed: &[&str],
) -> PyResult<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    let Some(filters) = filters else {
        return Ok(out);
    };
    for (key, value) in filters.iter() {
        let key: String = key.extract()?;
        if !allowed.contains(&key.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "unexpected keyword argument {key:?}; filters are {}",
                allowed.join(", ")
            )));
        }
        out.insert(key.clone(), values_of(&key, &value)?);
    }
    Ok(out)
}

/// The flow filter of keyword values; `since` and `until` may be durations before `now`.
pub fn flow_filter(
    values: &BTreeMap<String, Vec<String>>,
    now: DateTime<Utc>,
) -> PyResult<FlowFilter> {
    fn all<T>(
        values: &BTreeMap<String, Vec<String>>,
        key: &str,
        parse: impl Fn(&str) -> netflow_core::Result<T>,
    ) -> PyResult<Vec<T>> {
        values
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|v| parse(v).map_err(|e| error(e, Some(key))))
            .collect()
    }
    let names = |key: &str| -> PyResult<Vec<String>> {
        all(values, key, |v| {
            let v = v.trim();
            if v.is_empty() {
                return Err(Error::Invalid {
                    what: "namespace",
                    value: v.to_string(),
                    detail: "expected a namespace name".into(),
                });
            }
            Ok(v.to_string())
        })
    };
    let time = |key: &str| -> PyResult<Option<DateTime<Utc>>> {
        let mut times = all(values, key, |v| parse_time(v, now))?;
        if times.len() > 1 {
            return Err(raise(
                "InvalidValueError",
                format!("{key} takes one time, not {}", times.len()),
                None,
                None,
            ));
        }
        Ok(times.pop())
    };
    Ok(FlowFilter {
        namespace: names("namespace")?,
        from_namespace: names("from_namespace")?,
        to_namespace: names("to_namespace")?,
        from_pod: all(values, "from_pod", PodPattern::parse)?,
        to_pod: all(values, "to_pod", PodPattern::parse)?,
        ip: all(values, "ip", parse_ip_or_cidr)?,
        from_ip: all(values, "from_ip", parse_ip_or_cidr)?,
        to_ip: all(values, "to_ip", parse_ip_or_cidr)?,
        dst_port: all(values, "dst_port", PortRange::parse)?,
        protocol: all(values, "protocol", parse_protocol)?,
        from_label: all(values, "from_label", LabelSelector::parse)?,
        to_label: all(values, "to_label", LabelSelector::parse)?,
        node: all(values, "node", NodePattern::parse)?,
        verdict: all(values, "verdict", VerdictFilter::parse)?,
        since: time("since")?,
        until: time("until")?,
    })
}

/// Raises what stopped an input (whole or part-way), and with `strict` the first skipped
/// record: the CLI's exit status 2, as an exception. The error is taken out of `summary`.
pub fn check_summary(summary: &mut ReadSummary, strict: bool) -> PyResult<()> {
    if !summary.failed.is_empty() {
        let (_, e) = summary.failed.remove(0);
        return Err(error(e, None));
    }
    if let Some(e) = summary.reports.iter_mut().find_map(|r| r.failure.take()) {
        return Err(error(e, None));
    }
    if strict {
        if let Some(r) = summary.reports.iter().find(|r| r.skipped > 0) {
            let first = r.skips.first();
            return Err(raise(
                "SkippedRecordsError",
                format!(
                    "skipped {} of {} records in {:?}{}",
                    r.skipped,
                    r.records,
                    r.input,
                    first.map_or(String::new(), |s| format!(
                        " (first at line {}: {})",
                        s.line, s.cause
                    ))
                ),
                Some(r.input.clone()),
                first.map(|s| s.line),
            ));
        }
    }
    Ok(())
}
