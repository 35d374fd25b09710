//! `date-cleanup`: messy date text to Arrow `Date32`, column by column.
//!
//! Config (JSON):
//! ```json
//! {
//!   "columns": {
//!     "shipment_date": { "formats": ["YYYY-MM-DD", "DD/MM/YYYY", "YYYY-MM-DD HH:MM:SS"], "invalid": "null" },
//!     "delivery_date": { "formats": ["YYYY-MM-DD"], "invalid": "reject" }
//!   },
//!   "null_tokens": ["", "NaN", "null", "0000-00-00"],
//!   "sentinels": ["1000-01-01", "1900-01-01"],
//!   "late": [{ "name": "is_late", "later": "delivery_date", "earlier": "shipment_date", "more_than_days": 5 }],
//!   "pad": { "zip": 5 }
//! }
//! ```
//! - a null token or a sentinel date becomes NULL (counted as `<column>.null_token` and
//!   `<column>.sentinel`);
//! - a value that matches no layout or names an impossible date is *invalid*: with
//!   `"invalid": "null"` (the default) it becomes NULL and is counted as
//!   `<column>.invalid_to_null`; with `"reject"` the row goes to the rejects output;
//! - `late` adds a boolean column `later - earlier > more_than_days` (NULL if either is NULL);
//! - `pad` left-pads codes that lost their leading zeros (`8638` -> `08638`) to a width.
//!
//! Input date columns may be text, or `date32` already (then only sentinels apply).

mod parse;

use std::collections::BTreeMap;
use std::sync::Arc;

