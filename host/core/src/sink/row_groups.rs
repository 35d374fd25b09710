//! Parquet row groups whose columns are encoded on several threads.
//!
//! Encoding and compressing columns is most of the cost of writing Parquet, and columns
//! are independent: arrow-rs gives one [`ArrowColumnWriter`] per leaf column for exactly
//! this. The columns are worked by a [`ColumnPool`]; a closed row group's chunks are
//! appended in column order. Each column writer sees the same values in the same order
//! whatever the thread count, so the file's bytes do not depend on it.
//!
//! Rows are cut into row groups as [`parquet::arrow::ArrowWriter`] cuts them by count; a
//! row group also closes once the Arrow bytes of its rows pass the byte limit. (Counting
//! the input rather than the encoded bytes, which the workers report only as they get
//! to them, keeps where a row group ends independent of the threads' timing; the input
//! is the larger of the two nearly always, so the bound on memory holds.)

use std::io::Write;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory;
use parquet::arrow::ArrowWriter;
use parquet::errors::Result;
use parquet::file::writer::SerializedFileWriter;

use super::column_pool::{ColumnPool, Leaf};

/// When a row group closes.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowGroupLimits {
    pub rows: usize,
    pub bytes: usize,
}

/// Batches queued for the encoders beyond one per worker, so that a worker finds another
/// column to take while one column lags; each holds a batch's arrays. (On 2 workers, 3
/// batches in all were as fast as 4 and faster than 1 or 2; 6 held ~30 MB more and were
/// no faster.)
const QUEUED_BATCHES: usize = 1;

pub(super) struct RowGroups<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    columns: ColumnPool,
    /// Whether a row group is open, and its rows and their Arrow bytes.
    open: bool,
    rows: usize,
    bytes: usize,
    limits: RowGroupLimits,
}

