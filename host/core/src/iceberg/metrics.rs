//! A data file's column statistics for its manifest entry, read from the Parquet footer
//! the writer produced: sizes, value and null counts, and lower and upper bounds in
//! Iceberg's single-value binary form (so engines prune files on predicates).

use std::collections::BTreeMap;

use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;

use super::manifest::DataFile;
use super::schema::IcebergField;

/// The statistics of every top-level column of `fields` found in the footer.
pub fn fill(file: &mut DataFile, footer: &ParquetMetaData, fields: &[IcebergField]) {
    let mut bounds: BTreeMap<i32, (Option<Bound>, Option<Bound>)> = BTreeMap::new();
    for group in footer.row_groups() {
        for chunk in group.columns() {
            let path = chunk.column_path().parts();
            let Some(field) = fields.iter().find(|f| path.len() == 1 && path[0] == f.name) else {
                continue;
            };
            *file.column_sizes.entry(field.id).or_default() += chunk.compressed_size();
            *file.value_counts.entry(field.id).or_default() += chunk.num_values();
            let Some(stats) = chunk.statistics() else {
                continue;
            };
            if let Some(nulls) = stats.null_count_opt() {
                *file.null_value_counts.entry(field.id).or_default() += nulls as i64;
            }
            let (low, high) = bounds.entry(field.id).or_default();
            if let Some((min, max)) = min_max(stats, &field.kind) {
                merge(low, min, |new, old| new < old);
                merge(high, max, |new, old| new > old);
            }
        }
    }
    for (id, (low, high)) in bounds {
        if let (Some(low), Some(high)) = (low, high) {
            file.lower_bounds.insert(id, low.bytes());
            file.upper_bounds.insert(id, high.bytes());
        }
    }
}

/// A bound, comparable within its column.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Bound {
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Boolean(bool),
    Text(Vec<u8>),
    Decimal(i128),
}

impl Bound {
    /// Iceberg's single-value serialization.
    fn bytes(&self) -> Vec<u8> {
        match self {
            Bound::Int(v) => v.to_le_bytes().to_vec(),
            Bound::Long(v) => v.to_le_bytes().to_vec(),
            Bound::Float(v) => v.to_le_bytes().to_vec(),
            Bound::Double(v) => v.to_le_bytes().to_vec(),
            Bound::Boolean(v) => vec![u8::from(*v)],
            Bound::Text(v) => v.clone(),
            Bound::Decimal(v) => minimal_be(*v),
        }
    }
}

/// Two's complement big-endian in as few bytes as hold the value.
fn minimal_be(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

fn merge(slot: &mut Option<Bound>, new: Bound, better: impl Fn(&Bound, &Bound) -> bool) {
    match slot {
        Some(old) if !better(&new, old) => {}
        _ => *slot = Some(new),
    }
}

/// A chunk's min and max as bounds of an Iceberg type; `None` where there are none
/// (all NULL, NaN, or a type without bounds here).
fn min_max(stats: &Statistics, kind: &str) -> Option<(Bound, Bound)> {
    let decimal = kind.starts_with("decimal");
    Some(match stats {
        Statistics::Boolean(s) => (Bound::Boolean(*s.min_opt()?), Bound::Boolean(*s.max_opt()?)),
        Statistics::Int32(s) if decimal => (
            Bound::Decimal(*s.min_opt()? as i128),
            Bound::Decimal(*s.max_opt()? as i128),
        ),
        Statistics::Int64(s) if decimal => (
            Bound::Decimal(*s.min_opt()? as i128),
            Bound::Decimal(*s.max_opt()? as i128),
        ),
        Statistics::Int32(s) => (Bound::Int(*s.min_opt()?), Bound::Int(*s.max_opt()?)),
        Statistics::Int64(s) => (Bound::Long(*s.min_opt()?), Bound::Long(*s.max_opt()?)),
        Statistics::Float(s) => {
            let (min, max) = (*s.min_opt()?, *s.max_opt()?);
            if min.is_nan() || max.is_nan() {
                return None;
            }
            (Bound::Float(min), Bound::Float(max))
        }
        Statistics::Double(s) => {
            let (min, max) = (*s.min_opt()?, *s.max_opt()?);
            if min.is_nan() || max.is_nan() {
                return None;
            }
            (Bound::Double(min), Bound::Double(max))
        }
        Statistics::ByteArray(s) if kind == "string" => (
            Bound::Text(s.min_opt()?.data().to_vec()),
            Bound::Text(s.max_opt()?.data().to_vec()),
        ),
        Statistics::FixedLenByteArray(s) if decimal => (
            Bound::Decimal(signed_be(s.min_opt()?.data())?),
            Bound::Decimal(signed_be(s.max_opt()?.data())?),
        ),
        _ => return None,
    })
}

/// A big-endian two's complement integer of up to 16 bytes.
fn signed_be(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(full))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_take_as_few_bytes_as_hold_them() {
        assert_eq!(minimal_be(0), [0]);
        assert_eq!(minimal_be(127), [0x7f]);
        assert_eq!(minimal_be(128), [0x00, 0x80]);
        assert_eq!(minimal_be(-1), [0xff]);
        assert_eq!(minimal_be(-129), [0xff, 0x7f]);
        assert_eq!(signed_be(&[0xff, 0x7f]), Some(-129));
    }
}
