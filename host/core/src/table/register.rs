//! After a commit, or a rerun that found the work committed: each plugin output registered
//! in the catalog (its table, columns, location and partitions), so it is queryable at once.

use std::collections::BTreeSet;

use arrow::datatypes::DataType;

use super::prepare::Prepared;
use super::TableRun;
use crate::catalog::{GlueSpec, Registration};
use crate::commit::{committed_schema, STATE_DIR};
use crate::run::{OutputReport, TableError};
use crate::sink::{folder_values, DateDepth, PartitionBy, Partitioner};
use crate::storage::join_key;

/// Registers every output the table committed; nothing without `output.glue`.
pub(super) fn register(
    run: &TableRun,
    prepared: &Prepared,
    committed: &[OutputReport],
) -> Result<(), TableError> {
    let Some(glue) = &run.spec.output.glue else {
        return Ok(());
    };
    if run.spec.output.format == crate::sink::Format::Iceberg {
        return Ok(()); // the Iceberg commit itself points Glue at the new metadata
    }
    let catalog =
        run.host.options.catalog.as_ref().ok_or_else(|| {
            TableError::Config("output.glue: this build has no Glue catalog".into())
        })?;
    let outputs = &prepared.info.outputs;
    for output in outputs {
        let registration =
            registration(run, prepared, glue, &output.name, outputs.len(), committed)?;
        if let Some(registration) = registration {
            catalog.0.register(&registration)?;
            tracing::info!(table = %run.name, glue = %format!("{}.{}", registration.database, registration.table),
                partitions = registration.partitions.len(), "registered in the Glue Data Catalog");
        }
    }
    Ok(())
}

/// What the catalog is told of one output; `None` before its first commit.
fn registration(
    run: &TableRun,
    prepared: &Prepared,
    glue: &GlueSpec,
    output: &str,
    outputs: usize,
    committed: &[OutputReport],
) -> Result<Option<Registration>, TableError> {
    let dataset = &prepared.dataset;
    let Some(schema) = committed_schema(&*dataset.store, &dataset.root, output)? else {
        return Ok(None);
    };
    let partitioner = Partitioner::new(run.spec.output.partition.clone(), 0);
    let symlinks = join_key(&dataset.root, &format!("{STATE_DIR}/symlink/{output}"));
    let location = format!("{}/", dataset.store.uri(&symlinks));
    let folders: BTreeSet<&str> = committed
        .iter()
        .filter(|o| o.name == output && !o.partition.is_empty())
        .map(|o| o.partition.as_str())
        .collect();
    let table = match (&glue.table, outputs) {
        (Some(table), 1) => table.clone(),
        (Some(table), _) => format!("{table}_{output}"),
        (None, 1) => run.name.to_string(),
        (None, _) => format!("{}_{output}", run.name),
    };
    Ok(Some(Registration {
        database: glue.database.clone(),
        table,
        partition_keys: partition_keys(run, &schema),
        schema: partitioner.file_schema(&schema),
        partitions: folders
            .into_iter()
            .map(|f| (folder_values(f), format!("{location}{f}/")))
            .collect(),
        location,
    }))
}

/// The partition keys of the output's folders: `year`, `month`, `day` (text: they are
/// zero-padded) down to the depth, or the value column with its type.
fn partition_keys(run: &TableRun, schema: &arrow::datatypes::Schema) -> Vec<(String, DataType)> {
    let Some(partition) = &run.spec.output.partition else {
        return Vec::new();
    };
    if partition.by == PartitionBy::Value {
        let column = partition.column.clone().unwrap_or_default();
        let data_type = schema
            .field_with_name(&column)
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Utf8);
        return vec![(column, data_type)];
    }
    let depth = match partition.depth {
        DateDepth::Year => 1,
        DateDepth::Month => 2,
        DateDepth::Day => 3,
    };
    ["year", "month", "day"][..depth]
        .iter()
        .map(|k| (k.to_string(), DataType::Utf8))
        .collect()
}
