//! Columnar accumulation of rows: each row's cells go straight into typed column buffers, and
//! a batch becomes one [`DataFrame`] with the declared column types.

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::query::{Cell, Column as RowColumn, ColumnType, Row};

/// Buffers of one column. Text goes straight into polars' string builders (the bytes copied
/// once from the cell, no `String` per value), and lists of text into its list builder.
enum ColumnData {
    Text(StringChunkedBuilder),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Time(Vec<Option<i64>>),
    TextList(ListStringChunkedBuilder),
}

/// Values a list column's builder makes room for at first (it grows as needed).
const LIST_VALUES: usize = 1024;

impl ColumnData {
    fn new(column: &RowColumn) -> ColumnData {
        let name = PlSmallStr::from(column.name);
        match column.kind {
            ColumnType::Int32 => ColumnData::Int32(Vec::new()),
            ColumnType::Int64 => ColumnData::Int64(Vec::new()),
            ColumnType::Bool => ColumnData::Bool(Vec::new()),
            ColumnType::Time => ColumnData::Time(Vec::new()),
            ColumnType::TextList => {
                ColumnData::TextList(ListStringChunkedBuilder::new(name, 0, LIST_VALUES))
            }
            // Text, structured data (as JSON text), and any type added later.
            _ => ColumnData::Text(StringChunkedBuilder::new(name, 0)),
        }
    }

    fn push(&mut self, cell: Cell<'_>) {
        match self {
            ColumnData::Text(b) => match cell {
                Cell::Null => b.append_null(),
                Cell::Text(s) => b.append_value(s),
                other => b.append_value(other.to_text()),
            },
            ColumnData::Int32(v) => v.push(
                cell.as_i64()
                    .map(|n| i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })),
            ),
            ColumnData::Int64(v) => v.push(cell.as_i64()),
            ColumnData::Bool(v) => v.push(match cell {
                Cell::Bool(b) => Some(b),
                _ => None,
            }),
            ColumnData::Time(v) => v.push(match cell {
                Cell::Time(t) => Some(t.timestamp_micros()),
                _ => None,
            }),
            ColumnData::TextList(b) => match cell {
                Cell::TextList(items) => b.append_values_iter(items.iter().map(String::as_str)),
                Cell::Null => b.append_null(),
                other => b.append_values_iter(std::iter::once(other.to_text().as_str())),
            },
        }
    }

    fn into_column(self, name: &str) -> Column {
        let name = PlSmallStr::from(name);
        match self {
            ColumnData::Text(b) => b.finish().into_column(),
            ColumnData::Int32(v) => Column::new(name, v),
            ColumnData::Int64(v) => Column::new(name, v),
            ColumnData::Bool(v) => Column::new(name, v),
            ColumnData::Time(v) => Int64Chunked::from_iter_options(name, v.into_iter())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column(),
            ColumnData::TextList(mut b) => b.finish().into_column(),
        }
    }
}

/// Accumulates rows of one set of columns and hands them out as DataFrames of those columns'
/// types ([`super::dtype`]).
pub struct FrameBuilder {
    columns: Vec<RowColumn>,
    data: Vec<ColumnData>,
    rows: usize,
}

impl FrameBuilder {
    /// An empty builder of rows with `columns`.
    pub fn new(columns: &[RowColumn]) -> FrameBuilder {
        FrameBuilder {
            columns: columns.to_vec(),
            data: columns.iter().map(ColumnData::new).collect(),
            rows: 0,
        }
    }

    /// Rows buffered since the last [`FrameBuilder::take`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is buffered.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one row.
    pub fn push(&mut self, row: &(impl Row + ?Sized)) {
        for (i, data) in self.data.iter_mut().enumerate() {
            data.push(row.cell(i));
        }
        self.rows += 1;
    }

    /// The buffered rows as a DataFrame; the builder starts over empty.
    pub fn take(&mut self) -> Result<DataFrame> {
        let height = std::mem::take(&mut self.rows);
        let columns = self
            .columns
            .iter()
            .zip(self.data.iter_mut())
            .map(|(c, data)| std::mem::replace(data, ColumnData::new(c)).into_column(c.name))
            .collect();
        DataFrame::new(height, columns).map_err(|source| Error::Frame {
            what: "build a table of rows".into(),
            source,
        })
    }
}
