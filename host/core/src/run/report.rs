//! The run report: what each table read, wrote and rejected, and how long it took.

use serde::Serialize;

use super::ErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Succeeded,
    /// Nothing to do: this exact input was already committed (or its version succeeded).
    AlreadyDone,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginReport>,
    /// The commit unit (append mode): a hash of the inputs, plugin and config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The commit manifest written (or found) for the unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The version recorded in the table's registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub inputs: Vec<InputReport>,
    pub outputs: Vec<OutputReport>,
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_rejected: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub plugin_logs_dropped: u64,
    /// The most linear memory the plugin grew to.
    pub plugin_peak_memory_bytes: u64,
    /// Wall time spent inside plugin calls.
    pub plugin_call_ms: u64,
    /// Instances of the plugin that ran at once: more than one for a stateless plugin
    /// that held the stream back (or when `--plugin-instances` fixed the count).
    pub plugin_instances: usize,
    /// The plugin's own named counts (e.g. values it set to NULL), summed over the run.
    pub plugin_counters: std::collections::BTreeMap<String, u64>,
    /// Fuel the plugin spent, when some table of the run has a fuel budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_fuel: Option<u64>,
    /// Rows that broke each quality rule (`input.column.rule`), whatever its policy.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub quality: std::collections::BTreeMap<String, u64>,
    /// How the outputs' schemas changed since the last commit (`output: change`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schema_changes: Vec<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginReport {
    pub reference: String,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub contract_version: String,
    pub compiled_from_cache: bool,
    /// The host took the batches itself instead of the sandboxed component: the bundled
    /// `passthrough`, whose session still checks the config and declares the schema.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub batches_in_host: bool,
    /// Rows per batch handed to the plugin: `--batch-rows` or `batch_rows`, or the default
    /// (16384).
    pub batch_rows: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub name: String,
    /// Paths or `s3://` URIs.
    pub files: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputReport {
    pub name: String,
    /// A path or an `s3://` URI.
    pub path: String,
    /// The partition folder, when the output is partitioned.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    pub rows: u64,
    pub bytes: u64,
}

impl TableReport {
    /// A table that failed before it could report anything else.
    pub fn failed(table: &str, error: &super::TableError) -> Self {
        let mut report = TableReport::new(table);
        report.fail(error);
        report
    }

    /// Marks the table failed: nothing it wrote is visible, so no outputs are reported.
    pub fn fail(&mut self, error: &super::TableError) {
        self.status = Status::Failed;
        self.error_kind = Some(error.kind());
        self.error = Some(format!("table `{}`: {error}", self.table));
        self.outputs.clear();
        self.rows_out = 0;
        self.bytes_out = 0;
    }

    pub fn new(table: &str) -> Self {
        TableReport {
            table: table.into(),
            status: Status::Succeeded,
            error: None,
            error_kind: None,
            plugin: None,
            unit: None,
            manifest: None,
            version: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            rows_in: 0,
            rows_out: 0,
            rows_rejected: 0,
            bytes_in: 0,
            bytes_out: 0,
            plugin_logs_dropped: 0,
            plugin_peak_memory_bytes: 0,
            plugin_call_ms: 0,
            plugin_instances: 0,
            plugin_counters: Default::default(),
            plugin_fuel: None,
            quality: Default::default(),
            schema_changes: Vec::new(),
            duration_ms: 0,
        }
    }
}

impl From<crate::commit::ManifestFile> for OutputReport {
    fn from(file: crate::commit::ManifestFile) -> Self {
        OutputReport {
            name: file.output,
            path: file.uri,
            partition: file.partition,
            rows: file.rows,
            bytes: file.bytes,
        }
    }
}

/// RFC 3339 UTC with microseconds.
/// Now, in microseconds since the Unix epoch (0 for a clock before 1970).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub fn format_micros(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
