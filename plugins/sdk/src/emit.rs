use arrow::record_batch::RecordBatch;

/// Collects what one `push` or `finish` call produces.
#[derive(Default)]
pub struct Emit {
    pub(crate) batches: Vec<(String, RecordBatch)>,
    pub(crate) rejects: Vec<(u64, Option<String>, String)>,
}

impl Emit {
    /// Emits a batch for the named output. Empty batches are dropped.
    pub fn emit(&mut self, output: &str, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.batches.push((output.to_string(), batch));
        }
    }

    /// Rejects row `row` of the pushed batch: the host writes it, with its source file and
    /// line, to the table's `rejects` output. The row must not also be emitted.
    pub fn reject(&mut self, row: usize, column: Option<&str>, reason: impl Into<String>) {
        self.rejects.push((row as u64, column.map(str::to_string), reason.into()));
    }

    /// How many rows were rejected so far in this call.
    pub fn rejected(&self) -> usize {
        self.rejects.len()
    }
}
