//! The integration tests: each module runs the `sluice` command line (or the kit) end to
//! end on real files, a real S3 server over HTTP and real plugins, and reads the Parquet
//! back with an independent reader (pyarrow).

mod bad_input;
mod borrowers;
mod conformance;
mod csv_input;
mod deploy;
mod events;
mod exports;
mod ingest;
mod local_commits;
mod pipelines;
mod plugin_authoring;
mod plugin_units;
mod plugins;
mod s3;
mod sharding;
mod stepfunctions;
