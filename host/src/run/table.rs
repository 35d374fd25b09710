//! One table, start to finish: load the plugin, list the inputs, take the table lock,
//! skip work already committed, then stream reader thread -> plugin (this thread) ->
//! writer thread, and commit the outputs.

use std::time::Instant;

use arrow::record_batch::RecordBatch;
use crossbeam_channel::{bounded, Receiver, Sender};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::outputs::{Outputs, Staged, Writer, REJECTS};
use super::report::{InputReport, OutputReport, PluginReport, Status, TableReport};
use super::{RunOptions, TableError};
use crate::commit::{
    Dataset, LockSettings, Manifest, ManifestFile, Registry, TableLock, UnitKey, VersionRecord, VersionStatus, STATE_DIR,
};
use crate::pipeline::{CommitMode, InputSpec, TableSpec};
use crate::plugin::{Emitted, LoadedPlugin, PluginEngine, PluginError, PluginInfo, RunContext, Session};
use crate::sink::{Partitioner, RejectsBuilder, WriterSettings};
use crate::source::{CsvInput, InputObject, SourceBatch};
use crate::storage::{join_key, Location, Storage};

/// Batches waiting between stages (besides the one each stage works on): one keeps both
/// cores busy; each more costs a batch of memory (~5 MB at 64k rows) and bought no speed.
const CHANNEL_DEPTH: usize = 1;

