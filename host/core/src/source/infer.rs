//! Column type inference from the first batch of an input.
//!
//! Candidates, narrowest first: int64, float64, bool, date32, timestamp, else utf8. A column
//! of only NULLs is utf8. Inference never loses a digit:
//! - integers past int64 become `decimal(38,0)` (text past 38 digits);
//! - numbers with a fraction are float64 only if every value reads back from the double as
//!   written; otherwise `decimal(p,s)` sized to the column, or text past 38 digits;
//! - integers with a leading zero (`08638`) stay text: they are codes;
//! - timestamps with an offset or `Z` are `timestamp_utc`, converted to UTC; a column that
//!   mixes them with timestamps without one stays text, since nothing says what zone those are.
//!
//! Whitespace around a value of any type but text is ignored (see [`super::convert::trim`]).

use arrow::datatypes::{DataType, Date32Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use arrow_cast::parse::Parser;

use super::convert::{parse_bool, parse_f64, trim, NullMarkers};
use super::decimal::{fits_float64, Literal, MAX_PRECISION};
use super::raw::RawColumn;

/// What the numbers of a column have needed so far.
#[derive(Clone, Copy)]
struct Numbers {
    /// Every value an integer; every one within int64.
    int: bool,
    int64: bool,
    /// Every value a number; every one kept whole by a float64.
    float: bool,
    float_exact: bool,
    /// Every value plain notation, and the widest integer part and fraction seen.
    plain: bool,
    integer_digits: usize,
    scale: usize,
}

impl Numbers {
    fn new() -> Self {
        Numbers {
            int: true,
            int64: true,
            float: true,
            float_exact: true,
            plain: true,
            integer_digits: 0,
            scale: 0,
        }
    }

    fn see(&mut self, text: &[u8]) {
        let literal = Literal::parse(text);
        let value = parse_f64(text);
        self.float = self.float && value.is_some();
        self.plain = self.plain && literal.is_some();
        let Some(literal) = literal else {
            self.int = false;
            return;
        };
        self.int = self.int && literal.fraction.is_empty() && !text.contains(&b'.');
        self.int64 = self.int64 && self.int && Int64Type::parse(as_str(text)).is_some();
        let (precision, scale) = literal.shape();
        self.integer_digits = self.integer_digits.max(precision - scale);
        self.scale = self.scale.max(scale);
        if let Some(value) = value {
            self.float_exact = self.float_exact && fits_float64(&literal, value);
        }
    }

    fn any(&self) -> bool {
        self.int || self.float
    }

    /// The number type that holds every value seen whole, if any.
    fn data_type(&self) -> Option<DataType> {
        let precision = self.integer_digits + self.scale;
        let decimal = (self.plain && precision <= MAX_PRECISION as usize)
            .then(|| DataType::Decimal128(precision.max(1) as u8, self.scale as i8));
        match *self {
            Numbers {
                int: true,
                int64: true,
                ..
            } => Some(DataType::Int64),
            Numbers { int: true, .. } => decimal.map(|_| DataType::Decimal128(MAX_PRECISION, 0)),
            Numbers {
                float: true,
                float_exact: true,
                ..
            } => Some(DataType::Float64),
            _ => decimal,
        }
    }
}

#[derive(Clone, Copy)]
struct Candidates {
    numbers: Numbers,
    boolean: bool,
    date: bool,
    /// Timestamps, without and with an offset.
    naive: bool,
    zoned: bool,
    seen: bool,
}

impl Candidates {
    fn any(&self) -> bool {
        self.numbers.any() || self.boolean || self.date || self.naive || self.zoned
    }
}

pub(crate) fn infer_type(column: &RawColumn, nulls: &NullMarkers) -> DataType {
    let mut c = Candidates {
        numbers: Numbers::new(),
        boolean: true,
        date: true,
        naive: true,
        zoned: true,
        seen: false,
    };
    for row in 0..column.len() {
        let field = column.value(row);
        if nulls.is_null_typed(field) {
            continue;
        }
        c.seen = true;
        let field = trim(field);
        if std::str::from_utf8(field).is_err() || is_code(field) {
            return DataType::Utf8;
        }
        see(&mut c, field);
        if !c.any() {
            return DataType::Utf8;
        }
    }
    decide(&c)
}

fn see(c: &mut Candidates, field: &[u8]) {
    let text = as_str(field);
    if c.numbers.any() {
        c.numbers.see(field);
    }
    c.boolean = c.boolean && parse_bool(field).is_some() && !field.iter().all(u8::is_ascii_digit);
    c.date = c.date && text.len() == 10 && Date32Type::parse(text).is_some();
    if c.naive || c.zoned {
        let timestamp =
            looks_like_timestamp(field) && TimestampMicrosecondType::parse(text).is_some();
        let zoned = has_offset(field);
        c.naive = c.naive && timestamp && !zoned;
        c.zoned = c.zoned && timestamp && zoned;
    }
}

fn decide(c: &Candidates) -> DataType {
    if !c.seen {
        return DataType::Utf8;
    }
    if let Some(number) = c.numbers.any().then(|| c.numbers.data_type()).flatten() {
        return number;
    }
    if c.boolean {
        DataType::Boolean
    } else if c.date {
        DataType::Date32
    } else if c.naive {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    } else if c.zoned {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    } else {
        DataType::Utf8
    }
}

fn as_str(field: &[u8]) -> &str {
    std::str::from_utf8(field).unwrap_or_default()
}

/// Digits with a leading zero (`007`, `08638`): an identifier, not a number.
fn is_code(field: &[u8]) -> bool {
    field.len() > 1 && field[0] == b'0' && field.iter().all(u8::is_ascii_digit)
}

/// `YYYY-MM-DD` followed by a time: the parser alone also accepts bare numbers.
fn looks_like_timestamp(b: &[u8]) -> bool {
    b.len() >= 16 && b[4] == b'-' && b[7] == b'-' && (b[10] == b' ' || b[10] == b'T')
}

/// A `Z` or a `+hh:mm` / `-hh:mm` offset after the time.
fn has_offset(b: &[u8]) -> bool {
    b.len() > 11
        && b[11..]
            .iter()
            .any(|&c| c == b'Z' || c == b'z' || c == b'+' || c == b'-')
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
            infer(&["2024-02-29 10:00:00", "2024-03-01T00:00:00.5"]),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(infer(&["1", "x"]), DataType::Utf8);
        assert_eq!(infer(&["", ""]), DataType::Utf8);
    }

    #[test]
    fn numbers_keep_every_digit() {
        assert_eq!(
            infer(&["1", "9223372036854775808"]),
            DataType::Decimal128(38, 0),
            "past int64"
        );
        assert_eq!(
            infer(&["1", &"9".repeat(39)]),
            DataType::Utf8,
            "past 38 digits"
        );
        assert_eq!(infer(&["0.1", "2.25", "1e3"]), DataType::Float64);
        assert_eq!(infer(&["0.30000000000000004"]), DataType::Float64);
        assert_eq!(
            infer(&["12345678901234567.89", "-0.5"]),
            DataType::Decimal128(19, 2)
        );
        assert_eq!(infer(&["12345678901234567.89", "1e3"]), DataType::Utf8);
    }

    #[test]
    fn blanks_around_values_are_ignored() {
        assert_eq!(infer(&[" 12", "13 ", "\t", "14"]), DataType::Int64);
        assert_eq!(infer(&[" 1.5 "]), DataType::Float64);
        assert_eq!(infer(&[" 2024-01-01 "]), DataType::Date32);
    }

    #[test]
    fn offsets_make_utc_timestamps() {
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        assert_eq!(
            infer(&["2024-01-01T00:00:00+02:00", "2024-01-01T00:00:00Z"]),
            utc
        );
        assert_eq!(infer(&["2024-01-01 00:00:00-05:00"]), utc);
        assert_eq!(
            infer(&["2024-01-01T00:00:00+02:00", "2024-01-01T00:00:00"]),
            DataType::Utf8,
            "mixed: nothing says which zone the naive one is in"
        );
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
