//! A table's section of the pipeline file, `[tables.NAME]`: its plugin and config, its
//! inputs (the source's options), its output (the sink's) and its limits (the plugin
//! runtime's). Each layer owns its options; this file only gathers them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::plugin::Limits;
use crate::sink::OutputSpec;
use crate::source::{InputSpec, Select, SourceError};
use crate::storage::Storage;
use crate::vars::{expand_toml, expand_vars, join, Vars};

/// A table's section that does not hold together.
#[derive(Debug, thiserror::Error)]
#[error("table `{table}`: {message}")]
pub struct SpecError {
    pub table: String,
    pub message: String,
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
    /// Run the plugin in parts by key, each part's rows spilled to local files first: for
    /// plugins whose state is per key and outgrows memory (see [`super::split`]).
    pub split: Option<super::split::SplitSpec>,
    /// The object keys that start this table when Sluice runs on an event (`--event`):
    /// `s3://bucket/{tenant}/{table}/{version}/*.csv.gz`; see docs/running-on-aws.md.
    pub trigger: Option<String>,
    /// Who the table belongs to: the table lock and the version registry are per tenant.
    #[serde(default = "crate::commit::default_tenant")]
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

impl TableSpec {
    pub(crate) fn resolve(
        &mut self,
        name: &str,
        base: &Path,
        vars: &Vars,
    ) -> Result<(), SpecError> {
        let err = |message: String| SpecError {
            table: name.into(),
            message,
        };
        let expand_env = |text: &str| expand_vars(text, vars);
        self.params = vars.clone();
        if let Some(config) = &mut self.config {
            expand_toml(config, vars).map_err(|m| err(format!("config: {m}")))?;
        }
        if self.plugin.ends_with(".wasm") {
            self.plugin = join(
                base,
                &expand_env(&self.plugin).map_err(|e| err(e.to_string()))?,
            );
        }
        let location = expand_env(&self.output.location).map_err(|e| err(e.to_string()))?;
        self.output.location = join(base, &location);
        self.tenant = expand_env(&self.tenant).map_err(|e| err(e.to_string()))?;
        if let Some(version) = &self.version {
            self.version = Some(expand_env(version).map_err(|e| err(e.to_string()))?);
        }
        let has_version = self.version.is_some();
        for spec in self.input.iter_mut().chain(self.inputs.values_mut()) {
            resolve_input(spec, has_version, base, vars).map_err(err)?;
        }
        if self.input.is_some() && !self.inputs.is_empty() {
            return Err(err("give either `input` or `inputs`, not both".into()));
        }
        if self.input.is_none() && self.inputs.is_empty() {
            return Err(err(
                "no input: add `[tables.NAME.input]` or `[tables.NAME.inputs.INPUT]`".into(),
            ));
        }
        if self.batch_rows == Some(0) {
            return Err(err("batch_rows must be at least 1".into()));
        }
        crate::name::check("table name", name).map_err(|e| err(e.to_string()))?;
        crate::name::check("tenant", &self.tenant).map_err(|e| err(e.to_string()))?;
        if let Some(version) = &self.version {
            crate::name::check("version", version).map_err(|e| err(e.to_string()))?;
        }
        self.output.check().map_err(err)?;
        if let Some(split) = &self.split {
            split.check().map_err(err)?;
        }
        self.limits
            .check()
            .map_err(|m| err(format!("limits.{m}")))?;
        Ok(())
    }

    /// The plugin config as JSON text (`{}` when absent).
    pub fn config_json(&self) -> String {
        match &self.config {
            Some(table) => serde_json::to_string(table).expect("TOML values map to JSON"),
            None => "{}".into(),
        }
    }

    /// The one input of the table that can be split by object, if it has exactly one.
    /// The paths its inputs read (globs included), for ordering tables that read each
    /// other's outputs.
    pub fn input_paths(&self) -> Vec<&str> {
        self.input
            .iter()
            .chain(self.inputs.values())
            .map(|i| i.path.as_str())
            .filter(|p| !p.is_empty())
            .collect()
    }

    pub fn splittable_input(&self) -> Option<&InputSpec> {
        match (&self.input, self.inputs.len()) {
            (Some(input), _) => Some(input),
            (None, 1) => self.inputs.values().next(),
            _ => None,
        }
        .filter(|i| i.from_registry.is_none())
    }

    /// The table narrowed to one object of its splittable input.
    pub fn narrowed(&self, object: &str) -> TableSpec {
        let mut one = self.clone();
        let input = match &mut one.input {
            Some(input) => input,
            None => one.inputs.values_mut().next().expect("splittable"),
        };
        input.path = object.to_string();
        input.select = Select::All;
        one
    }

    /// Every object of the splittable input, in key order, with its size.
    pub fn objects(&self, storage: &Storage) -> Result<Vec<(String, u64)>, SourceError> {
        let input = self
            .splittable_input()
            .expect("called for splittable tables");
        Ok(crate::source::expand(&input.path, input.select, storage)?
            .into_iter()
            .map(|o| (o.uri.clone(), o.size()))
            .collect())
    }
}

/// Checks one input's source (a path or the registry) and resolves its path.
fn resolve_input(
    spec: &mut InputSpec,
    has_version: bool,
    base: &Path,
    vars: &Vars,
) -> Result<(), String> {
    match (&spec.from_registry, spec.path.is_empty()) {
        (None, true) => return Err("an input needs a `path` (or `from_registry`)".into()),
        (Some(_), false) => {
            return Err("give an input either `path` or `from_registry`, not both".into())
        }
        (Some(_), true) if !has_version => {
            return Err("`from_registry` needs the table's `version`".into())
        }
        (Some(_), true) if spec.csv.columns.is_none() => {
            return Err(
                "a `from_registry` input needs `columns` (it is empty for the first version)"
                    .into(),
            )
        }
        (Some(_), true) => {}
        (None, false) => {
            spec.path = join(
                base,
                &expand_vars(&spec.path, vars).map_err(|e| e.to_string())?,
            )
        }
    }
    spec.csv
        .check()
        .map_err(|m| format!("input `{}`: {m}", spec.path))
}
