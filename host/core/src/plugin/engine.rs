//! One wasmtime engine per process, each plugin compiled once, and compiled code cached on
//! disk by plugin digest and engine compatibility, so later runs skip compilation.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::TablePlugin;
use super::cache::CompiledCache;
use super::guest::GuestPre;
use super::limits::EpochTicker;
use super::sandbox::HostState;
use super::PluginError;

#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Where compiled plugins are kept; `None` compiles in memory every run.
    pub cache_dir: Option<PathBuf>,
    /// Count fuel (deterministic instruction budgets). Costs ~15-25 % of plugin CPU, so it
    /// is on only when a table sets `limits.fuel_per_call` or the conformance kit runs.
    pub fuel: bool,
    /// Turn off call deadlines (epoch interruption). Only for measuring their cost: without
    /// them a plugin that never returns hangs the run.
    pub no_deadlines: bool,
    /// Write the compiled plugins' function names to `/tmp/perf-<pid>.map`, so `perf
    /// report` names the guest functions a profile lands in rather than bare addresses.
    pub perf_map: bool,
    /// The plugins a pipeline may name without a path (`plugin = "passthrough"`).
    pub bundled: Bundled,
}

/// Plugins compiled into the binary, as (name, component bytes, their sha256 in hex). The
/// `sluice` binary passes the ones `sluice-bundle` builds; the engine itself ships none.
#[derive(Clone, Copy, Default)]
pub struct Bundled(pub &'static [(&'static str, &'static [u8], &'static str)]);

impl Bundled {
    /// The component bytes of a bundled plugin and their sha256.
    pub fn get(&self, name: &str) -> Option<(&'static [u8], &'static str)> {
        self.0
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, bytes, sha256)| (*bytes, *sha256))
    }

    /// The bundled plugins' names, for `sluice plugin list` and error messages.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|(n, ..)| *n).collect()
    }
}

impl std::fmt::Debug for Bundled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// A compiled plugin, ready to instantiate.
pub struct LoadedPlugin {
    /// What the pipeline named: a bundled name or a path.
    pub reference: String,
    /// sha256 of the component bytes, hex.
    pub sha256: String,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: bool,
    /// Whether the component is one compiled into the binary, named by its bundled name.
    pub bundled: bool,
    pub(crate) pre: GuestPre,
}

impl LoadedPlugin {
    /// The WIT world the component exports: `table-plugin` (Arrow IPC) or `columnar-plugin`.
    pub fn world(&self) -> &'static str {
        self.pre.world()
    }

    /// Whether a table's batches skip the sandbox: the bundled `passthrough` (see
    /// [`super::in_host`]).
    pub fn batches_in_host(&self) -> bool {
        self.bundled && self.reference == super::in_host::PASSTHROUGH
    }
}

pub struct PluginEngine {
    engine: Engine,
    fuel: bool,
    deadlines: bool,
    linker: Linker<HostState>,
    cache: Option<CompiledCache>,
    loaded: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
    bundled: Bundled,
    _ticker: EpochTicker,
}

