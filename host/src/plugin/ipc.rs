//! Arrow IPC stream encoding, as batches and schemas cross the plugin boundary.

use std::io::Cursor;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;

pub fn encode_schema(schema: &Schema) -> Vec<u8> {
    let mut writer = StreamWriter::try_new(Vec::new(), schema).expect("a schema always encodes");
    writer.finish().expect("finishing an in-memory stream");
    writer.into_inner().expect("in-memory stream")
}

pub fn decode_schema(bytes: &[u8]) -> Result<SchemaRef, ArrowError> {
    Ok(StreamReader::try_new(Cursor::new(bytes), None)?.schema())
}

pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut writer = StreamWriter::try_new(Vec::with_capacity(batch.get_array_memory_size() + 1024), &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    writer.into_inner()
}

/// All batches of one IPC stream.
pub fn decode_batches(bytes: &[u8]) -> Result<Vec<RecordBatch>, ArrowError> {
    StreamReader::try_new(Cursor::new(bytes), None)?.collect()
}
