//! Quality rules compiled against an input's schema and applied to its batches. Bounds
//! compare through Arrow's kernels in the column's own type (a decimal bound is exact, a
//! date bound is a date); `allowed`, `unique` and `pattern` look at each value's text.

use std::collections::{BTreeMap, HashSet};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Scalar, StringArray};
use arrow::compute::kernels::cmp::{gt, lt};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use regex::Regex;

use super::{ColumnRules, Literal, Policy, Quality, QualityError};

/// A row that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The row in its batch.
    pub row: usize,
    pub column: String,
    pub rule: &'static str,
    pub policy: Policy,
    /// The value, as text (`NULL` for a null).
    pub value: String,
}

/// Every violation of a batch, in row order.
pub struct Checked {
    pub violations: Vec<Violation>,
}

enum Rule {
    NotNull,
    Unique(HashSet<String>),
    Allowed(HashSet<String>),
    Min(Scalar<ArrayRef>),
    Max(Scalar<ArrayRef>),
    Pattern(Regex),
}

impl Rule {
    fn name(&self) -> &'static str {
        match self {
            Rule::NotNull => "not_null",
            Rule::Unique(_) => "unique",
            Rule::Allowed(_) => "allowed",
            Rule::Min(_) => "min",
            Rule::Max(_) => "max",
            Rule::Pattern(_) => "pattern",
        }
    }

    fn needs_text(&self) -> bool {
        matches!(self, Rule::Unique(_) | Rule::Allowed(_) | Rule::Pattern(_))
    }
}

struct ColumnCheck {
    index: usize,
    name: String,
    policy: Policy,
    rules: Vec<Rule>,
}

/// One input's rules, with what they have seen so far (the values of `unique` columns, and
/// how many rows broke each rule).
pub struct Checker {
    columns: Vec<ColumnCheck>,
    counts: BTreeMap<String, u64>,
}

impl Checker {
    /// Compiles `quality` for an input of `schema`.
    pub fn new(quality: &Quality, schema: &Schema) -> Result<Self, QualityError> {
        let mut columns = Vec::new();
        for (name, rules) in quality {
            let config = |message: String| QualityError::Config {
                column: name.clone(),
                message,
            };
            let index = schema.index_of(name).map_err(|_| {
                config(format!(
                    "the input has no column `{name}` (columns: {:?})",
                    schema.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
                ))
            })?;
            let data_type = schema.field(index).data_type();
            columns.push(ColumnCheck {
                index,
                name: name.clone(),
                policy: rules.on_fail,
                rules: compile(rules, data_type).map_err(config)?,
            });
        }
        Ok(Checker {
            columns,
            counts: BTreeMap::new(),
        })
    }

    /// How many rows broke each rule so far, by `column.rule`.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    /// Checks every rule on every row of `batch`.
    pub fn check(&mut self, batch: &RecordBatch) -> Result<Checked, QualityError> {
        let mut violations = Vec::new();
        for column in &mut self.columns {
            let config = |message| QualityError::Config {
                column: column.name.clone(),
                message,
            };
            let array = batch.column(column.index);
            // The values as text, made once per batch: for the rules that compare text,
            // else only when some row broke a rule and its value is reported.
            let mut text = match column.rules.iter().any(Rule::needs_text) {
                true => Some(as_text(array).map_err(config)?),
                false => None,
            };
            for rule in &mut column.rules {
                let failed = failing_rows(rule, array, text.as_ref()).map_err(config)?;
                *self
                    .counts
                    .entry(format!("{}.{}", column.name, rule.name()))
                    .or_default() += failed.len() as u64;
                if failed.is_empty() {
                    continue;
                }
                if text.is_none() {
                    text = Some(as_text(array).map_err(config)?);
                }
                let text = text.as_ref().expect("made above");
                violations.extend(failed.into_iter().map(|row| Violation {
                    row,
                    column: column.name.clone(),
                    rule: rule.name(),
                    policy: column.policy,
                    value: value_text(text, array, row),
                }));
            }
        }
        violations.sort_by_key(|v| v.row);
        Ok(Checked { violations })
    }
}

fn compile(rules: &ColumnRules, data_type: &DataType) -> Result<Vec<Rule>, String> {
    let mut compiled = Vec::new();
    if rules.nullable == Some(false) {
        compiled.push(Rule::NotNull);
    }
    if rules.unique {
        compiled.push(Rule::Unique(HashSet::new()));
    }
    if let Some(allowed) = &rules.allowed {
        let values = typed(allowed, data_type)?;
        let text = as_text(&values)?;
        compiled.push(Rule::Allowed(
            (0..text.len()).map(|i| text.value(i).to_string()).collect(),
        ));
    }
    for (bound, is_min) in [(&rules.min, true), (&rules.max, false)] {
        if let Some(bound) = bound {
            if !orderable(data_type) {
                return Err(format!("`min`/`max` cannot order a {data_type} column"));
            }
            let scalar = Scalar::new(typed(std::slice::from_ref(bound), data_type)?);
            compiled.push(if is_min {
                Rule::Min(scalar)
            } else {
                Rule::Max(scalar)
            });
        }
    }
    if let Some(pattern) = &rules.pattern {
        if *data_type != DataType::Utf8 {
            return Err(format!("`pattern` needs a text column, not {data_type}"));
        }
        let regex = Regex::new(pattern).map_err(|e| format!("pattern: {e}"))?;
        compiled.push(Rule::Pattern(regex));
    }
    Ok(compiled)
}

