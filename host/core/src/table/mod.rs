//! One table, start to finish, as typed stages, each returning what the next needs:
//!
//! 1. [`prepare`]: load and describe the plugin, take the table lock, open the version
//!    registry, list the inputs and derive the commit unit -> [`prepare::Prepared`];
//! 2. [`stream`]: reader thread -> plugin (this thread) -> writer thread, every file
//!    staged and invisible -> [`stream::Streamed`];
//! 3. [`commit`]: make the staged files visible and write the unit's manifest ->
//!    [`commit::Committed`], then [`register`] the outputs in the catalog, if asked.
//!
//! [`preview`] runs the first steps only (`sluice schema`, `sluice check`).
//!
//! The report is assembled from what the stages return.

mod commit;
mod gate;
mod iceberg;
mod inputs;
mod outputs;
mod owner;
mod pool;
mod prepare;
mod preview;
mod register;
mod spec;
mod split;
mod stream;

use std::time::Instant;

pub use outputs::REJECTS;
pub use preview::{ColumnPreview, InputPreview, Preview, TypeOrigin};
pub use spec::{SpecError, TableSpec};
pub use split::SplitSpec;

use crate::commit::VersionStatus;
use crate::plugin::PluginEngine;
use crate::run::{OutputReport, RunOptions, Status, TableError, TableReport};
use crate::storage::Storage;
use prepare::Prepared;

/// What every table of a run uses from the host.
#[derive(Clone, Copy)]
pub struct Host<'a> {
    pub engine: &'a PluginEngine,
    pub storage: &'a Storage,
    pub options: &'a RunOptions,
}

/// One run of one table.
pub struct TableRun<'a> {
    pub name: &'a str,
    pub spec: &'a TableSpec,
    pub host: &'a Host<'a>,
    /// Rows per batch sent to the plugin; `None` for the plugin's default.
    pub batch_rows: Option<usize>,
}

/// Rows per batch unless set. A batch is held in every stage of the stream, and a call
/// into a sandbox costs an IPC encoding and a copy each way, paid per batch: at 16k rows
/// that cost still does not show, and the memory is less. 10M shipments rows, 5
/// alternated runs (wall s / CPU s / peak MiB): date-cleanup on csv 2.17 / 3.99 / 77 at
/// 32k, 2.15 / 3.94 / 61 at 16k, on gzip 2.49 / 4.76 / 78 against 2.45 / 4.71 / 67;
/// resample the same at both (its state dwarfs its batches); the Python date cleanup on
/// 1M rows 2.91 / 5.16 / 199 against 2.80 / 5.10 / 184. (64k against 32k earlier: the
/// same CPU, 122 against 88 MiB; a copy taken in the host: 150 MiB at 64k, 93 at 16k.)
const BATCH_ROWS: usize = 16_384;

impl TableRun<'_> {
    /// Rows per batch: as set, or the default.
    fn batch_rows(&self) -> usize {
        self.batch_rows.unwrap_or(BATCH_ROWS)
    }
}

/// A failed run, with the report of what was known when it failed.
struct Failed {
    error: TableError,
    report: TableReport,
}

impl TableRun<'_> {
    /// Runs the table; a failure is reported, never returned.
    pub fn run(&self) -> TableReport {
        let started = Instant::now();
        let mut report = match self.execute() {
            Ok(report) => report,
            Err(Failed { error, mut report }) => {
                report.fail(&error);
                report
            }
        };
        report.duration_ms = started.elapsed().as_millis() as u64;
        report
    }

    fn execute(&self) -> Result<TableReport, Failed> {
        let loaded = prepare::load(self).map_err(|error| Failed {
            error,
            report: TableReport::new(self.name),
        })?;
        let known = loaded.report(self.name, self.batch_rows());
        let prepared = prepare::prepare(self, loaded).map_err(|error| Failed {
            error,
            report: known.clone(),
        })?;
        let known = prepared.report(known);
        let outcome = self.work(&prepared);
        let released = prepared.release();
        match outcome.and_then(|outcome| released.map(|()| outcome)) {
            Ok(outcome) => Ok(outcome.report(known)),
            Err(error) => Err(Failed {
                error,
                report: known,
            }),
        }
    }

    /// Skips committed work, or streams and commits, recording the version around it.
    fn work(&self, prepared: &Prepared) -> Result<Outcome, TableError> {
        if !self.host.options.force {
            if let Some(outputs) = prepared.committed_before(self)? {
                // A run that died between its commit and the catalog left it behind.
                register::register(self, prepared, &outputs)?;
                return Ok(Outcome::AlreadyDone(outputs));
            }
        }
        prepared.record(VersionStatus::Running, None)?;
        let result = self.stream_and_commit(prepared);
        let recorded = match &result {
            Ok(_) => prepared.record(VersionStatus::Succeeded, None),
            Err(e) => {
                prepared.discard_generation();
                if let Err(record_error) =
                    prepared.record(VersionStatus::Failed, Some(e.to_string()))
                {
                    tracing::warn!(table = %self.name, "could not record the failed version: {record_error}");
                }
                Ok(())
            }
        };
        result.and_then(|outcome| recorded.map(|()| outcome))
    }

    fn stream_and_commit(&self, prepared: &Prepared) -> Result<Outcome, TableError> {
        let mut streamed = stream::stream(self, prepared)?;
        prepared.check_lock()?;
        let staged = std::mem::take(&mut streamed.staged);
        let plans = streamed.iceberg.as_deref();
        let committed = commit::commit(self, prepared, staged, (&streamed.schemas, plans))?;
        register::register(self, prepared, &committed.outputs)?;
        Ok(Outcome::Done(streamed, committed))
    }
}

/// How the work ended, when it did not fail.
enum Outcome {
    /// This exact work was committed before; what it committed.
    AlreadyDone(Vec<OutputReport>),
    Done(stream::Streamed, commit::Committed),
}

impl Outcome {
    /// The report: what was known before the work, and what the stages returned.
    fn report(self, known: TableReport) -> TableReport {
        match self {
            Outcome::AlreadyDone(outputs) => TableReport {
                status: Status::AlreadyDone,
                outputs,
                ..known
            },
            Outcome::Done(streamed, committed) => committed.report(streamed.report(known)),
        }
    }
}
