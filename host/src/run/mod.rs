//! The wiring: every table of a pipeline runs as a reader, a plugin and a writer thread
//! joined by bounded channels, and the run ends with a JSON report.

mod error;
mod outputs;
mod report;
mod table;

use std::time::{Duration, Instant};

pub use error::{ErrorKind, TableError};
pub use outputs::REJECTS;
pub use report::{InputReport, OutputReport, PluginReport, RunReport, Status, TableReport};

use crate::pipeline::Pipeline;
use crate::plugin::{EngineOptions, PluginEngine, PluginError};
use crate::storage::{S3Settings, Storage};

/// How a run is carried out (everything that is not in the pipeline file).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub run_id: String,
    /// Run start, microseconds since the Unix epoch (UTC); plugins see this as "now".
    pub run_time_micros: i64,
    pub engine: EngineOptions,
    /// Only these tables (all when empty).
    pub tables: Vec<String>,
    /// Overrides every table's batch size.
    pub batch_rows: Option<usize>,
    /// Stop at the first failed table instead of going on with the others.
    pub fail_fast: bool,
    /// Show progress bars on the terminal.
    pub progress: bool,
    /// Process inputs again even if their unit or version was already committed.
    pub force: bool,
    /// How long to wait for a table locked by another run.
    pub lock_wait: Duration,
    /// How long a table lock lasts without renewal (a crashed holder's lock frees after it).
    pub lock_lease: Duration,
    pub s3: S3Settings,
}

/// Runs the pipeline's tables one after another and reports on each.
pub fn run_pipeline(pipeline: &Pipeline, options: &RunOptions) -> Result<RunReport, PluginError> {
    let started = Instant::now();
    let selected = |name: &String| options.tables.is_empty() || options.tables.contains(name);
    let mut engine_options = options.engine.clone();
    engine_options.fuel |= pipeline.tables.iter().any(|(name, t)| selected(name) && t.limits.fuel_per_call.is_some());
    let engine = PluginEngine::new(engine_options)?;
    let storage = Storage::new(options.s3.clone());
    let mut report = RunReport::new(&options.run_id, options.run_time_micros);
    for (name, spec) in &pipeline.tables {
        if !selected(name) {
            continue;
        }
        let batch_rows = options.batch_rows.or(spec.batch_rows).unwrap_or(pipeline.defaults.batch_rows);
        let table = table::run_table(name, spec, &engine, &storage, options, batch_rows);
        if let Some(error) = &table.error {
            tracing::error!(table = %name, "{error}");
        } else {
            tracing::info!(table = %name, rows_in = table.rows_in, rows_out = table.rows_out, rejected = table.rows_rejected, ms = table.duration_ms, "table done");
        }
        let failed = table.error.is_some();
        report.tables.push(table);
        if failed && options.fail_fast {
            break;
        }
    }
    let failed = report.tables.iter().any(|t| t.status == Status::Failed);
    for (name, spec) in &pipeline.ingest {
        if !selected(name) || (failed && options.fail_fast) {
            continue;
        }
        let ingest = crate::ingest::run_ingest(name, spec, &storage, options);
        match &ingest.error {
            Some(error) => tracing::error!(ingest = %name, "{error}"),
            None => tracing::info!(ingest = %name, copied = ingest.copied, skipped = ingest.skipped, "ingest done"),
        }
        let stop = ingest.error.is_some() && options.fail_fast;
        report.ingests.push(ingest);
        if stop {
            break;
        }
    }
    report.finish(started.elapsed());
    Ok(report)
}
