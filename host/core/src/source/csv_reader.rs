//! CSV files to Arrow record batches, with the source line of every row.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::new_null_array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::chunks::{Chunk, ChunkSize, Chunker, Dialect};
use super::convert::{to_array, Conversion, NullMarkers};
use super::files::{expand, open_counted, InputObject};
use super::infer::infer_type;
use super::names::{other_delimiter, unique_names};
use super::parallel::{read_parallel, Plan};
use super::raw::RawBatch;
use super::sheet::{is_spreadsheet, SheetReader};
use super::tokenize::Tokenizer;
use super::SourceError;
use super::{CsvOptions, InputSpec};
use crate::storage::Storage;

/// Rows read to infer column types. Fixed, so the schema never depends on the batch size.
const INFER_ROWS: usize = 65_536;

/// One batch of an input, with where its rows came from.
#[derive(Debug)]
pub struct SourceBatch {
    pub batch: RecordBatch,
    /// Index into [`CsvInput::files`].
    pub file: usize,
    /// The line each row starts on (1-based).
    pub lines: Vec<u64>,
}

/// One named input: its files, their common schema, and a cursor over their rows.
pub struct CsvInput {
    files: Vec<InputObject>,
    options: CsvOptions,
    schema: SchemaRef,
    /// Whether each column's type was inferred (for error hints).
    inferred: Vec<bool>,
    batch_rows: usize,
    nulls: NullMarkers,
    /// The first file, already open, and the batch read to infer the schema.
    first: Option<(RecordReader, Option<RawBatch>)>,
    /// Bytes read from the files so far (compressed bytes for gzip), for progress.
    read: Arc<AtomicU64>,
    /// Threads parsing each CSV file.
    threads: usize,
}

impl CsvInput {
    /// Finds the files, reads the header and infers the schema from the first batch.
    pub fn open(
        spec: &InputSpec,
        batch_rows: usize,
        storage: &Storage,
    ) -> Result<Self, SourceError> {
        Self::from_objects(
            expand(&spec.path, spec.select, storage)?,
            &spec.csv,
            batch_rows,
        )
    }

    /// Like [`CsvInput::open`], for objects already listed (at least one).
    pub fn from_objects(
        files: Vec<InputObject>,
        options: &CsvOptions,
        batch_rows: usize,
    ) -> Result<Self, SourceError> {
        let options = options.clone();
        let nulls = NullMarkers::new(&options.null);
        if files.is_empty() {
            return Ok(Self::empty(options, batch_rows, nulls));
        }
        let read = Arc::<AtomicU64>::default();
        let mut reader = RecordReader::open(&files[0], &options, None, &read)?;
        let first_batch = reader.next_raw(INFER_ROWS.max(batch_rows))?;
        let (mut schema, mut inferred) =
            resolve_schema(&reader, &options, first_batch.as_ref(), &nulls)?;
        if options.union_by_name {
            (schema, inferred) = union_by_name(&files, &options, schema, inferred)?;
        }
        check_types(&options, &schema, reader.path())?;
        let (schema, inferred) = skip_columns(&options, schema, inferred, reader.path())?;
        Ok(CsvInput {
            files,
            options,
            schema,
            inferred,
            batch_rows,
            nulls,
            first: Some((reader, first_batch)),
            read,
            threads: 1,
        })
    }