impl PluginEngine {
    pub fn new(options: EngineOptions) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(!options.no_deadlines)
            .consume_fuel(options.fuel)
            .parallel_compilation(true);
        if options.perf_map {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| internal(format!("engine setup: {e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| internal(format!("linking WASI: {e:#}")))?;
        TablePlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| internal(format!("linking host functions: {e:#}")))?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(PluginEngine {
            engine,
            fuel: options.fuel,
            deadlines: !options.no_deadlines,
            linker,
            cache: options.cache_dir.as_deref().and_then(open_cache),
            loaded: Mutex::default(),
            bundled: options.bundled,
            _ticker: ticker,
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether this engine counts fuel.
    pub fn fuel(&self) -> bool {
        self.fuel
    }

    /// Whether calls run under epoch deadlines.
    pub(crate) fn deadlines(&self) -> bool {
        self.deadlines
    }

    /// Loads a plugin by bundled name or `.wasm` path; each is compiled once per process.
    pub fn load(&self, reference: &str) -> Result<Arc<LoadedPlugin>, PluginError> {
        if let Some(plugin) = self.loaded.lock().expect("plugin map").get(reference) {
            return Ok(plugin.clone());
        }
        if reference.ends_with(".wasm") {
            let bytes = std::fs::read(reference).map_err(|source| PluginError::Read {
                path: reference.into(),
                source,
            })?;
            return self.load_bytes(reference, &bytes);
        }
        let (bytes, sha256) =
            self.bundled
                .get(reference)
                .ok_or_else(|| PluginError::UnknownBundled {
                    name: reference.into(),
                    known: self.bundled.names().join(", "),
                })?;
        // The digest was taken at build time: the bytes are read only when compiled, and
        // a run that finds the code cached keeps none of them resident.
        self.load_component(reference, bytes, Some(sha256))
    }

    /// Loads a plugin from its bytes (fetched from S3, say), named `reference` in reports.
    pub fn load_bytes(
        &self,
        reference: &str,
        bytes: &[u8],
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        self.load_component(reference, bytes, None)
    }

    /// Compiles (or finds compiled) the component `bytes`; `bundled_sha256` is a bundled
    /// plugin's digest, taken when the binary was built.
    fn load_component(
        &self,
        reference: &str,
        bytes: &[u8],
        bundled_sha256: Option<&str>,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        if let Some(plugin) = self.loaded.lock().expect("plugin map").get(reference) {
            return Ok(plugin.clone());
        }
        let bundled = bundled_sha256.is_some();
        let sha256 =
            bundled_sha256.map_or_else(|| hex::encode(Sha256::digest(bytes)), str::to_owned);
        let (component, from_cache) = self.compile(reference, &sha256, bytes)?;
        let instantiate_err = |message| PluginError::Instantiate {
            plugin: reference.into(),
            message,
        };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| instantiate_err(format!("{e:#}")))?;
        let pre = GuestPre::new(pre).map_err(instantiate_err)?;
        let plugin = Arc::new(LoadedPlugin {
            reference: reference.into(),
            sha256,
            from_cache,
            bundled,
            pre,
        });
        self.loaded
            .lock()
            .expect("plugin map")
            .insert(reference.into(), plugin.clone());
        Ok(plugin)
    }

    fn compile(
        &self,
        reference: &str,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(Component, bool), PluginError> {
        let compile_err = |e: wasmtime::Error| PluginError::Compile {
            plugin: reference.into(),
            message: format!("{e:#}"),
        };
        let Some(cache) = &self.cache else {
            return Ok((
                Component::new(&self.engine, bytes).map_err(compile_err)?,
                false,
            ));
        };
        let fuel = if self.fuel { "-fuel" } else { "" };
        let epoch = if self.deadlines { "" } else { "-noepoch" };
        let name = format!("{sha256}-{:016x}{fuel}{epoch}", self.compatibility_hash());
        match cache.get(&name, sha256) {
            // SAFETY: the code was produced by `precompile_component` of an engine with the
            // same compatibility hash, for this very plugin (its record says so and its digest
            // matches), in a folder private to this user; wasmtime still checks its header.
            // Mapped, not read: only the code a run executes becomes resident. The folder
            // is this user's alone, so the file checked is the file mapped.
            Ok(Some(code)) => match unsafe { Component::deserialize_file(&self.engine, &code) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => tracing::warn!(
                    plugin = reference,
                    "compiling again: cached code {name} is unusable: {e:#}"
                ),
            },
            Ok(None) => {}
            Err(why) => tracing::warn!(
                plugin = reference,
                "compiling again: cached code {name} is not trusted: {why}"
            ),
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(compile_err)?;
        if let Err(e) = cache.put(&name, sha256, &compiled) {
            tracing::warn!(plugin = reference, "cannot cache compiled plugin: {e}");
        }
        // SAFETY: `compiled` was produced by this very engine just above.
        let component =
            unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(compile_err)?;
        Ok((component, false))
    }

    fn compatibility_hash(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hasher.finish()
    }
}

/// The cache at `dir`, or none (with a warning) when it cannot be trusted.
fn open_cache(dir: &Path) -> Option<CompiledCache> {
    CompiledCache::open(dir)
        .map_err(|why| tracing::warn!(dir = %dir.display(), "not using the compiled-plugin cache, compiling in memory: {why}"))
        .ok()
}

fn internal(message: String) -> PluginError {
    PluginError::Internal {
        plugin: "(engine)".into(),
        message,
    }
}
