//! Stage 3: the staged files made visible, then the unit's manifest written: the commit
//! point. Also what every output file records about where it came from.

use super::outputs::{Staged, REJECTS};
use super::prepare::Prepared;
use super::TableRun;
use std::collections::BTreeSet;

use crate::commit::generation::folder_key;
use crate::commit::{record_schema, CommitMode, Manifest, ManifestFile};
use crate::run::{format_micros, now_micros, OutputReport, TableError, TableReport};
use crate::sink::Overwrite;
use crate::storage::{copy_object, join_key};

/// Stage 3's result: the files now visible.
pub(super) struct Committed {
    pub outputs: Vec<OutputReport>,
}

pub(super) fn commit(
    run: &TableRun,
    prepared: &Prepared,
    staged: Vec<Staged>,
    (schemas, iceberg): (
        &[(String, arrow::datatypes::SchemaRef)],
        Option<&[super::iceberg::Plan]>,
    ),
) -> Result<Committed, TableError> {
    if let Some(plans) = iceberg {
        let outputs = super::iceberg::commit(run, prepared, staged, plans)?;
        prepared.record_owner(run)?;
        record_schemas(prepared, schemas)?;
        return Ok(Committed { outputs });
    }
    let mut files = Vec::with_capacity(staged.len());
    for Staged {
        output,
        partition,
        key,
        file,
    } in staged
    {
        let (rows, bytes) = (file.rows, file.bytes);
        let uri = file.commit()?;
        files.push(ManifestFile {
            output,
            partition,
            uri,
            key,
            rows,
            bytes,
        });
    }
    if run.spec.output.overwrite == Overwrite::Partitions {
        files.extend(carry_over(prepared, &files)?);
    }
    let manifest = Manifest {
        unit: prepared.dataset.unit.to_string(),
        table: run.name.into(),
        run_id: run.host.options.run_id.clone(),
        committed_at: format_micros(now_micros()),
        plugin_sha256: prepared.plugin.sha256.clone(),
        config_sha256: prepared.config_sha256(),
        inputs: prepared
            .inputs
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    i.objects
                        .iter()
                        .map(|o| (o.uri.clone(), o.identity()))
                        .collect(),
                )
            })
            .collect(),
        files,
        generation: prepared.dataset.generation.as_ref().map(|g| g.id.clone()),
    };
    prepared.dataset.commit(&manifest, run.host.options.force)?;
    prepared.record_owner(run)?;
    record_schemas(prepared, schemas)?;
    remove_legacy(prepared)?;
    let outputs = manifest.files.into_iter().map(OutputReport::from);
    Ok(Committed {
        outputs: outputs.collect(),
    })
}

/// After the data: the schema the next run is held to.
fn record_schemas(
    prepared: &Prepared,
    schemas: &[(String, arrow::datatypes::SchemaRef)],
) -> Result<(), TableError> {
    for (output, schema) in schemas {
        let dataset = &prepared.dataset;
        record_schema(&*dataset.store, &dataset.root, output, schema)?;
    }
    Ok(())
}

/// Dynamic partition overwrite: the previous generation's files of the partitions this
/// run wrote nothing to, copied into the new generation (server-side on S3), so the new
/// generation is the whole table and the old one can go.
fn carry_over(
    prepared: &Prepared,
    written: &[ManifestFile],
) -> Result<Vec<ManifestFile>, TableError> {
    let dataset = &prepared.dataset;
    let Some(generation) = &dataset.generation else {
        return Ok(Vec::new());
    };
    let Some(previous) = generation.current() else {
        return Ok(Vec::new());
    };
    let old_folder = folder_key(
        &dataset.root,
        previous.generation.as_deref().unwrap_or_default(),
    );
    let new_folder = folder_key(&dataset.root, &generation.id);
    let ours: BTreeSet<(&str, &str)> = written
        .iter()
        .map(|f| (f.output.as_str(), f.partition.as_str()))
        .collect();
    let store = &*dataset.store;
    let mut carried = Vec::new();
    for file in &previous.files {
        if file.partition.is_empty()
            || ours.contains(&(file.output.as_str(), file.partition.as_str()))
        {
            continue;
        }
        let within = file.key.strip_prefix(&old_folder).unwrap_or(&file.key);
        let key = join_key(&new_folder, within.trim_start_matches('/'));
        let meta = store
            .head(&file.key)?
            .ok_or_else(|| crate::storage::StoreError::NotFound {
                uri: store.uri(&file.key),
            })?;
        copy_object(store, &key, store, &meta)?;
        carried.push(ManifestFile {
            uri: store.uri(&key),
            key,
            ..file.clone()
        });
    }
    Ok(carried)
}

/// Replace mode: the files a release before generations wrote beside `_sluice/` go once
/// the table is a generation, so readers of the old paths find nothing rather than a
/// table that no longer changes.
fn remove_legacy(prepared: &Prepared) -> Result<(), TableError> {
    let mut outputs: Vec<&str> = prepared
        .info
        .outputs
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    outputs.push(REJECTS);
    for key in prepared.dataset.remove_legacy(&outputs)? {
        tracing::info!(file = %prepared.dataset.store.uri(&key), "removed: written before generations");
    }
    Ok(())
}

impl Committed {
    /// The report with what was committed; rejects count as bytes, not as rows out.
    pub fn report(self, known: TableReport) -> TableReport {
        let rows_out = self
            .outputs
            .iter()
            .filter(|o| o.name != REJECTS)
            .map(|o| o.rows)
            .sum();
        let bytes_out = self.outputs.iter().map(|o| o.bytes).sum();
        TableReport {
            rows_out,
            bytes_out,
            outputs: self.outputs,
            ..known
        }
    }
}

/// The key-value metadata every Parquet file of the table carries.
pub(super) fn provenance(run: &TableRun, prepared: &Prepared) -> Vec<(String, String)> {
    let source: serde_json::Map<String, serde_json::Value> = prepared
        .inputs
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                serde_json::json!(i.objects.iter().map(|o| o.uri.clone()).collect::<Vec<_>>()),
            )
        })
        .collect();
    let info = &prepared.info;
    let mut entries = vec![
        ("sluice.table".into(), run.name.into()),
        ("sluice.run_id".into(), run.host.options.run_id.clone()),
        ("sluice.host.version".into(), crate::HOST_VERSION.into()),
        (
            "sluice.contract.version".into(),
            info.contract_version.clone(),
        ),
        ("sluice.plugin.name".into(), info.name.clone()),
        ("sluice.plugin.version".into(), info.version.clone()),
        (
            "sluice.plugin.sha256".into(),
            prepared.plugin.sha256.clone(),
        ),
        ("sluice.config.sha256".into(), prepared.config_sha256()),
        (
            "sluice.source".into(),
            serde_json::Value::Object(source).to_string(),
        ),
    ];
    if prepared.dataset.mode == CommitMode::Append {
        entries.push(("sluice.unit".into(), prepared.dataset.unit.to_string()));
    }
    entries
}
