//! Columnar accumulation of rows: each row is serialized straight into typed column buffers
//! (no intermediate JSON value), and a batch becomes one [`DataFrame`].

use std::marker::PhantomData;

use chrono::DateTime;
use polars::prelude::*;
use serde::ser::{self, Impossible, Serialize};

use super::{ColumnType, FrameRow};
use crate::error::{Error, Result};

/// Buffers of one column.
enum ColumnData {
    /// A column left out of the frame: its values are not even serialized.
    Skipped,
    Text(Vec<Option<String>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Time(Vec<Option<i64>>),
    TextList(Vec<Option<Vec<String>>>),
}

impl ColumnData {
    fn new(kind: ColumnType) -> ColumnData {
        match kind {
            ColumnType::Text => ColumnData::Text(Vec::new()),
            ColumnType::Int32 => ColumnData::Int32(Vec::new()),
            ColumnType::Int64 => ColumnData::Int64(Vec::new()),
            ColumnType::Bool => ColumnData::Bool(Vec::new()),
            ColumnType::Time => ColumnData::Time(Vec::new()),
            ColumnType::TextList => ColumnData::TextList(Vec::new()),
        }
    }

    fn push_null(&mut self) {
        match self {
            ColumnData::Skipped => {}
            ColumnData::Text(v) => v.push(None),
            ColumnData::Int32(v) => v.push(None),
            ColumnData::Int64(v) => v.push(None),
            ColumnData::Bool(v) => v.push(None),
            ColumnData::Time(v) => v.push(None),
            ColumnData::TextList(v) => v.push(None),
        }
    }

    fn into_column(self, name: &str) -> Option<Column> {
        let name = PlSmallStr::from(name);
        Some(match self {
            ColumnData::Skipped => return None,
            ColumnData::Text(v) => Column::new(name, v),
            ColumnData::Int32(v) => Column::new(name, v),
            ColumnData::Int64(v) => Column::new(name, v),
            ColumnData::Bool(v) => Column::new(name, v),
            ColumnData::Time(v) => Int64Chunked::from_iter_options(name, v.into_iter())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column(),
            ColumnData::TextList(v) => {
                let mut builder = ListStringChunkedBuilder::new(name, v.len(), v.len());
                for item in &v {
                    match item {
                        Some(values) => {
                            builder.append_values_iter(values.iter().map(String::as_str))
                        }
                        None => builder.append_null(),
                    }
                }
                builder.finish().into_column()
            }
        })
    }
}

/// Accumulates rows of type `R` into columns and hands them out as DataFrames with the
/// schema [`FrameRow::COLUMNS`] declares.
pub struct FrameBuilder<R> {
    columns: Vec<ColumnData>,
    selected: Vec<bool>,
    rows: usize,
    row_type: PhantomData<fn(&R)>,
}

impl<R: FrameRow> Default for FrameBuilder<R> {
    fn default() -> Self {
        FrameBuilder::new()
    }
}

impl<R: FrameRow> FrameBuilder<R> {
    /// An empty builder of every column.
    pub fn new() -> FrameBuilder<R> {
        FrameBuilder::with_selected(vec![true; R::COLUMNS.len()])
    }

    /// An empty builder of only the columns named in `names` (in schema order); the others are
    /// not stored. Unknown names are ignored.
    pub fn with_columns(names: &[&str]) -> FrameBuilder<R> {
        FrameBuilder::with_selected(R::COLUMNS.iter().map(|c| names.contains(&c.name)).collect())
    }

