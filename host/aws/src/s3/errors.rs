//! S3 errors mapped to the store's error kinds: a failed precondition is a conflict, a
//! missing key is "not found", anything else keeps the SDK's full explanation.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use sluice_core::storage::StoreError;

pub fn classify<E>(
    error: SdkError<E, HttpResponse>,
    uri: &str,
    operation: &'static str,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    match (status, error.code()) {
        // A 404 like a missing key, but a configuration mistake, not an absent object.
        (_, Some("NoSuchBucket")) => StoreError::Request {
            uri: uri.into(),
            operation,
            message: "NoSuchBucket: the bucket does not exist, or these credentials cannot see it"
                .into(),
        },
        (Some(412), _)
        | (_, Some("PreconditionFailed"))
        | (_, Some("ConditionalRequestConflict")) => StoreError::Conflict { uri: uri.into() },
        (Some(404), _) | (_, Some("NoSuchKey")) | (_, Some("NotFound")) => {
            StoreError::NotFound { uri: uri.into() }
        }
        _ => StoreError::Request {
            uri: uri.into(),
            operation,
            message: DisplayErrorContext(&error).to_string(),
        },
    }
}