pub(super) fn run_table(
    name: &str,
    spec: &TableSpec,
    engine: &PluginEngine,
    storage: &Storage,
    options: &RunOptions,
    batch_rows: usize,
) -> TableReport {
    let started = Instant::now();
    let mut report = TableReport::new(name);
    if let Err(error) = execute(name, spec, engine, storage, options, batch_rows, &mut report) {
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

/// An input bound to the plugin's name for it, with the objects it names.
struct FoundInput<'a> {
    name: String,
    spec: &'a InputSpec,
    objects: Vec<InputObject>,
}

/// An input ready to stream.
struct OpenInput {
    name: String,
    csv: CsvInput,
}

fn execute(
    name: &str,
    spec: &TableSpec,
    engine: &PluginEngine,
    storage: &Storage,
    options: &RunOptions,
    batch_rows: usize,
    report: &mut TableReport,
) -> Result<(), TableError> {
    let plugin = load_plugin(engine, storage, &spec.plugin)?;
    let info = Session::describe(engine, &plugin)?;
    report.plugin = Some(plugin_report(&plugin, &info));
    if info.outputs.iter().any(|o| o.name == REJECTS) {
        return Err(TableError::Config(format!("plugin output `{REJECTS}` clashes with the host's rejects output")));
    }
    let config_json = spec.config_json();
    let location = Location::parse(&spec.output.location, std::path::Path::new(""))?;
    let (store, root) = storage.resolve(&location)?;
    let mode = spec.output.commit_mode();

    // One writer per table: S3 outputs, datasets and versioned tables are shared state.
    // Taken before the inputs are listed, since the registry picks some of them.
    let lock = if location.is_s3() || mode == CommitMode::Append || spec.version.is_some() {
        let scope = options.lock_scope.as_deref().map(|s| format!(".{s}")).unwrap_or_default();
        let key = join_key(&root, &format!("{STATE_DIR}/locks/{}/{name}{scope}.lock", spec.tenant));
        let settings = LockSettings { lease: options.lock_lease, wait: options.lock_wait, run_id: options.run_id.clone() };
        Some(TableLock::acquire(store.clone(), &key, &settings)?)
    } else {
        None
    };
    let registry = match &spec.version {
        Some(version) => {
            Registry::check_version(version).map_err(TableError::Config)?;
            report.version = Some(version.clone());
            Some((Registry::new(store.clone(), &root, &spec.tenant, name), version.clone()))
        }
        None => None,
    };
    let inputs = find_inputs(spec, &info, storage, registry.as_ref())?;
    for input in &inputs {
        let files = input.objects.iter().map(|o| o.uri.clone()).collect();
        let bytes = input.objects.iter().map(InputObject::size).sum();
        report.inputs.push(InputReport { name: input.name.clone(), files, rows: 0, bytes });
    }
    report.bytes_in = report.inputs.iter().map(|i| i.bytes).sum();
    let unit = unit_key(name, spec, &plugin, &info, &inputs, &config_json).id();
    let dataset = Dataset { store: store.clone(), root: root.clone(), mode, unit };
    if mode == CommitMode::Append {
        report.unit = Some(dataset.unit.clone());
        report.manifest = Some(store.uri(&dataset.manifest_key()));
    }
    if !options.force && already_done(&dataset, registry.as_ref(), report)? {
        report.status = Status::AlreadyDone;
        if let Some(lock) = lock {
            lock.release()?;
        }
        return Ok(());
    }
    let record = |status: VersionStatus, error: Option<String>, unit: Option<String>| -> Result<(), TableError> {
        let Some((registry, version)) = &registry else { return Ok(()) };
        // Local paths made absolute, so a later run from another folder finds them.
        let absolute = |uri: &str| match uri.starts_with("s3://") {
            true => uri.to_string(),
            false => std::path::absolute(uri).map(|p| p.display().to_string()).unwrap_or_else(|_| uri.to_string()),
        };
        let inputs = inputs.iter().map(|i| (i.name.clone(), i.objects.iter().map(|o| absolute(&o.uri)).collect())).collect();
        let updated_at = super::report::format_micros(now_micros());
        let entry = VersionRecord { version: version.clone(), status, run_id: options.run_id.clone(), updated_at, inputs, unit, error };
        Ok(registry.record(&entry)?)
    };
    record(VersionStatus::Running, None, None)?;
    let result = process(name, spec, engine, options, batch_rows, &plugin, &info, &config_json, &inputs, &dataset, lock.as_ref(), report);
    match &result {
        Ok(()) => record(VersionStatus::Succeeded, None, Some(dataset.unit.clone()))?,
        Err(e) => {
            if let Err(record_error) = record(VersionStatus::Failed, Some(e.to_string()), None) {
                tracing::warn!(table = %name, "could not record the failed version: {record_error}");
            }
        }
    }
    if let Some(lock) = lock {
        lock.release()?;
    }
    result
}

/// A bundled plugin, a local `.wasm`, or an `s3://.../plugin.wasm` object.
fn load_plugin(engine: &PluginEngine, storage: &Storage, reference: &str) -> Result<std::sync::Arc<LoadedPlugin>, TableError> {
    let Location::S3 { bucket, key } = Location::parse(reference, std::path::Path::new(""))? else {
        return Ok(engine.load(reference)?);
    };
    use crate::storage::Store;
    let found = storage.bucket(&bucket)?.get(&key)?.ok_or_else(|| TableError::Config(format!("no plugin at {reference}")))?;
    Ok(engine.load_bytes(reference, &found.body)?)
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// Whether this exact work was committed before: the version succeeded, or the unit's
/// manifest exists. Fills the report from what was committed.
fn already_done(dataset: &Dataset, registry: Option<&(Registry, String)>, report: &mut TableReport) -> Result<bool, TableError> {
    let succeeded = match registry {
        Some((registry, version)) => registry.get(version)?.filter(|found| found.status == VersionStatus::Succeeded),
        None => None,
    };
    let manifest = match succeeded {
        Some(found) => {
            tracing::info!(table = %report.table, version = %found.version, "version already processed; nothing to do");
            // Report what that version committed: its unit's manifest, in append mode.
            let Some(unit) = found.unit.filter(|u| !u.is_empty()) else { return Ok(true) };
            match (Dataset { unit, ..dataset.clone() }).committed()? {
                Some(manifest) => manifest,
                None => return Ok(true),
            }
        }
        None => match dataset.committed()? {
            Some(manifest) => manifest,
            None => return Ok(false),
        },
    };
    // A run that died between its manifest and its symlink files left them incomplete.
    dataset.write_symlinks(&manifest)?;
    for file in manifest.files {
        report.outputs.push(OutputReport { name: file.output, path: file.uri, partition: file.partition, rows: file.rows, bytes: file.bytes });
    }
    tracing::info!(table = %report.table, unit = %manifest.unit, committed_by = %manifest.run_id, "input already committed; nothing to do");
    Ok(true)
}

fn unit_key<'a>(
    name: &'a str,
    spec: &'a TableSpec,
    plugin: &'a LoadedPlugin,
    info: &'a PluginInfo,
    inputs: &[FoundInput],
    config_json: &'a str,
) -> UnitKey<'a> {
    UnitKey {
        table: name,
        tenant: &spec.tenant,
        version: spec.version.as_deref(),
        inputs: inputs
            .iter()
            .map(|i| (i.name.clone(), format!("{:?}", i.spec.csv), i.objects.iter().map(|o| (o.uri.clone(), o.identity())).collect()))
            .collect(),
        plugin_sha256: &plugin.sha256,
        contract: &info.contract_version,
        config_json,
        params: spec.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        output: format!(
            "{} {:?} {} {:?}",
            spec.output.compression, spec.output.level, spec.output.row_group_rows, spec.output.partition
        ),
    }
}

