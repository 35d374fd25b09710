//! The conformance kit behind `sluice plugin test`: one command that says whether a plugin
//! is fit to ship. It runs the plugin through the same sandbox and limits as `sluice run`,
//! on synthetic inputs derived from what `describe` declares and on fixture folders, and
//! reports a pass or fail with a reason for every check.
//!
//! Use it from a plugin crate's own tests:
//!
//! ```no_run
//! use sluice_kit::{run_kit, KitOptions};
//!
//! let options = KitOptions { fixtures: Some("fixtures".into()), ..KitOptions::default() };
//! let report = run_kit("target/wasm32-wasip2/release/my_plugin.wasm", &options).unwrap();
//! assert!(report.passed(), "{report}");
//! ```

mod checks;
mod fixtures;
mod generate;
mod harness;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use arrow::datatypes::Field;
use serde::{Deserialize, Serialize};

use sluice_core::plugin::{
    Bundled, EngineOptions, PluginEngine, PluginError, Session, SessionLimits,
};

/// How to run the kit.
#[derive(Debug, Clone)]
pub struct KitOptions {
    /// The plugin config used for the synthetic checks (JSON).
    pub config: String,
    /// A folder of fixture cases (see the `fixtures` module docs).
    pub fixtures: Option<PathBuf>,
    /// Fail when the plugin spends more fuel per input row than this.
    pub max_fuel_per_row: Option<f64>,
    /// Fail when the plugin's linear memory grows past this many MiB.
    pub max_memory_mib: Option<u64>,
    /// Limits for every session, as a table would have them.
    pub limits: SessionLimits,
    /// The plugin may use the run context (run time, run id) in its output: the
    /// determinism check then varies only the random seed.
    pub context_dependent: bool,
    /// Columns of the synthetic input, by input name, for plugins whose columns come from
    /// their config (otherwise the declared required columns, or a default table).
    pub input_columns: BTreeMap<String, Vec<Field>>,
    pub cache_dir: Option<PathBuf>,
    /// The plugins a bundled name may refer to.
    pub bundled: Bundled,
}

impl Default for KitOptions {
    fn default() -> Self {
        KitOptions {
            config: "{}".into(),
            fixtures: None,
            max_fuel_per_row: None,
            max_memory_mib: None,
            limits: SessionLimits::default(),
            context_dependent: false,
            input_columns: BTreeMap::new(),
            cache_dir: None,
            bundled: Bundled::default(),
        }
    }
}

/// A kit file (JSON) kept beside a plugin: the config for the synthetic checks and, when
/// the plugin's columns come from that config, the columns of its synthetic inputs:
///
/// ```json
/// {"config": {"mode": "aggregate", "time": "t", "every": "1m", "aggregations": []},
///  "inputs": {"rows": [["t", "timestamp_utc"], ["v", "float64"]]}}
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KitFile {
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    inputs: BTreeMap<String, Vec<(String, String)>>,
    #[serde(default)]
    context_dependent: bool,
}

impl KitOptions {
    /// Reads a kit file into these options.
    pub fn with_kit_file(mut self, path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: KitFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(config) = file.config {
            self.config = config.to_string();
        }
        for (input, columns) in file.inputs {
            let fields = columns
                .iter()
                .map(|(name, ty)| {
                    sluice_core::source::parse_type(ty).map(|t| Field::new(name, t, true))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: inputs.{input}: {e}", path.display()))?;
            self.input_columns.insert(input, fields);
        }
        self.context_dependent |= file.context_dependent;
        Ok(self)
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// Everything the kit found.
#[derive(Debug, Clone, Serialize)]
pub struct KitReport {
    pub plugin: String,
    pub sha256: String,
    pub checks: Vec<Check>,
    /// Fuel per input row on the standard input in one batch.
    pub fuel_per_row: Option<f64>,
    /// The most linear memory any session of the kit grew to.
    pub peak_memory_bytes: u64,
}

impl KitReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

impl fmt::Display for KitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sluice plugin test: {} (sha256 {})",
            self.plugin, self.sha256
        )?;
        for c in &self.checks {
            writeln!(
                f,
                "  {} {:<24} {}",
                if c.passed { "PASS" } else { "FAIL" },
                c.name,
                c.detail
            )?;
        }
        let fuel = self
            .fuel_per_row
            .map(|v| format!("{v:.1} fuel per row"))
            .unwrap_or_else(|| "fuel not measured".into());
        writeln!(
            f,
            "  budgets: {fuel}, peak memory {:.1} MiB",
            self.peak_memory_bytes as f64 / (1 << 20) as f64
        )?;
        let failed = self.failed().count();
        write!(
            f,
            "result: {} of {} checks passed{}",
            self.checks.len() - failed,
            self.checks.len(),
            if failed > 0 { " (FAILED)" } else { "" }
        )
    }
}

/// Runs every check on a plugin (a `.wasm` path or a bundled name). `Err` only when the
/// plugin cannot be loaded at all.
pub fn run_kit(plugin: &str, options: &KitOptions) -> Result<KitReport, PluginError> {
    let engine = PluginEngine::new(EngineOptions {
        cache_dir: options.cache_dir.clone(),
        fuel: true,
        no_deadlines: false,
        perf_map: false,
        bundled: options.bundled,
    })?;
    let loaded = engine.load(plugin)?;
    let mut report = KitReport {
        plugin: plugin.to_string(),
        sha256: loaded.sha256.clone(),
        checks: Vec::new(),
        fuel_per_row: None,
        peak_memory_bytes: 0,
    };
    let info = match Session::describe(&engine, &loaded) {
        Ok(info) => info,
        Err(e) => {
            report.checks.push(Check {
                name: "describe".into(),
                passed: false,
                detail: e.to_string(),
            });
            return Ok(report);
        }
    };
    report.plugin = format!("{} {}", info.name, info.version);
    checks::run_all(&engine, &loaded, &info, options, &mut report);
    Ok(report)
}
