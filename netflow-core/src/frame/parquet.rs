//! Parquet export: frames written batch by batch into one file (zstd, one row group per
//! batch), so a large export never holds all rows in memory. Times are timestamps adjusted to
//! UTC, IP addresses text: DuckDB, Polars and BigQuery read the columns with the same names
//! and types.

use std::io::Write;

use polars::io::parquet::write::{BatchedWriter, ParquetWriter};
use polars::prelude::{DataFrame, Schema};

use super::{schema_of, FrameBuilder, FLOW_BATCH_ROWS};
use crate::error::{Error, Result};
use crate::query::{Column, Row};

/// Writes DataFrames of one schema into a Parquet stream.
pub struct ParquetSink<W: Write> {
    writer: BatchedWriter<W>,
    rows: u64,
}

impl<W: Write> ParquetSink<W> {
    /// Starts a Parquet stream on `out` for frames of `schema`.
    pub fn new(out: W, schema: &Schema) -> Result<ParquetSink<W>> {
        let writer = ParquetWriter::new(out)
            .batched(schema)
            .map_err(|source| Error::Frame {
                what: "start a parquet file".into(),
                source,
            })?;
        Ok(ParquetSink { writer, rows: 0 })
    }

    /// Appends a frame (as one or more row groups).
    pub fn write(&mut self, frame: &mut DataFrame) -> Result<()> {
        if frame.height() == 0 {
            return Ok(());
        }
        frame.rechunk_mut();
        self.writer
            .write_batch(frame)
            .map_err(|source| Error::Frame {
                what: "write parquet rows".into(),
                source,
            })?;
        self.rows += frame.height() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer; the stream is a complete Parquet file afterwards.
    pub fn finish(self) -> Result<u64> {
        self.writer.finish().map_err(|source| Error::Frame {
            what: "finish the parquet file".into(),
            source,
        })?;
        Ok(self.rows)
    }
}

/// Writes rows of one set of columns into Parquet, [`FLOW_BATCH_ROWS`] at a time.
pub struct ParquetRowWriter<W: Write> {
    builder: FrameBuilder,
    sink: ParquetSink<W>,
}

impl<W: Write> ParquetRowWriter<W> {
    /// Starts a Parquet stream of rows with `columns` on `out`.
    pub fn new(columns: &[Column], out: W) -> Result<ParquetRowWriter<W>> {
        Ok(ParquetRowWriter {
            builder: FrameBuilder::new(columns),
            sink: ParquetSink::new(out, &schema_of(columns))?,
        })
    }

    /// Appends one row.
    pub fn push(&mut self, row: &(impl Row + ?Sized)) -> Result<()> {
        self.builder.push(row);
        if self.builder.len() >= FLOW_BATCH_ROWS {
            let mut batch = self.builder.take()?;
            self.sink.write(&mut batch)?;
        }
        Ok(())
    }

    /// Writes the remaining rows and the footer; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        let mut batch = self.builder.take()?;
        self.sink.write(&mut batch)?;
        self.sink.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Flow;
    use crate::query::{DeclaredRow, FlowRow};
    use polars::prelude::*;

    #[test]
    fn written_rows_read_back_with_the_same_schema() {
        let mut bytes = Vec::new();
        let mut writer = ParquetRowWriter::new(FlowRow::COLUMNS, &mut bytes).unwrap();
        for port in [80u16, 443, 9200] {
            let mut f = Flow::test_flow("10.0.0.1", "fd00::2", port);
            f.time = "2026-11-20T19:05:02.5Z".parse().ok();
            writer.push(&FlowRow::of(&f)).unwrap();
        }
        assert_eq!(writer.finish().unwrap(), 3);
        let back = ParquetReader::new(std::io::Cursor::new(bytes))
            .finish()
            .unwrap();
        assert_eq!(back.schema().as_ref(), &schema_of(FlowRow::COLUMNS));
        assert_eq!(back.height(), 3);
        assert_eq!(
            back.column("dst_ip").unwrap().str().unwrap().get(0),
            Some("fd00::2")
        );
        assert_eq!(
            back.column("dst_port").unwrap().i32().unwrap().get(2),
            Some(9200)
        );
    }

    #[test]
    fn an_empty_export_is_still_a_parquet_file() {
        let mut bytes = Vec::new();
        let writer = ParquetRowWriter::new(FlowRow::COLUMNS, &mut bytes).unwrap();
        assert_eq!(writer.finish().unwrap(), 0);
        assert_eq!(&bytes[..4], b"PAR1");
        let back = ParquetReader::new(std::io::Cursor::new(bytes))
            .finish()
            .unwrap();
        assert_eq!(back.height(), 0);
        assert_eq!(back.width(), FlowRow::COLUMNS.len());
    }
}
