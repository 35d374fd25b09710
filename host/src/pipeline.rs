//! The pipeline file: which tables to build, from which inputs, with which plugin, into
//! which outputs. See the README's "Pipeline file reference".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, TimeUnit};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read pipeline file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid pipeline file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("table `{table}`: {message}")]
    Table { table: String, message: String },
}

/// A parsed pipeline file, with relative paths resolved against its folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub tables: BTreeMap<String, TableSpec>,
    /// Run settings (`lock_wait = 300`, `s3_endpoint = "..."`): the command line's flags,
    /// used when neither the flag nor its env var is given. Applied by the CLI.
    #[serde(default)]
    pub settings: toml::Table,
    /// Raw ingest jobs (pipeline 003): files copied into date partitions, no plugin.
    #[serde(default)]
    pub ingest: BTreeMap<String, crate::ingest::IngestSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Rows per batch sent to the plugin.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { batch_rows: default_batch_rows() }
    }
}

fn default_batch_rows() -> usize {
    65_536
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// A bundled plugin's name (`passthrough`) or a path to a `.wasm` component.
    pub plugin: String,
    /// The plugin's config; handed to the plugin as JSON.
    #[serde(default)]
    pub config: Option<toml::Table>,
    /// Shorthand for a plugin with one input.
    pub input: Option<InputSpec>,
    /// Inputs by the names the plugin declares.
    #[serde(default)]
    pub inputs: BTreeMap<String, InputSpec>,
    pub output: OutputSpec,
    pub batch_rows: Option<usize>,
    #[serde(default)]
    pub limits: Limits,
    /// The object keys that start this table when Sluice runs on an event (`--event`):
    /// `s3://bucket/{tenant}/{table}/{version}/*.csv.gz`; see the README.
    pub trigger: Option<String>,
    /// Who the table belongs to: the table lock and the version registry are per tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The `--var` values and trigger captures this table was loaded with: handed to the
    /// plugin as the run context's params.
    #[serde(skip)]
    pub params: Vars,
    /// The version of the input being processed (e.g. `${VERSION}`). When set, the run is
    /// recorded in the table's version registry, and a version that already succeeded is
    /// not processed again.
    pub version: Option<String>,
}

fn default_tenant() -> String {
    "default".into()
}

/// What one plugin session may use. A plugin that exceeds a limit fails its table cleanly.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock seconds a single `open`, `push` or `finish` call may take.
    #[serde(default = "default_call_timeout")]
    pub call_timeout_secs: u64,
    /// Deterministic budget of one call in fuel units (about one per wasm instruction).
    /// Off by default: counting fuel costs 15-25 % of the plugin's CPU.
    pub fuel_per_call: Option<u64>,
    /// Linear memory the plugin may grow to, in MiB.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// Arrow IPC bytes one call may return, in MiB.
    #[serde(default = "default_output_mib")]
    pub output_mib_per_call: u64,
    /// Log lines kept per session; the rest are counted as dropped.
    #[serde(default = "default_log_lines")]
    pub log_lines: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout_secs: default_call_timeout(),
            fuel_per_call: None,
            memory_mib: default_memory_mib(),
            output_mib_per_call: default_output_mib(),
            log_lines: default_log_lines(),
        }
    }
}

impl Limits {
    /// A zero limit would fail every call (or, for fuel, trap at once): refused at load.
    fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("call_timeout_secs", self.call_timeout_secs),
            ("memory_mib", self.memory_mib),
            ("output_mib_per_call", self.output_mib_per_call),
            ("fuel_per_call", self.fuel_per_call.unwrap_or(1)),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(())
    }

    pub fn session_limits(&self) -> crate::plugin::SessionLimits {
        crate::plugin::SessionLimits {
            call_timeout: std::time::Duration::from_secs(self.call_timeout_secs),
            fuel_per_call: self.fuel_per_call,
            memory_bytes: (self.memory_mib as usize) << 20,
            output_bytes_per_call: (self.output_mib_per_call as usize) << 20,
            log_lines: self.log_lines,
            ..Default::default()
        }
    }
}

fn default_output_mib() -> u64 {
    512
}

fn default_call_timeout() -> u64 {
    60
}
fn default_memory_mib() -> u64 {
    1024
}
fn default_log_lines() -> u32 {
    1000
}

