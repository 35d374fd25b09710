//! Manifests (which data files a snapshot added, with their partition and column
//! statistics) and manifest lists (a snapshot's manifests), in Iceberg's v2 Avro schemas.

use std::collections::BTreeMap;

use apache_avro::types::Value;

use super::avro::container;
use super::spec::PartitionField;

/// A data file as a manifest records it.
#[derive(Debug, Clone, Default)]
pub struct DataFile {
    pub path: String,
    /// The partition tuple, one value per partition field (`None` for NULL).
    pub partition: Vec<Option<PartitionValue>>,
    pub record_count: i64,
    pub file_size_in_bytes: i64,
    pub column_sizes: BTreeMap<i32, i64>,
    pub value_counts: BTreeMap<i32, i64>,
    pub null_value_counts: BTreeMap<i32, i64>,
    pub lower_bounds: BTreeMap<i32, Vec<u8>>,
    pub upper_bounds: BTreeMap<i32, Vec<u8>>,
}

/// A partition value in its Avro form.
#[derive(Debug, Clone, PartialEq)]
pub enum PartitionValue {
    Int(i32),
    Long(i64),
    String(String),
    Boolean(bool),
}

/// A manifest list entry: one manifest of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestFile {
    pub path: String,
    pub length: i64,
    pub sequence_number: i64,
    pub added_snapshot_id: i64,
    pub added_files: i32,
    pub added_rows: i64,
}

fn map_schema(id: i32, key: i32, value: i32, value_type: &str) -> String {
    format!(
        r#"{{"name":"{name}","type":["null",{{"type":"array","logicalType":"map","items":{{"type":"record","name":"k{key}_v{value}","fields":[{{"name":"key","type":"int","field-id":{key}}},{{"name":"value","type":"{value_type}","field-id":{value}}}]}}}}],"default":null,"field-id":{id}}}"#,
        name = match id {
            108 => "column_sizes",
            109 => "value_counts",
            110 => "null_value_counts",
            125 => "lower_bounds",
            _ => "upper_bounds",
        }
    )
}

/// The manifest entry schema for a table's partition fields.
fn entry_schema(partition: &[PartitionField]) -> String {
    let partition_fields: Vec<String> = partition
        .iter()
        .map(|p| {
            format!(
                r#"{{"name":"{}","type":["null",{}],"default":null,"field-id":{}}}"#,
                p.name,
                p.avro_type(),
                p.field_id
            )
        })
        .collect();
    format!(
        r#"{{"type":"record","name":"manifest_entry","fields":[
{{"name":"status","type":"int","field-id":0}},
{{"name":"snapshot_id","type":["null","long"],"default":null,"field-id":1}},
{{"name":"sequence_number","type":["null","long"],"default":null,"field-id":3}},
{{"name":"file_sequence_number","type":["null","long"],"default":null,"field-id":4}},
{{"name":"data_file","type":{{"type":"record","name":"r2","fields":[
{{"name":"content","type":"int","field-id":134}},
{{"name":"file_path","type":"string","field-id":100}},
{{"name":"file_format","type":"string","field-id":101}},
{{"name":"partition","type":{{"type":"record","name":"r102","fields":[{partition}]}},"field-id":102}},
{{"name":"record_count","type":"long","field-id":103}},
{{"name":"file_size_in_bytes","type":"long","field-id":104}},
{sizes},
{values},
{nulls},
{lower},
{upper},
{{"name":"split_offsets","type":["null",{{"type":"array","items":"long","element-id":133}}],"default":null,"field-id":132}},
{{"name":"sort_order_id","type":["null","int"],"default":null,"field-id":140}}
]}},"field-id":2}}
]}}"#,
        partition = partition_fields.join(","),
        sizes = map_schema(108, 117, 118, "long"),
        values = map_schema(109, 119, 120, "long"),
        nulls = map_schema(110, 121, 122, "long"),
        lower = map_schema(125, 126, 127, "bytes"),
        upper = map_schema(128, 129, 130, "bytes"),
    )
}

const MANIFEST_LIST_SCHEMA: &str = r#"{"type":"record","name":"manifest_file","fields":[
{"name":"manifest_path","type":"string","field-id":500},
{"name":"manifest_length","type":"long","field-id":501},
{"name":"partition_spec_id","type":"int","field-id":502},
{"name":"content","type":"int","field-id":517},
{"name":"sequence_number","type":"long","field-id":515},
{"name":"min_sequence_number","type":"long","field-id":516},
{"name":"added_snapshot_id","type":"long","field-id":503},
{"name":"added_files_count","type":"int","field-id":504},
{"name":"existing_files_count","type":"int","field-id":505},
{"name":"deleted_files_count","type":"int","field-id":506},
{"name":"added_rows_count","type":"long","field-id":512},
{"name":"existing_rows_count","type":"long","field-id":513},
{"name":"deleted_rows_count","type":"long","field-id":514}
]}"#;

fn optional(value: Option<Value>) -> Value {
    match value {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(v) => Value::Union(1, Box::new(v)),
    }
}

fn int_map<T: Clone>(map: &BTreeMap<i32, T>, value: impl Fn(T) -> Value) -> Value {
    let entries = map.iter().map(|(k, v)| {
        Value::Record(vec![
            ("key".into(), Value::Int(*k)),
            ("value".into(), value(v.clone())),
        ])
    });
    optional(Some(Value::Array(entries.collect())))
}