    fn with_selected(selected: Vec<bool>) -> FrameBuilder<R> {
        FrameBuilder {
            columns: R::COLUMNS
                .iter()
                .zip(&selected)
                .map(|(c, keep)| {
                    if *keep {
                        ColumnData::new(c.kind)
                    } else {
                        ColumnData::Skipped
                    }
                })
                .collect(),
            selected,
            rows: 0,
            row_type: PhantomData,
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
    pub fn push(&mut self, row: &R) -> Result<()> {
        let mut cells = RowSerializer {
            columns: &mut self.columns,
            next: 0,
            type_name: std::any::type_name::<R>(),
            specs: R::COLUMNS,
        };
        match row.serialize(&mut cells) {
            Ok(()) if cells.next == R::COLUMNS.len() => {
                self.rows += 1;
                Ok(())
            }
            Ok(()) => {
                let filled = cells.next;
                self.rollback(filled);
                Err(schema_error(format!(
                    "{} wrote {filled} of {} columns",
                    std::any::type_name::<R>(),
                    R::COLUMNS.len()
                )))
            }
            Err(e) => {
                let filled = cells.next;
                self.rollback(filled);
                Err(schema_error(e.0))
            }
        }
    }

    /// Removes the cells a failed row left in its first `filled` columns, so every column keeps
    /// the same length.
    fn rollback(&mut self, filled: usize) {
        for column in self.columns.iter_mut().take(filled) {
            match column {
                ColumnData::Skipped => {}
                ColumnData::Text(v) => drop(v.pop()),
                ColumnData::Int32(v) => drop(v.pop()),
                ColumnData::Int64(v) => drop(v.pop()),
                ColumnData::Bool(v) => drop(v.pop()),
                ColumnData::Time(v) => drop(v.pop()),
                ColumnData::TextList(v) => drop(v.pop()),
            }
        }
    }

    /// The buffered rows as a DataFrame; the builder starts over empty.
    pub fn take(&mut self) -> Result<DataFrame> {
        let height = std::mem::take(&mut self.rows);
        let columns = R::COLUMNS
            .iter()
            .zip(self.columns.iter_mut())
            .zip(&self.selected)
            .filter(|(_, keep)| **keep)
            .filter_map(|((spec, data), _)| {
                std::mem::replace(data, ColumnData::new(spec.kind)).into_column(spec.name)
            })
            .collect();
        DataFrame::new(height, columns).map_err(|source| Error::Frame {
            what: format!("build a table of {}", std::any::type_name::<R>()),
            source,
        })
    }
}

fn schema_error(detail: String) -> Error {
    Error::Frame {
        what: "fill a table row".to_string(),
        source: PolarsError::SchemaMismatch(detail.into()),
    }
}

/// Why a row could not be written into its columns.
#[derive(Debug)]
struct CellError(String);

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CellError {}

impl ser::Error for CellError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        CellError(msg.to_string())
    }
}

/// Routes the fields of one serialized struct to the columns, in declaration order.
struct RowSerializer<'a> {
    columns: &'a mut [ColumnData],
    next: usize,
    type_name: &'static str,
    specs: &'static [super::ColumnSpec],
}

/// Writes one value into one column.
struct CellSerializer<'a> {
    column: &'a mut ColumnData,
    name: &'static str,
}

impl CellSerializer<'_> {
    fn mismatch(&self, what: &str) -> CellError {
        CellError(format!("column {} cannot hold {what}", self.name))
    }

    fn int(self, v: i128) -> Result<(), CellError> {
        match self.column {
            ColumnData::Int32(c) => c
                .push(Some(i32::try_from(v).map_err(|_| {
                    CellError(format!("column {}: {v} is out of range", self.name))
                })?)),
            ColumnData::Int64(c) => c.push(Some(i64::try_from(v).unwrap_or(i64::MAX))),
            _ => return Err(self.mismatch("a number")),
        }
        Ok(())
    }
}

macro_rules! unsupported {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ret, CellError> {
            Err(self.mismatch(stringify!($method)))
        })*
    };
}

impl<'a> ser::Serializer for CellSerializer<'a> {
    type Ok = ();
    type Error = CellError;
    type SerializeSeq = ListCells<'a>;
    type SerializeTuple = Impossible<(), CellError>;
    type SerializeTupleStruct = Impossible<(), CellError>;
    type SerializeTupleVariant = Impossible<(), CellError>;
    type SerializeMap = Impossible<(), CellError>;
    type SerializeStruct = Impossible<(), CellError>;
    type SerializeStructVariant = Impossible<(), CellError>;

