//! Streaming Parquet writer with provenance metadata and an atomic commit.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// Encoded bytes a row group may reach before it is flushed: bounds memory for wide rows
/// whatever `row_group_rows` says.
const MAX_ROW_GROUP_BYTES: usize = 128 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: writing Parquet: {message}")]
    Parquet { path: PathBuf, message: String },
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
}

/// Maps the pipeline's codec name and level to the Parquet codec.
pub fn writer_codec(name: &str, level: Option<i32>) -> Result<Compression, String> {
    let bad_level = |e: parquet::errors::ParquetError| format!("output.level: {e}");
    Ok(match name.to_ascii_lowercase().as_str() {
        "zstd" => Compression::ZSTD(ZstdLevel::try_new(level.unwrap_or(3)).map_err(bad_level)?),
        "gzip" => Compression::GZIP(GzipLevel::try_new(level.unwrap_or(6) as u32).map_err(bad_level)?),
        "brotli" => Compression::BROTLI(BrotliLevel::try_new(level.unwrap_or(1) as u32).map_err(bad_level)?),
        "snappy" => Compression::SNAPPY,
        "lz4" => Compression::LZ4_RAW,
        "none" | "uncompressed" => Compression::UNCOMPRESSED,
        other => return Err(format!("output.compression: unknown codec `{other}` (zstd, snappy, lz4, gzip, brotli, none)")),
    })
}

/// A Parquet file being written under a temporary name beside its final path.
pub struct ParquetSink {
    final_path: PathBuf,
    tmp_path: PathBuf,
    writer: Option<ArrowWriter<BufWriter<File>>>,
    rows: u64,
}

impl ParquetSink {
    pub fn create(
        final_path: &Path,
        run_id: &str,
        schema: SchemaRef,
        settings: &WriterSettings,
        provenance: &Provenance,
    ) -> Result<Self, SinkError> {
        let dir = final_path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| SinkError::Io { path: dir.into(), source })?;
        let name = final_path.file_name().unwrap_or_default().to_string_lossy();
        // Hidden name: Spark, Hive, Athena and DuckDB globs skip dot files.
        let tmp_path = dir.join(format!(".{name}.sluice-{run_id}.tmp"));
        let file = File::create(&tmp_path).map_err(|source| SinkError::Io { path: tmp_path.clone(), source })?;
        let codec = writer_codec(&settings.compression, settings.level)
            .map_err(|message| SinkError::Parquet { path: final_path.into(), message })?;
        let metadata = provenance.entries.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
        let props = WriterProperties::builder()
            .set_compression(codec)
            .set_max_row_group_row_count(Some(settings.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(MAX_ROW_GROUP_BYTES))
            .set_created_by(format!("sluice {}", crate::HOST_VERSION))
            .set_key_value_metadata(Some(metadata))
            .build();
        let mut sink = ParquetSink { final_path: final_path.into(), tmp_path, writer: None, rows: 0 };
        let writer = ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema, Some(props))
            .map_err(|e| sink.parquet_err(e))?;
        sink.writer = Some(writer);
        Ok(sink)
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let writer = self.writer.as_mut().expect("not finished");
        writer.write(batch).map_err(|e| parquet_error(&self.final_path, e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Writes the footer and syncs the file; the result is committed by renaming.
    pub fn finish(mut self) -> Result<StagedFile, SinkError> {
        let writer = self.writer.take().expect("finish runs once");
        let file = writer.into_inner().map_err(|e| parquet_error(&self.final_path, e))?;
        let file = file.into_inner().map_err(|e| SinkError::Io { path: self.tmp_path.clone(), source: e.into_error() })?;
        file.sync_all().map_err(|source| SinkError::Io { path: self.tmp_path.clone(), source })?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(StagedFile {
            tmp_path: std::mem::take(&mut self.tmp_path),
            final_path: self.final_path.clone(),
            rows: self.rows,
            bytes,
        })
    }

    fn parquet_err(&self, e: parquet::errors::ParquetError) -> SinkError {
        parquet_error(&self.final_path, e)
    }
}

impl Drop for ParquetSink {
    /// A sink dropped before `finish` leaves nothing behind.
    fn drop(&mut self) {
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

fn parquet_error(path: &Path, e: parquet::errors::ParquetError) -> SinkError {
    SinkError::Parquet { path: path.into(), message: e.to_string() }
}

/// A complete file under its temporary name, waiting for the table to succeed.
#[derive(Debug)]
pub struct StagedFile {
    tmp_path: PathBuf,
    pub final_path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

impl StagedFile {
    /// Renames the file into place (atomic on one filesystem) and syncs the folder.
    pub fn commit(mut self) -> Result<PathBuf, SinkError> {
        let tmp = std::mem::take(&mut self.tmp_path);
        std::fs::rename(&tmp, &self.final_path).map_err(|source| SinkError::Io { path: self.final_path.clone(), source })?;
        if let Some(dir) = self.final_path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(self.final_path.clone())
    }
}

impl Drop for StagedFile {
    /// A staged file that is never committed is removed.
    fn drop(&mut self) {
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}
