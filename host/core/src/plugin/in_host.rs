//! The bundled `passthrough`'s batches, taken by the host itself.
//!
//! `passthrough` only selects and renames columns, yet across the sandbox every batch is
//! encoded to Arrow IPC, copied into the instance, decoded, encoded again, copied out and
//! decoded: ~7 % of a plain 10M-row copy's CPU, and the batches held on either side of
//! the instance. A table that only copies its input pays none of that here.
//!
//! The session is still opened in the sandbox, so the plugin itself checks the config and
//! declares the output schema: errors, schemas and reports are the plugin's. Only `push`
//! is the host's, and only for the bundled component (a path to a `.wasm`, even of the
//! same plugin, always runs in the sandbox): its output is the selected input columns
//! under the declared schema, which is what the component returns for them.

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use serde::Deserialize;

/// The bundled plugin whose batches the host takes.
pub(crate) const PASSTHROUGH: &str = "passthrough";

/// `passthrough`'s config, as far as it picks columns (`rename` only names them, and the
/// declared schema carries the names).
#[derive(Deserialize)]
struct Config {
    select: Option<Vec<String>>,
}

/// Output columns by input column index, under the schema the plugin declared.
#[derive(Debug)]
pub(crate) struct InHost {
    columns: Vec<usize>,
    schema: SchemaRef,
}

impl InHost {
    /// The projection `passthrough` makes of `input` with `config_json`, or `None` when
    /// the declared `output` is not exactly those columns' types (the sandbox then runs it).
    pub(crate) fn passthrough(
        config_json: &str,
        input: &SchemaRef,
        output: &SchemaRef,
    ) -> Option<InHost> {
        let config: Config = serde_json::from_str(config_json).ok()?;
        let columns = match config.select {
            None => (0..input.fields().len()).collect(),
            Some(names) => names
                .iter()
                .map(|name| input.index_of(name).ok())
                .collect::<Option<Vec<_>>>()?,
        };
        let same_types = columns.len() == output.fields().len()
            && columns
                .iter()
                .zip(output.fields())
                .all(|(&i, field)| input.field(i).data_type() == field.data_type());
        same_types.then(|| InHost {
            columns,
            schema: output.clone(),
        })
    }

    /// The output batch of one input batch: its selected columns, shared, not copied.
    pub(crate) fn push(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let columns = self.columns.iter().map(|&i| batch.column(i).clone());
        RecordBatch::try_new(self.schema.clone(), columns.collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn input() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec!["x", "y"])),
            ],
        )
        .unwrap();
        (schema, batch)
    }

    #[test]
    fn selected_columns_come_out_under_the_declared_names() {
        let (schema, batch) = input();
        let declared = Arc::new(Schema::new(vec![Field::new("bee", DataType::Utf8, true)]));
        let config = r#"{"select": ["b"], "rename": {"b": "bee"}}"#;
        let in_host = InHost::passthrough(config, &schema, &declared).unwrap();
        let out = in_host.push(&batch).unwrap();
        assert_eq!(out.schema(), declared);
        assert_eq!(out.column(0), batch.column(1));
    }

    #[test]
    fn a_declared_schema_that_is_not_the_projection_stays_in_the_sandbox() {
        let (schema, _) = input();
        let other = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)]));
        assert!(InHost::passthrough(r#"{"select": ["a"]}"#, &schema, &other).is_none());
        assert!(InHost::passthrough(r#"{"select": ["zz"]}"#, &schema, &other).is_none());
        assert!(InHost::passthrough("{}", &schema, &schema).is_some());
    }
}
