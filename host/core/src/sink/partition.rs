//! Hive-style partition folders (`year=2024/month=03/day=07`, `country=FR`): which folder
//! each row of a batch belongs to.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::compute::take_record_batch;
use std::sync::Arc;

use arrow::datatypes::{
    DataType, Date32Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::SinkError;
use super::{DateDepth, Partition, PartitionBy};

/// Hive's folder name for a NULL partition value.
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Splits batches into partition folders.
#[derive(Debug, Clone)]
pub struct Partitioner {
    spec: Option<Partition>,
    /// Iceberg tables keep the partition column in the files (their partition values are
    /// in the manifests, not the paths).
    keep_columns: bool,
    /// The folder of every row when partitioning by the run's date.
    run_folder: String,
}

impl Partitioner {
    pub fn new(spec: Option<Partition>, run_time_micros: i64) -> Self {
        let depth = spec.as_ref().map(|p| p.depth).unwrap_or_default();
        let run_folder = date_folder(run_time_micros.div_euclid(MICROS_PER_DAY), depth);
        Partitioner {
            spec,
            run_folder,
            keep_columns: false,
        }
    }

    /// The same folders, with every column kept in the files.
    pub fn keeping_columns(self) -> Self {
        Partitioner {
            keep_columns: true,
            ..self
        }
    }

    /// `(folder, rows)` pairs; the folder is empty without partitioning.
    pub fn split(&self, batch: RecordBatch) -> Result<Vec<(String, RecordBatch)>, SinkError> {
        let Some(spec) = &self.spec else {
            return Ok(vec![(String::new(), batch)]);
        };
        if spec.by == PartitionBy::RunDate {
            return Ok(vec![(self.run_folder.clone(), batch)]);
        }
        let column_name = spec
            .column
            .as_deref()
            .expect("checked when the pipeline loads");
        let column = batch.column_by_name(column_name).ok_or_else(|| {
            SinkError::Partition(format!(
                "partition column `{column_name}` is not in the output"
            ))
        })?;
        let folders = match spec.by {
            PartitionBy::ColumnDate => date_folders(column.as_ref(), column_name, spec.depth)?,
            _ => value_folders(column.as_ref(), column_name)?,
        };
        let batch = self.without_folder_column(batch)?;
        let mut rows: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (row, folder) in folders.into_iter().enumerate() {
            rows.entry(folder).or_default().push(row as u32);
        }
        if rows.len() == 1 {
            let folder = rows.into_keys().next().expect("one entry");
            return Ok(vec![(folder, batch)]);
        }
        rows.into_iter()
            .map(|(folder, indices)| {
                let part = take_record_batch(&batch, &UInt32Array::from(indices)).map_err(|e| {
                    SinkError::Partition(format!("splitting rows by partition: {e}"))
                })?;
                Ok((folder, part))
            })
            .collect()
    }
}

impl Partitioner {
    /// The column whose values name the folders (`by = "value"`): Hive's convention keeps
    /// it in the folder name only, so readers that add it from the path (pyarrow, DuckDB's
    /// `hive_partitioning`, Athena) do not find it twice with two types.
    fn folder_column(&self) -> Option<&str> {
        match &self.spec {
            Some(spec) if spec.by == PartitionBy::Value && !self.keep_columns => {
                spec.column.as_deref()
            }
            _ => None,
        }
    }

    /// The schema of the files: the output's, without the folder column.
    pub fn file_schema(&self, schema: &SchemaRef) -> SchemaRef {
        let Some(column) = self.folder_column() else {
            return schema.clone();
        };
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .filter(|f| f.name() != column)
            .cloned()
            .collect();
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
    }

    fn without_folder_column(&self, batch: RecordBatch) -> Result<RecordBatch, SinkError> {
        let Some(column) = self.folder_column() else {
            return Ok(batch);
        };
        let keep: Vec<usize> = (0..batch.num_columns())
            .filter(|&i| batch.schema().field(i).name() != column)
            .collect();
        batch
            .project(&keep)
            .map_err(|e| SinkError::Partition(format!("dropping the partition column: {e}")))
    }
}

/// `year=YYYY[/month=MM[/day=DD]]` for a day number (days since 1970-01-01).
pub fn date_folder(days: i64, depth: DateDepth) -> String {
    let date = time::Date::from_julian_day((days + 2_440_588) as i32).unwrap_or(time::Date::MIN);
    let mut folder = format!("year={:04}", date.year());
    if depth >= DateDepth::Month {
        folder.push_str(&format!("/month={:02}", date.month() as u8));
    }
    if depth >= DateDepth::Day {
        folder.push_str(&format!("/day={:02}", date.day()));
    }
    folder
}

fn date_folders(
    column: &dyn Array,
    name: &str,
    depth: DateDepth,
) -> Result<Vec<String>, SinkError> {
    let days: Vec<Option<i64>> = match column.data_type() {
        DataType::Date32 => column.as_primitive::<Date32Type>().iter().map(|d| d.map(i64::from)).collect(),
        DataType::Timestamp(unit, _) => {
            let per_day = match unit {
                TimeUnit::Second => 86_400,
                TimeUnit::Millisecond => 86_400_000,
                TimeUnit::Microsecond => MICROS_PER_DAY,
                TimeUnit::Nanosecond => MICROS_PER_DAY * 1000,
            };
            let values: Vec<Option<i64>> = match unit {
                TimeUnit::Second => column.as_primitive::<TimestampSecondType>().iter().collect(),
                TimeUnit::Millisecond => column.as_primitive::<TimestampMillisecondType>().iter().collect(),
                TimeUnit::Microsecond => column.as_primitive::<TimestampMicrosecondType>().iter().collect(),
                TimeUnit::Nanosecond => column.as_primitive::<TimestampNanosecondType>().iter().collect(),
            };
            values.into_iter().map(|v| v.map(|v| v.div_euclid(per_day))).collect()
        }
        other => {
            return Err(SinkError::Partition(format!(
                "partition column `{name}` is {other}; `by = \"column-date\"` needs a date or timestamp"
            )))
        }
    };
    Ok(days
        .into_iter()
        .map(|d| {
            d.map(|d| date_folder(d, depth))
                .unwrap_or_else(|| format!("year={NULL_PARTITION}"))
        })
        .collect())
}

fn value_folders(column: &dyn Array, name: &str) -> Result<Vec<String>, SinkError> {
    let formatter = ArrayFormatter::try_new(column, &FormatOptions::default())
        .map_err(|e| SinkError::Partition(format!("partition column `{name}`: {e}")))?;
    Ok((0..column.len())
        .map(|row| {
            if column.is_null(row) {
                format!("{name}={NULL_PARTITION}")
            } else {
                format!("{name}={}", escape(&formatter.value(row).to_string()))
            }
        })
        .collect())
}

/// Hive's escaping of partition values: characters that would break a path or a
/// `key=value` folder become `%XX`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() || "\"#%'*/:=?\\\u{7f}{[]^".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A partition folder (`year=2024/month=03`) as its key values (`["2024", "03"]`), with
/// [`escape`] undone.
pub fn folder_values(folder: &str) -> Vec<String> {
    folder
        .split('/')
        .filter_map(|part| part.split_once('='))
        .map(|(_, value)| unescape(value))
        .collect()
}

fn unescape(value: &str) -> String {
    let bytes = value.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn spec(by: PartitionBy, column: &str, depth: DateDepth) -> Option<Partition> {
        Some(Partition {
            by,
            column: Some(column.into()),
            depth,
        })
    }

    #[test]
    fn folders_become_key_values_unescaped() {
        assert_eq!(folder_values("year=2024/month=03"), ["2024", "03"]);
        assert_eq!(
            folder_values(&format!("site={}", escape("a/b=c%"))),
            ["a/b=c%"]
        );
        assert_eq!(folder_values(""), Vec::<String>::new());
    }

    #[test]
    fn run_date_folders_are_zero_padded() {
        // 2024-03-07T12:00:00Z
        let p = Partitioner::new(
            Some(Partition {
                by: PartitionBy::RunDate,
                column: None,
                depth: DateDepth::Day,
            }),
            1_709_812_800_000_000,
        );
        assert_eq!(p.run_folder, "year=2024/month=03/day=07");
        assert_eq!(date_folder(19_789, DateDepth::Month), "year=2024/month=03");
        assert_eq!(date_folder(19_789, DateDepth::Year), "year=2024");
    }

    #[test]
    fn rows_split_by_value_and_by_date() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("c", DataType::Utf8, true),
            Field::new("d", DataType::Date32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![
                    Some("FR"),
                    Some("a/b"),
                    None,
                    Some("FR"),
                ])),
                Arc::new(Date32Array::from(vec![
                    Some(19_789),
                    Some(19_790),
                    Some(19_789),
                    None,
                ])),
            ],
        )
        .unwrap();
        let by_value = Partitioner::new(spec(PartitionBy::Value, "c", DateDepth::Day), 0)
            .split(batch.clone())
            .unwrap();
        let folders: Vec<(&str, usize)> = by_value
            .iter()
            .map(|(f, b)| (f.as_str(), b.num_rows()))
            .collect();
        assert_eq!(
            folders,
            [
                ("c=FR", 2),
                ("c=__HIVE_DEFAULT_PARTITION__", 1),
                ("c=a%2Fb", 1)
            ]
        );
        let by_date = Partitioner::new(spec(PartitionBy::ColumnDate, "d", DateDepth::Day), 0)
            .split(batch)
            .unwrap();
        let folders: Vec<&str> = by_date.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            folders,
            [
                "year=2024/month=03/day=07",
                "year=2024/month=03/day=08",
                "year=__HIVE_DEFAULT_PARTITION__"
            ]
        );
    }
}
