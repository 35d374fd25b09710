//! # Sluice
//!
//! A job host that turns raw table exports (CSV, gzip CSV) into query-ready Parquet, with
//! the per-table logic in sandboxed WebAssembly plugins. The modules follow a byte through
//! the host:
//!
//! - [`pipeline`]: the pipeline file (TOML) that declares tables, inputs, plugin and outputs;
//! - [`storage`]: where bytes live: local folders and S3 buckets behind one interface with
//!   conditional writes, streaming ranged reads and multipart uploads;
//! - [`source`]: where bytes are read: files, keys and globs, gzip, CSV decoding into Arrow batches;
//! - [`plugin`]: where batches are transformed: the wasmtime engine, the compiled-plugin
//!   cache, and one sandboxed session per table;
//! - [`sink`]: where Parquet is written: staged files, partition folders;
//! - [`commit`]: where outputs become visible: commit units and manifests, the table lock,
//!   the version registry;
//! - [`ingest`]: raw ingest jobs: files routed to assets and copied into date partitions;
//! - [`run`]: the wiring: one reader, plugin and writer thread per table, and the run report;
//! - [`job`]: running on AWS: the objects an event names and the tables they go to;
//! - [`cli`]: the `sluice` command line;
//! - [`conformance`]: the plugin conformance kit (`sluice plugin test`).

pub mod cli;
pub mod commit;
pub mod conformance;
pub mod ingest;
pub mod job;
pub mod pipeline;
pub mod plugin;
pub mod run;
pub mod sink;
pub mod source;
pub mod storage;

/// The host's own version, recorded in every Parquet file it writes.
pub const HOST_VERSION: &str = env!("CARGO_PKG_VERSION");
