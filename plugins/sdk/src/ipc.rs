//! Arrow IPC stream encoding of schemas and batches, as the contract carries them (see the
//! `sluice-ipc` crate, which the host uses too).

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
pub use sluice_ipc::{decode_schema, encode_batch, encode_schema};

/// The batches of an IPC stream concatenated into one (an empty batch when it has none).
pub fn decode_batch(bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
    let (schema, batches) = sluice_ipc::decode_stream(bytes)?;
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => arrow::compute::concat_batches(&schema, &batches),
    }
}
