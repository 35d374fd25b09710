//! The run report: every table and ingest job of the run, as JSON.

use std::time::Duration;

use serde::Serialize;

use crate::ingest::IngestReport;
use crate::run::{format_micros, ErrorKind, Status, TableReport};

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub run_time: String,
    pub host_version: String,
    pub contract_version: String,
    pub status: Status,
    pub duration_ms: u64,
    pub tables: Vec<TableReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ingests: Vec<IngestReport>,
    /// Why the run failed before any table ran (the pipeline file could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
}

impl RunReport {
    pub fn new(run_id: &str, run_time_micros: i64) -> Self {
        RunReport {
            run_id: run_id.into(),
            run_time: format_micros(run_time_micros),
            host_version: crate::HOST_VERSION.into(),
            contract_version: crate::plugin::CONTRACT_VERSION.into(),
            status: Status::Succeeded,
            duration_ms: 0,
            tables: Vec::new(),
            ingests: Vec::new(),
            error: None,
            error_kind: None,
        }
    }

    /// A run that failed before any table ran.
    pub fn failed(self, kind: ErrorKind, error: String) -> Self {
        RunReport {
            status: Status::Failed,
            error: Some(error),
            error_kind: Some(kind),
            ..self
        }
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.duration_ms = elapsed.as_millis() as u64;
        if self.tables.iter().any(|t| t.status == Status::Failed)
            || self.ingests.iter().any(|i| i.status == Status::Failed)
        {
            self.status = Status::Failed;
        }
    }

    /// The kind of the first failure, if any table failed.
    pub fn first_error_kind(&self) -> Option<ErrorKind> {
        self.error_kind
            .or_else(|| self.tables.iter().find_map(|t| t.error_kind))
            .or_else(|| self.ingests.iter().find_map(|i| i.error_kind))
    }
}
