//! The `rejects` output: rows a plugin refused, with where they came from and why. The
//! row itself is kept as a JSON object so inputs of any schema fit one file.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringBuilder, UInt32Array, UInt64Builder};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::json::LineDelimitedWriter;
use arrow::record_batch::RecordBatch;

pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_line", DataType::UInt64, false),
        Field::new("input", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("row", DataType::Utf8, false),
    ]))
}

/// Builds one rejects batch for the rejected rows of one pushed batch.
#[derive(Default)]
pub struct RejectsBuilder {
    file: StringBuilder,
    line: UInt64Builder,
    input: StringBuilder,
    column: StringBuilder,
    reason: StringBuilder,
    row: StringBuilder,
}

impl RejectsBuilder {
    /// Adds rows `rows` of `batch`; `lines[i]` is the source line of row `i`.
    pub fn add(
        &mut self,
        source_file: &str,
        input: &str,
        batch: &RecordBatch,
        lines: &[u64],
        rows: &[(u64, Option<String>, String)],
    ) -> Result<(), ArrowError> {
        let indices = UInt32Array::from_iter_values(rows.iter().map(|(r, _, _)| *r as u32));
        let columns = batch
            .columns()
            .iter()
            .map(|c| take(c, &indices, None))
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        let picked = RecordBatch::try_new(batch.schema(), columns)?;
        let json = rows_as_json(&picked)?;
        for ((row, column, reason), json) in rows.iter().zip(json) {
            self.file.append_value(source_file);
            self.line.append_value(lines[*row as usize]);
            self.input.append_value(input);
            self.column.append_option(column.as_deref());
            self.reason.append_value(reason);
            self.row.append_value(json);
        }
        Ok(())
    }

    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.input.finish()),
            Arc::new(self.column.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.row.finish()),
        ];
        RecordBatch::try_new(rejects_schema(), columns).expect("columns match the rejects schema")
    }
}

fn rows_as_json(batch: &RecordBatch) -> Result<Vec<String>, ArrowError> {
    let mut writer = LineDelimitedWriter::new(Vec::new());
    writer.write(batch)?;
    writer.finish()?;
    let text =
        String::from_utf8(writer.into_inner()).map_err(|e| ArrowError::JsonError(e.to_string()))?;
    Ok(text.lines().map(str::to_string).collect())
}
