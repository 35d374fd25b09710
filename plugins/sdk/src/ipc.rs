//! Arrow IPC stream encoding of schemas and batches, as the contract carries them.

use std::io::Cursor;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::buffer::Buffer;
use arrow::ipc::reader::{StreamDecoder, StreamReader};
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;

/// A schema as an IPC stream with no batches.
pub fn encode_schema(schema: &Schema) -> Vec<u8> {
    let mut w = StreamWriter::try_new(Vec::new(), schema).expect("schema encodes");
    w.finish().expect("stream finishes");
    w.into_inner().expect("vec writer")
}

pub fn decode_schema(bytes: &[u8]) -> Result<SchemaRef, ArrowError> {
    Ok(StreamReader::try_new(Cursor::new(bytes), None)?.schema())
}

/// One batch as an IPC stream.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut w = StreamWriter::try_new(Vec::with_capacity(batch.get_array_memory_size() + 1024), &batch.schema())?;
    w.write(batch)?;
    w.finish()?;
    w.into_inner()
}

/// The batches of an IPC stream concatenated into one (an empty batch when it has none).
/// Takes the bytes over: the arrays point into them instead of being copied out.
pub fn decode_batch(bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
    let mut buffer = Buffer::from_vec(bytes);
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer)? {
            batches.push(batch);
        }
    }
    decoder.finish()?;
    let schema = decoder.schema().ok_or_else(|| ArrowError::IpcError("stream has no schema".into()))?;
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => arrow::compute::concat_batches(&schema, &batches),
    }
}
