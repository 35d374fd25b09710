//! Where bytes are read: input files (globs, gzip, BOM) decoded from CSV, or spreadsheet
//! sheets, into Arrow batches.
//!
//! Every row keeps the source file and line it came from, so rejects and errors can point
//! at the exact place, even when quoted fields span several lines.

mod chunks;
mod convert;
mod csv_reader;
pub mod decimal;
mod error;
mod files;
mod identity;
mod infer;
mod inflate;
mod iso_time;
pub mod names;
mod options;
mod parallel;
mod raw;
mod sheet;
mod tokenize;
mod types;

pub use csv_reader::{CsvInput, SourceBatch};
pub use error::SourceError;
pub use files::{expand, list_folder, open_decompressed, warm_identities, InputObject};
pub use identity::ContentHash;
pub use options::{Compression, CsvOptions, InputSpec, Select};
pub use types::{parse_type, type_name};
