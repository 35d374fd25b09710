//! One table, start to finish: load the plugin, open the inputs, then stream
//! reader thread -> plugin (this thread) -> writer thread, and commit the outputs.

use std::path::PathBuf;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use crossbeam_channel::{bounded, Receiver, Sender};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::report::{InputReport, OutputReport, PluginReport, Status, TableReport};
use super::{RunOptions, TableError};
use crate::pipeline::{InputSpec, TableSpec};
use crate::plugin::{Emitted, LoadedPlugin, PluginEngine, PluginError, PluginInfo, RunContext, Session};
use crate::sink::{rejects_schema, ParquetSink, Provenance, RejectsBuilder, StagedFile, WriterSettings};
use crate::source::{CsvInput, SourceBatch};

/// The name of the host's own output for rejected rows.
pub const REJECTS: &str = "rejects";

/// Batches waiting between stages (besides the one each stage works on): one keeps both
/// cores busy; each more costs a batch of memory (~5 MB at 64k rows) and bought no speed.
const CHANNEL_DEPTH: usize = 1;

pub(super) fn run_table(
    name: &str,
    spec: &TableSpec,
    engine: &PluginEngine,
    options: &RunOptions,
    batch_rows: usize,
) -> TableReport {
    let started = Instant::now();
    let mut report = TableReport::new(name);
    if let Err(error) = execute(name, spec, engine, options, batch_rows, &mut report) {
        report.status = Status::Failed;
        report.error_kind = Some(error.kind());
        report.error = Some(format!("table `{name}`: {error}"));
        report.outputs.clear();
        report.rows_out = 0;
        report.bytes_out = 0;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// An input ready to stream, with where its rows come from.
struct OpenInput {
    name: String,
    files: Vec<PathBuf>,
    csv: CsvInput,
}

fn execute(
    name: &str,
    spec: &TableSpec,
    engine: &PluginEngine,
    options: &RunOptions,
    batch_rows: usize,
    report: &mut TableReport,
) -> Result<(), TableError> {
    let plugin = engine.load(&spec.plugin)?;
    let info = Session::describe(engine, &plugin)?;
    report.plugin = Some(plugin_report(&plugin, &info));
    if info.outputs.iter().any(|o| o.name == REJECTS) {
        return Err(TableError::Config(format!("plugin output `{REJECTS}` clashes with the host's rejects output")));
    }
    let inputs = open_inputs(spec, &info, batch_rows)?;
    for input in &inputs {
        report.inputs.push(InputReport { name: input.name.clone(), files: input.files.clone(), rows: 0, bytes: input.csv.bytes() });
    }
    report.bytes_in = report.inputs.iter().map(|i| i.bytes).sum();

    let schemas: Vec<_> = inputs.iter().map(|i| (i.name.clone(), i.csv.schema())).collect();
    let context = RunContext {
        run_id: options.run_id.clone(),
        run_time_micros: options.run_time_micros,
        table: name.into(),
        params: Vec::new(),
    };
    let limits = spec.limits.session_limits();
    let config_json = spec.config_json();
    let mut session = Session::open(engine, &plugin, &info, &config_json, &schemas, &context, &limits)?;

    let outputs = Outputs::new(name, spec, options, &plugin, &info, &config_json, &inputs);
    let sinks = session
        .outputs()
        .iter()
        .map(|(output, schema)| outputs.create(output, schema.clone()))
        .collect::<Result<Vec<_>, _>>()?;

    let progress = progress_bar(name, options.progress);
    let streamed = stream(inputs, &mut session, sinks, &outputs, &progress)?;
    progress.finish_and_clear();
    report.plugin_logs_dropped = session.logs_dropped();
    report.plugin_peak_memory_bytes = session.peak_memory() as u64;
    report.plugin_call_ms = session.call_time().as_millis() as u64;
    report.plugin_counters = session.counters().clone();
    report.plugin_fuel = engine.fuel().then(|| session.fuel_used());
    for (input, rows) in report.inputs.iter_mut().zip(&streamed.rows_in) {
        input.rows = *rows;
    }
    report.rows_in = streamed.rows_in.iter().sum();
    report.rows_rejected = streamed.rows_rejected;
    commit(streamed.staged, &session, report)
}

fn plugin_report(plugin: &LoadedPlugin, info: &PluginInfo) -> PluginReport {
    PluginReport {
        reference: plugin.reference.clone(),
        name: info.name.clone(),
        version: info.version.clone(),
        sha256: plugin.sha256.clone(),
        contract_version: info.contract_version.clone(),
        compiled_from_cache: plugin.from_cache,
    }
}

/// Pairs the pipeline's inputs with the plugin's, in the plugin's order, and opens them.
fn open_inputs(spec: &TableSpec, info: &PluginInfo, batch_rows: usize) -> Result<Vec<OpenInput>, TableError> {
    let declared: Vec<&str> = info.inputs.iter().map(|i| i.name.as_str()).collect();
    let bound: Vec<(String, &InputSpec)> = match &spec.input {
        Some(single) if declared.len() == 1 => vec![(declared[0].to_string(), single)],
        Some(_) => {
            return Err(TableError::Config(format!(
                "plugin takes inputs {declared:?}: use `[tables.NAME.inputs.INPUT]` for each"
            )))
        }
        None => {
            if let Some(unknown) = spec.inputs.keys().find(|k| !declared.contains(&k.as_str())) {
                return Err(TableError::Config(format!("input `{unknown}` is not one the plugin takes ({declared:?})")));
            }
            declared
                .iter()
                .map(|d| {
                    let input = spec.inputs.get(*d).ok_or_else(|| TableError::Config(format!("the plugin needs input `{d}`")))?;
                    Ok((d.to_string(), input))
                })
                .collect::<Result<_, TableError>>()?
        }
    };
    bound
        .into_iter()
        .map(|(name, input)| {
            let csv = CsvInput::open(input, batch_rows).map_err(|source| TableError::Source { input: name.clone(), source })?;
            if csv.schema().fields().is_empty() {
                return Err(TableError::Config(format!(
                    "input `{name}`: {} is empty and no `columns` are declared, so its columns are unknown",
                    csv.files()[0].display()
                )));
            }
            Ok(OpenInput { name, files: csv.files().to_vec(), csv })
        })
        .collect()
}

/// Everything needed to create this table's output files.
struct Outputs {
    location: PathBuf,
    run_id: String,
    settings: WriterSettings,
    provenance: Vec<(String, String)>,
    /// (input name, source file) for mapping rows back to files.
    sources: Vec<Vec<String>>,
}

impl Outputs {
    fn new(
        table: &str,
        spec: &TableSpec,
        options: &RunOptions,
        plugin: &LoadedPlugin,
        info: &PluginInfo,
        config_json: &str,
        inputs: &[OpenInput],
    ) -> Self {
        let sources: Vec<Vec<String>> =
            inputs.iter().map(|i| i.files.iter().map(|f| f.display().to_string()).collect()).collect();
        let source_json: serde_json::Map<String, serde_json::Value> =
            inputs.iter().zip(&sources).map(|(i, files)| (i.name.clone(), serde_json::json!(files))).collect();
        let provenance = vec![
            ("sluice.table".into(), table.into()),
            ("sluice.run_id".into(), options.run_id.clone()),
            ("sluice.host.version".into(), crate::HOST_VERSION.into()),
            ("sluice.contract.version".into(), info.contract_version.clone()),
            ("sluice.plugin.name".into(), info.name.clone()),
            ("sluice.plugin.version".into(), info.version.clone()),
            ("sluice.plugin.sha256".into(), plugin.sha256.clone()),
            ("sluice.config.sha256".into(), hex::encode(Sha256::digest(config_json.as_bytes()))),
            ("sluice.source".into(), serde_json::Value::Object(source_json).to_string()),
        ];
        Outputs {
            location: spec.output.location.clone(),
            run_id: options.run_id.clone(),
            settings: WriterSettings {
                compression: spec.output.compression.clone(),
                level: spec.output.level,
                row_group_rows: spec.output.row_group_rows,
            },
            provenance,
            sources,
        }
    }

    fn create(&self, output: &str, schema: arrow::datatypes::SchemaRef) -> Result<ParquetSink, TableError> {
        let mut entries = self.provenance.clone();
        entries.push(("sluice.output".into(), output.into()));
        let path = self.location.join(format!("{output}.parquet"));
        Ok(ParquetSink::create(&path, &self.run_id, schema, &self.settings, &Provenance { entries })?)
    }
}

/// What the streaming stage produced.
struct Streamed {
    rows_in: Vec<u64>,
    rows_rejected: u64,
    staged: Vec<StagedFile>,
}

enum ToWriter {
    Output(usize, RecordBatch),
    Rejects(RecordBatch),
}

/// Runs the three stages; on any failure every staged file is dropped (and so deleted).
fn stream(
    inputs: Vec<OpenInput>,
    session: &mut Session,
    sinks: Vec<ParquetSink>,
    outputs: &Outputs,
    progress: &ProgressBar,
) -> Result<Streamed, TableError> {
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
            .spawn_scoped(scope, move || write_outputs(sinks, writer_rx, outputs))
            .map_err(|e| TableError::Internal(format!("spawning writer: {e}")))?;

        let transformed = transform(session, &names, &outputs.sources, &source_rx, &writer_tx);
        drop(source_rx); // a reader still sending stops at its next batch
        let read = reader.join().map_err(|_| TableError::Internal("reader thread panicked".into()))?;
        let rows_rejected = match (read.as_ref(), transformed) {
            (Ok(_), Ok(TransformEnd::InputsDone(rejected))) => {
                finish(session, &writer_tx).map(|_| rejected)
            }
            (Err(_), Ok(_)) => Ok(0),
            (_, Ok(TransformEnd::WriterGone)) => Ok(0),
            (_, Err(e)) => Err(e),
        };
        drop(writer_tx);
        let written = writer.join().map_err(|_| TableError::Internal("writer thread panicked".into()))?;
        // Report the root cause: a failed reader or writer explains a stopped plugin loop.
        let rows_in = read?;
        let staged = written?;
        let rows_rejected = rows_rejected?;
        Ok(Streamed { rows_in, rows_rejected, staged })
    })
}

