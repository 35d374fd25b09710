//! S3 (and S3-compatible stores) through the AWS SDK: the standard credential chain,
//! endpoint override and path-style addressing, retries with backoff.

mod errors;
mod read;
mod runtime;
mod upload;

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;

pub use errors::classify;
pub use runtime::{block_on, runtime};

use sluice_core::storage::{
    Buckets, Fetched, ObjectMeta, ObjectWriter, Precondition, Store, StoreError,
};

/// How Sluice talks to S3. Credentials and, unless set here, the region and endpoint come
/// from the standard AWS chain (environment, profile, ECS task role, instance metadata).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); `AWS_ENDPOINT_URL_S3` works too.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most S3-compatible stores need.
    pub path_style: bool,
    /// Only send and check checksums where S3 requires them, for stores without
    /// flexible-checksum support.
    pub checksums_when_required: bool,
    /// Attempts per request, including the first (throttling, 5xx, connection errors).
    pub max_attempts: u32,
    /// Bytes per multipart part: what one part costs in memory.
    pub part_size: usize,
    /// Parts uploading at once, beside the one being filled.
    pub upload_concurrency: usize,
    /// Bytes per ranged GET when reading an object.
    pub read_chunk: usize,
    /// Ranged GETs in flight at once for one object.
    pub read_concurrency: usize,
}

/// S3's minimum part size (except for the last part).
pub const MIN_PART_SIZE: usize = 5 << 20;

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            endpoint: None,
            region: None,
            path_style: false,
            checksums_when_required: false,
            max_attempts: 5,
            part_size: 8 << 20,
            upload_concurrency: 2,
            read_chunk: 8 << 20,
            read_concurrency: 4,
        }
    }
}

/// Opens S3 buckets for [`sluice_core::storage::Storage`], creating the client once, on
/// first use (loading credentials may call the ECS or instance metadata endpoints).
pub struct S3Buckets {
    settings: S3Settings,
    client: Mutex<Option<Client>>,
}

impl S3Buckets {
    pub fn new(settings: S3Settings) -> Self {
        S3Buckets {
            settings,
            client: Mutex::new(None),
        }
    }

    /// One bucket, as its own type (tests and tools use its client).
    pub fn open(&self, bucket: &str) -> Result<S3Bucket, StoreError> {
        let mut client = self.client.lock().expect("not poisoned");
        if client.is_none() {
            *client = Some(self::client(&self.settings)?);
        }
        Ok(S3Bucket::new(
            client.clone().expect("set above"),
            bucket,
            self.settings.clone(),
        ))
    }
}

impl Buckets for S3Buckets {
    fn bucket(&self, name: &str) -> Result<Arc<dyn Store>, StoreError> {
        Ok(Arc::new(self.open(name)?))
    }
}

