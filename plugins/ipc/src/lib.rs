//! Arrow IPC stream bytes, as batches and schemas cross the plugin boundary. The host and
//! the plugin SDK both use this crate, so the two sides encode the same way.

use std::io::Cursor;

use arrow::buffer::Buffer;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ipc::reader::{StreamDecoder, StreamReader};
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;

/// A schema as an IPC stream with no batches.
pub fn encode_schema(schema: &Schema) -> Vec<u8> {
    let mut writer = StreamWriter::try_new(Vec::new(), schema).expect("a schema always encodes");
    writer.finish().expect("finishing an in-memory stream");
    writer.into_inner().expect("in-memory stream")
}

pub fn decode_schema(bytes: &[u8]) -> Result<SchemaRef, ArrowError> {
    Ok(StreamReader::try_new(Cursor::new(bytes), None)?.schema())
}

/// One batch as an IPC stream.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut writer =
        StreamWriter::try_new(Vec::with_capacity(encoded_size(batch)), &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    writer.into_inner()
}

/// About the bytes `batch` takes as a stream, so the buffer is allocated once. It counts
/// the bytes the arrays use, not their buffers' capacities: the arrays of a batch decoded
/// from one stream all point into that stream's buffer, and counting its capacity for
/// each of them asked for several times the batch (a passthrough instance's linear memory
/// grew to 71 MB on 64k-row batches; 11.5 MB with this estimate).
fn encoded_size(batch: &RecordBatch) -> usize {
    let arrays: usize = batch
        .columns()
        .iter()
        .map(|column| {
            let data = column.to_data();
            data.get_slice_memory_size()
                .unwrap_or_else(|_| column.get_array_memory_size())
        })
        .sum();
    // IPC pads each buffer to 8 bytes and adds a header per column: a little slack.
    arrays + arrays / 16 + 64 * batch.num_columns() + 4096
}

/// The schema and batches of one IPC stream. Takes the bytes over: the arrays point into
/// them instead of being copied out.
pub fn decode_stream(bytes: Vec<u8>) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let mut buffer = Buffer::from_vec(bytes);
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer)? {
            batches.push(batch);
        }
    }
    decoder.finish()?;
    let schema = decoder
        .schema()
        .ok_or_else(|| ArrowError::IpcError("the stream has no schema".into()))?;
    Ok((schema, batches))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::record_batch::RecordBatch;

    use super::{decode_stream, encode_batch, encoded_size};

    fn batch(rows: i64) -> RecordBatch {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows));
        let names: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("name {i}")),
        ));
        let days: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("2024-01-{:02}", i % 28 + 1)),
        ));
        RecordBatch::try_from_iter([("id", ids), ("name", names), ("day", days)]).unwrap()
    }

    /// A batch decoded from a stream (its arrays all share the stream's one buffer) asks
    /// for about its own encoded size, not that buffer once per array: a plugin re-encoding
    /// what it was given would otherwise reserve several times the batch.
    #[test]
    fn a_decoded_batch_reserves_about_its_own_size() {
        let bytes = encode_batch(&batch(65_536)).unwrap();
        let (_, decoded) = decode_stream(bytes.clone()).unwrap();
        let reserved = encoded_size(&decoded[0]);
        assert!(
            reserved >= bytes.len() && reserved <= bytes.len() * 5 / 4,
            "{reserved} bytes reserved for a {} byte stream",
            bytes.len()
        );
        assert_eq!(encode_batch(&decoded[0]).unwrap(), bytes);
    }
}
