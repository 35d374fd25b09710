//! Column type inference from the first batch of an input.
//!
//! Candidates, narrowest first: int64, float64, bool, date32, timestamp, else utf8. A column
//! of only NULLs is utf8. Integers with a leading zero (`08638`) stay text: they are codes,
//! and a number would lose the zero.

use arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use arrow_cast::parse::Parser;

use super::convert::{parse_bool, NullMarkers};
use super::raw::RawColumn;

#[derive(Clone, Copy)]
struct Candidates {
    int: bool,
    float: bool,
    boolean: bool,
    date: bool,
    timestamp: bool,
    seen: bool,
}

pub(crate) fn infer_type(column: &RawColumn, nulls: &NullMarkers) -> DataType {
    let mut c = Candidates {
        int: true,
        float: true,
        boolean: true,
        date: true,
        timestamp: true,
        seen: false,
    };
    for row in 0..column.len() {
        let field = column.value(row);
        if nulls.is_null(field) {
            continue;
        }
        c.seen = true;
        let Ok(text) = std::str::from_utf8(field) else {
            return DataType::Utf8;
        };
        if is_code(text) {
            return DataType::Utf8;
        }
        c.int = c.int && is_int(text);
        c.float = c.float && (c.int || Float64Type::parse(text).is_some());
        c.boolean =
            c.boolean && parse_bool(field).is_some() && !field.iter().all(u8::is_ascii_digit);
        c.date = c.date && text.len() == 10 && Date32Type::parse(text).is_some();
        c.timestamp = c.timestamp
            && looks_like_timestamp(text)
            && TimestampMicrosecondType::parse(text).is_some();
        if !(c.int || c.float || c.boolean || c.date || c.timestamp) {
            return DataType::Utf8;
        }
    }
    match c {
        Candidates { seen: false, .. } => DataType::Utf8,
        Candidates { int: true, .. } => DataType::Int64,
        Candidates { float: true, .. } => DataType::Float64,
        Candidates { boolean: true, .. } => DataType::Boolean,
        Candidates { date: true, .. } => DataType::Date32,
        Candidates {
            timestamp: true, ..
        } => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => DataType::Utf8,
    }
}

fn is_int(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && Int64Type::parse(text).is_some()
}

/// Digits with a leading zero (`007`, `08638`): an identifier, not a number.
fn is_code(text: &str) -> bool {
    text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD` followed by a time: the parser alone also accepts bare numbers.
fn looks_like_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 16 && b[4] == b'-' && b[7] == b'-' && (b[10] == b' ' || b[10] == b'T')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[&str]) -> RawColumn {
        let mut c = RawColumn::default();
        c.offsets.push(0);
        for v in values {
            c.push(v.as_bytes()).unwrap();
        }
        c
    }

    fn infer(values: &[&str]) -> DataType {
        infer_type(&column(values), &NullMarkers::new(&["".to_string()]))
    }

    #[test]
    fn narrowest_type_that_fits_every_value() {
        assert_eq!(infer(&["1", "-2", ""]), DataType::Int64);
        assert_eq!(infer(&["1", "2.5"]), DataType::Float64);
        assert_eq!(infer(&["true", "FALSE"]), DataType::Boolean);
        assert_eq!(infer(&["2024-02-29", ""]), DataType::Date32);
        assert_eq!(
            infer(&["2024-02-29 10:00:00", "2024-03-01T00:00:00Z"]),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(infer(&["1", "x"]), DataType::Utf8);
        assert_eq!(infer(&["", ""]), DataType::Utf8);
    }

    #[test]
    fn impossible_dates_and_codes_stay_text() {
        assert_eq!(infer(&["2021-02-30"]), DataType::Utf8);
        assert_eq!(infer(&["08638", "12345"]), DataType::Utf8);
        assert_eq!(infer(&["0", "10"]), DataType::Int64);
        // "1"/"0" are ints, not booleans.
        assert_eq!(infer(&["1", "0"]), DataType::Int64);
    }
}
