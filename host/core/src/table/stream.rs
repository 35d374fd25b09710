//! Stage 2: the plugin session and three threads joined by bounded channels: a reader
//! (decode the inputs into batches), the plugin (this thread, or a pool of instances of a
//! stateless plugin: see [`super::pool`]) and a writer (encode Parquet into staged,
//! invisible files). A failure anywhere drops every staged file.

use std::collections::BTreeMap;

use std::sync::atomic::Ordering;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use crossbeam_channel::{bounded, Receiver, Sender};
use indicatif::{HumanCount, MultiProgress, ProgressBar, ProgressStyle};

use super::commit::provenance;
use super::gate::{Gate, Passed};
use super::inputs::{open_inputs, OpenInput};
use super::outputs::{Outputs, Staged, Writer};
use super::pool::{self, More};
use super::prepare::Prepared;
use super::split::Splitter;
use super::TableRun;
use crate::commit::{committed_schema, compare_schemas};
use crate::plugin::{
    Emitted, LoadedPlugin, PluginError, PluginInfo, RunContext, Session, SessionLimits,
};
use crate::run::{TableError, TableReport};
use crate::sink::{Format, Partitioner, RejectsBuilder};
use crate::source::SourceBatch;

/// Batches waiting between stages (besides the one each stage works on): one keeps both
/// cores busy; each more costs a batch of memory (~5 MB at 64k rows) and bought no speed.
const CHANNEL_DEPTH: usize = 1;

/// Stage 2's result: the staged files, and what was read, rejected and spent.
pub(super) struct Streamed {
    /// Rows read, per input in the plugin's order.
    pub rows_in: Vec<u64>,
    pub rows_rejected: u64,
    pub staged: Vec<Staged>,
    /// Rows that broke each quality rule, by `input.column.rule`.
    pub quality: BTreeMap<String, u64>,
    /// The plugin's outputs and their schemas, recorded at the commit.
    pub schemas: Vec<(String, SchemaRef)>,
    /// How they differ from the schemas committed before (all allowed).
    pub schema_changes: Vec<String>,
    /// Iceberg outputs: how each table is committed.
    pub iceberg: Option<Vec<super::iceberg::Plan>>,
    pub plugin: PluginStats,
}

/// What the plugin session spent.
pub(super) struct PluginStats {
    pub logs_dropped: u64,
    pub peak_memory: u64,
    pub call_ms: u64,
    /// Sessions that ran at once.
    pub instances: usize,
    pub counters: BTreeMap<String, u64>,
    pub fuel: Option<u64>,
}

/// Opens the plugin session and the writers, then streams every input through them.
pub(super) fn stream(run: &TableRun, prepared: &Prepared) -> Result<Streamed, TableError> {
    let threads = run.host.options.threads.unwrap_or(1);
    let inputs = open_inputs(&prepared.inputs, run.batch_rows(), threads)?;
    let gate = Gate::new(prepared, &inputs)?;
    let plugin = (&*prepared.plugin, &prepared.info);
    let mut sessions = open_sessions(run, plugin, &prepared.config_json, &inputs)?;
    let session = &sessions[0];
    check_columns(run, session.outputs())?;
    let schema_changes = check_schemas(run, prepared, session.outputs())?;
    let outputs = outputs(run, prepared, session.outputs())?;
    let writer = Writer::new(&outputs, run.spec.output.partition.is_some())?;
    let sources: Vec<Vec<String>> = prepared
        .inputs
        .iter()
        .map(|i| i.objects.iter().map(|o| o.uri.clone()).collect())
        .collect();
    let total: u64 = inputs.iter().map(|i| i.csv.bytes()).sum();
    let mut splitter = splitter(run, prepared, &inputs)?;
    let progress = progress_bar(run.name, total, run.host.options.progress);
    let schemas = input_schemas(&inputs);
    let plugin = (&*prepared.plugin, &prepared.info);
    let open = || open_session_with(run, plugin, &prepared.config_json, &schemas);
    let more = more_instances(run, plugin).map(|max| More { max, open: &open });
    let plugin = (&mut sessions, more.as_ref(), gate, splitter.as_mut());
    let threads = run_threads(inputs, plugin, writer, &sources, &progress)?;
    progress.finish_and_clear();
    let plugin = match splitter.and_then(|s| s.stats) {
        Some(stats) => stats,
        None => PluginStats::of(&sessions, run.host.engine.fuel()),
    };
    for (rule, rows) in threads.quality.iter().filter(|(_, n)| **n > 0) {
        tracing::warn!(table = %run.name, rule = %rule, rows, "rows broke a quality rule");
    }
    Ok(Streamed {
        iceberg: outputs.iceberg.clone(),
        schemas: outputs.schemas.clone(),
        schema_changes,
        rows_in: threads.rows_in,
        rows_rejected: threads.rows_rejected,
        staged: threads.staged,
        quality: threads.quality,
        plugin,
    })
}

