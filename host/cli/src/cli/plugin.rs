//! `sluice plugin ...`: the plugin author's toolchain. `new` writes a project, `build`
//! makes its component, `test` runs the conformance kit, `inspect` and `list` say what a
//! plugin is.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;

use super::toolchain::{Language, Project};
use super::{inspect, scaffold, CacheArgs, EXIT_PLUGIN};
use sluice_kit::{run_kit, KitOptions};

#[derive(Subcommand)]
pub(crate) enum PluginCommand {
    /// Create a plugin project (Rust or Python) that builds and passes the kit out of the box.
    #[command(
        after_help = "Example:\n  sluice plugin new dates --lang python && sluice plugin test dates"
    )]
    New {
        /// The plugin's name (a folder of that name is created).
        name: String,
        /// The language of the plugin.
        #[arg(long, value_enum, default_value = "rust")]
        lang: Language,
        /// Where to create it.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build a plugin project into one component; print its size, sha256 and `describe`.
    Build {
        /// The project folder (a Cargo crate, or a Python app with a pyproject.toml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Check that a plugin is fit to ship (the conformance kit); exits non-zero on failure.
    #[command(
        after_help = "Examples:\n  sluice plugin test .                      # build the project here, then test it\n  \
                            sluice plugin test my_plugin.wasm --fixtures fixtures"
    )]
    Test(TestArgs),
    /// Print what a plugin says about itself (`describe`).
    Inspect {
        /// A `.wasm` component or the name of a bundled plugin.
        plugin: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// List the plugins bundled in this binary.
    List,
}

/// `sluice plugin test`'s arguments.
#[derive(clap::Args)]
pub(crate) struct TestArgs {
    /// A plugin project folder (built first; its fixtures/ and kit.json are used), a
    /// `.wasm` component or the name of a bundled plugin.
    pub(crate) plugin: String,
    /// A folder of fixture cases: <case>/input/<input>.csv, <case>/expected/<output>.csv|.parquet, optional <case>/config.json.
    #[arg(long)]
    pub(crate) fixtures: Option<PathBuf>,
    /// The plugin config (JSON) for the synthetic checks.
    #[arg(long, default_value = "{}")]
    pub(crate) config: String,
    /// Fail when the plugin spends more fuel than this per input row.
    #[arg(long)]
    pub(crate) max_fuel_per_row: Option<f64>,
    /// Fail when the plugin's memory grows past this many MiB.
    #[arg(long)]
    pub(crate) max_memory_mib: Option<u64>,
    /// The plugin may put the run context (run time, run id) in its output.
    #[arg(long)]
    pub(crate) context_dependent: bool,
    /// A kit file (JSON) with the config and synthetic input columns; `--config` wins.
    #[arg(long)]
    pub(crate) kit_file: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) cache: CacheArgs,
}

pub(crate) fn dispatch(command: PluginCommand) -> Result<u8> {
    match command {
        PluginCommand::New { name, lang, dir } => {
            let created = scaffold::create(&name, lang, &dir)?;
            println!("created {}", created.display());
            println!("next: sluice plugin test {}", created.display());
            Ok(0)
        }
        PluginCommand::Build { dir, cache } => build(&dir, &cache),
        PluginCommand::Test(args) => test(args),
        PluginCommand::Inspect {
            plugin,
            json,
            cache,
        } => {
            inspect::inspect(&plugin, json, cache.engine_options())?;
            Ok(0)
        }
        PluginCommand::List => {
            for name in super::bundled().names() {
                println!("{name}");
            }
            Ok(0)
        }
    }
}

/// Builds a project and says what it built.
fn build(dir: &Path, cache: &CacheArgs) -> Result<u8> {
    let wasm = Project::open(dir)?.build()?;
    let size = std::fs::metadata(&wasm)?.len();
    println!(
        "{} ({size} bytes, {:.1} MiB)",
        wasm.display(),
        size as f64 / f64::from(1 << 20)
    );
    // Describe prints the sha256 too. The kit's engine (fuel on), so that `plugin
    // test` finds this compilation cached.
    inspect::inspect(&wasm.display().to_string(), false, kit_engine(cache))?;
    Ok(0)
}

/// Runs the kit; a project folder is built first and its own fixtures and kit file used,
/// unless others are named.
fn test(args: TestArgs) -> Result<u8> {
    let (plugin, project) = resolve(&args.plugin)?;
    let beside = |name: &str| {
        project
            .as_ref()
            .map(|dir| dir.join(name))
            .filter(|p| p.exists())
    };
    let mut options = KitOptions {
        fixtures: args.fixtures.or_else(|| beside("fixtures")),
        max_fuel_per_row: args.max_fuel_per_row,
        max_memory_mib: args.max_memory_mib,
        context_dependent: args.context_dependent,
        cache_dir: args.cache.engine_options().cache_dir,
        bundled: super::bundled(),
        ..KitOptions::default()
    };
    if let Some(file) = args.kit_file.or_else(|| beside("kit.json")) {
        options = options.with_kit_file(&file).map_err(anyhow::Error::msg)?;
    }
    if args.config != "{}" {
        options.config = args.config;
    }
    let report = run_kit(&plugin, &options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(if report.passed() { 0 } else { EXIT_PLUGIN })
}

/// A project folder is built first; a `.wasm` or a bundled name is used as it is.
fn resolve(plugin: &str) -> Result<(String, Option<PathBuf>)> {
    let path = Path::new(plugin);
    if !path.is_dir() {
        return Ok((plugin.to_string(), None));
    }
    let project = Project::open(path)?;
    let wasm = project.build()?;
    Ok((wasm.display().to_string(), Some(project.dir)))
}

fn kit_engine(cache: &CacheArgs) -> sluice_core::plugin::EngineOptions {
    sluice_core::plugin::EngineOptions {
        fuel: true,
        ..cache.engine_options()
    }
}
