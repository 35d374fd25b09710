//! Streaming Parquet writer with provenance metadata, writing into a staged object that
//! becomes visible only when the table commits.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use super::column_order::FloatOrder;
use super::dictionary::{plain_encoding, without_dictionary};
use super::row_groups::{RowGroupLimits, RowGroups};
use super::sorted::SortCheck;
use crate::storage::{ObjectWriter, StagedObject, Store, StoreError};

/// The Parquet writer's version, for `created_by`.
const PARQUET_VERSION: &str = "60.1";

/// Encoded bytes a row group may reach before it is flushed: bounds memory for wide rows
/// whatever `row_group_rows` says.
const MAX_ROW_GROUP_BYTES: usize = 128 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{uri}: writing Parquet: {message}")]
    Parquet { uri: String, message: String },
    #[error("{0}")]
    Partition(String),
    #[error("upsert: {0}")]
    Upsert(String),
    #[error("{uri}: rows are not in `sorted_by` order {columns:?}: row {row} of the output comes before the row above it")]
    Unsorted {
        uri: String,
        columns: Vec<String>,
        row: u64,
    },
}

/// Where a file came from, stored in its key-value metadata under `sluice.*` keys.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub entries: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub compression: String,
    pub level: Option<i32>,
    pub row_group_rows: usize,
    /// Delta-pack integers and times without a dictionary (see [`super::dictionary`]).
    pub delta_encoding: bool,
    /// Columns that get a Bloom filter.
    pub bloom_filter: Vec<String>,
    /// Columns the rows are sorted by (ascending, NULLs first), checked and recorded.
    pub sorted_by: Vec<String>,
    /// Threads encoding a row group's columns (the bytes are the same for any count).
    pub threads: usize,
}

/// Maps the pipeline's codec name and level to the Parquet codec.
pub fn writer_codec(name: &str, level: Option<i32>) -> Result<Compression, String> {
    let bad_level = |e: parquet::errors::ParquetError| format!("output.level: {e}");
    Ok(match name.to_ascii_lowercase().as_str() {
        "zstd" => Compression::ZSTD(ZstdLevel::try_new(level.unwrap_or(3)).map_err(bad_level)?),
        "gzip" => {
            Compression::GZIP(GzipLevel::try_new(level.unwrap_or(6) as u32).map_err(bad_level)?)
        }
        "brotli" => {
            Compression::BROTLI(BrotliLevel::try_new(level.unwrap_or(1) as u32).map_err(bad_level)?)
        }
        "snappy" => Compression::SNAPPY,
        "lz4" => Compression::LZ4_RAW,
        "none" | "uncompressed" => Compression::UNCOMPRESSED,
        other => {
            return Err(format!(
            "output.compression: unknown codec `{other}` (zstd, snappy, lz4, gzip, brotli, none)"
        ))
        }
    })
}

/// A Parquet file being written into a staged object.
pub struct ParquetSink {
    uri: String,
    writer: FileWriter,
    rows: u64,
    order: Option<SortCheck>,
}

type Encoder = RowGroups<FloatOrder<Box<dyn ObjectWriter>>>;

/// Rows the writer holds back before it opens: the sample whose values choose the columns'
/// dictionaries. A count of rows rather than a batch, so that the choice, and so the file,
/// is the same however the rows were batched (16k-row batches once chose plainer encodings
/// than 64k-row ones: a 10M-row shipments file 11 % larger).
const SAMPLE_ROWS: usize = 65_536;

/// Or the Arrow bytes after which it opens with fewer rows: a partitioned output has up to
/// 64 files open, and rows of a kilobyte would otherwise hold 64 MiB in each before a byte
/// was encoded. (64k rows of the shipments table are ~4.5 MiB.)
const SAMPLE_BYTES: usize = 8 << 20;

/// The Parquet writer opens once it holds [`SAMPLE_ROWS`] rows (or at the end), whose
/// values choose the columns' dictionaries (see [`super::dictionary`]).
enum FileWriter {
    Waiting(Box<Waiting>),
    Open(Encoder),
    /// Opening failed; the error was returned then.
    Broken,
}

/// Everything the writer needs but the sample of rows, and the rows it holds back.
struct Waiting {
    object: Box<dyn ObjectWriter>,
    schema: SchemaRef,
    props: WriterPropertiesBuilder,
    limits: RowGroupLimits,
    threads: usize,
    delta_encoding: bool,
    /// The batches written so far, their rows and Arrow bytes.
    held: Vec<RecordBatch>,
    held_rows: usize,
    held_bytes: usize,
}

