//! Writing results: tables for people, JSON/NDJSON/CSV for machines.

pub mod records;
pub mod table;

pub use records::RecordWriter;
