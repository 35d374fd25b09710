//! A plugin for tests. `{"mode": ...}` picks what it does on `push`:
//! - `pass`: copy rows;
//! - `reject`: reject rows whose `column` equals `equals`, copy the rest;
//! - `data-error`: fail with a data error on the first row whose `column` equals `equals`;
//! - `wrong-schema`: emit batches that do not match the declared output schema;
//! - `loop`: never return; `alloc`: grow memory without bound; `panic`: panic;
//! - `log-flood`: log `count` lines, then copy rows;
//! - `clock`, `random`, `batch-dependent`: copy rows with an `extra` column holding the
//!   wall clock, a random number, or the size of the batch the row arrived in;
//! - `huge-output`: emit each batch `count` times;
//! - `panic-in-open`: panic while opening the session;
//! - `spin`: burn `count` million loop iterations per batch, then copy rows (a slow table);
//! - `running-count`: copy rows with an `extra` column numbering them across batches: the
//!   same for any batch size, but it keeps state while declaring none.

use std::sync::Arc;

use serde::Deserialize;
use sluice_sdk::arrow::array::{Array, Int64Array, StringArray};
use sluice_sdk::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use sluice_sdk::arrow::record_batch::RecordBatch;
use sluice_sdk::{log, Context, Emit, Error, Info, Input, LogLevel, Output, Plugin, Schemas};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    Pass,
    Reject,
    DataError,
    WrongSchema,
    Loop,
    Alloc,
    Panic,
    LogFlood,
    Clock,
    Random,
    BatchDependent,
    HugeOutput,
    PanicInOpen,
    Spin,
    RunningCount,
}

#[derive(Deserialize)]
struct Config {
    mode: Mode,
    column: Option<String>,
    equals: Option<String>,
    count: Option<u32>,
}

struct Testbed {
    config: Config,
    schema: SchemaRef,
    /// Rows seen so far (`running-count`).
    seen: i64,
}

impl Plugin for Testbed {
    type Config = Config;

    fn info() -> Info {
        Info::new("testbed", "0.1.0", "misbehaves on purpose, as configured")
            .input(Input::any("rows"))
            .output(Output::dynamic("rows"))
    }

    fn open(config: Config, inputs: &Schemas, _ctx: &Context) -> Result<Self, Error> {
        if matches!(config.mode, Mode::PanicInOpen) {
            panic!("testbed was told to panic in open");
        }
        let mut schema = inputs[0].1.clone();
        if matches!(config.mode, Mode::Clock | Mode::Random | Mode::BatchDependent | Mode::RunningCount) {
            let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.push(Field::new("extra", DataType::Int64, false));
            schema = Arc::new(Schema::new(fields));
        }
        Ok(Testbed { config, schema, seen: 0 })
    }

    fn output_schemas(&self) -> Vec<(String, SchemaRef)> {
        vec![("rows".into(), self.schema.clone())]
    }

    fn push(&mut self, input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
        match self.config.mode {
            Mode::Pass => out.emit("rows", batch),
            Mode::Reject => {
                let hits = self.matching_rows(&batch)?;
                let keep: Vec<bool> = (0..batch.num_rows()).map(|r| !hits.contains(&r)).collect();
                for r in hits {
                    out.reject(r, self.config.column.as_deref(), "value is on the reject list");
                }
                let filtered = sluice_sdk::arrow::compute::filter_record_batch(&batch, &keep.into())?;
                out.emit("rows", filtered);
            }
            Mode::DataError => {
                if let Some(&row) = self.matching_rows(&batch)?.first() {
                    let column = self.config.column.clone().unwrap_or_default();
                    return Err(Error::data_at(input, row, &column, "this value cannot be processed"));
                }
                out.emit("rows", batch);
            }
            Mode::WrongSchema => {
                let schema = Arc::new(Schema::new(vec![Field::new("surprise", DataType::Int64, false)]));
                let column = Arc::new(Int64Array::from_iter_values(0..batch.num_rows() as i64));
                out.emit("rows", RecordBatch::try_new(schema, vec![column])?);
            }
            Mode::Loop => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            Mode::Alloc => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 16 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Mode::Panic => panic!("testbed was told to panic"),
            Mode::Spin => {
                let mut x: u64 = 1;
                for _ in 0..u64::from(self.config.count.unwrap_or(1)) * 1_000_000 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
                out.emit("rows", batch);
            }
            Mode::PanicInOpen => unreachable!("open panicked"),
            Mode::Clock | Mode::Random | Mode::BatchDependent => {
                let value = match self.config.mode {
                    Mode::Clock => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64,
                    Mode::Random => {
                        use std::hash::BuildHasher;
                        std::collections::hash_map::RandomState::new().hash_one(0u8) as i64
                    }
                    _ => batch.num_rows() as i64,
                };
                let mut columns = batch.columns().to_vec();
                columns.push(Arc::new(Int64Array::from_value(value, batch.num_rows())));
                out.emit("rows", RecordBatch::try_new(self.schema.clone(), columns)?);
            }
            Mode::RunningCount => {
                let mut columns = batch.columns().to_vec();
                columns.push(Arc::new(Int64Array::from_iter_values(self.seen..self.seen + batch.num_rows() as i64)));
                self.seen += batch.num_rows() as i64;
                out.emit("rows", RecordBatch::try_new(self.schema.clone(), columns)?);
            }
            Mode::HugeOutput => {
                for _ in 0..self.config.count.unwrap_or(10_000) {
                    out.emit("rows", batch.clone());
                }
            }
            Mode::LogFlood => {
                for i in 0..self.config.count.unwrap_or(10_000) {
                    log(LogLevel::Info, &format!("flood line {i}"));
                }
                out.emit("rows", batch);
            }
        }
        Ok(())
    }
}

impl Testbed {
    fn matching_rows(&self, batch: &RecordBatch) -> Result<Vec<usize>, Error> {
        let name = self.config.column.as_deref().ok_or_else(|| Error::Config("`column` is required".into()))?;
        let equals = self.config.equals.as_deref().unwrap_or_default();
        let column = batch.column_by_name(name).ok_or_else(|| Error::Config(format!("no column `{name}`")))?;
        let strings = column
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::Config(format!("column `{name}` must be utf8")))?;
        Ok((0..strings.len()).filter(|&r| strings.is_valid(r) && strings.value(r) == equals).collect())
    }
}

sluice_sdk::export_plugin!(Testbed);
