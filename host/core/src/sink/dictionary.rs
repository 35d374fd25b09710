//! Which columns of a file get a Parquet dictionary, chosen from the file's first rows.
//!
//! arrow-rs starts every column chunk with a dictionary and falls back to plain pages once
//! the dictionary passes its size limit. For a column whose values are mostly distinct
//! (ids, amounts, timestamps) that costs a hash of every value until the fallback, and
//! the mix of dictionary and plain pages compresses worse than plain pages alone (a 1M-row
//! sensor export: start_time 1.53 MB with a dictionary, 0.72 MB without). Polars writes
//! numbers without a dictionary at all; here a column keeps one unless the file's first
//! 65 536 rows (the writer holds them back to see them) show its values mostly distinct,
//! so low-cardinality numbers (codes, years) keep it.
//!
//! A mostly distinct integer, date or timestamp column goes DELTA_BINARY_PACKED instead of
//! plain: ids and times then reach zstd as small deltas rather than 8-byte values, which
//! cost zstd-3 ~3x less CPU and give a smaller file (3M shipment rows, both id columns:
//! 0.44 s and 13.1 MB plain, 0.13 s and 9.8 MB delta). Every Parquet reader in use
//! (pyarrow, DuckDB, Polars, Spark, Trino) reads it.
//!
//! The choice depends on those rows alone, the same for any thread count and batch size.

use std::collections::HashSet;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use parquet::basic::Encoding;

/// Batches smaller than this say too little about a column: the default (a dictionary,
/// with arrow-rs's fallback) stays.
pub(super) const MIN_SAMPLE_ROWS: usize = 4096;

/// Top-level columns whose non-null values in `batch` are more than half distinct.
/// Timestamps are always in: they are distinct nearly always, whatever the batch size.
pub(super) fn without_dictionary(batch: &RecordBatch) -> Vec<String> {
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(field, column)| match field.data_type() {
            DataType::Timestamp(..) => true,
            _ => batch.num_rows() >= MIN_SAMPLE_ROWS && mostly_distinct(column.as_ref()),
        })
        .map(|(field, _)| field.name().clone())
        .collect()
}

/// The encoding of a column written without a dictionary, when not plain: integers and
/// times (stored as INT32 or INT64) are delta-packed. Decimals stay plain: their physical
/// type depends on their precision.
pub(super) fn plain_encoding(data_type: &DataType) -> Option<Encoding> {
    use DataType::*;
    match data_type {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Date32 | Date64
        | Time32(_) | Time64(_) | Timestamp(..) | Duration(_) => {
            Some(Encoding::DELTA_BINARY_PACKED)
        }
        _ => None,
    }
}

/// Whether more than half of the array's non-null values are distinct; stops counting
/// once they are. Types without a dictionary choice here (booleans, nested) say no.
fn mostly_distinct(array: &dyn Array) -> bool {
    let half = (array.len() - array.null_count()) / 2;
    let valid = |i: &usize| array.is_valid(*i);
    match array.data_type() {
        DataType::Utf8 => over(
            array.as_string::<i32>().iter().flatten().map(str::as_bytes),
            half,
        ),
        DataType::LargeUtf8 => over(
            array.as_string::<i64>().iter().flatten().map(str::as_bytes),
            half,
        ),
        DataType::Utf8View => over(
            array.as_string_view().iter().flatten().map(str::as_bytes),
            half,
        ),
        DataType::Binary => over(array.as_binary::<i32>().iter().flatten(), half),
        DataType::LargeBinary => over(array.as_binary::<i64>().iter().flatten(), half),
        data_type => match data_type.primitive_width() {
            Some(width) if data_type.is_primitive() => {
                let data = array.to_data();
                let start = data.offset() * width;
                let values = &data.buffers()[0].as_slice()[start..start + data.len() * width];
                let chunks = values.chunks_exact(width).enumerate();
                over(chunks.filter(|(i, _)| valid(i)).map(|(_, v)| v), half)
            }
            _ => false,
        },
    }
}

/// Counting stalls the whole stream (the writer holds the sample back meanwhile): std's
/// SipHash took ~22 ms of a 10M-row dates run's start, one thread busy and the rest waiting.
fn over<'a>(values: impl Iterator<Item = &'a [u8]>, limit: usize) -> bool {
    let mut seen = HashSet::with_capacity_and_hasher(
        limit.min(1 << 16) + 1,
        foldhash::fast::FixedState::default(),
    );
    for value in values {
        if seen.insert(value) && seen.len() > limit {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, c)| Field::new(*name, c.data_type().clone(), true))
            .collect();
        let arrays = columns.into_iter().map(|(_, c)| c).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
    }

    #[test]
    fn mostly_distinct_columns_go_without_a_dictionary() {
        let n = 10_000i64;
        let ids = Int64Array::from_iter_values(0..n);
        let codes = Int32Array::from_iter_values((0..n).map(|i| (i % 40) as i32));
        let amounts = Float64Array::from_iter_values((0..n).map(|i| i as f64 * 0.37));
        let names: StringArray = (0..n).map(|i| Some(format!("n{}", i % 3000))).collect();
        let emails: StringArray = (0..n).map(|i| Some(format!("{i}@x"))).collect();
        // Distinct where present, but nearly all NULL: the values that are there decide.
        let sparse = Int64Array::from_iter((0..n).map(|i| (i % 100 == 0).then_some(i)));
        let at = arrow::array::TimestampMicrosecondArray::from_iter_values((0..n).map(|i| i % 2));
        let batch = batch(vec![
            ("id", Arc::new(ids)),
            ("code", Arc::new(codes)),
            ("amount", Arc::new(amounts)),
            ("name", Arc::new(names)),
            ("email", Arc::new(emails)),
            ("sparse", Arc::new(sparse)),
            ("at", Arc::new(at)),
        ]);
        assert_eq!(
            without_dictionary(&batch),
            ["id", "amount", "email", "sparse", "at"]
        );
    }

    #[test]
    fn a_sliced_column_is_judged_by_its_own_values() {
        // Distinct in its first half, one value repeated in its second.
        let values =
            Int64Array::from_iter_values((0..20_000).map(|i| if i < 10_000 { i } else { 7 }));
        let column: ArrayRef = Arc::new(values);
        let tail = batch(vec![("v", column.slice(10_000, 10_000))]);
        let head = batch(vec![("v", column.slice(0, 10_000))]);
        assert!(without_dictionary(&tail).is_empty());
        assert_eq!(without_dictionary(&head), ["v"]);
    }

    #[test]
    fn integers_and_times_are_delta_packed_and_the_rest_plain() {
        use arrow::datatypes::TimeUnit;
        for data_type in [
            DataType::Int64,
            DataType::UInt32,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ] {
            assert_eq!(
                plain_encoding(&data_type),
                Some(Encoding::DELTA_BINARY_PACKED)
            );
        }
        for data_type in [
            DataType::Float64,
            DataType::Utf8,
            DataType::Decimal128(12, 2),
        ] {
            assert_eq!(plain_encoding(&data_type), None, "{data_type}");
        }
    }

    #[test]
    fn a_small_first_batch_keeps_the_default() {
        let ids = Int64Array::from_iter_values(0..(MIN_SAMPLE_ROWS as i64 - 1));
        assert!(without_dictionary(&batch(vec![("id", Arc::new(ids))])).is_empty());
    }
}
