//! `resample`: two ways to put time series on a grid.
//!
//! - `{"mode": "expand", ...}` (pipeline 001): every interval row becomes `samples` equal
//!   sub-intervals carrying the row's other values. See [`expand`].
//! - `{"mode": "aggregate", ...}`: readings bucketed on a fixed grid per key, with
//!   aggregations per value column and optional gap fill. See [`aggregate`].

mod aggregate;
mod expand;
mod time;

use serde::Deserialize;
use sluice_sdk::arrow::datatypes::SchemaRef;
use sluice_sdk::arrow::record_batch::RecordBatch;
use sluice_sdk::{serde_json, Context, Emit, Error, Info, Input, Output, Plugin, Schemas};

#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
enum Config {
    Expand(expand::Config),
    Aggregate(aggregate::Config),
}

enum Resample {
    Expand(expand::Expand),
    Aggregate(Box<aggregate::Aggregate>),
}

impl Plugin for Resample {
    /// Read as JSON first: the `mode` key picks which of the two configs applies.
    type Config = serde_json::Value;

    fn info() -> Info {
        Info::new(
            "resample",
            env!("CARGO_PKG_VERSION"),
            "Expand intervals into sub-intervals, or aggregate readings onto a fixed time grid",
        )
        .input(Input::any("rows").describe("time-stamped rows (columns named in the config)"))
        .output(Output::dynamic("rows").describe(
            "expanded intervals, or one row per key and bucket sorted by key then bucket",
        ))
        .stateful()
    }

    fn open(value: serde_json::Value, inputs: &Schemas, _ctx: &Context) -> Result<Self, Error> {
        if value.get("mode").is_none() {
            return Err(Error::Config(
                "`mode` is required: \"expand\" or \"aggregate\"".into(),
            ));
        }
        let schema = &inputs[0].1;
        Ok(
            match serde_json::from_value(value)
                .map_err(|e| Error::Config(format!("invalid plugin config: {e}")))?
            {
                Config::Expand(c) => Resample::Expand(expand::Expand::new(c, schema)?),
                Config::Aggregate(c) => {
                    Resample::Aggregate(Box::new(aggregate::Aggregate::new(c, schema)?))
                }
            },
        )
    }

    fn output_schemas(&self) -> Vec<(String, SchemaRef)> {
        let schema = match self {
            Resample::Expand(e) => e.output_schema(),
            Resample::Aggregate(a) => a.output_schema(),
        };
        vec![("rows".into(), schema)]
    }

    fn push(&mut self, _input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
        match self {
            Resample::Expand(e) => e.push(&batch, out),
            Resample::Aggregate(a) => a.push(&batch),
        }
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), Error> {
        if let Resample::Aggregate(a) = self {
            a.finish();
        }
        Ok(())
    }

    fn drain(&mut self, out: &mut Emit) -> Result<bool, Error> {
        match self {
            Resample::Expand(_) => Ok(false),
            Resample::Aggregate(a) => a.drain(out),
        }
    }
}

sluice_sdk::export_plugin!(Resample);
