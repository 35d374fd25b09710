//! Plugins shipped inside the `sluice` binary, built from `plugins/` by the build script.
//! The engine takes them as `sluice_core::plugin::Bundled` through its
//! options, so it does not depend on this crate.

// Defines `BUNDLED: &[(&str, &[u8])]`: (plugin name, component bytes).
include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"));
