use crate::commit::LockError;
use crate::plugin::PluginError;
use crate::sink::SinkError;
use crate::source::SourceError;
use crate::storage::StoreError;

/// Why a table failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{0}")]
    Config(String),
    #[error("input `{input}`: {source}")]
    Source { input: String, source: SourceError },
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("output: {0}")]
    Sink(#[from] SinkError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Lock(#[from] LockError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("input `{input}`: {source}")]
    Quality {
        input: String,
        source: crate::quality::QualityError,
    },
    #[error("{0}")]
    Internal(String),
}

/// The broad class of a failure; the CLI maps each to its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The pipeline file, a plugin config or an input schema is wrong.
    Config,
    /// The input data is malformed or a plugin refused it as a whole.
    Data,
    /// A plugin trapped, hit a limit or broke the contract.
    Plugin,
    /// Reading or writing files or S3 failed, or the table was locked by another run:
    /// worth retrying.
    Io,
    /// A bug in Sluice itself: a thread that panicked or could not start.
    Internal,
}

impl TableError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            TableError::Config(_) => ErrorKind::Config,
            TableError::Source { source, .. } => match source {
                // A decoder's verdict on the bytes (a corrupt or cut-off gzip stream) is about
                // the data; retrying would read the same bytes.
                SourceError::Io { source, .. } if is_bad_bytes(source) => ErrorKind::Data,
                SourceError::Io { .. } | SourceError::Store(_) => ErrorKind::Io,
                SourceError::NoFiles { .. }
                | SourceError::Glob { .. }
                | SourceError::Schema { .. } => ErrorKind::Config,
                SourceError::Malformed { .. } | SourceError::Value { .. } => ErrorKind::Data,
            },
            TableError::Plugin(p) => match p {
                // The pipeline names something that is not a plugin.
                PluginError::Read { .. }
                | PluginError::UnknownBundled { .. }
                | PluginError::Compile { .. } => ErrorKind::Config,
                PluginError::Config { .. } | PluginError::Schema { .. } => ErrorKind::Config,
                PluginError::Data { .. } => ErrorKind::Data,
                _ => ErrorKind::Plugin,
            },
            TableError::Sink(
                SinkError::Partition(_) | SinkError::Upsert(_) | SinkError::Unsorted { .. },
            ) => ErrorKind::Data,
            TableError::Sink(_) | TableError::Store(_) | TableError::Lock(_) => ErrorKind::Io,
            TableError::Quality { source, .. } => match source {
                crate::quality::QualityError::Config { .. } => ErrorKind::Config,
                crate::quality::QualityError::Aborted { .. } => ErrorKind::Data,
            },
            // The data is committed; registering again on a rerun is what fixes it.
            TableError::Catalog(_) => ErrorKind::Io,
            TableError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// Errors that readers of compressed or encoded bytes give for bytes they cannot decode.
fn is_bad_bytes(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        error.kind(),
        K::InvalidData | K::InvalidInput | K::UnexpectedEof
    )
}