/// Where and how the plugin's outputs are written.
fn outputs(
    run: &TableRun,
    prepared: &Prepared,
    schemas: &[(String, SchemaRef)],
) -> Result<Outputs, TableError> {
    let iceberg = match run.spec.output.format {
        Format::Iceberg => Some(super::iceberg::plans(run, prepared, schemas)?),
        Format::Parquet => None,
    };
    let partitioner = Partitioner::new(
        run.spec.output.partition.clone(),
        run.host.options.run_time_micros,
    );
    Ok(Outputs {
        dataset: prepared.dataset.clone(),
        partitioner: match iceberg {
            Some(_) => partitioner.keeping_columns(),
            None => partitioner,
        },
        settings: run
            .spec
            .output
            .writer_settings(run.host.options.encode_threads.unwrap_or(1)),
        provenance: provenance(run, prepared),
        schemas: schemas.to_vec(),
        upsert: run.spec.output.upsert.clone(),
        iceberg,
    })
}

impl PluginStats {
    /// What every instance spent, summed; memory summed too, as the instances hold it at
    /// once.
    pub(super) fn of(sessions: &[Session], fuel: bool) -> Self {
        let mut counters = BTreeMap::new();
        for session in sessions {
            for (name, value) in session.counters() {
                *counters.entry(name.clone()).or_default() += value;
            }
        }
        PluginStats {
            logs_dropped: sessions.iter().map(Session::logs_dropped).sum(),
            peak_memory: sessions.iter().map(|s| s.peak_memory() as u64).sum(),
            instances: sessions.len(),
            call_ms: sessions
                .iter()
                .map(|s| s.call_time().as_millis() as u64)
                .sum(),
            counters,
            fuel: fuel.then(|| sessions.iter().map(Session::fuel_used).sum()),
        }
    }

    /// These stats and those of a session that ran after them: sums, but the larger peak
    /// memory, as the two never held memory at once.
    /// The parts of a split table, `sessions` of them at once: their memory is bounded
    /// by the `sessions` largest peaks together.
    pub(super) fn side_by_side(mut parts: Vec<PluginStats>, sessions: usize) -> Option<Self> {
        parts.sort_by_key(|part| std::cmp::Reverse(part.peak_memory));
        let peak: u64 = parts.iter().take(sessions).map(|p| p.peak_memory).sum();
        let at_once = sessions.min(parts.len());
        let mut all = parts.into_iter().reduce(PluginStats::then)?;
        all.peak_memory = peak;
        all.instances = at_once;
        Some(all)
    }

    pub(super) fn then(mut self, next: PluginStats) -> Self {
        self.logs_dropped += next.logs_dropped;
        self.peak_memory = self.peak_memory.max(next.peak_memory);
        self.instances = self.instances.max(next.instances);
        self.call_ms += next.call_ms;
        for (name, value) in next.counters {
            *self.counters.entry(name).or_default() += value;
        }
        self.fuel = self.fuel.zip(next.fuel).map(|(a, b)| a + b);
        self
    }
}

