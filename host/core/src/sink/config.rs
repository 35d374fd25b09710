//! A table's `[tables.T.output]`: where its files go and how they are encoded, split and
//! merged. The sink owns these settings and their defaults; the pipeline file only
//! carries them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::WriterSettings;
use crate::commit::CommitMode;

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
    /// `parquet` (default): Parquet files committed by the mode's protocol. `iceberg`:
    /// one Apache Iceberg table per output, each commit unit a snapshot.
    #[serde(default)]
    pub format: Format,
    /// What a replace-mode run replaces: the whole `table` (default) or, for partitioned
    /// outputs, only the `partitions` it writes rows to.
    #[serde(default)]
    pub overwrite: Overwrite,
    /// Merge each output into its previous file by key instead of replacing it.
    pub upsert: Option<UpsertSpec>,
    /// `zstd` (default), `snappy`, `lz4`, `gzip`, `brotli` or `none`.
    #[serde(default = "default_codec")]
    pub compression: String,
    /// Codec level (zstd 1-22, default 3; gzip 0-9; brotli 0-11).
    pub level: Option<i32>,
    #[serde(default = "default_row_group_rows")]
    pub row_group_rows: usize,
    /// Integer, date and timestamp columns written without a dictionary are
    /// `DELTA_BINARY_PACKED` (default) or, with `false`, plain: for readers without the
    /// delta encodings (Spark before 3.3).
    #[serde(default = "default_delta_encoding")]
    pub delta_encoding: bool,
    /// Which changes of an output's schema since the last commit a run may make: `add`
    /// (default: added nullable columns and widened types; anything else fails before data
    /// moves) or `any`.
    #[serde(default)]
    pub schema_change: crate::commit::SchemaChange,
    /// Columns the rows are in ascending order of (NULLs first), recorded as each row
    /// group's `sorting_columns` so engines can skip a sort or merge; checked as rows are
    /// written: rows out of order fail the table.
    #[serde(default)]
    pub sorted_by: Vec<String>,
    /// Columns to write Bloom filters for, so engines skip row groups on equality
    /// predicates (`WHERE order_id = 42`): worth it for high-cardinality lookup keys.
    #[serde(default)]
    pub bloom_filter: Vec<String>,
    /// Register each output as a table in the AWS Glue Data Catalog (append mode on S3):
    /// `glue = { database = "analytics", table = "orders" }`.
    pub glue: Option<crate::catalog::GlueSpec>,
    /// An Iceberg output's table in an Iceberg REST catalog:
    /// `rest_catalog = { uri = "https://…", namespace = "analytics" }`.
    pub rest_catalog: Option<crate::iceberg::RestSpec>,
}

/// The table format of an output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Parquet,
    Iceberg,
}

impl OutputSpec {
    /// What an Iceberg output can't have: replace mode (a snapshot per unit is an
    /// append), upserts, and partitions that name no column.
    fn check_iceberg(&self) -> Result<(), String> {
        if self.commit_mode() != CommitMode::Append {
            return Err("output.format = \"iceberg\" appends a snapshot per unit: it needs mode = \"append\" (the default)".into());
        }
        if self.upsert.is_some() {
            return Err("output.upsert is not available with format = \"iceberg\"".into());
        }
        if self.glue.is_some() && self.rest_catalog.is_some() {
            return Err("output: one catalog per Iceberg table: glue or rest_catalog".into());
        }
        if self
            .partition
            .as_ref()
            .is_some_and(|p| p.by == PartitionBy::RunDate)
        {
            return Err("output.partition by = \"run-date\" names no column: an Iceberg partition needs one (column-date or value)".into());
        }
        super::parquet::writer_codec(&self.compression, self.level)?;
        Ok(())
    }
}

/// What a replace-mode run replaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overwrite {
    /// The whole table: what the run did not write is gone.
    #[default]
    Table,
    /// Dynamic partition overwrite: partitions the run wrote no rows to are kept as they
    /// were (their files carried into the new generation); unpartitioned outputs, such as
    /// rejects, are replaced.
    Partitions,
}

/// Upsert settings: see [`super::Upsert`].
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

