//! A chunk of whole CSV records to raw fields, column by column, with the line each row
//! starts on. Chunks are independent, so any thread can tokenize any chunk.

use csv::ByteRecord;

use super::chunks::{Chunk, ChunkError};
use super::raw::RawBatch;
use super::{CsvOptions, SourceError};

/// Reads bytes as one file's CSV dialect; reports errors against that file.
pub(crate) struct Tokenizer {
    builder: csv::ReaderBuilder,
    pub path: String,
    max_record_mib: u64,
}

impl Tokenizer {
    pub fn new(options: &CsvOptions, path: &str) -> Self {
        let mut builder = csv::ReaderBuilder::new();
        builder
            .has_headers(false)
            .flexible(true)
            .delimiter(options.delimiter as u8)
            .quote(options.quote as u8)
            .quoting(options.quoting)
            .escape(options.escape.map(|c| c as u8))
            .double_quote(options.escape.is_none())
            // The parser copies from the chunk, already in memory, through this buffer.
            .buffer_capacity(64 << 10);
        Tokenizer {
            builder,
            path: path.to_string(),
            max_record_mib: options.max_record_mib,
        }
    }

    /// Calls `each` with every record of the chunk and the line it starts on.
    pub fn records(
        &self,
        chunk: &Chunk,
        mut each: impl FnMut(&ByteRecord, u64) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let mut reader = self.builder.from_reader(chunk.data.as_slice());
        let mut record = ByteRecord::new();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) => each(&record, chunk.first_line + start_line(&record, chunk) - 1)?,
                Ok(false) => return Ok(()),
                Err(e) => {
                    let line = e.position().map_or(1, |p| p.line());
                    return Err(
                        self.malformed(chunk.first_line + line - 1, format!("{:?}", e.into_kind()))
                    );
                }
            }
        }
    }

    /// The chunk's rows as raw fields; every row must have `width` fields.
    pub fn raw(&self, chunk: &Chunk, width: usize) -> Result<RawBatch, SourceError> {
        // About one row per line: a fair first guess at the row count.
        let guess = memchr::memchr_iter(b'\n', &chunk.data).count();
        let mut raw = RawBatch::new(width, guess.min(1 << 16));
        self.records(chunk, |record, line| {
            if record.len() != width {
                return Err(self.malformed(
                    line,
                    format!("expected {width} fields, found {}", record.len()),
                ));
            }
            for (column, field) in raw.columns.iter_mut().zip(record.iter()) {
                column
                    .push(field)
                    .map_err(|_| SourceError::column_too_large(&self.path, line))?;
            }
            raw.lines.push(line);
            Ok(())
        })?;
        Ok(raw)
    }

    /// A chunking error as a data error of this file.
    pub fn chunk_error(&self, error: ChunkError) -> SourceError {
        match error {
            ChunkError::Io(e) => SourceError::io(&self.path, e),
            ChunkError::TooLarge { line } => self.malformed(
                line,
                format!(
                    "a record (a line, or a quoted field running over lines) is larger than {} MiB; \
                     raise `max_record_mib` if such records are real",
                    self.max_record_mib
                ),
            ),
            ChunkError::Unterminated { line } => self.malformed(
                line,
                "unterminated quoted field: it runs to the end of the file (or a stray quote character; \
                 set `quoting = false` if quotes are literal)"
                    .into(),
            ),
        }
    }

    pub fn malformed(&self, line: u64, message: String) -> SourceError {
        SourceError::Malformed {
            file: self.path.clone(),
            line,
            message,
        }
    }
}

/// The line a record starts on within its chunk. The parser's position is where it began
/// looking for the record, before any blank lines it skipped: those are counted here.
fn start_line(record: &ByteRecord, chunk: &Chunk) -> u64 {
    let Some(position) = record.position() else {
        return 1;
    };
    let from = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let blank = chunk.data.get(from..).unwrap_or_default();
    let skipped = blank
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|&&b| b == b'\n')
        .count();
    position.line() + skipped as u64
}
