//! Raw field bytes to typed Arrow arrays, one column at a time.

use std::sync::Arc;

use arrow::array::BooleanBufferBuilder;
use arrow::array::{ArrayRef, BooleanBuilder, Decimal128Builder, PrimitiveArray, StringArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::*;
use arrow_cast::parse::Parser;

use super::decimal::{fits_float64, Literal};
use super::iso_time::IsoTimes;
use super::raw::RawColumn;

/// The values that mean NULL, compared with the whole field.
pub(crate) struct NullMarkers {
    empty: bool,
    others: Vec<Vec<u8>>,
}

impl NullMarkers {
    pub fn new(markers: &[String]) -> Self {
        NullMarkers {
            empty: markers.iter().any(String::is_empty),
            others: markers
                .iter()
                .filter(|m| !m.is_empty())
                .map(|m| m.as_bytes().to_vec())
                .collect(),
        }
    }

    #[inline]
    pub fn is_null(&self, field: &[u8]) -> bool {
        if field.is_empty() {
            return self.empty;
        }
        self.others.iter().any(|m| m.as_slice() == field)
    }

    /// For columns of any type but text, where blanks around a value do not count: a
    /// field of only blanks is NULL when the empty field is.
    #[inline]
    pub fn is_null_typed(&self, field: &[u8]) -> bool {
        self.is_null(field) || (self.empty && trim(field).is_empty())
    }
}

/// The whitespace rule: spaces and tabs (and a stray `\r`) around a number, boolean, date,
/// timestamp or decimal are ignored, so ` 42 ` is 42. Text keeps every byte.
#[inline]
pub(crate) fn trim(field: &[u8]) -> &[u8] {
    match (field.first(), field.last()) {
        (Some(a), Some(b)) if !is_blank(*a) && !is_blank(*b) => field,
        _ => field.trim_ascii(),
    }
}

#[inline]
fn is_blank(b: u8) -> bool {
    b.is_ascii_whitespace()
}

/// How a column's values become an array.
#[derive(Clone, Copy)]
pub(crate) struct Conversion<'a> {
    pub data_type: &'a DataType,
    pub nulls: &'a NullMarkers,
    /// The type was inferred: a float64 value that would lose a digit is an error (with a
    /// hint to declare the column), not silently rounded.
    pub exact: bool,
}

/// A field that does not parse as its column's type: the row (in the batch) and the value.
pub(crate) struct BadValue {
    pub row: usize,
    pub value: String,
}

impl BadValue {
    fn at(column: &RawColumn, row: usize) -> Self {
        BadValue {
            row,
            value: String::from_utf8_lossy(column.value(row)).into_owned(),
        }
    }
}

/// Converts one raw column to an array of `data_type`. Text columns take over the raw
/// buffers without copying.
pub(crate) fn to_array(column: RawColumn, how: Conversion) -> Result<ArrayRef, BadValue> {
    let (data_type, nulls) = (how.data_type, how.nulls);
    if *data_type == DataType::Utf8 {
        return to_strings(column, nulls);
    }
    let column = &column;
    match data_type {
        DataType::Boolean => to_booleans(column, nulls),
        DataType::Int8 => parse_all::<Int8Type>(column, nulls, data_type),
        DataType::Int16 => parse_all::<Int16Type>(column, nulls, data_type),
        DataType::Int32 => parse_all::<Int32Type>(column, nulls, data_type),
        DataType::Int64 => parse_all::<Int64Type>(column, nulls, data_type),
        DataType::UInt8 => parse_all::<UInt8Type>(column, nulls, data_type),
        DataType::UInt16 => parse_all::<UInt16Type>(column, nulls, data_type),
        DataType::UInt32 => parse_all::<UInt32Type>(column, nulls, data_type),
        DataType::UInt64 => parse_all::<UInt64Type>(column, nulls, data_type),
        DataType::Float32 => parse_all::<Float32Type>(column, nulls, data_type),
        DataType::Float64 if how.exact => {
            parse_with::<Float64Type>(column, nulls, data_type, exact_f64)
        }
        DataType::Float64 => parse_all::<Float64Type>(column, nulls, data_type),
        DataType::Decimal128(precision, scale) => to_decimals(column, nulls, *precision, *scale),
        DataType::Date32 => {
            let mut iso = IsoTimes::default();
            parse_with::<Date32Type>(column, nulls, data_type, |field| {
                iso.date(field)
                    .or_else(|| std::str::from_utf8(field).ok().and_then(Date32Type::parse))
            })
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let mut iso = IsoTimes::default();
            parse_with::<TimestampMicrosecondType>(column, nulls, data_type, |field| {
                iso.micros(field).or_else(|| {
                    std::str::from_utf8(field)
                        .ok()
                        .and_then(TimestampMicrosecondType::parse)
                })
            })
        }
        other => unreachable!("parse_type never yields {other}"),
    }
}

fn null_buffer(column: &RawColumn, nulls: &NullMarkers) -> Option<NullBuffer> {
    let valid = BooleanBuffer::collect_bool(column.len(), |r| !nulls.is_null(column.value(r)));
    let buffer = NullBuffer::new(valid);
    (buffer.null_count() > 0).then_some(buffer)
}

fn to_strings(column: RawColumn, nulls: &NullMarkers) -> Result<ArrayRef, BadValue> {
    let validity = null_buffer(&column, nulls);
    if std::str::from_utf8(&column.data).is_err() {
        return Err(first_invalid_utf8(&column));
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(column.offsets));
    let values = Buffer::from_vec(column.data);
    // Fields split at ASCII delimiters, so a valid buffer has valid fields; try_new still
    // checks every offset is on a character boundary.
    let array = StringArray::try_new(offsets, values, validity).map_err(|e| BadValue {
        row: 0,
        value: e.to_string(),
    })?;
    Ok(Arc::new(array))
}

