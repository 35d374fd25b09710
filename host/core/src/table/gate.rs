//! The quality gate between the reader and the plugin: each input's rules checked on its
//! batches; rows that break a `reject` rule go to `rejects` with the rule's name, a breach
//! of an `abort` rule stops the table, `warn` rules are only counted.

use std::collections::BTreeMap;

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;

use super::inputs::OpenInput;
use super::prepare::Prepared;
use crate::quality::{Checker, Policy, QualityError};
use crate::run::TableError;
use crate::sink::RejectsBuilder;
use crate::source::SourceBatch;

/// Each input's checker (`None` without rules), in the plugin's input order.
pub(super) struct Gate {
    checkers: Vec<Option<Checker>>,
}

/// A batch after the gate: the rows that go on, and the rejects of those that don't.
pub(super) struct Passed {
    pub source: SourceBatch,
    pub rejects: Option<RecordBatch>,
}

impl Gate {
    /// Compiles each input's rules against its schema.
    pub fn new(prepared: &Prepared, inputs: &[OpenInput]) -> Result<Self, TableError> {
        let checkers = prepared
            .inputs
            .iter()
            .zip(inputs)
            .map(|(found, open)| {
                if found.spec.quality.is_empty() {
                    return Ok(None);
                }
                Checker::new(&found.spec.quality, &open.csv.schema())
                    .map(Some)
                    .map_err(|source| TableError::Quality {
                        input: open.name.clone(),
                        source,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Gate { checkers })
    }

    /// Rows that broke each rule, by `input.column.rule`.
    pub fn counts(&self, names: &[String]) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for (checker, input) in self.checkers.iter().zip(names) {
            for (rule, n) in checker.iter().flat_map(|c| c.counts()) {
                counts.insert(format!("{input}.{rule}"), *n);
            }
        }
        counts
    }

    /// Checks one batch of input `index`, read from `file`.
    pub fn pass(
        &mut self,
        index: usize,
        input: &str,
        file: &str,
        source: SourceBatch,
    ) -> Result<Passed, TableError> {
        let Some(checker) = self.checkers[index].as_mut() else {
            return Ok(Passed {
                source,
                rejects: None,
            });
        };
        let quality = |source| TableError::Quality {
            input: input.into(),
            source,
        };
        let checked = checker.check(&source.batch).map_err(quality)?;
        if let Some(v) = checked
            .violations
            .iter()
            .find(|v| v.policy == Policy::Abort)
        {
            return Err(quality(QualityError::Aborted {
                file: file.into(),
                line: source.lines[v.row],
                column: v.column.clone(),
                rule: v.rule.into(),
                value: v.value.clone(),
            }));
        }
        // A row is rejected once, for the first rule it broke.
        let mut rejected: Vec<(u64, Option<String>, String)> = Vec::new();
        for v in checked
            .violations
            .iter()
            .filter(|v| v.policy == Policy::Reject)
        {
            if rejected
                .last()
                .is_none_or(|(row, _, _)| *row != v.row as u64)
            {
                let reason = format!("quality rule {}.{}: {}", v.column, v.rule, v.value);
                rejected.push((v.row as u64, Some(v.column.clone()), reason));
            }
        }
        if rejected.is_empty() {
            return Ok(Passed {
                source,
                rejects: None,
            });
        }
        let mut builder = RejectsBuilder::default();
        builder
            .add(file, input, &source.batch, &source.lines, &rejected)
            .map_err(|e| TableError::Internal(format!("building rejects: {e}")))?;
        Ok(Passed {
            source: without(source, &rejected)?,
            rejects: Some(builder.finish()),
        })
    }
}

/// The batch without the rejected rows (and their lines).
fn without(
    source: SourceBatch,
    rejected: &[(u64, Option<String>, String)],
) -> Result<SourceBatch, TableError> {
    let mut keep = vec![true; source.batch.num_rows()];
    for (row, _, _) in rejected {
        keep[*row as usize] = false;
    }
    let batch = filter_record_batch(&source.batch, &BooleanArray::from(keep.clone()))
        .map_err(|e| TableError::Internal(format!("filtering rejected rows: {e}")))?;
    let lines = source
        .lines
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(l, _)| *l)
        .collect();
    Ok(SourceBatch {
        batch,
        file: source.file,
        lines,
    })
}
