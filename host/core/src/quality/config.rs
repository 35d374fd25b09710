//! The `quality` section of an input: rules per column.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Rules by column name.
pub type Quality = BTreeMap<String, ColumnRules>;

/// The rules of one column. Each rule set is checked on every row; NULLs pass every rule
/// but `nullable = false` (as in SQL constraints).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRules {
    /// `false`: a NULL breaks rule `not_null`.
    pub nullable: Option<bool>,
    /// Every non-NULL value appears once in the input (rule `unique`); later repeats break
    /// it. Holds each distinct value in memory.
    #[serde(default)]
    pub unique: bool,
    /// The only values allowed (rule `allowed`), compared as the column's type.
    pub allowed: Option<Vec<Literal>>,
    /// Bounds, inclusive (rules `min` and `max`), in the column's type: numbers, decimals,
    /// dates, timestamps or text.
    pub min: Option<Literal>,
    pub max: Option<Literal>,
    /// A regular expression a text value must match somewhere (anchor it with `^...$`).
    pub pattern: Option<String>,
    /// What a row that breaks one of these rules does: `reject` (default), `warn`, `abort`.
    #[serde(default)]
    pub on_fail: Policy,
}

/// A value written in the pipeline file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Literal {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x}"),
            Literal::Text(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// The row goes to `rejects`, with the rule's name; the table goes on.
    #[default]
    Reject,
    /// The row goes on; the breach is counted in the run report and logged.
    Warn,
    /// The table fails, naming the file, line, column and value.
    Abort,
}
