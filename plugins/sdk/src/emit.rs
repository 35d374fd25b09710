use arrow::record_batch::RecordBatch;

/// Collects what one `push` or `finish` call produces.
#[derive(Default)]
pub struct Emit {
    pub(crate) batches: Vec<(String, RecordBatch)>,
    pub(crate) rejects: Vec<(u64, Option<String>, String)>,
    pub(crate) counters: Vec<(String, u64)>,
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
        self.rejects
            .push((row as u64, column.map(str::to_string), reason.into()));
    }

    /// Adds `n` to a named counter; the host sums it over the run and puts it in the run
    /// report (e.g. `shipment_date.invalid_to_null`).
    pub fn count(&mut self, name: &str, n: u64) {
        if n == 0 {
            return;
        }
        match self.counters.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v += n,
            None => self.counters.push((name.to_string(), n)),
        }
    }

    /// The batches emitted so far for `output`: for a plugin's own unit tests.
    pub fn batches<'a>(&'a self, output: &'a str) -> impl Iterator<Item = &'a RecordBatch> + 'a {
        self.batches
            .iter()
            .filter(move |(o, _)| o == output)
            .map(|(_, b)| b)
    }

    /// How many rows were rejected so far in this call.
    pub fn rejected(&self) -> usize {
        self.rejects.len()
    }
}
