//! A chunk of whole CSV records to raw fields, column by column, with the line each row
//! starts on. Chunks are independent, so any thread can tokenize any chunk.

use std::sync::{Mutex, PoisonError};

use csv::ByteRecord;

use super::chunks::{Chunk, ChunkError};
use super::raw::RawBatch;
use super::{CsvOptions, SourceError};

/// Reads bytes as one file's CSV dialect; reports errors against that file.
pub(crate) struct Tokenizer {
    builder: csv::ReaderBuilder,
    pub path: String,
    max_record_mib: u64,
    delimiter: u8,
    /// The quote byte, when quoting is on: a chunk without it takes the fast path.
    quote: Option<u8>,
    /// Per field of a record, whether it is kept (all, unless `skip` names columns).
    kept: Option<Vec<bool>>,
    /// Each column's bytes per row in the last chunk tokenized (any thread's).
    widths: Mutex<Vec<usize>>,
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
            delimiter: options.delimiter as u8,
            quote: options.quoting.then_some(options.quote as u8),
            kept: None,
            widths: Mutex::default(),
        }
    }

    /// Keep only the fields marked true from now on.
    pub fn keep(&mut self, kept: Vec<bool>) {
        self.kept = Some(kept);
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
        let rows = chunk.line_breaks.min(1 << 16);
        let widths = self
            .widths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let all;
        let kept = match &self.kept {
            Some(kept) if kept.len() == width => kept.as_slice(),
            _ => {
                all = vec![true; width];
                &all
            }
        };
        let mut raw = RawBatch::sized(kept, rows, &widths);
        let quoted = self
            .quote
            .is_some_and(|quote| memchr::memchr(quote, &chunk.data).is_some());
        if quoted {
            self.raw_parsed(chunk, &mut raw)?;
        } else {
            self.raw_unquoted(chunk, &mut raw)?;
        }
        *self.widths.lock().unwrap_or_else(PoisonError::into_inner) = raw.widths();
        Ok(raw)
    }

    /// Any chunk, through the CSV parser.
    fn raw_parsed(&self, chunk: &Chunk, raw: &mut RawBatch) -> Result<(), SourceError> {
        let width = raw.columns.len();
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
        })
    }

    /// The fast path for a chunk without quote characters, most chunks of most files: a
    /// field ends at the delimiter and a record at a run of CR and LF, which is exactly how
    /// the CSV parser reads such bytes (a test holds the two paths to the same rows, lines
    /// and errors), at a fraction of its cost.
    fn raw_unquoted(&self, chunk: &Chunk, raw: &mut RawBatch) -> Result<(), SourceError> {
        let data = chunk.data.as_slice();
        let mut record = UnquotedRecord {
            width: raw.columns.len(),
            line: chunk.first_line,
            start: 0,
            fields: 0,
        };
        for at in Stops::new(data, self.delimiter) {
            if data[at] == self.delimiter {
                record.field(self, raw, data, at)?;
            } else if record.fields > 0 || at > record.start {
                record.field(self, raw, data, at)?;
                record.end(self, raw)?;
            }
            record.start = at + 1;
            if data[at] == b'\n' {
                record.line += 1;
            }
        }
        if record.fields > 0 || record.start < data.len() {
            record.field(self, raw, data, data.len())?;
            record.end(self, raw)?;
        }
        Ok(())
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

/// Where the delimiter, `\n` and `\r` are in a quote-free chunk, in order. In CSV these
/// bytes come every few bytes, where `memchr3` pays its setup at every hit; here each 8-byte
/// word yields the exact positions of all three at once as a bit mask (the SWAR zero-byte
/// test without false positives), so a hit costs a few instructions.
struct Stops<'a> {
    data: &'a [u8],
    delimiter: u64,
    /// The start of the word `mask` came from, and its stop bits not yet yielded.
    word_start: usize,
    mask: u64,
}

impl<'a> Stops<'a> {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;

    fn new(data: &'a [u8], delimiter: u8) -> Self {
        let mut stops = Stops {
            data,
            delimiter: Self::ONES * u64::from(delimiter),
            word_start: 0,
            mask: 0,
        };
        stops.mask = stops.word_mask(0);
        stops
    }

    /// The high bit of every byte of `word` that is zero, and of no other.
    #[inline]
    fn zero_bytes(word: u64) -> u64 {
        !(((word & Self::LOW).wrapping_add(Self::LOW)) | word | Self::LOW)
    }

    /// Stop bits of the 8 bytes at `start` (fewer at the end of the data).
    #[inline]
    fn word_mask(&self, start: usize) -> u64 {
        let (word, valid) = match self.data.get(start..start + 8) {
            Some(eight) => (
                u64::from_le_bytes(eight.try_into().expect("8 bytes")),
                u64::MAX,
            ),
            None => {
                let rest = self.data.get(start..).unwrap_or_default();
                let mut bytes = [0u8; 8];
                bytes[..rest.len()].copy_from_slice(rest);
                (u64::from_le_bytes(bytes), (1u64 << (8 * rest.len())) - 1)
            }
        };
        let stops = Self::zero_bytes(word ^ self.delimiter)
            | Self::zero_bytes(word ^ (Self::ONES * u64::from(b'\n')))
            | Self::zero_bytes(word ^ (Self::ONES * u64::from(b'\r')));
        stops & valid
    }
}

