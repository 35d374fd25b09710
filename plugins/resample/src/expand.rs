//! Expand mode (pipeline 001): each interval row becomes `samples` equal sub-intervals that
//! carry the row's other columns.
//!
//! Config: `{"mode": "expand", "start": "start_time", "end": "end_time", "samples": "samples",
//! "arithmetic": "exact" | "glue_compat", "spark_compat": false}`.
//!
//! - `exact` (default): microseconds. The step `d = (end - start) / samples` is rounded
//!   half up to the microsecond; sub-interval `i` is `[start + i*d, start + (i+1)*d]`.
//! - `glue_compat`: the deployed Glue script's arithmetic: whole epoch seconds (the
//!   sub-second part dropped), `d` as f64, bounds truncated to whole seconds, written as
//!   `YYYY-MM-DD HH:MM:SS` text.
//! - A row with `samples` empty, 0 or negative, or without both bounds, goes to `rejects`
//!   with the reason. `spark_compat` reproduces the original Spark job instead: `samples = 0`
//!   gives two zero-length rows at `start`, an empty `samples` drops the row silently.
//!   (Negative counts and missing bounds are still rejected: the fixtures show no Spark
//!   behaviour for them to copy.)

use std::sync::Arc;

use serde::Deserialize;
use sluice_sdk::arrow::array::{
    Array, ArrayRef, Int64Array, PrimitiveArray, StringArray, UInt32Array,
};
use sluice_sdk::arrow::compute::{cast, take};
use sluice_sdk::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use sluice_sdk::arrow::record_batch::RecordBatch;
use sluice_sdk::{Emit, Error};

use crate::time::format_seconds;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_start")]
    start: String,
    #[serde(default = "default_end")]
    end: String,
    #[serde(default = "default_samples")]
    samples: String,
    #[serde(default)]
    arithmetic: Arithmetic,
    #[serde(default)]
    spark_compat: bool,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Arithmetic {
    #[default]
    Exact,
    GlueCompat,
}

fn default_start() -> String {
    "start_time".into()
}
fn default_end() -> String {
    "end_time".into()
}
fn default_samples() -> String {
    "samples".into()
}

pub struct Expand {
    config: Config,
    start: usize,
    end: usize,
    samples: usize,
    /// Input columns carried to the output (all but `samples`), in input order.
    carried: Vec<usize>,
    output: SchemaRef,
}

/// The sub-intervals of one batch: the source row of each, and its bounds.
#[derive(Default)]
struct Pieces {
    source: Vec<u32>,
    start: Vec<i64>,
    end: Vec<i64>,
}

