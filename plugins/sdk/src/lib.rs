//! # sluice-sdk: write a Sluice table plugin over Arrow `RecordBatch`es
//!
//! A plugin is a type that implements [`Plugin`]. The SDK turns it into a WebAssembly
//! component that speaks the `sluice:plugin` WIT contract: it decodes and encodes Arrow
//! IPC, checks the declared input columns before your `open` runs, and maps your
//! [`Error`]s to the contract's typed errors.
//!
//! ```ignore
//! use sluice_sdk::{arrow::record_batch::RecordBatch, Plugin, Info, Input, Output, Emit, Error, Context, Schemas};
//!
//! struct Identity;
//!
//! impl Plugin for Identity {
//!     fn info() -> Info {
//!         Info::new("identity", env!("CARGO_PKG_VERSION"), "Copies rows unchanged")
//!             .input(Input::any("rows"))
//!             .output(Output::dynamic("rows"))
//!     }
//!     fn open(_config: &str, inputs: &Schemas, _ctx: &Context) -> Result<Self, Error> { Ok(Identity) }
//!     fn output_schemas(&self) -> Vec<(String, SchemaRef)> { ... }
//!     fn push(&mut self, _input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
//!         out.emit("rows", batch);
//!         Ok(())
//!     }
//! }
//!
//! sluice_sdk::export_plugin!(Identity);
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

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

/// The version of the WIT contract this SDK implements.
pub const CONTRACT_VERSION: &str = "0.1.0";

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
    /// What the plugin takes and produces. Called for `describe` and to check inputs.
    fn info() -> Info;

    /// Opens a session. `config` is the table's plugin config as JSON (`{}` when absent);
    /// parse it with [`parse_config`]. Every required input column has already been checked.
    fn open(config: &str, inputs: &Schemas, ctx: &Context) -> Result<Self, Error>;

    /// The exact schema of every output for this session.
    fn output_schemas(&self) -> Vec<(String, SchemaRef)>;

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

/// Parses a JSON config into `T`, mapping failures to [`Error::Config`].
pub fn parse_config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T, Error> {
    let text = if config.trim().is_empty() { "{}" } else { config };
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
