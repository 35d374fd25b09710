//! The one async runtime behind every S3 call. The pipeline's stages are plain threads;
//! they block on S3 futures here, and the futures run on two small worker threads.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sluice-s3")
            .enable_all()
            .build()
            .expect("the S3 runtime starts")
    })
}

/// Runs a future to completion from a pipeline thread (never from inside the runtime).
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}
