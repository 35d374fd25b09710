//! Reading an object as a byte stream: ranged GETs fetched a few at a time ahead of the
//! reader and handed over in order, so a large object downloads in parallel while memory
//! stays at `read_chunk * (read_concurrency + 1)`.
//!
//! Every range is requested with `If-Match` on the listed ETag, so an object replaced
//! mid-read fails cleanly instead of mixing two versions. A connection that breaks
//! mid-body is retried for that range only.

use std::collections::VecDeque;
use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{classify, runtime, S3Bucket};
use sluice_core::storage::{ObjectMeta, Store, StoreError};

pub struct ObjectReader {
    chunks: mpsc::Receiver<Result<Bytes, StoreError>>,
    current: Bytes,
    producer: JoinHandle<()>,
}

impl ObjectReader {
    pub fn start(bucket: S3Bucket, meta: ObjectMeta) -> Self {
        let (tx, chunks) = mpsc::channel(1);
        let producer = runtime().spawn(produce(bucket, meta, tx));
        ObjectReader {
            chunks,
            current: Bytes::new(),
            producer,
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e.into_io()),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl Drop for ObjectReader {
    /// A reader dropped early (a failed table) stops its downloads.
    fn drop(&mut self) {
        self.producer.abort();
    }
}

async fn produce(bucket: S3Bucket, meta: ObjectMeta, tx: mpsc::Sender<Result<Bytes, StoreError>>) {
    let chunk = bucket.settings.read_chunk.max(1) as u64;
    let mut ranges = (0..meta.size)
        .step_by(chunk as usize)
        .map(|start| (start, (start + chunk).min(meta.size) - 1));
    let mut in_flight: VecDeque<JoinHandle<Result<Bytes, StoreError>>> = VecDeque::new();
    loop {
        while in_flight.len() < bucket.settings.read_concurrency.max(1) {
            let Some(range) = ranges.next() else { break };
            in_flight.push_back(tokio::spawn(fetch_range(
                bucket.clone(),
                meta.clone(),
                range,
            )));
        }
        let Some(next) = in_flight.pop_front() else {
            return;
        };
        let result = next.await.unwrap_or_else(|e| {
            Err(StoreError::Request {
                uri: bucket.uri(&meta.key),
                operation: "GetObject",
                message: e.to_string(),
            })
        });
        let failed = result.is_err();
        if tx.send(result).await.is_err() || failed {
            in_flight.iter().for_each(JoinHandle::abort);
            return;
        }
    }
}

/// One inclusive byte range, retried when the body breaks off (the SDK retries failed
/// requests itself, but not a body that stops halfway).
async fn fetch_range(
    bucket: S3Bucket,
    meta: ObjectMeta,
    (first, last): (u64, u64),
) -> Result<Bytes, StoreError> {
    let uri = bucket.uri(&meta.key);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut request = bucket
            .client
            .get_object()
            .bucket(&bucket.bucket)
            .key(&meta.key)
            .range(format!("bytes={first}-{last}"));
        if !meta.etag.is_empty() {
            request = request.if_match(&meta.etag);
        }
        let response = request
            .send()
            .await
            .map_err(|e| match classify(e, &uri, "GetObject") {
                StoreError::Conflict { uri } => StoreError::Changed {
                    uri,
                    etag: meta.etag.clone(),
                },
                other => other,
            })?;
        match response.body.collect().await {
            Ok(body) => {
                let bytes = body.into_bytes();
                if bytes.len() as u64 == last - first + 1 {
                    return Ok(bytes);
                }
                if attempt >= bucket.settings.max_attempts {
                    return Err(StoreError::Request {
                        uri,
                        operation: "GetObject",
                        message: format!("range {first}-{last}: got {} bytes", bytes.len()),
                    });
                }
            }
            Err(e) if attempt >= bucket.settings.max_attempts => {
                return Err(StoreError::Request {
                    uri,
                    operation: "GetObject",
                    message: format!("range {first}-{last}: {e}"),
                })
            }
            Err(e) => {
                tracing::warn!(object = %uri, attempt, "reading range {first}-{last} broke off ({e}); retrying")
            }
        }
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
    }
}
