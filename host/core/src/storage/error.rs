/// Why a storage operation failed. Every variant names the object's URI.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the object already exists, or changed since it was read.
    #[error("{uri}: the object already exists or changed since it was read (precondition failed)")]
    Conflict { uri: String },
    #[error("{uri}: no such object")]
    NotFound { uri: String },
    /// The object changed between listing and reading, so its bytes can't be trusted.
    #[error("{uri}: the object changed while it was being read (ETag {etag} no longer matches)")]
    Changed { uri: String, etag: String },
    #[error("{uri}: {operation} failed: {message}")]
    Request {
        uri: String,
        operation: &'static str,
        message: String,
    },
    #[error("{uri}: {source}")]
    Io { uri: String, source: std::io::Error },
    #[error("invalid location `{location}`: {message}")]
    Location { location: String, message: String },
}

impl StoreError {
    pub fn io(uri: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            uri: uri.into(),
            source,
        }
    }

    /// Turns the error into an `io::Error` for `Read`/`Write` implementations, keeping the
    /// message (which names the object).
    pub fn into_io(self) -> std::io::Error {
        match self {
            StoreError::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        }
    }
}
