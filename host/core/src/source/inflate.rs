//! gzip inflated on a thread of its own, ahead of the parser: decompression and CSV
//! parsing are the two big costs of reading a `.csv.gz`, and one thread doing both keeps
//! one core busy where two can be.

use std::io::{BufRead, Read};

use crossbeam_channel::{bounded, Receiver, Sender};
use flate2::bufread::MultiGzDecoder;

/// Inflated bytes per chunk handed over, and chunks in flight (bounded memory: 2 MiB).
/// The queue must hold about one cut of the chunker (32k rows, ~2 MB of text), which it
/// takes at once: with 0.5 MiB queued this thread idled between cuts and a gzip resample
/// took 17 % longer (wall) for ~10 MiB less peak memory.
const CHUNK: usize = 1 << 20;
const IN_FLIGHT: usize = 2;

/// The inflated bytes of a gzip stream (several members included), read ahead on a
/// thread. Dropping it stops the thread at its next chunk.
pub(crate) struct Inflating {
    chunks: Receiver<std::io::Result<Vec<u8>>>,
    /// Chunks read, back to the thread to be filled again: a new one would be zeroed
    /// (and its pages faulted in) before the inflater could write to it.
    spent: Sender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
}

impl Inflating {
    /// Inflates `compressed`, which is read through its own buffer (no second one here).
    pub fn new(compressed: impl BufRead + Send + 'static) -> std::io::Result<Self> {
        let (tx, rx) = bounded(IN_FLIGHT);
        // One spare is enough: the thread takes it back as soon as it sends the next.
        let (spent, reuse) = bounded::<Vec<u8>>(1);
        std::thread::Builder::new()
            .name("sluice-inflate".into())
            .spawn(move || {
                let mut gz = MultiGzDecoder::new(compressed);
                loop {
                    let mut chunk = reuse.try_recv().unwrap_or_default();
                    chunk.resize(CHUNK, 0); // zeroes only what was never written
                    let filled = fill(&mut gz, &mut chunk);
                    let last = !matches!(&filled, Ok(n) if *n == CHUNK);
                    let sent = filled.map(|n| {
                        chunk.truncate(n);
                        chunk
                    });
                    if tx.send(sent).is_err() || last {
                        return;
                    }
                }
            })?;
        Ok(Inflating {
            chunks: rx,
            spent,
            current: Vec::new(),
            at: 0,
            done: false,
        })
    }
}

/// Reads until `buf` is full or the stream ends; the bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl Read for Inflating {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Inflating {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.at == self.current.len() && !self.done {
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.done = chunk.len() < CHUNK;
                    let spent = std::mem::replace(&mut self.current, chunk);
                    self.at = 0;
                    if spent.capacity() >= CHUNK {
                        let _ = self.spent.try_send(spent); // full or gone: dropped
                    }
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(&self.current[self.at..])
    }

    fn consume(&mut self, amount: usize) {
        self.at = (self.at + amount).min(self.current.len());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn inflates_every_member_across_chunks() {
        let first: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let mut two = gzip(&first);
        two.extend(gzip(b"second member"));
        let mut out = Vec::new();
        Inflating::new(std::io::Cursor::new(two))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), first.len() + 13);
        assert_eq!(&out[..first.len()], &first[..]);
        assert_eq!(&out[first.len()..], b"second member");
    }

    #[test]
    fn a_corrupt_stream_is_an_error_not_an_end() {
        let mut bytes = gzip(&vec![b'x'; 100_000]);
        let cut = bytes.len() / 2;
        bytes.truncate(cut);
        let mut out = Vec::new();
        let result = Inflating::new(std::io::Cursor::new(bytes))
            .unwrap()
            .read_to_end(&mut out);
        assert!(
            result.is_err(),
            "read {} bytes of a cut stream without error",
            out.len()
        );
    }
}
