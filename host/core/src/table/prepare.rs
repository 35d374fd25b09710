//! Stage 1: everything a table needs before a byte is read: the plugin and what it
//! declares, the table lock, the version registry, the inputs and the commit unit.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::inputs::{find_inputs, FoundInput};
use super::owner::Owner;
use super::{TableRun, REJECTS};
use crate::commit::{
    canonical_json, lock_key, non_default, CommitMode, Dataset, Generation, LockSettings, Registry,
    TableLock, UnitId, UnitInput, UnitKey, VersionRecord, VersionStatus,
};
use crate::plugin::{LoadedPlugin, PluginInfo, Session};
use crate::run::{format_micros, InputReport, OutputReport, PluginReport, TableError, TableReport};
use crate::source::{warm_identities, CsvOptions, InputObject};
use crate::storage::Location;

/// The plugin, loaded and described.
pub(super) struct Loaded {
    pub plugin: Arc<LoadedPlugin>,
    pub info: PluginInfo,
}

/// A table ready to stream: stage 1's result.
pub(super) struct Prepared<'a> {
    pub table: String,
    pub run_id: String,
    pub plugin: Arc<LoadedPlugin>,
    pub info: PluginInfo,
    /// The plugin config as JSON, as the plugin receives it.
    pub config_json: String,
    pub inputs: Vec<FoundInput<'a>>,
    /// Where and under which unit the outputs are committed.
    pub dataset: Dataset,
    lock: TableLock,
    versioned: Option<Versioned>,
    /// What the location records of its table.
    owner: Owner,
}

/// The table's version registry and the version this run processes.
pub(super) struct Versioned {
    pub registry: Registry,
    pub version: String,
}

/// Loads the plugin (bundled, a local `.wasm` or an `s3://` object) and asks what it is.
pub(super) fn load(run: &TableRun) -> Result<Loaded, TableError> {
    let plugin = load_plugin(run.host, &run.spec.plugin)?;
    let info = Session::describe(run.host.engine, &plugin)?;
    if info.outputs.iter().any(|o| o.name == REJECTS) {
        return Err(TableError::Config(format!(
            "plugin output `{REJECTS}` clashes with the host's rejects output"
        )));
    }
    Ok(Loaded { plugin, info })
}

fn load_plugin(host: &super::Host, reference: &str) -> Result<Arc<LoadedPlugin>, TableError> {
    let Location::S3 { bucket, key } = Location::parse(reference, std::path::Path::new(""))? else {
        return Ok(host.engine.load(reference)?);
    };
    let found = host.storage.bucket(&bucket)?.get(&key)?;
    let found = found.ok_or_else(|| TableError::Config(format!("no plugin at {reference}")))?;
    Ok(host.engine.load_bytes(reference, &found.body)?)
}

impl Loaded {
    pub fn report(&self, table: &str, batch_rows: usize) -> TableReport {
        let plugin = PluginReport {
            reference: self.plugin.reference.clone(),
            name: self.info.name.clone(),
            version: self.info.version.clone(),
            sha256: self.plugin.sha256.clone(),
            contract_version: self.info.contract_version.clone(),
            compiled_from_cache: self.plugin.from_cache,
            batches_in_host: self.plugin.batches_in_host(),
            batch_rows,
        };
        TableReport {
            plugin: Some(plugin),
            ..TableReport::new(table)
        }
    }
}

