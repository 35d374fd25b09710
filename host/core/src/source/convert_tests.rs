//! Tests of `to_array`: raw fields to typed Arrow arrays for every `types` name, NULL markers and bad values.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, TimeUnit, TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};

use super::*;
use crate::source::parse_type;

/// 2024-02-29 in days since the epoch, and 10:00 that day in microseconds.
const LEAP_DAY: i32 = 19_782;
const LEAP_DAY_10H: i64 = 1_709_200_800_000_000;

fn column(fields: &[&[u8]]) -> RawColumn {
    let mut column = RawColumn::default();
    column.offsets.push(0);
    for field in fields {
        column.push(field).unwrap();
    }
    column
}

/// Converts `values` to the type named `type_name`, with "" and "NA" as NULL; a bad value as (row, value).
fn convert(values: &[&str], type_name: &str) -> Result<ArrayRef, (usize, String)> {
    let fields: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
    let nulls = NullMarkers::new(&["".into(), "NA".into()]);
    to_array(
        column(&fields),
        Conversion {
            data_type: &parse_type(type_name).unwrap(),
            nulls: &nulls,
            exact: false,
        },
    )
    .map_err(|bad| (bad.row, bad.value))
}

fn bad(values: &[&str], type_name: &str) -> (usize, String) {
    convert(values, type_name).unwrap_err()
}

fn values<T: ArrowPrimitiveType>(texts: &[&str], type_name: &str) -> Vec<Option<T::Native>> {
    convert(texts, type_name)
        .unwrap()
        .as_primitive::<T>()
        .iter()
        .collect()
}

#[test]
fn integers_parse_with_nulls_and_surrounding_blanks() {
    let array = convert(&["1", "-42", "", "NA", " 7 "], "int64").unwrap();
    assert_eq!(array.data_type(), &DataType::Int64);
    assert_eq!(array.null_count(), 2);
    assert_eq!(
        array.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(),
        [Some(1), Some(-42), None, None, Some(7)]
    );
    assert_eq!(
        values::<Int64Type>(&["9223372036854775807"], "bigint"),
        [Some(i64::MAX)]
    );
    assert_eq!(
        bad(&["1", "9223372036854775808"], "int64"),
        (1, "9223372036854775808".into())
    );
    assert_eq!(bad(&["1.0"], "int64"), (0, "1.0".into()));
    assert_eq!(bad(&["", "1e3"], "int"), (1, "1e3".into()));
}

#[test]
fn narrow_integers_refuse_out_of_range_values_with_their_row() {
    assert_eq!(
        values::<Int8Type>(&["127", "-128"], "int8"),
        [Some(127), Some(-128)]
    );
    assert_eq!(bad(&["1", "128"], "int8"), (1, "128".into()));
    assert_eq!(bad(&["-129"], "int8"), (0, "-129".into()));
    assert_eq!(
        values::<UInt8Type>(&["0", "255", "NA"], "uint8"),
        [Some(0), Some(255), None]
    );
    assert_eq!(bad(&["255", "", "256"], "uint8"), (2, "256".into()));
    assert_eq!(bad(&["-1"], "uint8"), (0, "-1".into()));
    assert_eq!(values::<Int16Type>(&["-32768"], "int16"), [Some(i16::MIN)]);
    assert_eq!(bad(&["32768"], "int16"), (0, "32768".into()));
    assert_eq!(
        values::<Int32Type>(&["2147483647"], "int32"),
        [Some(i32::MAX)]
    );
    assert_eq!(values::<UInt16Type>(&["65535"], "uint16"), [Some(u16::MAX)]);
    assert_eq!(
        values::<UInt32Type>(&["4294967295"], "uint32"),
        [Some(u32::MAX)]
    );
    assert_eq!(
        values::<UInt64Type>(&["18446744073709551615"], "uint64"),
        [Some(u64::MAX)]
    );
    assert_eq!(
        bad(&["18446744073709551616"], "uint64"),
        (0, "18446744073709551616".into())
    );
}

#[test]
fn floats_parse_plain_and_scientific_forms() {
    assert_eq!(
        values::<Float64Type>(&["1.5", "-2e3", "3", "", " 4.25 "], "float64"),
        [Some(1.5), Some(-2000.0), Some(3.0), None, Some(4.25)]
    );
    assert_eq!(
        values::<Float32Type>(&["0.25", "NA"], "float"),
        [Some(0.25), None]
    );
    assert_eq!(
        convert(&["1"], "float32").unwrap().data_type(),
        &DataType::Float32
    );
    assert_eq!(bad(&["1", "1,5"], "double"), (1, "1,5".into()));
    assert_eq!(bad(&["abc"], "float32"), (0, "abc".into()));
}

#[test]
fn booleans_accept_true_false_one_and_zero_in_any_case() {
    let array = convert(
        &["true", "TRUE", "True", "1", "false", "FALSE", "0", "", "NA"],
        "bool",
    )
    .unwrap();
    let got: Vec<Option<bool>> = array.as_boolean().iter().collect();
    let (t, f) = (Some(true), Some(false));
    assert_eq!(got, [t, t, t, t, f, f, f, None, None]);
    assert_eq!((parse_bool(b"tRuE"), parse_bool(b"0")), (t, f));
}

#[test]
fn booleans_refuse_other_spellings_with_their_row() {
    for spelling in ["yes", "no", "t", "f", "Y", "2", " true", "on"] {
        assert_eq!(parse_bool(spelling.as_bytes()), None, "{spelling:?}");
    }
    assert_eq!(bad(&["true", "yes"], "boolean"), (1, "yes".into()));
    assert_eq!(bad(&["0", "1", "-1"], "bool"), (2, "-1".into()));
}