/// Partition folders, from the run's date, a date column, or a column's values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub by: PartitionBy,
    /// The date or timestamp column for `by = "column-date"`, the column for `by = "value"`.
    pub column: Option<String>,
    /// `year`, `month` or `day` (default) for date partitions.
    #[serde(default)]
    pub depth: DateDepth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionBy {
    /// The run's date (`--run-time`), the same for every row of the run.
    RunDate,
    /// Each row's date from a date or timestamp column.
    ColumnDate,
    /// Each row's value of a column: `<column>=<value>`.
    Value,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
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
/// 128k rows, as DuckDB (122 880) and Polars write: a column whose values repeat within a
/// row group but not across the file (dates with times, codes per day) stays one dictionary
/// per row group instead of outgrowing its 1 MiB page limit and falling back to plain
/// pages part-way. The 10M-row shipments copy: 7 % smaller file, ~2 % less CPU, 12 MiB
/// less peak memory than at 1M rows. Engines that want fewer, bigger groups set more.
fn default_row_group_rows() -> usize {
    131_072
}
fn default_delta_encoding() -> bool {
    true
}

impl OutputSpec {
    pub fn commit_mode(&self) -> CommitMode {
        let append = self.location.starts_with("s3://") || self.format == Format::Iceberg;
        self.mode.unwrap_or(if append {
            CommitMode::Append
        } else {
            CommitMode::Replace
        })
    }
}

/// The settings that decide the bytes of an output's files.
#[derive(Serialize)]
struct Encoding {
    compression: String,
    level: Option<i32>,
    row_group_rows: usize,
    delta_encoding: bool,
    partition: Option<Partition>,
    bloom_filter: Vec<String>,
    sorted_by: Vec<String>,
}

impl WriterSettings {
    /// The settings of an output that sets none of its own, its columns encoded on `threads`.
    pub fn defaults(threads: usize) -> Self {
        WriterSettings {
            compression: default_codec(),
            level: None,
            row_group_rows: default_row_group_rows(),
            delta_encoding: default_delta_encoding(),
            bloom_filter: Vec::new(),
            sorted_by: Vec::new(),
            threads,
        }
    }
}

impl OutputSpec {
    /// The Parquet encoding settings of this output, its columns encoded on `threads`.
    pub fn writer_settings(&self, threads: usize) -> WriterSettings {
        WriterSettings {
            compression: self.compression.clone(),
            level: self.level,
            row_group_rows: self.row_group_rows,
            delta_encoding: self.delta_encoding,
            bloom_filter: self.bloom_filter.clone(),
            sorted_by: self.sorted_by.clone(),
            threads,
        }
    }

    /// What decides the bytes of the output files, for the commit unit: the settings that
    /// differ from their defaults, so a setting added in a later release leaves ids alone.
    pub fn encoding_key(&self) -> serde_json::Value {
        let this = Encoding {
            compression: self.compression.clone(),
            level: self.level,
            row_group_rows: self.row_group_rows,
            delta_encoding: self.delta_encoding,
            partition: self.partition.clone(),
            bloom_filter: self.bloom_filter.clone(),
            sorted_by: self.sorted_by.clone(),
        };
        let default = Encoding {
            compression: default_codec(),
            level: None,
            row_group_rows: default_row_group_rows(),
            delta_encoding: default_delta_encoding(),
            partition: None,
            bloom_filter: Vec::new(),
            sorted_by: Vec::new(),
        };
        crate::commit::non_default(&this, &default)
    }

    /// Checks what serde cannot: the codec and level, the row group size, and which
    /// options go together.
    pub fn check(&self) -> Result<(), String> {
        if self.upsert.is_some()
            && (self.commit_mode() != CommitMode::Replace || self.partition.is_some())
        {
            return Err("output.upsert needs mode = \"replace\" and no partition: it merges into one file per output".into());
        }
        if self.overwrite == Overwrite::Partitions
            && (self.commit_mode() != CommitMode::Replace || self.partition.is_none())
        {
            return Err(
                "output.overwrite = \"partitions\" needs mode = \"replace\" and a partition".into(),
            );
        }
        if let Some(p) = &self.partition {
            if p.by != PartitionBy::RunDate && p.column.is_none() {
                return Err("output.partition: this `by` needs a `column`".into());
            }
        }
        if self.row_group_rows == 0 {
            return Err("output.row_group_rows must be at least 1".into());
        }
        if self.format == Format::Iceberg {
            return self.check_iceberg();
        }
        if self.rest_catalog.is_some() {
            return Err(
                "output.rest_catalog holds Iceberg tables: it needs format = \"iceberg\"".into(),
            );
        }
        if self.glue.is_some()
            && (self.commit_mode() != CommitMode::Append || !self.location.starts_with("s3://"))
        {
            return Err("output.glue needs an s3:// location in mode = \"append\": the table is defined over the symlink manifests each commit writes".into());
        }
        super::parquet::writer_codec(&self.compression, self.level)?;
        Ok(())
    }
}

fn yes() -> bool {
    true
}