/// Runs the plugin over the inputs and commits what it wrote.
#[allow(clippy::too_many_arguments)]
fn process(
    name: &str,
    spec: &TableSpec,
    engine: &PluginEngine,
    options: &RunOptions,
    batch_rows: usize,
    plugin: &LoadedPlugin,
    info: &PluginInfo,
    config_json: &str,
    found: &[FoundInput],
    dataset: &Dataset,
    lock: Option<&TableLock>,
    report: &mut TableReport,
) -> Result<(), TableError> {
    let inputs = open_inputs(found, batch_rows)?;
    let schemas: Vec<_> = inputs.iter().map(|i| (i.name.clone(), i.csv.schema())).collect();
    let context = RunContext {
        run_id: options.run_id.clone(),
        run_time_micros: options.run_time_micros,
        table: name.into(),
        params: spec.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    let limits = spec.limits.session_limits();
    let mut session = Session::open(engine, plugin, info, config_json, &schemas, &context, &limits)?;

    let sources: Vec<Vec<String>> = found.iter().map(|i| i.objects.iter().map(|o| o.uri.clone()).collect()).collect();
    let outputs = Outputs {
        dataset: dataset.clone(),
        partitioner: Partitioner::new(spec.output.partition.clone(), options.run_time_micros),
        settings: WriterSettings {
            compression: spec.output.compression.clone(),
            level: spec.output.level,
            row_group_rows: spec.output.row_group_rows,
        },
        provenance: provenance(name, options, plugin, info, config_json, found, dataset),
        schemas: session.outputs().to_vec(),
        upsert: spec.output.upsert.clone(),
    };
    let writer = Writer::new(&outputs, spec.output.partition.is_some())?;

    let progress = progress_bar(name, options.progress);
    let streamed = stream(inputs, &mut session, writer, &sources, &progress)?;
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
    if let Some(lock) = lock {
        lock.check()?;
    }
    commit(streamed.staged, dataset, options, plugin, config_json, found, name, report)
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

/// Pairs the pipeline's inputs with the plugin's, in the plugin's order, and lists them.
fn find_inputs<'a>(
    spec: &'a TableSpec,
    info: &PluginInfo,
    storage: &Storage,
    registry: Option<&(Registry, String)>,
) -> Result<Vec<FoundInput<'a>>, TableError> {
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
            let objects = match &input.from_registry {
                Some(of) => from_registry(&name, of, registry, storage)?,
                None => crate::source::expand(&input.path, input.select, storage)
                    .map_err(|source| TableError::Source { input: name.clone(), source })?,
            };
            Ok(FoundInput { name, spec: input, objects })
        })
        .collect()
}

/// The files input `of` read in the latest version that succeeded before this one; none
/// when this is the first version.
fn from_registry(
    name: &str,
    of: &str,
    registry: Option<&(Registry, String)>,
    storage: &Storage,
) -> Result<Vec<InputObject>, TableError> {
    let (registry, version) = registry.ok_or_else(|| TableError::Config("`from_registry` needs the table's `version`".into()))?;
    let Some(base) = registry.latest_succeeded_before(version)? else {
        tracing::info!(input = name, version, "no earlier successful version: the input is empty");
        return Ok(Vec::new());
    };
    let uris = base.inputs.iter().find(|(n, _)| n == of).map(|(_, u)| u.clone()).ok_or_else(|| {
        TableError::Config(format!("version {} recorded no input `{of}` (it has {:?})", base.version, base.inputs.iter().map(|i| &i.0).collect::<Vec<_>>()))
    })?;
    tracing::info!(input = name, base = %base.version, files = uris.len(), "read from the version registry");
    uris.iter()
        .map(|uri| {
            let mut found = crate::source::expand(uri, crate::pipeline::Select::All, storage)
                .map_err(|source| TableError::Source { input: name.into(), source })?;
            match found.len() {
                1 => Ok(found.remove(0)),
                _ => Err(TableError::Config(format!("version {}'s input {uri} is no longer a single object", base.version))),
            }
        })
        .collect()
}