fn first_invalid_utf8(column: &RawColumn) -> BadValue {
    let row = (0..column.len())
        .find(|&r| std::str::from_utf8(column.value(r)).is_err())
        .unwrap_or(0);
    BadValue {
        row,
        value: format!(
            "{} (not valid UTF-8)",
            String::from_utf8_lossy(column.value(row))
        ),
    }
}

fn to_booleans(column: &RawColumn, nulls: &NullMarkers) -> Result<ArrayRef, BadValue> {
    let mut builder = BooleanBuilder::with_capacity(column.len());
    for row in 0..column.len() {
        let field = column.value(row);
        if nulls.is_null_typed(field) {
            builder.append_null();
            continue;
        }
        match parse_bool(trim(field)) {
            Some(b) => builder.append_value(b),
            None => return Err(BadValue::at(column, row)),
        }
    }
    Ok(Arc::new(builder.finish()))
}

pub(crate) fn parse_bool(field: &[u8]) -> Option<bool> {
    if field.eq_ignore_ascii_case(b"true") || field == b"1" {
        Some(true)
    } else if field.eq_ignore_ascii_case(b"false") || field == b"0" {
        Some(false)
    } else {
        None
    }
}

/// Parses field bytes as `T`. Integers and floats parse straight from bytes; other types go
/// through arrow's string parsers.
trait FromField: ArrowPrimitiveType {
    fn from_field(field: &[u8]) -> Option<Self::Native>;
}

macro_rules! from_str_field {
    ($($t:ty),*) => {$(
        impl FromField for $t {
            #[inline]
            fn from_field(field: &[u8]) -> Option<Self::Native> {
                std::str::from_utf8(field).ok().and_then(<$t as Parser>::parse)
            }
        }
    )*};
}
from_str_field!(
    Int8Type,
    Int16Type,
    Int32Type,
    UInt8Type,
    UInt16Type,
    UInt32Type,
    UInt64Type,
    Float32Type
);

impl FromField for Int64Type {
    #[inline]
    fn from_field(field: &[u8]) -> Option<i64> {
        match atoi::FromRadix10SignedChecked::from_radix_10_signed_checked(field) {
            (Some(n), used) if used == field.len() && used > 0 => Some(n),
            // Leading or trailing blanks: the general parser trims them.
            _ => std::str::from_utf8(field).ok().and_then(Int64Type::parse),
        }
    }
}

impl FromField for Float64Type {
    #[inline]
    fn from_field(field: &[u8]) -> Option<f64> {
        parse_f64(field)
    }
}

#[inline]
pub(crate) fn parse_f64(field: &[u8]) -> Option<f64> {
    lexical_core::parse(field)
        .ok()
        .or_else(|| std::str::from_utf8(field).ok().and_then(Float64Type::parse))
}

/// A float64 that refuses a value the double cannot hold digit for digit.
#[inline]
fn exact_f64(field: &[u8]) -> Option<f64> {
    let value = parse_f64(field)?;
    // Up to 15 digits a double always reads back as written: only longer ones are checked.
    if field.len() <= 16 {
        return Some(value);
    }
    match Literal::parse(field) {
        Some(literal) if !fits_float64(&literal, value) => None,
        _ => Some(value),
    }
}

fn to_decimals(
    column: &RawColumn,
    nulls: &NullMarkers,
    precision: u8,
    scale: i8,
) -> Result<ArrayRef, BadValue> {
    let mut builder = Decimal128Builder::with_capacity(column.len());
    for row in 0..column.len() {
        let field = column.value(row);
        if nulls.is_null_typed(field) {
            builder.append_null();
            continue;
        }
        match Literal::parse(trim(field)).and_then(|l| l.to_scaled(precision, scale)) {
            Some(value) => builder.append_value(value),
            None => return Err(BadValue::at(column, row)),
        }
    }
    let array = builder
        .finish()
        .with_precision_and_scale(precision, scale)
        .map_err(|e| BadValue {
            row: 0,
            value: e.to_string(),
        })?;
    Ok(Arc::new(array))
}

fn parse_all<T: FromField>(
    column: &RawColumn,
    nulls: &NullMarkers,
    data_type: &DataType,
) -> Result<ArrayRef, BadValue> {
    parse_with::<T>(column, nulls, data_type, T::from_field)
}

fn parse_with<T: ArrowPrimitiveType>(
    column: &RawColumn,
    nulls: &NullMarkers,
    data_type: &DataType,
    mut parse: impl FnMut(&[u8]) -> Option<T::Native>,
) -> Result<ArrayRef, BadValue> {
    let rows = column.len();
    let mut values = Vec::with_capacity(rows);
    // Validity bits only from the first NULL on: most columns have none.
    let mut valid: Option<BooleanBufferBuilder> = None;
    for row in 0..rows {
        let field = column.value(row);
        if nulls.is_null_typed(field) {
            values.push(T::Native::default());
            valid
                .get_or_insert_with(|| {
                    let mut bits = BooleanBufferBuilder::new(rows);
                    bits.append_n(row, true);
                    bits
                })
                .append(false);
            continue;
        }
        match parse(trim(field)) {
            Some(v) => values.push(v),
            None => return Err(BadValue::at(column, row)),
        }
        if let Some(bits) = &mut valid {
            bits.append(true);
        }
    }
    let validity = valid.map(|mut bits| NullBuffer::new(bits.finish()));
    let array = PrimitiveArray::<T>::new(ScalarBuffer::from(values), validity)
        .with_data_type(data_type.clone());
    Ok(Arc::new(array))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
