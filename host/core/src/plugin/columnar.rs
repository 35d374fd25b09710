//! Arrow to and from the `columnar` contract's typed columns, for plugins built on the
//! columnar world (the Python SDK). The host does this natively so that a guest needs no
//! Arrow library: it sees each column as a list of optional values.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, PrimitiveArray, StringArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{
    DataType, Date32Type, Field, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::bindings::columnar::exports::sluice::plugin::columnar::{
    Batch as WitBatch, Column, ColumnData, ColumnType, Field as WitField, TextData,
};

/// The contract's type of an Arrow type; dictionaries travel as their values.
fn column_type(data_type: &DataType) -> Option<ColumnType> {
    Some(match data_type {
        DataType::Boolean => ColumnType::Boolean,
        DataType::Int8 => ColumnType::Int8,
        DataType::Int16 => ColumnType::Int16,
        DataType::Int32 => ColumnType::Int32,
        DataType::Int64 => ColumnType::Int64,
        DataType::UInt8 => ColumnType::Uint8,
        DataType::UInt16 => ColumnType::Uint16,
        DataType::UInt32 => ColumnType::Uint32,
        DataType::UInt64 => ColumnType::Uint64,
        DataType::Float32 => ColumnType::Float32,
        DataType::Float64 => ColumnType::Float64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::Text,
        DataType::Date32 => ColumnType::Date,
        DataType::Timestamp(TimeUnit::Microsecond, None) => ColumnType::Timestamp,
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => ColumnType::TimestampUtc,
        DataType::Dictionary(_, values) => return column_type(values),
        // The contract has no decimal: decimals travel as their exact text (`"12.50"`),
        // which a Python plugin reads with `decimal.Decimal`. Never as a float.
        DataType::Decimal128(..) => ColumnType::Text,
        _ => return None,
    })
}