impl Iterator for Stops<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.word_start += 8;
            if self.word_start >= self.data.len() {
                return None;
            }
            self.mask = self.word_mask(self.word_start);
        }
        let at = self.word_start + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// The record being read by the unquoted fast path.
struct UnquotedRecord {
    width: usize,
    /// The line the record is on (an unquoted record has no line breaks).
    line: u64,
    /// Where the current field starts in the chunk.
    start: usize,
    /// Fields seen so far; those past `width` are counted, not kept.
    fields: usize,
}

impl UnquotedRecord {
    /// Keeps the field from the record's `start` to `end` in `data`. Inlined into the
    /// loop over stops: as a call, it cost what the inlined copy saves.
    #[inline(always)]
    fn field(
        &mut self,
        tokenizer: &Tokenizer,
        raw: &mut RawBatch,
        data: &[u8],
        end: usize,
    ) -> Result<(), SourceError> {
        if let Some(column) = raw.columns.get_mut(self.fields) {
            column
                .push_within(&data[self.start..], end - self.start)
                .map_err(|_| SourceError::column_too_large(&tokenizer.path, self.line))?;
        }
        self.fields += 1;
        Ok(())
    }

    #[inline]
    fn end(&mut self, tokenizer: &Tokenizer, raw: &mut RawBatch) -> Result<(), SourceError> {
        if self.fields != self.width {
            return Err(tokenizer.malformed(
                self.line,
                format!("expected {} fields, found {}", self.width, self.fields),
            ));
        }
        raw.lines.push(self.line);
        self.fields = 0;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows and their lines as one path read them.
    #[derive(Debug, PartialEq)]
    struct Read {
        rows: Vec<Vec<Vec<u8>>>,
        lines: Vec<u64>,
    }

    /// Rows, lines and the error of one path, comparable across paths.
    fn outcome(
        read: impl Fn(&Chunk, &mut RawBatch) -> Result<(), SourceError>,
        data: &[u8],
        width: usize,
    ) -> Result<Read, String> {
        let chunk = Chunk::new(data.to_vec(), 7);
        let mut raw = RawBatch::new(width, 4);
        read(&chunk, &mut raw).map_err(|e| e.to_string())?;
        let rows = (0..raw.rows())
            .map(|r| raw.columns.iter().map(|c| c.value(r).to_vec()).collect())
            .collect();
        Ok(Read {
            rows,
            lines: raw.lines,
        })
    }

    /// Every quote-free text up to 7 bytes over a small alphabet of the bytes that matter,
    /// and longer random ones (spanning many 8-byte words, and ending mid-word): the fast
    /// path reads what the CSV parser reads.
    #[test]
    fn the_unquoted_path_reads_what_the_parser_reads() {
        let tokenizer = Tokenizer::new(&CsvOptions::default_for_fixtures(), "t.csv");
        let alphabet = [b'a', b',', b'\n', b'\r', b' '];
        let mut texts: Vec<Vec<u8>> = vec![vec![]];
        for length in 1..=7 {
            let mut text = vec![0usize; length];
            loop {
                texts.push(text.iter().map(|&i| alphabet[i]).collect());
                let Some(i) = text.iter().rposition(|&d| d + 1 < alphabet.len()) else {
                    break;
                };
                text[i] += 1;
                text[i + 1..].fill(0);
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let text = (0..200)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    // The stop bytes with their high bit set too (as in UTF-8 text),
                    // which a word-at-a-time byte test could mistake for the stops.
                    [b'a', b',', b'\n', b'\r', b' ', 0xac, 0x8a, 0x8d][(seed % 8) as usize]
                })
                .collect();
            texts.push(text);
        }
        for text in &texts {
            for width in 1..=3 {
                let parsed = outcome(|c, r| tokenizer.raw_parsed(c, r), text, width);
                let fast = outcome(|c, r| tokenizer.raw_unquoted(c, r), text, width);
                assert_eq!(
                    fast,
                    parsed,
                    "{:?} read as {width} columns",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    /// A skipped column keeps no bytes, on both paths; the kept ones and the lines are as
    /// without the skip.
    #[test]
    fn skipped_fields_are_not_kept() {
        let mut tokenizer = Tokenizer::new(&CsvOptions::default_for_fixtures(), "t.csv");
        tokenizer.keep(vec![true, false, true]);
        for text in [
            "1,skip me,x\n2,and me,y\n",
            "1,\"skip, me\",x\n2,\"and\nme\",y\n",
        ] {
            let chunk = Chunk::new(text.as_bytes().to_vec(), 1);
            let raw = tokenizer.raw(&chunk, 3).unwrap();
            assert!(raw.columns[1].data.is_empty(), "{text:?}");
            assert_eq!(raw.columns[2].value(1), b"y", "{text:?}");
            assert_eq!(raw.columns[0].value(1), b"2", "{text:?}");
            assert_eq!(raw.lines, [1, 2], "{text:?}");
        }
    }
}
