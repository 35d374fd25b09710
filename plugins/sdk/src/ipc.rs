//! Arrow IPC stream encoding of schemas and batches, as the contract carries them (see the
//! `sluice-ipc` crate, which the host uses too).

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
pub use sluice_ipc::{decode_schema, encode_batch, encode_schema};

/// The batches of an IPC stream concatenated into one (an empty batch when it has none).
pub fn decode_batch(bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
    one_batch(sluice_ipc::decode_stream(bytes)?)
}

/// [`decode_batch`] for a batch the host pushed: its arrays are not validated again (see
/// [`sluice_ipc::decode_trusted_stream`]).
pub(crate) fn decode_pushed(bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
    // SAFETY: the host wrote these bytes with arrow-rs from arrays it had built valid.
    one_batch(unsafe { sluice_ipc::decode_trusted_stream(bytes)? })
}

fn one_batch(
    (schema, batches): (arrow::datatypes::SchemaRef, Vec<RecordBatch>),
) -> Result<RecordBatch, ArrowError> {
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => arrow::compute::concat_batches(&schema, &batches),
    }
}
