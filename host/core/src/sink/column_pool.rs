//! A row group's column writers, fed by the writer thread and worked by a pool of threads
//! without waiting for each other.
//!
//! Each column keeps a queue of work. The writer thread queues one batch's leaves and
//! goes on to the next batch; a worker takes a column whose queue is not empty and
//! drains it, so one column is never on two threads and sees its leaves in the order
//! they were queued. A column that costs more than the others (a dictionary-encoded
//! string) no longer holds every thread at the end of each batch: the workers go on to
//! the next batch's columns. The only waits are a bound on the batches in flight (their
//! arrays are held until encoded) and a row group's close.
//!
//! A flat column's leaf (its values with their definition levels and the indices of its
//! non-null values: 10 bytes a row beside the values) is computed by the worker that
//! encodes it, just before it does: computed on the writer thread, the leaves of every
//! queued batch were held at once (~7 MB of a gzip dates run's peak).
//!
//! With no workers, the writer thread does each piece of work as it is queued.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use arrow::array::ArrayRef;
use arrow::datatypes::FieldRef;
use crossbeam_channel::{unbounded, Receiver, Sender};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn,
};
use parquet::errors::{ParquetError, Result};

/// Work on one column, in queue order.
enum Work {
    Write(Leaf, Arc<InFlight>),
    Close,
}

/// A batch's values for one leaf column.
pub(super) enum Leaf {
    /// A leaf of a nested field, computed with its siblings.
    Computed(ArrowLeafColumn),
    /// A flat field's array: its only leaf is computed when it is encoded.
    Flat(FieldRef, ArrayRef),
}

impl Leaf {
    /// A batch's column as leaves, one per leaf column of its field.
    pub fn of(field: &FieldRef, column: &ArrayRef) -> Result<Vec<Leaf>> {
        if field.data_type().is_nested() {
            let leaves = compute_leaves(field, column)?;
            return Ok(leaves.into_iter().map(Leaf::Computed).collect());
        }
        Ok(vec![Leaf::Flat(field.clone(), column.clone())])
    }

    fn compute(self) -> Result<ArrowLeafColumn> {
        match self {
            Leaf::Computed(leaf) => Ok(leaf),
            Leaf::Flat(field, column) => compute_leaves(&field, &column)?
                .pop()
                .ok_or_else(|| ParquetError::General(format!("no leaf for {}", field.name()))),
        }
    }
}

/// One batch queued and not yet encoded in every column: its leaves share it, and the
/// last one done drops it and frees a place.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.0.progress).batches -= 1;
        self.0.changed.notify_all();
    }
}

#[derive(Default)]
struct Column {
    /// `None` while a worker holds it, or between row groups.
    writer: Option<ArrowColumnWriter>,
    queue: VecDeque<Work>,
    /// On a worker's list or being drained: no other worker may take it.
    scheduled: bool,
    /// The closed chunk, once `Close` has run.
    chunk: Option<ArrowColumnChunk>,
}

#[derive(Default)]
struct Progress {
    /// Pieces of work queued and not yet done.
    outstanding: usize,
    /// Batches with a column not yet encoded.
    batches: usize,
    /// The first failure: the file is abandoned after it.
    error: Option<ParquetError>,
}

struct Shared {
    columns: Vec<Mutex<Column>>,
    progress: Mutex<Progress>,
    changed: Condvar,
}

pub(super) struct ColumnPool {
    shared: Arc<Shared>,
    /// Columns with work, for the workers; `None` when there are none.
    ready: Option<Sender<usize>>,
    workers: Vec<JoinHandle<()>>,
    /// Batches allowed in flight.
    limit: usize,
}

impl ColumnPool {
    /// A pool for `columns` leaf columns on `threads` worker threads (none: inline), with
    /// up to `batches` batches queued.
    pub fn new(columns: usize, threads: usize, batches: usize) -> Result<Self> {
        let shared = Arc::new(Shared {
            columns: (0..columns).map(|_| Mutex::default()).collect(),
            progress: Mutex::default(),
            changed: Condvar::new(),
        });
        let mut pool = ColumnPool {
            shared,
            ready: None,
            workers: Vec::new(),
            limit: batches.max(1),
        };
        if threads > 0 {
            let (tx, rx) = unbounded();
            for _ in 0..threads {
                let (shared, rx) = (pool.shared.clone(), rx.clone());
                let worker = std::thread::Builder::new()
                    .name("sluice-encode".into())
                    .spawn(move || work(&shared, &rx))
                    .map_err(|e| ParquetError::General(format!("spawning an encoder: {e}")))?;
                pool.workers.push(worker);
            }
            pool.ready = Some(tx);
        }
        Ok(pool)
    }

