//! Arrow IPC stream encoding, as batches and schemas cross the plugin boundary (the
//! `sluice-ipc` crate, shared with the plugin SDK).

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
pub use sluice_ipc::{decode_schema, encode_batch, encode_schema};

/// All batches of one IPC stream, pointing into `bytes` rather than copied out of them.
pub fn decode_batches(bytes: Vec<u8>) -> Result<Vec<RecordBatch>, ArrowError> {
    Ok(sluice_ipc::decode_stream(bytes)?.1)
}
