//! Where batches are transformed: WebAssembly table plugins behind the `sluice:plugin`
//! WIT contract, run by wasmtime in a sandbox with no files, network, environment,
//! real clocks or real randomness.

mod bindings;
mod bundled;
mod engine;
mod error;
pub mod ipc;
mod limits;
mod sandbox;
mod session;

pub use bundled::bundled_names;
pub use engine::{EngineOptions, LoadedPlugin, PluginEngine};
pub use error::PluginError;
pub use session::{Emitted, InputInfo, OutputInfo, PluginInfo, Reject, RunContext, Session, SessionLimits};

/// The version of the WIT contract this host implements.
pub const CONTRACT_VERSION: &str = "0.1.0";
