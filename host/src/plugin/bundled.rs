//! Plugins shipped inside the `sluice` binary, built from `plugins/` by the build script.

// Defines `BUNDLED: &[(&str, &[u8])]`: (plugin name, component bytes).
include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"));

/// The component bytes of a bundled plugin.
pub(crate) fn bundled(name: &str) -> Option<&'static [u8]> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// Names of the bundled plugins, for `sluice plugin list` and error messages.
pub fn bundled_names() -> Vec<&'static str> {
    BUNDLED.iter().map(|(n, _)| *n).collect()
}
