//! Arrow schemas as Iceberg schemas: the type of each column, its field id, and how a
//! later output schema evolves the table's (columns matched by name keep their id).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

/// One column of an Iceberg schema (`{"id":1,"name":"a","required":false,"type":"long"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcebergField {
    pub id: i32,
    pub name: String,
    pub required: bool,
    #[serde(rename = "type")]
    pub kind: String,
}

/// An Iceberg schema as table metadata holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcebergSchema {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "schema-id")]
    pub schema_id: i32,
    pub fields: Vec<IcebergField>,
}

/// The Iceberg type of an Arrow type, and the Arrow type the data files hold it as.
pub fn iceberg_type(data_type: &DataType) -> Result<(String, DataType), String> {
    use DataType::*;
    Ok(match data_type {
        Boolean => ("boolean".into(), Boolean),
        Int8 | Int16 | Int32 | UInt8 | UInt16 => ("int".into(), Int32),
        // A UInt64 past i64's range fails the cast when written, never wraps.
        Int64 | UInt32 | UInt64 => ("long".into(), Int64),
        Float16 | Float32 => ("float".into(), Float32),
        Float64 => ("double".into(), Float64),
        Decimal32(p, s) | Decimal64(p, s) | Decimal128(p, s) if *p <= 38 => {
            (format!("decimal({p}, {s})"), Decimal128(*p, *s))
        }
        Date32 | Date64 => ("date".into(), Date32),
        Timestamp(_, None) => ("timestamp".into(), Timestamp(TimeUnit::Microsecond, None)),
        Timestamp(_, Some(_)) => (
            "timestamptz".into(),
            Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        ),
        Utf8 | LargeUtf8 | Utf8View => ("string".into(), Utf8),
        Binary | LargeBinary | BinaryView => ("binary".into(), Binary),
        Dictionary(_, value) => return iceberg_type(value),
        other => return Err(format!("no Iceberg type for {other}")),
    })
}

/// Whether a column of Iceberg type `from` may become `to` (Iceberg's type promotions).
fn promotes(from: &str, to: &str) -> bool {
    if from == to || matches!((from, to), ("int", "long") | ("float", "double")) {
        return true;
    }
    let decimal = |t: &str| -> Option<(u32, u32)> {
        let inner = t.strip_prefix("decimal(")?.strip_suffix(')')?;
        let (p, s) = inner.split_once(',')?;
        Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
    };
    matches!((decimal(from), decimal(to)), (Some((p1, s1)), Some((p2, s2))) if s1 == s2 && p2 >= p1)
}

/// The table's schema for an output schema: columns the table knows keep their id (and
/// may only be promoted), new columns get the next ids. Returns the fields and the new
/// last column id.
pub fn evolve(
    known: Option<&IcebergSchema>,
    last_column_id: i32,
    output: &Schema,
) -> Result<(Vec<IcebergField>, i32), String> {
    let mut last = last_column_id;
    let mut fields = Vec::with_capacity(output.fields().len());
    for field in output.fields() {
        let (kind, _) = iceberg_type(field.data_type())
            .map_err(|e| format!("column `{}`: {e}", field.name()))?;
        let before = known.and_then(|s| s.fields.iter().find(|f| &f.name == field.name()));
        let id = match before {
            Some(old) if !promotes(&old.kind, &kind) => {
                return Err(format!(
                    "column `{}` was {} in the Iceberg table and is {kind} now",
                    field.name(),
                    old.kind
                ))
            }
            Some(old) if !old.required && !field.is_nullable() => {
                return Err(format!("column `{}` became required", field.name()))
            }
            Some(old) => old.id,
            None => {
                last += 1;
                last
            }
        };
        fields.push(IcebergField {
            id,
            name: field.name().clone(),
            required: !field.is_nullable(),
            kind,
        });
    }
    Ok((fields, last))
}

/// The Arrow schema of the data files: Iceberg's physical types, and each column's
/// field id where Parquet readers find it (`PARQUET:field_id`).
pub fn file_schema(output: &Schema, fields: &[IcebergField]) -> Result<SchemaRef, String> {
    let columns = output.fields().iter().zip(fields).map(|(field, iceberg)| {
        let (_, physical) = iceberg_type(field.data_type())?;
        let ids = std::collections::HashMap::from([(
            "PARQUET:field_id".to_string(),
            iceberg.id.to_string(),
        )]);
        Ok(Field::new(field.name(), physical, field.is_nullable()).with_metadata(ids))
    });
    Ok(Arc::new(Schema::new(
        columns.collect::<Result<Vec<_>, String>>()?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn columns_keep_their_ids_and_new_ones_get_the_next() {
        let (first, last) = evolve(
            None,
            0,
            &schema(&[("a", DataType::Int32), ("b", DataType::Utf8)]),
        )
        .unwrap();
        assert_eq!(last, 2);
        let known = IcebergSchema {
            kind: "struct".into(),
            schema_id: 0,
            fields: first,
        };
        let wider = schema(&[
            ("c", DataType::Float64),
            ("b", DataType::Utf8),
            ("a", DataType::Int64),
        ]);
        let (fields, last) = evolve(Some(&known), last, &wider).unwrap();
        let ids: Vec<_> = fields
            .iter()
            .map(|f| (f.name.as_str(), f.id, f.kind.as_str()))
            .collect();
        assert_eq!(
            ids,
            [("c", 3, "double"), ("b", 2, "string"), ("a", 1, "long")]
        );
        assert_eq!(last, 3);
        let narrowed = evolve(Some(&known), 2, &schema(&[("b", DataType::Int64)])).unwrap_err();
        assert!(narrowed.contains("was string"), "{narrowed}");
    }

    #[test]
    fn decimals_widen_only_in_precision() {
        assert!(promotes("decimal(9, 2)", "decimal(12, 2)"));
        assert!(!promotes("decimal(9, 2)", "decimal(12, 3)"));
        assert!(!promotes("long", "int"));
    }
}
