//! Scaling out without a scheduler of our own: AWS Batch array jobs (`--shard I/N`) and
//! Step Functions Distributed Map item batches (`--items`) each process a share of the
//! input objects. Every object is its own commit unit, so the files are the same however
//! the work is split, shards never overlap (an object's shard is a hash of its URI), and a
//! retried shard finds its units committed and adds nothing.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A `--shard`, `--items` or AWS Batch array setting that can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScopeError(pub String);

/// Which share of the work this run does.
#[derive(Debug, Clone, Default)]
pub enum Scope {
    /// Everything, as the pipeline says.
    #[default]
    All,
    /// Shard `index` of `count`: the objects whose URI hashes to `index`. Tables with
    /// several inputs (joins) can't be split; they run whole in shard 0.
    Shard { index: u64, count: u64 },
    /// Exactly these (table, object) items, as a Distributed Map batch lists them.
    Items(BTreeSet<(String, String)>),
}

/// One unit of work of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub table: String,
    pub object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u64>,
}

impl Scope {
    pub fn is_all(&self) -> bool {
        matches!(self, Scope::All)
    }

    /// `I/N`.
    pub fn parse_shard(text: &str) -> Result<Scope, ScopeError> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| ScopeError(format!("--shard {text:?} is not INDEX/COUNT")))?;
        let (index, count): (u64, u64) = (
            i.trim()
                .parse()
                .map_err(|_| ScopeError(format!("--shard {text:?}: bad index")))?,
            n.trim()
                .parse()
                .map_err(|_| ScopeError(format!("--shard {text:?}: bad count")))?,
        );
        if count == 0 || index >= count {
            return Err(ScopeError(format!(
                "--shard {text:?}: the index must be below the count"
            )));
        }
        Ok(Scope::Shard { index, count })
    }

    /// AWS Batch array jobs: `AWS_BATCH_JOB_ARRAY_INDEX` of `AWS_BATCH_JOB_ARRAY_SIZE`.
    pub fn from_batch_env(
        index: Option<String>,
        size: Option<String>,
    ) -> Result<Scope, ScopeError> {
        match (index, size) {
            (Some(index), Some(size)) => Scope::parse_shard(&format!("{index}/{size}")),
            (Some(_), None) => Err(ScopeError(
                "AWS_BATCH_JOB_ARRAY_INDEX is set but AWS_BATCH_JOB_ARRAY_SIZE is not".into(),
            )),
            _ => Ok(Scope::All),
        }
    }

    /// A Distributed Map batch (`{"Items": [...]}`), or a plain array of items.
    pub fn parse_items(json: &str) -> Result<Scope, ScopeError> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| ScopeError(format!("--items is not JSON: {e}")))?;
        let list = value.get("Items").cloned().unwrap_or(value);
        let items: Vec<Item> = serde_json::from_value(list).map_err(|e| {
            ScopeError(format!(
                "--items: {e} (expected [{{\"table\", \"object\"}}, ...])"
            ))
        })?;
        Ok(Scope::Items(
            items.into_iter().map(|i| (i.table, i.object)).collect(),
        ))
    }

    /// Whether this run does the object (of a splittable table).
    pub fn takes(&self, table: &str, object: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Shard { index, count } => shard_of(object, *count) == *index,
            Scope::Items(items) => items.contains(&(table.to_string(), object.to_string())),
        }
    }

    /// Whether this run does a table that can't be split.
    pub fn takes_whole(&self, table: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Shard { index, .. } => *index == 0,
            Scope::Items(items) => items.iter().any(|(t, o)| t == table && o.is_empty()),
        }
    }
}

/// The shard of an object: FNV-1a of its URI, so every machine and version agrees.
pub fn shard_of(object: &str, count: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in object.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash % count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_everything_once() {
        let objects: Vec<String> = (0..1000)
            .map(|i| format!("s3://b/in/part-{i}.csv"))
            .collect();
        for count in [1, 2, 3, 8] {
            let mut seen = 0;
            for index in 0..count {
                let scope = Scope::Shard { index, count };
                seen += objects.iter().filter(|o| scope.takes("t", o)).count();
            }
            assert_eq!(seen, objects.len());
        }
        assert_eq!(
            shard_of("s3://b/in/part-1.csv", 8),
            shard_of("s3://b/in/part-1.csv", 8)
        );
        assert!(Scope::parse_shard("3/3").is_err());
        assert!(matches!(
            Scope::from_batch_env(Some("2".into()), Some("4".into())),
            Ok(Scope::Shard { index: 2, count: 4 })
        ));
        assert!(matches!(Scope::from_batch_env(None, None), Ok(Scope::All)));
        assert!(Scope::from_batch_env(Some("2".into()), None).is_err());
        let items = Scope::parse_items(
            r#"{"Items": [{"table": "t", "object": "s3://b/k"}], "BatchInput": {}}"#,
        )
        .unwrap();
        assert!(items.takes("t", "s3://b/k") && !items.takes("t", "s3://b/other"));
    }
}
