//! A CSV byte stream cut into chunks of whole records, so that chunks can be tokenized
//! and typed on several threads while every row keeps its exact source line.
//!
//! The cut must agree with the CSV parser on where records end, even where a quoted field
//! holds line breaks. So the scan follows the parser's own rules (those of `csv-core`): a
//! quote opens a quoted field only at the start of a field; inside one, a doubled quote,
//! or the escape character and the byte after it, is literal; a line break outside quotes
//! ends the record. Only quotes and line breaks are looked at, found with `memchr`, so one
//! thread scans far faster than the parsers it feeds.
//!
//! The chunker also keeps the reader's two guards against hostile files: a record larger
//! than the limit fails (so one endless line cannot make it hold gigabytes), and a file
//! that ends inside a quoted field, or with an odd count of quotes, fails instead of
//! swallowing every later line into one field.

use std::io::BufRead;

use crossbeam_channel::{bounded, Receiver, Sender};
use memchr::{memchr, memchr2, memchr3, memchr_iter};

/// Parsed chunks' buffers held for the chunker to fill again. A new buffer is a new
/// mapping whose every page faults on its first write: 56 % of a 10M-row copy's page
/// faults were the chunker's copies into fresh buffers. Two cover the chunk being cut and
/// one coming back; more would only hold memory.
const SPARE_BUFFERS: usize = 2;

/// How the file quotes, as the CSV parser is configured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
    pub quoting: bool,
    pub escape: Option<u8>,
}

/// A run of whole records, and the line its first byte is on (1-based).
pub(crate) struct Chunk {
    pub data: Vec<u8>,
    pub first_line: u64,
    /// The `\n` bytes in `data`: counted once, for the next chunk's first line and the
    /// tokenizer's guess at the row count.
    pub line_breaks: usize,
    /// Where `data` goes once the chunk is dropped (parsed): back to its chunker.
    spare: Option<Sender<Vec<u8>>>,
}

impl Chunk {
    pub fn new(data: Vec<u8>, first_line: u64) -> Self {
        let line_breaks = memchr_iter(b'\n', &data).count();
        Chunk {
            data,
            first_line,
            line_breaks,
            spare: None,
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if let Some(spare) = self.spare.take() {
            let _ = spare.try_send(std::mem::take(&mut self.data)); // full or gone: freed
        }
    }
}

#[derive(Debug)]
pub(crate) enum ChunkError {
    Io(std::io::Error),
    /// The record starting on `line` grew past the limit.
    TooLarge {
        line: u64,
    },
    /// The file ended inside a quoted field (the record starting on `line`), or with an
    /// odd count of quote characters (`line`: the last record).
    Unterminated {
        line: u64,
    },
}

/// Where the scan stands inside a record.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Outside,
    Quoted,
    /// Just after a quote inside a quoted field: a second quote makes it literal.
    QuoteSeen,
    /// Just after the escape character inside a quoted field.
    Escaped,
}

/// What one step of the scan found.
enum Step {
    /// Scan on.
    On,
    /// The chunk ends at this offset.
    Cut(usize),
    /// The bytes read so far are scanned.
    More,
}

/// What the next chunk may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkSize {
    /// Records (blank lines do not count, as the parser skips them).
    pub records: usize,
    /// Bytes after which the next record end cuts the chunk, whatever its record count.
    pub bytes: usize,
}

pub(crate) struct Chunker {
    inner: Box<dyn BufRead + Send>,
    dialect: Dialect,
    max_record: usize,
    /// Whether an odd quote count at the end is an error (quotes escaped by doubling).
    check_parity: bool,
    /// The bytes from the start of the chunk being built.
    buf: Vec<u8>,
    /// `buf[..scanned]` has been scanned, ending in `state`.
    scanned: usize,
    state: State,
    /// Where the record being scanned starts in `buf`.
    record_start: usize,
    /// Records ended in `buf`, and where the last one started.
    records: usize,
    last_record: usize,
    /// The line of `buf[0]`, and the line of the last record of the chunks already cut.
    first_line: u64,
    last_line: u64,
    quotes: u64,
    eof: bool,
    /// Buffers of parsed chunks, to cut the next ones into.
    spare: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
}

impl Chunker {
    pub fn new(inner: Box<dyn BufRead + Send>, dialect: Dialect, max_record: usize) -> Self {
        Chunker {
            inner,
            check_parity: dialect.quoting && dialect.escape.is_none(),
            dialect,
            max_record,
            buf: Vec::new(),
            scanned: 0,
            state: State::Outside,
            record_start: 0,
            records: 0,
            last_record: 0,
            first_line: 1,
            last_line: 1,
            quotes: 0,
            eof: false,
            spare: bounded(SPARE_BUFFERS),
        }
    }