fn read_inputs(inputs: Vec<OpenInput>, tx: Sender<(usize, SourceBatch)>, progress: &ProgressBar) -> Result<Vec<u64>, TableError> {
    let mut rows = vec![0u64; inputs.len()];
    for (index, input) in inputs.into_iter().enumerate() {
        let name = input.name;
        input
            .csv
            .read_all(|batch| {
                let n = batch.batch.num_rows() as u64;
                rows[index] += n;
                progress.inc(n);
                tx.send((index, batch)).is_ok()
            })
            .map_err(|source| TableError::Source { input: name, source })?;
    }
    Ok(rows)
}

enum TransformEnd {
    /// Every input batch was pushed; the count of rejected rows.
    InputsDone(u64),
    /// The writer stopped early; its own error says why.
    WriterGone,
}

fn transform(
    session: &mut Session,
    names: &[String],
    sources: &[Vec<String>],
    rx: &Receiver<(usize, SourceBatch)>,
    tx: &Sender<ToWriter>,
) -> Result<TransformEnd, TableError> {
    let mut rejected = 0u64;
    for (input, source) in rx {
        let file = &sources[input][source.file];
        let emitted = session.push(&names[input], &source.batch).map_err(|e| locate(e, &source, file))?;
        if !emitted.rejects.is_empty() {
            let batch = rejects_batch(&emitted, &names[input], file, &source)?;
            rejected += batch.num_rows() as u64;
            if tx.send(ToWriter::Rejects(batch)).is_err() {
                return Ok(TransformEnd::WriterGone);
            }
        }
        if !forward(emitted, tx) {
            return Ok(TransformEnd::WriterGone);
        }
    }
    Ok(TransformEnd::InputsDone(rejected))
}

