//! A table whose outputs are Iceberg tables (`format = "iceberg"`): before streaming, each
//! output's table schema (ids kept, new columns added) and the file schema its data files
//! are written with; after, one snapshot per output table. See [`crate::iceberg`].

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::outputs::{Staged, REJECTS};
use super::prepare::Prepared;
use super::TableRun;
use crate::iceberg::{
    data_file, evolve, file_schema, partition_fields, partition_tuple, Commit, Current,
    IcebergError, IcebergField, PartitionField, Pointer, RestTable, Table,
};
use crate::run::{now_micros, OutputReport, TableError};
use crate::sink::rejects_schema;
use crate::storage::join_key;

/// How one output's files are written and committed.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub output: String,
    pub fields: Vec<IcebergField>,
    pub last_column_id: i32,
    pub partition: Vec<PartitionField>,
    /// The Arrow schema of the data files: Iceberg's types, with field ids.
    pub file_schema: SchemaRef,
    pub current: Option<Current>,
}

impl From<IcebergError> for TableError {
    fn from(e: IcebergError) -> Self {
        match e {
            IcebergError::Store(e) => TableError::Store(e),
            IcebergError::Catalog(e) => TableError::Catalog(e),
            IcebergError::Table { .. } => TableError::Config(e.to_string()),
        }
    }
}

/// The Iceberg table of an output: `<location>/<output>`, with its catalog.
fn table<'a>(
    run: &'a TableRun,
    prepared: &'a Prepared,
    output: &str,
) -> Result<Table<'a>, TableError> {
    // The catalog's name for the output's table: the given or the pipeline's table name,
    // suffixed with the output's when the plugin has several, and for the rejects.
    let name = |given: &Option<String>| {
        let name = given.clone().unwrap_or_else(|| run.name.to_string());
        match (output == REJECTS, prepared.info.outputs.len()) {
            (false, 1) => name,
            _ => format!("{name}_{output}"),
        }
    };
    let spec = &run.spec.output;
    let pointer = match (&spec.glue, &spec.rest_catalog) {
        (Some(glue), _) => {
            let catalog = run.host.options.catalog.as_ref().ok_or_else(|| {
                TableError::Config("output.glue: this build has no Glue catalog".into())
            })?;
            Pointer::Glue {
                catalog: &*catalog.0,
                database: glue.database.clone(),
                table: name(&glue.table),
            }
        }
        (None, Some(rest)) => Pointer::Rest(RestTable::new(rest.clone(), name(&rest.table))),
        (None, None) => Pointer::Files,
    };
    Ok(Table {
        store: &*prepared.dataset.store,
        root: join_key(&prepared.dataset.root, output),
        pointer,
    })
}

/// Whether every plugin output's table already has a snapshot of this unit (the rejects
/// table commits first, so it has it too).
pub(super) fn committed(run: &TableRun, prepared: &Prepared) -> Result<bool, TableError> {
    for output in &prepared.info.outputs {
        let current = table(run, prepared, &output.name)?.load()?;
        if !current.is_some_and(|c| c.has_unit(prepared.dataset.unit.get())) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Each plugin output's plan, then the rejects table's, before a row is written.
pub(super) fn plans(
    run: &TableRun,
    prepared: &Prepared,
    outputs: &[(String, SchemaRef)],
) -> Result<Vec<Plan>, TableError> {
    let partition = run.spec.output.partition.as_ref();
    let rejects = (REJECTS.to_string(), rejects_schema());
    let mut plans = Vec::with_capacity(outputs.len() + 1);
    for (index, (output, schema)) in outputs.iter().chain([&rejects]).enumerate() {
        let current = table(run, prepared, output)?.load()?;
        let known = current.as_ref().and_then(Current::schema);
        let last = current.as_ref().map_or(0, Current::last_column_id);
        let fail = |message: String| {
            TableError::Config(format!("output `{output}` as an Iceberg table: {message}"))
        };
        let (fields, last_column_id) = evolve(known.as_ref(), last, schema).map_err(fail)?;
        let partition = match index < outputs.len() {
            true => partition_fields(partition, &fields).map_err(fail)?,
            false => Vec::new(),
        };
        plans.push(Plan {
            output: output.clone(),
            file_schema: file_schema(schema, &fields).map_err(fail)?,
            fields,
            last_column_id,
            partition,
            current,
        });
    }
    Ok(plans)
}

const STRICT: arrow::compute::CastOptions<'static> = arrow::compute::CastOptions {
    safe: false,
    format_options: arrow::util::display::FormatOptions::new(),
};

/// A batch in the file schema's types (Iceberg has no 8- or 16-bit integers, unsigned
/// types or dictionaries), with its field ids.
pub(super) fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, TableError> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(
            |(column, field)| match column.data_type() == field.data_type() {
                true => Ok(column.clone()),
                // Not `safe`: a value the type can't hold is an error, not a NULL.
                false => arrow::compute::cast_with_options(column, field.data_type(), &STRICT),
            },
        )
        .collect::<Result<_, _>>()
        .map_err(|e| TableError::Internal(format!("casting to the Iceberg file schema: {e}")))?;
    RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| TableError::Internal(format!("a batch in the Iceberg file schema: {e}")))
}

