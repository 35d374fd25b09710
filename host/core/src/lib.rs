//! # sluice-core
//!
//! The engine of Sluice, which turns raw table exports (CSV, gzip CSV, spreadsheets) into
//! query-ready Parquet, with the per-table logic in sandboxed WebAssembly plugins. It has
//! no AWS code (`sluice-aws` plugs S3 in through [`storage::Buckets`]). The modules follow
//! a byte through the host, lowest layer first:
//!
//! - [`storage`]: where bytes live: local folders (and, plugged in, S3 buckets) behind one
//!   interface with conditional writes, streaming reads and staged writes;
//! - [`source`]: where bytes are read: files, keys and globs, gzip, CSV and spreadsheet
//!   decoding into Arrow batches, with each input's options;
//! - [`plugin`]: where batches are transformed: the wasmtime engine, the compiled-plugin
//!   cache, one sandboxed session per table, and its limits;
//! - [`sink`]: where Parquet is written: staged files, partition folders, upserts, with
//!   each output's options;
//! - [`commit`]: where outputs become visible: commit units and manifests, the table lock,
//!   the version registry;
//! - [`run`]: the vocabulary every job of a run shares: options, scope, status, errors and
//!   reports;
//! - [`table`]: one table run, as typed stages: prepare, stream, commit;
//! - [`ingest`]: raw ingest jobs, peers of tables: files routed to assets and copied into
//!   date partitions;
//! - [`pipeline`]: the pipeline file that gathers tables and ingest jobs, and running it;
//! - [`vars`]: `${NAME}` in pipeline files; [`name`]: the rule for names that become paths.

pub mod catalog;
pub mod commit;
pub mod iceberg;
pub mod ingest;
pub mod name;
pub mod pipeline;
pub mod plugin;
pub mod quality;
pub mod run;
pub mod sink;
pub mod source;
pub mod storage;
pub mod table;
pub mod vars;

/// The host's own version, recorded in every Parquet file it writes.
pub const HOST_VERSION: &str = env!("CARGO_PKG_VERSION");
