//! The schema each output of a table was committed with, and which changes a later run may
//! make to it. Readers (Athena, Glue, a dashboard) are built on a table's columns: a run
//! that drops a column or narrows a type would break them, so it fails before any data
//! moves. Added nullable columns and widened types are allowed, and reported.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use bytes::Bytes;

use super::STATE_DIR;
use crate::storage::{join_key, Precondition, Store, StoreError};

/// Which schema changes a run may make to a table's outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaChange {
    /// Columns may be added (nullable) and types widened; anything else fails the run.
    #[default]
    Add,
    /// Any change is accepted (and reported): for tables whose readers follow the data.
    Any,
}

/// Where an output's committed schema is kept: an Arrow IPC stream holding only the schema.
pub fn schema_key(root: &str, output: &str) -> String {
    join_key(root, &format!("{STATE_DIR}/schema/{output}.arrows"))
}

/// The schema an output was last committed with, if any.
pub fn committed_schema(
    store: &dyn Store,
    root: &str,
    output: &str,
) -> Result<Option<SchemaRef>, StoreError> {
    let key = schema_key(root, output);
    let Some(found) = store.get(&key)? else {
        return Ok(None);
    };
    // An unreadable record (written by a future version, say) is not a reason to stop:
    // it is replaced at the commit.
    Ok(
        StreamReader::try_new(std::io::Cursor::new(found.body), None)
            .ok()
            .map(|r| r.schema()),
    )
}

/// Records an output's schema, when it differs from what is recorded.
pub fn record_schema(
    store: &dyn Store,
    root: &str,
    output: &str,
    schema: &SchemaRef,
) -> Result<(), StoreError> {
    if committed_schema(store, root, output)?.as_deref() == Some(schema.as_ref()) {
        return Ok(());
    }
    let mut bytes = Vec::new();
    let written = StreamWriter::try_new(&mut bytes, schema).and_then(|mut w| w.finish());
    written.map_err(|e| StoreError::Request {
        uri: store.uri(&schema_key(root, output)),
        operation: "encoding the output schema",
        message: e.to_string(),
    })?;
    store.put(
        &schema_key(root, output),
        Bytes::from(bytes),
        Precondition::None,
    )?;
    Ok(())
}

/// The changes from `old` to `new`: `Ok` with the allowed ones (to report), `Err` with
/// the first that `rule` does not allow.
pub fn compare(old: &Schema, new: &Schema, rule: SchemaChange) -> Result<Vec<String>, String> {
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    for was in old.fields() {
        match new.field_with_name(was.name()) {
            Err(_) => refused.push(format!(
                "column `{}` ({}) is gone",
                was.name(),
                was.data_type()
            )),
            Ok(now) => field_change(was, now, &mut changes, &mut refused),
        }
    }
    for now in new.fields() {
        if old.field_with_name(now.name()).is_err() {
            let change = format!("column `{}` ({}) added", now.name(), now.data_type());
            match now.is_nullable() {
                true => changes.push(change),
                false => refused.push(format!("{change} as NOT NULL: earlier rows have none")),
            }
        }
    }
    match (refused.first(), rule) {
        (Some(first), SchemaChange::Add) => Err(first.clone()),
        _ => Ok(changes.into_iter().chain(refused).collect()),
    }
}

fn field_change(was: &Field, now: &Field, changes: &mut Vec<String>, refused: &mut Vec<String>) {
    let name = was.name();
    if was.data_type() != now.data_type() {
        let change = format!(
            "column `{name}`: {} -> {}",
            was.data_type(),
            now.data_type()
        );
        match widens(was.data_type(), now.data_type()) {
            true => changes.push(change),
            false => refused.push(format!("{change} is not a widening")),
        }
    }
    if was.is_nullable() && !now.is_nullable() {
        refused.push(format!("column `{name}` became NOT NULL"));
    } else if !was.is_nullable() && now.is_nullable() {
        changes.push(format!("column `{name}` became nullable"));
    }
}

/// Whether every value of `from` is a value of `to`: the promotions Iceberg allows, and
/// integers into wider integers.
fn widens(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    match (from, to) {
        (Int8, Int16 | Int32 | Int64) | (Int16, Int32 | Int64) | (Int32, Int64) => true,
        (UInt8, UInt16 | UInt32 | UInt64) | (UInt16, UInt32 | UInt64) | (UInt32, UInt64) => true,
        (Float32, Float64) => true,
        (Decimal128(p1, s1), Decimal128(p2, s2)) => s1 == s2 && p2 >= p1,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn schema(fields: &[(&str, DataType, bool)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t, null)| Field::new(*n, t.clone(), *null))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn additions_and_widenings_pass_drops_and_narrowings_fail() {
        let old = schema(&[
            ("id", DataType::Int32, false),
            ("price", DataType::Decimal128(8, 2), true),
        ]);
        let wider = schema(&[
            ("id", DataType::Int64, false),
            ("price", DataType::Decimal128(12, 2), true),
            ("note", DataType::Utf8, true),
        ]);
        assert_eq!(
            compare(&old, &wider, SchemaChange::Add).unwrap(),
            [
                "column `id`: Int32 -> Int64",
                "column `price`: Decimal128(8, 2) -> Decimal128(12, 2)",
                "column `note` (Utf8) added"
            ]
        );
        let dropped = schema(&[("id", DataType::Int32, false)]);
        assert_eq!(
            compare(&old, &dropped, SchemaChange::Add).unwrap_err(),
            "column `price` (Decimal128(8, 2)) is gone"
        );
        let narrowed = schema(&[
            ("id", DataType::Int16, false),
            ("price", DataType::Decimal128(8, 2), true),
        ]);
        assert!(compare(&old, &narrowed, SchemaChange::Add)
            .unwrap_err()
            .contains("Int32 -> Int16 is not a widening"));
        // `any` accepts and reports everything.
        assert_eq!(compare(&old, &dropped, SchemaChange::Any).unwrap().len(), 1);
    }

    #[test]
    fn a_schema_is_recorded_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::storage::LocalStore::new(dir.path().into());
        let s: SchemaRef = Arc::new(schema(&[("a", DataType::Utf8, true)]));
        assert!(committed_schema(&store, "t", "rows").unwrap().is_none());
        record_schema(&store, "t", "rows", &s).unwrap();
        assert_eq!(committed_schema(&store, "t", "rows").unwrap(), Some(s));
    }
}
