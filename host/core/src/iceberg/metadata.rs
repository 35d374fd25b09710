//! Table metadata (format v2): created on the first commit, then each commit adds one
//! snapshot, and a new schema when the output's changed compatibly.

use serde_json::{json, Value};

use super::schema::{IcebergField, IcebergSchema};
use super::spec::{spec_json, PartitionField};

/// What one snapshot adds.
pub struct NewSnapshot<'a> {
    pub snapshot_id: i64,
    pub manifest_list: String,
    pub summary: serde_json::Map<String, Value>,
    pub now_ms: i64,
    /// The metadata file this one replaces, for the metadata log.
    pub previous_file: Option<&'a str>,
}

/// A new table's metadata, without snapshots.
pub fn create(
    location: &str,
    fields: &[IcebergField],
    last_column_id: i32,
    partition: &[PartitionField],
    now_ms: i64,
) -> Value {
    json!({
        "format-version": 2,
        "table-uuid": uuid::Uuid::new_v4().to_string(),
        "location": location,
        "last-sequence-number": 0,
        "last-updated-ms": now_ms,
        "last-column-id": last_column_id,
        "current-schema-id": 0,
        "schemas": [schema_json(0, fields)],
        "default-spec-id": 0,
        "partition-specs": [spec_json(partition)],
        "last-partition-id": partition.iter().map(|p| p.field_id).max().unwrap_or(999),
        "default-sort-order-id": 0,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {"write.format.default": "parquet", "created-by": format!("sluice {}", crate::HOST_VERSION)},
        "snapshots": [],
        "snapshot-log": [],
        "metadata-log": [],
        "refs": {},
    })
}

fn schema_json(id: i32, fields: &[IcebergField]) -> Value {
    serde_json::to_value(IcebergSchema {
        kind: "struct".into(),
        schema_id: id,
        fields: fields.to_vec(),
    })
    .expect("a schema serialises")
}

/// The current schema of a table's metadata.
pub fn current_schema(metadata: &Value) -> Option<IcebergSchema> {
    let id = metadata["current-schema-id"].as_i64()?;
    let schemas = metadata["schemas"].as_array()?;
    let schema = schemas
        .iter()
        .find(|s| s["schema-id"].as_i64() == Some(id))?;
    serde_json::from_value(schema.clone()).ok()
}

/// Makes `fields` the current schema, adding it when it differs; returns its id.
pub fn set_schema(metadata: &mut Value, fields: &[IcebergField], last_column_id: i32) -> i32 {
    if current_schema(metadata).is_some_and(|s| s.fields == fields) {
        return metadata["current-schema-id"].as_i64().unwrap_or(0) as i32;
    }
    let schemas = metadata["schemas"]
        .as_array_mut()
        .expect("metadata has schemas");
    let id = schemas
        .iter()
        .filter_map(|s| s["schema-id"].as_i64())
        .max()
        .unwrap_or(-1) as i32
        + 1;
    schemas.push(schema_json(id, fields));
    metadata["current-schema-id"] = json!(id);
    metadata["last-column-id"] =
        json!(last_column_id.max(metadata["last-column-id"].as_i64().unwrap_or(0) as i32));
    id
}

/// Whether a snapshot of the table recorded `unit` (`sluice.unit` in its summary).
pub fn has_unit(metadata: &Value, unit: &str) -> bool {
    metadata["snapshots"].as_array().is_some_and(|s| {
        s.iter()
            .any(|s| s["summary"]["sluice.unit"].as_str() == Some(unit))
    })
}

/// The current snapshot's id and manifest list, if there is one.
pub fn current_snapshot(metadata: &Value) -> Option<(i64, String)> {
    let id = metadata["current-snapshot-id"]
        .as_i64()
        .filter(|id| *id >= 0)?;
    let snapshots = metadata["snapshots"].as_array()?;
    let snapshot = snapshots
        .iter()
        .find(|s| s["snapshot-id"].as_i64() == Some(id))?;
    Some((id, snapshot["manifest-list"].as_str()?.to_string()))
}

/// The sequence number the next snapshot takes.
pub fn next_sequence_number(metadata: &Value) -> i64 {
    metadata["last-sequence-number"].as_i64().unwrap_or(0) + 1
}

/// Adds the snapshot and makes it current on the main branch.
pub fn add_snapshot(metadata: &mut Value, snapshot: NewSnapshot) {
    let sequence_number = next_sequence_number(metadata);
    let parent = current_snapshot(metadata).map(|(id, _)| id);
    let mut entry = json!({
        "snapshot-id": snapshot.snapshot_id,
        "sequence-number": sequence_number,
        "timestamp-ms": snapshot.now_ms,
        "manifest-list": snapshot.manifest_list,
        "summary": snapshot.summary,
        "schema-id": metadata["current-schema-id"],
    });
    if let Some(parent) = parent {
        entry["parent-snapshot-id"] = json!(parent);
    }
    push(metadata, "snapshots", entry);
    push(
        metadata,
        "snapshot-log",
        json!({"timestamp-ms": snapshot.now_ms, "snapshot-id": snapshot.snapshot_id}),
    );
    if let Some(previous) = snapshot.previous_file {
        push(
            metadata,
            "metadata-log",
            json!({"timestamp-ms": metadata["last-updated-ms"], "metadata-file": previous}),
        );
    }
    metadata["last-sequence-number"] = json!(sequence_number);
    metadata["last-updated-ms"] = json!(snapshot.now_ms);
    metadata["current-snapshot-id"] = json!(snapshot.snapshot_id);
    metadata["refs"] = json!({"main": {"snapshot-id": snapshot.snapshot_id, "type": "branch"}});
}

fn push(metadata: &mut Value, list: &str, entry: Value) {
    match metadata[list].as_array_mut() {
        Some(items) => items.push(entry),
        None => metadata[list] = json!([entry]),
    }
}

/// Whether the table's partition spec is the one given.
pub fn same_spec(metadata: &Value, partition: &[PartitionField]) -> bool {
    let specs = metadata["partition-specs"].as_array();
    let default = metadata["default-spec-id"].as_i64().unwrap_or(0);
    let spec = specs.and_then(|s| s.iter().find(|s| s["spec-id"].as_i64() == Some(default)));
    spec.is_some_and(|s| s["fields"] == spec_json(partition)["fields"])
}
