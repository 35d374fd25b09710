//! Plugins shipped inside the `sluice` binary, built from `plugins/` by the build script.
//! The engine takes them as `sluice_core::plugin::Bundled` through its
//! options, so it does not depend on this crate.

// Defines `BUNDLED: &[(&str, &[u8], &str)]`: (plugin name, component bytes, their sha256
// in hex).
include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"));

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn every_digest_is_of_its_plugins_bytes() {
        assert!(!super::BUNDLED.is_empty());
        for (name, bytes, sha256) in super::BUNDLED {
            assert_eq!(hex::encode(Sha256::digest(bytes)), *sha256, "{name}");
        }
    }
}