    /// An input without files: its declared `columns`, typed by `types` (else utf8).
    fn empty(options: CsvOptions, batch_rows: usize, nulls: NullMarkers) -> Self {
        let columns = options.columns.clone().unwrap_or_default();
        let fields: Vec<Field> = columns
            .iter()
            .filter(|c| !options.skip.contains(c))
            .map(|c| Field::new(c, options.declared_type(c).unwrap_or(DataType::Utf8), true))
            .collect();
        CsvInput {
            files: Vec::new(),
            inferred: vec![false; fields.len()],
            schema: Arc::new(Schema::new(fields)),
            options,
            batch_rows,
            nulls,
            first: None,
            read: Arc::default(),
            threads: 1,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn files(&self) -> &[InputObject] {
        &self.files
    }

    /// Whether `types` declares this column.
    pub fn declared(&self, column: &str) -> bool {
        self.options.types.contains_key(column)
    }

    /// Per column, whether its type was inferred (else declared, or text with `infer = false`).
    pub fn inferred(&self) -> &[bool] {
        &self.inferred
    }

    /// Total size of the input files on disk (compressed size for gzip).
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(InputObject::size).sum()
    }

    /// A counter of the bytes read so far, of [`CsvInput::bytes`]: it keeps counting while
    /// [`CsvInput::read_all`] runs.
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        self.read.clone()
    }

