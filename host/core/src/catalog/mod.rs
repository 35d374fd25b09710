//! Where committed outputs are announced, so query engines find them as tables without a
//! crawler or `MSCK REPAIR`: a catalog (the AWS Glue Data Catalog, in `sluice-aws`; the
//! engine has no AWS code) learns each output's table, its columns, its location and its
//! partitions as units commit.
//!
//! The table is defined over the output's Athena symlink manifests
//! (`_sluice/symlink/OUTPUT/`), not over its data folder: a manifest names only committed
//! files, so readers see a unit's files all at once or not at all.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use serde::Deserialize;

/// The `glue` key of an output: which database and table it is registered as.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlueSpec {
    pub database: String,
    /// The table's name (default: the pipeline's table name, and `TABLE_OUTPUT` for a
    /// plugin with several outputs).
    pub table: Option<String>,
}

/// One output to register: its table, columns, location and partitions.
#[derive(Debug, Clone)]
pub struct Registration {
    pub database: String,
    pub table: String,
    /// The folder of its symlink manifests (`s3://bucket/.../_sluice/symlink/rows/`).
    pub location: String,
    /// The columns inside the files.
    pub schema: SchemaRef,
    /// The partition keys, outermost first (`year`, `month`, `day`; or the value column).
    pub partition_keys: Vec<(String, DataType)>,
    /// Each partition: its key values and its folder of symlink manifests.
    pub partitions: Vec<(Vec<String>, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error("catalog {database}.{table}: {message}")]
pub struct CatalogError {
    pub database: String,
    pub table: String,
    pub message: String,
}

/// A catalog that tables can be registered in.
pub trait Catalog: Send + Sync {
    /// Creates the table or brings its columns up to date, then adds the partitions it
    /// does not have yet. Idempotent: a rerun registers nothing new.
    fn register(&self, registration: &Registration) -> Result<(), CatalogError>;
}

/// A catalog, shared by the tables of a run.
#[derive(Clone)]
pub struct CatalogHandle(pub Arc<dyn Catalog>);

impl std::fmt::Debug for CatalogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogHandle")
    }
}

/// A partition folder (`year=2024/month=03`) as its key values (`["2024", "03"]`), Hive
/// escapes undone.
pub fn partition_values(folder: &str) -> Vec<String> {
    folder
        .split('/')
        .filter_map(|part| part.split_once('='))
        .map(|(_, value)| unescape(value))
        .collect()
}

fn unescape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_become_key_values() {
        assert_eq!(partition_values("year=2024/month=03"), ["2024", "03"]);
        assert_eq!(partition_values("site=a%2Fb"), ["a/b"]);
        assert_eq!(partition_values(""), Vec::<String>::new());
    }
}