/// Where an input's files are and how to decode them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// A file path or a glob (`data/*.csv.gz`), relative to the pipeline file, or an
    /// `s3://bucket/key` URI whose key may hold a glob.
    #[serde(default)]
    pub path: String,
    /// Instead of `path`: the files that the named input of this table read in the latest
    /// version that succeeded before this run's `version` (pipeline 004's `previous`
    /// export). With no such version the input is empty, so declare its `columns` and `types`.
    pub from_registry: Option<String>,
    /// Which of the matching files to read.
    #[serde(default)]
    pub select: Select,
    #[serde(flatten)]
    pub csv: CsvOptions,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Whether the first line holds the column names.
    #[serde(default = "yes")]
    pub header: bool,
    /// Explicit column names: required without a header, and replace the header's names.
    pub columns: Option<Vec<String>>,
    #[serde(default = "default_quote")]
    pub quote: char,
    /// Set to false for files that use the quote character literally.
    #[serde(default = "yes")]
    pub quoting: bool,
    /// An escape character inside quoted fields (default: quotes are escaped by doubling).
    pub escape: Option<char>,
    /// Field values that mean NULL (compared to the whole, unquoted field).
    #[serde(default = "default_nulls")]
    pub null: Vec<String>,
    /// Declared Arrow types by column name (`int64`, `float64`, `utf8`, `bool`, `date32`,
    /// `timestamp`, `timestamp_utc`, ...). Undeclared columns are inferred.
    #[serde(default)]
    pub types: BTreeMap<String, String>,
    /// Infer undeclared columns from the first batch; when false they are `utf8`.
    #[serde(default = "yes")]
    pub infer: bool,
    #[serde(default)]
    pub compression: Compression,
    /// For spreadsheets (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`): the sheet to read
    /// (default: the first). Setting it also makes a file of any name a spreadsheet.
    pub sheet: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Select {
    /// Every matching file, in key order.
    #[default]
    All,
    /// Only the files whose name holds the greatest `YYYYMMDD` date (the first valid
    /// eight-digit run in the key).
    NewestDate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip when the file ends in `.gz` or starts with the gzip magic bytes.
    #[default]
    Auto,
    Gzip,
    None,
}

fn default_delimiter() -> char {
    ','
}
fn default_quote() -> char {
    '"'
}
fn default_nulls() -> Vec<String> {
    vec![String::new()]
}
fn yes() -> bool {
    true
}

/// Where a table's outputs go and how they are encoded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// A folder or an `s3://bucket/prefix`.
    pub location: String,
    /// How a run's files become visible; see [`CommitMode`]. Defaults to `replace` for
    /// local folders and `append` for S3.
    pub mode: Option<CommitMode>,
    /// Hive-style partition folders for the data files (`year=2024/month=03/day=07`).
    pub partition: Option<Partition>,
    /// Merge each output into its previous file by key instead of replacing it.
    pub upsert: Option<UpsertSpec>,
    /// `zstd` (default), `snappy`, `lz4`, `gzip`, `brotli` or `none`.
    #[serde(default = "default_codec")]
    pub compression: String,
    /// Codec level (zstd 1-22, default 3; gzip 0-9; brotli 0-11).
    pub level: Option<i32>,
    #[serde(default = "default_row_group_rows")]
    pub row_group_rows: usize,
}

/// Upsert settings: see [`crate::sink::Upsert`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsertSpec {
    /// Key columns by output; an output not named here is keyed by its first column.
    #[serde(default)]
    pub keys: BTreeMap<String, Vec<String>>,
    /// Columns whose first value is kept (`created_date`, `created_by`).
    #[serde(default)]
    pub keep: Vec<String>,
    /// Columns that take the new value (`updated_date`, `updated_by`)...
    #[serde(default)]
    pub touch: Vec<String>,
    /// ...even when nothing else in the row changed (`false`: an unchanged row stays byte
    /// for byte as it was, so rerunning the same input changes nothing).
    #[serde(default = "yes")]
    pub touch_unchanged: bool,
}

/// How outputs are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitMode {
    /// `<location>/<output>.parquet`, each file replaced atomically by the next run.
    Replace,
    /// A dataset: every distinct input adds its files under keys derived from the input,
    /// the plugin and the config, committed by a manifest written last; a rerun of the same
    /// input writes nothing.
    Append,
}