impl Waiting {
    /// The encoder, with every held batch written to it.
    fn open(mut self) -> parquet::errors::Result<Encoder> {
        let held = std::mem::take(&mut self.held);
        let plain = match sample(&self.schema, &held)? {
            Some(sample) => without_dictionary(&sample),
            None => Vec::new(),
        };
        let mut props = self.props;
        for column in plain {
            let path = ColumnPath::from(column.as_str());
            props = props.set_column_dictionary_enabled(path.clone(), false);
            let data_type = self.schema.field_with_name(&column).map(|f| f.data_type());
            let encoding = data_type.ok().and_then(plain_encoding);
            if let Some(encoding) = encoding.filter(|_| self.delta_encoding) {
                props = props.set_column_encoding(path, encoding);
            }
        }
        let writer = ArrowWriter::try_new(
            FloatOrder::new(self.object),
            self.schema.clone(),
            Some(props.build()),
        )?;
        let mut encoder = RowGroups::new(writer, self.schema, self.limits, self.threads)?;
        for batch in &held {
            encoder.write(batch)?;
        }
        Ok(encoder)
    }
}

/// The bytes of a batch's rows: its arrays' slices, not the whole buffers they share. A
/// batch a plugin returned is decoded from one IPC message whose buffer every column
/// shares, and counting that buffer per column (8 columns, 8 times) opened the writer after
/// 32k of the dates output's rows in 16k batches and 64k in 64k batches: `weight_kg` then
/// went plain or not by batch size (80 vs 32 MB for zstd to work through).
fn rows_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

/// The first [`SAMPLE_ROWS`] rows of `held` as one batch; `None` when there are none.
fn sample(
    schema: &SchemaRef,
    held: &[RecordBatch],
) -> parquet::errors::Result<Option<RecordBatch>> {
    let mut parts = Vec::new();
    let mut rows = 0;
    for batch in held {
        if rows == SAMPLE_ROWS {
            break;
        }
        let take = (SAMPLE_ROWS - rows).min(batch.num_rows());
        parts.push(batch.slice(0, take));
        rows += take;
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(arrow::compute::concat_batches(schema, &parts)?),
    })
}

