//! Avro object container files, as Iceberg's manifests and manifest lists are.
//!
//! Records are encoded by `apache-avro`; the container (header, one block, sync marker)
//! is written here so that the schema in the header is exactly the JSON given, with the
//! `field-id` attributes and `"logicalType": "map"` arrays Iceberg readers resolve fields
//! by (the crate's writer drops attributes it does not know from array schemas).

use apache_avro::types::Value;
use apache_avro::Schema;

/// A container file of `records`, with `metadata` in its header beside the schema.
pub fn container(
    schema_json: &str,
    metadata: &[(&str, String)],
    records: Vec<Value>,
) -> Result<Vec<u8>, String> {
    let schema = Schema::parse_str(schema_json).map_err(|e| format!("Avro schema: {e}"))?;
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
        .build()
        .map_err(|e| format!("Avro schema: {e}"))?;
    let mut block = Vec::new();
    let count = records.len();
    for record in records {
        writer
            .write_value(&mut block, record)
            .map_err(|e| format!("Avro record: {e}"))?;
    }
    let sync: [u8; 16] = *uuid::Uuid::new_v4().as_bytes();
    let mut out = b"Obj\x01".to_vec();
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("avro.schema", schema_json.as_bytes()),
        ("avro.codec", b"null"),
    ];
    entries.extend(metadata.iter().map(|(k, v)| (*k, v.as_bytes())));
    long(&mut out, entries.len() as i64);
    for (key, value) in entries {
        bytes(&mut out, key.as_bytes());
        bytes(&mut out, value);
    }
    long(&mut out, 0);
    out.extend_from_slice(&sync);
    if count > 0 {
        long(&mut out, count as i64);
        long(&mut out, block.len() as i64);
        out.extend_from_slice(&block);
        out.extend_from_slice(&sync);
    }
    Ok(out)
}

/// The records of a container file this module wrote.
pub fn records(file: &[u8]) -> Result<Vec<Value>, String> {
    let reader = apache_avro::Reader::new(file).map_err(|e| format!("reading Avro: {e}"))?;
    reader
        .map(|r| r.map_err(|e| format!("reading Avro: {e}")))
        .collect()
}

/// Avro's zig-zag varint `long`.
fn long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    long(out, value.len() as i64);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_reads_back_with_its_header_schema() {
        let schema = r#"{"type":"record","name":"r","fields":[{"name":"a","type":"long","field-id":1},
            {"name":"m","type":{"type":"array","logicalType":"map","items":{"type":"record","name":"k1_v2",
            "fields":[{"name":"key","type":"int","field-id":1},{"name":"value","type":"long","field-id":2}]}},"field-id":3}]}"#;
        let record = |a: i64| {
            Value::Record(vec![
                ("a".into(), Value::Long(a)),
                (
                    "m".into(),
                    Value::Array(vec![Value::Record(vec![
                        ("key".into(), Value::Int(7)),
                        ("value".into(), Value::Long(-a)),
                    ])]),
                ),
            ])
        };
        let file = container(
            schema,
            &[("format-version", "2".into())],
            vec![record(1), record(300)],
        )
        .unwrap();
        let header = String::from_utf8_lossy(&file);
        assert!(header.contains(r#""logicalType":"map""#) && header.contains("format-version"));
        let back = records(&file).unwrap();
        assert_eq!(back, vec![record(1), record(300)]);
        let empty = container(schema, &[], vec![]).unwrap();
        assert!(records(&empty).unwrap().is_empty());
    }
}
