//! Where outputs become visible, and who may write them.
//!
//! - [`dataset`]: the keys of a run's data files and the commit protocol: data files under
//!   keys derived from the inputs, the plugin and the config (the "unit"), then a manifest
//!   written last with a create-only write, then Athena symlink manifests. A rerun of a
//!   committed unit writes nothing.
//! - [`generation`]: replace mode's protocol: each run writes a new generation folder of
//!   the whole table, made the table by one pointer object written last.
//! - [`lock`]: one writer per (tenant, table), a lease held in a conditionally written object.
//! - [`registry`]: the versions of a table that were processed, and how they ended.
//! - [`schemas`]: the schema each output was committed with, and the changes a later run
//!   may make to it.

pub mod dataset;
pub mod generation;
pub mod lock;
pub mod registry;
pub mod schemas;
pub mod unit;

pub use dataset::{Dataset, Manifest, ManifestFile};
pub use generation::Generation;
pub use lock::{lock_key, LockError, LockSettings, TableLock};
pub use registry::{Registry, VersionRecord, VersionStatus};
pub use schemas::{committed_schema, compare as compare_schemas, record_schema, SchemaChange};
pub use unit::{canonical_json, non_default, UnitId, UnitInput, UnitKey, UNIT_KEY_VERSION};

/// How outputs are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitMode {
    /// The whole table replaced by each run: a new generation folder, made current by one
    /// atomic pointer write (see [`generation`]).
    Replace,
    /// A dataset: every distinct input adds its files under keys derived from the input,
    /// the plugin and the config, committed by a manifest written last; a rerun of the same
    /// input writes nothing.
    Append,
}

/// The tenant of tables and ingest jobs that name none: locks and version registries are
/// per tenant.
pub fn default_tenant() -> String {
    "default".into()
}

/// The folder, beside a table's outputs, where Sluice keeps its own records.
pub const STATE_DIR: &str = "_sluice";