    /// Parses each CSV file on `threads` threads (default 1). The batches and their rows
    /// are the same for any count: chunks are cut by rows, never by thread.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Reads every row of every file in batches; `sink` returns false to stop early.
    pub fn read_all(
        mut self,
        mut sink: impl FnMut(SourceBatch) -> bool,
    ) -> Result<(), SourceError> {
        let Some((mut reader, mut pending)) = self.first.take() else {
            return Ok(());
        };
        let names: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let union = self.options.union_by_name;
        // Every later file repeats the first's header, skipped columns included.
        let first_names = reader.names().to_vec();
        for file in 0..self.files.len() {
            if file > 0 {
                let expected = (!union).then_some(first_names.as_slice());
                reader =
                    RecordReader::open(&self.files[file], &self.options, expected, &self.read)?;
            }
            let positions = reader.positions(&names);
            let path = reader.path().to_string();
            let typing = Typing {
                schema: &self.schema,
                inferred: &self.inferred,
                nulls: &self.nulls,
                positions: &positions,
                path: &path,
                width: reader.names().len(),
            };
            let mut emit = |(batch, lines): (RecordBatch, Vec<u64>)| {
                emit(batch, lines, file, self.batch_rows, &mut sink)
            };
            // The inference sample, read when the input was opened.
            if let Some(raw) = pending.take() {
                if !emit(typing.to_batch(raw)?) {
                    return Ok(());
                }
            }
            let more = match &mut reader {
                RecordReader::Csv(csv) if self.threads > 1 => {
                    let plan = Plan {
                        threads: self.threads,
                        size: csv.chunk_size(self.batch_rows),
                    };
                    read_parallel(&mut csv.chunker, &csv.tokenizer, &typing, plan, &mut emit)?
                }
                _ => loop {
                    let Some(raw) = reader.next_raw(self.batch_rows)? else {
                        break true;
                    };
                    if !emit(typing.to_batch(raw)?) {
                        break false;
                    }
                },
            };
            if !more {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Hands a typed batch to the sink in pieces of `batch_rows` (the inference sample may
/// hold several batches); false when the sink stops.
fn emit(
    batch: RecordBatch,
    lines: Vec<u64>,
    file: usize,
    batch_rows: usize,
    sink: &mut impl FnMut(SourceBatch) -> bool,
) -> bool {
    if batch.num_rows() <= batch_rows {
        return sink(SourceBatch { batch, file, lines });
    }
    (0..batch.num_rows()).step_by(batch_rows).all(|start| {
        let len = batch_rows.min(batch.num_rows() - start);
        sink(SourceBatch {
            batch: batch.slice(start, len),
            file,
            lines: lines[start..start + len].to_vec(),
        })
    })
}

/// What turns one file's raw fields into the input's typed batches. Shared by the parse
/// threads.
pub(super) struct Typing<'a> {
    schema: &'a SchemaRef,
    inferred: &'a [bool],
    nulls: &'a NullMarkers,
    /// `positions[i]` is where the file holds the input's column `i`; a column it lacks
    /// (with `union_by_name`) is all NULL.
    positions: &'a [Option<usize>],
    path: &'a str,
    /// Fields in each of the file's records.
    width: usize,
}

impl Typing<'_> {
    pub fn width(&self) -> usize {
        self.width
    }

    /// The typed batch and the line of each row.
    pub fn to_batch(&self, raw: RawBatch) -> Result<(RecordBatch, Vec<u64>), SourceError> {
        let rows = raw.rows();
        let RawBatch {
            columns: raw_columns,
            lines,
        } = raw;
        let mut raw_columns: Vec<Option<_>> = raw_columns.into_iter().map(Some).collect();
        let mut columns = Vec::with_capacity(self.positions.len());
        for (i, (position, field)) in self.positions.iter().zip(self.schema.fields()).enumerate() {
            let Some(column) = position.and_then(|p| raw_columns[p].take()) else {
                columns.push(new_null_array(field.data_type(), rows));
                continue;
            };
            let how = Conversion {
                data_type: field.data_type(),
                nulls: self.nulls,
                exact: self.inferred[i],
            };
            let array = to_array(column, how).map_err(|bad| SourceError::Value {
                file: self.path.into(),
                line: lines[bad.row],
                column: position.map_or(i, |p| p) + 1,
                name: field.name().clone(),
                value: bad.value,
                expected: field.data_type().to_string(),
                hint: if self.inferred[i] && *field.data_type() != DataType::Utf8 {
                    format!(" (the type was inferred from the first {INFER_ROWS} rows; declare the column under `types`)")
                } else {
                    String::new()
                },
            })?;
            columns.push(array);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
            .map_err(|e| SourceError::Schema {
                file: self.path.into(),
                message: e.to_string(),
            })?;
        Ok((batch, lines))
    }
}

fn resolve_schema(
    reader: &RecordReader,
    options: &CsvOptions,
    sample: Option<&RawBatch>,
    nulls: &NullMarkers,
) -> Result<(SchemaRef, Vec<bool>), SourceError> {
    let names = reader.names();
    let mut fields = Vec::with_capacity(names.len());
    let mut inferred = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let declared = options.declared_type(name);
        let data_type = match (&declared, sample) {
            (Some(t), _) => t.clone(),
            (None, Some(raw)) if options.infer => infer_type(&raw.columns[i], nulls),
            _ => DataType::Utf8,
        };
        inferred.push(declared.is_none() && options.infer);
        fields.push(Field::new(name, data_type, true));
    }
    Ok((Arc::new(Schema::new(fields)), inferred))
}

/// Every name of `types` must be a column of the input.
fn check_types(options: &CsvOptions, schema: &Schema, file: &str) -> Result<(), SourceError> {
    known_columns("types", options.types.keys(), schema, file)
}

/// Every column the option `option` names is one of the schema's.
fn known_columns<'a>(
    option: &str,
    named: impl IntoIterator<Item = &'a String>,
    schema: &Schema,
    file: &str,
) -> Result<(), SourceError> {
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    match named.into_iter().find(|k| !names.contains(k)) {
        Some(unknown) => Err(SourceError::Schema {
            file: file.to_string(),
            message: format!("`{option}` names column `{unknown}`, which the input does not have (columns: {names:?})"),
        }),
        None => Ok(()),
    }
}

/// The schema without the `skip` columns, each of which must be in it.
fn skip_columns(
    options: &CsvOptions,
    schema: SchemaRef,
    inferred: Vec<bool>,
    file: &str,
) -> Result<(SchemaRef, Vec<bool>), SourceError> {
    if options.skip.is_empty() {
        return Ok((schema, inferred));
    }
    known_columns("skip", &options.skip, &schema, file)?;
    let (fields, inferred): (Vec<_>, Vec<_>) = schema
        .fields()
        .iter()
        .zip(inferred)
        .filter(|(f, _)| !options.skip.contains(f.name()))
        .map(|(f, i)| (f.clone(), i))
        .unzip();
    Ok((Arc::new(Schema::new(fields)), inferred))
}

/// The first file's columns, then each column that a later file adds, in the order they
/// appear: typed as declared in `types`, else text (only the first file is sampled).
fn union_by_name(
    files: &[InputObject],
    options: &CsvOptions,
    schema: SchemaRef,
    mut inferred: Vec<bool>,
) -> Result<(SchemaRef, Vec<bool>), SourceError> {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    // Only the headers are read here; the bytes count when the files are read for real.
    let uncounted = Arc::<AtomicU64>::default();
    for file in &files[1..] {
        let reader = RecordReader::open(file, options, None, &uncounted)?;
        for name in reader.names() {
            if !fields.iter().any(|f| f.name() == name) {
                let data_type = options.declared_type(name).unwrap_or(DataType::Utf8);
                fields.push(Field::new(name, data_type, true));
                inferred.push(false);
            }
        }
    }
    Ok((Arc::new(Schema::new(fields)), inferred))
}

/// The input's column names: `columns` when declared (checked against the header's count),
/// else the header's, made unique (see [`unique_names`]). `line` is the header's line.
pub(super) fn column_names(
    options: &CsvOptions,
    header: Option<Vec<String>>,
    file: &str,
    line: u64,
) -> Result<Vec<String>, SourceError> {
    let malformed = |message: String| SourceError::Malformed {
        file: file.into(),
        line,
        message,
    };
    match (&options.columns, header) {
        (Some(columns), Some(header)) if columns.len() != header.len() => Err(malformed(format!(
            "the header has {} columns but `columns` names {}",
            header.len(),
            columns.len()
        ))),
        (Some(columns), _) => Ok(columns.clone()),
        (None, Some(header)) => header_names(options, header).map_err(malformed),
        (None, None) => Ok(Vec::new()),
    }
}

/// The header's names made unique; what changed is a warning, or with `strict` an error.
fn header_names(options: &CsvOptions, header: Vec<String>) -> Result<Vec<String>, String> {
    if let [only] = header.as_slice() {
        if let Some(other) = other_delimiter(only, options.delimiter) {
            let message = format!(
                "the header is one column `{only}`, which holds {other:?}: is the delimiter {other:?} rather than {:?}? Set `delimiter`",
                options.delimiter
            );
            if options.strict {
                return Err(message);
            }
            tracing::warn!("{message}");
        }
    }
    let (names, renamed) = unique_names(header, options.names);
    for r in &renamed {
        let message = format!(
            "header column {} `{}` is read as `{}` ({})",
            r.column, r.from, r.to, r.reason
        );
        if options.strict && r.reason != "snake_case" {
            return Err(format!(
                "{message}; name every column uniquely, or drop `strict`"
            ));
        }
        tracing::warn!("{message}");
    }
    Ok(names)
}

/// One open input file: CSV, or a spreadsheet's sheet.
enum RecordReader {
    Csv(FileReader),
    Sheet(SheetReader),
}

impl RecordReader {
    /// Opens a file; `expected` is the first file's column names, which every later file
    /// of the same input must repeat.
    fn open(
        object: &InputObject,
        options: &CsvOptions,
        expected: Option<&[String]>,
        read: &Arc<AtomicU64>,
    ) -> Result<Self, SourceError> {
        let reader = if is_spreadsheet(&object.uri, options) {
            let sheet = SheetReader::open(object, options)?;
            // A workbook is read whole when opened.
            read.fetch_add(object.size(), Ordering::Relaxed);
            RecordReader::Sheet(sheet)
        } else {
            RecordReader::Csv(FileReader::open(object, options, read.clone())?)
        };
        if let Some(expected) = expected {
            if reader.names() != expected {
                return Err(SourceError::Schema {
                    file: reader.path().to_string(),
                    message: format!(
                        "columns {:?} differ from the first file's {:?}",
                        reader.names(),
                        expected
                    ),
                });
            }
        }
        Ok(reader)
    }

    /// Where each of the input's columns is in this file (`None`: not there). A CSV file's
    /// tokenizer then keeps only those fields.
    fn positions(&mut self, input: &[String]) -> Vec<Option<usize>> {
        let positions: Vec<Option<usize>> = input
            .iter()
            .map(|n| self.names().iter().position(|f| f == n))
            .collect();
        if let RecordReader::Csv(csv) = self {
            let kept = (0..csv.names.len()).map(|p| positions.contains(&Some(p)));
            csv.tokenizer.keep(kept.collect());
        }
        positions
    }

    fn path(&self) -> &str {
        match self {
            RecordReader::Csv(r) => &r.tokenizer.path,
            RecordReader::Sheet(r) => &r.path,
        }
    }

    fn names(&self) -> &[String] {
        match self {
            RecordReader::Csv(r) => &r.names,
            RecordReader::Sheet(r) => &r.names,
        }
    }

    fn next_raw(&mut self, max_rows: usize) -> Result<Option<RawBatch>, SourceError> {
        match self {
            RecordReader::Csv(r) => r.next_raw(max_rows),
            RecordReader::Sheet(r) => r.next_raw(max_rows),
        }
    }
}

/// One open CSV file: its records cut into chunks, and the tokenizer that reads them.
pub(super) struct FileReader {
    pub chunker: Chunker,
    pub tokenizer: Tokenizer,
    names: Vec<String>,
    /// Bytes after which a batch ends, whatever its row count.
    pub max_batch: usize,
}

impl FileReader {
    /// Opens a file and reads its header.
    fn open(
        object: &InputObject,
        options: &CsvOptions,
        read: Arc<AtomicU64>,
    ) -> Result<Self, SourceError> {
        let dialect = Dialect {
            delimiter: options.delimiter as u8,
            quote: options.quote as u8,
            quoting: options.quoting,
            escape: options.escape.map(|c| c as u8),
        };
        let bytes = open_counted(object, options.compression, read)?;
        let max_record = usize::try_from(options.max_record_mib << 20).unwrap_or(usize::MAX);
        let mut file = FileReader {
            chunker: Chunker::new(bytes, dialect, max_record),
            tokenizer: Tokenizer::new(options, &object.uri),
            names: Vec::new(),
            max_batch: usize::try_from(options.max_batch_mib << 20).unwrap_or(usize::MAX),
        };
        file.names = file.read_names(options)?;
        Ok(file)
    }

    fn read_names(&mut self, options: &CsvOptions) -> Result<Vec<String>, SourceError> {
        let header = match options.header {
            true => self.header()?,
            false => None,
        };
        column_names(options, header, &self.tokenizer.path, 1)
    }

    /// The first record's fields, as text.
    fn header(&mut self) -> Result<Option<Vec<String>>, SourceError> {
        let one = ChunkSize {
            records: 1,
            bytes: usize::MAX,
        };
        let Some(chunk) = self.next_chunk(one)? else {
            return Ok(None);
        };
        let mut header = None;
        self.tokenizer.records(&chunk, |record, line| {
            let names = record
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    String::from_utf8(f.to_vec()).map_err(|_| {
                        self.tokenizer
                            .malformed(line, format!("header field {} is not UTF-8", i + 1))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            header.get_or_insert(names);
            Ok(())
        })?;
        Ok(header)
    }

    fn next_chunk(&mut self, size: ChunkSize) -> Result<Option<Chunk>, SourceError> {
        self.chunker
            .next(size)
            .map_err(|e| self.tokenizer.chunk_error(e))
    }

    /// What a chunk of `rows` holds.
    pub fn chunk_size(&self, rows: usize) -> ChunkSize {
        ChunkSize {
            records: rows,
            bytes: self.max_batch,
        }
    }

    /// Up to `max_rows` rows as raw fields; `None` at the end of the file.
    fn next_raw(&mut self, max_rows: usize) -> Result<Option<RawBatch>, SourceError> {
        while let Some(chunk) = self.next_chunk(self.chunk_size(max_rows))? {
            let raw = self.tokenizer.raw(&chunk, self.names.len())?;
            if raw.rows() > 0 {
                return Ok(Some(raw));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
#[path = "csv_reader_tests.rs"]
mod tests;
