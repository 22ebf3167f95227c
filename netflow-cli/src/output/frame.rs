//! Writing a DataFrame result (`flowq top`): as a table, as JSON/NDJSON/CSV rows with the
//! column names as keys, or as Parquet.

use std::io::Write;

use anyhow::{bail, Result};
use chrono::{DateTime, SecondsFormat};
use netflow_core::frame::polars::prelude::{AnyValue, DataFrame, TimeUnit};
use netflow_core::frame::ParquetSink;
use serde_json::{Map, Value};

use super::table::{align_right, new_table, thousands, write_table};
use super::RecordWriter;
use crate::args::OutputFormat;

/// A cell as JSON: text, number, boolean, RFC 3339 UTC time, or null.
fn json_value(value: AnyValue<'_>) -> Value {
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int32(n) => Value::from(n),
        AnyValue::Int64(n) => Value::from(n),
        AnyValue::UInt32(n) => Value::from(n),
        AnyValue::UInt64(n) => Value::from(n),
        AnyValue::Datetime(t, unit, _) | AnyValue::DatetimeOwned(t, unit, _) => {
            let time = match unit {
                TimeUnit::Nanoseconds => Some(DateTime::from_timestamp_nanos(t)),
                TimeUnit::Microseconds => DateTime::from_timestamp_micros(t),
                TimeUnit::Milliseconds => DateTime::from_timestamp_millis(t),
            };
            time.map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
                .unwrap_or(Value::Null)
        }
        other => Value::String(other.to_string()),
    }
}

/// The rows of a frame as JSON objects, keys in column order.
pub fn json_rows(frame: &DataFrame) -> Result<Vec<Map<String, Value>>> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut rows = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let mut row = Map::with_capacity(names.len());
        for (name, column) in names.iter().zip(frame.columns()) {
            row.insert(name.clone(), json_value(column.get(i)?));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Writes a frame in a machine format (`Table` is handled by [`write_table_of`]).
pub fn write_frame(frame: &mut DataFrame, format: OutputFormat, out: &mut dyn Write) -> Result<()> {
    if format == OutputFormat::Parquet {
        let mut sink = ParquetSink::new(&mut *out, frame.schema())?;
        sink.write(frame)?;
        sink.finish()?;
        return Ok(());
    }
    let Some(writer) = RecordWriter::new(format, &mut *out) else {
        bail!("write_frame called for a table");
    };
    writer.write_all(json_rows(frame)?.into_iter())?;
    Ok(())
}

/// A table of a frame: upper-case headers, numbers right-aligned with thousands separators,
/// bucket times as `YYYY-MM-DD HH:MM:SS` UTC, nulls as `-`.
pub fn write_table_of(frame: &DataFrame, out: &mut dyn Write) -> Result<()> {
    let rows = json_rows(frame)?;
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| match n.as_str() {
            "bucket" => "BUCKET (UTC)".to_string(),
            other => other.to_uppercase(),
        })
        .collect();
    let header: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut table = new_table(&header);
    let numeric: Vec<usize> = frame
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| c.dtype().is_integer())
        .map(|(i, _)| i)
        .collect();
    for row in rows {
        table.add_row(row.iter().map(|(name, v)| match v {
            Value::Null => "-".to_string(),
            Value::Number(n) if name.ends_with("port") => n.to_string(),
            Value::Number(n) => n.as_u64().map(thousands).unwrap_or_else(|| n.to_string()),
            Value::String(s) if name == "bucket" => s.replace('T', " ").replace('Z', ""),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
    }
    align_right(&mut table, &numeric);
    write_table(out, &table)?;
    Ok(())
}
