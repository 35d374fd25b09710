//! The writer side of a table: one Parquet file per output and partition folder, created
//! as rows arrive, all staged until the table commits.

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::commit::Dataset;
use crate::run::TableError;
use crate::sink::UpsertSpec;
use crate::sink::{
    rejects_schema, ParquetSink, Partitioner, Provenance, SinkError, StagedFile, Upsert,
    WriterSettings,
};

/// The name of the host's own output for rejected rows.
pub const REJECTS: &str = "rejects";

/// Partition files one table may have open at once. Each holds a row group's worth of
/// encoded pages and, on S3, one upload part, so this bounds memory; sort the input by the
/// partition column if it has more distinct values.
const MAX_OPEN_PARTITIONS: usize = 64;

/// Everything needed to create this table's output files.
pub(super) struct Outputs {
    pub dataset: Dataset,
    pub partitioner: Partitioner,
    pub settings: WriterSettings,
    pub provenance: Vec<(String, String)>,
    /// The plugin's outputs, in its order.
    pub schemas: Vec<(String, SchemaRef)>,
    pub upsert: Option<UpsertSpec>,
}

/// A file written and staged, with where it belongs.
pub(super) struct Staged {
    pub output: String,
    pub partition: String,
    pub key: String,
    pub file: StagedFile,
}

pub(super) struct Writer<'a> {
    outputs: &'a Outputs,
    open: BTreeMap<(usize, String), ParquetSink>,
    rejects: Option<ParquetSink>,
    /// Per output, the previous file to merge into, when upserting.
    upserts: Vec<Option<Upsert>>,
}

impl<'a> Writer<'a> {
    /// Unpartitioned outputs get their file up front, so an output without rows still
    /// exists (with its schema) for readers.
    pub fn new(outputs: &'a Outputs, partitioned: bool) -> Result<Self, TableError> {
        let mut upserts = Vec::new();
        for (name, schema) in &outputs.schemas {
            upserts.push(match &outputs.upsert {
                Some(spec) => Upsert::load(
                    &*outputs.dataset.store,
                    &outputs.dataset.data_key(name, "", 0),
                    schema,
                    name,
                    spec,
                )?,
                None => None,
            });
        }
        let mut writer = Writer {
            outputs,
            open: BTreeMap::new(),
            rejects: None,
            upserts,
        };
        if !partitioned {
            for index in 0..outputs.schemas.len() {
                let sink = outputs.create(
                    &outputs.schemas[index].0,
                    "",
                    outputs.schemas[index].1.clone(),
                )?;
                writer.open.insert((index, String::new()), sink);
            }
        }
        Ok(writer)
    }

    pub fn write(&mut self, index: usize, batch: RecordBatch) -> Result<(), TableError> {
        let batch = match &mut self.upserts[index] {
            Some(upsert) => upsert.apply(batch)?,
            None => batch,
        };
        for (folder, rows) in self.outputs.partitioner.split(batch)? {
            let key = (index, folder);
            if !self.open.contains_key(&key) {
                if self.open.len() >= MAX_OPEN_PARTITIONS {
                    return Err(SinkError::Partition(format!(
                        "more than {MAX_OPEN_PARTITIONS} partition folders open at once (next: `{}`); sort the input by the partition column",
                        key.1
                    ))
                    .into());
                }
                let (name, schema) = &self.outputs.schemas[index];
                let sink = self.outputs.create(name, &key.1, schema.clone())?;
                self.open.insert(key.clone(), sink);
            }
            self.open
                .get_mut(&key)
                .expect("inserted above")
                .write(&rows)?;
        }
        Ok(())
    }

    pub fn write_rejects(&mut self, batch: &RecordBatch) -> Result<(), TableError> {
        if self.rejects.is_none() {
            self.rejects = Some(self.outputs.create(REJECTS, "", rejects_schema())?);
        }
        self.rejects.as_mut().expect("created above").write(batch)?;
        Ok(())
    }

    /// Finishes every file; nothing is visible yet.
    pub fn finish(mut self) -> Result<Vec<Staged>, TableError> {
        for (index, upsert) in std::mem::take(&mut self.upserts).into_iter().enumerate() {
            if let Some(upsert) = upsert {
                for rows in upsert.leftovers()? {
                    self.open
                        .get_mut(&(index, String::new()))
                        .expect("unpartitioned outputs are open")
                        .write(&rows)?;
                }
            }
        }
        let outputs = self.outputs;
        let mut staged = Vec::new();
        let rejects = self.rejects.map(|sink| ((usize::MAX, String::new()), sink));
        for ((index, partition), sink) in self.open.into_iter().chain(rejects) {
            let output = if index == usize::MAX {
                REJECTS.to_string()
            } else {
                outputs.schemas[index].0.clone()
            };
            let key = outputs.dataset.data_key(&output, &partition, 0);
            staged.push(Staged {
                output,
                partition,
                key,
                file: sink.finish()?,
            });
        }
        Ok(staged)
    }
}

impl Outputs {
    fn create(
        &self,
        output: &str,
        partition: &str,
        schema: SchemaRef,
    ) -> Result<ParquetSink, TableError> {
        let mut entries = self.provenance.clone();
        entries.push(("sluice.output".into(), output.into()));
        if !partition.is_empty() {
            entries.push(("sluice.partition".into(), partition.into()));
        }
        let key = self.dataset.data_key(output, partition, 0);
        Ok(ParquetSink::create(
            &*self.dataset.store,
            &key,
            schema,
            &self.settings,
            &Provenance { entries },
        )?)
    }
}
