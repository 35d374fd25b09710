//! The pipeline file: which tables to build and which raw ingest jobs to run. Each
//! section is owned by the layer it configures (`table::TableSpec`, `ingest::IngestSpec`);
//! this module reads the file, resolves `${NAME}` and relative paths, and runs the whole.
//! See docs/pipeline-reference.md.

mod jobs;
mod report;
mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ingest::IngestSpec;
use crate::table::{SpecError, TableSpec};
use crate::vars::Vars;

pub use report::RunReport;
pub use run::{plan, run_pipeline};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read pipeline file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid pipeline file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(transparent)]
    Table(#[from] SpecError),
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
    pub ingest: BTreeMap<String, IngestSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Rows per batch sent to the plugin; unset, each table takes its plugin's default
    /// (see [`crate::table::TableRun::batch_rows`]).
    pub batch_rows: Option<usize>,
}

impl Pipeline {
    /// Reads and checks a pipeline file; relative paths become relative to its folder, and
    /// `${NAME}` is taken from `vars`, then the environment.
    pub fn load_with_vars(path: &Path, vars: &Vars) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: path.into(),
            source,
        })?;
        Self::from_text(&text, path, vars)
    }

    /// Parses the text of the pipeline file at `path` (a local path or an `s3://` URI, whose
    /// folder or prefix relative paths in it are relative to).
    pub fn from_text(text: &str, path: &Path, vars: &Vars) -> Result<Self, PipelineError> {
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse_with_vars(text, base, vars).map_err(|e| match e {
            PipelineError::Parse { message, .. } => PipelineError::Parse {
                path: path.into(),
                message,
            },
            other => other,
        })
    }

    /// Like [`Pipeline::from_text`], from the file's TOML already parsed (event routing
    /// parses once, then resolves the pipeline with each object's captured values).
    pub fn from_toml(table: toml::Table, path: &Path, vars: &Vars) -> Result<Self, PipelineError> {
        let parse_error = |message: String| PipelineError::Parse {
            path: path.into(),
            message,
        };
        let pipeline: Pipeline = Pipeline::deserialize(toml::Value::Table(table))
            .map_err(|e| parse_error(e.to_string()))?;
        pipeline
            .resolve(path.parent().unwrap_or(Path::new(".")), vars)
            .map_err(|e| match e {
                PipelineError::Parse { message, .. } => parse_error(message),
                other => other,
            })
    }

    /// Parses pipeline TOML, resolving relative paths against `base`.
    fn parse_with_vars(text: &str, base: &Path, vars: &Vars) -> Result<Self, PipelineError> {
        let pipeline: Pipeline = toml::from_str(text).map_err(|e| PipelineError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        pipeline.resolve(base, vars)
    }

    /// Two tables writing one location would replace each other's files (or mix their
    /// datasets), each run reporting success: refused at load.
    fn check_locations(&self) -> Result<(), PipelineError> {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (name, table) in &self.tables {
            let location = table.output.location.trim_end_matches('/').to_string();
            if let Some(other) = seen.insert(location.clone(), name) {
                return Err(PipelineError::Table(SpecError {
                    table: name.clone(),
                    message: format!("output.location {location} is also table `{other}`'s; give each table its own"),
                }));
            }
        }
        Ok(())
    }

    fn resolve(mut self, base: &Path, vars: &Vars) -> Result<Self, PipelineError> {
        if self.defaults.batch_rows == Some(0) {
            return Err(PipelineError::Parse {
                path: PathBuf::new(),
                message: "defaults.batch_rows must be at least 1".into(),
            });
        }
        for (name, table) in &mut self.tables {
            table.resolve(name, base, vars)?;
        }
        self.check_locations()?;
        for (name, ingest) in &mut self.ingest {
            ingest
                .resolve(name, base, vars)
                .map_err(|message| SpecError {
                    table: name.clone(),
                    message,
                })?;
        }
        if self.tables.is_empty() && self.ingest.is_empty() {
            return Err(PipelineError::Parse {
                path: PathBuf::new(),
                message: "no [tables.NAME] or [ingest.NAME]".into(),
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
