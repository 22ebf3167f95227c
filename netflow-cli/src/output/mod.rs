//! Writing results: tables for people, JSON/NDJSON/CSV/Parquet for machines, to standard
//! output or a file.

pub mod destination;
pub mod frame;
pub mod progress;
pub mod records;
pub mod table;

pub use destination::Destination;
pub use records::RecordWriter;
