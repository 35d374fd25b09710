//! Where batches are transformed: WebAssembly table plugins behind the `sluice:plugin`
//! WIT contract, run by wasmtime in a sandbox with no files, network, environment,
//! real clocks or real randomness.

mod bindings;
mod cache;
mod columnar;
mod config;
mod engine;
mod error;
mod guest;
mod in_host;
pub mod ipc;
mod limits;
mod sandbox;
mod session;

pub use config::Limits;
pub use engine::{Bundled, EngineOptions, LoadedPlugin, PluginEngine};
pub use error::PluginError;
pub use session::{
    Emitted, InputInfo, OutputInfo, PluginInfo, Reject, RunContext, Session, SessionLimits,
};

/// The version of the WIT contract this host implements: the `sluice:plugin` package's
/// version in `wit/sluice.wit`, read by the build script so it is written down once.
pub const CONTRACT_VERSION: &str = env!("SLUICE_CONTRACT_VERSION");
