//! The vocabulary every job of a run shares, tables and ingest jobs alike: how the run is
//! carried out ([`RunOptions`], [`Scope`]), how a job ends ([`Status`], [`ErrorKind`]) and
//! what it reports.

mod error;
mod report;
mod scope;

use std::time::Duration;

pub use error::{ErrorKind, TableError};
pub use report::{
    format_micros, now_micros, InputReport, OutputReport, PluginReport, Status, TableReport,
};
pub use scope::{shard_of, Item, Scope, ScopeError};

use crate::plugin::EngineOptions;

/// How a run is carried out (everything that is not in the pipeline file).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub run_id: String,
    /// Run start, microseconds since the Unix epoch (UTC); plugins see this as "now".
    pub run_time_micros: i64,
    pub engine: EngineOptions,
    /// Only these tables (all when empty).
    pub tables: Vec<String>,
    /// Overrides every table's batch size.
    pub batch_rows: Option<usize>,
    /// Stop at the first failed table instead of going on with the others.
    pub fail_fast: bool,
    /// Show progress bars on the terminal.
    pub progress: bool,
    /// Process inputs again even if their unit or version was already committed.
    pub force: bool,
    /// How long to wait for a table locked by another run.
    pub lock_wait: Duration,
    /// How long a table lock lasts without renewal (a crashed holder's lock frees after it).
    pub lock_lease: Duration,
    /// The share of the work this run does (Batch array shard, Distributed Map items).
    pub scope: Scope,
    /// Set per object when the work is split: the lock then covers that object's unit.
    pub lock_scope: Option<String>,
    /// Where outputs with `glue` are registered (the AWS Glue Data Catalog).
    pub catalog: Option<crate::catalog::CatalogHandle>,
    /// Tables run at once (at least 1).
    pub jobs: usize,
    /// Instances of a stateless plugin per table; `None`: the cores divided among the
    /// tables running at once.
    pub plugin_instances: Option<usize>,
    /// Whether `plugin_instances` is a ceiling rather than a count: a table starts one
    /// instance and adds more while the plugin holds the stream back (the default, when
    /// `--plugin-instances` is not given).
    pub grow_plugin_instances: bool,
    /// Threads per table parsing each CSV file; `None`: half the cores divided among the
    /// tables running at once.
    pub threads: Option<usize>,
    /// Threads per table encoding Parquet columns, and hashing local input files before
    /// the table starts in append mode (in replace mode the stream hashes what it reads);
    /// `None`: the cores divided among the tables running at once.
    pub encode_threads: Option<usize>,
}

impl RunOptions {
    /// For looking without running (`sluice schema`, `sluice check`): plugins see run id
    /// `preview` and the current time; nothing is locked or written.
    pub fn preview(engine: EngineOptions) -> Self {
        RunOptions {
            run_id: "preview".into(),
            run_time_micros: now_micros(),
            engine,
            tables: Vec::new(),
            batch_rows: None,
            fail_fast: false,
            progress: false,
            force: false,
            lock_wait: Duration::ZERO,
            lock_lease: Duration::from_secs(60),
            scope: Scope::default(),
            lock_scope: None,
            catalog: None,
            jobs: 1,
            plugin_instances: Some(1),
            grow_plugin_instances: false,
            threads: Some(1),
            encode_threads: Some(1),
        }
    }

    /// Whether the run includes this table or ingest job (all, when none are named).
    pub fn selects(&self, name: &str) -> bool {
        self.tables.is_empty() || self.tables.iter().any(|t| t == name)
    }
}
