//! Where bytes are read: input files (globs, gzip, BOM) decoded from CSV, or spreadsheet
//! sheets, into Arrow batches.
//!
//! Every row keeps the source file and line it came from, so rejects and errors can point
//! at the exact place, even when quoted fields span several lines.

mod convert;
mod csv_reader;
mod error;
mod files;
mod infer;
mod raw;
mod sheet;

pub use csv_reader::{CsvInput, SourceBatch};
pub use error::SourceError;
pub use files::{expand, open_decompressed, InputObject};