/// With `split`: what spills the rows and opens a session per part.
fn splitter<'a>(
    run: &'a TableRun,
    prepared: &'a Prepared,
    inputs: &[OpenInput],
) -> Result<Option<Splitter<'a>>, TableError> {
    let Some(spec) = run.spec.split.clone() else {
        return Ok(None);
    };
    let schemas = input_schemas(inputs);
    let plugin = (&*prepared.plugin, &prepared.info);
    let config = prepared.config_json.as_str();
    let open_schemas = schemas.clone();
    let open = move || open_session_with(run, plugin, config, &open_schemas);
    let fuel = run.host.engine.fuel();
    // Parts run side by side on as many sessions as a stateless plugin gets instances.
    let sessions = run.host.options.plugin_instances.unwrap_or(1);
    let sizes = (run.batch_rows(), fuel, sessions);
    Splitter::new(spec, &schemas, sizes, Box::new(open)).map(Some)
}

/// Each input's name and schema, as a session is opened with them.
fn input_schemas(inputs: &[OpenInput]) -> Vec<(String, SchemaRef)> {
    inputs
        .iter()
        .map(|i| (i.name.clone(), i.csv.schema()))
        .collect()
}

/// The plugin's first sessions: one, or for a stateless plugin with a fixed count as many
/// as `plugin_instances` (each opened with the same config, context and limits). A split
/// table's parts open sessions of their own, so it needs only the one that tells the
/// output schemas.
fn open_sessions(
    run: &TableRun,
    (plugin, info): (&LoadedPlugin, &PluginInfo),
    config_json: &str,
    inputs: &[OpenInput],
) -> Result<Vec<Session>, TableError> {
    let options = run.host.options;
    let fixed = !(info.stateful || run.spec.split.is_some() || options.grow_plugin_instances);
    let instances = match fixed {
        true => options.plugin_instances.unwrap_or(1).max(1),
        false => 1,
    };
    (0..instances)
        .map(|_| open_session(run, (plugin, info), config_json, inputs))
        .collect()
}

/// The most instances a stateless plugin may grow to while the stream runs, when it may
/// grow at all (the count is not fixed, and there is room for a second). Batches the host
/// takes itself never call for a second instance, so they skip the pool's threads too:
/// each batch then crosses two threads fewer on its way to the writer.
fn more_instances(run: &TableRun, (plugin, info): (&LoadedPlugin, &PluginInfo)) -> Option<usize> {
    let options = run.host.options;
    let max = options.plugin_instances.unwrap_or(1);
    let grows = options.grow_plugin_instances
        && !info.stateful
        && run.spec.split.is_none()
        && !plugin.batches_in_host();
    (grows && max > 1).then_some(max)
}

/// Compares each output's schema with the one committed before, before any data moves:
/// the allowed changes, or an error naming the first that `schema_change` does not allow.
fn check_schemas(
    run: &TableRun,
    prepared: &Prepared,
    outputs: &[(String, SchemaRef)],
) -> Result<Vec<String>, TableError> {
    let dataset = &prepared.dataset;
    let rule = run.spec.output.schema_change;
    let mut changes = Vec::new();
    for (name, schema) in outputs {
        let Some(old) = committed_schema(&*dataset.store, &dataset.root, name)? else {
            continue;
        };
        let found = compare_schemas(&old, schema, rule).map_err(|change| {
            TableError::Config(format!(
                "output `{name}`: {change} since the last commit; readers of the table would break \
                 (set the output's `schema_change = \"any\"` to accept it)"
            ))
        })?;
        for change in found {
            tracing::warn!(table = %run.name, output = %name, "schema change: {change}");
            changes.push(format!("{name}: {change}"));
        }
    }
    Ok(changes)
}

/// `bloom_filter` and `sorted_by` name columns some output's files have.
fn check_columns(run: &TableRun, outputs: &[(String, SchemaRef)]) -> Result<(), TableError> {
    let partitioner = Partitioner::new(run.spec.output.partition.clone(), 0);
    let files: Vec<SchemaRef> = outputs
        .iter()
        .map(|(_, schema)| partitioner.file_schema(schema))
        .collect();
    let has = |column: &String| files.iter().any(|s| s.field_with_name(column).is_ok());
    let output = &run.spec.output;
    if let Some(missing) = output.bloom_filter.iter().find(|c| !has(c)) {
        return Err(TableError::Config(format!(
            "output.bloom_filter: no output has a column `{missing}` in its files"
        )));
    }
    let sorted = |s: &SchemaRef| {
        output
            .sorted_by
            .iter()
            .all(|c| s.field_with_name(c).is_ok())
    };
    if !output.sorted_by.is_empty() && !files.iter().any(sorted) {
        return Err(TableError::Config(format!(
            "output.sorted_by: no output has all of {:?} in its files (a `value` partition column is in the folder names only)",
            output.sorted_by
        )));
    }
    Ok(())
}

