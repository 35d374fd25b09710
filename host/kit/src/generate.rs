//! Synthetic inputs for the kit: the columns a plugin requires, filled with plain values,
//! and variants that stress edges (empty, all NULL, very long strings, every type).

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::harness::InputData;
use sluice_core::plugin::InputInfo;

/// Rows of the standard input: more than 1,000 so every batch split of the kit matters.
pub(crate) const STANDARD_ROWS: usize = 2_500;

/// Columns used for an input that requires none (it takes any table).
fn default_fields() -> Vec<Field> {
    vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("day", DataType::Date32, true),
    ]
}

/// One extra column of every type the host's CSV reader can produce.
pub(crate) fn every_type_fields() -> Vec<Field> {
    [
        DataType::Boolean,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
        DataType::Utf8,
        DataType::Date32,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, t)| {
        Field::new(
            format!(
                "extra_{i}_{}",
                t.to_string()
                    .to_lowercase()
                    .replace([' ', '(', ')', ',', '"'], "")
            ),
            t,
            true,
        )
    })
    .collect()
}

/// How to fill the columns.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Fill {
    /// Plain values, every 10th NULL where the column allows it.
    Plain,
    /// NULL in every nullable column.
    Nulls,
    /// Text values of about 1 MiB.
    LongStrings,
}

pub(crate) fn fields_for(input: &InputInfo) -> Vec<Field> {
    let required: Vec<Field> = input
        .required
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    if required.is_empty() {
        default_fields()
    } else {
        required
    }
}

/// An input of `rows` rows over `fields` in one batch (a zero-row batch when `rows` is 0).
pub(crate) fn input(
    name: &str,
    fields: Vec<Field>,
    rows: usize,
    fill: Fill,
) -> Result<InputData, String> {
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let columns = schema
        .fields()
        .iter()
        .map(|f| column(f, rows, fill))
        .collect::<Result<Vec<_>, _>>()?;
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    Ok(InputData {
        name: name.into(),
        schema,
        batches: vec![batch],
    })
}

fn column(field: &Field, rows: usize, fill: Fill) -> Result<ArrayRef, String> {
    let null = |i: usize| {
        field.is_nullable() && (fill == Fill::Nulls || (fill == Fill::Plain && i % 10 == 9))
    };
    macro_rules! prim {
        ($array:ty, $f:expr) => {
            Arc::new(
                (0..rows)
                    .map(|i| (!null(i)).then(|| $f(i)))
                    .collect::<$array>(),
            ) as ArrayRef
        };
    }
    Ok(match field.data_type() {
        DataType::Boolean => prim!(BooleanArray, |i: usize| i.is_multiple_of(3)),
        DataType::Int8 => prim!(Int8Array, |i: usize| (i % 100) as i8),
        DataType::Int16 => prim!(Int16Array, |i: usize| (i % 1000) as i16),
        DataType::Int32 => prim!(Int32Array, |i: usize| i as i32),
        DataType::Int64 => prim!(Int64Array, |i: usize| i as i64),
        DataType::UInt8 => prim!(UInt8Array, |i: usize| (i % 200) as u8),
        DataType::UInt16 => prim!(UInt16Array, |i: usize| (i % 60000) as u16),
        DataType::UInt32 => prim!(UInt32Array, |i: usize| i as u32),
        DataType::UInt64 => prim!(UInt64Array, |i: usize| i as u64),
        DataType::Float32 => prim!(Float32Array, |i: usize| i as f32 * 0.5),
        DataType::Float64 => prim!(Float64Array, |i: usize| i as f64 * 0.25 - 100.0),
        DataType::Date32 => prim!(Date32Array, |i: usize| 19_000 + (i % 400) as i32),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let a: TimestampMicrosecondArray = (0..rows)
                .map(|i| (!null(i)).then(|| 1_700_000_000_000_000 + i as i64 * 7_000_000))
                .collect();
            Arc::new(a.with_timezone_opt(tz.clone()))
        }
        DataType::Utf8 => {
            let text = |i: usize| {
                if fill == Fill::LongStrings {
                    format!("{i}:{}", "x".repeat(1 << 20))
                } else {
                    format!("v{}", i % 37)
                }
            };
            prim!(StringArray, text)
        }
        other if field.is_nullable() => new_null_array(other, rows),
        other => {
            return Err(format!(
                "the kit cannot generate values for a NOT NULL column `{}` of type {other}",
                field.name()
            ))
        }
    })
}
