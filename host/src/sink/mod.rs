//! Where Parquet is written: each output is written aside under a hidden name and renamed
//! into place only when the whole table succeeded, so readers see all of it or nothing.

pub mod parquet;
mod rejects;

pub use self::parquet::{ParquetSink, Provenance, SinkError, StagedFile, WriterSettings};
pub use rejects::{rejects_schema, RejectsBuilder};
