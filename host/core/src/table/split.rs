//! A table whose plugin keeps state per key, run in parts (`[tables.T.split]`), so that
//! its memory is set by the part, not by the whole input. This is how export-delta diffs
//! a 100M-row export pair under a memory budget.
//!
//! 1. **Spill.** Each row that passed the quality gate goes to one of `parts` parts by a
//!    hash of its `by` columns, into a local file per input and part (Arrow IPC, LZ4),
//!    with its source line. The files live in a temporary folder (`TMPDIR`) removed at the
//!    end, whatever happens.
//! 2. **Parts.** Each part runs through a fresh session of the plugin: every input's rows
//!    of that part, inputs in the plugin's order, then `finish`. Parts run on up to
//!    `plugin_instances` threads at once (the cores, by default), each dropping its
//!    session before it opens the next part's, so at most that many parts' state is held.
//!    Their output reaches the writer part by part in order, the bytes of one session.
//!
//! Rows of one key are all in one part, in their input order, so a plugin whose state is
//! per key gives the rows it gives unsplit; they come out part by part. Rejects and data
//! errors still name each row's file and line.

use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array, UInt64Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use arrow::ipc::CompressionType;
use arrow::row::{RowConverter, SortField};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crossbeam_channel::{bounded, Receiver, Sender};
use serde::Deserialize;

use super::stream::{finish_to, process, send_all, Feed, PluginStats, ToWriter, TransformEnd};
use crate::plugin::Session;
use crate::run::TableError;
use crate::source::SourceBatch;

/// The column a spilled row's source line travels in.
const LINE: &str = "__sluice_line";

/// `[tables.T.split]`: run the plugin in parts by key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    /// The columns the plugin keeps its state by (export-delta's `key`), in every input.
    pub by: Vec<String>,
    /// How many parts: a session holds about 1/parts of the state.
    pub parts: usize,
}

impl SplitSpec {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.by.is_empty() {
            return Err("split.by: name the key columns".into());
        }
        // Each input keeps a file open per part: 256 stays under the usual limit of
        // 1024 open files with a few inputs.
        if !(1..=256).contains(&self.parts) {
            return Err("split.parts: from 1 to 256".into());
        }
        Ok(())
    }
}

/// Opens a fresh session of the table's plugin (from any of the parts' threads).
pub(super) type Opener<'a> = dyn Fn() -> Result<Session, TableError> + Send + Sync + 'a;

/// The spilled parts of every input, and how to run them.
pub(super) struct Splitter<'a> {
    spec: SplitSpec,
    open: Box<Opener<'a>>,
    batch_rows: usize,
    /// Whether the engine meters fuel (so the stats report it).
    fuel: bool,
    /// How many parts run at once, each in its own session.
    sessions: usize,
    dir: tempfile::TempDir,
    /// Per input: where its key columns are, how they become hashable bytes, its parts.
    inputs: Vec<SpilledInput>,
    /// What the parts' sessions spent.
    pub stats: Option<PluginStats>,
}

struct SpilledInput {
    keys: Vec<usize>,
    converter: RowConverter,
    parts: Vec<PartFile>,
}

/// One input's rows of one part.
struct PartFile {
    path: PathBuf,
    writer: Option<StreamWriter<BufWriter<File>>>,
    /// Per spilled batch, the source file its rows came from.
    files: Vec<usize>,
}

impl<'a> Splitter<'a> {
    /// Checks that every input has the key columns, of one type each across inputs.
    pub fn new(
        spec: SplitSpec,
        schemas: &[(String, SchemaRef)],
        (batch_rows, fuel, sessions): (usize, bool, usize),
        open: Box<Opener<'a>>,
    ) -> Result<Self, TableError> {
        let dir = tempfile::Builder::new()
            .prefix("sluice-split-")
            .tempdir()
            .map_err(|e| TableError::Internal(format!("creating the split's spill folder: {e}")))?;
        let mut inputs = Vec::with_capacity(schemas.len());
        for (index, (name, schema)) in schemas.iter().enumerate() {
            let keys = key_columns(&spec, name, schema, &schemas[0].1)?;
            let fields = keys
                .iter()
                .map(|&k| SortField::new(schema.field(k).data_type().clone()))
                .collect();
            let converter = RowConverter::new(fields)
                .map_err(|e| TableError::Config(format!("split.by: input `{name}`: {e}")))?;
            let parts = (0..spec.parts)
                .map(|p| PartFile {
                    path: dir.path().join(format!("{index}-{p}.arrows")),
                    writer: None,
                    files: Vec::new(),
                })
                .collect();
            inputs.push(SpilledInput {
                keys,
                converter,
                parts,
            });
        }
        Ok(Splitter {
            spec,
            open,
            batch_rows,
            fuel,
            sessions,
            dir,
            inputs,
            stats: None,
        })
    }