fn orderable(data_type: &DataType) -> bool {
    data_type.is_numeric()
        || matches!(
            data_type,
            DataType::Utf8 | DataType::Date32 | DataType::Timestamp(..)
        )
}

/// Literals as an array of the column's type: a value that does not convert is an error.
fn typed(values: &[Literal], data_type: &DataType) -> Result<ArrayRef, String> {
    let text: StringArray = values.iter().map(|v| Some(v.to_string())).collect();
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(&text, data_type, &strict).map_err(|e| format!("{e} (as {data_type})"))
}

fn as_text(array: &ArrayRef) -> Result<StringArray, String> {
    let text = cast_with_options(array, &DataType::Utf8, &CastOptions::default())
        .map_err(|e| e.to_string())?;
    Ok(text.as_string::<i32>().clone())
}

/// The rows (in order) of `array` that break `rule`; NULLs break only `not_null`.
fn failing_rows(
    rule: &mut Rule,
    array: &ArrayRef,
    text: Option<&StringArray>,
) -> Result<Vec<usize>, String> {
    let valid = |i: usize| array.is_valid(i);
    let rows = 0..array.len();
    Ok(match rule {
        Rule::NotNull => rows.filter(|&i| !valid(i)).collect(),
        Rule::Min(bound) => marked(&lt(array, &*bound).map_err(|e| e.to_string())?),
        Rule::Max(bound) => marked(&gt(array, &*bound).map_err(|e| e.to_string())?),
        Rule::Allowed(allowed) => {
            let text = text.expect("text for allowed");
            rows.filter(|&i| valid(i) && !allowed.contains(text.value(i)))
                .collect()
        }
        Rule::Pattern(regex) => {
            let text = text.expect("text for pattern");
            rows.filter(|&i| valid(i) && !regex.is_match(text.value(i)))
                .collect()
        }
        Rule::Unique(seen) => {
            let text = text.expect("text for unique");
            rows.filter(|&i| valid(i) && !seen.insert(text.value(i).to_string()))
                .collect()
        }
    })
}

/// The rows where a comparison is true (a NULL compares as NULL: not a breach).
fn marked(result: &BooleanArray) -> Vec<usize> {
    (0..result.len())
        .filter(|&i| result.is_valid(i) && result.value(i))
        .collect()
}

fn value_text(text: &StringArray, array: &ArrayRef, row: usize) -> String {
    match array.is_null(row) {
        true => "NULL".into(),
        false => format!("{:?}", text.value(row)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Int64Array};
    use arrow::datatypes::Field;

    use super::*;

    fn rules(toml: &str) -> Quality {
        toml::from_str(toml).unwrap()
    }

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("status", DataType::Utf8, true),
            Field::new("price", DataType::Decimal128(8, 2), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(2), None])),
                Arc::new(StringArray::from(vec![
                    Some("new"),
                    Some("lost"),
                    None,
                    Some("shipped"),
                ])),
                Arc::new(
                    Decimal128Array::from(vec![Some(1250), Some(-1), Some(100_001), None])
                        .with_precision_and_scale(8, 2)
                        .unwrap(),
                ),
            ],
        )
        .unwrap()
    }

    fn broken(checker: &mut Checker) -> Vec<(usize, String, &'static str)> {
        let checked = checker.check(&batch()).unwrap();
        checked
            .violations
            .into_iter()
            .map(|v| (v.row, v.column, v.rule))
            .collect()
    }

    #[test]
    fn each_rule_finds_its_rows() {
        let quality = rules(
            r#"
            id = { nullable = false, unique = true }
            status = { allowed = ["new", "shipped"], pattern = "^[a-z]+$" }
            price = { min = 0, max = "1000.00" }
            "#,
        );
        let mut checker = Checker::new(&quality, &batch().schema()).unwrap();
        assert_eq!(
            broken(&mut checker),
            [
                (1, "price".to_string(), "min"),
                (1, "status".to_string(), "allowed"),
                (2, "id".to_string(), "unique"),
                (2, "price".to_string(), "max"),
                (3, "id".to_string(), "not_null"),
            ]
        );
        assert_eq!(checker.counts()["id.unique"], 1);
        assert_eq!(checker.counts()["status.pattern"], 0);
        // `unique` remembers values across batches: now 1 and 2 repeat too.
        assert_eq!(
            broken(&mut checker)
                .iter()
                .filter(|(_, _, rule)| *rule == "unique")
                .count(),
            3
        );
    }

    #[test]
    fn rules_that_cannot_apply_are_config_errors() {
        let schema = batch().schema();
        for (toml, expected) in [
            (r#"nope = { unique = true }"#, "no column `nope`"),
            (r#"id = { pattern = "x" }"#, "needs a text column"),
            (r#"price = { min = "cheap" }"#, "as Decimal128(8, 2)"),
            (r#"status = { pattern = "(" }"#, "pattern:"),
        ] {
            let Err(error) = Checker::new(&rules(toml), &schema) else {
                panic!("{toml} was accepted");
            };
            assert!(error.to_string().contains(expected), "{toml}: {error}");
        }
    }
}
