//! Float and double statistics that every reader uses.
//!
//! parquet-rs 60 declares the column order of float and double columns as
//! `IEEE_754_TOTAL_ORDER`, which Arrow C++ readers (pyarrow, and engines built on it) do
//! not know yet, so they ignore those columns' min/max: no row group is ever skipped on a
//! float predicate. The statistics themselves are the same under `TYPE_DEFINED_ORDER`
//! (the writer leaves NaN out of min/max unless every value is NaN), so this writer
//! rewrites that declaration in the footer as the bytes stream out.
//!
//! In the footer's Thrift compact encoding, `column_orders` is the last field of
//! `FileMetaData` (without encryption) and each entry is three bytes: `1C 00 00` for
//! `TYPE_ORDER`, `2C 00 00` for `IEEE_754_TOTAL_ORDER`. Swapping them changes no length or
//! offset. The tail is checked field by field; anything unexpected is left as it was.

use std::io::Write;

/// Bytes held back so the footer's end can be patched: room for `column_orders` of
/// about 87,000 columns; a wider file keeps its footer as written.
const TAIL: usize = 256 << 10;

/// Passes bytes through to `inner`, holding back the last [`TAIL`] until [`finish`].
///
/// [`finish`]: FloatOrder::finish
pub struct FloatOrder<W: Write> {
    inner: W,
    tail: Vec<u8>,
}

impl<W: Write> FloatOrder<W> {
    pub fn new(inner: W) -> Self {
        FloatOrder {
            inner,
            tail: Vec::with_capacity(TAIL),
        }
    }

    /// The file's footer, decoded from the held-back bytes once the writer has written it
    /// (`None` if it is larger than what is held back). Iceberg manifests take their
    /// column statistics from it.
    pub fn footer(&self) -> Option<parquet::file::metadata::ParquetMetaData> {
        let tail = &self.tail;
        let end = tail.len().checked_sub(8)?;
        if &tail[end + 4..] != b"PAR1" {
            return None;
        }
        let length = u32::from_le_bytes(tail[end..end + 4].try_into().ok()?) as usize;
        let start = end.checked_sub(length)?;
        parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&tail[start..end]).ok()
    }

    /// Patches the footer (now the end of the held-back bytes), writes them, and returns
    /// the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        patch_column_orders(&mut self.tail);
        self.inner.write_all(&self.tail)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for FloatOrder<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A large write (a data page) goes straight through, but for its last TAIL bytes:
        // only what may be the footer is held back and copied.
        if buf.len() >= TAIL {
            let (through, held) = buf.split_at(buf.len() - TAIL);
            self.inner.write_all(&self.tail)?;
            self.inner.write_all(through)?;
            self.tail.clear();
            self.tail.extend_from_slice(held);
            return Ok(buf.len());
        }
        self.tail.extend_from_slice(buf);
        if self.tail.len() > 2 * TAIL {
            let keep_from = self.tail.len() - TAIL;
            self.inner.write_all(&self.tail[..keep_from])?;
            self.tail.drain(..keep_from);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Held-back bytes stay held back: they may be the footer.
        self.inner.flush()
    }
}

/// Rewrites `IEEE_754_TOTAL_ORDER` entries as `TYPE_ORDER` in the `column_orders` at the
/// end of a Parquet file's footer; returns how many it rewrote (0 when the tail is not
/// laid out as expected).
pub fn patch_column_orders(file_tail: &mut [u8]) -> usize {
    let Some(range) = column_orders_entries(file_tail) else {
        return 0;
    };
    let mut patched = 0;
    for entry in file_tail[range].chunks_exact_mut(3) {
        if entry == [0x2C, 0x00, 0x00] {
            entry[0] = 0x1C;
            patched += 1;
        }
    }
    patched
}

/// Where the entries of `column_orders` are: the file ends with
/// `0x19 <list header> <entries> 0x00 <footer length: 4 bytes> PAR1`.
fn column_orders_entries(tail: &[u8]) -> Option<std::ops::Range<usize>> {
    let n = tail.len();
    if n < 12 || &tail[n - 4..] != b"PAR1" || tail[n - 9] != 0x00 {
        return None;
    }
    let end = n - 9; // the struct's stop byte
    let mut start = end;
    while start >= 3 && is_order(&tail[start - 3..start]) {
        start -= 3;
    }
    let count = (end - start) / 3;
    (count > 0 && list_header_ends_at(tail, start, count)).then_some(start..end)
}

fn is_order(entry: &[u8]) -> bool {
    matches!(entry, [0x1C | 0x2C | 0x3C, 0x00, 0x00])
}

/// Whether `tail[..at]` ends with field 7's header (`0x19`) and a list header of `count`
/// structs: `(count << 4) | 0xC` below 15, else `0xFC` and `count` as a varint.
fn list_header_ends_at(tail: &[u8], at: usize, count: usize) -> bool {
    let header: Vec<u8> = if count < 15 {
        vec![0x19, ((count as u8) << 4) | 0x0C]
    } else {
        let mut bytes = vec![0x19, 0xFC];
        let mut v = count;
        while v >= 0x80 {
            bytes.push((v as u8 & 0x7F) | 0x80);
            v >>= 7;
        }
        bytes.push(v as u8);
        bytes
    };
    at >= header.len() && tail[at - header.len()..at] == header[..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(header: &[u8], entries: &[[u8; 3]]) -> Vec<u8> {
        let mut t = vec![0xAA, 0xBB];
        t.extend_from_slice(header);
        for e in entries {
            t.extend_from_slice(e);
        }
        t.extend_from_slice(&[0x00, 1, 2, 3, 4]);
        t.extend_from_slice(b"PAR1");
        t
    }

    #[test]
    fn ieee_entries_become_type_order_and_nothing_else_moves() {
        let ieee = [0x2C, 0, 0];
        let typed = [0x1C, 0, 0];
        let mut t = tail(&[0x19, 0x3C], &[typed, ieee, ieee]);
        let before = t.len();
        assert_eq!(patch_column_orders(&mut t), 2);
        assert_eq!(t, tail(&[0x19, 0x3C], &[typed, typed, typed]));
        assert_eq!(t.len(), before);
        // 20 entries: the long list header.
        let mut long = tail(&[0x19, 0xFC, 20], &[ieee; 20]);
        assert_eq!(patch_column_orders(&mut long), 20);
    }

    #[test]
    fn every_byte_comes_out_in_order_whatever_the_write_sizes() {
        let file: Vec<u8> = (0..3 * TAIL + 99).map(|i| (i % 253) as u8).collect();
        for sizes in [[1, TAIL, 7], [TAIL + 5, 3, 2 * TAIL], [100, 100, 3 * TAIL]] {
            let mut writer = FloatOrder::new(Vec::new());
            let mut at = 0;
            for size in sizes.iter().cycle() {
                let end = (at + size).min(file.len());
                writer.write_all(&file[at..end]).unwrap();
                at = end;
                if at == file.len() {
                    break;
                }
            }
            assert!(writer.finish().unwrap() == file, "{sizes:?}");
        }
    }

    #[test]
    fn an_unexpected_layout_is_left_alone() {
        let ieee = [0x2C, 0, 0];
        for mut t in [
            tail(&[0x19, 0x2C], &[ieee, ieee, ieee]), // the header says 2 entries
            tail(&[0x29, 0x3C], &[ieee, ieee, ieee]), // not field 7 after field 6
            b"not parquet".to_vec(),
        ] {
            let copy = t.clone();
            assert_eq!(patch_column_orders(&mut t), 0);
            assert_eq!(t, copy);
        }
    }
}
