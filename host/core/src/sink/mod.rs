//! Where Parquet is written: each file goes into a staged object (a hidden temporary file,
//! or a multipart upload not yet completed) that becomes visible only when the whole table
//! succeeded, so readers see all of it or nothing.

mod column_order;
mod column_pool;
mod config;
mod dictionary;
pub mod parquet;
mod partition;
mod rejects;
mod row_groups;
mod sorted;
mod upsert;

pub use self::parquet::{
    writer_codec, ParquetSink, Provenance, SinkError, StagedFile, WriterSettings,
};
pub use config::{DateDepth, Format, OutputSpec, Overwrite, Partition, PartitionBy, UpsertSpec};
pub use partition::{date_folder, folder_values, Partitioner};
pub use rejects::{rejects_schema, RejectsBuilder};
pub use upsert::Upsert;
