use crate::bindings::sluice::plugin::types::{DataError, PluginError};

/// Errors a plugin returns. Each maps to a typed error of the contract.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The JSON config is malformed or has bad values.
    Config(String),
    /// An input lacks a column or has the wrong type.
    Schema(String),
    /// The data cannot be processed; `row` is the index in the pushed batch.
    Data {
        input: String,
        row: Option<u64>,
        column: Option<String>,
        message: String,
    },
    /// A bug or broken invariant in the plugin.
    Internal(String),
}

impl Error {
    /// A data error blamed on one cell of the pushed batch.
    pub fn data_at(input: &str, row: usize, column: &str, message: impl Into<String>) -> Self {
        Error::Data {
            input: input.to_string(),
            row: Some(row as u64),
            column: Some(column.to_string()),
            message: message.into(),
        }
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::Internal(format!("arrow: {e}"))
    }
}

impl From<Error> for PluginError {
    fn from(e: Error) -> Self {
        match e {
            Error::Config(m) => PluginError::Config(m),
            Error::Schema(m) => PluginError::Schema(m),
            Error::Data {
                input,
                row,
                column,
                message,
            } => PluginError::Data(DataError {
                input,
                row,
                column,
                message,
            }),
            Error::Internal(m) => PluginError::Internal(m),
        }
    }
}
