//! Running a pipeline: its tables one after another (each object of a splittable table
//! its own run, when the work is split), then its ingest jobs, into one report.

use std::collections::BTreeSet;
use std::time::Instant;

use super::jobs::{chained, run_jobs, Job};
use super::{Pipeline, RunReport};
use crate::commit::CommitMode;
use crate::plugin::{PluginEngine, PluginError};
use crate::run::{shard_of, Item, RunOptions, Scope, TableError, TableReport};
use crate::source::SourceError;
use crate::storage::Storage;
use crate::table::{Host, TableRun, TableSpec};

/// Runs the pipeline's selected tables and ingest jobs and reports on each.
pub fn run_pipeline(
    pipeline: &Pipeline,
    options: &RunOptions,
    storage: &Storage,
) -> Result<RunReport, PluginError> {
    let started = Instant::now();
    let mut engine_options = options.engine.clone();
    engine_options.fuel |= pipeline
        .tables
        .iter()
        .any(|(name, t)| options.selects(name) && t.limits.fuel_per_call.is_some());
    let engine = PluginEngine::new(engine_options)?;
    let host = Host {
        engine: &engine,
        storage,
        options,
    };
    let mut report = RunReport::new(&options.run_id, options.run_time_micros);
    let tables_failed = run_tables(pipeline, &host, &mut report.tables);
    if !(tables_failed && options.fail_fast) {
        // Ingest jobs run one at a time, each with every core.
        let options = with_threads(options, 1);
        let host = Host {
            options: &options,
            ..host
        };
        run_ingests(pipeline, &host, &mut report);
    }
    report.finish(started.elapsed());
    Ok(report)
}

/// Runs the selected tables, up to `options.jobs` at once; true when one failed.
fn run_tables(pipeline: &Pipeline, host: &Host, reports: &mut Vec<TableReport>) -> bool {
    let jobs: Vec<Job> = pipeline
        .tables
        .iter()
        .filter(|(name, _)| host.options.selects(name))
        .map(|(name, spec)| Job {
            name,
            spec,
            batch_rows: host
                .options
                .batch_rows
                .or(spec.batch_rows)
                .or(pipeline.defaults.batch_rows),
        })
        .collect();
    // Fail-fast means nothing runs after a failure: tables go one at a time.
    let mut workers = match host.options.fail_fast {
        true => 1,
        false => host.options.jobs.max(1),
    };
    if workers > 1 {
        if let Some((reader, writer)) = chained(&jobs) {
            tracing::info!(reader = %reader, writer = %writer, "a table reads another's output: tables run one at a time");
            workers = 1;
        }
    }
    let options = with_threads(host.options, workers.min(jobs.len()));
    let host = &Host {
        options: &options,
        ..*host
    };
    let run = |job: &Job| {
        let tables = scoped_runs(job.name, job.spec, host, job.batch_rows);
        for table in &tables {
            match &table.error {
                Some(error) => tracing::error!(table = %job.name, "{error}"),
                None => {
                    tracing::info!(table = %job.name, rows_in = table.rows_in, rows_out = table.rows_out,
                    rejected = table.rows_rejected, ms = table.duration_ms, "table done")
                }
            }
        }
        tables
    };
    let done = run_jobs(&jobs, workers, host.options.fail_fast, &run);
    let failed = done.iter().any(|t| t.error.is_some());
    reports.extend(done);
    failed
}

/// The options with the threads of each table settled, unless given: its share of the
/// cores among the `at_once` tables running side by side.
///
/// A stateless plugin gets up to an instance per core of the share, added as it holds the
/// stream back: a slow plugin (Python) is the usual bottleneck, a fast one needs one. Parsing gets half the share: a table is already three threads
/// (reader, plugin, writer), and each parse thread holds batches in flight (on 2 cores,
/// 2 threads cost ~70 MB and bought no speed). Encoding gets the whole share: on a plain
/// copy it is over half the work, and its threads take columns as they free up.
fn with_threads(options: &RunOptions, at_once: usize) -> RunOptions {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = (cores / at_once.max(1)).max(1);
    RunOptions {
        plugin_instances: Some(options.plugin_instances.unwrap_or(share)),
        grow_plugin_instances: options.plugin_instances.is_none(),
        threads: Some(options.threads.unwrap_or((share / 2).max(1))),
        encode_threads: Some(options.encode_threads.unwrap_or(share)),
        ..options.clone()
    }
}

