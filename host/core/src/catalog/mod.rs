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

    /// The current metadata file of an Iceberg table (`metadata_location`); `None` when
    /// the catalog has no such table.
    fn iceberg_location(
        &self,
        database: &str,
        table: &str,
    ) -> Result<Option<String>, CatalogError> {
        let _ = database;
        Err(unsupported(database, table))
    }

    /// Points an Iceberg table (at `location`) at the metadata file `new`, if it still
    /// points at `previous`; creates the table (and database) when `previous` is `None`.
    /// The commit point of an Iceberg commit.
    fn iceberg_swap(
        &self,
        database: &str,
        table: &str,
        location: &str,
        previous: Option<&str>,
        new: &str,
    ) -> Result<(), CatalogError> {
        let _ = (location, previous, new);
        Err(unsupported(database, table))
    }
}

fn unsupported(database: &str, table: &str) -> CatalogError {
    CatalogError {
        database: database.into(),
        table: table.into(),
        message: "this catalog does not hold Iceberg tables".into(),
    }
}

/// A catalog, shared by the tables of a run.
#[derive(Clone)]
pub struct CatalogHandle(pub Arc<dyn Catalog>);

impl std::fmt::Debug for CatalogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogHandle")
    }
}