impl ParquetSink {
    pub fn create(
        store: &dyn Store,
        key: &str,
        schema: SchemaRef,
        settings: &WriterSettings,
        provenance: &Provenance,
    ) -> Result<Self, SinkError> {
        let uri = store.uri(key);
        let codec = writer_codec(&settings.compression, settings.level).map_err(|message| {
            SinkError::Parquet {
                uri: uri.clone(),
                message,
            }
        })?;
        let metadata = provenance
            .entries
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        let mut props = WriterProperties::builder()
            .set_compression(codec)
            .set_max_row_group_row_count(Some(settings.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(MAX_ROW_GROUP_BYTES))
            // The usual `NAME version X (build Y)` form, which readers parse.
            .set_created_by(format!(
                "sluice version {} (build parquet-rs {PARQUET_VERSION})",
                crate::HOST_VERSION
            ))
            .set_key_value_metadata(Some(metadata));
        let order =
            SortCheck::new(&schema, &settings.sorted_by).map_err(|e| parquet_error(&uri, e))?;
        if let Some(order) = &order {
            props = props.set_sorting_columns(Some(order.sorting_columns()));
        }
        for column in &settings.bloom_filter {
            props = props.set_column_bloom_filter_enabled(ColumnPath::from(column.as_str()), true);
        }
        let waiting = Waiting {
            object: store.create(key)?,
            schema,
            props,
            limits: RowGroupLimits {
                rows: settings.row_group_rows.max(1),
                bytes: MAX_ROW_GROUP_BYTES,
            },
            threads: settings.threads,
            delta_encoding: settings.delta_encoding,
            held: Vec::new(),
            held_rows: 0,
            held_bytes: 0,
        };
        Ok(ParquetSink {
            uri,
            writer: FileWriter::Waiting(Box::new(waiting)),
            rows: 0,
            order,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        if let Some(order) = &mut self.order {
            if let Some(row) = order
                .first_out_of_order(batch)
                .map_err(|e| parquet_error(&self.uri, e))?
            {
                return Err(SinkError::Unsorted {
                    uri: self.uri.clone(),
                    columns: order.names.clone(),
                    row: self.rows + row as u64 + 1,
                });
            }
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        if let FileWriter::Waiting(waiting) = &mut self.writer {
            waiting.held.push(batch.clone());
            waiting.held_rows += batch.num_rows();
            waiting.held_bytes += rows_bytes(batch);
            if waiting.held_rows >= SAMPLE_ROWS || waiting.held_bytes >= SAMPLE_BYTES {
                self.encoder()?;
            }
            return Ok(());
        }
        self.encoder()?
            .write(batch)
            .map_err(|e| parquet_error(&self.uri, e))
    }

    /// The open writer, opened now (with the held batches) if it is still waiting.
    fn encoder(&mut self) -> Result<&mut Encoder, SinkError> {
        if let FileWriter::Waiting(_) = self.writer {
            let FileWriter::Waiting(waiting) =
                std::mem::replace(&mut self.writer, FileWriter::Broken)
            else {
                unreachable!("matched above")
            };
            let open = waiting.open().map_err(|e| parquet_error(&self.uri, e))?;
            self.writer = FileWriter::Open(open);
        }
        match &mut self.writer {
            FileWriter::Open(encoder) => Ok(encoder),
            _ => Err(parquet_error(
                &self.uri,
                parquet::errors::ParquetError::General("the writer failed to open".into()),
            )),
        }
    }

    /// Writes the footer and stages the object; it is made visible by [`StagedFile::commit`].
    pub fn finish(mut self) -> Result<StagedFile, SinkError> {
        self.encoder()?;
        let FileWriter::Open(encoder) = self.writer else {
            unreachable!("`encoder` returned the open writer")
        };
        let order = encoder
            .into_inner()
            .map_err(|e| parquet_error(&self.uri, e))?;
        let footer = order.footer().map(std::sync::Arc::new);
        let object = order
            .finish()
            .map_err(|e| parquet_error(&self.uri, e.into()))?;
        let staged = object.stage()?;
        Ok(StagedFile {
            footer,
            bytes: staged.bytes(),
            object: staged,
            uri: self.uri,
            rows: self.rows,
        })
    }
}

fn parquet_error(uri: &str, e: parquet::errors::ParquetError) -> SinkError {
    SinkError::Parquet {
        uri: uri.into(),
        message: e.to_string(),
    }
}

/// A complete file, invisible until the table succeeds; dropped, it is discarded.
pub struct StagedFile {
    object: Box<dyn StagedObject>,
    pub uri: String,
    pub rows: u64,
    pub bytes: u64,
    /// The footer as written (its statistics), when it could be decoded.
    pub footer: Option<std::sync::Arc<parquet::file::metadata::ParquetMetaData>>,
}

impl StagedFile {
    /// Makes the file visible under its final name, atomically.
    pub fn commit(self) -> Result<String, SinkError> {
        self.object.commit()?;
        Ok(self.uri)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Float64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;
    use crate::storage::LocalStore;

    fn settings() -> WriterSettings {
        WriterSettings::defaults(2)
    }

    fn no_provenance() -> Provenance {
        Provenance {
            entries: Vec::new(),
        }
    }

    /// 100 000 rows of four columns sharing one buffer (as a plugin's decoded output does)
    /// with 28 000 distinct values, written in batches of `rows` that are slices of it.
    fn file(rows: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let values: arrow::array::ArrayRef = Arc::new(
            (0..100_000u64)
                .map(|i| (i * 7919 % 28_000) as f64 / 10.0)
                .collect::<Float64Array>(),
        );
        let names = ["w", "x", "y", "z"];
        let fields: Vec<Field> = names
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, false))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let all = RecordBatch::try_new(schema.clone(), vec![values; names.len()]).unwrap();
        let mut sink =
            ParquetSink::create(&store, "t.parquet", schema, &settings(), &no_provenance())
                .unwrap();
        for start in (0..all.num_rows()).step_by(rows) {
            sink.write(&all.slice(start, rows.min(all.num_rows() - start)))
                .unwrap();
        }
        sink.finish().unwrap().commit().unwrap();
        std::fs::read(dir.path().join("t.parquet")).unwrap()
    }

    /// The first 16 384 rows are all distinct, the first 49 152 hold 28 000 values (more
    /// than half) and the first 65 536 too (less than half): a choice made on fewer rows
    /// than the sample's, on the first batch or by counting each 16k slice as the whole
    /// shared buffer, would go plain with small batches only.
    #[test]
    fn the_file_is_the_same_however_its_rows_were_batched() {
        let whole = file(100_000);
        for rows in [16_384, 65_536] {
            assert!(file(rows) == whole, "{rows}-row batches wrote other bytes");
        }
        let reader = SerializedFileReader::new(bytes::Bytes::from(whole)).unwrap();
        let column = reader.metadata().row_group(0).column(0).clone();
        assert!(
            column.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
            "{:?}",
            column.encodings().collect::<Vec<_>>()
        );
    }

    /// Wide rows open the writer before the sample's row count: the bytes held back are
    /// bounded too.
    #[test]
    fn wide_rows_are_not_held_back_past_the_byte_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let wide = "x".repeat(1024);
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        let rows = |n: usize| {
            let values = arrow::array::StringArray::from(vec![wide.as_str(); n]);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
        };
        let mut sink = ParquetSink::create(
            &store,
            "t.parquet",
            schema.clone(),
            &settings(),
            &no_provenance(),
        )
        .unwrap();
        sink.write(&rows(4_000)).unwrap();
        assert!(
            matches!(sink.writer, FileWriter::Waiting(_)),
            "4 MB: still held"
        );
        sink.write(&rows(5_000)).unwrap();
        assert!(matches!(sink.writer, FileWriter::Open(_)), "9 MB: open");
        assert_eq!(sink.finish().unwrap().rows, 9_000);
    }
}