/// Takes the lock (before listing: the registry picks some inputs), lists the inputs and
/// derives the commit unit.
pub(super) fn prepare<'a>(run: &TableRun<'a>, loaded: Loaded) -> Result<Prepared<'a>, TableError> {
    let spec = run.spec;
    let location = Location::parse(&spec.output.location, std::path::Path::new(""))?;
    let (store, root) = run.host.storage.resolve(&location)?;
    let mode = spec.output.commit_mode();
    // One writer per table, whatever the mode: two runs replacing one table at once
    // would each report the rows of a file that holds the other's.
    let lock = take_lock(run, store.clone(), &root)?;
    discard_staged(run, &*store, &root);
    let owner = Owner::check(&spec.tenant, run.name, &*store, &root)?;
    let versioned = versioned(run, &store, &root)?;
    let mut inputs = find_inputs(spec, &loaded.info, run.host.storage, versioned.as_ref())?;
    for object in inputs.iter_mut().flat_map(|input| &mut input.objects) {
        object.set_content_hash(owner.content_hash);
    }
    let config_json = spec.config_json();
    let threads = run.host.options.encode_threads.unwrap_or(1);
    let unit = UnitParts::new(run, &loaded, &inputs, &config_json).unit(mode, threads);
    let generation = match mode {
        CommitMode::Replace => Some(Generation::begin(&*store, &root, generation_id(run))?),
        CommitMode::Append => None,
    };
    let dataset = Dataset {
        store,
        root,
        mode,
        unit,
        generation,
        iceberg: spec.output.format == crate::sink::Format::Iceberg,
    };
    Ok(Prepared {
        table: run.name.to_string(),
        run_id: run.host.options.run_id.clone(),
        plugin: loaded.plugin,
        info: loaded.info,
        config_json,
        inputs,
        dataset,
        lock,
        versioned,
        owner,
    })
}

/// A replace-mode run's generation folder: its start time, readable and sorted by age.
fn generation_id(run: &TableRun) -> String {
    let stamp = format_micros(crate::run::now_micros());
    stamp
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect::<String>()
        + "-"
        + &run
            .host
            .options
            .run_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect::<String>()
}

/// The table's version registry and this run's version, when the table is versioned.
pub(super) fn versioned(
    run: &TableRun,
    store: &Arc<dyn crate::storage::Store>,
    root: &str,
) -> Result<Option<Versioned>, TableError> {
    let Some(version) = &run.spec.version else {
        return Ok(None);
    };
    Registry::check_version(version).map_err(TableError::Config)?;
    Ok(Some(Versioned {
        registry: Registry::new(store.clone(), root, &run.spec.tenant, run.name),
        version: version.clone(),
    }))
}

/// The table's lock, in every mode: its outputs are shared state.
fn take_lock(
    run: &TableRun,
    store: Arc<dyn crate::storage::Store>,
    root: &str,
) -> Result<TableLock, TableError> {
    let options = run.host.options;
    let key = lock_key(
        root,
        &run.spec.tenant,
        run.name,
        options.lock_scope.as_deref(),
    );
    let settings = LockSettings {
        lease: options.lock_lease,
        wait: options.lock_wait,
        run_id: options.run_id.clone(),
    };
    Ok(TableLock::acquire(store, &key, &settings)?)
}

/// What a killed run of this table left staged: its hidden temporary files, its
/// incomplete uploads. Under the whole table's lock only: the shards of a split table
/// stage into the same folder at once.
fn discard_staged(run: &TableRun, store: &dyn crate::storage::Store, root: &str) {
    if run.host.options.lock_scope.is_some() {
        return;
    }
    // Left over, they cost storage but are never visible: a failure to list them (a store
    // without ListMultipartUploads, say) is a warning, not a failed table.
    match store.discard_staged(root) {
        Ok(0) => {}
        Ok(discarded) => {
            tracing::info!(table = %run.name, discarded, "discarded what an interrupted run left staged")
        }
        Err(e) => {
            tracing::warn!(table = %run.name, "could not look for what an interrupted run left staged: {e}")
        }
    }
}

/// Everything the commit unit is made of, owned, so that its id can be computed on
/// another thread (see [`UnitId`]).
struct UnitParts {
    table: String,
    tenant: String,
    version: Option<String>,
    /// Each input's key, but for its objects' identities, and the objects.
    inputs: Vec<(UnitInput, Vec<InputObject>)>,
    plugin_sha256: String,
    contract: String,
    config: serde_json::Value,
    params: Vec<(String, String)>,
    output: serde_json::Value,
}

