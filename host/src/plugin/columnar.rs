//! Arrow to and from the `columnar` contract's typed columns, for plugins built on the
//! columnar world (the Python SDK). The host does this natively so that a guest needs no
//! Arrow library: it sees each column as a list of optional values.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, PrimitiveArray, PrimitiveBuilder, StringArray};
use arrow::datatypes::{
    DataType, Date32Type, Field, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, Schema, SchemaRef,
    TimeUnit, TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::bindings::columnar::exports::sluice::plugin::columnar::{
    Batch as WitBatch, Column, ColumnType, Field as WitField,
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
                return Err(format!("column `{}` is {}, which the columnar contract does not carry", f.name(), f.data_type()));
            };
            Ok(WitField { name: f.name().clone(), type_: t, nullable: f.is_nullable() })
        })
        .collect()
}

pub(crate) fn to_schema(fields: &[WitField]) -> SchemaRef {
    Arc::new(Schema::new(
        fields.iter().map(|f| Field::new(f.name.clone(), data_type(f.type_), f.nullable)).collect::<Vec<_>>(),
    ))
}

/// A batch as typed columns, in schema order.
pub(crate) fn to_columns(batch: &RecordBatch) -> Result<WitBatch, String> {
    let columns = batch
        .columns()
        .iter()
        .zip(batch.schema().fields())
        .map(|(array, field)| to_column(array).map_err(|e| format!("column `{}`: {e}", field.name())))
        .collect::<Result<_, _>>()?;
    let rows = u32::try_from(batch.num_rows()).map_err(|_| "a batch of more than 4 billion rows".to_string())?;
    Ok(WitBatch { rows, columns })
}

fn to_column(array: &ArrayRef) -> Result<Column, String> {
    let plain_type = match array.data_type() {
        DataType::Dictionary(_, values) => Some(values.as_ref().clone()),
        DataType::LargeUtf8 | DataType::Utf8View => Some(DataType::Utf8),
        _ => None,
    };
    if let Some(target) = plain_type {
        let plain = arrow::compute::cast(array, &target).map_err(|e| e.to_string())?;
        return to_column(&plain);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Column::Boolean(array.as_boolean().iter().collect()),
        DataType::Int8 => Column::Int(widen::<Int8Type, i64>(array)),
        DataType::Int16 => Column::Int(widen::<Int16Type, i64>(array)),
        DataType::Int32 => Column::Int(widen::<Int32Type, i64>(array)),
        DataType::Int64 => Column::Int(widen::<Int64Type, i64>(array)),
        DataType::Date32 => Column::Int(widen::<Date32Type, i64>(array)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Column::Int(widen::<TimestampMicrosecondType, i64>(array)),
        DataType::UInt8 => Column::Uint(widen::<UInt8Type, u64>(array)),
        DataType::UInt16 => Column::Uint(widen::<UInt16Type, u64>(array)),
        DataType::UInt32 => Column::Uint(widen::<UInt32Type, u64>(array)),
        DataType::UInt64 => Column::Uint(widen::<UInt64Type, u64>(array)),
        DataType::Float32 => Column::Float(widen::<Float32Type, f64>(array)),
        DataType::Float64 => Column::Float(widen::<Float64Type, f64>(array)),
        DataType::Utf8 => Column::Text(array.as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect()),
        other => return Err(format!("type {other} is not carried by the columnar contract")),
    })
}

fn widen<T: ArrowPrimitiveType, W: From<T::Native>>(array: &ArrayRef) -> Vec<Option<W>> {
    array.as_primitive::<T>().iter().map(|v| v.map(W::from)).collect()
}

/// Builds a batch of `schema` from a guest's columns, checking each column's case, length,
/// value range and nullability against the schema.
pub(crate) fn to_record_batch(batch: WitBatch, schema: &SchemaRef) -> Result<RecordBatch, String> {
    if batch.columns.len() != schema.fields().len() {
        return Err(format!("expected {} columns, got {}", schema.fields().len(), batch.columns.len()));
    }
    let rows = batch.rows as usize;
    let arrays = batch
        .columns
        .into_iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            let array = to_array(column, field.data_type(), rows).map_err(|e| format!("column `{}`: {e}", field.name()))?;
            if !field.is_nullable() && array.null_count() > 0 {
                return Err(format!("column `{}` is NOT NULL but has {} NULLs", field.name(), array.null_count()));
            }
            Ok(array)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(|e| e.to_string())
}