/// Partition folders, from the run's date, a date column, or a column's values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub by: PartitionBy,
    /// The date or timestamp column for `by = "column-date"`, the column for `by = "value"`.
    pub column: Option<String>,
    /// `year`, `month` or `day` (default) for date partitions.
    #[serde(default)]
    pub depth: DateDepth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionBy {
    /// The run's date (`--run-time`), the same for every row of the run.
    RunDate,
    /// Each row's date from a date or timestamp column.
    ColumnDate,
    /// Each row's value of a column: `<column>=<value>`.
    Value,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateDepth {
    Year,
    Month,
    #[default]
    Day,
}

fn default_codec() -> String {
    "zstd".into()
}
fn default_row_group_rows() -> usize {
    1_048_576
}

impl Pipeline {
    /// Reads and checks a pipeline file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        Self::load_with_vars(path, &Vars::new())
    }

    /// Like [`Pipeline::load`], with `${NAME}` taken from `vars` before the environment.
    pub fn load_with_vars(path: &Path, vars: &Vars) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read { path: path.into(), source })?;
        Self::from_text(&text, path, vars)
    }

    /// Parses the text of the pipeline file at `path` (a local path or an `s3://` URI, whose
    /// folder or prefix relative paths in it are relative to).
    pub fn from_text(text: &str, path: &Path, vars: &Vars) -> Result<Self, PipelineError> {
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse_with_vars(text, base, vars).map_err(|e| match e {
            PipelineError::Parse { message, .. } => PipelineError::Parse { path: path.into(), message },
            other => other,
        })
    }

    /// Parses pipeline TOML, resolving relative paths against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, PipelineError> {
        Self::parse_with_vars(text, base, &Vars::new())
    }

    pub fn parse_with_vars(text: &str, base: &Path, vars: &Vars) -> Result<Self, PipelineError> {
        let mut pipeline: Pipeline =
            toml::from_str(text).map_err(|e| PipelineError::Parse { path: PathBuf::new(), message: e.to_string() })?;
        for (name, table) in &mut pipeline.tables {
            table.resolve(name, base, vars)?;
        }
        for (name, ingest) in &mut pipeline.ingest {
            ingest.resolve(name, base, vars).map_err(|message| PipelineError::Table { table: name.clone(), message })?;
        }
        if pipeline.tables.is_empty() && pipeline.ingest.is_empty() {
            return Err(PipelineError::Parse { path: PathBuf::new(), message: "no [tables.NAME] or [ingest.NAME]".into() });
        }
        Ok(pipeline)
    }
}

impl OutputSpec {
    pub fn commit_mode(&self) -> CommitMode {
        self.mode.unwrap_or(if self.location.starts_with("s3://") { CommitMode::Append } else { CommitMode::Replace })
    }
}

impl TableSpec {
    fn resolve(&mut self, name: &str, base: &Path, vars: &Vars) -> Result<(), PipelineError> {
        let err = |message: String| PipelineError::Table { table: name.into(), message };
        let expand_env = |text: &str| expand_vars(text, vars);
        self.params = vars.clone();
        if let Some(config) = &mut self.config {
            expand_config(config, vars).map_err(|m| err(format!("config: {m}")))?;
        }
        if self.plugin.ends_with(".wasm") {
            self.plugin = join(base, &expand_env(&self.plugin).map_err(err)?);
        }
        let location = expand_env(&self.output.location).map_err(err)?;
        self.output.location = join(base, &location);
        self.tenant = expand_env(&self.tenant).map_err(err)?;
        if let Some(version) = &self.version {
            self.version = Some(expand_env(version).map_err(err)?);
        }
        if self.output.upsert.is_some() && (self.output.commit_mode() != CommitMode::Replace || self.output.partition.is_some()) {
            return Err(err("output.upsert needs mode = \"replace\" and no partition: it merges into one file per output".into()));
        }
        if let Some(p) = &self.output.partition {
            if p.by != PartitionBy::RunDate && p.column.is_none() {
                return Err(err("output.partition: this `by` needs a `column`".into()));
            }
        }
        let has_version = self.version.is_some();
        for spec in self.input.iter_mut().chain(self.inputs.values_mut()) {
            match (&spec.from_registry, spec.path.is_empty()) {
                (None, true) => return Err(err("an input needs a `path` (or `from_registry`)".into())),
                (Some(_), false) => return Err(err("give an input either `path` or `from_registry`, not both".into())),
                (Some(_), true) if !has_version => {
                    return Err(err("`from_registry` needs the table's `version`".into()))
                }
                (Some(_), true) if spec.csv.columns.is_none() => {
                    return Err(err("a `from_registry` input needs `columns` (it is empty for the first version)".into()))
                }
                (Some(_), true) => {}
                (None, false) => spec.path = join(base, &expand_env(&spec.path).map_err(err)?),
            }
            spec.csv.check().map_err(|m| err(format!("input `{}`: {m}", spec.path)))?;
        }
        if self.input.is_some() && !self.inputs.is_empty() {
            return Err(err("give either `input` or `inputs`, not both".into()));
        }
        if self.input.is_none() && self.inputs.is_empty() {
            return Err(err("no input: add `[tables.NAME.input]` or `[tables.NAME.inputs.INPUT]`".into()));
        }
        if self.batch_rows == Some(0) {
            return Err(err("batch_rows must be at least 1".into()));
        }
        if self.output.row_group_rows == 0 {
            return Err(err("output.row_group_rows must be at least 1".into()));
        }
        self.limits.check().map_err(|m| err(format!("limits.{m}")))?;
        crate::sink::parquet::writer_codec(&self.output.compression, self.output.level).map_err(err)?;
        Ok(())
    }