    /// Step 1: every batch through the quality gate, its rejects to the writer, its rows
    /// to their parts.
    pub fn spill(
        &mut self,
        mut feed: Feed,
        rx: &Receiver<(usize, SourceBatch)>,
        tx: &Sender<ToWriter>,
    ) -> Result<TransformEnd, TableError> {
        let mut rejected = 0u64;
        for (input, source) in rx {
            let passed = feed.pass(input, source)?;
            if !send_all(passed.rejects.map(ToWriter::Rejects), tx, &mut rejected) {
                return Ok(TransformEnd::WriterGone);
            }
            self.inputs[input]
                .write(&passed.source, self.spec.parts)
                .map_err(|e| spill_error(&self.dir, e))?;
        }
        Ok(TransformEnd::InputsDone(rejected))
    }

    /// Step 2: each part through a fresh session; the rows the plugin rejected. Parts run
    /// on up to `sessions` sessions at once, their output forwarded part by part in order,
    /// so the writer gets the messages one session would give.
    pub fn run_parts(
        &mut self,
        names: &[String],
        sources: &[Vec<String>],
        tx: &Sender<ToWriter>,
    ) -> Result<u64, TableError> {
        for input in &mut self.inputs {
            input.close().map_err(|e| spill_error(&self.dir, e))?;
        }
        let sessions = self.sessions.clamp(1, self.spec.parts);
        let run = Parts {
            splitter: &*self,
            names,
            sources,
        };
        let (rejected, stats) = match sessions {
            1 => run.one_at_a_time(tx)?,
            n => run.side_by_side(n, tx)?,
        };
        self.stats = stats;
        Ok(rejected)
    }
}

/// The parts of a split table, and what their sessions need.
struct Parts<'s, 'a> {
    splitter: &'s Splitter<'a>,
    names: &'s [String],
    sources: &'s [Vec<String>],
}

/// What a part's session sends on: the writer's messages, then how the part ended.
enum FromPart {
    Message(ToWriter),
    Done(Result<PluginStats, TableError>),
}

/// Messages a part runs ahead of the parts before it, at most (each a batch).
const PART_QUEUE: usize = 4;

impl Parts<'_, '_> {
    fn one_at_a_time(
        &self,
        tx: &Sender<ToWriter>,
    ) -> Result<(u64, Option<PluginStats>), TableError> {
        let mut rejected = 0u64;
        let mut stats: Option<PluginStats> = None;
        for part in 0..self.splitter.spec.parts {
            let mut send = |message: ToWriter| send_all([message], tx, &mut rejected);
            let Some(part) = self
                .splitter
                .run_part(part, self.names, self.sources, &mut send)?
            else {
                break; // the writer stopped
            };
            stats = Some(match stats {
                Some(before) => before.then(part),
                None => part,
            });
        }
        Ok((rejected, stats))
    }

    /// `sessions` threads take the parts in order; this thread forwards each part's
    /// messages to the writer once every part before it is done. A part that runs ahead
    /// waits when its queue is full, so memory stays at `sessions` parts' state and a few
    /// batches each.
    fn side_by_side(
        &self,
        sessions: usize,
        tx: &Sender<ToWriter>,
    ) -> Result<(u64, Option<PluginStats>), TableError> {
        let parts = self.splitter.spec.parts;
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..parts).map(|_| bounded::<FromPart>(PART_QUEUE)).unzip();
        // Each part's sender is taken by the thread that runs it, so a thread that dies
        // mid-part disconnects its queue instead of leaving the forwarder waiting.
        let senders: Vec<Mutex<Option<Sender<FromPart>>>> =
            senders.into_iter().map(|s| Mutex::new(Some(s))).collect();
        let next = AtomicUsize::new(0);
        let this = self;
        std::thread::scope(|scope| {
            for _ in 0..sessions {
                let (senders, next) = (&senders, &next);
                std::thread::Builder::new()
                    .name("sluice-part".into())
                    .spawn_scoped(scope, move || this.take_parts(senders, next))
                    .map_err(|e| TableError::Internal(format!("spawning a part's thread: {e}")))?;
            }
            forward_in_order(receivers, tx, sessions)
        })
    }

    /// One thread's loop: the next part not yet taken, until none is left or the
    /// forwarder has stopped.
    fn take_parts(&self, senders: &[Mutex<Option<Sender<FromPart>>>], next: &AtomicUsize) {
        loop {
            let part = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = senders.get(part) else {
                return;
            };
            let Some(out) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                return;
            };
            let mut send = |message: ToWriter| out.send(FromPart::Message(message)).is_ok();
            let ended = match self
                .splitter
                .run_part(part, self.names, self.sources, &mut send)
            {
                Ok(Some(stats)) => Ok(stats),
                Ok(None) => return, // the forwarder stopped
                Err(e) => Err(e),
            };
            let failed = ended.is_err();
            if out.send(FromPart::Done(ended)).is_err() || failed {
                return;
            }
        }
    }
}