fn open_inputs(found: &[FoundInput], batch_rows: usize) -> Result<Vec<OpenInput>, TableError> {
    found
        .iter()
        .map(|input| {
            let name = input.name.clone();
            let csv = CsvInput::from_objects(input.objects.clone(), &input.spec.csv, batch_rows)
                .map_err(|source| TableError::Source { input: name.clone(), source })?;
            if csv.schema().fields().is_empty() {
                return Err(TableError::Config(format!(
                    "input `{name}`: {} is empty and no `columns` are declared, so its columns are unknown",
                    input.objects.first().map(|o| o.uri.as_str()).unwrap_or("it")
                )));
            }
            Ok(OpenInput { name, csv })
        })
        .collect()
}

fn provenance(
    table: &str,
    options: &RunOptions,
    plugin: &LoadedPlugin,
    info: &PluginInfo,
    config_json: &str,
    found: &[FoundInput],
    dataset: &Dataset,
) -> Vec<(String, String)> {
    let source_json: serde_json::Map<String, serde_json::Value> = found
        .iter()
        .map(|i| (i.name.clone(), serde_json::json!(i.objects.iter().map(|o| o.uri.clone()).collect::<Vec<_>>())))
        .collect();
    let mut entries = vec![
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
    if dataset.mode == CommitMode::Append {
        entries.push(("sluice.unit".into(), dataset.unit.clone()));
    }
    entries
}

/// What the streaming stage produced.
struct Streamed {
    rows_in: Vec<u64>,
    rows_rejected: u64,
    staged: Vec<Staged>,
}

enum ToWriter {
    Output(usize, RecordBatch),
    Rejects(RecordBatch),
}

/// Runs the three stages; on any failure every staged file is dropped (and so deleted).
fn stream(
    inputs: Vec<OpenInput>,
    session: &mut Session,
    writer: Writer,
    sources: &[Vec<String>],
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
            .spawn_scoped(scope, move || write_outputs(writer, writer_rx))
            .map_err(|e| TableError::Internal(format!("spawning writer: {e}")))?;

        let transformed = transform(session, &names, sources, &source_rx, &writer_tx);
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

fn write_outputs(mut writer: Writer, rx: Receiver<ToWriter>) -> Result<Vec<Staged>, TableError> {
    for message in rx {
        match message {
            ToWriter::Output(index, batch) => writer.write(index, batch)?,
            ToWriter::Rejects(batch) => writer.write_rejects(&batch)?,
        }
    }
    writer.finish()
}

/// Makes every staged file visible, then writes the unit's manifest: the commit point.
#[allow(clippy::too_many_arguments)]
fn commit(
    staged: Vec<Staged>,
    dataset: &Dataset,
    options: &RunOptions,
    plugin: &LoadedPlugin,
    config_json: &str,
    found: &[FoundInput],
    table: &str,
    report: &mut TableReport,
) -> Result<(), TableError> {
    let mut files = Vec::with_capacity(staged.len());
    for Staged { output, partition, key, file } in staged {
        let (rows, bytes) = (file.rows, file.bytes);
        let uri = file.commit()?;
        if output != REJECTS {
            report.rows_out += rows;
        }
        report.bytes_out += bytes;
        report.outputs.push(OutputReport { name: output.clone(), path: uri.clone(), partition: partition.clone(), rows, bytes });
        files.push(ManifestFile { output, partition, uri, key, rows, bytes });
    }
    let manifest = Manifest {
        unit: dataset.unit.clone(),
        table: table.into(),
        run_id: options.run_id.clone(),
        committed_at: super::report::format_micros(now_micros()),
        plugin_sha256: plugin.sha256.clone(),
        config_sha256: hex::encode(Sha256::digest(config_json.as_bytes())),
        inputs: found.iter().map(|i| (i.name.clone(), i.objects.iter().map(|o| (o.uri.clone(), o.identity())).collect())).collect(),
        files,
    };
    dataset.commit(&manifest, options.force)?;
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