    /// Hands over a new row group's writers, one per column, once the last is closed.
    pub fn open(&mut self, writers: Vec<ArrowColumnWriter>) {
        for (column, writer) in self.shared.columns.iter().zip(writers) {
            lock(column).writer = Some(writer);
        }
    }

    /// Queues one batch's leaves, one per column; waits first while the batches already
    /// queued are at the limit.
    pub fn write(&mut self, leaves: Vec<Leaf>) -> Result<()> {
        self.wait_until(|p| p.batches < self.limit)?;
        lock(&self.shared.progress).batches += 1;
        let batch = Arc::new(InFlight(self.shared.clone()));
        for (index, leaf) in leaves.into_iter().enumerate() {
            self.queue(index, Work::Write(leaf, batch.clone()));
        }
        drop(batch);
        self.failure()
    }

    /// Closes every column once its queue is done; the chunks in column order.
    pub fn close(&mut self) -> Result<Vec<ArrowColumnChunk>> {
        for index in 0..self.shared.columns.len() {
            self.queue(index, Work::Close);
        }
        self.wait_until(|p| p.outstanding == 0)?;
        self.shared
            .columns
            .iter()
            .map(|column| {
                lock(column)
                    .chunk
                    .take()
                    .ok_or_else(|| ParquetError::General("a column was not closed".into()))
            })
            .collect()
    }

    fn queue(&self, index: usize, work: Work) {
        lock(&self.shared.progress).outstanding += 1;
        let mut column = lock(&self.shared.columns[index]);
        column.queue.push_back(work);
        if column.scheduled {
            return;
        }
        column.scheduled = true;
        drop(column);
        match &self.ready {
            Some(ready) if ready.send(index).is_ok() => {}
            _ => drain(&self.shared, index),
        }
    }

    fn wait_until(&self, done: impl Fn(&Progress) -> bool) -> Result<()> {
        let mut progress = lock(&self.shared.progress);
        while progress.error.is_none() && !done(&progress) {
            progress = self
                .shared
                .changed
                .wait(progress)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(progress);
        self.failure()
    }

    fn failure(&self) -> Result<()> {
        match &lock(&self.shared.progress).error {
            Some(e) => Err(ParquetError::General(e.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for ColumnPool {
    fn drop(&mut self) {
        self.ready = None; // the workers' loop ends once the queued columns are drained
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn work(shared: &Shared, ready: &Receiver<usize>) {
    for index in ready {
        drain(shared, index);
    }
}

/// Does a scheduled column's queued work in order, until its queue is empty.
fn drain(shared: &Shared, index: usize) {
    loop {
        let (writer, work) = {
            let mut column = lock(&shared.columns[index]);
            let Some(work) = column.queue.pop_front() else {
                column.scheduled = false;
                return;
            };
            (column.writer.take(), work)
        };
        // A panic inside arrow-rs becomes this file's error, not a writer thread waiting
        // forever for work that will never be done.
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| run(shared, index, writer, work)))
                .unwrap_or_else(|_| Err(ParquetError::General("a column encoder panicked".into())));
        let mut progress = lock(&shared.progress);
        progress.outstanding -= 1;
        if let Err(e) = result {
            progress.error.get_or_insert(e);
        }
        drop(progress);
        shared.changed.notify_all();
    }
}

fn run(shared: &Shared, index: usize, writer: Option<ArrowColumnWriter>, work: Work) -> Result<()> {
    match (writer, work) {
        (Some(mut writer), Work::Write(leaf, _batch)) => {
            let written = leaf.compute().and_then(|leaf| writer.write(&leaf));
            // `leaf` is gone before `_batch`: the batch's place is free once its arrays are.
            lock(&shared.columns[index]).writer = Some(writer);
            written
        }
        (Some(writer), Work::Close) => writer.close().map(|chunk| {
            lock(&shared.columns[index]).chunk = Some(chunk);
        }),
        (None, _) => Err(ParquetError::General(format!(
            "column {index} has no open writer"
        ))),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Panics are caught inside the work (see `drain`), so no lock is held by one: a
    // poisoned lock still guards consistent state.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