use parse::{parse, Layout, Parsed};
use serde::Deserialize;
use sluice_sdk::arrow::array::{Array, ArrayRef, BooleanArray, Date32Array, StringArray};
use sluice_sdk::arrow::buffer::{BooleanBuffer, NullBuffer};
use sluice_sdk::arrow::compute::{cast, filter_record_batch};
use sluice_sdk::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use sluice_sdk::arrow::record_batch::RecordBatch;
use sluice_sdk::{Context, Emit, Error, Info, Input, Output, Plugin, Schemas};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    columns: BTreeMap<String, ColumnConfig>,
    #[serde(default = "default_null_tokens")]
    null_tokens: Vec<String>,
    #[serde(default = "default_sentinels")]
    sentinels: Vec<String>,
    #[serde(default)]
    late: Vec<LateFlag>,
    #[serde(default)]
    pad: BTreeMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnConfig {
    #[serde(default = "default_formats")]
    formats: Vec<Layout>,
    #[serde(default)]
    invalid: Policy,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Policy {
    #[default]
    Null,
    Reject,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LateFlag {
    name: String,
    later: String,
    earlier: String,
    more_than_days: i32,
}

fn default_null_tokens() -> Vec<String> {
    ["", "NaN", "null", "0000-00-00"].map(String::from).to_vec()
}
fn default_sentinels() -> Vec<String> {
    ["1000-01-01", "1900-01-01"].map(String::from).to_vec()
}
fn default_formats() -> Vec<Layout> {
    vec![Layout::IsoDate, Layout::IsoDateTime]
}

/// One date column to clean, resolved against the input schema.
struct DateColumn {
    index: usize,
    name: String,
    formats: Vec<Layout>,
    policy: Policy,
}

struct DateCleanup {
    dates: Vec<DateColumn>,
    /// (column index, width).
    pads: Vec<(usize, usize)>,
    /// (output name, later index, earlier index, days).
    late: Vec<(String, usize, usize, i32)>,
    null_tokens: Vec<Vec<u8>>,
    sentinels: Vec<i32>,
    output: SchemaRef,
}

impl Plugin for DateCleanup {
    type Config = Config;

    fn info() -> Info {
        Info::new("date-cleanup", env!("CARGO_PKG_VERSION"), "Messy date text to Date32, with sentinels, impossible dates, lateness flags and code padding")
            .input(Input::any("rows").describe("a table with the configured date columns (text or date32)"))
            .output(Output::dynamic("rows").describe("the input with the date columns as date32, padded codes, and lateness flags at the end"))
    }

    fn open(config: Config, inputs: &Schemas, _ctx: &Context) -> Result<Self, Error> {
        let input = &inputs[0].1;
        let index = |name: &str, what: &str| {
            input
                .index_of(name)
                .map_err(|_| Error::Config(format!("{what}: no input column `{name}`")))
        };
        let mut dates = Vec::new();
        for (name, column) in &config.columns {
            let i = index(name, "columns")?;
            if !matches!(
                input.field(i).data_type(),
                DataType::Utf8 | DataType::Date32
            ) {
                return Err(Error::Schema(format!(
                    "column `{name}` is {}, expected utf8 or date32",
                    input.field(i).data_type()
                )));
            }
            if column.formats.is_empty() {
                return Err(Error::Config(format!("columns.{name}.formats is empty")));
            }
            dates.push(DateColumn {
                index: i,
                name: name.clone(),
                formats: column.formats.clone(),
                policy: column.invalid,
            });
        }
        let sentinels = config
            .sentinels
            .iter()
            .map(|s| match parse(s.as_bytes(), &[Layout::IsoDate]) {
                Parsed::Date(d) => Ok(d),
                _ => Err(Error::Config(format!(
                    "sentinel {s:?} is not a YYYY-MM-DD date"
                ))),
            })
            .collect::<Result<_, _>>()?;
        let pads = config
            .pad
            .iter()
            .map(|(name, &width)| Ok((index(name, "pad")?, width)))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut late = Vec::new();
        for flag in &config.late {
            let (later, earlier) = (index(&flag.later, "late")?, index(&flag.earlier, "late")?);
            for i in [later, earlier] {
                if !dates.iter().any(|d| d.index == i)
                    && *input.field(i).data_type() != DataType::Date32
                {
                    return Err(Error::Config(format!(
                        "late `{}`: `{}` is neither a cleaned nor a date32 column",
                        flag.name,
                        input.field(i).name()
                    )));
                }
            }
            late.push((flag.name.clone(), later, earlier, flag.more_than_days));
        }
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        for d in &dates {
            fields[d.index] = Field::new(&d.name, DataType::Date32, true);
        }
        for &(i, _) in &pads {
            fields[i] = Field::new(
                input.field(i).name(),
                DataType::Utf8,
                input.field(i).is_nullable(),
            );
        }
        for (name, ..) in &late {
            fields.push(Field::new(name, DataType::Boolean, true));
        }
        Ok(DateCleanup {
            dates,
            pads,
            late,
            null_tokens: config
                .null_tokens
                .iter()
                .map(|t| t.as_bytes().to_vec())
                .collect(),
            sentinels,
            output: Arc::new(Schema::new(fields)),
        })
    }

    fn output_schemas(&self) -> Vec<(String, SchemaRef)> {
        vec![("rows".into(), self.output.clone())]
    }

    fn push(&mut self, _input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        let mut keep = vec![true; batch.num_rows()];
        for d in &self.dates {
            columns[d.index] = Arc::new(self.clean(d, batch.column(d.index), &mut keep, out)?);
        }
        for &(i, width) in &self.pads {
            columns[i] = pad(batch.column(i), width)?;
        }
        for (_, later, earlier, days) in &self.late {
            columns.push(Arc::new(lateness(
                &columns[*later],
                &columns[*earlier],
                *days,
            )));
        }
        let cleaned = RecordBatch::try_new(self.output.clone(), columns)?;
        if keep.iter().all(|&k| k) {
            out.emit("rows", cleaned);
        } else {
            out.emit("rows", filter_record_batch(&cleaned, &keep.into())?);
        }
        Ok(())
    }
}

impl DateCleanup {
    fn clean(
        &self,
        column: &DateColumn,
        values: &ArrayRef,
        keep: &mut [bool],
        out: &mut Emit,
    ) -> Result<Date32Array, Error> {
        let mut counts = Counts::default();
        let cleaned = if let Some(dates) = values.as_any().downcast_ref::<Date32Array>() {
            dates
                .iter()
                .map(|v| match v {
                    Some(d) if self.is_sentinel(d) => {
                        counts.sentinel += 1;
                        None
                    }
                    other => other,
                })
                .collect()
        } else {
            let text = values
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("checked in open");
            self.clean_text(column, text, keep, out, &mut counts)
        };
        out.count(&format!("{}.null_token", column.name), counts.nulls);
        out.count(&format!("{}.sentinel", column.name), counts.sentinel);
        let policy = if column.policy == Policy::Reject {
            "rejected"
        } else {
            "invalid_to_null"
        };
        out.count(&format!("{}.{policy}", column.name), counts.invalid);
        Ok(cleaned)
    }

    /// Text to dates. The values and the validity bits are written straight into their
    /// buffers (no per-value builder): this loop runs for every date of every row.
    fn clean_text(
        &self,
        column: &DateColumn,
        text: &StringArray,
        keep: &mut [bool],
        out: &mut Emit,
        counts: &mut Counts,
    ) -> Date32Array {
        let (offsets, bytes) = (text.value_offsets(), text.value_data());
        let mut days = vec![0i32; text.len()];
        let valid = BooleanBuffer::collect_bool(text.len(), |row| {
            if text.is_null(row) {
                return false;
            }
            let field = &bytes[offsets[row] as usize..offsets[row + 1] as usize];
            if self.null_tokens.iter().any(|t| t.as_slice() == field) {
                counts.nulls += 1;
                return false;
            }
            match parse(field, &column.formats) {
                Parsed::Date(d) if self.is_sentinel(d) => {
                    counts.sentinel += 1;
                    false
                }
                Parsed::Date(d) => {
                    days[row] = d;
                    true
                }
                Parsed::Impossible | Parsed::Unrecognised => {
                    counts.invalid += 1;
                    if column.policy == Policy::Reject && keep[row] {
                        keep[row] = false;
                        out.reject(
                            row,
                            Some(&column.name),
                            format!("invalid date {:?}", text.value(row)),
                        );
                    }
                    false
                }
            }
        });
        Date32Array::new(days.into(), Some(NullBuffer::new(valid)))
    }

    #[inline]
    fn is_sentinel(&self, day: i32) -> bool {
        self.sentinels.contains(&day)
    }
}

/// What cleaning one column found, for the plugin's counters.
#[derive(Default)]
struct Counts {
    nulls: u64,
    sentinel: u64,
    invalid: u64,
}

/// Codes as text, left-padded with zeros to `width` (integers are formatted first).
fn pad(values: &ArrayRef, width: usize) -> Result<ArrayRef, Error> {
    let text = cast(values, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to utf8");
    let padded: StringArray = text
        .iter()
        .map(|v| v.map(|s| format!("{s:0>width$}")))
        .collect();
    Ok(Arc::new(padded))
}

fn lateness(later: &ArrayRef, earlier: &ArrayRef, days: i32) -> BooleanArray {
    let later = later
        .as_any()
        .downcast_ref::<Date32Array>()
        .expect("a date32 column");
    let earlier = earlier
        .as_any()
        .downcast_ref::<Date32Array>()
        .expect("a date32 column");
    // Whole buffers at once: NULL where either side is, the comparison everywhere else.
    let (l, e) = (later.values(), earlier.values());
    let flags = BooleanBuffer::collect_bool(l.len(), |i| {
        i64::from(l[i]) - i64::from(e[i]) > i64::from(days)
    });
    BooleanArray::new(flags, NullBuffer::union(later.nulls(), earlier.nulls()))
}

sluice_sdk::export_plugin!(DateCleanup);
