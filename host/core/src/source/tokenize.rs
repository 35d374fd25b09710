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
/// bytes come every few bytes, where `memchr3` pays its setup at every hit; here each
/// 64-byte block yields the exact positions of all three at once as a bit mask (on x86-64
/// by SSE2 compares, four per block; elsewhere word by word), so a hit costs a few
/// instructions. (The word-at-a-time test alone took twice as many instructions a byte:
/// it was ~half of the tokenizer's time.)
struct Stops<'a> {
    data: &'a [u8],
    delimiter: u8,
    /// The start of the block `mask` came from, and its stop bits not yet yielded.
    block_start: usize,
    mask: u64,
}

/// Bytes scanned at a time: one bit of a `u64` each.
const BLOCK: usize = 64;

impl<'a> Stops<'a> {
    fn new(data: &'a [u8], delimiter: u8) -> Self {
        let mut stops = Stops {
            data,
            delimiter,
            block_start: 0,
            mask: 0,
        };
        stops.mask = stops.block_mask(0);
        stops
    }

    /// Stop bits of the block at `start` (fewer bytes at the end of the data).
    #[inline]
    fn block_mask(&self, start: usize) -> u64 {
        let rest = self.data.get(start..).unwrap_or_default();
        match rest.first_chunk::<BLOCK>() {
            Some(block) => stop_bits(block, self.delimiter),
            None => {
                let mut block = [0u8; BLOCK];
                block[..rest.len()].copy_from_slice(rest);
                stop_bits(&block, self.delimiter) & ((1u64 << rest.len()) - 1)
            }
        }
    }
}

impl Iterator for Stops<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.block_start += BLOCK;
            if self.block_start >= self.data.len() {
                return None;
            }
            self.mask = self.block_mask(self.block_start);
        }
        let at = self.block_start + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// Bit `i` set where `block[i]` is the delimiter, `\n` or `\r`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn stop_bits(block: &[u8; BLOCK], delimiter: u8) -> u64 {
    // SAFETY: SSE2 is part of x86-64: every x86-64 CPU has it.
    unsafe { stop_bits_sse2(block, delimiter) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn stop_bits_sse2(block: &[u8; BLOCK], delimiter: u8) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let splat = |byte: u8| _mm_set1_epi8(i8::from_ne_bytes([byte]));
    let (delimiter, newline, ret) = (splat(delimiter), splat(b'\n'), splat(b'\r'));
    let mut bits = 0u64;
    for (i, sixteen) in block.chunks_exact(16).enumerate() {
        // SAFETY: `sixteen` is 16 bytes in bounds; this load has no alignment requirement.
        let bytes = unsafe { _mm_loadu_si128(sixteen.as_ptr().cast::<__m128i>()) };
        let hits = _mm_or_si128(
            _mm_or_si128(
                _mm_cmpeq_epi8(bytes, delimiter),
                _mm_cmpeq_epi8(bytes, newline),
            ),
            _mm_cmpeq_epi8(bytes, ret),
        );
        // The movemask's 16 bits are in its low half.
        bits |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * i);
    }
    bits
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn stop_bits(block: &[u8; BLOCK], delimiter: u8) -> u64 {
    stop_bits_by_word(block, delimiter)
}

/// [`stop_bits`] eight bytes at a time in a `u64` (the SWAR zero-byte test, which has no
/// false positives in this form), each word's high bits then gathered into a byte.
#[cfg(any(not(target_arch = "x86_64"), test))]
fn stop_bits_by_word(block: &[u8; BLOCK], delimiter: u8) -> u64 {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let zero_bytes = |word: u64| !(((word & LOW).wrapping_add(LOW)) | word | LOW);
    let mut bits = 0u64;
    for (i, eight) in block.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(eight.try_into().expect("8 bytes"));
        let high = zero_bytes(word ^ (ONES * u64::from(delimiter)))
            | zero_bytes(word ^ (ONES * u64::from(b'\n')))
            | zero_bytes(word ^ (ONES * u64::from(b'\r')));
        // Byte k's high bit (bit 8k + 7) lands on bit 56 + k, with no carries.
        bits |= (high.wrapping_mul(0x0002_0408_1020_4081) >> 56) << (8 * i);
    }
    bits
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
    /// and longer random ones (spanning several 64-byte blocks, and ending anywhere in
    /// one): the fast path reads what the CSV parser reads.
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
        for n in 0..2000 {
            let text = (0..130 + n % 140)
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

    /// The SSE2 stop test and the word-at-a-time one (the other platforms') agree, on
    /// every byte value as the delimiter, the stops and their high-bit twins.
    #[test]
    fn both_stop_tests_find_the_same_bytes() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for delimiter in 0..=255u8 {
            for _ in 0..16 {
                let block: [u8; BLOCK] = std::array::from_fn(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let pick = [delimiter, b'\n', b'\r', delimiter ^ 0x80, 0x8a, 0x8d, b'a'];
                    match seed % 9 {
                        k @ 0..=6 => pick[k as usize],
                        _ => (seed >> 8) as u8,
                    }
                });
                let expected = (0..BLOCK)
                    .filter(|&i| [delimiter, b'\n', b'\r'].contains(&block[i]))
                    .fold(0u64, |bits, i| bits | 1 << i);
                assert_eq!(stop_bits(&block, delimiter), expected, "{block:?}");
                assert_eq!(stop_bits_by_word(&block, delimiter), expected, "{block:?}");
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