    fn serialize_bool(self, v: bool) -> Result<(), CellError> {
        match self.column {
            ColumnData::Bool(c) => c.push(Some(v)),
            _ => return Err(self.mismatch("a boolean")),
        }
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), CellError> {
        self.int(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), CellError> {
        self.int(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), CellError> {
        self.int(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), CellError> {
        self.int(v.into())
    }
    fn serialize_u8(self, v: u8) -> Result<(), CellError> {
        self.int(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), CellError> {
        self.int(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), CellError> {
        self.int(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), CellError> {
        self.int(v.into())
    }
    fn serialize_str(self, v: &str) -> Result<(), CellError> {
        match self.column {
            ColumnData::Text(c) => c.push(Some(v.to_string())),
            ColumnData::Time(c) => {
                let t = DateTime::parse_from_rfc3339(v).map_err(|e| {
                    CellError(format!("column {}: {v:?} is not a time: {e}", self.name))
                })?;
                c.push(Some(t.timestamp_micros()));
            }
            _ => return Err(self.mismatch("text")),
        }
        Ok(())
    }
    fn serialize_none(self) -> Result<(), CellError> {
        self.column.push_null();
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), CellError> {
        self.serialize_none()
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<ListCells<'a>, CellError> {
        match self.column {
            ColumnData::TextList(c) => Ok(ListCells {
                column: c,
                items: Vec::with_capacity(len.unwrap_or(0)),
                name: self.name,
            }),
            _ => Err(self.mismatch("a list")),
        }
    }

    unsupported! {
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), CellError> {
        Err(self.mismatch("an enum variant"))
    }
}

/// Collects the text items of a list cell.
struct ListCells<'a> {
    column: &'a mut Vec<Option<Vec<String>>>,
    items: Vec<String>,
    name: &'static str,
}

impl ser::SerializeSeq for ListCells<'_> {
    type Ok = ();
    type Error = CellError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), CellError> {
        match serde_json::to_value(value) {
            Ok(serde_json::Value::String(s)) => {
                self.items.push(s);
                Ok(())
            }
            _ => Err(CellError(format!(
                "column {}: list items must be text",
                self.name
            ))),
        }
    }

    fn end(self) -> Result<(), CellError> {
        self.column.push(Some(self.items));
        Ok(())
    }
}

impl ser::Serializer for &mut RowSerializer<'_> {
    type Ok = ();
    type Error = CellError;
    type SerializeSeq = Impossible<(), CellError>;
    type SerializeTuple = Impossible<(), CellError>;
    type SerializeTupleStruct = Impossible<(), CellError>;
    type SerializeTupleVariant = Impossible<(), CellError>;
    type SerializeMap = Impossible<(), CellError>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), CellError>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, CellError> {
        Ok(self)
    }

    unsupported! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), CellError> {
        Err(self.mismatch("serialize_some"))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), CellError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), CellError> {
        Err(self.mismatch("an enum variant"))
    }
}

impl RowSerializer<'_> {
    fn mismatch(&self, what: &str) -> CellError {
        CellError(format!("{} must be a struct, not {what}", self.type_name))
    }
}

impl ser::SerializeStruct for &mut RowSerializer<'_> {
    type Ok = ();
    type Error = CellError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CellError> {
        let spec = self
            .specs
            .get(self.next)
            .ok_or_else(|| CellError(format!("{} has more fields than columns", self.type_name)))?;
        if spec.name != key {
            return Err(CellError(format!(
                "{}: field {key} is where column {} is declared",
                self.type_name, spec.name
            )));
        }
        let column = &mut self.columns[self.next];
        if !matches!(column, ColumnData::Skipped) {
            value.serialize(CellSerializer {
                column,
                name: spec.name,
            })?;
        }
        self.next += 1;
        Ok(())
    }

    fn end(self) -> Result<(), CellError> {
        Ok(())
    }
}
