//! Writing rows for machines: a JSON array, NDJSON (one object per line) or CSV (a header of
//! the column names, lists joined with `;`), streamed row by row in column order. Every row
//! type writes through here (flows, denied connections, `top` groups), so the formats agree;
//! Parquet is written by the `frame` module from the same columns.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use super::rows::{Column, Row, RowObject};
use crate::error::{Error, Result};

/// A machine format for rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowFormat {
    /// One JSON array, pretty-printed one element at a time.
    Json,
    /// One compact JSON object per line.
    Ndjson,
    /// CSV with a header row.
    Csv,
}

impl RowFormat {
    /// The format's name: `json`, `ndjson` or `csv`.
    pub fn name(self) -> &'static str {
        match self {
            RowFormat::Json => "json",
            RowFormat::Ndjson => "ndjson",
            RowFormat::Csv => "csv",
        }
    }
}

impl fmt::Display for RowFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RowFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<RowFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(RowFormat::Json),
            "ndjson" | "jsonl" => Ok(RowFormat::Ndjson),
            "csv" => Ok(RowFormat::Csv),
            _ => Err(Error::Invalid {
                what: "row format",
                value: s.to_string(),
                detail: "expected json, ndjson or csv".into(),
            }),
        }
    }
}

/// Writes rows of one set of columns in one format.
pub struct RowWriter<W: Write> {
    format: RowFormat,
    columns: Vec<Column>,
    out: W,
    rows: u64,
}

impl<W: Write> RowWriter<W> {
    /// A writer of rows with `columns`, in `format`, to `out`.
    pub fn new(format: RowFormat, columns: &[Column], out: W) -> RowWriter<W> {
        RowWriter {
            format,
            columns: columns.to_vec(),
            out,
            rows: 0,
        }
    }

    /// Writes one row.
    pub fn write(&mut self, row: &(impl Row + ?Sized)) -> Result<()> {
        self.write_row(row).map_err(|source| Error::Write {
            what: self.what(),
            source,
        })
    }

    /// Writes every row of `rows`, then ends the output.
    pub fn write_all<'r, R: Row + 'r>(
        mut self,
        rows: impl IntoIterator<Item = &'r R>,
    ) -> Result<W> {
        for row in rows {
            self.write(row)?;
        }
        self.finish()
    }

    /// Ends the output (closes the JSON array, writes a CSV header even for no rows, flushes)
    /// and gives the destination back.
    pub fn finish(mut self) -> Result<W> {
        let what = self.what();
        let wrap = |source| Error::Write { what, source };
        if self.rows == 0 && self.format == RowFormat::Csv {
            self.csv_header().map_err(wrap)?;
        }
        if self.format == RowFormat::Json {
            let end: &[u8] = if self.rows == 0 { b"[]\n" } else { b"\n]\n" };
            self.out.write_all(end).map_err(wrap)?;
        }
        self.out.flush().map_err(wrap)?;
        Ok(self.out)
    }

    fn what(&self) -> &'static str {
        match self.format {
            RowFormat::Json => "JSON rows",
            RowFormat::Ndjson => "NDJSON rows",
            RowFormat::Csv => "CSV rows",
        }
    }

    fn csv_header(&mut self) -> io::Result<()> {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        write_csv_record(&mut self.out, names.iter().copied())
    }

    fn write_row(&mut self, row: &(impl Row + ?Sized)) -> io::Result<()> {
        let object = RowObject {
            columns: &self.columns,
            row,
        };
        let out = &mut self.out;
        match self.format {
            RowFormat::Json => {
                out.write_all(if self.rows == 0 { b"[\n" } else { b",\n" })?;
                let text = serde_json::to_string_pretty(&object).map_err(io::Error::other)?;
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        out.write_all(b"\n")?;
                    }
                    out.write_all(b"  ")?;
                    out.write_all(line.as_bytes())?;
                }
            }
            RowFormat::Ndjson => {
                serde_json::to_writer(&mut *out, &object).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
            RowFormat::Csv => {
                if self.rows == 0 {
                    self.csv_header()?;
                }
                let cells: Vec<String> = (0..self.columns.len())
                    .map(|i| row.cell(i).to_text())
                    .collect();
                write_csv_record(&mut self.out, cells.iter().map(String::as_str))?;
            }
        }
        self.rows += 1;
        Ok(())
    }
}

/// Writes one CSV record (RFC 4180): a field holding a comma, a quote, or a line break is
/// quoted, with its quotes doubled; records end with `\n`.
fn write_csv_record<'a>(
    out: &mut impl Write,
    fields: impl Iterator<Item = &'a str>,
) -> io::Result<()> {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.write_all(b"\"")?;
            out.write_all(field.replace('"', "\"\"").as_bytes())?;
            out.write_all(b"\"")?;
        } else {
            out.write_all(field.as_bytes())?;
        }
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::rows::{Cell, ColumnType};

    struct Pair(u64, Option<String>, Vec<String>);

    impl Row for Pair {
        fn cell(&self, column: usize) -> Cell<'_> {
            match column {
                0 => Cell::UInt(self.0),
                1 => self.1.as_deref().map_or(Cell::Null, Cell::Text),
                2 => Cell::TextList(&self.2),
                _ => Cell::Null,
            }
        }
    }

    const COLUMNS: &[Column] = &[
        Column {
            name: "b",
            kind: ColumnType::Int64,
            meaning: "",
        },
        Column {
            name: "a",
            kind: ColumnType::Text,
            meaning: "",
        },
        Column {
            name: "l",
            kind: ColumnType::TextList,
            meaning: "",
        },
    ];

    fn render(format: RowFormat, rows: &[Pair]) -> String {
        let out = RowWriter::new(format, COLUMNS, Vec::new())
            .write_all(rows)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_is_an_array_even_when_empty() {
        assert_eq!(render(RowFormat::Json, &[]), "[]\n");
        let text = render(
            RowFormat::Json,
            &[
                Pair(1, None, vec![]),
                Pair(2, Some("x".into()), vec!["p".into()]),
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[1]["a"], "x");
        assert_eq!(v[0]["a"], serde_json::Value::Null);
    }

    #[test]
    fn csv_keeps_column_order_joins_lists_and_always_has_a_header() {
        let text = render(
            RowFormat::Csv,
            &[Pair(1, None, vec!["x/y".into(), "z".into()])],
        );
        assert_eq!(text, "b,a,l\n1,,x/y;z\n");
        assert_eq!(render(RowFormat::Csv, &[]), "b,a,l\n");
        let quoted = render(
            RowFormat::Csv,
            &[Pair(2, Some("say \"hi\", then\nleave".into()), vec![])],
        );
        assert_eq!(quoted, "b,a,l\n2,\"say \"\"hi\"\", then\nleave\",\n");
    }

    #[test]
    fn ndjson_is_one_object_per_line_in_column_order() {
        let text = render(
            RowFormat::Ndjson,
            &[Pair(u64::MAX, Some("q\"".into()), vec![])],
        );
        assert_eq!(
            text,
            "{\"b\":18446744073709551615,\"a\":\"q\\\"\",\"l\":[]}\n"
        );
    }
}