    /// The plugin config as JSON text (`{}` when absent).
    pub fn config_json(&self) -> String {
        match &self.config {
            Some(table) => serde_json::to_string(table).expect("TOML values map to JSON"),
            None => "{}".into(),
        }
    }
}

impl CsvOptions {
    /// Comma-separated with a header, empty fields as NULL, types inferred.
    pub fn default_for_fixtures() -> Self {
        toml::from_str("").expect("every CSV option has a default")
    }

    fn check(&self) -> Result<(), String> {
        for (what, c) in [("delimiter", self.delimiter), ("quote", self.quote)] {
            if !c.is_ascii() {
                return Err(format!("{what} must be one ASCII character, got {c:?}"));
            }
        }
        if !self.header && self.columns.is_none() {
            return Err("a file without a header needs `columns`".into());
        }
        for (column, ty) in &self.types {
            parse_type(ty).map_err(|m| format!("types.{column}: {m}"))?;
        }
        Ok(())
    }

    /// The declared type of a column, if any.
    pub fn declared_type(&self, column: &str) -> Option<DataType> {
        self.types.get(column).map(|t| parse_type(t).expect("checked at load"))
    }
}

/// Expands `${NAME}` in every string of a plugin config, so event captures reach plugins.
fn expand_config(table: &mut toml::Table, vars: &Vars) -> Result<(), String> {
    fn walk(value: &mut toml::Value, vars: &Vars) -> Result<(), String> {
        match value {
            toml::Value::String(text) if text.contains("${") => *text = expand_vars(text, vars)?,
            toml::Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, vars))?,
            toml::Value::Table(table) => table.iter_mut().try_for_each(|(_, v)| walk(v, vars))?,
            _ => {}
        }
        Ok(())
    }
    table.iter_mut().try_for_each(|(_, v)| walk(v, vars))
}

/// Values for `${NAME}` given on the command line (`--var NAME=VALUE`).
pub type Vars = BTreeMap<String, String>;

/// Replaces `${NAME}` with the environment variable's value, so one pipeline file serves
/// several inputs or environments; an unset variable is an error.
pub fn expand_env(text: &str) -> Result<String, String> {
    expand_vars(text, &Vars::new())
}

/// Replaces `${NAME}` with `vars[NAME]`, else the environment variable's value.
pub fn expand_vars(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or_else(|| format!("unclosed `${{` in {text:?}"))? + start;
        let name = &rest[start + 2..end];
        let value = match vars.get(name) {
            Some(value) => value.clone(),
            None => std::env::var(name).map_err(|_| format!("{text:?} uses ${{{name}}}, which is not set (pass --var {name}=VALUE)"))?,
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `path` relative to `base`, unless it is absolute or an `s3://` URI.
pub(crate) fn join(base: &Path, path: &str) -> String {
    if Path::new(path).is_absolute() || path.starts_with("s3://") {
        path.to_string()
    } else {
        base.join(path).to_string_lossy().into_owned()
    }
}

/// The `types` name of an Arrow type the CSV reader can produce.
pub fn type_name(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Utf8 => "utf8",
        DataType::Boolean => "bool",
        DataType::Int8 => "int8",
        DataType::Int16 => "int16",
        DataType::Int32 => "int32",
        DataType::Int64 => "int64",
        DataType::UInt8 => "uint8",
        DataType::UInt16 => "uint16",
        DataType::UInt32 => "uint32",
        DataType::UInt64 => "uint64",
        DataType::Float32 => "float32",
        DataType::Float64 => "float64",
        DataType::Date32 => "date32",
        DataType::Timestamp(TimeUnit::Microsecond, None) => "timestamp",
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" || tz.as_ref() == "+00:00" => "timestamp_utc",
        _ => return None,
    })
}

/// Arrow type names accepted in `types`.
pub fn parse_type(name: &str) -> Result<DataType, String> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "utf8" | "string" | "str" | "text" => DataType::Utf8,
        "bool" | "boolean" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" | "int" | "bigint" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float32" | "float" => DataType::Float32,
        "float64" | "double" => DataType::Float64,
        "date32" | "date" => DataType::Date32,
        "timestamp" | "timestamp_us" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamp_utc" | "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        other => return Err(format!("unknown type `{other}`")),
    })
}