impl UnitParts {
    fn new(run: &TableRun, loaded: &Loaded, inputs: &[FoundInput], config_json: &str) -> Self {
        let spec = run.spec;
        let defaults = CsvOptions::default_for_fixtures();
        let inputs = inputs.iter().map(|i| {
            let key = UnitInput {
                name: i.name.clone(),
                decoding: non_default(&i.spec.csv, &defaults),
                quality: match i.spec.quality.is_empty() {
                    true => serde_json::Value::Null,
                    false => serde_json::to_value(&i.spec.quality).unwrap_or_default(),
                },
                objects: Vec::new(),
            };
            (key, i.objects.clone())
        });
        UnitParts {
            table: run.name.to_string(),
            tenant: spec.tenant.clone(),
            version: spec.version.clone(),
            inputs: inputs.collect(),
            plugin_sha256: loaded.plugin.sha256.clone(),
            contract: loaded.info.contract_version.clone(),
            config: canonical_json(config_json),
            params: spec.params.clone().into_iter().collect(),
            output: spec.output.encoding_key(),
        }
    }

    /// The unit's id: now in append mode, which needs it before reading. Otherwise on
    /// first use (the commit's manifest): by then the stream has read every local file to
    /// its end and hashed it as it read, so only a file it did not read through is read
    /// again here (on `threads` threads).
    fn unit(self, mode: CommitMode, threads: usize) -> UnitId {
        let objects: Vec<InputObject> = self.objects().cloned().collect();
        if mode == CommitMode::Append {
            warm_identities(&objects.iter().collect::<Vec<_>>(), threads);
            return UnitId::known(self.id());
        }
        UnitId::deferred(move || {
            warm_identities(&objects.iter().collect::<Vec<_>>(), threads);
            self.id()
        })
    }

    fn objects(&self) -> impl Iterator<Item = &InputObject> {
        self.inputs.iter().flat_map(|(_, objects)| objects)
    }

    fn id(&self) -> String {
        let inputs = self.inputs.iter().map(|(key, objects)| UnitInput {
            objects: objects
                .iter()
                .map(|o| (o.uri.clone(), o.identity()))
                .collect(),
            name: key.name.clone(),
            decoding: key.decoding.clone(),
            quality: key.quality.clone(),
        });
        UnitKey {
            table: &self.table,
            tenant: &self.tenant,
            version: self.version.as_deref(),
            inputs: inputs.collect(),
            plugin_sha256: &self.plugin_sha256,
            contract: &self.contract,
            config: self.config.clone(),
            params: self
                .params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            output: self.output.clone(),
        }
        .id()
    }
}

