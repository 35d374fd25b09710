//! # The `sluice` command line
//!
//! The crates behind it, each with one job:
//!
//! - `sluice-core`: the engine: pipeline files, storage, sources, the plugin runtime,
//!   sinks, commits and table runs, with no AWS code;
//! - `sluice-aws`: the S3 store, Step Functions task tokens and event routing;
//! - `sluice-kit`: the plugin conformance kit;
//! - `sluice-bundle`: the plugins shipped inside the binary.
//!
//! This crate resolves flags, environment variables and the pipeline's `[settings]` once
//! into what a run needs, and turns errors into messages and exit codes.

pub mod cli;