/// Each part's messages to the writer, parts in order; what the parts spent.
fn forward_in_order(
    receivers: Vec<Receiver<FromPart>>,
    tx: &Sender<ToWriter>,
    sessions: usize,
) -> Result<(u64, Option<PluginStats>), TableError> {
    let mut rejected = 0u64;
    let mut spent: Vec<PluginStats> = Vec::new();
    // Returning drops the queues not read yet: the threads stop at their next message.
    for queue in receivers {
        loop {
            match queue.recv() {
                Ok(FromPart::Message(message)) => {
                    if !send_all([message], tx, &mut rejected) {
                        return Ok((rejected, PluginStats::side_by_side(spent, sessions)));
                    }
                }
                Ok(FromPart::Done(Ok(part))) => {
                    spent.push(part);
                    break;
                }
                Ok(FromPart::Done(Err(e))) => return Err(e),
                Err(_) => {
                    return Err(TableError::Internal(
                        "a split part's thread stopped before its part was done".into(),
                    ))
                }
            }
        }
    }
    Ok((rejected, PluginStats::side_by_side(spent, sessions)))
}

impl Splitter<'_> {
    /// One part through a fresh session, its messages to `send`; what the session spent,
    /// or `None` when `send` says the receiver stopped.
    fn run_part(
        &self,
        part: usize,
        names: &[String],
        sources: &[Vec<String>],
        send: &mut dyn FnMut(ToWriter) -> bool,
    ) -> Result<Option<PluginStats>, TableError> {
        let mut session = (self.open)()?;
        for (index, input) in self.inputs.iter().enumerate() {
            let batches = input.read(part, self.batch_rows);
            for source in batches.map_err(|e| spill_error(&self.dir, e))? {
                let source = source.map_err(|e| spill_error(&self.dir, e))?;
                let messages = process(&mut session, names, sources, index, source)?;
                if !messages.into_iter().all(&mut *send) {
                    return Ok(None);
                }
            }
        }
        if !finish_to(&mut session, send)? {
            return Ok(None);
        }
        // The session is dropped here, its memory gone before this thread's next part.
        Ok(Some(PluginStats::of(
            std::slice::from_ref(&session),
            self.fuel,
        )))
    }
}

/// Where the key columns are in one input; their types must be the first input's.
fn key_columns(
    spec: &SplitSpec,
    name: &str,
    schema: &Schema,
    first: &Schema,
) -> Result<Vec<usize>, TableError> {
    spec.by
        .iter()
        .map(|column| {
            let index = schema.index_of(column).map_err(|_| {
                TableError::Config(format!("split.by: input `{name}` has no column `{column}`"))
            })?;
            let data_type = schema.field(index).data_type();
            let expected = first.field_with_name(column).map(|f| f.data_type());
            match expected {
                Ok(t) if t != data_type => Err(TableError::Config(format!(
                    "split.by: column `{column}` is {data_type} in input `{name}` but {t} in the first input: \
                     declare one type under each input's `types`, so equal keys meet in one part"
                ))),
                _ => Ok(index),
            }
        })
        .collect()
}

fn spill_error(dir: &tempfile::TempDir, e: impl std::fmt::Display) -> TableError {
    TableError::Internal(format!("split spill in {}: {e}", dir.path().display()))
}

