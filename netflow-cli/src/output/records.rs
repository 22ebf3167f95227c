//! Machine output: JSON (one array), NDJSON (one object per line) and CSV (header from the
//! first row's field names, lists joined with `;`). Rows are streamed as they come.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use crate::args::OutputFormat;

/// Writes serializable rows in one machine format.
pub enum RecordWriter<W: Write> {
    /// A JSON array, pretty-printed one element at a time.
    Json {
        /// Destination.
        out: W,
        /// Rows written so far.
        rows: u64,
    },
    /// One compact JSON object per line.
    Ndjson(W),
    /// CSV with a header row.
    Csv {
        /// CSV writer (boxed: it carries its own buffer).
        out: Box<csv::Writer<W>>,
        /// Whether the header was written.
        header: bool,
    },
}

impl<W: Write> RecordWriter<W> {
    /// A writer for `format`; `None` for the table format, which is not streamed, and for
    /// Parquet, which is written from frames.
    pub fn new(format: OutputFormat, out: W) -> Option<RecordWriter<W>> {
        match format {
            OutputFormat::Table | OutputFormat::Parquet => None,
            OutputFormat::Json => Some(RecordWriter::Json { out, rows: 0 }),
            OutputFormat::Ndjson => Some(RecordWriter::Ndjson(out)),
            OutputFormat::Csv => Some(RecordWriter::Csv {
                out: Box::new(csv::WriterBuilder::new().from_writer(out)),
                header: false,
            }),
        }
    }

    /// Writes one row.
    pub fn write<T: Serialize>(&mut self, row: &T) -> io::Result<()> {
        match self {
            RecordWriter::Json { out, rows } => {
                out.write_all(if *rows == 0 { b"[\n" } else { b",\n" })?;
                let text = serde_json::to_string_pretty(row).map_err(io::Error::other)?;
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        out.write_all(b"\n")?;
                    }
                    out.write_all(b"  ")?;
                    out.write_all(line.as_bytes())?;
                }
                *rows += 1;
                Ok(())
            }
            RecordWriter::Ndjson(out) => {
                serde_json::to_writer(&mut *out, row).map_err(io::Error::other)?;
                out.write_all(b"\n")
            }
            RecordWriter::Csv { out, header } => {
                let Value::Object(map) = serde_json::to_value(row).map_err(io::Error::other)?
                else {
                    return Err(io::Error::other("a CSV row must be an object"));
                };
                if !*header {
                    out.write_record(map.keys()).map_err(csv_error)?;
                    *header = true;
                }
                out.write_record(map.values().map(cell)).map_err(csv_error)
            }
        }
    }

    /// Writes every row, then ends the output.
    pub fn write_all<T: Serialize>(mut self, rows: impl Iterator<Item = T>) -> io::Result<()> {
        for row in rows {
            self.write(&row)?;
        }
        self.finish()
    }

    /// Ends the output (closes the JSON array, flushes).
    pub fn finish(self) -> io::Result<()> {
        match self {
            RecordWriter::Json { mut out, rows } => {
                out.write_all(if rows == 0 { b"[]\n" } else { b"\n]\n" })?;
                out.flush()
            }
            RecordWriter::Ndjson(mut out) => out.flush(),
            RecordWriter::Csv { mut out, .. } => out.flush(),
        }
    }
}

fn csv_error(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// A CSV cell: strings as-is, null empty, lists joined with `;`.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        b: u32,
        a: Option<String>,
        l: Vec<&'static str>,
    }

    fn render(format: OutputFormat, rows: &[Row]) -> String {
        let mut buf = Vec::new();
        let mut w = RecordWriter::new(format, &mut buf).unwrap();
        for r in rows {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_is_an_array_even_when_empty() {
        assert_eq!(render(OutputFormat::Json, &[]), "[]\n");
        let text = render(
            OutputFormat::Json,
            &[
                Row {
                    b: 1,
                    a: None,
                    l: vec![],
                },
                Row {
                    b: 2,
                    a: Some("x".into()),
                    l: vec!["p"],
                },
            ],
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[1]["a"], "x");
    }

    #[test]
    fn csv_keeps_field_order_and_joins_lists() {
        let text = render(
            OutputFormat::Csv,
            &[Row {
                b: 1,
                a: None,
                l: vec!["x/y", "z"],
            }],
        );
        assert_eq!(text, "b,a,l\n1,,x/y;z\n");
    }
}