fn data_type(column_type: ColumnType) -> DataType {
    match column_type {
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Int8 => DataType::Int8,
        ColumnType::Int16 => DataType::Int16,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Uint8 => DataType::UInt8,
        ColumnType::Uint16 => DataType::UInt16,
        ColumnType::Uint32 => DataType::UInt32,
        ColumnType::Uint64 => DataType::UInt64,
        ColumnType::Float32 => DataType::Float32,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Text => DataType::Utf8,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::TimestampUtc => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// A schema as the contract's fields; `Err` names a column whose type has no counterpart.
pub(crate) fn to_fields(schema: &Schema) -> Result<Vec<WitField>, String> {
    schema
        .fields()
        .iter()
        .map(|f| {
            let Some(t) = column_type(f.data_type()) else {
                return Err(format!(
                    "column `{}` is {}, which the columnar contract does not carry",
                    f.name(),
                    f.data_type()
                ));
            };
            Ok(WitField {
                name: f.name().clone(),
                type_: t,
                nullable: f.is_nullable(),
            })
        })
        .collect()
}

pub(crate) fn to_schema(fields: &[WitField]) -> SchemaRef {
    Arc::new(Schema::new(
        fields
            .iter()
            .map(|f| Field::new(f.name.clone(), data_type(f.type_), f.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// A batch as typed columns, in schema order.
pub(crate) fn to_columns(batch: &RecordBatch) -> Result<WitBatch, String> {
    let columns = batch
        .columns()
        .iter()
        .zip(batch.schema().fields())
        .map(|(array, field)| {
            to_column(array).map_err(|e| format!("column `{}`: {e}", field.name()))
        })
        .collect::<Result<_, _>>()?;
    let rows = u32::try_from(batch.num_rows())
        .map_err(|_| "a batch of more than 4 billion rows".to_string())?;
    Ok(WitBatch { rows, columns })
}

fn to_column(array: &ArrayRef) -> Result<Column, String> {
    let plain_type = match array.data_type() {
        DataType::Dictionary(_, values) => Some(values.as_ref().clone()),
        DataType::LargeUtf8 | DataType::Utf8View | DataType::Decimal128(..) => Some(DataType::Utf8),
        _ => None,
    };
    if let Some(target) = plain_type {
        let plain = arrow::compute::cast(array, &target).map_err(|e| e.to_string())?;
        return to_column(&plain);
    }
    let validity = match array.logical_nulls() {
        Some(nulls) if nulls.null_count() > 0 => nulls.iter().map(u8::from).collect(),
        _ => Vec::new(),
    };
    let data = match array.data_type() {
        DataType::Boolean => {
            ColumnData::Boolean(array.as_boolean().values().iter().map(u8::from).collect())
        }
        DataType::Int8 => ColumnData::Int(le_bytes::<Int8Type, i64>(array)),
        DataType::Int16 => ColumnData::Int(le_bytes::<Int16Type, i64>(array)),
        DataType::Int32 => ColumnData::Int(le_bytes::<Int32Type, i64>(array)),
        DataType::Int64 => ColumnData::Int(le_bytes::<Int64Type, i64>(array)),
        DataType::Date32 => ColumnData::Int(le_bytes::<Date32Type, i64>(array)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            ColumnData::Int(le_bytes::<TimestampMicrosecondType, i64>(array))
        }
        DataType::UInt8 => ColumnData::Uint(le_bytes::<UInt8Type, u64>(array)),
        DataType::UInt16 => ColumnData::Uint(le_bytes::<UInt16Type, u64>(array)),
        DataType::UInt32 => ColumnData::Uint(le_bytes::<UInt32Type, u64>(array)),
        DataType::UInt64 => ColumnData::Uint(le_bytes::<UInt64Type, u64>(array)),
        DataType::Float32 => ColumnData::Float(le_bytes::<Float32Type, f64>(array)),
        DataType::Float64 => ColumnData::Float(le_bytes::<Float64Type, f64>(array)),
        DataType::Utf8 => ColumnData::Text(text_data(array.as_string::<i32>())?),
        other => {
            return Err(format!(
                "type {other} is not carried by the columnar contract"
            ))
        }
    };
    Ok(Column { validity, data })
}

/// A primitive column widened to `W` (8 bytes), as little-endian bytes.
fn le_bytes<T: ArrowPrimitiveType, W: From<T::Native> + LeBytes>(array: &ArrayRef) -> Vec<u8> {
    let values = array.as_primitive::<T>().values();
    let mut out = Vec::with_capacity(values.len() * 8);
    for &v in values.iter() {
        out.extend_from_slice(&W::from(v).le());
    }
    out
}

/// The 8-byte little-endian form of a wire value.
trait LeBytes {
    fn le(self) -> [u8; 8];
}

impl LeBytes for i64 {
    fn le(self) -> [u8; 8] {
        self.to_le_bytes()
    }
}

impl LeBytes for u64 {
    fn le(self) -> [u8; 8] {
        self.to_le_bytes()
    }
}

impl LeBytes for f64 {
    fn le(self) -> [u8; 8] {
        self.to_le_bytes()
    }
}

/// A string array's bytes and offsets, rebased to start at 0.
fn text_data(array: &StringArray) -> Result<TextData, String> {
    let offsets = array.value_offsets();
    let (first, last) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
    let bytes = array.value_data()[first..last].to_vec();
    u32::try_from(bytes.len()).map_err(|_| "more than 4 GiB of text in one batch".to_string())?;
    let mut out = Vec::with_capacity(offsets.len() * 4);
    for &o in offsets.iter() {
        out.extend_from_slice(&((o as usize - first) as u32).to_le_bytes());
    }
    Ok(TextData {
        bytes,
        offsets: out,
    })
}

/// Builds a batch of `schema` from a guest's columns, checking each column's case, buffer
/// lengths, value range and nullability against the schema.
pub(crate) fn to_record_batch(batch: WitBatch, schema: &SchemaRef) -> Result<RecordBatch, String> {
    if batch.columns.len() != schema.fields().len() {
        return Err(format!(
            "expected {} columns, got {}",
            schema.fields().len(),
            batch.columns.len()
        ));
    }
    let rows = batch.rows as usize;
    let arrays = batch
        .columns
        .into_iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            to_array(column, field, rows).map_err(|e| format!("column `{}`: {e}", field.name()))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(|e| e.to_string())
}

fn to_array(column: Column, field: &Field, rows: usize) -> Result<ArrayRef, String> {
    let nulls = match column.validity.len() {
        0 => None,
        n if n == rows => Some(NullBuffer::from_iter(
            column.validity.iter().map(|&b| b != 0),
        )),
        n => return Err(format!("{n} validity bytes in a batch of {rows} rows")),
    };
    if let Some(nulls) = nulls
        .as_ref()
        .filter(|n| n.null_count() > 0 && !field.is_nullable())
    {
        return Err(format!("is NOT NULL but has {} NULLs", nulls.null_count()));
    }
    typed_array(field.data_type(), column.data, rows, nulls)
}

/// One column's values as the Arrow array of its field's type.
fn typed_array(
    data_type: &DataType,
    data: ColumnData,
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, String> {
    Ok(match (data_type, data) {
        (DataType::Boolean, ColumnData::Boolean(v)) => {
            check_len(v.len(), rows, 1)?;
            Arc::new(BooleanArray::new(
                v.iter().map(|&b| b != 0).collect(),
                nulls,
            ))
        }
        (DataType::Int8, ColumnData::Int(v)) => Arc::new(narrow::<Int8Type, i64>(&v, rows, nulls)?),
        (DataType::Int16, ColumnData::Int(v)) => {
            Arc::new(narrow::<Int16Type, i64>(&v, rows, nulls)?)
        }
        (DataType::Int32, ColumnData::Int(v)) => {
            Arc::new(narrow::<Int32Type, i64>(&v, rows, nulls)?)
        }
        (DataType::Int64, ColumnData::Int(v)) => {
            Arc::new(narrow::<Int64Type, i64>(&v, rows, nulls)?)
        }
        (DataType::Date32, ColumnData::Int(v)) => {
            Arc::new(narrow::<Date32Type, i64>(&v, rows, nulls)?)
        }
        (DataType::Timestamp(TimeUnit::Microsecond, tz), ColumnData::Int(v)) => Arc::new(
            narrow::<TimestampMicrosecondType, i64>(&v, rows, nulls)?.with_timezone_opt(tz.clone()),
        ),
        (DataType::UInt8, ColumnData::Uint(v)) => {
            Arc::new(narrow::<UInt8Type, u64>(&v, rows, nulls)?)
        }
        (DataType::UInt16, ColumnData::Uint(v)) => {
            Arc::new(narrow::<UInt16Type, u64>(&v, rows, nulls)?)
        }
        (DataType::UInt32, ColumnData::Uint(v)) => {
            Arc::new(narrow::<UInt32Type, u64>(&v, rows, nulls)?)
        }
        (DataType::UInt64, ColumnData::Uint(v)) => {
            Arc::new(narrow::<UInt64Type, u64>(&v, rows, nulls)?)
        }
        (DataType::Float32 | DataType::Float64, ColumnData::Float(v)) => {
            float_array(data_type, &v, rows, nulls)?
        }
        (DataType::Utf8, ColumnData::Text(t)) => Arc::new(to_strings(t, rows, nulls)?),
        (expected, data) => {
            return Err(format!(
                "expected {expected} values, got {} values",
                case_name(&data)
            ))
        }
    })
}

fn check_len(bytes: usize, rows: usize, width: usize) -> Result<(), String> {
    if bytes == rows * width {
        Ok(())
    } else {
        Err(format!(
            "{bytes} bytes of values in a batch of {rows} rows ({width} a row)"
        ))
    }
}

/// 8-byte wire values into `T`'s native type; a valid value that does not fit is an error.
fn narrow<T: ArrowPrimitiveType, S: WireInt>(
    bytes: &[u8],
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<PrimitiveArray<T>, String>
where
    T::Native: TryFrom<S> + Default,
{
    check_len(bytes.len(), rows, 8)?;
    let mut values = Vec::with_capacity(rows);
    for (row, chunk) in bytes.chunks_exact(8).enumerate() {
        let wide = S::from_le(chunk.try_into().expect("8 bytes"));
        values.push(match T::Native::try_from(wide) {
            Ok(v) => v,
            Err(_) if nulls.as_ref().is_some_and(|n| n.is_null(row)) => T::Native::default(),
            Err(_) => {
                return Err(format!(
                    "row {row}: value {wide} does not fit {}",
                    T::DATA_TYPE
                ))
            }
        });
    }
    Ok(PrimitiveArray::<T>::new(values.into(), nulls))
}

/// The 8-byte integers of the wire.
trait WireInt: Copy + std::fmt::Display {
    fn from_le(bytes: [u8; 8]) -> Self;
}

impl WireInt for i64 {
    fn from_le(bytes: [u8; 8]) -> Self {
        i64::from_le_bytes(bytes)
    }
}

impl WireInt for u64 {
    fn from_le(bytes: [u8; 8]) -> Self {
        u64::from_le_bytes(bytes)
    }
}

/// A guest's text column as a string array, with its offsets and UTF-8 checked (a bad
/// offset is an error, not a panic).
fn to_strings(
    text: TextData,
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<StringArray, String> {
    check_len(text.offsets.len(), rows + 1, 4)?;
    let offsets: Vec<i32> = text
        .offsets
        .chunks_exact(4)
        .map(|c| i32::try_from(u32::from_le_bytes(c.try_into().expect("4 bytes"))))
        .collect::<Result<_, _>>()
        .map_err(|_| "a text offset past 2 GiB".to_string())?;
    if offsets.windows(2).any(|w| w[0] > w[1])
        || offsets
            .last()
            .is_some_and(|&l| l as usize > text.bytes.len())
    {
        return Err(format!(
            "text offsets are not increasing within the {} bytes of text",
            text.bytes.len()
        ));
    }
    StringArray::try_new(OffsetBuffer::new(offsets.into()), text.bytes.into(), nulls)
        .map_err(|e| e.to_string())
}

fn case_name(data: &ColumnData) -> &'static str {
    match data {
        ColumnData::Boolean(_) => "boolean",
        ColumnData::Int(_) => "int",
        ColumnData::Uint(_) => "uint",
        ColumnData::Float(_) => "float",
        ColumnData::Text(_) => "text",
    }
}

/// The bytes a batch holds, for the per-call output cap.
pub(crate) fn payload_bytes(batch: &WitBatch) -> usize {
    batch
        .columns
        .iter()
        .map(|c| {
            c.validity.len()
                + match &c.data {
                    ColumnData::Boolean(v)
                    | ColumnData::Int(v)
                    | ColumnData::Uint(v)
                    | ColumnData::Float(v) => v.len(),
                    ColumnData::Text(t) => t.bytes.len() + t.offsets.len(),
                }
        })
        .sum()
}

/// Little-endian f64 values as a float64 array, or rounded to the nearest float32, as any
/// writer of float32 would.
fn float_array(
    data_type: &DataType,
    bytes: &[u8],
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, String> {
    check_len(bytes.len(), rows, 8)?;
    let values = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")));
    Ok(match data_type {
        DataType::Float32 => {
            let narrowed: Vec<f32> = values.map(|v| v as f32).collect();
            Arc::new(PrimitiveArray::<Float32Type>::new(narrowed.into(), nulls))
        }
        _ => Arc::new(PrimitiveArray::<Float64Type>::new(
            values.collect::<Vec<f64>>().into(),
            nulls,
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Int64Array, TimestampMicrosecondArray};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("day", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]))
    }

    fn batch() -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(Date32Array::from(vec![None, Some(19_000)])),
                Arc::new(TimestampMicrosecondArray::from(vec![Some(5), None]).with_timezone("UTC")),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_batch_survives_the_round_trip() {
        let columns = to_columns(&batch()).unwrap();
        assert_eq!(columns.rows, 2);
        let name = &columns.columns[1];
        assert_eq!(name.validity, vec![1, 0]);
        assert!(
            matches!(&name.data, ColumnData::Text(t) if t.bytes == b"a" && t.offsets == [0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
        );
        assert!(
            columns.columns[0].validity.is_empty(),
            "no NULLs, no validity bytes"
        );
        let back = to_record_batch(columns, &schema()).unwrap();
        assert_eq!(back, batch());
        assert_eq!(to_schema(&to_fields(&schema()).unwrap()), schema());
    }

    #[test]
    fn a_sliced_batch_crosses_from_its_offset() {
        let sliced = batch().slice(1, 1);
        let back = to_record_batch(to_columns(&sliced).unwrap(), &schema()).unwrap();
        assert_eq!(back, sliced);
    }

    #[test]
    fn wrong_cases_lengths_ranges_offsets_and_nulls_are_refused() {
        let s = Arc::new(Schema::new(vec![Field::new("n", DataType::Int8, false)]));
        let int = |v: &[i64]| ColumnData::Int(v.iter().flat_map(|x| x.to_le_bytes()).collect());
        let one = |validity: Vec<u8>, data| WitBatch {
            rows: 1,
            columns: vec![Column { validity, data }],
        };
        let err = |b| to_record_batch(b, &s).unwrap_err();
        let text = TextData {
            bytes: b"x".to_vec(),
            offsets: [0u32, 1].iter().flat_map(|o| o.to_le_bytes()).collect(),
        };
        assert!(err(one(vec![], ColumnData::Text(text))).contains("expected Int8 values, got text"));
        assert!(err(one(vec![], int(&[300]))).contains("value 300 does not fit Int8"));
        assert!(err(one(vec![0], int(&[0]))).contains("NOT NULL"));
        assert!(err(one(vec![], int(&[1, 2]))).contains("16 bytes of values in a batch of 1 rows"));
        let t = Arc::new(Schema::new(vec![Field::new("t", DataType::Utf8, true)]));
        let bad = TextData {
            bytes: b"xy".to_vec(),
            offsets: [2u32, 1].iter().flat_map(|o| o.to_le_bytes()).collect(),
        };
        assert!(to_record_batch(one(vec![], ColumnData::Text(bad)), &t)
            .unwrap_err()
            .contains("not increasing"));
        // A NULL slot may hold anything, even a value out of range.
        let n = Arc::new(Schema::new(vec![Field::new("n", DataType::Int8, true)]));
        assert_eq!(
            to_record_batch(one(vec![0], int(&[300])), &n)
                .unwrap()
                .column(0)
                .null_count(),
            1
        );
    }
}