impl SpilledInput {
    /// Spreads the batch's rows over the parts, each with its source line.
    fn write(&mut self, source: &SourceBatch, parts: usize) -> Result<(), SpillError> {
        let batch = &source.batch;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let keys: Vec<ArrayRef> = self.keys.iter().map(|&k| batch.column(k).clone()).collect();
        let rows = self.converter.convert_columns(&keys)?;
        let mut picks: Vec<Vec<u32>> = vec![Vec::new(); parts];
        for (row, key) in rows.iter().enumerate() {
            let mut hasher = DefaultHasher::new();
            key.as_ref().hash(&mut hasher);
            picks[(hasher.finish() % parts as u64) as usize].push(row as u32);
        }
        let with_lines = with_line_column(batch, &source.lines)?;
        for (part, rows) in picks.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let taken = take_record_batch(&with_lines, &UInt32Array::from(rows))?;
            self.parts[part].write(&taken, source.file)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SpillError> {
        for part in &mut self.parts {
            if let Some(mut writer) = part.writer.take() {
                writer.finish()?;
            }
        }
        Ok(())
    }

    /// A part's rows as source batches of up to `batch_rows` (rows of one file each).
    fn read(
        &self,
        part: usize,
        batch_rows: usize,
    ) -> Result<impl Iterator<Item = Result<SourceBatch, SpillError>> + '_, SpillError> {
        let file = &self.parts[part];
        let reader = match file.files.is_empty() {
            true => None,
            false => Some(StreamReader::try_new(
                BufReader::new(File::open(&file.path)?),
                None,
            )?),
        };
        Ok(Coalesce {
            batches: reader.into_iter().flatten().zip(file.files.iter().copied()),
            pending: None,
            batch_rows,
        })
    }
}

impl PartFile {
    fn write(&mut self, batch: &RecordBatch, file: usize) -> Result<(), SpillError> {
        if self.writer.is_none() {
            let options = IpcWriteOptions::default()
                .try_with_compression(Some(CompressionType::LZ4_FRAME))?;
            let out = BufWriter::with_capacity(64 << 10, File::create(&self.path)?);
            self.writer = Some(StreamWriter::try_new_with_options(
                out,
                &batch.schema(),
                options,
            )?);
        }
        self.writer.as_mut().expect("created above").write(batch)?;
        self.files.push(file);
        Ok(())
    }
}

/// Spilled batches joined back into batches of up to `batch_rows`, never across files:
/// a part holds about 1/parts of each source batch, and each push has a fixed cost.
struct Coalesce<I> {
    batches: I,
    pending: Option<(Vec<RecordBatch>, usize, usize)>,
    batch_rows: usize,
}

impl<I> Iterator for Coalesce<I>
where
    I: Iterator<Item = (Result<RecordBatch, arrow::error::ArrowError>, usize)>,
{
    type Item = Result<SourceBatch, SpillError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((batch, file)) = self.batches.next() else {
                let (batches, file, _) = self.pending.take()?;
                return Some(to_source(&batches, file));
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => return Some(Err(e.into())),
            };
            match &mut self.pending {
                Some((held, held_file, rows))
                    if *held_file == file && *rows + batch.num_rows() <= self.batch_rows =>
                {
                    *rows += batch.num_rows();
                    held.push(batch);
                }
                _ => {
                    let rows = batch.num_rows();
                    let done = self.pending.replace((vec![batch], file, rows));
                    if let Some((batches, file, _)) = done {
                        return Some(to_source(&batches, file));
                    }
                }
            }
        }
    }
}

/// Spilled batches of one file as one source batch, the line column taken off.
fn to_source(batches: &[RecordBatch], file: usize) -> Result<SourceBatch, SpillError> {
    let whole = concat_batches(&batches[0].schema(), batches)?;
    let last = whole.num_columns() - 1;
    let lines = whole
        .column(last)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| SpillError::Format("the line column is not u64".into()))?
        .values()
        .to_vec();
    let mut batch = whole;
    batch.remove_column(last);
    Ok(SourceBatch { batch, file, lines })
}

fn with_line_column(batch: &RecordBatch, lines: &[u64]) -> Result<RecordBatch, SpillError> {
    let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(LINE, DataType::UInt64, false)));
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(UInt64Array::from(lines.to_vec())) as ArrayRef);
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

#[derive(Debug, thiserror::Error)]
enum SpillError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("{0}")]
    Format(String),
}
