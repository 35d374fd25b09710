//! Quality rules on an input's columns, checked as rows are read, before the plugin sees
//! them: the schema contract of a table (`nullable = false`, `unique`, `allowed`, `min`,
//! `max`, `pattern`), each with a policy for a row that breaks it: `reject` it to the
//! `rejects` output with the rule's name, `warn` and count, or `abort` the table.
//!
//! - [`config`]: the `[tables.T.input.quality]` section;
//! - [`check`]: the rules compiled against the input's schema, applied batch by batch.

mod check;
mod config;

pub use check::{Checked, Checker, Violation};
pub use config::{ColumnRules, Literal, Policy, Quality};

/// Why quality rules could not be applied, or stopped the table.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// A rule that cannot apply to its column (unknown column, a pattern on numbers, a
    /// bound that is not of the column's type).
    #[error("quality.{column}: {message}")]
    Config { column: String, message: String },
    /// A row broke a rule whose policy is `abort`.
    #[error(
        "{file}:{line}: column `{column}`: {value} breaks rule `{rule}` (on_fail = \"abort\")"
    )]
    Aborted {
        file: String,
        line: u64,
        column: String,
        rule: String,
        value: String,
    },
}