#[test]
fn dates_accept_iso_compact_and_datetime_forms() {
    assert_eq!(
        values::<Date32Type>(
            &[
                "2024-02-29",
                "20240229",
                "2024-02-29T10:00:00",
                "1970-01-01",
                ""
            ],
            "date32"
        ),
        [
            Some(LEAP_DAY),
            Some(LEAP_DAY),
            Some(LEAP_DAY),
            Some(0),
            None
        ]
    );
    assert_eq!(
        bad(&["2024-02-28", "2024-02-30"], "date"),
        (1, "2024-02-30".into())
    );
    assert_eq!(bad(&["29/02/2024"], "date32"), (0, "29/02/2024".into()));
}

#[test]
fn timestamps_accept_iso_forms_offsets_and_fractions() {
    let forms = [
        "2024-02-29 10:00:00",
        "2024-02-29T10:00:00Z",
        "2024-02-29T12:00:00+02:00",
        "2024-02-29T10:00:00.5",
    ];
    let array = convert(&forms, "timestamp").unwrap();
    assert_eq!(
        array.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    let got: Vec<Option<i64>> = array
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect();
    assert_eq!(
        got,
        [
            Some(LEAP_DAY_10H),
            Some(LEAP_DAY_10H),
            Some(LEAP_DAY_10H),
            Some(LEAP_DAY_10H + 500_000)
        ]
    );
    let midnight = i64::from(LEAP_DAY) * 86_400_000_000;
    assert_eq!(
        values::<TimestampMicrosecondType>(&["2024-02-29", "NA"], "timestamp_us"),
        [Some(midnight), None]
    );
    assert_eq!(
        bad(&["2024-02-29 10:00:00", "2024-02-29 25:00:00"], "timestamp"),
        (1, "2024-02-29 25:00:00".into())
    );
    assert_eq!(bad(&["yesterday"], "timestamp"), (0, "yesterday".into()));
}

#[test]
fn utc_timestamps_keep_their_zone_in_the_type() {
    let array = convert(&["2024-02-29T12:00:00+02:00", ""], "timestamp_utc").unwrap();
    assert_eq!(
        array.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    let got: Vec<Option<i64>> = array
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect();
    assert_eq!(got, [Some(LEAP_DAY_10H), None]);
}

#[test]
fn text_keeps_every_value_but_the_null_markers() {
    let array = convert(&["a", "", "NA", "na", " "], "utf8").unwrap();
    assert_eq!(array.data_type(), &DataType::Utf8);
    assert_eq!(
        array.as_string::<i32>().iter().collect::<Vec<_>>(),
        [Some("a"), None, None, Some("na"), Some(" ")]
    );
    let fields: [&[u8]; 3] = [b"ok", b"", b"\xff"];
    let nulls = NullMarkers::new(&["".into()]);
    let Err(bad) = to_array(column(&fields), conversion(&DataType::Utf8, &nulls)) else {
        panic!("invalid UTF-8 was accepted")
    };
    assert_eq!(bad.row, 2);
    assert!(bad.value.ends_with("(not valid UTF-8)"), "{}", bad.value);
}

#[test]
fn null_markers_match_whole_fields_only() {
    let nulls = NullMarkers::new(&["".into(), "NA".into()]);
    assert!(nulls.is_null(b"") && nulls.is_null(b"NA"));
    for field in ["na", "NA ", " NA", "NAN", " "] {
        assert!(!nulls.is_null(field.as_bytes()), "{field:?}");
    }
    // Without "" among the markers an empty field is a value, which an integer column refuses.
    let no_empty = NullMarkers::new(&["NULL".into()]);
    assert!(!no_empty.is_null(b"") && no_empty.is_null(b"NULL"));
    let fields: [&[u8]; 3] = [b"1", b"NULL", b""];
    let Err(bad) = to_array(column(&fields), conversion(&DataType::Int64, &no_empty)) else {
        panic!("an empty int was accepted")
    };
    assert_eq!((bad.row, bad.value.as_str()), (2, ""));
}

fn conversion<'a>(data_type: &'a DataType, nulls: &'a NullMarkers) -> Conversion<'a> {
    Conversion {
        data_type,
        nulls,
        exact: false,
    }
}

#[test]
fn decimals_parse_exactly_with_blanks_around() {
    let array = convert(&["12.50", " -0.07 ", "", "1"], "decimal(12,2)").unwrap();
    let decimals = array.as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(decimals.data_type(), &DataType::Decimal128(12, 2));
    assert_eq!(decimals.value(0), 1250);
    assert_eq!(decimals.value(1), -7);
    assert!(decimals.is_null(2));
    assert_eq!(decimals.value(3), 100);
    assert_eq!(
        convert(&["1.00", "1.005"], "decimal(12,2)").unwrap_err(),
        (1, "1.005".into()),
        "never rounded"
    );
}

#[test]
fn an_inferred_float_column_refuses_a_value_it_would_round() {
    let fields: Vec<&[u8]> = vec![b"0.5", b"12345678901234567.89"];
    let nulls = NullMarkers::new(&["".into()]);
    let exact = Conversion {
        exact: true,
        ..conversion(&DataType::Float64, &nulls)
    };
    let bad = to_array(column(&fields), exact).unwrap_err();
    assert_eq!((bad.row, bad.value.as_str()), (1, "12345678901234567.89"));
    assert!(to_array(column(&fields), conversion(&DataType::Float64, &nulls)).is_ok());
}

#[test]
fn blank_padded_numbers_parse_and_blank_fields_are_null() {
    let array = convert(&[" 42", "7 ", "  "], "int64").unwrap();
    let ints = array.as_primitive::<Int64Type>();
    assert_eq!((ints.value(0), ints.value(1)), (42, 7));
    assert!(ints.is_null(2));
}