/// A session of the plugin with its config and the inputs' real schemas.
pub(super) fn open_session(
    run: &TableRun,
    plugin: (&LoadedPlugin, &PluginInfo),
    config_json: &str,
    inputs: &[OpenInput],
) -> Result<Session, TableError> {
    open_session_with(run, plugin, config_json, &input_schemas(inputs))
}

fn open_session_with(
    run: &TableRun,
    (plugin, info): (&LoadedPlugin, &PluginInfo),
    config_json: &str,
    schemas: &[(String, SchemaRef)],
) -> Result<Session, TableError> {
    let options = run.host.options;
    let context = RunContext {
        run_id: options.run_id.clone(),
        run_time_micros: options.run_time_micros,
        table: run.name.into(),
        params: run
            .spec
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let limits = SessionLimits::from(&run.spec.limits);
    let engine = run.host.engine;
    let mut session = Session::open(
        engine,
        plugin,
        info,
        config_json,
        schemas,
        &context,
        &limits,
    )?;
    session.take_batches(plugin, config_json, schemas);
    Ok(session)
}

impl Streamed {
    /// The report with what streaming counted.
    pub fn report(&self, known: TableReport) -> TableReport {
        let mut inputs = known.inputs;
        for (input, rows) in inputs.iter_mut().zip(&self.rows_in) {
            input.rows = *rows;
        }
        TableReport {
            inputs,
            rows_in: self.rows_in.iter().sum(),
            rows_rejected: self.rows_rejected,
            plugin_logs_dropped: self.plugin.logs_dropped,
            plugin_peak_memory_bytes: self.plugin.peak_memory,
            plugin_call_ms: self.plugin.call_ms,
            plugin_instances: self.plugin.instances,
            plugin_counters: self.plugin.counters.clone(),
            plugin_fuel: self.plugin.fuel,
            quality: self.quality.clone(),
            schema_changes: self.schema_changes.clone(),
            ..known
        }
    }
}

/// What the three threads produced.
struct Threads {
    rows_in: Vec<u64>,
    rows_rejected: u64,
    staged: Vec<Staged>,
    quality: BTreeMap<String, u64>,
}

pub(super) enum ToWriter {
    Output(usize, RecordBatch),
    Rejects(RecordBatch),
}

/// Runs the three stages; on any failure every staged file is dropped (and so deleted).
fn run_threads(
    inputs: Vec<OpenInput>,
    (sessions, more, mut gate, mut splitter): (
        &mut Vec<Session>,
        Option<&More>,
        Gate,
        Option<&mut Splitter>,
    ),
    writer: Writer,
    sources: &[Vec<String>],
    progress: &ProgressBar,
) -> Result<Threads, TableError> {
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    std::thread::scope(|scope| {
        let (source_tx, source_rx) = bounded::<(usize, SourceBatch)>(CHANNEL_DEPTH);
        let (writer_tx, writer_rx) = bounded::<ToWriter>(CHANNEL_DEPTH);
        let reader = std::thread::Builder::new()
            .name("sluice-read".into())
            .spawn_scoped(scope, move || read_inputs(inputs, source_tx, progress))
            .map_err(|e| TableError::Internal(format!("spawning reader: {e}")))?;
        let writer = std::thread::Builder::new()
            .name("sluice-write".into())
            .spawn_scoped(scope, move || write_outputs(writer, writer_rx))
            .map_err(|e| TableError::Internal(format!("spawning writer: {e}")))?;

        let feed = Feed {
            names: &names,
            sources,
            gate: &mut gate,
        };
        let transformed = match (&mut splitter, &mut sessions[..], more) {
            (Some(split), ..) => split.spill(feed, &source_rx, &writer_tx),
            (None, [session], None) => transform(session, feed, &source_rx, &writer_tx),
            (None, ..) => pool::transform((sessions, more), feed, &source_rx, &writer_tx),
        };
        drop(source_rx); // a reader still sending stops at its next batch
        let read = reader
            .join()
            .map_err(|_| TableError::Internal("reader thread panicked".into()))?;
        let rows_rejected = match (read.as_ref(), transformed) {
            (Ok(_), Ok(TransformEnd::InputsDone(rejected))) => match splitter {
                Some(split) => split
                    .run_parts(&names, sources, &writer_tx)
                    .map(|more| rejected + more),
                None => {
                    // Instances finish in order: the same messages for any number of them.
                    let finished = sessions.iter_mut().try_for_each(|s| finish(s, &writer_tx));
                    finished.map(|()| rejected)
                }
            },
            (Err(_), Ok(_)) => Ok(0),
            (_, Ok(TransformEnd::WriterGone)) => Ok(0),
            (_, Err(e)) => Err(e),
        };
        drop(writer_tx);
        let written = writer
            .join()
            .map_err(|_| TableError::Internal("writer thread panicked".into()))?;
        // Report the root cause: a failed reader or writer explains a stopped plugin loop.
        let rows_in = read?;
        let staged = written?;
        let rows_rejected = rows_rejected?;
        Ok(Threads {
            rows_in,
            rows_rejected,
            staged,
            quality: gate.counts(&names),
        })
    })
}

fn read_inputs(
    inputs: Vec<OpenInput>,
    tx: Sender<(usize, SourceBatch)>,
    progress: &ProgressBar,
) -> Result<Vec<u64>, TableError> {
    let mut rows = vec![0u64; inputs.len()];
    let mut done_bytes = 0;
    for (index, input) in inputs.into_iter().enumerate() {
        let name = input.name;
        let (size, read) = (input.csv.bytes(), input.csv.bytes_read());
        input
            .csv
            .read_all(|batch| {
                rows[index] += batch.batch.num_rows() as u64;
                if !progress.is_hidden() {
                    progress.set_position(done_bytes + read.load(Ordering::Relaxed).min(size));
                    progress.set_message(format!("{} rows", HumanCount(rows.iter().sum())));
                }
                tx.send((index, batch)).is_ok()
            })
            .map_err(|source| TableError::Source {
                input: name,
                source,
            })?;
        done_bytes += size;
    }
    Ok(rows)
}

pub(super) enum TransformEnd {
    /// Every input batch was pushed; the count of rejected rows.
    InputsDone(u64),
    /// The writer stopped early; its own error says why.
    WriterGone,
}

/// What the plugin loop needs to know of the inputs.
pub(super) struct Feed<'a> {
    pub names: &'a [String],
    /// Per input, the URIs of its files.
    pub sources: &'a [Vec<String>],
    pub gate: &'a mut Gate,
}

