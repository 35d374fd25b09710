//! The integration tests: each module runs the `sluice` command line (or the kit) end to
//! end on real files, a real S3 server over HTTP and real plugins, and reads the Parquet
//! back with an independent reader (pyarrow).

// A test reads best as one story, so the 60-line limit for host/ functions is not applied.
#![allow(clippy::too_many_lines)]

mod bad_input;
mod borrowers;
mod conformance;
mod crashes;
mod csv_input;
mod deploy;
mod drift;
mod escapes;
mod events;
mod exports;
mod glue;
mod hostile_sheets;
mod iceberg;
mod ingest;
mod local_commits;
mod parquet_files;
mod pipelines;
mod plugin_authoring;
mod plugin_units;
mod plugins;
mod preview;
mod quality;
mod s3;
mod sharding;
mod stepfunctions;
mod types;
