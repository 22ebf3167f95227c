//! Rows as Arrow record batches, handed to Python through the Arrow PyCapsule interface
//! (`__arrow_c_stream__`): polars, pyarrow, DuckDB and Spark read them without a copy and
//! without JSON. Column types follow the declared row columns exactly as the Parquet export
//! types them (text, Int32, Int64, Boolean, Timestamp(µs, UTC), List(text)); structured data
//! (`ColumnType::Json`) crosses as JSON text in a column marked `flowq.json` in its field
//! metadata, which the Python side decodes into structs. Nothing here decides what a row
//! holds: that is netflow-core's `query::rows`.

use std::collections::HashMap;
use std::ffi::CStr;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchIterator};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use netflow_core::{Cell, Column, ColumnType, Row};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// Rows per record batch: large enough to amortise the per-batch cost, small enough that a
/// batch of flow rows stays a few MB.
pub const BATCH_ROWS: usize = 64 * 1024;

/// The field-metadata key that marks a column holding JSON text.
pub const JSON_MARK: &str = "flowq.json";

const STREAM_NAME: &CStr = c"arrow_array_stream";

/// The Arrow type of a column type (the types of `flowq flows -o parquet`).
fn data_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::TextList => {
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
        }
        // Text, JSON text, and any type added later.
        _ => DataType::Utf8,
    }
}

/// The Arrow schema of declared columns.
pub fn schema_of(columns: &[Column]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let field = Field::new(c.name, data_type(c.kind), true);
            if c.kind == ColumnType::Json {
                field.with_metadata(HashMap::from([(JSON_MARK.to_string(), "true".to_string())]))
            } else {
                field
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The buffers of one column.
enum ColumnBuilder {
    Text(StringBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Bool(BooleanBuilder),
    Time(TimestampMicrosecondBuilder),
    TextList(ListBuilder<StringBuilder>),
}

impl ColumnBuilder {
    fn new(kind: ColumnType) -> ColumnBuilder {
        match kind {
            ColumnType::Int32 => ColumnBuilder::Int32(Int32Builder::new()),
            ColumnType::Int64 => ColumnBuilder::Int64(Int64Builder::new()),
            ColumnType::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            ColumnType::Time => {
                ColumnBuilder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::TextList => ColumnBuilder::TextList(ListBuilder::new(StringBuilder::new())),
            _ => ColumnBuilder::Text(StringBuilder::new()),
        }
    }

    fn push(&mut self, cell: Cell<'_>) {
        match self {
            ColumnBuilder::Text(b) => match cell {
                Cell::Null => b.append_null(),
                Cell::Text(s) => b.append_value(s),
                other => b.append_value(other.to_text()),
            },
            // Ports and other 32-bit columns saturate like the frames do.
            ColumnBuilder::Int32(b) => b.append_option(
                cell.as_i64()
                    .map(|n| i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })),
            ),
            ColumnBuilder::Int64(b) => b.append_option(cell.as_i64()),
            ColumnBuilder::Bool(b) => b.append_option(match cell {
                Cell::Bool(v) => Some(v),
                _ => None,
            }),
            ColumnBuilder::Time(b) => b.append_option(match cell {
                Cell::Time(t) => Some(t.timestamp_micros()),
                _ => None,
            }),
            ColumnBuilder::TextList(b) => match cell {
                Cell::Null => b.append_null(),
                Cell::TextList(items) => {
                    for item in items {
                        b.values().append_value(item);
                    }
                    b.append(true);
                }
                other => {
                    b.values().append_value(other.to_text());
                    b.append(true);
                }
            },
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish().with_timezone("UTC")),
            ColumnBuilder::TextList(b) => Arc::new(b.finish()),
        }
    }
}

/// Accumulates rows of one set of columns into record batches of [`BATCH_ROWS`] rows.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
    batches: Vec<RecordBatch>,
}

impl BatchBuilder {
    /// An empty builder of rows with `columns`.
    pub fn new(columns: &[Column]) -> BatchBuilder {
        BatchBuilder {
            schema: schema_of(columns),
            columns: columns.iter().map(|c| ColumnBuilder::new(c.kind)).collect(),
            rows: 0,
            batches: Vec::new(),
        }
    }

    /// Appends one row.
    pub fn push(&mut self, row: &(impl Row + ?Sized)) {
        for (i, column) in self.columns.iter_mut().enumerate() {
            column.push(row.cell(i));
        }
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.rows == 0 {
            return;
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        self.rows = 0;
        // The arrays were built from the schema's own types, one value per row each.
        match RecordBatch::try_new(self.schema.clone(), arrays) {
            Ok(batch) => self.batches.push(batch),
            Err(e) => unreachable!("a batch built from its own schema is valid: {e}"),
        }
    }

    /// Every row pushed, as a table.
    pub fn finish(mut self) -> ArrowTable {
        self.flush();
        ArrowTable {
            schema: self.schema,
            batches: Mutex::new(self.batches),
        }
    }
}

/// Rows computed by flowq, as Arrow record batches. Any library that reads the Arrow
/// PyCapsule interface takes them as they are: `polars.DataFrame(table)`,
/// `pyarrow.table(table)`, `duckdb.from_arrow(table)`.
#[pyclass(module = "flowq._native", frozen)]
pub struct ArrowTable {
    schema: SchemaRef,
    batches: Mutex<Vec<RecordBatch>>,
}

impl ArrowTable {
    /// A table of these batches, which have `schema`.
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> ArrowTable {
        ArrowTable {
            schema,
            batches: Mutex::new(batches),
        }
    }

    /// The table with `columns` added after its own; each column has one value per row.
    pub fn with_columns(
        self,
        columns: Vec<(Field, ArrayRef)>,
    ) -> Result<ArrowTable, arrow_schema::ArrowError> {
        let mut fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(columns.iter().map(|(f, _)| f.clone()));
        let schema = Arc::new(Schema::new(fields));
        let batches = self
            .batches
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let mut offset = 0;
        let mut out = Vec::with_capacity(batches.len());
        for batch in batches {
            let rows = batch.num_rows();
            let mut arrays = batch.columns().to_vec();
            arrays.extend(columns.iter().map(|(_, a)| a.slice(offset, rows)));
            offset += rows;
            out.push(RecordBatch::try_new(schema.clone(), arrays)?);
        }
        Ok(ArrowTable::from_batches(schema, out))
    }
}

#[pymethods]
impl ArrowTable {
    /// The rows as an Arrow C stream (the Arrow PyCapsule interface). The table can be read
    /// any number of times; `requested_schema` is not supported and ignored, as the interface
    /// allows.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let batches = self
            .batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), self.schema.clone());
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, STREAM_NAME)
    }

    /// Number of rows.
    fn __len__(&self) -> usize {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(RecordBatch::num_rows)
            .sum()
    }

    /// The column names, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The names of the columns that hold JSON text (structured data).
    #[getter]
    fn json_columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .filter(|f| f.metadata().contains_key(JSON_MARK))
            .map(|f| f.name().clone())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "<flowq ArrowTable: {} rows, {} columns>",
            self.__len__(),
            self.schema.fields().len()
        )
    }
}

/// A Rust error in building Arrow data, as a Python exception.
pub fn arrow_error(e: arrow_schema::ArrowError) -> PyErr {
    PyRuntimeError::new_err(format!("cannot build arrow data: {e}"))
}
