//! The partition spec of an Iceberg output, from its `partition` setting, and each data
//! file's partition tuple, from the folder the partitioner gave it.
//!
//! `by = "value"` is Iceberg's `identity` transform of the column; `by = "column-date"`
//! is `year`, `month` or `day` of the date column, to the depth. `by = "run-date"` names
//! no column, so it has no Iceberg form.

use serde_json::json;

use super::manifest::PartitionValue;
use super::schema::IcebergField;
use crate::sink::{folder_values, DateDepth, Partition, PartitionBy};

/// One field of the partition spec.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionField {
    pub name: String,
    pub transform: &'static str,
    pub source_id: i32,
    pub field_id: i32,
    /// The Iceberg type of the source column.
    pub source_type: String,
}

impl PartitionField {
    /// The Avro type of this field's values in manifests.
    pub fn avro_type(&self) -> &'static str {
        match (self.transform, self.source_type.as_str()) {
            ("identity", "long") => r#""long""#,
            ("identity", "string") => r#""string""#,
            ("identity", "boolean") => r#""boolean""#,
            ("identity", "date") | ("day", _) => r#"{"type":"int","logicalType":"date"}"#,
            _ => r#""int""#,
        }
    }
}

/// The partition fields of an output, or why it can't be an Iceberg partition.
pub fn partition_fields(
    partition: Option<&Partition>,
    fields: &[IcebergField],
) -> Result<Vec<PartitionField>, String> {
    let Some(partition) = partition else {
        return Ok(Vec::new());
    };
    let column = partition.column.as_deref().unwrap_or_default();
    let source = fields
        .iter()
        .find(|f| f.name == column)
        .ok_or_else(|| format!("partition column `{column}` is not in the output"))?;
    let (transform, name) = match (partition.by, partition.depth) {
        (PartitionBy::RunDate, _) => {
            return Err("partition by = \"run-date\" names no column: an Iceberg partition needs one (use column-date or value)".into())
        }
        (PartitionBy::Value, _) => ("identity", column.to_string()),
        (PartitionBy::ColumnDate, DateDepth::Year) => ("year", format!("{column}_year")),
        (PartitionBy::ColumnDate, DateDepth::Month) => ("month", format!("{column}_month")),
        (PartitionBy::ColumnDate, DateDepth::Day) => ("day", format!("{column}_day")),
    };
    let supported = match transform {
        "identity" => ["int", "long", "string", "boolean", "date"].contains(&source.kind.as_str()),
        _ => source.kind == "date" || source.kind.starts_with("timestamp"),
    };
    if !supported {
        return Err(format!(
            "an Iceberg {transform} partition of a {} column is not supported",
            source.kind
        ));
    }
    Ok(vec![PartitionField {
        name,
        transform,
        source_id: source.id,
        field_id: 1000,
        source_type: source.kind.clone(),
    }])
}

/// The spec as table metadata and manifest headers hold it.
pub fn spec_json(fields: &[PartitionField]) -> serde_json::Value {
    let fields: Vec<_> = fields
        .iter()
        .map(|f| json!({"name": f.name, "transform": f.transform, "source-id": f.source_id, "field-id": f.field_id}))
        .collect();
    json!({"spec-id": 0, "fields": fields})
}

/// A file's partition tuple from its folder (`day=2024-01-02`, `year=2024/month=01`).
pub fn partition_tuple(
    fields: &[PartitionField],
    folder: &str,
) -> Result<Vec<Option<PartitionValue>>, String> {
    let Some(field) = fields.first() else {
        return Ok(Vec::new());
    };
    let values = folder_values(folder);
    let bad = || {
        format!(
            "partition folder `{folder}` does not fit the {} transform",
            field.transform
        )
    };
    if values
        .first()
        .is_some_and(|v| v == "__HIVE_DEFAULT_PARTITION__")
    {
        return Ok(vec![None]);
    }
    let number = |i: usize| -> Result<i64, String> {
        values.get(i).and_then(|v| v.parse().ok()).ok_or_else(bad)
    };
    let value = match (field.transform, field.source_type.as_str()) {
        ("identity", "int") => PartitionValue::Int(number(0)? as i32),
        ("identity", "long") => PartitionValue::Long(number(0)?),
        ("identity", "boolean") => {
            PartitionValue::Boolean(values.first().is_some_and(|v| v == "true"))
        }
        ("identity", "date") => {
            PartitionValue::Int(days_of(values.first().ok_or_else(bad)?).ok_or_else(bad)?)
        }
        ("identity", _) => PartitionValue::String(values.first().cloned().ok_or_else(bad)?),
        ("year", _) => PartitionValue::Int((number(0)? - 1970) as i32),
        ("month", _) => PartitionValue::Int(((number(0)? - 1970) * 12 + number(1)? - 1) as i32),
        _ => {
            let date = format!("{:04}-{:02}-{:02}", number(0)?, number(1)?, number(2)?);
            PartitionValue::Int(days_of(&date).ok_or_else(bad)?)
        }
    };
    Ok(vec![Some(value)])
}

/// Days since 1970-01-01 of `YYYY-MM-DD`.
fn days_of(text: &str) -> Option<i32> {
    let mut parts = text.splitn(3, '-').map(str::parse::<i32>);
    let (year, month, day) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    Some((date - time::macros::date!(1970 - 01 - 01)).whole_days() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(transform: &'static str, source_type: &str) -> PartitionField {
        PartitionField {
            name: "p".into(),
            transform,
            source_id: 1,
            field_id: 1000,
            source_type: source_type.into(),
        }
    }

    #[test]
    fn folders_become_partition_values() {
        let day = [field("day", "date")];
        assert_eq!(
            partition_tuple(&day, "year=1970/month=01/day=03").unwrap(),
            [Some(PartitionValue::Int(2))]
        );
        let month = [field("month", "date")];
        assert_eq!(
            partition_tuple(&month, "year=1971/month=02").unwrap(),
            [Some(PartitionValue::Int(13))]
        );
        let site = [field("identity", "string")];
        assert_eq!(
            partition_tuple(&site, "site=a%2Fb").unwrap(),
            [Some(PartitionValue::String("a/b".into()))]
        );
        assert_eq!(
            partition_tuple(&site, "site=__HIVE_DEFAULT_PARTITION__").unwrap(),
            [None]
        );
        let id = [field("identity", "long")];
        assert_eq!(
            partition_tuple(&id, "id=-7").unwrap(),
            [Some(PartitionValue::Long(-7))]
        );
    }
}