impl Expand {
    pub fn new(config: Config, input: &SchemaRef) -> Result<Self, Error> {
        let index = |name: &str| {
            input
                .index_of(name)
                .map_err(|_| Error::Config(format!("no input column `{name}`")))
        };
        let (start, end, samples) = (
            index(&config.start)?,
            index(&config.end)?,
            index(&config.samples)?,
        );
        for i in [start, end] {
            if !matches!(
                input.field(i).data_type(),
                DataType::Timestamp(TimeUnit::Microsecond, _)
            ) {
                return Err(Error::Schema(format!(
                    "`{}` is {}, expected a timestamp",
                    input.field(i).name(),
                    input.field(i).data_type()
                )));
            }
        }
        if !input.field(samples).data_type().is_integer() {
            return Err(Error::Schema(format!(
                "`{}` is {}, expected an integer",
                config.samples,
                input.field(samples).data_type()
            )));
        }
        let carried: Vec<usize> = (0..input.fields().len())
            .filter(|&i| i != samples)
            .collect();
        let fields = carried.iter().map(|&i| {
            let f = input.field(i);
            if config.arithmetic == Arithmetic::GlueCompat && (i == start || i == end) {
                Field::new(f.name(), DataType::Utf8, true)
            } else {
                f.clone()
            }
        });
        let output = Arc::new(Schema::new(fields.collect::<Vec<_>>()));
        Ok(Expand {
            config,
            start,
            end,
            samples,
            carried,
            output,
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.output.clone()
    }

    pub fn push(&self, batch: &RecordBatch, out: &mut Emit) -> Result<(), Error> {
        let ts = |i: usize| {
            batch
                .column(i)
                .as_any()
                .downcast_ref::<PrimitiveArray<TimestampMicrosecondType>>()
                .expect("checked in open")
        };
        let (starts, ends) = (ts(self.start), ts(self.end));
        let samples = cast(batch.column(self.samples), &DataType::Int64)?;
        let samples = samples
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("cast to int64");
        let mut pieces = Pieces::default();
        for row in 0..batch.num_rows() {
            if starts.is_null(row) || ends.is_null(row) {
                out.reject(row, Some(&self.config.start), "start or end time is empty");
                continue;
            }
            let (s, e) = (starts.value(row), ends.value(row));
            match samples.is_valid(row).then(|| samples.value(row)) {
                None if self.config.spark_compat => {}
                None => out.reject(row, Some(&self.config.samples), "samples is empty"),
                Some(0) if self.config.spark_compat => {
                    let at = self.bound(s);
                    for _ in 0..2 {
                        pieces.push(row, at, at);
                    }
                }
                Some(n) if n <= 0 => out.reject(
                    row,
                    Some(&self.config.samples),
                    format!("samples must be positive, got {n}"),
                ),
                Some(n) => self.split(row, s, e, n, &mut pieces),
            }
        }
        out.emit("rows", self.build(batch, pieces)?);
        Ok(())
    }

    /// A bound as stored: microseconds, or whole seconds for glue_compat.
    fn bound(&self, micros: i64) -> i64 {
        match self.config.arithmetic {
            Arithmetic::Exact => micros,
            Arithmetic::GlueCompat => micros.div_euclid(1_000_000),
        }
    }

    fn split(&self, row: usize, s: i64, e: i64, n: i64, pieces: &mut Pieces) {
        match self.config.arithmetic {
            Arithmetic::Exact => {
                // Half up: floor((2 * total + n) / (2 * n)).
                let d = (2 * (e - s) + n).div_euclid(2 * n);
                for i in 0..n {
                    pieces.push(row, s + i * d, s + (i + 1) * d);
                }
            }
            Arithmetic::GlueCompat => {
                let (s, e) = (s.div_euclid(1_000_000), e.div_euclid(1_000_000));
                let d = (e - s) as f64 / n as f64;
                let at = |i: i64| (s as f64 + i as f64 * d).trunc() as i64;
                for i in 0..n {
                    pieces.push(row, at(i), at(i + 1));
                }
            }
        }
    }

    fn build(&self, batch: &RecordBatch, pieces: Pieces) -> Result<RecordBatch, Error> {
        let indices = UInt32Array::from(pieces.source);
        let bounds = |values: Vec<i64>, input: usize| -> ArrayRef {
            match self.config.arithmetic {
                Arithmetic::Exact => {
                    let tz = match batch.schema().field(input).data_type() {
                        DataType::Timestamp(_, tz) => tz.clone(),
                        _ => None,
                    };
                    Arc::new(
                        PrimitiveArray::<TimestampMicrosecondType>::from(values)
                            .with_timezone_opt(tz),
                    )
                }
                Arithmetic::GlueCompat => Arc::new(
                    values
                        .into_iter()
                        .map(|s| Some(format_seconds(s)))
                        .collect::<StringArray>(),
                ),
            }
        };
        let (mut start, mut end) = (Some(pieces.start), Some(pieces.end));
        let columns = self
            .carried
            .iter()
            .map(|&i| {
                if i == self.start {
                    Ok(bounds(start.take().expect("one start column"), i))
                } else if i == self.end {
                    Ok(bounds(end.take().expect("one end column"), i))
                } else {
                    take(batch.column(i), &indices, None).map_err(Error::from)
                }
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(RecordBatch::try_new(self.output.clone(), columns)?)
    }
}

impl Pieces {
    fn push(&mut self, row: usize, start: i64, end: i64) {
        self.source.push(row as u32);
        self.start.push(start);
        self.end.push(end);
    }
}