/// Builds the client once per process: loading credentials may call the ECS or instance
/// metadata endpoints.
pub(crate) fn client(settings: &S3Settings) -> Result<Client, StoreError> {
    let settings = settings.clone();
    block_on(async move {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        let mut config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(settings.path_style);
        if shared.region().is_none() {
            // S3-compatible stores rarely care; AWS itself redirects with a clear error.
            config = config.region(Region::new("us-east-1"));
        }
        if settings.checksums_when_required {
            config = config
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Ok(Client::from_conf(config.build()))
    })
}

/// One bucket as a [`Store`]; keys are full S3 keys.
#[derive(Clone)]
pub struct S3Bucket {
    client: Client,
    bucket: String,
    settings: S3Settings,
}

impl S3Bucket {
    pub fn new(client: Client, bucket: &str, settings: S3Settings) -> Self {
        S3Bucket {
            client,
            bucket: bucket.into(),
            settings,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.bucket
    }
}

impl Store for S3Bucket {
    fn discard_staged(&self, prefix: &str) -> Result<u64, StoreError> {
        let uri = self.uri(prefix);
        let uploads = block_on(
            self.client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send(),
        )
        .map_err(|e| classify(e, &uri, "ListMultipartUploads"))?;
        let mut discarded = 0;
        for upload in uploads.uploads() {
            let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            upload::abort(self, key, id);
            discarded += 1;
        }
        Ok(discarded)
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let uri = self.uri(prefix);
        block_on(async {
            let mut found = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| classify(e, &uri, "ListObjectsV2"))?;
                for object in page.contents() {
                    let Some(key) = object.key() else { continue };
                    // Folder markers written by consoles are not data.
                    if key.ends_with('/') {
                        continue;
                    }
                    found.push(ObjectMeta {
                        key: key.into(),
                        size: object.size().unwrap_or(0).max(0) as u64,
                        etag: object.e_tag().map(str::to_owned).unwrap_or_default(),
                        version: None,
                    });
                }
                match page.next_continuation_token() {
                    Some(next) if page.is_truncated() == Some(true) => token = Some(next.into()),
                    _ => break,
                }
            }
            found.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(found)
        })
    }

    fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let uri = self.uri(key);
        let result = block_on(
            self.client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send(),
        );
        match result.map_err(|e| classify(e, &uri, "HeadObject")) {
            Ok(head) => Ok(Some(ObjectMeta {
                key: key.into(),
                size: head.content_length().unwrap_or(0).max(0) as u64,
                etag: head.e_tag().map(str::to_owned).unwrap_or_default(),
                version: head.version_id().map(str::to_owned),
            })),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Fetched>, StoreError> {
        let uri = self.uri(key);
        block_on(async {
            let object = match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(object) => object,
                Err(e) => {
                    return match classify(e, &uri, "GetObject") {
                        StoreError::NotFound { .. } => Ok(None),
                        other => Err(other),
                    }
                }
            };
            let etag = object.e_tag().map(str::to_owned).unwrap_or_default();
            let body = object
                .body
                .collect()
                .await
                .map_err(|e| StoreError::Request {
                    uri: uri.clone(),
                    operation: "GetObject",
                    message: e.to_string(),
                })?;
            Ok(Some(Fetched {
                body: body.into_bytes(),
                etag,
            }))
        })
    }

    fn put(&self, key: &str, body: Bytes, when: Precondition) -> Result<String, StoreError> {
        let uri = self.uri(key);
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body));
        request = match when {
            Precondition::None => request,
            Precondition::IfAbsent => request.if_none_match("*"),
            Precondition::IfMatch(etag) => request.if_match(etag),
        };
        let output = block_on(request.send()).map_err(|e| classify(e, &uri, "PutObject"))?;
        Ok(output.e_tag().map(str::to_owned).unwrap_or_default())
    }

    fn delete(&self, key: &str, when: Precondition) -> Result<(), StoreError> {
        let uri = self.uri(key);
        let mut request = self.client.delete_object().bucket(&self.bucket).key(key);
        if let Precondition::IfMatch(etag) = when {
            request = request.if_match(etag);
        }
        match block_on(request.send()).map_err(|e| classify(e, &uri, "DeleteObject")) {
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn open(&self, meta: &ObjectMeta) -> Result<Box<dyn Read + Send>, StoreError> {
        Ok(Box::new(read::ObjectReader::start(
            self.clone(),
            meta.clone(),
        )))
    }

    fn create(&self, key: &str) -> Result<Box<dyn ObjectWriter>, StoreError> {
        Ok(Box::new(upload::MultipartWriter::new(self.clone(), key)))
    }

    fn s3_bucket(&self) -> Option<&str> {
        Some(&self.bucket)
    }

    /// CopyObject, for objects up to its 5 GiB limit, pinned to the listed ETag.
    fn copy_from(
        &self,
        key: &str,
        from: &dyn Store,
        source: &ObjectMeta,
    ) -> Result<Option<u64>, StoreError> {
        let Some(source_bucket) = from.s3_bucket() else {
            return Ok(None);
        };
        if source.size > MAX_COPY_OBJECT {
            return Ok(None);
        }
        let uri = self.uri(key);
        let mut request = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(key)
            .copy_source(format!("{source_bucket}/{}", encode_key(&source.key)));
        if !source.etag.is_empty() {
            request = request.copy_source_if_match(&source.etag);
        }
        match block_on(request.send()).map_err(|e| classify(e, &uri, "CopyObject")) {
            Ok(_) => Ok(Some(source.size)),
            Err(StoreError::Conflict { uri }) => Err(StoreError::Changed {
                uri,
                etag: source.etag.clone(),
            }),
            Err(e) => Err(e),
        }
    }
}

/// CopyObject's limit; larger objects are streamed through a multipart upload.
const MAX_COPY_OBJECT: u64 = 5 << 30;

/// A key as `x-amz-copy-source` wants it: percent-encoded, `/` kept.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_sources_are_percent_encoded_but_keep_slashes() {
        assert_eq!(super::encode_key("in/a b+c%.csv"), "in/a%20b%2Bc%25.csv");
    }
}