impl Feed<'_> {
    /// One batch through the quality gate, with its input's name and file.
    pub(super) fn pass(&mut self, input: usize, source: SourceBatch) -> Result<Passed, TableError> {
        let (name, file) = (&self.names[input], &self.sources[input][source.file]);
        self.gate.pass(input, name, file, source)
    }
}

/// The plugin loop on one instance, on this thread.
fn transform(
    session: &mut Session,
    mut feed: Feed,
    rx: &Receiver<(usize, SourceBatch)>,
    tx: &Sender<ToWriter>,
) -> Result<TransformEnd, TableError> {
    let mut rejected = 0u64;
    for (input, source) in rx {
        let passed = feed.pass(input, source)?;
        let gated = passed.rejects.map(ToWriter::Rejects);
        let messages = process(session, feed.names, feed.sources, input, passed.source)?;
        if !send_all(gated.into_iter().chain(messages), tx, &mut rejected) {
            return Ok(TransformEnd::WriterGone);
        }
    }
    Ok(TransformEnd::InputsDone(rejected))
}

/// Sends one batch's messages to the writer, counting the rejected rows; false when the
/// writer has stopped.
pub(super) fn send_all(
    messages: impl IntoIterator<Item = ToWriter>,
    tx: &Sender<ToWriter>,
    rejected: &mut u64,
) -> bool {
    messages.into_iter().all(|message| {
        if let ToWriter::Rejects(batch) = &message {
            *rejected += batch.num_rows() as u64;
        }
        tx.send(message).is_ok()
    })
}

