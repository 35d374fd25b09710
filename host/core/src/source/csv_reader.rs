//! CSV files to Arrow record batches, with the source line of every row.

use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::new_null_array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use csv::ByteRecord;

use super::convert::{to_array, Conversion, NullMarkers};
use super::files::{expand, open_counted, InputObject};
use super::infer::infer_type;
use super::names::{other_delimiter, unique_names};
use super::raw::RawBatch;
use super::sheet::{is_spreadsheet, SheetReader};
use super::SourceError;
use super::{CsvOptions, InputSpec};
use crate::storage::Storage;

/// Rows read to infer column types. Fixed, so the schema never depends on the batch size.
const INFER_ROWS: usize = 65_536;

/// One batch of an input, with where its rows came from.
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
        Ok(CsvInput {
            files,
            options,
            schema,
            inferred,
            batch_rows,
            nulls,
            first: Some((reader, first_batch)),
            read,
        })
    }

    /// An input without files: its declared `columns`, typed by `types` (else utf8).
    fn empty(options: CsvOptions, batch_rows: usize, nulls: NullMarkers) -> Self {
        let columns = options.columns.clone().unwrap_or_default();
        let fields: Vec<Field> = columns
            .iter()
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
        for file in 0..self.files.len() {
            if file > 0 {
                let expected = (!union).then_some(names.as_slice());
                reader =
                    RecordReader::open(&self.files[file], &self.options, expected, &self.read)?;
                pending = reader.next_raw(self.batch_rows)?;
            }
            // Where each of the input's columns is in this file (`None`: not there).
            let positions: Vec<Option<usize>> = names
                .iter()
                .map(|n| reader.names().iter().position(|f| f == n))
                .collect();
            while let Some(raw) = pending.take() {
                let (batch, lines) = self.to_batch(reader.path(), raw, &positions)?;
                // The inference sample may hold several batches.
                for start in (0..batch.num_rows()).step_by(self.batch_rows) {
                    let len = self.batch_rows.min(batch.num_rows() - start);
                    let lines = lines[start..start + len].to_vec();
                    if !sink(SourceBatch {
                        batch: batch.slice(start, len),
                        file,
                        lines,
                    }) {
                        return Ok(());
                    }
                }
                pending = reader.next_raw(self.batch_rows)?;
            }
        }
        Ok(())
    }

    /// The typed batch and the line of each row.
    /// `positions[i]` is where the file holds the input's column `i`; a column it lacks
    /// (with `union_by_name`) is all NULL.
    fn to_batch(
        &self,
        path: &str,
        raw: RawBatch,
        positions: &[Option<usize>],
    ) -> Result<(RecordBatch, Vec<u64>), SourceError> {
        let rows = raw.rows();
        let RawBatch {
            columns: raw_columns,
            lines,
        } = raw;
        let mut raw_columns: Vec<Option<_>> = raw_columns.into_iter().map(Some).collect();
        let mut columns = Vec::with_capacity(positions.len());
        for (i, (position, field)) in positions.iter().zip(self.schema.fields()).enumerate() {
            let Some(column) = position.and_then(|p| raw_columns[p].take()) else {
                columns.push(new_null_array(field.data_type(), rows));
                continue;
            };
            let how = Conversion {
                data_type: field.data_type(),
                nulls: &self.nulls,
                exact: self.inferred[i],
            };
            let array = to_array(column, how).map_err(|bad| SourceError::Value {
                file: path.into(),
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
                file: path.into(),
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
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    match options.types.keys().find(|k| !names.contains(k)) {
        Some(unknown) => Err(SourceError::Schema {
            file: file.to_string(),
            message: format!("`types` names column `{unknown}`, which the input does not have (columns: {names:?})"),
        }),
        None => Ok(()),
    }
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

    fn path(&self) -> &str {
        match self {
            RecordReader::Csv(r) => &r.path,
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

/// One open CSV file.
struct FileReader {
    path: String,
    reader: csv::Reader<QuoteCounting>,
    record: ByteRecord,
    names: Vec<String>,
    /// Line of the latest record, for errors found only at the end of the file.
    last_line: u64,
    /// Line the next record starts on, for a record too large to finish.
    next_line: u64,
    /// Whether an odd quote count at the end means an unterminated quoted field.
    check_quotes: bool,
    /// Field bytes after which a batch ends, whatever its row count.
    max_batch: u64,
}

/// Counts quote bytes as they stream past. The csv parser treats a quoted field left open
/// at the end of the file as ending there, silently swallowing every later line into it;
/// with quotes escaped by doubling, a complete file always has an even count.
///
/// It also bounds memory: the parser keeps a whole record in memory, so a hostile file of
/// one endless line (or one endless quoted field) would grow it without limit. Bytes read
/// since the start of the current record past `max_record` fail the read.
struct QuoteCounting {
    inner: Box<dyn BufRead + Send>,
    quote: u8,
    count: u64,
    /// Bytes read so far, and where the record being parsed started.
    read: u64,
    record_start: u64,
    max_record: u64,
}

/// The error a read returns when one record outgrows the limit.
#[derive(Debug)]
struct RecordTooLarge;

impl std::fmt::Display for RecordTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("record too large")
    }
}

impl std::error::Error for RecordTooLarge {}

impl Read for QuoteCounting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read - self.record_start > self.max_record {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                RecordTooLarge,
            ));
        }
        let n = self.inner.read(buf)?;
        self.count += memchr::memchr_iter(self.quote, &buf[..n]).count() as u64;
        self.read += n as u64;
        Ok(n)
    }
}