impl<W: Write + Send> RowGroups<W> {
    /// Takes over a fresh writer: its schema, properties and metadata stay as set. With
    /// one thread the columns are encoded on the caller's.
    pub fn new(
        writer: ArrowWriter<W>,
        schema: SchemaRef,
        limits: RowGroupLimits,
        threads: usize,
    ) -> Result<Self> {
        let (file, factory) = writer.into_serialized_writer()?;
        let leaves = file.schema_descr().num_columns();
        let workers = if threads <= 1 { 0 } else { threads };
        Ok(RowGroups {
            file,
            factory,
            schema,
            columns: ColumnPool::new(leaves, workers, workers + QUEUED_BATCHES)?,
            open: false,
            rows: 0,
            bytes: 0,
            limits: RowGroupLimits {
                rows: limits.rows.max(1),
                ..limits
            },
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
            self.bytes += arrow_bytes(&part);
            if self.rows >= self.limits.rows || self.bytes >= self.limits.bytes {
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
        if !self.open {
            let index = self.file.flushed_row_groups().len();
            self.columns
                .open(self.factory.create_column_writers(index)?);
            self.open = true;
        }
        let mut leaves = Vec::with_capacity(batch.num_columns());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(Leaf::of(field, column)?);
        }
        self.columns.write(leaves)
    }

    fn flush(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.open) {
            return Ok(());
        }
        // Closing flushes each column's last page, compressed: on the workers too.
        let chunks = self.columns.close()?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }
}

/// The bytes a (possibly sliced) batch's arrays use, not the buffers they share.
fn arrow_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
        .sum()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, ListArray, StringArray, StructArray};
    use arrow::datatypes::Int64Type;
    use arrow::datatypes::{DataType, Field, Fields, Schema};
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    fn batches() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("value", DataType::Float64, true),
            // Nested, two leaves: computed on the writer thread, the others' on workers.
            Field::new_struct("tagged", tagged_fields(), true),
        ]));
        let batches = (0..40)
            .map(|b| {
                // Uneven batches, and a string column far costlier than the others.
                let rows = 500 + b * 37;
                let ids: Vec<i64> = (0..rows as i64).map(|i| b as i64 * 100_000 + i).collect();
                let names: Vec<Option<String>> = ids
                    .iter()
                    .map(|i| (i % 7 != 0).then(|| format!("name-{}-{}", i % 1000, i * 31)))
                    .collect();
                let values: Vec<Option<f64>> = ids
                    .iter()
                    .map(|i| (i % 5 != 0).then_some(*i as f64 / 3.0))
                    .collect();
                let tags = ListArray::from_iter_primitive::<Int64Type, _, _>(
                    ids.iter()
                        .map(|&i| (i % 3 != 0).then(|| (0..i % 4).map(move |t| Some(i + t)))),
                );
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(Int64Array::from(ids.clone())),
                    Arc::new(StringArray::from(names)),
                    Arc::new(Float64Array::from(values)),
                    Arc::new(StructArray::new(
                        tagged_fields(),
                        vec![Arc::new(Int64Array::from(ids)), Arc::new(tags)],
                        None,
                    )),
                ];
                RecordBatch::try_new(schema.clone(), columns).unwrap()
            })
            .collect();
        (schema, batches)
    }

    fn tagged_fields() -> Fields {
        Fields::from(vec![
            Field::new("id", DataType::Int64, false),
            Field::new_list("tags", Field::new_list_field(DataType::Int64, true), true),
        ])
    }

    fn write(threads: usize, limits: RowGroupLimits) -> Vec<u8> {
        let (schema, batches) = batches();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
            .set_data_page_row_count_limit(1000)
            .build();
        let writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).unwrap();
        let mut groups = RowGroups::new(writer, schema, limits, threads).unwrap();
        for batch in &batches {
            groups.write(batch).unwrap();
        }
        groups.into_inner().unwrap()
    }

    fn row_groups(file: Vec<u8>) -> Vec<i64> {
        let reader = SerializedFileReader::new(Bytes::from(file)).unwrap();
        let meta = reader.metadata();
        meta.row_groups().iter().map(|g| g.num_rows()).collect()
    }

    #[test]
    fn any_number_of_workers_writes_the_bytes_of_none() {
        let limits = RowGroupLimits {
            rows: 7_000,
            bytes: usize::MAX,
        };
        let inline = write(1, limits);
        for threads in [2, 3, 8] {
            assert!(write(threads, limits) == inline, "{threads} threads");
        }
        let (schema, batches) = batches();
        let back: Vec<RecordBatch> =
            ParquetRecordBatchReaderBuilder::try_new(Bytes::from(inline.clone()))
                .unwrap()
                .build()
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap();
        assert_eq!(
            arrow::compute::concat_batches(&schema, &back).unwrap(),
            arrow::compute::concat_batches(&schema, &batches).unwrap(),
            "read back"
        );
        let groups = row_groups(inline);
        assert_eq!(
            groups.iter().sum::<i64>(),
            (0..40).map(|b| 500 + b * 37).sum::<i64>()
        );
        assert!(groups[..groups.len() - 1].iter().all(|&rows| rows == 7_000));
    }

    #[test]
    fn a_row_group_closes_at_the_byte_limit_whatever_the_threads() {
        let (_, batches) = batches();
        let limits = RowGroupLimits {
            rows: usize::MAX,
            bytes: 200_000,
        };
        let inline = write(1, limits);
        assert!(write(4, limits) == inline);
        // Where the groups end follows from the Arrow bytes of the batches alone.
        let mut expected = vec![];
        let (mut rows, mut bytes) = (0i64, 0usize);
        for batch in &batches {
            rows += batch.num_rows() as i64;
            bytes += arrow_bytes(batch);
            if bytes >= limits.bytes {
                expected.push(std::mem::take(&mut rows));
                bytes = 0;
            }
        }
        expected.extend((rows > 0).then_some(rows));
        assert!(
            expected.len() > 3,
            "the limit cuts several groups: {expected:?}"
        );
        assert_eq!(row_groups(inline), expected);
    }
}