/// One batch through the plugin: the writer's messages, the plugin's rejects first.
pub(super) fn process(
    session: &mut Session,
    names: &[String],
    sources: &[Vec<String>],
    input: usize,
    source: SourceBatch,
) -> Result<Vec<ToWriter>, TableError> {
    let (name, file) = (&names[input], &sources[input][source.file]);
    let emitted = session
        .push(name, &source.batch)
        .map_err(|e| locate(e, &source, file))?;
    let mut messages = Vec::with_capacity(emitted.batches.len() + 1);
    if !emitted.rejects.is_empty() {
        let batch = rejects_batch(&emitted, name, file, &source, session.label())?;
        messages.push(ToWriter::Rejects(batch));
    }
    let outputs = emitted.batches.into_iter();
    messages.extend(outputs.map(|(index, batch)| ToWriter::Output(index, batch)));
    Ok(messages)
}

pub(super) fn finish(session: &mut Session, tx: &Sender<ToWriter>) -> Result<(), TableError> {
    finish_to(session, &mut |message| tx.send(message).is_ok()).map(drop)
}

/// The session's last batches, each to `send`; false when `send` says the receiver
/// stopped.
pub(super) fn finish_to(
    session: &mut Session,
    send: &mut dyn FnMut(ToWriter) -> bool,
) -> Result<bool, TableError> {
    loop {
        let emitted = session.finish()?;
        let sent = (emitted.batches.into_iter())
            .all(|(index, batch)| send(ToWriter::Output(index, batch)));
        if !sent || !emitted.more {
            return Ok(sent);
        }
    }
}

fn rejects_batch(
    emitted: &Emitted,
    input: &str,
    file: &str,
    source: &SourceBatch,
    plugin: &str,
) -> Result<RecordBatch, TableError> {
    let rows = source.batch.num_rows() as u64;
    let mut list = Vec::with_capacity(emitted.rejects.len());
    for r in &emitted.rejects {
        if r.row >= rows {
            return Err(TableError::Plugin(PluginError::Protocol {
                plugin: plugin.into(),
                message: format!("rejected row {} of a {rows}-row batch", r.row),
            }));
        }
        list.push((r.row, r.column.clone(), r.reason.clone()));
    }
    let mut builder = RejectsBuilder::default();
    builder
        .add(file, input, &source.batch, &source.lines, &list)
        .map_err(|e| TableError::Internal(format!("building rejects: {e}")))?;
    Ok(builder.finish())
}

/// Points a plugin's data error at the source file and line of the row it blamed.
fn locate(error: PluginError, source: &SourceBatch, file: &str) -> TableError {
    match error {
        PluginError::Data {
            plugin,
            input,
            row,
            column,
            message,
            ..
        } => {
            let line = row.and_then(|r| source.lines.get(r as usize));
            let mut at = match line {
                Some(line) => format!(" at {file}:{line}"),
                None => format!(" in {file}"),
            };
            if let Some(c) = &column {
                at.push_str(&format!(", column `{c}`"));
            }
            TableError::Plugin(PluginError::Data {
                plugin,
                input,
                row,
                column,
                at,
                message,
            })
        }
        other => TableError::Plugin(other),
    }
}

fn write_outputs(mut writer: Writer, rx: Receiver<ToWriter>) -> Result<Vec<Staged>, TableError> {
    for message in rx {
        match message {
            ToWriter::Output(index, batch) => writer.write(index, batch)?,
            ToWriter::Rejects(batch) => writer.write_rejects(&batch)?,
        }
    }
    writer.finish()
}

/// Bytes read of the inputs' total (compressed bytes for gzip), rows, rate and ETA;
/// hidden unless asked for (by default: stderr is a terminal).
fn progress_bar(table: &str, total: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    // Tables that run at once (`--jobs`) each get a line of one display.
    static BARS: std::sync::OnceLock<MultiProgress> = std::sync::OnceLock::new();
    let bar = BARS
        .get_or_init(MultiProgress::new)
        .add(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>12.bold} [{bar:30}] {binary_bytes}/{binary_total_bytes} {msg} ({binary_bytes_per_sec}, {eta} left)",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix(table.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