impl Prepared<'_> {
    /// What is known before streaming: the inputs, the unit and the version.
    pub fn report(&self, known: TableReport) -> TableReport {
        let inputs: Vec<InputReport> = self
            .inputs
            .iter()
            .map(|input| InputReport {
                name: input.name.clone(),
                files: input.objects.iter().map(|o| o.uri.clone()).collect(),
                rows: 0,
                bytes: input.objects.iter().map(InputObject::size).sum(),
            })
            .collect();
        let append = self.dataset.mode == CommitMode::Append;
        TableReport {
            bytes_in: inputs.iter().map(|i| i.bytes).sum(),
            inputs,
            unit: append.then(|| self.dataset.unit.to_string()),
            manifest: append.then(|| self.dataset.store.uri(&self.dataset.manifest_key())),
            version: self.versioned.as_ref().map(|v| v.version.clone()),
            ..known
        }
    }

    /// The sha256 of the plugin config, recorded in manifests and Parquet metadata.
    pub fn config_sha256(&self) -> String {
        hex::encode(Sha256::digest(self.config_json.as_bytes()))
    }

    /// What this exact work committed before, if it was: the version succeeded, or the
    /// unit's manifest exists.
    pub fn committed_before(
        &self,
        run: &TableRun,
    ) -> Result<Option<Vec<OutputReport>>, TableError> {
        let succeeded = self.succeeded_version()?;
        if self.dataset.iceberg && succeeded.is_none() {
            let done = super::iceberg::committed(run, self)?;
            if done {
                tracing::info!(table = %self.table, unit = %self.dataset.unit, "input already in the Iceberg tables; nothing to do");
            }
            return Ok(done.then(Vec::new));
        }
        let manifest = match succeeded {
            Some(found) => {
                tracing::info!(table = %self.table, version = %found.version, "version already processed; nothing to do");
                // Report what that version committed: its unit's manifest, in append mode.
                let Some(unit) = found.unit.filter(|u| !u.is_empty()) else {
                    return Ok(Some(Vec::new()));
                };
                match (Dataset {
                    unit: UnitId::known(unit),
                    ..self.dataset.clone()
                })
                .committed()?
                {
                    Some(manifest) => manifest,
                    None => return Ok(Some(Vec::new())),
                }
            }
            None => match self.dataset.committed()? {
                Some(manifest) => manifest,
                None => return Ok(None),
            },
        };
        // A run that died between its manifest and its symlink files left them incomplete.
        self.dataset.write_symlinks(&manifest)?;
        tracing::info!(table = %self.table, unit = %manifest.unit, committed_by = %manifest.run_id, "input already committed; nothing to do");
        let outputs = manifest.files.into_iter().map(OutputReport::from);
        Ok(Some(outputs.collect()))
    }

    fn succeeded_version(&self) -> Result<Option<VersionRecord>, TableError> {
        let Some(Versioned { registry, version }) = &self.versioned else {
            return Ok(None);
        };
        Ok(registry
            .get(version)?
            .filter(|found| found.status == VersionStatus::Succeeded))
    }

    /// Records the version's state in the registry, when the table is versioned.
    pub fn record(&self, status: VersionStatus, error: Option<String>) -> Result<(), TableError> {
        let Some(Versioned { registry, version }) = &self.versioned else {
            return Ok(());
        };
        let inputs = self
            .inputs
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    i.objects.iter().map(|o| absolute(&o.uri)).collect(),
                )
            })
            .collect();
        let unit = (status == VersionStatus::Succeeded).then(|| self.dataset.unit.to_string());
        let entry = VersionRecord {
            version: version.clone(),
            status,
            run_id: self.run_id.clone(),
            updated_at: format_micros(crate::run::now_micros()),
            inputs,
            unit,
            error,
        };
        Ok(registry.record(&entry)?)
    }

    /// Records this table as the location's holder; called when the run commits.
    pub fn record_owner(&self, run: &TableRun) -> Result<(), TableError> {
        let dataset = &self.dataset;
        self.owner
            .record(&run.spec.tenant, run.name, &*dataset.store, &dataset.root)
    }

    /// Fails when the lock was lost (its lease expired and another run took it).
    pub fn check_lock(&self) -> Result<(), TableError> {
        Ok(self.lock.check()?)
    }

    /// A failed replace-mode run's generation folder goes at once, not at the next run.
    pub fn discard_generation(&self) {
        let Some(generation) = &self.dataset.generation else {
            return;
        };
        let (store, root) = (&*self.dataset.store, &self.dataset.root);
        if let Err(e) = generation.discard(store, root) {
            tracing::warn!(table = %self.table, "could not remove the failed run's generation: {e}");
        }
    }

    pub fn release(self) -> Result<(), TableError> {
        Ok(self.lock.release()?)
    }
}

/// Local paths made absolute, so a later run from another folder finds them.
fn absolute(uri: &str) -> String {
    match uri.starts_with("s3://") {
        true => uri.to_string(),
        false => std::path::absolute(uri)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| uri.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{expand, Select};
    use crate::storage::Storage;

    fn parts(path: &std::path::Path) -> UnitParts {
        let objects = expand(&path.to_string_lossy(), Select::All, &Storage::local()).unwrap();
        let input = UnitInput {
            name: "rows".into(),
            decoding: serde_json::json!({}),
            quality: serde_json::Value::Null,
            objects: Vec::new(),
        };
        UnitParts {
            table: "t".into(),
            tenant: "default".into(),
            version: None,
            inputs: vec![(input, objects)],
            plugin_sha256: "p".into(),
            contract: "0.1.0".into(),
            config: serde_json::json!({}),
            params: Vec::new(),
            output: serde_json::json!({}),
        }
    }

    /// Replace mode hashes as the stream reads (here nothing reads: the id hashes the file
    /// when asked); the id it commits is still the one append mode computes before
    /// reading, and it follows the bytes.
    #[test]
    fn a_deferred_unit_is_the_unit_computed_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "id\n1\n").unwrap();
        let up_front = parts(&path).unit(CommitMode::Append, 1).to_string();
        let deferred = parts(&path).unit(CommitMode::Replace, 2);
        assert_eq!(deferred.get(), up_front);

        std::fs::write(&path, "id\n2\n").unwrap();
        assert_ne!(parts(&path).unit(CommitMode::Replace, 1).get(), up_front);
    }
}
