//! # sluice-sdk: write a Sluice table plugin over Arrow `RecordBatch`es
//!
//! A plugin is a type that implements [`Plugin`]. The SDK turns it into a WebAssembly
//! component that speaks the `sluice:plugin` WIT contract: it decodes and encodes Arrow
//! IPC, checks the declared input columns before your `open` runs, and maps your
//! [`Error`]s to the contract's typed errors.
//!
//! ```
//! use sluice_sdk::arrow::record_batch::RecordBatch;
//! use sluice_sdk::{Context, Emit, Error, Info, Input, Output, Plugin, Schemas, SchemaRef};
//!
//! /// Copies rows unchanged, optionally only the first `limit` rows of each batch.
//! struct Identity {
//!     schema: SchemaRef,
//!     limit: Option<usize>,
//! }
//!
//! /// The table's plugin config, deserialised from JSON by the SDK before `open`.
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     limit: Option<usize>,
//! }
//!
//! impl Plugin for Identity {
//!     type Config = Config;
//!
//!     fn info() -> Info {
//!         Info::new("identity", env!("CARGO_PKG_VERSION"), "Copies rows unchanged")
//!             .input(Input::any("rows"))
//!             .output(Output::dynamic("rows"))
//!     }
//!     fn open(config: Config, inputs: &Schemas, _ctx: &Context) -> Result<Self, Error> {
//!         Ok(Identity { schema: inputs[0].1.clone(), limit: config.limit })
//!     }
//!     fn output_schemas(&self) -> Vec<(String, SchemaRef)> {
//!         vec![("rows".into(), self.schema.clone())]
//!     }
//!     fn push(&mut self, _input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
//!         let rows = self.limit.unwrap_or(batch.num_rows()).min(batch.num_rows());
//!         out.emit("rows", batch.slice(0, rows));
//!         Ok(())
//!     }
//! }
//!
//! sluice_sdk::export_plugin!(Identity);
//! # fn main() {}
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the plugin.

pub use arrow;
pub use serde_json;

mod adapter;
pub mod calendar;
mod emit;
mod error;
mod info;
pub mod ipc;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "table-plugin",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "sluice_sdk::bindings",
        export_macro_name: "export_bindings",
    });
}

#[doc(hidden)]
pub use adapter::Adapter;
pub use emit::Emit;
pub use error::Error;
pub use info::{Info, Input, Output};

pub use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

/// The version of the WIT contract this SDK implements: the `sluice:plugin` package's
/// version, read from `wit/sluice.wit` by the build script.
pub const CONTRACT_VERSION: &str = env!("SLUICE_CONTRACT_VERSION");

/// The actual schemas of the inputs of one session, in the order `describe` lists them.
pub type Schemas = Vec<(String, SchemaRef)>;

/// Facts from the host that replace clocks and the environment inside the sandbox.
#[derive(Debug, Clone)]
pub struct Context {
    pub run_id: String,
    /// Run start in microseconds since the Unix epoch, UTC.
    pub run_time_micros: i64,
    pub table: String,
    pub params: Vec<(String, String)>,
}

/// A table plugin. One value of the implementing type is one session (one table run).
pub trait Plugin: Sized + 'static {
    /// The table's plugin config. The SDK deserialises the JSON config (`{}` when the table
    /// gives none) into it before `open`, and a failure is a config error naming the field.
    /// Use `#[serde(deny_unknown_fields)]` so a misspelt key is caught; a plugin without
    /// config can use [`NoConfig`], one that reads it freely `serde_json::Value`.
    type Config: serde::de::DeserializeOwned;

    /// What the plugin takes and produces. Called for `describe` and to check inputs.
    fn info() -> Info;

    /// Opens a session. Every required input column has already been checked.
    fn open(config: Self::Config, inputs: &Schemas, ctx: &Context) -> Result<Self, Error>;

    /// The schema of each output declared [`Output::dynamic`] for this session. Outputs
    /// declared [`Output::fixed`] need not be listed: the SDK adds their schemas.
    fn output_schemas(&self) -> Vec<(String, SchemaRef)> {
        Vec::new()
    }

    /// One batch of one input. Emit output batches and row rejects through `out`.
    fn push(&mut self, input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error>;

    /// All inputs are done: emit whatever state is left. Stateless plugins keep the default.
    fn finish(&mut self, _out: &mut Emit) -> Result<(), Error> {
        Ok(())
    }

    /// Called after `finish`, again and again while it returns `true`: a plugin with a large
    /// result emits it here a piece at a time (about 64k rows a call) and frees its state as
    /// it goes, instead of holding the whole output at once.
    fn drain(&mut self, _out: &mut Emit) -> Result<bool, Error> {
        Ok(false)
    }
}

/// The config of a plugin that takes none: any key is refused.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Parses a JSON config into `T`, mapping failures to [`Error::Config`]. The SDK calls it
/// for [`Plugin::Config`]; a plugin needs it only for configs nested inside its own.
pub fn parse_config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T, Error> {
    let text = if config.trim().is_empty() {
        "{}"
    } else {
        config
    };
    serde_json::from_str(text).map_err(|e| Error::Config(format!("invalid plugin config: {e}")))
}

/// Sends a line to the host's log (bounded by the host per session).
pub fn log(level: LogLevel, message: &str) {
    bindings::sluice::plugin::host::log(level, message);
}

pub use bindings::sluice::plugin::types::LogLevel;

/// Exports a [`Plugin`] type as the component's `sluice:plugin/plugin` implementation.
///
/// Only on wasm: a native build of the crate (as `cargo test` makes) carries no exports,
/// whose component-model names a native linker would refuse.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        type __SluicePluginExport = $crate::Adapter<$plugin>;
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export_bindings!(__SluicePluginExport with_types_in $crate::bindings);
        // Natively, mark the plugin as used so its code is not reported as dead.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code)]
            fn used() -> impl Sized {
                (<$plugin as $crate::Plugin>::open, <$plugin as $crate::Plugin>::push, <$plugin as $crate::Plugin>::info)
            }
        };
    };
}
