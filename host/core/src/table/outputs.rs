//! The writer side of a table: one Parquet file per output and partition folder, created
//! as rows arrive, all staged until the table commits.

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::commit::Dataset;
use crate::run::TableError;
use crate::sink::UpsertSpec;
use crate::sink::{
    rejects_schema, ParquetSink, Partitioner, Provenance, StagedFile, Upsert, WriterSettings,
};

/// The name of the host's own output for rejected rows.
pub const REJECTS: &str = "rejects";

/// Partition files one table may have open at once. Each holds a row group's worth of
/// encoded pages and, on S3, one upload part, so this bounds memory. When a new partition
/// needs a file, the least recently written one is finished and staged; if its partition
/// comes back, it gets another file. Sorted input so writes one file per partition.
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
    /// Iceberg outputs: per output, then the rejects, how files are written.
    pub iceberg: Option<Vec<super::iceberg::Plan>>,
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
    open: BTreeMap<FileKey, OpenFile>,
    rejects: Option<ParquetSink>,
    /// Per output, the previous file to merge into, when upserting.
    upserts: Vec<Option<Upsert>>,
    /// Files finished early (partitions closed to bound the open ones).
    finished: Vec<Staged>,
    /// The next file number of each partition, and a clock for "least recently written".
    next_seq: BTreeMap<FileKey, usize>,
    clock: u64,
}

/// An output (by index) and a partition folder.
type FileKey = (usize, String);

struct OpenFile {
    sink: ParquetSink,
    seq: usize,
    last_write: u64,
}

impl<'a> Writer<'a> {
    /// Unpartitioned outputs get their file up front, so an output without rows still
    /// exists (with its schema) for readers.
    pub fn new(outputs: &'a Outputs, partitioned: bool) -> Result<Self, TableError> {
        let mut upserts = Vec::new();
        for (name, schema) in &outputs.schemas {
            let Some(spec) = &outputs.upsert else {
                upserts.push(None);
                continue;
            };
            // Without a previous file, this run's own key (not written yet) finds none,
            // and the spec is still checked against the schema.
            let previous = outputs.dataset.previous_key(name);
            let key = previous.unwrap_or_else(|| outputs.dataset.data_key(name, "", 0));
            let store = &*outputs.dataset.store;
            upserts.push(Upsert::load(store, &key, schema, name, spec)?);
        }
        let mut writer = Writer {
            outputs,
            open: BTreeMap::new(),
            rejects: None,
            upserts,
            finished: Vec::new(),
            next_seq: BTreeMap::new(),
            clock: 0,
        };
        if !partitioned {
            for index in 0..outputs.schemas.len() {
                writer.open_file((index, String::new()))?;
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
                    self.finish_least_recent()?;
                }
                self.open_file(key.clone())?;
            }
            self.clock += 1;
            let rows = match &self.outputs.iceberg {
                Some(plans) => super::iceberg::conform(&rows, &plans[index].file_schema)?,
                None => rows,
            };
            let file = self.open.get_mut(&key).expect("opened above");
            file.last_write = self.clock;
            file.sink.write(&rows)?;
        }
        Ok(())
    }

    fn open_file(&mut self, key: FileKey) -> Result<(), TableError> {
        let seq = self.next_seq.entry(key.clone()).or_default();
        let this = *seq;
        *seq += 1;
        let (name, schema) = &self.outputs.schemas[key.0];
        let schema = match &self.outputs.iceberg {
            Some(plans) => plans[key.0].file_schema.clone(),
            None => self.outputs.partitioner.file_schema(schema),
        };
        let sink = self.outputs.create(name, &key.1, this, schema)?;
        let file = OpenFile {
            sink,
            seq: this,
            last_write: self.clock,
        };
        self.open.insert(key, file);
        Ok(())
    }

    /// Finishes and stages the partition file written least recently.
    fn finish_least_recent(&mut self) -> Result<(), TableError> {
        let oldest = self
            .open
            .iter()
            .min_by_key(|(_, f)| f.last_write)
            .map(|(k, _)| k.clone())
            .expect("files are open");
        let file = self.open.remove(&oldest).expect("found above");
        let staged = self.outputs.stage(oldest, file)?;
        self.finished.push(staged);
        Ok(())
    }

    pub fn write_rejects(&mut self, batch: &RecordBatch) -> Result<(), TableError> {
        let plan = self.outputs.iceberg.as_ref().and_then(|plans| plans.last());
        if self.rejects.is_none() {
            let schema = plan.map_or_else(rejects_schema, |p| p.file_schema.clone());
            self.rejects = Some(self.outputs.create(REJECTS, "", 0, schema)?);
        }
        let batch = match plan {
            Some(plan) => super::iceberg::conform(batch, &plan.file_schema)?,
            None => batch.clone(),
        };
        self.rejects
            .as_mut()
            .expect("created above")
            .write(&batch)?;
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
                        .sink
                        .write(&rows)?;
                }
            }
        }
        let outputs = self.outputs;
        let mut staged = std::mem::take(&mut self.finished);
        for (key, file) in std::mem::take(&mut self.open) {
            staged.push(outputs.stage(key, file)?);
        }
        if let Some(sink) = self.rejects.take() {
            let key = outputs.dataset.data_key(REJECTS, "", 0);
            staged.push(Staged {
                output: REJECTS.to_string(),
                partition: String::new(),
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
        seq: usize,
        schema: SchemaRef,
    ) -> Result<ParquetSink, TableError> {
        let mut entries = self.provenance.clone();
        entries.push(("sluice.output".into(), output.into()));
        if !partition.is_empty() {
            entries.push(("sluice.partition".into(), partition.into()));
        }
        let key = self.dataset.data_key(output, partition, seq);
        Ok(ParquetSink::create(
            &*self.dataset.store,
            &key,
            schema,
            &self.settings,
            &Provenance { entries },
        )?)
    }

    /// A partition's (or an output's) file, finished and staged.
    fn stage(&self, (index, partition): FileKey, file: OpenFile) -> Result<Staged, TableError> {
        let output = self.schemas[index].0.clone();
        let key = self.dataset.data_key(&output, &partition, file.seq);
        Ok(Staged {
            output,
            partition,
            key,
            file: file.sink.finish()?,
        })
    }
}
