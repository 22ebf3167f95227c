//! Writing results: tables for people (`table.rs`), and every machine format through one
//! entry point, [`write_rows`] (or [`RowSink`] for rows that stream): JSON, NDJSON and CSV by
//! the library's row writer, Parquet by its frames. Every row type declares its columns once
//! in the library, so every command writes every format the same way.

pub mod destination;
pub mod progress;
pub mod table;
pub mod terminal;

use std::io::Write;

use anyhow::{bail, Result};
use netflow_core::frame::ParquetRowWriter;
use netflow_core::{Column, Row, RowFormat, RowWriter};

use crate::args::OutputFormat;
pub use destination::Destination;

/// Where rows of one set of columns go, one at a time, in a machine format.
pub enum RowSink<W: Write> {
    /// JSON, NDJSON or CSV.
    Text(RowWriter<W>),
    /// Parquet (boxed: its writer carries its row-group state).
    Parquet(Box<ParquetRowWriter<W>>),
}

impl<W: Write> RowSink<W> {
    /// A sink for `format`; the table format is not a sink (a table needs every row first).
    pub fn open(format: OutputFormat, columns: &[Column], out: W) -> Result<RowSink<W>> {
        let text = match format {
            OutputFormat::Json => RowFormat::Json,
            OutputFormat::Ndjson => RowFormat::Ndjson,
            OutputFormat::Csv => RowFormat::Csv,
            OutputFormat::Parquet => {
                return Ok(RowSink::Parquet(Box::new(ParquetRowWriter::new(
                    columns, out,
                )?)))
            }
            OutputFormat::Table => bail!("a table is not written row by row"),
        };
        Ok(RowSink::Text(RowWriter::new(text, columns, out)))
    }

    /// Writes one row.
    pub fn write(&mut self, row: &(impl Row + ?Sized)) -> Result<()> {
        match self {
            RowSink::Text(w) => w.write(row)?,
            RowSink::Parquet(w) => w.push(row)?,
        }
        Ok(())
    }

    /// Ends the output.
    pub fn finish(self) -> Result<()> {
        match self {
            RowSink::Text(w) => drop(w.finish()?),
            RowSink::Parquet(w) => drop(w.finish()?),
        }
        Ok(())
    }
}

/// Writes `rows` (with `columns`) in the machine `format` to `out`.
pub fn write_rows<'r, R: Row + 'r>(
    format: OutputFormat,
    columns: &[Column],
    rows: impl IntoIterator<Item = &'r R>,
    out: &mut dyn Write,
) -> Result<()> {
    let mut sink = RowSink::open(format, columns, out)?;
    for row in rows {
        sink.write(row)?;
    }
    sink.finish()
}
