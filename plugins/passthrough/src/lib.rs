//! `passthrough`: copies its input to its output, optionally keeping only some columns
//! (`select`, in the order given) and renaming them (`rename`). The SDK's worked example.
//!
//! Config (JSON): `{"select": ["id", "name"], "rename": {"name": "full_name"}}`, both optional.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use sluice_sdk::arrow::datatypes::{Schema, SchemaRef};
use sluice_sdk::arrow::record_batch::RecordBatch;
use sluice_sdk::{Context, Emit, Error, Info, Input, Output, Plugin, Schemas};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    select: Option<Vec<String>>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
}

struct Passthrough {
    /// Input column index of each output column.
    projection: Vec<usize>,
    output: SchemaRef,
}

impl Plugin for Passthrough {
    type Config = Config;

    fn info() -> Info {
        Info::new(
            "passthrough",
            env!("CARGO_PKG_VERSION"),
            "Copies rows unchanged, with optional column select and rename",
        )
        .input(Input::any("rows").describe("any table"))
        .output(Output::dynamic("rows").describe("the selected (and renamed) columns of the input"))
    }

    fn open(config: Config, inputs: &Schemas, _ctx: &Context) -> Result<Self, Error> {
        let input = &inputs[0].1;
        let projection = match &config.select {
            None => (0..input.fields().len()).collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    input
                        .index_of(n)
                        .map_err(|_| Error::Config(format!("select: no input column `{n}`")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if let Some(unknown) = config.rename.keys().find(|k| input.index_of(k).is_err()) {
            return Err(Error::Config(format!(
                "rename: no input column `{unknown}`"
            )));
        }
        let fields = projection.iter().map(|&i| {
            let field = input.field(i);
            match config.rename.get(field.name()) {
                Some(new) => Arc::new(field.clone().with_name(new)),
                None => Arc::new(field.clone()),
            }
        });
        let output = Arc::new(Schema::new(fields.collect::<Vec<_>>()));
        Ok(Passthrough { projection, output })
    }

    fn output_schemas(&self) -> Vec<(String, SchemaRef)> {
        vec![("rows".into(), self.output.clone())]
    }

    fn push(&mut self, _input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
        let columns = self
            .projection
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        out.emit("rows", RecordBatch::try_new(self.output.clone(), columns)?);
        Ok(())
    }
}

sluice_sdk::export_plugin!(Passthrough);