/// Runs the selected ingest jobs. An ingest job is one unit of work: when the work is
/// split, shard 0 does it.
fn run_ingests(pipeline: &Pipeline, host: &Host, report: &mut RunReport) {
    let options = host.options;
    for (name, spec) in &pipeline.ingest {
        if !options.selects(name) || !options.scope.takes_whole(name) {
            continue;
        }
        let ingest = crate::ingest::run_ingest(name, spec, host.storage, options);
        match &ingest.error {
            Some(error) => tracing::error!(ingest = %name, "{error}"),
            None => {
                tracing::info!(ingest = %name, copied = ingest.copied, skipped = ingest.skipped, "ingest done")
            }
        }
        let stop = ingest.error.is_some() && options.fail_fast;
        report.ingests.push(ingest);
        if stop {
            break;
        }
    }
}

/// A table's runs in this scope: the whole table, or one run per object of its share.
fn scoped_runs(
    name: &str,
    spec: &TableSpec,
    host: &Host,
    batch_rows: Option<usize>,
) -> Vec<TableReport> {
    let scope = &host.options.scope;
    let whole = || {
        TableRun {
            name,
            spec,
            host,
            batch_rows,
        }
        .run()
    };
    if scope.is_all() {
        return vec![whole()];
    }
    if spec.splittable_input().is_none() {
        return if scope.takes_whole(name) {
            vec![whole()]
        } else {
            Vec::new()
        };
    }
    if spec.output.commit_mode() == CommitMode::Replace {
        // Each item's run would replace the whole table, and under locks of their own
        // items two of them could write it at once.
        let error = TableError::Config(format!(
            "table `{name}` is in replace mode: each item would replace the whole table; \
             split only append-mode tables (output.mode = \"append\")"
        ));
        return vec![TableReport::failed(name, &error)];
    }
    let objects = match spec.objects(host.storage) {
        Ok(objects) => objects,
        Err(source) => {
            return vec![TableReport::failed(
                name,
                &TableError::Source {
                    input: "input".into(),
                    source,
                },
            )]
        }
    };
    if let Some(missing) = missing_item(scope, name, &objects) {
        let error = TableError::Config(format!("item {missing} is not among the input's objects"));
        return vec![TableReport::failed(name, &error)];
    }
    objects
        .into_iter()
        .filter(|(object, _)| scope.takes(name, object))
        .map(|(object, _)| object_run(name, spec, host, batch_rows, &object))
        .collect()
}

/// One object of a split table: its own run, under a lock of its own unit.
fn object_run(
    name: &str,
    spec: &TableSpec,
    host: &Host,
    batch_rows: Option<usize>,
    object: &str,
) -> TableReport {
    let mut options = host.options.clone();
    options.lock_scope = Some(format!("{:016x}", shard_of(object, u64::MAX)));
    let host = Host {
        options: &options,
        ..*host
    };
    TableRun {
        name,
        spec: &spec.narrowed(object),
        host: &host,
        batch_rows,
    }
    .run()
}

/// An item of `--items` for this table that its input does not hold.
fn missing_item<'a>(scope: &'a Scope, table: &str, objects: &[(String, u64)]) -> Option<&'a str> {
    let Scope::Items(items) = scope else {
        return None;
    };
    let listed: BTreeSet<&str> = objects.iter().map(|(o, _)| o.as_str()).collect();
    items
        .iter()
        .find(|(t, o)| t == table && !o.is_empty() && !listed.contains(o.as_str()))
        .map(|(_, o)| o.as_str())
}

/// The units of work of a pipeline: every object of every splittable table (with the shard
/// it falls in when `shards` is given), and each other table and ingest job as a whole
/// (object "", done by shard 0).
pub fn plan(
    pipeline: &Pipeline,
    storage: &Storage,
    shards: Option<u64>,
) -> Result<Vec<Item>, SourceError> {
    let whole = |name: &String| Item {
        table: name.clone(),
        object: String::new(),
        size: None,
        shard: shards.map(|_| 0),
    };
    let mut items: Vec<Item> = pipeline.ingest.keys().map(whole).collect();
    for (name, spec) in &pipeline.tables {
        if spec.splittable_input().is_none() {
            items.push(whole(name));
            continue;
        }
        for (object, size) in spec.objects(storage)? {
            let shard = shards.map(|n| shard_of(&object, n));
            items.push(Item {
                table: name.clone(),
                object,
                size: Some(size),
                shard,
            });
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_the_input_lacks_is_named() {
        let scope = Scope::parse_items(
            r#"[{"table": "t", "object": "s3://b/gone.csv"}, {"table": "u", "object": "x"}]"#,
        )
        .unwrap();
        let objects = vec![("s3://b/here.csv".to_string(), 1)];
        assert_eq!(missing_item(&scope, "t", &objects), Some("s3://b/gone.csv"));
        let present =
            Scope::parse_items(r#"[{"table": "t", "object": "s3://b/here.csv"}]"#).unwrap();
        assert_eq!(missing_item(&present, "t", &objects), None);
        assert_eq!(missing_item(&Scope::All, "t", &objects), None);
    }
}
