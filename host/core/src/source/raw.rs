//! Rows as unparsed field bytes, column by column: the stage between CSV records and
//! typed Arrow arrays. Keeping fields columnar lets each column be parsed in one tight loop.

/// The bytes of one column's fields for a batch of rows.
#[derive(Default)]
pub(crate) struct RawColumn {
    pub data: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is row `i`'s field in `data`.
    pub offsets: Vec<i32>,
    /// A skipped column keeps nothing (see `CsvOptions::skip`).
    skipped: bool,
}

impl RawColumn {
    /// Room for `rows` fields of about `width` bytes.
    fn with_capacity(rows: usize, width: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        RawColumn {
            data: Vec::with_capacity(rows * width),
            offsets,
            skipped: false,
        }
    }

    fn skipped() -> Self {
        RawColumn {
            data: Vec::new(),
            offsets: vec![0],
            skipped: true,
        }
    }

    #[inline]
    pub fn push(&mut self, field: &[u8]) -> Result<(), ()> {
        if self.skipped {
            return Ok(());
        }
        self.data.extend_from_slice(field);
        self.end_field()
    }

    /// Pushes the first `len` bytes of `rest`. Most fields are short: when `rest` holds a
    /// whole block past the field and the buffer has room for one, the block is copied (a
    /// fixed-size copy the compiler inlines, not a call to `memcpy` per field) and the
    /// excess dropped. Without room, the plain push: the block must never be what grows
    /// the buffer (that would double it for bytes it drops).
    #[inline(always)]
    pub fn push_within(&mut self, rest: &[u8], len: usize) -> Result<(), ()> {
        const BLOCK: usize = 16;
        let room = self.data.capacity() - self.data.len() >= BLOCK;
        match rest.first_chunk::<BLOCK>() {
            Some(block) if len <= BLOCK && room && !self.skipped => {
                let end = self.data.len() + len;
                self.data.extend_from_slice(block);
                self.data.truncate(end);
                self.end_field()
            }
            _ => self.push(&rest[..len]),
        }
    }

    /// The field pushed last ends where the data does: its end offset (an `i32`, as
    /// Arrow's string offsets are; past that the column is too large).
    #[inline(always)]
    fn end_field(&mut self) -> Result<(), ()> {
        let end = i32::try_from(self.data.len()).map_err(|_| ())?;
        self.offsets.push(end);
        Ok(())
    }

    #[inline]
    pub fn value(&self, row: usize) -> &[u8] {
        &self.data[self.offsets[row] as usize..self.offsets[row + 1] as usize]
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }
}

/// A batch of rows as raw fields, with the line each row starts on.
pub(crate) struct RawBatch {
    pub columns: Vec<RawColumn>,
    pub lines: Vec<u64>,
}

impl RawBatch {
    pub fn new(columns: usize, rows: usize) -> Self {
        Self::sized(&vec![true; columns], rows, &[])
    }

    /// A batch that keeps the fields of the columns marked true, with room for fields of
    /// `widths[i]` bytes in column `i` (8 where not given): sized from the chunk before, a
    /// column's bytes are not copied again as they grow.
    pub fn sized(kept: &[bool], rows: usize, widths: &[usize]) -> Self {
        let width = |i: usize| widths.get(i).copied().unwrap_or(8);
        RawBatch {
            columns: kept
                .iter()
                .enumerate()
                .map(|(i, &kept)| match kept {
                    true => RawColumn::with_capacity(rows, width(i)),
                    false => RawColumn::skipped(),
                })
                .collect(),
            lines: Vec::with_capacity(rows),
        }
    }

    /// Each column's bytes per row, an eighth over: what the next chunk's batch reserves.
    pub fn widths(&self) -> Vec<usize> {
        let rows = self.rows().max(1);
        let width = |c: &RawColumn| (c.data.len() + c.data.len() / 8).div_ceil(rows).max(1);
        self.columns.iter().map(width).collect()
    }

    pub fn rows(&self) -> usize {
        self.lines.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields pushed from inside a longer text, with and without a block past them and
    /// room for it, and into a skipped column: the same bytes and offsets as `push`, and
    /// the buffer never grown by the block's excess.
    #[test]
    fn pushing_within_keeps_what_push_keeps() {
        let text: Vec<u8> = (0..64u8).map(|i| b'a' + i % 26).collect();
        let cases = [
            (0, 0),
            (0, 5),
            (3, 16),
            (10, 17),
            (40, 9),
            (48, 16),
            (55, 9),
            (63, 1),
        ];
        for capacity in [0, 8, 20, 1 << 10] {
            let mut within = RawColumn::with_capacity(1, capacity);
            let mut plain = RawColumn::with_capacity(1, capacity);
            for &(start, len) in &cases {
                let capacity_before = within.data.capacity();
                within.push_within(&text[start..], len).unwrap();
                plain.push(&text[start..start + len]).unwrap();
                assert!(
                    within.data.capacity() == capacity_before
                        || within.data.len() > capacity_before,
                    "grew past need at ({start}, {len}) with capacity {capacity}"
                );
            }
            assert_eq!(within.data, plain.data);
            assert_eq!(within.offsets, plain.offsets);
        }
        let mut skipped = RawColumn::skipped();
        skipped.push_within(&text, 5).unwrap();
        assert!(skipped.data.is_empty() && skipped.len() == 0);
    }
}