/// A data file completed (visible by its key, not yet in a snapshot).
struct Completed {
    report: OutputReport,
    key: String,
    footer: Option<std::sync::Arc<parquet::file::metadata::ParquetMetaData>>,
}

/// Completes the staged files, then commits one snapshot per output table, rejects first.
/// A table that already has the unit (a rerun after a crash between two tables, or
/// `--force`) is left as it is: its new files are discarded, so the files its snapshot
/// names are never rewritten.
pub(super) fn commit(
    run: &TableRun,
    prepared: &Prepared,
    staged: Vec<Staged>,
    plans: &[Plan],
) -> Result<Vec<OutputReport>, TableError> {
    let unit = prepared.dataset.unit.get();
    let has_unit = |output: &str| {
        let plan = plans.iter().find(|p| p.output == output);
        plan.and_then(|p| p.current.as_ref())
            .is_some_and(|c| c.has_unit(unit))
    };
    let mut done = Vec::with_capacity(staged.len());
    for staged in staged {
        if has_unit(&staged.output) {
            continue; // dropped: the staged file is discarded
        }
        let (rows, bytes, footer) = (
            staged.file.rows,
            staged.file.bytes,
            staged.file.footer.clone(),
        );
        let path = staged.file.commit()?;
        let report = OutputReport {
            name: staged.output,
            path,
            partition: staged.partition,
            rows,
            bytes,
        };
        done.push(Completed {
            report,
            key: staged.key,
            footer,
        });
    }
    let Some((rejects, outputs)) = plans.split_last() else {
        return Err(TableError::Internal(
            "an Iceberg table without plans".into(),
        ));
    };
    for plan in std::iter::once(rejects).chain(outputs) {
        if has_unit(&plan.output) {
            continue;
        }
        let table = table(run, prepared, &plan.output)?;
        let files = data_files(&table, plan, &done)?;
        if files.is_empty() && plan.output == REJECTS {
            continue; // no rejects: the rejects table is not created for nothing
        }
        let commit = Commit {
            fields: &plan.fields,
            last_column_id: plan.last_column_id,
            partition: &plan.partition,
            files,
            unit,
            run_id: &run.host.options.run_id,
            now_ms: now_micros() / 1000,
        };
        let file = table.commit(plan.current.as_ref(), commit)?;
        tracing::info!(table = %run.name, output = %plan.output, metadata = %file, "Iceberg snapshot committed");
    }
    Ok(done.into_iter().map(|c| c.report).collect())
}

/// The manifest entries of one output's completed files.
fn data_files(
    table: &Table,
    plan: &Plan,
    done: &[Completed],
) -> Result<Vec<crate::iceberg::DataFile>, TableError> {
    let mut files = Vec::new();
    for completed in done.iter().filter(|c| c.report.name == plan.output) {
        let relative = completed
            .key
            .strip_prefix(&table.root)
            .unwrap_or(&completed.key);
        let uri = table.uri(relative.trim_start_matches('/'));
        let tuple = partition_tuple(&plan.partition, &completed.report.partition)
            .map_err(TableError::Config)?;
        let (rows, bytes) = (completed.report.rows, completed.report.bytes);
        files.push(data_file(
            uri,
            tuple,
            rows,
            bytes,
            completed.footer.as_deref(),
            &plan.fields,
        ));
    }
    Ok(files)
}
