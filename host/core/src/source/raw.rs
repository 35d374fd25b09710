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