fn to_array(column: Column, data_type: &DataType, rows: usize) -> Result<ArrayRef, String> {
    let len = match &column {
        Column::Boolean(v) => v.len(),
        Column::Int(v) => v.len(),
        Column::Uint(v) => v.len(),
        Column::Float(v) => v.len(),
        Column::Text(v) => v.len(),
    };
    if len != rows {
        return Err(format!("{len} values in a batch of {rows} rows"));
    }
    Ok(match (data_type, column) {
        (DataType::Boolean, Column::Boolean(v)) => Arc::new(BooleanArray::from(v)),
        (DataType::Int8, Column::Int(v)) => Arc::new(narrow::<Int8Type, _>(v)?),
        (DataType::Int16, Column::Int(v)) => Arc::new(narrow::<Int16Type, _>(v)?),
        (DataType::Int32, Column::Int(v)) => Arc::new(narrow::<Int32Type, _>(v)?),
        (DataType::Int64, Column::Int(v)) => Arc::new(PrimitiveArray::<Int64Type>::from(v)),
        (DataType::Date32, Column::Int(v)) => Arc::new(narrow::<Date32Type, _>(v)?),
        (DataType::Timestamp(TimeUnit::Microsecond, tz), Column::Int(v)) => {
            Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(v).with_timezone_opt(tz.clone()))
        }
        (DataType::UInt8, Column::Uint(v)) => Arc::new(narrow::<UInt8Type, _>(v)?),
        (DataType::UInt16, Column::Uint(v)) => Arc::new(narrow::<UInt16Type, _>(v)?),
        (DataType::UInt32, Column::Uint(v)) => Arc::new(narrow::<UInt32Type, _>(v)?),
        (DataType::UInt64, Column::Uint(v)) => Arc::new(PrimitiveArray::<UInt64Type>::from(v)),
        // float32 output is rounded to the nearest float32, as any writer of float32 would.
        (DataType::Float32, Column::Float(v)) => {
            Arc::new(v.into_iter().map(|x| x.map(|x| x as f32)).collect::<PrimitiveArray<Float32Type>>())
        }
        (DataType::Float64, Column::Float(v)) => Arc::new(PrimitiveArray::<Float64Type>::from(v)),
        (DataType::Utf8, Column::Text(v)) => Arc::new(StringArray::from(v)),
        (expected, column) => return Err(format!("expected {expected} values, got {} values", case_name(&column))),
    })
}

fn narrow<T: ArrowPrimitiveType, S: Copy + std::fmt::Display>(values: Vec<Option<S>>) -> Result<PrimitiveArray<T>, String>
where
    T::Native: TryFrom<S>,
{
    let mut builder = PrimitiveBuilder::<T>::with_capacity(values.len());
    for (row, value) in values.into_iter().enumerate() {
        match value {
            None => builder.append_null(),
            Some(v) => builder.append_value(
                T::Native::try_from(v).map_err(|_| format!("row {row}: value {v} does not fit {}", T::DATA_TYPE))?,
            ),
        }
    }
    Ok(builder.finish())
}

fn case_name(column: &Column) -> &'static str {
    match column {
        Column::Boolean(_) => "boolean",
        Column::Int(_) => "int",
        Column::Uint(_) => "uint",
        Column::Float(_) => "float",
        Column::Text(_) => "text",
    }
}

/// About what a batch weighs in host memory, for the per-call output cap.
pub(crate) fn payload_bytes(batch: &WitBatch) -> usize {
    batch
        .columns
        .iter()
        .map(|c| match c {
            Column::Boolean(v) => v.len(),
            Column::Int(v) => v.len() * 8,
            Column::Uint(v) => v.len() * 8,
            Column::Float(v) => v.len() * 8,
            Column::Text(v) => v.iter().map(|s| s.as_ref().map_or(0, String::len) + 4).sum(),
        })
        .sum()
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
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
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
        assert!(matches!(&columns.columns[1], Column::Text(v) if v == &vec![Some("a".to_string()), None]));
        let back = to_record_batch(columns, &schema()).unwrap();
        assert_eq!(back, batch());
        assert_eq!(to_schema(&to_fields(&schema()).unwrap()), schema());
    }

    #[test]
    fn wrong_cases_lengths_ranges_and_nulls_are_refused() {
        let s = Arc::new(Schema::new(vec![Field::new("n", DataType::Int8, false)]));
        let one = |c| WitBatch { rows: 1, columns: vec![c] };
        let err = |b| to_record_batch(b, &s).unwrap_err();
        assert!(err(one(Column::Text(vec![Some("x".into())]))).contains("expected Int8 values, got text"));
        assert!(err(one(Column::Int(vec![Some(300)]))).contains("value 300 does not fit Int8"));
        assert!(err(one(Column::Int(vec![None]))).contains("NOT NULL"));
        assert!(err(WitBatch { rows: 2, columns: vec![Column::Int(vec![Some(1)])] }).contains("1 values in a batch of 2 rows"));
    }
}
