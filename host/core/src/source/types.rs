//! The names of the Arrow types a source can produce, as written in `types`.

use arrow::datatypes::{DataType, TimeUnit};

use super::decimal::MAX_PRECISION;

/// The `types` name of an Arrow type the CSV reader can produce.
pub fn type_name(data_type: &DataType) -> Option<String> {
    if let DataType::Decimal128(precision, scale) = data_type {
        return Some(format!("decimal({precision},{scale})"));
    }
    Some(
        match data_type {
            DataType::Utf8 => "utf8",
            DataType::Boolean => "bool",
            DataType::Int8 => "int8",
            DataType::Int16 => "int16",
            DataType::Int32 => "int32",
            DataType::Int64 => "int64",
            DataType::UInt8 => "uint8",
            DataType::UInt16 => "uint16",
            DataType::UInt32 => "uint32",
            DataType::UInt64 => "uint64",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
            DataType::Date32 => "date32",
            DataType::Timestamp(TimeUnit::Microsecond, None) => "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz))
                if tz.as_ref() == "UTC" || tz.as_ref() == "+00:00" =>
            {
                "timestamp_utc"
            }
            _ => return None,
        }
        .to_string(),
    )
}

/// Arrow type names accepted in `types`.
pub fn parse_type(name: &str) -> Result<DataType, String> {
    let name = name.trim().to_ascii_lowercase();
    if let Some(args) = name
        .strip_prefix("decimal(")
        .or_else(|| name.strip_prefix("numeric("))
    {
        return parse_decimal(args.strip_suffix(')').unwrap_or("?"));
    }
    Ok(match name.as_str() {
        "utf8" | "string" | "str" | "text" => DataType::Utf8,
        "bool" | "boolean" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" | "int" | "bigint" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float32" | "float" => DataType::Float32,
        "float64" | "double" => DataType::Float64,
        "date32" | "date" => DataType::Date32,
        "timestamp" | "timestamp_us" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamp_utc" | "timestamptz" => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        other => return Err(format!("unknown type `{other}`")),
    })
}

/// `p,s` of `decimal(p,s)`: 1 <= p <= 38, 0 <= s <= p (an Arrow Decimal128, written to
/// Parquet as DECIMAL).
fn parse_decimal(args: &str) -> Result<DataType, String> {
    let usage = || {
        format!("`decimal({args})` must be decimal(PRECISION,SCALE) with 1 <= PRECISION <= {MAX_PRECISION} and 0 <= SCALE <= PRECISION")
    };
    let (p, s) = args.split_once(',').ok_or_else(usage)?;
    let p: u8 = p.trim().parse().map_err(|_| usage())?;
    let s: i8 = s.trim().parse().map_err(|_| usage())?;
    if !(1..=MAX_PRECISION).contains(&p) || s < 0 || s as u8 > p {
        return Err(usage());
    }
    Ok(DataType::Decimal128(p, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_name_their_precision_and_scale() {
        assert_eq!(parse_type("decimal(12,2)"), Ok(DataType::Decimal128(12, 2)));
        assert_eq!(
            parse_type(" Decimal(38, 0) "),
            Ok(DataType::Decimal128(38, 0))
        );
        assert_eq!(
            type_name(&DataType::Decimal128(12, 2)).as_deref(),
            Some("decimal(12,2)")
        );
        for bad in [
            "decimal(39,2)",
            "decimal(2,3)",
            "decimal(0,0)",
            "decimal(12)",
            "decimal(a,b)",
            "decimal(12,-1)",
        ] {
            assert!(parse_type(bad).is_err(), "{bad}");
        }
    }
}