    /// The next chunk of whole records; `None` at the end of the stream.
    pub fn next(&mut self, size: ChunkSize) -> Result<Option<Chunk>, ChunkError> {
        loop {
            if let Some(end) = self.scan(size) {
                return Ok(Some(self.cut(end)));
            }
            if !self.fill()? {
                return self.finish();
            }
        }
    }

    /// Reads more bytes into `buf`; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, ChunkError> {
        if self.buf.len() - self.record_start > self.max_record {
            return Err(ChunkError::TooLarge {
                line: self.line_at(self.record_start),
            });
        }
        if self.eof {
            return Ok(false);
        }
        let data = self.inner.fill_buf().map_err(ChunkError::Io)?;
        if data.is_empty() {
            self.eof = true;
            return Ok(false);
        }
        let n = data.len();
        if self.buf.capacity() - self.buf.len() < n {
            // Grow by doubling from a useful start, not from the size of one read.
            self.buf.reserve(n.max(self.buf.capacity()).max(1 << 20));
        }
        self.buf.extend_from_slice(data);
        self.inner.consume(n);
        Ok(true)
    }

    /// At the end of the stream: the last chunk (a last record without a line break).
    fn finish(&mut self) -> Result<Option<Chunk>, ChunkError> {
        if matches!(self.state, State::Quoted | State::Escaped) {
            return Err(ChunkError::Unterminated {
                line: self.line_at(self.record_start),
            });
        }
        if self.check_parity && self.quotes % 2 == 1 {
            let line = if self.record_start < self.buf.len() {
                self.line_at(self.record_start)
            } else if self.records > 0 {
                self.line_at(self.last_record)
            } else {
                self.last_line
            };
            return Err(ChunkError::Unterminated { line });
        }
        match self.buf.is_empty() {
            true => Ok(None),
            false => Ok(Some(self.cut(self.buf.len()))),
        }
    }

    /// Cuts `buf[..end]` off as a chunk; the rest starts the next one.
    fn cut(&mut self, end: usize) -> Chunk {
        if self.records > 0 {
            self.last_line = self.line_at(self.last_record);
        }
        let mut rest = self.spare.1.try_recv().unwrap_or_default();
        rest.clear();
        rest.reserve(self.buf.capacity());
        rest.extend_from_slice(&self.buf[end..]);
        self.buf.truncate(end);
        let data = std::mem::replace(&mut self.buf, rest);
        let mut chunk = Chunk::new(data, self.first_line);
        chunk.spare = Some(self.spare.0.clone());
        self.first_line += chunk.line_breaks as u64;
        self.scanned -= end.min(self.scanned);
        self.record_start -= end.min(self.record_start);
        self.records = 0;
        self.last_record = 0;
        chunk
    }

    fn line_at(&self, at: usize) -> u64 {
        self.first_line + memchr_iter(b'\n', &self.buf[..at]).count() as u64
    }

    /// Scans on through `buf`; `Some(end)` when a record ends at `end` and the chunk is
    /// full, `None` when more bytes are needed.
    fn scan(&mut self, size: ChunkSize) -> Option<usize> {
        while self.scanned < self.buf.len() {
            let at = self.scanned;
            let step = match self.state {
                State::Outside => self.outside(size),
                State::Quoted => self.quoted(),
                State::QuoteSeen => {
                    if self.dialect.escape.is_none() && self.buf[at] == self.dialect.quote {
                        self.quotes += 1;
                        self.scanned = at + 1;
                        self.state = State::Quoted;
                    } else {
                        self.state = State::Outside;
                    }
                    Step::On
                }
                State::Escaped => {
                    self.quotes += u64::from(self.buf[at] == self.dialect.quote);
                    self.scanned = at + 1;
                    self.state = State::Quoted;
                    Step::On
                }
            };
            match step {
                Step::On => {}
                Step::Cut(end) => return Some(end),
                Step::More => return None,
            }
        }
        None
    }

    /// Outside quotes: on to the next quote or line break.
    fn outside(&mut self, size: ChunkSize) -> Step {
        let (d, at) = (self.dialect, self.scanned);
        let hay = &self.buf[at..];
        let hit = match d.quoting {
            true => memchr3(d.quote, b'\n', b'\r', hay),
            false => memchr2(b'\n', b'\r', hay),
        };
        let Some(i) = hit.map(|k| at + k) else {
            self.scanned = self.buf.len();
            return Step::More;
        };
        self.scanned = i + 1;
        match self.buf[i] {
            b'\n' => self.record_end(i, size),
            b'\r' => match self.buf.get(i + 1) {
                // Whether it is "\r\n" is known with the next byte.
                None if !self.eof => {
                    self.scanned = i;
                    Step::More
                }
                Some(b'\n') => Step::On,
                _ => self.record_end(i, size),
            },
            _ => {
                self.quotes += 1;
                let field_start = i == self.record_start
                    || matches!(self.buf[i - 1], b'\n' | b'\r')
                    || self.buf[i - 1] == d.delimiter;
                if field_start {
                    self.state = State::Quoted;
                }
                Step::On
            }
        }
    }

    /// Inside a quoted field: on to the next quote (or escape character).
    fn quoted(&mut self) -> Step {
        let (d, at) = (self.dialect, self.scanned);
        let hay = &self.buf[at..];
        let hit = match d.escape {
            Some(e) => memchr2(d.quote, e, hay),
            None => memchr(d.quote, hay),
        };
        let Some(i) = hit.map(|k| at + k) else {
            self.scanned = self.buf.len();
            return Step::More;
        };
        self.scanned = i + 1;
        if self.buf[i] == d.quote {
            self.quotes += 1;
            self.state = State::QuoteSeen;
        } else {
            self.state = State::Escaped;
        }
        Step::On
    }

    /// A line break at `at` ends the record; the chunk ends with it when full.
    fn record_end(&mut self, at: usize, size: ChunkSize) -> Step {
        let content = &self.buf[self.record_start..at];
        let blank = content.is_empty() || content == b"\r";
        if !blank {
            self.records += 1;
            self.last_record = self.record_start;
        }
        self.record_start = at + 1;
        match self.records >= size.records || at + 1 >= size.bytes {
            true => Step::Cut(at + 1),
            false => Step::On,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: Dialect = Dialect {
        delimiter: b',',
        quote: b'"',
        quoting: true,
        escape: None,
    };

    /// Cuts `text`, read `read_size` bytes at a time, into chunks of `records`.
    fn chunks(
        text: &[u8],
        dialect: Dialect,
        records: usize,
        read_size: usize,
    ) -> Vec<(String, u64)> {
        let reader =
            std::io::BufReader::with_capacity(read_size, std::io::Cursor::new(text.to_vec()));
        let mut chunker = Chunker::new(Box::new(reader), dialect, 1 << 20);
        let size = ChunkSize {
            records,
            bytes: usize::MAX,
        };
        let mut out = Vec::new();
        while let Some(chunk) = chunker.next(size).unwrap() {
            out.push((
                String::from_utf8(chunk.data.clone()).unwrap(),
                chunk.first_line,
            ));
        }
        out
    }

    #[test]
    fn quoted_line_breaks_stay_inside_their_record() {
        let text = b"a,b\n1,\"x\ny\"\n2,\"\"\"q\"\"\n\"\n3,z\n";
        for read_size in [1, 2, 3, 7, 64] {
            let got = chunks(text, CSV, 1, read_size);
            assert_eq!(
                got,
                [
                    ("a,b\n".to_string(), 1),
                    ("1,\"x\ny\"\n".to_string(), 2),
                    ("2,\"\"\"q\"\"\n\"\n".to_string(), 4),
                    ("3,z\n".to_string(), 6),
                ],
                "read {read_size} bytes at a time"
            );
        }
    }

    #[test]
    fn a_quote_inside_a_field_is_literal_as_the_parser_reads_it() {
        // `5" pipe` opens nothing; the line break after it ends the record.
        let text = b"5\" pipe,\"a\nb\"\n6\" nail,c\n";
        let got = chunks(text, CSV, 1, 4);
        assert_eq!(got[0].0, "5\" pipe,\"a\nb\"\n");
        assert_eq!(got[1], ("6\" nail,c\n".to_string(), 3));
    }

    #[test]
    fn blank_lines_and_crlf_and_lone_cr() {
        let text = b"a\r\n\r\n1\r\n\n2\r3\r\n";
        let got = chunks(text, CSV, 1, 1);
        let lines: Vec<u64> = got.iter().map(|c| c.1).collect();
        assert_eq!(got[0].0, "a\r\n");
        assert_eq!(got[1].0, "\r\n1\r\n");
        assert_eq!(got[2].0, "\n2\r");
        assert_eq!(got[3].0, "3\r\n");
        assert_eq!(lines, [1, 2, 4, 5]);
    }

    #[test]
    fn escapes_and_unquoted_files() {
        let escaped = Dialect {
            escape: Some(b'\\'),
            ..CSV
        };
        let got = chunks(b"\"a\\\"\nb\",1\n2,3\n", escaped, 1, 2);
        assert_eq!(got[0].0, "\"a\\\"\nb\",1\n");
        let literal = Dialect {
            quoting: false,
            ..CSV
        };
        let got = chunks(b"\"a\n\"b\n", literal, 1, 2);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn an_open_quote_at_the_end_names_its_record() {
        let reader = std::io::Cursor::new(b"a,b\n1,2\n3,\"open\n4,5\n".to_vec());
        let mut chunker = Chunker::new(Box::new(reader), CSV, 1 << 20);
        let size = ChunkSize {
            records: 100,
            bytes: usize::MAX,
        };
        match chunker.next(size) {
            Err(ChunkError::Unterminated { line }) => assert_eq!(line, 3),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("read an unterminated quote"),
        }
    }
}