fn entry(file: &DataFile, snapshot_id: i64, partition: &[PartitionField]) -> Value {
    let partition_values = partition.iter().zip(&file.partition).map(|(field, value)| {
        let value = value.as_ref().map(|v| match v {
            PartitionValue::Int(i) => Value::Int(*i),
            PartitionValue::Long(l) => Value::Long(*l),
            PartitionValue::String(s) => Value::String(s.clone()),
            PartitionValue::Boolean(b) => Value::Boolean(*b),
        });
        (field.name.clone(), optional(value))
    });
    let data_file = Value::Record(vec![
        ("content".into(), Value::Int(0)),
        ("file_path".into(), Value::String(file.path.clone())),
        ("file_format".into(), Value::String("PARQUET".into())),
        (
            "partition".into(),
            Value::Record(partition_values.collect()),
        ),
        ("record_count".into(), Value::Long(file.record_count)),
        (
            "file_size_in_bytes".into(),
            Value::Long(file.file_size_in_bytes),
        ),
        (
            "column_sizes".into(),
            int_map(&file.column_sizes, Value::Long),
        ),
        (
            "value_counts".into(),
            int_map(&file.value_counts, Value::Long),
        ),
        (
            "null_value_counts".into(),
            int_map(&file.null_value_counts, Value::Long),
        ),
        (
            "lower_bounds".into(),
            int_map(&file.lower_bounds, Value::Bytes),
        ),
        (
            "upper_bounds".into(),
            int_map(&file.upper_bounds, Value::Bytes),
        ),
        ("split_offsets".into(), optional(None)),
        ("sort_order_id".into(), optional(None)),
    ]);
    Value::Record(vec![
        ("status".into(), Value::Int(1)), // ADDED
        (
            "snapshot_id".into(),
            optional(Some(Value::Long(snapshot_id))),
        ),
        // Inherited from the manifest list: the snapshot's sequence number.
        ("sequence_number".into(), optional(None)),
        ("file_sequence_number".into(), optional(None)),
        ("data_file".into(), data_file),
    ])
}

/// What a manifest's header says of its table.
pub struct ManifestHeader<'a> {
    pub schema_json: &'a str,
    pub schema_id: i32,
    pub partition: &'a [PartitionField],
    pub partition_spec_json: &'a str,
}

/// A manifest of the files one snapshot added.
pub fn manifest(
    header: &ManifestHeader,
    snapshot_id: i64,
    files: &[DataFile],
) -> Result<Vec<u8>, String> {
    let records = files
        .iter()
        .map(|f| entry(f, snapshot_id, header.partition))
        .collect();
    let metadata = [
        ("schema", header.schema_json.to_string()),
        ("schema-id", header.schema_id.to_string()),
        ("partition-spec", header.partition_spec_json.to_string()),
        ("partition-spec-id", "0".to_string()),
        ("format-version", "2".to_string()),
        ("content", "data".to_string()),
    ];
    container(&entry_schema(header.partition), &metadata, records)
}

/// A snapshot's manifest list.
pub fn manifest_list(
    manifests: &[ManifestFile],
    snapshot_id: i64,
    parent: Option<i64>,
    sequence_number: i64,
) -> Result<Vec<u8>, String> {
    let records = manifests.iter().map(|m| {
        Value::Record(vec![
            ("manifest_path".into(), Value::String(m.path.clone())),
            ("manifest_length".into(), Value::Long(m.length)),
            ("partition_spec_id".into(), Value::Int(0)),
            ("content".into(), Value::Int(0)),
            ("sequence_number".into(), Value::Long(m.sequence_number)),
            ("min_sequence_number".into(), Value::Long(m.sequence_number)),
            ("added_snapshot_id".into(), Value::Long(m.added_snapshot_id)),
            ("added_files_count".into(), Value::Int(m.added_files)),
            ("existing_files_count".into(), Value::Int(0)),
            ("deleted_files_count".into(), Value::Int(0)),
            ("added_rows_count".into(), Value::Long(m.added_rows)),
            ("existing_rows_count".into(), Value::Long(0)),
            ("deleted_rows_count".into(), Value::Long(0)),
        ])
    });
    let metadata = [
        ("snapshot-id", snapshot_id.to_string()),
        (
            "parent-snapshot-id",
            parent.map_or("null".into(), |p| p.to_string()),
        ),
        ("sequence-number", sequence_number.to_string()),
        ("format-version", "2".to_string()),
    ];
    container(MANIFEST_LIST_SCHEMA, &metadata, records.collect())
}

/// The manifests a manifest list names (to carry them into the next snapshot's list).
pub fn read_manifest_list(file: &[u8]) -> Result<Vec<ManifestFile>, String> {
    let field = |fields: &[(String, Value)], name: &str| -> Option<Value> {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    super::avro::records(file)?
        .into_iter()
        .map(|record| {
            let Value::Record(fields) = record else {
                return Err("a manifest list entry is not a record".to_string());
            };
            let long = |name: &str| match field(&fields, name) {
                Some(Value::Long(v)) => Ok(v),
                Some(Value::Int(v)) => Ok(v as i64),
                other => Err(format!("manifest list `{name}`: {other:?}")),
            };
            let path = match field(&fields, "manifest_path") {
                Some(Value::String(s)) => s,
                other => return Err(format!("manifest list `manifest_path`: {other:?}")),
            };
            Ok(ManifestFile {
                path,
                length: long("manifest_length")?,
                sequence_number: long("sequence_number")?,
                added_snapshot_id: long("added_snapshot_id")?,
                added_files: long("added_files_count")? as i32,
                added_rows: long("added_rows_count")?,
            })
        })
        .collect()
}
