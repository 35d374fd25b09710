//! The wiring: every table of a pipeline runs as a reader, a plugin and a writer thread
//! joined by bounded channels, and the run ends with a JSON report.

mod error;
mod outputs;
mod report;
pub mod scope;
mod table;

use std::time::{Duration, Instant};

pub use error::{ErrorKind, TableError};
pub use outputs::REJECTS;
pub use scope::{Item, Scope};
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
    /// The share of the work this run does (Batch array shard, Distributed Map items).
    pub scope: Scope,
    /// Set per object when the work is split: the lock then covers that object's unit.
    pub lock_scope: Option<String>,
}

/// A table's runs in this scope: the whole table, or one run per object of its share.
fn scoped_runs(
    name: &str,
    spec: &crate::pipeline::TableSpec,
    engine: &PluginEngine,
    storage: &Storage,
    options: &RunOptions,
    batch_rows: usize,
) -> Vec<TableReport> {
    if options.scope.is_all() {
        return vec![table::run_table(name, spec, engine, storage, options, batch_rows)];
    }
    if scope::splittable_input(spec).is_none() {
        return match options.scope.takes_whole(name) {
            true => vec![table::run_table(name, spec, engine, storage, options, batch_rows)],
            false => Vec::new(),
        };
    }
    let objects = match scope::objects(spec, storage) {
        Ok(objects) => objects,
        Err(source) => {
            let mut failed = TableReport::new(name);
            let error = TableError::Source { input: "input".into(), source };
            failed.status = Status::Failed;
            failed.error_kind = Some(error.kind());
            failed.error = Some(format!("table `{name}`: {error}"));
            return vec![failed];
        }
    };
    if let Scope::Items(items) = &options.scope {
        let listed: std::collections::BTreeSet<&str> = objects.iter().map(|(o, _)| o.as_str()).collect();
        if let Some((_, missing)) = items.iter().find(|(t, o)| t == name && !o.is_empty() && !listed.contains(o.as_str())) {
            let mut failed = TableReport::new(name);
            failed.status = Status::Failed;
            failed.error_kind = Some(ErrorKind::Config);
            failed.error = Some(format!("table `{name}`: item {missing} is not among the input's objects"));
            return vec![failed];
        }
    }
    objects
        .into_iter()
        .filter(|(object, _)| options.scope.takes(name, object))
        .map(|(object, _)| {
            let mut one = options.clone();
            one.lock_scope = Some(format!("{:016x}", scope::shard_of(&object, u64::MAX)));
            table::run_table(name, &scope::narrowed(spec, &object), engine, storage, &one, batch_rows)
        })
        .collect()
}

/// The units of work of a pipeline: every object of every splittable table (with the shard
/// it falls in when `shards` is given), and each other table and ingest job as a whole
/// (object "", done by shard 0).
pub fn plan(pipeline: &Pipeline, storage: &Storage, shards: Option<u64>) -> Result<Vec<Item>, crate::source::SourceError> {
    let mut items = Vec::new();
    for name in pipeline.ingest.keys() {
        items.push(Item { table: name.clone(), object: String::new(), size: None, shard: shards.map(|_| 0) });
    }
    for (name, spec) in &pipeline.tables {
        if scope::splittable_input(spec).is_none() {
            items.push(Item { table: name.clone(), object: String::new(), size: None, shard: shards.map(|_| 0) });
            continue;
        }
        for (object, size) in scope::objects(spec, storage)? {
            let shard = shards.map(|n| scope::shard_of(&object, n));
            items.push(Item { table: name.clone(), object, size: Some(size), shard });
        }
    }
    Ok(items)
}

/// Runs the pipeline's tables one after another and reports on each.
pub fn run_pipeline(pipeline: &Pipeline, options: &RunOptions) -> Result<RunReport, PluginError> {
    run_pipeline_with(pipeline, options, &Storage::new(options.s3.clone()))
}

/// Like [`run_pipeline`], through a given storage, so one S3 client serves a whole job.
pub fn run_pipeline_with(pipeline: &Pipeline, options: &RunOptions, storage: &Storage) -> Result<RunReport, PluginError> {
    let started = Instant::now();
    let selected = |name: &String| options.tables.is_empty() || options.tables.contains(name);
    let mut engine_options = options.engine.clone();
    engine_options.fuel |= pipeline.tables.iter().any(|(name, t)| selected(name) && t.limits.fuel_per_call.is_some());
    let engine = PluginEngine::new(engine_options)?;
    let mut report = RunReport::new(&options.run_id, options.run_time_micros);
    for (name, spec) in &pipeline.tables {
        if !selected(name) {
            continue;
        }
        let batch_rows = options.batch_rows.or(spec.batch_rows).unwrap_or(pipeline.defaults.batch_rows);
        let mut failed = false;
        for table in scoped_runs(name, spec, &engine, storage, options, batch_rows) {
            if let Some(error) = &table.error {
                tracing::error!(table = %name, "{error}");
            } else {
                tracing::info!(table = %name, rows_in = table.rows_in, rows_out = table.rows_out, rejected = table.rows_rejected, ms = table.duration_ms, "table done");
            }
            failed |= table.error.is_some();
            report.tables.push(table);
        }
        if failed && options.fail_fast {
            break;
        }
    }
    let failed = report.tables.iter().any(|t| t.status == Status::Failed);
    for (name, spec) in &pipeline.ingest {
        // An ingest job is one unit of work: when the work is split, shard 0 does it.
        if !selected(name) || (failed && options.fail_fast) || !options.scope.takes_whole(name) {
            continue;
        }
        let ingest = crate::ingest::run_ingest(name, spec, storage, options);
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
