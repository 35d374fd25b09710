//! # sluice-aws
//!
//! Sluice on AWS, apart from the engine so that what does not run on AWS (the conformance
//! kit, a plugin author's tests) does not compile the AWS SDK:
//!
//! - [`s3`]: S3 and S3-compatible stores as `sluice_core::storage::Store`s: the standard
//!   credential chain, ranged parallel reads, multipart uploads, conditional writes;
//! - [`sfn`]: Step Functions task tokens: heartbeats, then success or failure;
//! - [`glue`]: the Glue Data Catalog, where outputs are registered as tables;
//! - [`event`]: the objects an S3 notification, SQS/SNS envelope, EventBridge event or
//!   Step Functions input names;
//! - [`route`]: which tables an object's key triggers, and running them.

pub mod event;
pub mod glue;
pub mod route;
pub mod s3;
pub mod sfn;

pub use event::{parse as parse_event, EventError, ObjectEvent};
pub use glue::{GlueCatalog, GlueSettings};
pub use route::{run_event, EventRun, RouteError, Trigger, TriggerError};
pub use s3::{S3Bucket, S3Buckets, S3Settings};
pub use sfn::{SfnSettings, TaskToken};

/// The shared AWS configuration for a service client: the standard chain, with an
/// optional endpoint and region; `us-east-1` when the chain names no region.
pub(crate) fn sdk_config(endpoint: Option<&str>, region: Option<&str>) -> aws_config::SdkConfig {
    let (endpoint, region) = (endpoint.map(str::to_string), region.map(str::to_string));
    s3::block_on(async move {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        loader = loader.region(
            aws_config::meta::region::RegionProviderChain::first_try(
                region.map(aws_config::Region::new),
            )
            .or_default_provider()
            .or_else("us-east-1"),
        );
        loader.load().await
    })
}

/// Local folders and S3 buckets with these settings.
pub fn storage(settings: S3Settings) -> sluice_core::storage::Storage {
    sluice_core::storage::Storage::with_buckets(std::sync::Arc::new(S3Buckets::new(settings)))
}
