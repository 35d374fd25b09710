//! Parquet row groups whose columns are encoded on several threads.
//!
//! Encoding and compressing columns is most of the cost of writing Parquet, and columns
//! are independent: arrow-rs gives one [`ArrowColumnWriter`] per leaf column for exactly
//! this. Each batch's columns are handed to the threads as they free up; a closed row
//! group's chunks are appended in column order. Each column writer sees the same values
//! in the same order whatever the thread count, so the file's bytes do not depend on it.
//!
//! Rows are cut into row groups as [`parquet::arrow::ArrowWriter`] cuts them by count;
//! a row group also closes once its encoded size passes the byte limit.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::errors::{ParquetError, Result};
use parquet::file::writer::SerializedFileWriter;

/// When a row group closes.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowGroupLimits {
    pub rows: usize,
    pub bytes: usize,
}

pub(super) struct RowGroups<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The open row group's column writers, and its rows.
    open: Option<Vec<ArrowColumnWriter>>,
    rows: usize,
    limits: RowGroupLimits,
    threads: usize,
}

impl<W: Write + Send> RowGroups<W> {
    /// Takes over a fresh writer: its schema, properties and metadata stay as set.
    pub fn new(
        writer: ArrowWriter<W>,
        schema: SchemaRef,
        limits: RowGroupLimits,
        threads: usize,
    ) -> Result<Self> {
        let (file, factory) = writer.into_serialized_writer()?;
        Ok(RowGroups {
            file,
            factory,
            schema,
            open: None,
            rows: 0,
            limits: RowGroupLimits {
                rows: limits.rows.max(1),
                ..limits
            },
            threads: threads.max(1),
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut remaining = batch.clone();
        while remaining.num_rows() > 0 {
            let take = (self.limits.rows - self.rows).min(remaining.num_rows());
            let part = remaining.slice(0, take);
            remaining = remaining.slice(take, remaining.num_rows() - take);
            self.encode(&part)?;
            self.rows += take;
            if self.rows >= self.limits.rows || self.encoded_bytes() >= self.limits.bytes {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes the last row group and the footer; returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        self.file.into_inner()
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.open.is_none() {
            let index = self.file.flushed_row_groups().len();
            self.open = Some(self.factory.create_column_writers(index)?);
        }
        let writers = self.open.as_mut().expect("opened above");
        let mut leaves = Vec::with_capacity(writers.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field, column)?);
        }
        let jobs: Vec<_> = writers.iter_mut().zip(leaves).collect();
        on_threads(jobs, self.threads, |(writer, leaf)| writer.write(&leaf))?;
        Ok(())
    }

    fn encoded_bytes(&self) -> usize {
        self.open.as_ref().map_or(0, |writers| {
            writers
                .iter()
                .map(ArrowColumnWriter::get_estimated_total_bytes)
                .sum()
        })
    }

    fn flush(&mut self) -> Result<()> {
        let Some(writers) = self.open.take() else {
            return Ok(());
        };
        // Closing flushes each column's last page, compressed: worth the threads too.
        let chunks = on_threads(writers, self.threads, ArrowColumnWriter::close)?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.rows = 0;
        Ok(())
    }
}

/// `work` on every item, on up to `threads` threads (this one among them), each taking
/// the next item as it frees up; the results in item order.
fn on_threads<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    work: impl Fn(T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    if threads <= 1 || items.len() <= 1 {
        return items.into_iter().map(work).collect();
    }
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let results: Vec<Mutex<Option<Result<R>>>> = slots.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let run = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = slots.get(i) else { return };
        let item = slot
            .lock()
            .expect("not poisoned")
            .take()
            .expect("taken once");
        *results[i].lock().expect("not poisoned") = Some(work(item));
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.min(slots.len()) {
            scope.spawn(run);
        }
        run();
    });
    results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .map_err(|_| ParquetError::General("an encoding thread panicked".into()))?
                .unwrap_or_else(|| Err(ParquetError::General("a column was not encoded".into())))
        })
        .collect()
}
