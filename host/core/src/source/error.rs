/// Why an input could not be read. Every variant names the file; those about one value
/// name its line and column too.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no file matches `{pattern}`")]
    NoFiles { pattern: String },
    #[error("invalid glob `{pattern}`: {message}")]
    Glob { pattern: String, message: String },
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Malformed {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}:{line}: column {column} `{name}`: cannot parse {value:?} as {expected}{hint}")]
    Value {
        file: String,
        line: u64,
        /// 1-based column number.
        column: usize,
        name: String,
        value: String,
        expected: String,
        hint: String,
    },
    #[error("{file}: {message}")]
    Schema { file: String, message: String },
    #[error(transparent)]
    Store(crate::storage::StoreError),
}

impl SourceError {
    pub(crate) fn io(file: &str, source: std::io::Error) -> Self {
        SourceError::Io {
            file: file.into(),
            source,
        }
    }

    /// A batch's text for one column would pass Arrow's 2 GiB offset limit.
    pub(crate) fn column_too_large(file: &str, line: u64) -> Self {
        SourceError::Malformed {
            file: file.into(),
            line,
            message: "a batch's text for one column exceeds 2 GiB; lower batch_rows".into(),
        }
    }

    /// The line the error points at, if it points at one.
    pub fn line(&self) -> Option<u64> {
        match self {
            SourceError::Malformed { line, .. } | SourceError::Value { line, .. } => Some(*line),
            _ => None,
        }
    }
}