impl FileReader {
    /// Opens a file and reads its header.
    fn open(
        object: &InputObject,
        options: &CsvOptions,
        read: Arc<AtomicU64>,
    ) -> Result<Self, SourceError> {
        let bytes = QuoteCounting {
            inner: open_counted(object, options.compression, read)?,
            quote: options.quote as u8,
            count: 0,
            read: 0,
            record_start: 0,
            max_record: options.max_record_mib << 20,
        };
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(options.delimiter as u8)
            .quote(options.quote as u8)
            .quoting(options.quoting)
            .escape(options.escape.map(|c| c as u8))
            .double_quote(options.escape.is_none())
            .buffer_capacity(1 << 20)
            .from_reader(bytes);
        let mut file = FileReader {
            path: object.uri.clone(),
            reader,
            record: ByteRecord::new(),
            names: Vec::new(),
            last_line: 1,
            next_line: 1,
            check_quotes: options.quoting && options.escape.is_none(),
            max_batch: options.max_batch_mib << 20,
        };
        file.names = file.read_names(options)?;
        Ok(file)
    }

    fn read_names(&mut self, options: &CsvOptions) -> Result<Vec<String>, SourceError> {
        let header = if options.header && self.read_record()? {
            let names = self
                .record
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    String::from_utf8(f.to_vec()).map_err(|_| {
                        self.malformed(1, format!("header field {} is not UTF-8", i + 1))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(names)
        } else {
            None
        };
        column_names(options, header, &self.path, 1)
    }

    fn read_record(&mut self) -> Result<bool, SourceError> {
        let more = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                match e.into_kind() {
                    csv::ErrorKind::Io(io)
                        if io.get_ref().is_some_and(|e| e.is::<RecordTooLarge>()) =>
                    {
                        self.record_too_large()
                    }
                    csv::ErrorKind::Io(io) => SourceError::io(&self.path, io),
                    other => SourceError::Malformed {
                        file: self.path.clone(),
                        line,
                        message: format!("{other:?}"),
                    },
                }
            })?;
        if more {
            self.last_line = self
                .record
                .position()
                .map(|p| p.line())
                .unwrap_or(self.last_line);
            let next = self.reader.position().clone();
            self.reader.get_mut().record_start = next.byte();
            self.next_line = next.line();
        } else if self.check_quotes && self.reader.get_ref().count % 2 == 1 {
            return Err(self.malformed(
                self.last_line,
                "unterminated quoted field: it runs to the end of the file (or a stray quote character; \
                 set `quoting = false` if quotes are literal)"
                    .into(),
            ));
        }
        Ok(more)
    }

    fn record_too_large(&self) -> SourceError {
        let limit = self.reader.get_ref().max_record >> 20;
        self.malformed(
            self.next_line,
            format!(
                "a record (a line, or a quoted field running over lines) is larger than {limit} MiB; \
                 raise `max_record_mib` if such records are real"
            ),
        )
    }

    fn malformed(&self, line: u64, message: String) -> SourceError {
        SourceError::Malformed {
            file: self.path.clone(),
            line,
            message,
        }
    }

    /// Up to `max_rows` rows as raw fields; `None` at the end of the file.
    fn next_raw(&mut self, max_rows: usize) -> Result<Option<RawBatch>, SourceError> {
        let width = self.names.len();
        let mut raw = RawBatch::new(width, max_rows.min(1 << 16));
        let mut bytes = 0u64;
        while raw.rows() < max_rows && bytes < self.max_batch && self.read_record()? {
            bytes += self.record.as_slice().len() as u64;
            let line = self.last_line;
            if self.record.len() != width {
                return Err(self.malformed(
                    line,
                    format!("expected {width} fields, found {}", self.record.len()),
                ));
            }
            for (column, field) in raw.columns.iter_mut().zip(self.record.iter()) {
                column
                    .push(field)
                    .map_err(|_| SourceError::column_too_large(&self.path, line))?;
            }
            raw.lines.push(line);
        }
        Ok((raw.rows() > 0).then_some(raw))
    }
}

#[cfg(test)]
#[path = "csv_reader_tests.rs"]
mod tests;
