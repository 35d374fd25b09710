//! Arrow IPC stream bytes, as batches and schemas cross the plugin boundary. The host and
//! the plugin SDK both use this crate, so the two sides encode the same way.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use arrow::buffer::Buffer;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ipc::reader::{RecordBatchDecoder, StreamDecoder, StreamReader};
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
    decode_buffer(Buffer::from_vec(bytes))
}

/// [`decode_stream`] without validating the arrays' contents again (offsets, UTF-8, null
/// counts): for a plugin reading the batches its host pushed. The host built them as valid
/// arrays and wrote them with arrow-rs, and a guest cannot be protected from its own host
/// anyway (the host owns the guest's memory); what a plugin returns is always validated.
/// Validation was ~5 % of the resample plugin's time. (arrow-ipc 60.1's `StreamDecoder`
/// takes a skip-validation flag but does not pass it on to record batches, so the
/// messages are walked here.) A stream with dictionaries goes the validated way.
///
/// # Safety
/// `bytes` must be an IPC stream arrow-rs wrote from valid arrays.
pub unsafe fn decode_trusted_stream(
    bytes: Vec<u8>,
) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let buffer = Buffer::from_vec(bytes);
    match unsafe { decode_unvalidated(&buffer)? } {
        Some(decoded) => Ok(decoded),
        None => decode_buffer(buffer),
    }
}

/// The schema and record batches of a stream without dictionaries; `None` for any other
/// stream. Safety: as [`decode_trusted_stream`].
unsafe fn decode_unvalidated(
    buffer: &Buffer,
) -> Result<Option<(SchemaRef, Vec<RecordBatch>)>, ArrowError> {
    let mut skip = arrow_data::UnsafeFlag::new();
    // SAFETY: the caller vouches for the arrays.
    unsafe { skip.set(true) };
    let no_dictionaries = HashMap::new();
    let (mut at, mut schema, mut batches) = (0, None, Vec::new());
    while at < buffer.len() {
        let mut length = prefix(buffer, &mut at)?;
        if length == -1 {
            length = prefix(buffer, &mut at)?; // the continuation marker's length follows
        }
        if length == 0 {
            break; // end of stream
        }
        // Copied to an aligned buffer (a few hundred bytes), as flatbuffers wants it.
        let mut metadata = arrow::buffer::MutableBuffer::new(length as usize);
        metadata.extend_from_slice(slice(buffer, &mut at, length as usize)?.as_slice());
        let message = arrow::ipc::root_as_message(&metadata)
            .map_err(|e| ArrowError::IpcError(format!("unreadable IPC message: {e}")))?;
        let body = slice(buffer, &mut at, message.bodyLength() as usize)?;
        if let Some(fb) = message.header_as_schema() {
            schema = Some(Arc::new(arrow::ipc::convert::try_fb_to_schema(fb)?));
        } else if let Some(fb) = message.header_as_record_batch() {
            let schema = schema
                .clone()
                .ok_or_else(|| ArrowError::IpcError("a record batch before the schema".into()))?;
            let version = message.version();
            let decoder =
                RecordBatchDecoder::try_new(&body, fb, schema, &no_dictionaries, &version)?;
            batches.push(
                decoder
                    .with_skip_validation(skip.clone())
                    .read_record_batch()?,
            );
        } else {
            return Ok(None); // a dictionary batch: the validated decoder handles those
        }
    }
    Ok(schema.map(|schema| (schema, batches)))
}

/// A message's little-endian i32 length prefix.
fn prefix(buffer: &Buffer, at: &mut usize) -> Result<i32, ArrowError> {
    let bytes = slice(buffer, at, 4)?;
    Ok(i32::from_le_bytes(
        bytes.as_slice().try_into().expect("4 bytes"),
    ))
}

fn slice(buffer: &Buffer, at: &mut usize, length: usize) -> Result<Buffer, ArrowError> {
    if buffer.len() - *at < length {
        return Err(ArrowError::IpcError(
            "the IPC stream ends inside a message".into(),
        ));
    }
    *at += length;
    Ok(buffer.slice_with_length(*at - length, length))
}

fn decode_buffer(mut buffer: Buffer) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
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

    use super::{decode_stream, decode_trusted_stream, encode_batch, encoded_size};

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

    /// The host's batches decode to the same batch whether validated or not, nulls and
    /// slices included; a stream cut short is an error, not a read past its end.
    #[test]
    fn a_trusted_stream_decodes_to_the_same_batches() {
        let mut with_nulls = batch(1000).slice(7, 500);
        let sparse: ArrayRef = Arc::new(Int64Array::from_iter(
            (0..500).map(|i| (i % 3 != 0).then_some(i)),
        ));
        with_nulls = RecordBatch::try_from_iter(
            with_nulls
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .zip(with_nulls.columns().iter().cloned())
                .chain([("sparse".to_string(), sparse)]),
        )
        .unwrap();
        for original in [batch(65_536), with_nulls] {
            let bytes = encode_batch(&original).unwrap();
            let (schema, checked) = decode_stream(bytes.clone()).unwrap();
            // SAFETY: arrow-rs wrote these bytes from valid arrays just above.
            let (trusted_schema, trusted) =
                unsafe { decode_trusted_stream(bytes.clone()) }.unwrap();
            assert_eq!((trusted_schema, &trusted), (schema, &checked));
            assert_eq!(trusted, vec![original]);
            let buffer = arrow::buffer::Buffer::from_vec(bytes.clone());
            // SAFETY: as above.
            let walked = unsafe { super::decode_unvalidated(&buffer) }.unwrap();
            assert!(walked.is_some(), "took the validated way");
            let cut = bytes[..bytes.len() - 100].to_vec();
            // SAFETY: a prefix of the same bytes.
            assert!(unsafe { decode_trusted_stream(cut) }.is_err());
        }
    }

    /// A stream with a dictionary goes the validated way and still decodes.
    #[test]
    fn a_trusted_stream_with_a_dictionary_decodes_too() {
        let codes: arrow::array::DictionaryArray<arrow::datatypes::Int32Type> =
            ["a", "b", "a"].into_iter().collect();
        let original = RecordBatch::try_from_iter([("code", Arc::new(codes) as ArrayRef)]).unwrap();
        let bytes = encode_batch(&original).unwrap();
        // SAFETY: arrow-rs wrote these bytes from a valid array just above.
        let (_, decoded) = unsafe { decode_trusted_stream(bytes) }.unwrap();
        assert_eq!(decoded, vec![original]);
    }
}