fn finish(session: &mut Session, tx: &Sender<ToWriter>) -> Result<(), TableError> {
    loop {
        let emitted = session.finish()?;
        let more = emitted.more;
        if !forward(emitted, tx) || !more {
            return Ok(());
        }
    }
}

/// Sends emitted batches to the writer; false when the writer has stopped.
fn forward(emitted: Emitted, tx: &Sender<ToWriter>) -> bool {
    emitted.batches.into_iter().all(|(index, batch)| tx.send(ToWriter::Output(index, batch)).is_ok())
}

fn rejects_batch(emitted: &Emitted, input: &str, file: &str, source: &SourceBatch) -> Result<RecordBatch, TableError> {
    let rows = source.batch.num_rows() as u64;
    let mut list = Vec::with_capacity(emitted.rejects.len());
    for r in &emitted.rejects {
        if r.row >= rows {
            return Err(TableError::Internal(format!("plugin rejected row {} of a {rows}-row batch", r.row)));
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
        PluginError::Data { plugin, input, row, column, message, .. } => {
            let line = row.and_then(|r| source.lines.get(r as usize));
            let mut at = match line {
                Some(line) => format!(" at {file}:{line}"),
                None => format!(" in {file}"),
            };
            if let Some(c) = &column {
                at.push_str(&format!(", column `{c}`"));
            }
            TableError::Plugin(PluginError::Data { plugin, input, row, column, at, message })
        }
        other => TableError::Plugin(other),
    }
}

fn write_outputs(mut sinks: Vec<ParquetSink>, rx: Receiver<ToWriter>, outputs: &Outputs) -> Result<Vec<StagedFile>, TableError> {
    let mut rejects: Option<ParquetSink> = None;
    for message in rx {
        match message {
            ToWriter::Output(index, batch) => sinks[index].write(&batch)?,
            ToWriter::Rejects(batch) => {
                if rejects.is_none() {
                    rejects = Some(outputs.create(REJECTS, rejects_schema())?);
                }
                rejects.as_mut().expect("created above").write(&batch)?;
            }
        }
    }
    let mut staged = sinks.into_iter().map(ParquetSink::finish).collect::<Result<Vec<_>, _>>()?;
    if let Some(sink) = rejects {
        staged.push(sink.finish()?);
    }
    Ok(staged)
}

/// Renames every staged file into place, then reports them.
fn commit(staged: Vec<StagedFile>, session: &Session, report: &mut TableReport) -> Result<(), TableError> {
    let names: Vec<String> = session.outputs().iter().map(|(n, _)| n.clone()).chain([REJECTS.to_string()]).collect();
    for (file, name) in staged.into_iter().zip(names) {
        let (rows, bytes) = (file.rows, file.bytes);
        let path = file.commit()?;
        if name != REJECTS {
            report.rows_out += rows;
        }
        report.bytes_out += bytes;
        report.outputs.push(OutputReport { name, path, rows, bytes });
    }
    Ok(())
}

fn progress_bar(table: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix}: {human_pos} rows read ({per_sec}) {elapsed}")
            .expect("static template"),
    );
    bar.set_prefix(table.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
