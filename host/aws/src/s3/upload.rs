//! Writing an object as a multipart upload from a `Write` stream: parts are filled in
//! memory and uploaded in the background, a bounded number at a time, so a file of any size
//! costs about `part_size * (upload_concurrency + 1)` bytes. Parts are in-memory bodies, so
//! the SDK can retry them. The upload is completed only on commit; dropped before that, it
//! is aborted and leaves no parts behind. An object smaller than one part is sent with one
//! PutObject at commit instead.

use std::collections::VecDeque;
use std::io::Write;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::task::JoinHandle;

use super::{block_on, classify, runtime, S3Bucket, MIN_PART_SIZE};
use sluice_core::storage::{ObjectWriter, StagedObject, Store, StoreError};

/// Parts after which the part size doubles, so 10,000 parts reach far past any real file.
const PARTS_PER_SIZE_STEP: i32 = 1000;

pub struct MultipartWriter {
    bucket: S3Bucket,
    key: String,
    buffer: Vec<u8>,
    part_size: usize,
    upload_id: Option<String>,
    uploading: VecDeque<JoinHandle<Result<CompletedPart, StoreError>>>,
    parts: Vec<CompletedPart>,
    next_part: i32,
    bytes: u64,
}

impl MultipartWriter {
    pub fn new(bucket: S3Bucket, key: &str) -> Self {
        let part_size = bucket.settings.part_size.max(MIN_PART_SIZE);
        MultipartWriter {
            bucket,
            key: key.into(),
            buffer: Vec::new(),
            part_size,
            upload_id: None,
            uploading: VecDeque::new(),
            parts: Vec::new(),
            next_part: 1,
            bytes: 0,
        }
    }

    fn uri(&self) -> String {
        self.bucket.uri(&self.key)
    }

    fn upload_id(&mut self) -> Result<String, StoreError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let request = self
            .bucket
            .client
            .create_multipart_upload()
            .bucket(&self.bucket.bucket)
            .key(&self.key);
        let created = block_on(request.send())
            .map_err(|e| classify(e, &self.uri(), "CreateMultipartUpload"))?;
        let id = created.upload_id().unwrap_or_default().to_string();
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    /// Sends the filled buffer as the next part, waiting first if too many are in flight.
    fn send_part(&mut self) -> Result<(), StoreError> {
        let upload_id = self.upload_id()?;
        let body = Bytes::from(std::mem::take(&mut self.buffer));
        let number = self.next_part;
        self.next_part += 1;
        if number % PARTS_PER_SIZE_STEP == 0 {
            self.part_size *= 2;
        }
        let (client, bucket, key, uri) = (
            self.bucket.client.clone(),
            self.bucket.bucket.clone(),
            self.key.clone(),
            self.uri(),
        );
        self.uploading.push_back(runtime().spawn(async move {
            let part = client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| classify(e, &uri, "UploadPart"))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag().map(str::to_owned))
                .build())
        }));
        while self.uploading.len() > self.bucket.settings.upload_concurrency.max(1) {
            self.wait_oldest()?;
        }
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<(), StoreError> {
        let Some(handle) = self.uploading.pop_front() else {
            return Ok(());
        };
        let uri = self.uri();
        let part = block_on(handle).map_err(|e| StoreError::Request {
            uri,
            operation: "UploadPart",
            message: e.to_string(),
        })??;
        self.parts.push(part);
        Ok(())
    }
}

impl Write for MultipartWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(self.part_size);
        }
        let n = buf.len().min(self.part_size - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        self.bytes += n as u64;
        if self.buffer.len() == self.part_size {
            self.send_part().map_err(StoreError::into_io)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ObjectWriter for MultipartWriter {
    fn stage(mut self: Box<Self>) -> Result<Box<dyn StagedObject>, StoreError> {
        if self.upload_id.is_none() {
            let body = Bytes::from(std::mem::take(&mut self.buffer));
            return Ok(Box::new(Staged::Single {
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                body,
            }));
        }
        if !self.buffer.is_empty() {
            self.send_part()?;
        }
        while !self.uploading.is_empty() {
            self.wait_oldest()?;
        }
        Ok(Box::new(Staged::Multipart(PendingUpload {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            upload_id: self.upload_id.take().expect("checked above"),
            parts: std::mem::take(&mut self.parts),
            bytes: self.bytes,
        })))
    }
}

impl Drop for MultipartWriter {
    fn drop(&mut self) {
        self.uploading.iter().for_each(JoinHandle::abort);
        if let Some(upload_id) = self.upload_id.take() {
            abort(&self.bucket, &self.key, &upload_id);
        }
    }
}

enum Staged {
    Single {
        bucket: S3Bucket,
        key: String,
        body: Bytes,
    },
    Multipart(PendingUpload),
}

struct PendingUpload {
    bucket: S3Bucket,
    key: String,
    /// Empty once completed or aborted.
    upload_id: String,
    parts: Vec<CompletedPart>,
    bytes: u64,
}

impl StagedObject for Staged {
    fn bytes(&self) -> u64 {
        match self {
            Staged::Single { body, .. } => body.len() as u64,
            Staged::Multipart(p) => p.bytes,
        }
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        match *self {
            Staged::Single { bucket, key, body } => bucket
                .put(&key, body, sluice_core::storage::Precondition::None)
                .map(|_| ()),
            Staged::Multipart(mut pending) => {
                let uri = pending.bucket.uri(&pending.key);
                let parts = CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut pending.parts)))
                    .build();
                let request = pending
                    .bucket
                    .client
                    .complete_multipart_upload()
                    .bucket(&pending.bucket.bucket)
                    .key(&pending.key)
                    .upload_id(&pending.upload_id)
                    .multipart_upload(parts);
                block_on(request.send())
                    .map_err(|e| classify(e, &uri, "CompleteMultipartUpload"))?;
                pending.upload_id.clear();
                Ok(())
            }
        }
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if !self.upload_id.is_empty() {
            abort(&self.bucket, &self.key, &self.upload_id);
        }
    }
}

/// Aborts an upload so its parts stop costing storage. If even that fails, the bucket's
/// `AbortIncompleteMultipartUpload` lifecycle rule is the safety net (see "Bucket hygiene"
/// in docs/pipeline-reference.md).
pub(super) fn abort(bucket: &S3Bucket, key: &str, upload_id: &str) {
    let request = bucket
        .client
        .abort_multipart_upload()
        .bucket(&bucket.bucket)
        .key(key)
        .upload_id(upload_id);
    if let Err(e) = block_on(request.send()) {
        let error = classify(e, &bucket.uri(key), "AbortMultipartUpload");
        tracing::warn!(upload_id, "could not abort the multipart upload: {error}");
    }
}
