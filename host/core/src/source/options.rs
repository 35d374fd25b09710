//! What an input is and how its bytes decode: the `[tables.T.input]` section of a
//! pipeline file and the `format` options of ingest assets.

use std::collections::BTreeMap;

use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use super::names::{unique_names, NameStyle};
use super::types::parse_type;

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
    /// Rules on the input's columns, checked before the plugin sees a row (see
    /// [`crate::quality`]).
    #[serde(default)]
    pub quality: crate::quality::Quality,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Whether the first line holds the column names.
    #[serde(default = "yes")]
    pub header: bool,
    /// Explicit column names: required without a header, and replace the header's names.
    pub columns: Option<Vec<String>>,
    /// How header names become column names: `as_is` (default) or `snake_case`. Either way
    /// an empty name becomes `column_N` and a repeated one gets a suffix (`a`, `a_1`).
    #[serde(default)]
    pub names: NameStyle,
    /// Files of this input may have different headers: columns are matched by name, and a
    /// file without a column gives NULLs in it. Columns the first file lacks are text
    /// unless declared in `types`. When false, every file must repeat the first's header.
    #[serde(default)]
    pub union_by_name: bool,
    /// Header problems (a renamed empty or repeated name; a single column whose name holds
    /// another delimiter) are errors instead of warnings.
    #[serde(default)]
    pub strict: bool,
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
    /// Columns not read: their fields are found (a row's bounds depend on them) but never
    /// copied, typed or passed on, so a plugin that needs a few columns of a wide file
    /// costs less. Each must be a column of the input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
    /// Infer undeclared columns from the first batch; when false they are `utf8`.
    #[serde(default = "yes")]
    pub infer: bool,
    #[serde(default)]
    pub compression: Compression,
    /// The largest record in MiB (a line, or a quoted field over lines): a bigger one is a
    /// data error, so a hostile file can't make the reader hold gigabytes.
    #[serde(default = "default_max_record_mib")]
    pub max_record_mib: u64,
    /// The most field bytes in one batch, in MiB: wide rows make smaller batches than
    /// `batch_rows`, so a batch stays well inside the plugin's per-call limits.
    #[serde(default = "default_max_batch_mib")]
    pub max_batch_mib: u64,
    /// Spreadsheets: the largest part of a workbook (a sheet, its shared strings) in MiB,
    /// expanded, and the most cells a sheet's used range may span.
    #[serde(default = "default_max_sheet_mib")]
    pub max_sheet_mib: u64,
    #[serde(default = "default_max_sheet_cells")]
    pub max_sheet_cells: u64,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip when the file ends in `.gz` or starts with the gzip magic bytes.
    #[default]
    Auto,
    Gzip,
    None,
}

fn default_max_sheet_mib() -> u64 {
    256
}

/// Ten million cells: about 320 MB as calamine holds them.
fn default_max_sheet_cells() -> u64 {
    10_000_000
}

fn default_max_record_mib() -> u64 {
    64
}

fn default_max_batch_mib() -> u64 {
    64
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

impl CsvOptions {
    /// Comma-separated with a header, empty fields as NULL, types inferred.
    pub fn default_for_fixtures() -> Self {
        toml::from_str("").expect("every CSV option has a default")
    }

    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("max_record_mib", self.max_record_mib),
            ("max_batch_mib", self.max_batch_mib),
            ("max_sheet_mib", self.max_sheet_mib),
            ("max_sheet_cells", self.max_sheet_cells),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        for (what, c) in [("delimiter", self.delimiter), ("quote", self.quote)] {
            if !c.is_ascii() {
                return Err(format!("{what} must be one ASCII character, got {c:?}"));
            }
        }
        if !self.header && self.columns.is_none() {
            return Err("a file without a header needs `columns`".into());
        }
        if let Some(columns) = &self.columns {
            let (unique, renamed) = unique_names(columns.clone(), NameStyle::AsIs);
            if let Some(r) = renamed.first() {
                return Err(format!(
                    "columns: position {} `{}`: {} (it would be read as `{}`)",
                    r.column,
                    r.from,
                    r.reason,
                    unique[r.column - 1]
                ));
            }
        }
        for (column, ty) in &self.types {
            parse_type(ty).map_err(|m| format!("types.{column}: {m}"))?;
        }
        Ok(())
    }

    /// The declared type of a column, if any.
    pub fn declared_type(&self, column: &str) -> Option<DataType> {
        self.types
            .get(column)
            .map(|t| parse_type(t).expect("checked at load"))
    }
}
